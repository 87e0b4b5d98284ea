package accesslog_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/aiproxy-go/aiproxy/accesslog"
)

// unreachableStore is a SQLite store that refuses every batch while down is set, as a database
// that went away does.
type unreachableStore struct {
	*accesslog.SQLiteStore
	down atomic.Bool
}

func (s *unreachableStore) InsertBatch(ctx context.Context, id string, recs []*accesslog.Record) error {
	if s.down.Load() {
		return errors.New("connection refused")
	}
	return s.SQLiteStore.InsertBatch(ctx, id, recs)
}

// ExampleWriter_spill keeps the access log through a database outage: the records go to the
// spill directory while the store refuses them, and are stored, once each, when it is back.
func ExampleWriter_spill() {
	dir, err := os.MkdirTemp("", "accesslog-spill-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sqlite, err := accesslog.OpenSQLite(filepath.Join(dir, "aiproxy.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer sqlite.Close()
	store := &unreachableStore{SQLiteStore: sqlite}
	store.down.Store(true)

	w := accesslog.NewWriter(store, accesslog.WriterOptions{
		SpillDir: filepath.Join(dir, "spill"),
		Logger:   slog.New(slog.DiscardHandler),
	})
	for i := range 3 {
		w.Write(&accesslog.Record{RequestID: fmt.Sprint("req-", i), Direction: accesslog.DirectionRequest})
	}
	waitFor := func(cond func(accesslog.WriterStats) bool) accesslog.WriterStats {
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if st := w.Stats(); cond(st) {
				return st
			}
		}
		log.Fatal("timed out")
		return accesslog.WriterStats{}
	}
	st := waitFor(func(st accesslog.WriterStats) bool { return st.Spilled == 3 })
	fmt.Println("database down:", st.Written, "written,", st.SpillPending, "in the spill")

	store.down.Store(false)
	st = waitFor(func(st accesslog.WriterStats) bool { return st.SpillPending == 0 })
	fmt.Println("database back:", st.Written, "written,", st.SpillPending, "in the spill")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.Close(ctx); err != nil {
		log.Fatal(err)
	}
	var n int
	if err := sqlite.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM accesslog").Scan(&n); err != nil {
		log.Fatal(err)
	}
	fmt.Println(n, "rows")
	// Output:
	// database down: 0 written, 3 in the spill
	// database back: 3 written, 0 in the spill
	// 3 rows
}
