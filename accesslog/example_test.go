package accesslog_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/aiproxy-go/aiproxy/accesslog"
)

// Example stores a request row with a custom column through a Writer, then reads it back.
//
// The custom column is the original AIProxy's custom "user" column: the request's "user"
// field. The name "user" itself now belongs to a built-in column, so the custom one is called
// end_user.
func Example() {
	dir, err := os.MkdirTemp("", "accesslog-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	endUser := accesslog.Column{
		Name: "end_user",
		Type: accesslog.Text,
		Value: func(r *accesslog.Record) any {
			var body struct {
				User string `json:"user"`
			}
			if r.Direction != accesslog.DirectionRequest || json.Unmarshal(r.RawBody, &body) != nil || body.User == "" {
				return nil // NULL
			}
			return body.User
		},
	}

	store, err := accesslog.OpenSQLite(filepath.Join(dir, "aiproxy.db"), endUser)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	w := accesslog.NewWriter(store, accesslog.WriterOptions{Columns: []accesslog.Column{endUser}})
	w.Write(&accesslog.Record{
		RequestID: "req-1",
		Direction: accesslog.DirectionRequest,
		Provider:  "openai",
		Endpoint:  "/chat/completions",
		Model:     "gpt-4o",
		RawBody:   []byte(`{"model":"gpt-4o","user":"uezo","messages":[{"role":"user","content":"Hi"}]}`),
	})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.Close(ctx); err != nil { // stores what is queued
		log.Fatal(err)
	}

	recs, err := store.Records(ctx, "req-1", accesslog.DirectionRequest)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(recs[0].Model, recs[0].Extra["end_user"])

	var n int
	if err := store.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM accesslog WHERE end_user = 'uezo'`).Scan(&n); err != nil {
		log.Fatal(err)
	}
	fmt.Println(n, "row;", w.Stats().Written, "written")
	// Output:
	// gpt-4o uezo
	// 1 row; 1 written
}
