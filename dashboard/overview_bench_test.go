package dashboard_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/dashboard"
)

// benchRows is the size of the benchmark's log: half requests, half responses and errors.
const benchRows = 1_000_000

// benchEnd is the newest row of the benchmark's log; its 500,000 exchanges are 5 s apart over
// the 29 days before.
var benchEnd = time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)

// fillBench writes benchRows synthetic rows with one INSERT ... SELECT: five models, three
// providers, fifty users, seven client keys, 5% 429s and 2% 500s, every other exchange a
// stream, and bodies of 800 and 1,200 characters so the table is as wide as a real one.
func fillBench(tb testing.TB, store *accesslog.SQLiteStore) {
	start := benchEnd.Add(-time.Duration(benchRows/2*5) * time.Second).Unix()
	q := fmt.Sprintf(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < %d - 1),
x AS (SELECT i / 2 AS e, i %% 2 AS resp FROM n)
INSERT INTO accesslog (request_id, created_at, direction, status_code, content, raw_body, raw_headers, model,
  prompt_tokens, completion_tokens, request_time, request_time_api, provider, endpoint, stream, "user", client_key,
  time_to_first_token, cached_tokens, reasoning_tokens, tokens_estimated, cost_usd)
SELECT printf('bench%%027d', e),
  strftime('%%Y-%%m-%%d %%H:%%M:%%S', %d + e * 5 + resp * 2, 'unixepoch') || '.000000',
  CASE WHEN resp = 0 THEN 'request' WHEN e %% 50 = 0 OR e %% 20 = 0 THEN 'error' ELSE 'response' END,
  CASE WHEN resp = 0 THEN NULL WHEN e %% 50 = 0 THEN 500 WHEN e %% 20 = 0 THEN 429 ELSE 200 END,
  'hello number ' || e,
  hex(randomblob(400 + resp * 200)),
  '{"Content-Type":["application/json"]}',
  CASE e %% 5 WHEN 0 THEN 'gpt-4o-mini' WHEN 1 THEN 'gpt-4.1' WHEN 2 THEN 'o4-mini' WHEN 3 THEN 'claude-sonnet-4' ELSE 'gemini-2.5-flash' END,
  100 + e %% 900, CASE WHEN resp = 1 THEN 20 + e %% 300 ELSE 0 END,
  CASE WHEN resp = 1 THEN 0.2 + (abs(random()) %% 5000) / 1000.0 END,
  CASE WHEN resp = 1 THEN 0.15 + (abs(random()) %% 4000) / 1000.0 END,
  CASE e %% 3 WHEN 0 THEN 'openai' WHEN 1 THEN 'anthropic' ELSE 'gemini' END,
  '/chat/completions', e %% 2 = 0, 'user' || (e %% 50), 'key' || (e %% 7),
  CASE WHEN resp = 1 AND e %% 2 = 0 THEN 0.05 + (abs(random()) %% 900) / 1000.0 END,
  0, 0, FALSE,
  CASE WHEN resp = 1 THEN (100 + e %% 900) * 0.0000025 + (20 + e %% 300) * 0.00001 END
FROM x`, benchRows, start)
	if _, err := store.DB().ExecContext(context.Background(), q); err != nil {
		tb.Fatal(err)
	}
}

// openBench opens the benchmark's database: the file AIPROXY_BENCH_DB names, filled on first
// use and reused after, or a new one in a temporary directory.
func openBench(b *testing.B) *accesslog.SQLiteStore {
	path := os.Getenv("AIPROXY_BENCH_DB")
	if path == "" {
		path = filepath.Join(b.TempDir(), "bench.db")
	}
	store, err := accesslog.OpenSQLite(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	var n int
	if err := store.DB().QueryRow("SELECT COUNT(*) FROM accesslog").Scan(&n); err != nil {
		b.Fatal(err)
	}
	if n == 0 {
		t0 := time.Now()
		fillBench(b, store)
		if _, err := store.DB().Exec("ANALYZE"); err != nil {
			b.Fatal(err)
		}
		b.Logf("filled %d rows in %v", benchRows, time.Since(t0).Round(time.Millisecond))
	} else if n != benchRows {
		b.Fatalf("%s holds %d rows, want %d: remove it", path, n, benchRows)
	}
	return store
}

// BenchmarkOverview times /api/overview over a SQLite log of a million rows, for ranges of a
// day, a week (hourly buckets) and the whole month (daily buckets), from the hourly rollups
// and the rows of the hours they do not cover; then the week and the month from the rows
// only, and once more without the exchanges index of migration 00020.
func BenchmarkOverview(b *testing.B) {
	store := openBench(b)
	h, err := dashboard.New(dashboard.Options{Store: store, RollupInterval: -1, Now: func() time.Time { return benchEnd }})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	t0 := time.Now()
	if err := h.RefreshRollups(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Logf("rollups refreshed in %v", time.Since(t0).Round(time.Millisecond))
	run := func(name, query string) {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/dashboard/api/overview?"+query, nil))
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
		})
	}
	run("24h", "by=model")
	run("24h/by=user", "by=user")
	run("7d", rangeQuery(benchEnd.Add(-7*24*time.Hour), benchEnd))
	run("30d", rangeQuery(benchEnd.Add(-30*24*time.Hour), benchEnd))
	run("30d/by=user&model=gpt-4.1", "by=user&model=gpt-4.1&"+rangeQuery(benchEnd.Add(-30*24*time.Hour), benchEnd))
	dashboard.SetReadRollups(h, false)
	run("7d/rows_only", rangeQuery(benchEnd.Add(-7*24*time.Hour), benchEnd))
	run("30d/rows_only", rangeQuery(benchEnd.Add(-30*24*time.Hour), benchEnd))
	if os.Getenv("AIPROXY_BENCH_DB") != "" {
		return // the shared file keeps its index
	}
	if _, err := store.DB().Exec("DROP INDEX ix_accesslog_exchanges"); err != nil {
		b.Fatal(err)
	}
	run("30d/without_index", rangeQuery(benchEnd.Add(-30*24*time.Hour), benchEnd))
	run("24h/without_index", "by=model")
}
