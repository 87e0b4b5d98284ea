package dashboard_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/dashboard"
)

// testClock is the dashboard's clock: the real time plus an offset the test moves forward.
type testClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off += d
}

func TestRollupSQLite(t *testing.T) {
	c := &testClock{}
	e := newSQLiteEnv(t, dashboard.Options{RollupInterval: -1, Now: c.Now})
	testRollup(t, e, c)
}

func TestRollupPostgres(t *testing.T) {
	c := &testClock{}
	e := newPostgresEnv(t, dashboard.Options{RollupInterval: -1, Now: c.Now})
	testRollup(t, e, c)
}

// testRollup checks that the overview read from the hourly rollups (and the rows of the hours
// they do not cover) equals the overview read from the rows alone, over real proxied traffic
// copied into the past two days, as rows arrive late, as the rollups are damaged and as the
// log is pruned.
func testRollup(t *testing.T, e *env, c *testClock) {
	ctx := context.Background()
	e.fill()
	now := time.Now().UTC()
	// Each exchange again in five earlier hours, at minutes that differ.
	for i, id := range e.ids {
		recs, err := e.store.Records(ctx, id, "")
		if err != nil {
			t.Fatal(err)
		}
		for k := range 5 {
			shift := time.Duration(3+9*k+i)*time.Hour + time.Duration(7*i+11*k)*time.Minute
			e.insertCopy(recs, fmt.Sprintf("%s-%d", id, k), shift)
		}
	}
	// Two exchanges in the hour that the prune below cuts in half.
	cutHour := now.Add(-40 * time.Hour).Truncate(time.Hour)
	for i, at := range []time.Duration{10 * time.Minute, 50 * time.Minute} {
		recs, err := e.store.Records(ctx, e.ids[i], "")
		if err != nil {
			t.Fatal(err)
		}
		e.insertCopy(recs, fmt.Sprintf("%s-cut", e.ids[i]), recs[len(recs)-1].CreatedAt.Sub(cutHour.Add(at)))
	}
	refresh := func() {
		t.Helper()
		if err := e.dash.RefreshRollups(ctx); err != nil {
			t.Fatal(err)
		}
	}
	refresh()
	if e.pg {
		// On PostgreSQL the largest id seen becomes the watermark once it has settled.
		c.advance(3 * time.Minute)
		refresh()
	}
	var rolledHours int
	e.db.QueryRow("SELECT COUNT(DISTINCT hour) FROM accesslog_rollup WHERE dims = 0").Scan(&rolledHours)
	if rolledHours < 20 {
		t.Fatalf("%d hours rolled up, want the 40 of the copies", rolledHours)
	}

	ranges := []string{
		rangeQuery(now.Add(-50*time.Hour+13*time.Minute), now.Add(time.Hour)),
		rangeQuery(now.Add(-30*time.Hour-17*time.Minute), now.Add(-5*time.Hour+7*time.Minute)),
		rangeQuery(now.Add(-10*24*time.Hour), now.Add(time.Hour)), // by the day
	}
	filters := []string{"", "&model=gpt-4o-mini", "&provider=openai", "&user=bob&client_key=team-b"}
	compareAll := func(stage string) {
		t.Helper()
		for _, r := range ranges {
			for _, by := range []string{"model", "provider", "user", "client_key"} {
				for _, f := range filters {
					e.compareOverviews(t, stage, "by="+by+f+"&"+r)
				}
			}
		}
	}
	compareAll("rolled up")
	restore := dashboard.SetMaxSeriesRows(1)
	e.compareOverviews(t, "top groups", "by=user&"+ranges[0])
	restore()

	// The overview reads the rollups: damaged, they change it; the next maintenance finds the
	// damaged hour by its count and repairs it.
	var hour string
	if err := e.db.QueryRow("SELECT MAX(hour) FROM accesslog_rollup WHERE dims = 0").Scan(&hour); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Exec(e.sql("UPDATE accesslog_rollup SET requests = requests + 1000 WHERE hour = ?"), hour); err != nil {
		t.Fatal(err)
	}
	rolled, rows := e.overviewBoth(t, ranges[0])
	if rolled.Totals.Requests != rows.Totals.Requests+1000 {
		t.Fatalf("damaged rollup: %d requests, want %d + 1000", rolled.Totals.Requests, rows.Totals.Requests)
	}
	// The sweep verifies 24 hours a run: the two days of copies take three runs at most.
	damaged, _ := time.Parse("2006-01-02 15", hour)
	for range 3 {
		refresh()
	}
	if got, want := e.rolledRequests(damaged), e.exchangesIn(damaged, damaged.Add(time.Hour)); got != want {
		t.Fatalf("damaged hour %s: rollup counts %d after three runs, rows %d", hour, got, want)
	}
	compareAll("repaired")

	// A row that arrives late for a rolled-up hour counts at once (its hour is read from the
	// rows) and is rolled up at the next maintenance.
	recs, err := e.store.Records(ctx, e.ids[3], "")
	if err != nil {
		t.Fatal(err)
	}
	shift := 20*time.Hour + 30*time.Minute
	late := recs[len(recs)-1].CreatedAt.Add(-shift)
	_, before := e.overviewBoth(t, ranges[0])
	e.insertCopy(recs, "late", shift)
	compareAll("late row")
	rolled, _ = e.overviewBoth(t, ranges[0])
	if rolled.Totals.Requests != before.Totals.Requests+1 {
		t.Errorf("late row: %d requests, want %d", rolled.Totals.Requests, before.Totals.Requests+1)
	}
	refresh()
	lateHour := late.Truncate(time.Hour)
	if got, want := e.rolledRequests(lateHour), e.exchangesIn(lateHour, lateHour.Add(time.Hour)); got != want {
		t.Errorf("hour of the late row: rollup counts %d, rows %d", got, want)
	}
	if e.pg {
		c.advance(3 * time.Minute)
		refresh()
	}
	compareAll("late row rolled up")

	// A prune takes the rollups of the hours it empties with it; the hour it cuts is read
	// from the rows until the next maintenance recomputes it.
	cutoff := cutHour.Add(30 * time.Minute)
	if _, err := e.store.(accesslog.Pruner).Prune(ctx, cutoff); err != nil {
		t.Fatal(err)
	}
	compareAll("pruned")
	refresh()
	compareAll("pruned, refreshed")
	var stale int64
	e.db.QueryRow(e.sql("SELECT COUNT(*) FROM accesslog_rollup WHERE hour < ?"), cutoff.Format("2006-01-02 15")).Scan(&stale)
	if stale != 0 {
		t.Errorf("%d rollup rows of pruned hours", stale)
	}
	cut := cutoff.Truncate(time.Hour)
	if got, want := e.rolledRequests(cut), e.exchangesIn(cut, cut.Add(time.Hour)); got != want {
		t.Errorf("pruned hour: rollup counts %d, rows %d", got, want)
	}
}

// insertCopy stores copies of an exchange's rows under another request id, shift earlier.
func (e *env) insertCopy(recs []*accesslog.Record, id string, shift time.Duration) {
	e.t.Helper()
	var copies []*accesslog.Record
	for _, r := range recs {
		cp := *r
		cp.ID = 0
		cp.RequestID = id
		cp.CreatedAt = r.CreatedAt.Add(-shift)
		copies = append(copies, &cp)
	}
	if err := e.store.Insert(context.Background(), copies); err != nil {
		e.t.Fatal(err)
	}
}

// sql turns the ? of a statement into $n on PostgreSQL.
func (e *env) sql(q string) string {
	if !e.pg {
		return q
	}
	out, n := "", 0
	for _, c := range q {
		if c == '?' {
			n++
			out += fmt.Sprintf("$%d", n)
			continue
		}
		out += string(c)
	}
	return out
}

// rolledRequests is the exchange count the rollups hold for the hour.
func (e *env) rolledRequests(hour time.Time) int64 {
	e.t.Helper()
	var n int64
	if err := e.db.QueryRow(e.sql("SELECT COALESCE(SUM(requests), 0) FROM accesslog_rollup WHERE dims = 0 AND hour = ?"),
		hour.Format("2006-01-02 15")).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// exchangesIn counts the exchange rows created in [from, until).
func (e *env) exchangesIn(from, until time.Time) int64 {
	e.t.Helper()
	var n int64
	for _, r := range e.exchangeRows() {
		if !r.created.Before(from) && r.created.Before(until) {
			n++
		}
	}
	return n
}

// overviewBoth is the overview of query read with the rollups and from the rows alone.
func (e *env) overviewBoth(t *testing.T, query string) (rolled, rows dashboard.Overview) {
	t.Helper()
	if st := e.getJSON("/api/overview?"+query, &rolled); st != http.StatusOK {
		t.Fatalf("%s: status %d", query, st)
	}
	dashboard.SetReadRollups(e.dash, false)
	defer dashboard.SetReadRollups(e.dash, true)
	if st := e.getJSON("/api/overview?"+query, &rows); st != http.StatusOK {
		t.Fatalf("%s: status %d", query, st)
	}
	return rolled, rows
}

// compareOverviews checks that the overview of query is the same with and without rollups:
// counts and percentiles exactly, sums and averages but for the order of the additions.
func (e *env) compareOverviews(t *testing.T, stage, query string) {
	t.Helper()
	got, want := e.overviewBoth(t, query)
	name := stage + ": " + query
	if want.Totals.Requests == 0 {
		t.Fatalf("%s: no requests", name)
	}
	sameFigures(t, name+" totals", got.Totals, want.Totals)
	if got.Bucket != want.Bucket || len(got.Series) != len(want.Series) {
		t.Fatalf("%s: %d %ss, want %d %ss", name, len(got.Series), got.Bucket, len(want.Series), want.Bucket)
	}
	for i := range got.Series {
		if !got.Series[i].Time.Equal(want.Series[i].Time) {
			t.Errorf("%s: point %d at %v, want %v", name, i, got.Series[i].Time, want.Series[i].Time)
		}
		sameFigures(t, fmt.Sprintf("%s point %v", name, want.Series[i].Time), got.Series[i].Figures, want.Series[i].Figures)
	}
	if len(got.Breakdown) != len(want.Breakdown) {
		t.Fatalf("%s: %d groups, want %d", name, len(got.Breakdown), len(want.Breakdown))
	}
	for i := range got.Breakdown {
		if got.Breakdown[i].Key != want.Breakdown[i].Key {
			t.Errorf("%s: group %d is %q, want %q", name, i, got.Breakdown[i].Key, want.Breakdown[i].Key)
		}
		sameFigures(t, name+" group "+want.Breakdown[i].Key, got.Breakdown[i].Figures, want.Breakdown[i].Figures)
	}
	if fmt.Sprint(got.BySeries) != fmt.Sprint(want.BySeries) {
		t.Errorf("%s: groups' series %v, want %v", name, got.BySeries, want.BySeries)
	}
}

func sameFigures(t *testing.T, name string, got, want dashboard.Figures) {
	t.Helper()
	if got.Requests != want.Requests || got.Success != want.Success || got.ClientErrors != want.ClientErrors ||
		got.ServerErrors != want.ServerErrors || got.InputTokens != want.InputTokens || got.OutputTokens != want.OutputTokens {
		t.Errorf("%s: counts %+v, want %+v", name, got, want)
		return
	}
	if got.P50Latency != want.P50Latency || got.P95Latency != want.P95Latency || got.P50TTFT != want.P50TTFT || got.P95TTFT != want.P95TTFT {
		t.Errorf("%s: percentiles %+v, want %+v", name, got, want)
	}
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b)) }
	if !near(got.CostUSD, want.CostUSD) || !near(got.AvgLatency, want.AvgLatency) ||
		!near(got.AvgUpstreamLatency, want.AvgUpstreamLatency) || !near(got.AvgTTFT, want.AvgTTFT) {
		t.Errorf("%s: sums %+v, want %+v", name, got, want)
	}
}
