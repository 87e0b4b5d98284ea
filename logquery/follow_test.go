package logquery_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/logquery"
)

func TestFollow(t *testing.T) {
	forEachDB(t, func(t *testing.T, tdb testDB) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		now := time.Now()
		rec := func(id, model string) *accesslog.Record {
			return &accesslog.Record{RequestID: id, CreatedAt: now, Direction: accesslog.DirectionRequest, Model: model}
		}
		tdb.insert(t, rec("before", "m"))
		last, err := logquery.LastID(ctx, tdb.db)
		if err != nil || last == 0 {
			t.Fatalf("last id %d %v", last, err)
		}

		got := make(chan logquery.Row)
		done := make(chan error, 1)
		go func() {
			done <- logquery.Follow(ctx, tdb.db, tdb.dialect, logquery.Filter{Model: "m", AfterID: last}, 10*time.Millisecond,
				func(r logquery.Row) error {
					select {
					case got <- r:
						return nil
					case <-ctx.Done():
						return ctx.Err()
					}
				})
		}()

		// More rows than one poll reads, so the backlog takes several queries; and rows of
		// another model, which the filter leaves out.
		n := logquery.FollowBatch + 3
		var batch []*accesslog.Record
		for i := range n {
			batch = append(batch, rec(fmt.Sprint("r", i), "m"))
			if i%100 == 0 {
				batch = append(batch, rec(fmt.Sprint("other", i), "other"))
			}
		}
		tdb.insert(t, batch...)

		deadline := time.After(20 * time.Second)
		for i := range n {
			select {
			case r := <-got:
				if want := fmt.Sprint("r", i); r.RequestID != want || r.Model != "m" {
					t.Fatalf("row %d: %s of model %s, want %s", i, r.RequestID, r.Model, want)
				}
			case err := <-done:
				t.Fatalf("follow ended after %d rows: %v", i, err)
			case <-deadline:
				t.Fatalf("only %d of %d rows followed", i, n)
			}
		}
		tdb.insert(t, rec("later", "m"))
		select {
		case r := <-got:
			if r.RequestID != "later" {
				t.Fatalf("then %s, want later", r.RequestID)
			}
		case <-deadline:
			t.Fatal("the row written later was not followed")
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("follow returned %v after the cancel", err)
		}
	})
}
