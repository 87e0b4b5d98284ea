package logquery_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/logquery"
)

// benchExchanges is the number of exchanges of the benchmark's log, two rows each; set
// AIPROXY_BENCH_EXCHANGES to try another size (500000 for a million rows).
func benchExchanges(b *testing.B) int {
	if s := os.Getenv("AIPROXY_BENCH_EXCHANGES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			b.Fatalf("AIPROXY_BENCH_EXCHANGES=%q", s)
		}
		return n
	}
	return 100_000
}

// fillBenchLog writes n exchanges spread evenly over the last seven days: 8 models, 3
// providers, 50 users, every fourth a stream, one in twenty failed.
func fillBenchLog(b testing.TB, tdb testDB, n int) {
	b.Helper()
	now := time.Now()
	step := 7 * 24 * time.Hour / time.Duration(n)
	const batch = 5000
	recs := make([]*accesslog.Record, 0, 2*batch)
	for i := range n {
		at := now.Add(-time.Duration(n-i) * step)
		id := fmt.Sprintf("bench-%08d", i)
		model := fmt.Sprintf("model-%d", i%8)
		recs = append(recs,
			&accesslog.Record{RequestID: id, CreatedAt: at, Direction: accesslog.DirectionRequest, Model: model,
				Provider: []string{"openai", "anthropic", "bedrock"}[i%3], User: fmt.Sprint("user-", i%50),
				Content: "what is the weather like today", RawBody: []byte(`{"model":"` + model + `","messages":[]}`)},
			&accesslog.Record{RequestID: id, CreatedAt: at.Add(time.Second), Direction: accesslog.DirectionResponse,
				StatusCode: []int{200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 500}[i%20],
				Model:      model, Provider: []string{"openai", "anthropic", "bedrock"}[i%3], User: fmt.Sprint("user-", i%50),
				Stream: i%4 == 0, TimeToFirstToken: float64(i%97) / 100, RequestTime: float64(i%1009) / 100,
				PromptTokens: 100 + i%500, CompletionTokens: 20 + i%300, CachedTokens: i % 50, CostUSD: float64(i%1000) / 1e5,
				Content: "it is sunny", RawBody: []byte(`{"choices":[{"message":{"content":"it is sunny"}}]}`)},
		)
		if len(recs) == cap(recs) || i == n-1 {
			tdb.insert(b, recs...)
			recs = recs[:0]
		}
	}
}

// widerExchangeIndex replaces the index of exchange rows by one that also holds stream and
// cached_tokens, the two columns Stats reads that it lacks, to measure what that would gain.
var widerExchangeIndex = map[logquery.Dialect]string{
	logquery.SQLite: `CREATE INDEX ix_accesslog_exchanges ON accesslog (
    created_at, direction, status_code, model, provider, "user", client_key, prompt_tokens,
    completion_tokens, cached_tokens, cost_usd, request_time, request_time_api, time_to_first_token, stream
) WHERE direction IN ('response', 'error')`,
	logquery.Postgres: `CREATE INDEX ix_accesslog_exchanges ON accesslog (created_at)
    INCLUDE (direction, status_code, model, provider, "user", client_key, prompt_tokens, completion_tokens,
             cached_tokens, cost_usd, request_time, request_time_api, time_to_first_token, stream)
    WHERE direction IN ('response', 'error')`,
}

// BenchmarkStats groups the log by model over the last day (a seventh of the rows) and over
// all of it, and lists the newest rows of one model; then it groups again with a wider index
// of exchange rows (widerExchangeIndex).
func BenchmarkStats(b *testing.B) {
	n := benchExchanges(b)
	dbs := []struct {
		name string
		dsn  func(b *testing.B) string
	}{
		{"sqlite", func(b *testing.B) string { return filepath.Join(b.TempDir(), "bench.db") }},
		{"postgres", func(b *testing.B) string { return postgresTestDSN(b) }},
	}
	for _, d := range dbs {
		b.Run(d.name, func(b *testing.B) {
			tdb := openTestDB(b, d.dsn(b))
			fillBenchLog(b, tdb, n)
			ctx := context.Background()
			if tdb.dialect == logquery.Postgres {
				if _, err := tdb.db.ExecContext(ctx, "ANALYZE accesslog"); err != nil {
					b.Fatal(err)
				}
			}
			stats := func(index string) {
				for _, c := range []struct {
					name  string
					since time.Duration
				}{{"day", 24 * time.Hour}, {"all", 0}} {
					b.Run(fmt.Sprintf("by-model-%s-%drows%s", c.name, 2*n, index), func(b *testing.B) {
						var f logquery.Filter
						if c.since > 0 {
							f.Since = time.Now().Add(-c.since)
						}
						for b.Loop() {
							g, err := logquery.Stats(ctx, tdb.db, tdb.dialect, "model", f)
							if err != nil || len(g) != 8 {
								b.Fatalf("%d groups, %v", len(g), err)
							}
						}
					})
				}
			}
			stats("")
			b.Run(fmt.Sprintf("list-newest-100-of-model-%drows", 2*n), func(b *testing.B) {
				for b.Loop() {
					rows, err := logquery.List(ctx, tdb.db, tdb.dialect, logquery.Filter{Model: "model-3"})
					if err != nil || len(rows) != logquery.DefaultLimit {
						b.Fatalf("%d rows, %v", len(rows), err)
					}
				}
			})
			for _, stmt := range []string{"DROP INDEX IF EXISTS ix_accesslog_exchanges", widerExchangeIndex[tdb.dialect]} {
				if _, err := tdb.db.ExecContext(ctx, stmt); err != nil {
					b.Fatal(err)
				}
			}
			if tdb.dialect == logquery.Postgres {
				if _, err := tdb.db.ExecContext(ctx, "VACUUM ANALYZE accesslog"); err != nil {
					b.Fatal(err)
				}
			}
			stats("-wider-index")
		})
	}
}
