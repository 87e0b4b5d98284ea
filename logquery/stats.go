package logquery

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
)

// Group is the traffic of one model, provider, user or client key: the figures of the
// response and error rows that a filter selects, one such row per exchange.
type Group struct {
	// Key is the model, provider, user or client key; "" gathers the rows without one.
	Key string `json:"key"`

	Requests     int64   `json:"requests"`      // exchanges: response and error rows
	Errors       int64   `json:"errors"`        // error rows and responses with status 400 or more
	InputTokens  int64   `json:"input_tokens"`  // prompt_tokens, cached ones included
	OutputTokens int64   `json:"output_tokens"` // completion_tokens, reasoning ones included
	CachedTokens int64   `json:"cached_tokens"` // cached_tokens
	CostUSD      float64 `json:"cost_usd"`      // cost_usd

	// LatencyP50 and LatencyP95 are percentiles of request_time in seconds, over the rows
	// that have one; TTFTP50 and TTFTP95 are those of time_to_first_token over the streamed
	// exchanges that have one. A percentile p is the smallest value that at least p percent
	// of the values do not exceed (the nearest rank, PostgreSQL's percentile_disc), and 0
	// when there are no values.
	LatencyP50 float64 `json:"latency_p50"`
	LatencyP95 float64 `json:"latency_p95"`
	TTFTP50    float64 `json:"ttft_p50"`
	TTFTP95    float64 `json:"ttft_p95"`
}

// GroupBy names the columns Stats groups by.
var GroupBy = []string{"model", "provider", "user", "client_key"}

// Stats returns the figures of each value of the column groupBy ("model", "provider",
// "user" or "client_key") among the response and error rows that f selects (f.Limit and
// f.AfterID aside), most requests first, then by key.
//
// With f.Since set, the rows read are those of the created_at range, through the index of
// exchange rows (ix_accesslog_exchanges). PostgreSQL computes everything in one query, the
// percentiles with percentile_disc. SQLite has no percentile function, and ranking with
// window functions was 2.4 times slower (BenchmarkStats, 200k rows): there one query sums and
// a second returns the times of the same rows, in the same transaction, for the percentiles
// to be taken in Go.
func Stats(ctx context.Context, db *sql.DB, d Dialect, groupBy string, f Filter) ([]Group, error) {
	if db == nil {
		return nil, errNoDB
	}
	col := ""
	for _, c := range GroupBy {
		if groupBy == c {
			col = quoteIdent(c)
		}
	}
	if col == "" {
		return nil, fmt.Errorf("logquery: stats by %q: want one of %s", groupBy, strings.Join(GroupBy, ", "))
	}
	f.Limit, f.AfterID = 0, 0
	q := query{d: d}
	if err := q.filter(f); err != nil {
		return nil, err
	}
	// The same term as the partial index's WHERE, so that the index serves the query.
	q.cond("direction IN ('response', 'error')")
	var out []Group
	var err error
	if d == Postgres {
		out, err = postgresStats(ctx, db, col, &q)
	} else {
		out, err = sqliteStats(ctx, db, col, &q)
	}
	if err != nil {
		return nil, fmt.Errorf("logquery: stats: %w", err)
	}
	slices.SortFunc(out, func(a, b Group) int {
		return cmp.Or(cmp.Compare(b.Requests, a.Requests), cmp.Compare(a.Key, b.Key))
	})
	return out, nil
}

// sums are the aggregates both dialects compute in SQL.
const sums = `COUNT(*),
 SUM(CASE WHEN direction = 'error' OR status_code >= 400 THEN 1 ELSE 0 END),
 COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(cached_tokens), 0),
 COALESCE(SUM(cost_usd), 0)`

// postgresStats computes the groups in one query. percentile_disc is the nearest-rank
// percentile, and NULLs (rows without a time) are left out of it.
func postgresStats(ctx context.Context, db *sql.DB, col string, q *query) ([]Group, error) {
	text := `SELECT COALESCE(` + col + `, ''), ` + sums + `,
 COALESCE(percentile_disc(0.5) WITHIN GROUP (ORDER BY request_time), 0),
 COALESCE(percentile_disc(0.95) WITHIN GROUP (ORDER BY request_time), 0),
 COALESCE(percentile_disc(0.5) WITHIN GROUP (ORDER BY time_to_first_token) FILTER (WHERE stream), 0),
 COALESCE(percentile_disc(0.95) WITHIN GROUP (ORDER BY time_to_first_token) FILTER (WHERE stream), 0)
FROM accesslog` + q.whereClause() + `
GROUP BY 1`
	rows, err := db.QueryContext(ctx, text, q.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Group
	for rows.Next() {
		var g Group
		if err := rows.Scan(&g.Key, &g.Requests, &g.Errors, &g.InputTokens, &g.OutputTokens, &g.CachedTokens,
			&g.CostUSD, &g.LatencyP50, &g.LatencyP95, &g.TTFTP50, &g.TTFTP95); err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// sqliteStats sums in SQL and takes the percentiles in Go, both queries in one read
// transaction so that they see the same rows.
func sqliteStats(ctx context.Context, db *sql.DB, col string, q *query) ([]Group, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() // nothing was written

	key := "COALESCE(" + col + ", '')"
	rows, err := tx.QueryContext(ctx, "SELECT "+key+", "+sums+" FROM accesslog"+q.whereClause()+" GROUP BY 1", q.args...)
	if err != nil {
		return nil, err
	}
	var out []Group
	index := make(map[string]int)
	for rows.Next() {
		var g Group
		if err := rows.Scan(&g.Key, &g.Requests, &g.Errors, &g.InputTokens, &g.OutputTokens, &g.CachedTokens, &g.CostUSD); err != nil {
			rows.Close()
			return nil, err
		}
		index[g.Key] = len(out)
		out = append(out, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}

	times := make([]struct{ lat, ttft []float64 }, len(out))
	rows, err = tx.QueryContext(ctx, "SELECT "+key+", request_time, CASE WHEN stream THEN time_to_first_token END FROM accesslog"+
		q.whereClause()+" AND (request_time IS NOT NULL OR time_to_first_token IS NOT NULL)", q.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var (
		k         sql.RawBytes
		lat, ttft sql.NullFloat64
	)
	for rows.Next() {
		if err := rows.Scan(&k, &lat, &ttft); err != nil {
			return nil, err
		}
		i, ok := index[string(k)]
		if !ok {
			continue // not seen by the first query; cannot happen within one snapshot
		}
		if lat.Valid {
			times[i].lat = append(times[i].lat, lat.Float64)
		}
		if ttft.Valid {
			times[i].ttft = append(times[i].ttft, ttft.Float64)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		slices.Sort(times[i].lat)
		slices.Sort(times[i].ttft)
		out[i].LatencyP50, out[i].LatencyP95 = percentile(times[i].lat, 50), percentile(times[i].lat, 95)
		out[i].TTFTP50, out[i].TTFTP95 = percentile(times[i].ttft, 50), percentile(times[i].ttft, 95)
	}
	return out, nil
}

// percentile returns the nearest-rank p-th percentile of sorted values, as PostgreSQL's
// percentile_disc does: the value of rank ceil(p*n/100), counted from 1. It is 0 for none.
func percentile(sorted []float64, p int) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	r := max((p*n+99)/100, 1)
	return sorted[r-1]
}
