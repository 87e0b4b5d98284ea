package logquery_test

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/logquery"
	"github.com/aiproxy-go/aiproxy/pricing"
)

func TestReprice(t *testing.T) {
	forEachDB(t, func(t *testing.T, tdb testDB) {
		ctx := context.Background()
		now := time.Now()
		def := pricing.Default()
		oldCost, ok := def.CostOfCounts("openai", "gpt-4o", 1000, 100, 0, 0)
		if !ok || oldCost == 0 {
			t.Fatal("gpt-4o has no default price")
		}
		resp := func(id, model string, prompt, completion int, cost float64) *accesslog.Record {
			return &accesslog.Record{RequestID: id, CreatedAt: now, Direction: accesslog.DirectionResponse, StatusCode: 200,
				Provider: "openai", Model: model, PromptTokens: prompt, CompletionTokens: completion, CostUSD: cost}
		}
		old := resp("old", "gpt-4o", 1000, 100, oldCost)
		old.CreatedAt = now.Add(-10 * 24 * time.Hour)
		failed := resp("failed", "gpt-4o", 0, 0, 0)
		failed.Direction, failed.StatusCode = accesslog.DirectionError, 502
		recs := []*accesslog.Record{
			{RequestID: "priced", CreatedAt: now, Direction: accesslog.DirectionRequest, Provider: "openai", Model: "gpt-4o", PromptTokens: 1000},
			resp("priced", "gpt-4o", 1000, 100, oldCost),
			failed,
			resp("mystery", "a-model-nobody-priced", 10, 10, 0.5),
			resp("free", "free-model", 10, 10, 0.3),
			old,
		}
		// Enough rows of one more model for several batches.
		for i := range logquery.RepriceBatch + 1 {
			recs = append(recs, resp(fmt.Sprint("bulk", i), "bulk-model", 100, 10, 0))
		}
		tdb.insert(t, recs...)

		prices, err := pricing.Load(strings.NewReader(`
openai:
  models:
    gpt-4o: {input: 10, output: 100}
    free-model: {input: 0, output: 0}
    bulk-model: {input: 1, output: 2}
`))
		if err != nil {
			t.Fatal(err)
		}
		prices = def.With(prices)
		cost := func(id string) sql.NullFloat64 {
			t.Helper()
			var c sql.NullFloat64
			q := "SELECT cost_usd FROM accesslog WHERE request_id = ? AND direction <> 'request'"
			if tdb.dialect == logquery.Postgres {
				q = strings.Replace(q, "?", "$1", 1)
			}
			if err := tdb.db.QueryRowContext(ctx, q, id).Scan(&c); err != nil {
				t.Fatalf("cost of %s: %v", id, err)
			}
			return c
		}
		since := logquery.Filter{Since: now.Add(-24 * time.Hour)}
		bulkRows := int64(logquery.RepriceBatch + 1)
		bulkCost := float64(bulkRows) * (100*1 + 10*2) / 1e6

		dry, err := logquery.Reprice(ctx, tdb.db, tdb.dialect, prices, since, true)
		if err != nil {
			t.Fatal(err)
		}
		wantBefore := oldCost + 0.5 + 0.3
		if dry.Rows != 4+bulkRows || dry.Changed != 2+bulkRows || dry.Unpriced != 1 ||
			math.Abs(dry.BeforeUSD-wantBefore) > 1e-9 || math.Abs(dry.AfterUSD-(0.02+0.5+bulkCost)) > 1e-9 {
			t.Errorf("dry run: %+v", dry)
		}
		if c := cost("priced"); c.Float64 != oldCost {
			t.Errorf("a dry run changed a cost to %v", c)
		}

		res, err := logquery.Reprice(ctx, tdb.db, tdb.dialect, prices, since, false)
		if err != nil {
			t.Fatal(err)
		}
		if res != dry {
			t.Errorf("reprice %+v, dry run %+v", res, dry)
		}
		for id, want := range map[string]sql.NullFloat64{
			"priced":  {Float64: 1000*10/1e6 + 100*100/1e6, Valid: true},
			"mystery": {Float64: 0.5, Valid: true}, // no price: kept
			"free":    {},                          // 0 is NULL, as the writer stores it
			"failed":  {},
			"old":     {Float64: oldCost, Valid: true}, // before --since
			"bulk7":   {Float64: (100*1 + 10*2) / 1e6, Valid: true},
		} {
			if got := cost(id); got.Valid != want.Valid || math.Abs(got.Float64-want.Float64) > 1e-12 {
				t.Errorf("%s: cost %v, want %v", id, got, want)
			}
		}
		var total float64
		if err := tdb.db.QueryRowContext(ctx, "SELECT SUM(cost_usd) FROM accesslog WHERE model = 'bulk-model'").Scan(&total); err != nil ||
			math.Abs(total-bulkCost) > 1e-9 {
			t.Errorf("bulk rows cost %v in all, want %v (%v)", total, bulkCost, err)
		}

		again, err := logquery.Reprice(ctx, tdb.db, tdb.dialect, prices, since, false)
		if err != nil || again.Changed != 0 || again.Rows != res.Rows {
			t.Errorf("a second reprice: %+v %v", again, err)
		}
		if _, err := logquery.Reprice(ctx, tdb.db, tdb.dialect, nil, since, false); err == nil {
			t.Error("reprice without prices succeeded")
		}
	})
}
