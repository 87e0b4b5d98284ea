package logquery_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/logquery"
	"github.com/aiproxy-go/aiproxy/pricing"
)

// exampleStore is an in-memory access log with four exchanges of two models.
func exampleStore() accesslog.Store {
	store, err := accesslog.Open("sqlite://") // in memory; "aiproxy.db" or "postgres://..." alike
	if err != nil {
		panic(err)
	}
	now := time.Now()
	var recs []*accesslog.Record
	for i, x := range []struct {
		model   string
		status  int
		seconds float64
	}{{"gpt-4o", 200, 1.5}, {"gpt-4o", 200, 0.5}, {"gpt-4o", 500, 2.5}, {"claude-sonnet-4", 200, 3}} {
		id := fmt.Sprint("req-", i)
		recs = append(recs,
			&accesslog.Record{RequestID: id, CreatedAt: now, Direction: "request", Model: x.model, Content: "hi"},
			&accesslog.Record{RequestID: id, CreatedAt: now, Direction: "response", StatusCode: x.status,
				Provider: "openai", Model: x.model, PromptTokens: 1000, CompletionTokens: 100, RequestTime: x.seconds})
	}
	if err := store.Insert(context.Background(), recs); err != nil {
		panic(err)
	}
	return store
}

func ExampleStats() {
	store := exampleStore()
	defer store.Close()
	db, dialect, err := logquery.FromStore(store)
	if err != nil {
		panic(err)
	}
	groups, err := logquery.Stats(context.Background(), db, dialect, "model",
		logquery.Filter{Since: time.Now().Add(-24 * time.Hour)})
	if err != nil {
		panic(err)
	}
	for _, g := range groups {
		fmt.Printf("%s: %d requests, %d errors, %d tokens in, p50 %.1fs, p95 %.1fs\n",
			g.Key, g.Requests, g.Errors, g.InputTokens, g.LatencyP50, g.LatencyP95)
	}
	// Output:
	// gpt-4o: 3 requests, 1 errors, 3000 tokens in, p50 1.5s, p95 2.5s
	// claude-sonnet-4: 1 requests, 0 errors, 1000 tokens in, p50 3.0s, p95 3.0s
}

func ExampleList() {
	store := exampleStore()
	defer store.Close()
	db, dialect, _ := logquery.FromStore(store)
	rows, err := logquery.List(context.Background(), db, dialect, logquery.Filter{Direction: "response", Status: 500})
	if err != nil {
		panic(err)
	}
	for _, r := range rows {
		fmt.Println(r.RequestID, r.Model, r.StatusCode)
	}
	// Output:
	// req-2 gpt-4o 500
}

func ExampleExport() {
	store := exampleStore()
	defer store.Close()
	db, dialect, _ := logquery.FromStore(store)
	err := logquery.Export(context.Background(), db, dialect, logquery.Filter{Model: "claude-sonnet-4"}, func(r logquery.Row) error {
		fmt.Println(r.ID, r.Direction, r.Content)
		return nil
	})
	if err != nil {
		panic(err)
	}
	// Output:
	// 7 request hi
	// 8 response
}

func ExampleReprice() {
	store := exampleStore()
	defer store.Close()
	db, dialect, _ := logquery.FromStore(store)
	// The operator's new price of gpt-4o, over the built-in table.
	override, err := pricing.Load(strings.NewReader("openai:\n  models:\n    gpt-4o: {input: 1, output: 10}\n"))
	if err != nil {
		panic(err)
	}
	res, err := logquery.Reprice(context.Background(), db, dialect, pricing.Default().With(override),
		logquery.Filter{Since: time.Now().Add(-7 * 24 * time.Hour), Model: "gpt-4o"}, false)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%d rows, %d changed, now $%.4f\n", res.Rows, res.Changed, res.AfterUSD)
	// Output:
	// 3 rows, 3 changed, now $0.0060
}
