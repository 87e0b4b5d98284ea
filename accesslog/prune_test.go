package accesslog

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPrune(t *testing.T) {
	for _, st := range storesUnderTest {
		t.Run(st.name, func(t *testing.T) {
			s := st.open(t)
			p, ok := s.(Pruner)
			if !ok {
				t.Fatalf("%T cannot prune", s)
			}
			ctx := context.Background()
			now := time.Now().UTC()
			var recs []*Record
			for i := range 12000 { // more than two prune batches
				age := time.Duration(i%3) * 40 * 24 * time.Hour // 0, 40 and 80 days old
				recs = append(recs, &Record{RequestID: fmt.Sprintf("r%d", i), CreatedAt: now.Add(-age), Direction: DirectionResponse,
					StatusCode: 200, Content: "text", RawBody: []byte("body"), ToolCalls: `[]`, PromptTokens: 7})
			}
			if err := s.Insert(ctx, recs); err != nil {
				t.Fatal(err)
			}
			n, err := p.PruneContent(ctx, now.Add(-30*24*time.Hour))
			if err != nil || n != 8000 {
				t.Fatalf("blanked %d rows (%v), want 8000", n, err)
			}
			got, _ := s.Records(ctx, "r1", "")
			if len(got) != 1 || got[0].Content != "" || got[0].RawBody != nil || got[0].ToolCalls != "" || got[0].PromptTokens != 7 {
				t.Fatalf("blanked row %+v", got)
			}
			if got, _ := s.Records(ctx, "r0", ""); got[0].Content != "text" {
				t.Fatalf("a new row lost its content: %+v", got[0])
			}
			n, err = p.Prune(ctx, now.Add(-60*24*time.Hour))
			if err != nil || n != 4000 {
				t.Fatalf("pruned %d rows (%v), want 4000", n, err)
			}
			if got, _ := s.Records(ctx, "r2", ""); len(got) != 0 {
				t.Fatal("an 80-day-old row survived")
			}
			if got, _ := s.Records(ctx, "r1", ""); len(got) != 1 {
				t.Fatal("a 40-day-old row was pruned")
			}
		})
	}
}

// TestSQLitePruneShrinksFile fills a database, prunes every row and checks that the file gives
// the space back.
func TestSQLitePruneShrinksFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shrink.db")
	s, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var mode int
	if err := s.DB().QueryRow("PRAGMA auto_vacuum").Scan(&mode); err != nil || mode != 2 {
		t.Fatalf("auto_vacuum = %d, %v; want 2 (incremental)", mode, err)
	}
	ctx := context.Background()
	old := time.Now().Add(-100 * 24 * time.Hour)
	body := []byte(strings.Repeat("x", 4000))
	for b := range 5 {
		recs := make([]*Record, 200)
		for i := range recs {
			recs[i] = &Record{RequestID: fmt.Sprintf("big-%d-%d", b, i), CreatedAt: old, RawBody: body}
		}
		if err := s.InsertBatch(ctx, fmt.Sprintf("batch-%d", b), recs); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	full := fileSize(t, path)
	if full < 4<<20 {
		t.Fatalf("database of %d bytes, want at least 4 MB", full)
	}
	n, err := s.Prune(ctx, time.Now().Add(time.Hour)) // the batch ids are from now: they go too
	if err != nil || n != 1000 {
		t.Fatalf("pruned %d, %v", n, err)
	}
	if after := fileSize(t, path); after > full/10 {
		t.Errorf("file of %d bytes after pruning every row, was %d", after, full)
	}
	var ids int
	if err := s.DB().QueryRow("SELECT COUNT(*) FROM accesslog_batches").Scan(&ids); err != nil || ids != 0 {
		t.Errorf("%d batch ids left, %v", ids, err)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestSQLiteAdoptsAutoVacuum opens a database created without auto-vacuum, as the original
// AIProxy's is: it is switched to incremental auto-vacuum, and keeps its rows.
func TestSQLiteAdoptsAutoVacuum(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE accesslog (id INTEGER PRIMARY KEY AUTOINCREMENT, request_id TEXT NOT NULL,
			created_at DATETIME, direction TEXT, status_code INTEGER, content TEXT, function_call TEXT,
			tool_calls TEXT, raw_body TEXT, raw_headers TEXT, model TEXT, prompt_tokens INTEGER,
			completion_tokens INTEGER, request_time REAL, request_time_api REAL)`,
		"INSERT INTO accesslog (request_id, created_at, direction) VALUES ('old-1', '2024-01-01 00:00:00.000000', 'request')",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	var mode int
	if err := db.QueryRow("PRAGMA auto_vacuum").Scan(&mode); err != nil || mode != 0 {
		t.Fatalf("fixture auto_vacuum = %d, %v", mode, err)
	}
	db.Close()

	s, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.DB().QueryRow("PRAGMA auto_vacuum").Scan(&mode); err != nil || mode != 2 {
		t.Errorf("auto_vacuum = %d, %v; want 2 (incremental)", mode, err)
	}
	if got, err := s.Records(context.Background(), "old-1", ""); err != nil || len(got) != 1 || got[0].ID != 1 {
		t.Errorf("old row: %+v, %v", got, err)
	}
}
