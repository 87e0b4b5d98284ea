package dashboard

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strings"
	"time"
)

// Figures are the aggregates of a set of exchanges. Times are in seconds; an average or
// percentile is 0 when no exchange had that time.
type Figures struct {
	Requests     int64   `json:"requests"`
	Success      int64   `json:"success"`    // status below 400 (or none recorded)
	ClientErrors int64   `json:"client_4xx"` // status 400-499, client disconnects (499) included
	ServerErrors int64   `json:"server_5xx"` // status 500 and above
	InputTokens  int64   `json:"input_tokens"`
	OutputTokens int64   `json:"output_tokens"`
	CostUSD      float64 `json:"cost_usd"`

	AvgLatency         float64 `json:"avg_latency"`          // request_time
	AvgUpstreamLatency float64 `json:"avg_upstream_latency"` // request_time_api
	AvgTTFT            float64 `json:"avg_ttft"`             // time_to_first_token, streams only

	// Percentiles come from a histogram with bins 5% wide, so they are within 5% of the exact
	// value. Breakdown groups have none.
	P50Latency float64 `json:"p50_latency,omitempty"`
	P95Latency float64 `json:"p95_latency,omitempty"`
	P50TTFT    float64 `json:"p50_ttft,omitempty"`
	P95TTFT    float64 `json:"p95_ttft,omitempty"`
}

// Point is the figures of one hour or day, starting at Time.
type Point struct {
	Time time.Time `json:"time"`
	Figures
}

// Group is the figures of one value of the breakdown's column ("" for none).
type Group struct {
	Key string `json:"key"`
	Figures
}

// KeySeries is the request count of one breakdown value in each bucket of the series.
type KeySeries struct {
	Key      string  `json:"key"`
	Requests []int64 `json:"requests"`
}

// Overview is the answer of /api/overview.
type Overview struct {
	Since  time.Time `json:"since"`
	Until  time.Time `json:"until"`
	Bucket string    `json:"bucket"` // "hour" or "day"
	By     string    `json:"by"`     // model, provider, user or client_key
	Totals Figures   `json:"totals"`
	Series []Point   `json:"series"`
	// Breakdown is the groups of By, most requests first, at most maxGroups of them.
	Breakdown []Group `json:"breakdown"`
	// BySeries is the requests per bucket of the topKeys largest groups.
	BySeries []KeySeries `json:"by_series"`
}

const (
	maxGroups = 50
	topKeys   = 5
	// maxHourly is the longest range shown by the hour; longer ones are shown by the day.
	maxHourly = 8 * 24 * time.Hour
	// maxBuckets bounds the series of a very long range.
	maxBuckets = 2000
	// histScale is the number of histogram bins per factor e of a time: bins are 5% wide.
	histScale = 20
)

// sums is one row of aggregates; the averages are computed once the rows are added up.
type sums struct {
	n, c4, c5, in, out int64
	cost               float64
	rt, api, ttft      float64
	rtN, apiN, ttftN   int64
}

func (s *sums) scanArgs() []any {
	return []any{&s.n, &s.c4, &s.c5, nullInt{&s.in}, nullInt{&s.out}, nullFloat{&s.cost},
		nullFloat{&s.rt}, &s.rtN, nullFloat{&s.api}, &s.apiN, nullFloat{&s.ttft}, &s.ttftN}
}

func (s *sums) add(o sums) {
	s.n += o.n
	s.c4 += o.c4
	s.c5 += o.c5
	s.in += o.in
	s.out += o.out
	s.cost += o.cost
	s.rt += o.rt
	s.rtN += o.rtN
	s.api += o.api
	s.apiN += o.apiN
	s.ttft += o.ttft
	s.ttftN += o.ttftN
}

func (s sums) figures() Figures {
	avg := func(sum float64, n int64) float64 {
		if n == 0 {
			return 0
		}
		return sum / float64(n)
	}
	return Figures{
		Requests: s.n, Success: s.n - s.c4 - s.c5, ClientErrors: s.c4, ServerErrors: s.c5,
		InputTokens: s.in, OutputTokens: s.out, CostUSD: s.cost,
		AvgLatency: avg(s.rt, s.rtN), AvgUpstreamLatency: avg(s.api, s.apiN), AvgTTFT: avg(s.ttft, s.ttftN),
	}
}

// nullInt and nullFloat scan a SUM that is NULL over no rows (or only NULLs) as 0.
type nullInt struct{ p *int64 }

func (n nullInt) Scan(v any) error {
	var x sql.NullInt64
	if err := x.Scan(v); err != nil {
		// SQLite gives a REAL sum when a column holds a REAL.
		var f sql.NullFloat64
		if err := f.Scan(v); err != nil {
			return err
		}
		*n.p = int64(math.Round(f.Float64))
		return nil
	}
	*n.p = x.Int64
	return nil
}

type nullFloat struct{ p *float64 }

func (n nullFloat) Scan(v any) error {
	var x sql.NullFloat64
	if err := x.Scan(v); err != nil {
		return err
	}
	*n.p = x.Float64
	return nil
}

// overview answers /api/overview.
func (h *Handler) overview(r *http.Request) (any, error) {
	f, err := h.parseFilter(r)
	if err != nil {
		return nil, err
	}
	by := r.URL.Query().Get("by")
	if by == "" {
		by = "model"
	}
	dim, ok := dimensions[by]
	if !ok {
		return nil, badRequest("by: want model, provider, user or client_key")
	}
	return h.overviewOf(r.Context(), f, by, dim)
}

// overviewOf computes the overview of the filter's range, broken down by the column dim.
func (h *Handler) overviewOf(ctx context.Context, f filter, by, dim string) (*Overview, error) {
	o := &Overview{Since: f.since, Until: f.until, Bucket: "hour", By: by}
	day := f.until.Sub(f.since) > maxHourly
	step := time.Hour
	start := f.since.Truncate(time.Hour)
	if day {
		o.Bucket, step = "day", 24*time.Hour
		start = time.Date(f.since.Year(), f.since.Month(), f.since.Day(), 0, 0, 0, 0, time.UTC)
	}
	if n := f.until.Sub(start) / step; n > maxBuckets {
		return nil, badRequest("the range is longer than %d %ss", maxBuckets, o.Bucket)
	}
	buckets := map[time.Time]int{}
	for t := start; t.Before(f.until); t = t.Add(step) {
		buckets[t] = len(o.Series)
		o.Series = append(o.Series, Point{Time: t})
	}
	p, err := h.planOf(ctx, f)
	if err != nil {
		return nil, err
	}

	// The histograms of the percentiles are read beside the figures, on another connection:
	// each is one scan of the exchanges index, and the two run on two cores at once.
	percentiles := make(chan error, 1)
	go func() { percentiles <- h.percentiles(ctx, f, p, day, buckets, o) }()

	// One row per bucket and group gives the series, the breakdown and the groups' series
	// alike, unless the column has so many values that the rows are too many; then the
	// breakdown is read first and the series keep its largest groups apart.
	w := &where{d: h.d}
	parts := h.parts(w, f, p, day, by, dim)
	q := "SELECT b, k, " + h.d.partSums() + " FROM " + parts + fmt.Sprintf(" GROUP BY b, k LIMIT %d", maxSeriesRows+1)
	cells, err := h.cells(ctx, q, w.args)
	if err == nil && len(cells) > maxSeriesRows {
		cells, err = h.topCells(ctx, f, p, day, by, dim, o)
	} else if err == nil {
		o.Breakdown = breakdownOf(cells)
	}
	if perr := <-percentiles; err == nil {
		err = perr
	}
	if err != nil {
		return nil, err
	}
	for i := 0; i < len(o.Breakdown) && i < topKeys; i++ {
		o.BySeries = append(o.BySeries, KeySeries{Key: o.Breakdown[i].Key, Requests: make([]int64, len(o.Series))})
	}
	per := make([]sums, len(o.Series))
	var total sums
	for _, c := range cells {
		total.add(c.s)
		i, ok := bucketIndex(buckets, c.bucket, day)
		if !ok {
			continue
		}
		per[i].add(c.s)
		if c.key.Valid {
			for j := range o.BySeries {
				if o.BySeries[j].Key == c.key.String {
					o.BySeries[j].Requests[i] += c.s.n
				}
			}
		}
	}
	t50, t95, l50, l95 := o.Totals.P50TTFT, o.Totals.P95TTFT, o.Totals.P50Latency, o.Totals.P95Latency
	o.Totals = total.figures()
	o.Totals.P50TTFT, o.Totals.P95TTFT, o.Totals.P50Latency, o.Totals.P95Latency = t50, t95, l50, l95
	for i := range o.Series {
		p := &o.Series[i].Figures
		fg := per[i].figures()
		fg.P50TTFT, fg.P95TTFT, fg.P50Latency, fg.P95Latency = p.P50TTFT, p.P95TTFT, p.P50Latency, p.P95Latency
		*p = fg
	}
	return o, nil
}

// span is a range of created_at read from the rows.
type span struct{ from, until time.Time }

// plan says where the overview reads each part of its range: the complete hours that the
// rollups hold from the rollups, the rest from the rows.
type plan struct {
	raw []span // read from accesslog
	// rollFrom and rollUntil are the hours [rollFrom, rollUntil) read from the rollups, but
	// for those in skip; rollFrom is empty when none is.
	rollFrom, rollUntil string
	skip                []string
}

// planOf splits the filter's range between the rollups and the rows. The rollups serve the
// complete hours of the range that they cover, after the oldest exchange's hour (which a
// prune may have cut since they were computed) and but for the hours that received rows
// since they were (above the watermark).
func (h *Handler) planOf(ctx context.Context, f filter) (plan, error) {
	all := plan{raw: []span{{f.since, f.until}}}
	if !h.readRollups.Load() {
		return all, nil
	}
	st, err := readRollupState(ctx, h.db)
	if err != nil || st.covered == "" || st.rolledID == 0 {
		// No watermark yet (on PostgreSQL, for two minutes after the first maintenance):
		// every rolled-up hour would be dirty.
		return all, err
	}
	covered, err := parseHour(st.covered)
	if err != nil {
		return all, fmt.Errorf("rollup state: %w", err)
	}
	from, until := ceilHour(f.since), f.until.Truncate(time.Hour)
	if covered.Before(until) {
		until = covered
	}
	if !from.Before(until) {
		return all, nil
	}
	oldest, ok, err := h.firstExchangeAt(ctx, h.db, time.Time{}, time.Time{})
	if err != nil || !ok {
		return all, err
	}
	if o := oldest.Truncate(time.Hour).Add(time.Hour); from.Before(o) {
		from = o
	}
	if !from.Before(until) {
		return all, nil
	}
	dirty, err := h.dirtyHours(ctx, h.db, st.rolledID, from, until)
	if err != nil {
		return all, err
	}
	p := plan{rollFrom: hourText(from), rollUntil: hourText(until)}
	p.addRaw(f.since, from)
	for _, d := range dirty {
		p.skip = append(p.skip, hourText(d))
		p.addRaw(d, d.Add(time.Hour))
	}
	p.addRaw(until, f.until)
	return p, nil
}

// addRaw adds a range read from the rows, joined to the last one when they touch.
func (p *plan) addRaw(from, until time.Time) {
	if !from.Before(until) {
		return
	}
	if n := len(p.raw); n > 0 && p.raw[n-1].until.Equal(from) {
		p.raw[n-1].until = until
		return
	}
	p.raw = append(p.raw, span{from, until})
}

// rawSums are the raw part's SELECT terms that match partSums, in order: those sums reads.
const rawSums = `COUNT(*) AS n,
SUM(CASE WHEN status_code >= 400 AND status_code < 500 THEN 1 ELSE 0 END) AS c4,
SUM(CASE WHEN status_code >= 500 THEN 1 ELSE 0 END) AS c5,
SUM(prompt_tokens) AS tin, SUM(completion_tokens) AS tout, SUM(cost_usd) AS cost,
SUM(request_time) AS rt, COUNT(request_time) AS rtn, SUM(request_time_api) AS api, COUNT(request_time_api) AS apin,
SUM(time_to_first_token) AS ttft, COUNT(time_to_first_token) AS ttftn`

// aggregates are the terms of rawSums without their names.
const aggregates = `COUNT(*),
SUM(CASE WHEN status_code >= 400 AND status_code < 500 THEN 1 ELSE 0 END),
SUM(CASE WHEN status_code >= 500 THEN 1 ELSE 0 END),
SUM(prompt_tokens), SUM(completion_tokens), SUM(cost_usd),
SUM(request_time), COUNT(request_time), SUM(request_time_api), COUNT(request_time_api),
SUM(time_to_first_token), COUNT(time_to_first_token)`

// partSums adds up the columns of parts, in the order sums reads them. On PostgreSQL a sum of
// sums of integers is a numeric, cast back.
func (d dialect) partSums() string {
	i := func(c string) string {
		if d.pg {
			return "CAST(SUM(" + c + ") AS BIGINT)"
		}
		return "SUM(" + c + ")"
	}
	return i("n") + ", " + i("c4") + ", " + i("c5") + ", " + i("tin") + ", " + i("tout") + ", SUM(cost), SUM(rt), " +
		i("rtn") + ", SUM(api), " + i("apin") + ", SUM(ttft), " + i("ttftn")
}

// parts is a FROM term: the figures of each bucket (b) and group (k) of the plan's raw ranges
// and rollup hours, one row per source, for partSums to add up.
func (h *Handler) parts(w *where, f filter, p plan, day bool, by, dim string) string {
	var parts []string
	for _, s := range p.raw {
		w.add(exchangeRows)
		w.add("created_at >= ?", h.d.timeArg(s.from))
		w.add("created_at < ?", h.d.timeArg(s.until))
		f.applyColumns(w)
		parts = append(parts, "SELECT "+h.d.bucketExpr(day)+" AS b, COALESCE("+dim+", '') AS k, "+rawSums+
			" FROM accesslog"+w.take()+" GROUP BY b, k")
	}
	if p.rollFrom != "" {
		dims := rollupDimsFor(f.dims() | dimBits[by])
		key := dim
		if dims == 0 {
			key = "''"
		}
		p.rollupWhere(w, f, dims)
		parts = append(parts, "SELECT "+rollupBucket(day)+" AS b, "+key+" AS k, "+rollupSums+
			" FROM accesslog_rollup"+w.take()+" GROUP BY b, k")
	}
	return "(" + strings.Join(parts, " UNION ALL ") + ") AS parts"
}

// rollupWhere adds the conditions of the plan's rollup rows of dims.
func (p plan) rollupWhere(w *where, f filter, dims int) {
	w.add("dims = ?", dims)
	w.add("hour >= ?", p.rollFrom)
	w.add("hour < ?", p.rollUntil)
	if len(p.skip) > 0 {
		w.conds = append(w.conds, "hour NOT IN "+w.list(p.skip))
	}
	f.applyColumns(w)
}

// rollupBucket is a rollup's hour cut to the overview's bucket.
func rollupBucket(day bool) string {
	if day {
		return "substr(hour, 1, 10)"
	}
	return "hour"
}

// maxSeriesRows bounds the rows of one row per bucket and group. A variable for tests.
var maxSeriesRows = 20000

// cell is the figures of one bucket and group; key is NULL for the groups outside the top.
type cell struct {
	bucket string
	key    sql.NullString
	s      sums
}

// cells runs a query of bucket, key and aggregates.
func (h *Handler) cells(ctx context.Context, q string, args []any) ([]cell, error) {
	rows, err := h.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("overview series: %w", err)
	}
	defer rows.Close()
	var out []cell
	for rows.Next() {
		var c cell
		if err := rows.Scan(append([]any{&c.bucket, &c.key}, c.s.scanArgs()...)...); err != nil {
			return nil, fmt.Errorf("overview series: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("overview series: %w", err)
	}
	return out, nil
}

// breakdownOf adds the cells up by group: most requests first, at most maxGroups.
func breakdownOf(cells []cell) []Group {
	by := map[string]*sums{}
	for _, c := range cells {
		s := by[c.key.String]
		if s == nil {
			s = &sums{}
			by[c.key.String] = s
		}
		s.add(c.s)
	}
	var gs []Group
	for k, s := range by {
		gs = append(gs, Group{Key: k, Figures: s.figures()})
	}
	sort.Slice(gs, func(i, j int) bool {
		if gs[i].Requests != gs[j].Requests {
			return gs[i].Requests > gs[j].Requests
		}
		return gs[i].Key < gs[j].Key
	})
	if len(gs) > maxGroups {
		gs = gs[:maxGroups]
	}
	return gs
}

// topCells reads the breakdown, then the series with the topKeys largest groups apart and
// the others together under a NULL key.
func (h *Handler) topCells(ctx context.Context, f filter, p plan, day bool, by, dim string, o *Overview) ([]cell, error) {
	w := &where{d: h.d}
	q := "SELECT k, " + h.d.partSums() + " FROM " + h.parts(w, f, p, day, by, dim) +
		fmt.Sprintf(" GROUP BY k ORDER BY 2 DESC, 1 LIMIT %d", maxGroups)
	rows, err := h.db.QueryContext(ctx, q, w.args...)
	if err != nil {
		return nil, fmt.Errorf("overview breakdown: %w", err)
	}
	o.Breakdown = nil
	for rows.Next() {
		var g Group
		var s sums
		if err := rows.Scan(append([]any{&g.Key}, s.scanArgs()...)...); err != nil {
			rows.Close()
			return nil, fmt.Errorf("overview breakdown: %w", err)
		}
		g.Figures = s.figures()
		o.Breakdown = append(o.Breakdown, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("overview breakdown: %w", err)
	}
	var top []string
	for i := 0; i < len(o.Breakdown) && i < topKeys; i++ {
		top = append(top, o.Breakdown[i].Key)
	}
	w = &where{d: h.d}
	keyOrNone := "NULL"
	if len(top) > 0 {
		keyOrNone = "CASE WHEN k IN " + w.list(top) + " THEN k ELSE NULL END"
	}
	return h.cells(ctx, "SELECT b, "+keyOrNone+" AS kk, "+h.d.partSums()+" FROM "+h.parts(w, f, p, day, by, dim)+" GROUP BY b, kk", w.args)
}

// bucketIndex finds the series index of a bucket as the database spelled it.
func bucketIndex(buckets map[time.Time]int, b string, day bool) (int, bool) {
	layout := "2006-01-02 15"
	if day {
		layout = "2006-01-02"
	}
	t, err := time.Parse(layout, strings.TrimSpace(b))
	if err != nil {
		return 0, false
	}
	i, ok := buckets[t]
	return i, ok
}

// histogram counts times in logarithmic bins: bin i holds the times t (in ms) with
// round(ln(t) * histScale) = i.
type histogram map[int]int64

// quantile returns the q-quantile (0 < q < 1) in seconds, interpolated inside its bin.
func (hg histogram) quantile(q float64) float64 {
	var n int64
	bins := make([]int, 0, len(hg))
	for b, c := range hg {
		n += c
		bins = append(bins, b)
	}
	if n == 0 {
		return 0
	}
	sort.Ints(bins)
	rank := q * float64(n)
	var seen float64
	for _, b := range bins {
		c := float64(hg[b])
		if seen+c >= rank {
			frac := (rank - seen) / c
			lo := (float64(b) - 0.5) / histScale
			return math.Exp(lo+frac/histScale) / 1000
		}
		seen += c
	}
	return math.Exp(float64(bins[len(bins)-1])/histScale) / 1000
}

// binOf is the histogram bin of a time column, in SQL.
func binOf(col string) string {
	return fmt.Sprintf("CAST(ROUND(LN(%s * 1000) * %d) AS INTEGER)", col, histScale)
}

// percentiles fills the p50 and p95 of latency and time to first token of the series and
// totals, from per-bucket histograms: those the database computes from the plan's raw ranges,
// and those the rollups hold for its hours.
func (h *Handler) percentiles(ctx context.Context, f filter, p plan, day bool, buckets map[time.Time]int, o *Overview) error {
	per := make([][2]histogram, len(o.Series))
	all := [2]histogram{{}, {}}
	count := func(kind int, b string, fn func(histogram) error) error {
		if err := fn(all[kind]); err != nil {
			return err
		}
		i, ok := bucketIndex(buckets, b, day)
		if !ok {
			return nil
		}
		if per[i][kind] == nil {
			per[i][kind] = histogram{}
		}
		return fn(per[i][kind])
	}

	w := &where{d: h.d}
	bucket := h.d.bucketExpr(day)
	var parts []string
	for _, s := range p.raw {
		for kind, col := range []string{"request_time", "time_to_first_token"} {
			w.add(exchangeRows)
			w.add("created_at >= ?", h.d.timeArg(s.from))
			w.add("created_at < ?", h.d.timeArg(s.until))
			f.applyColumns(w)
			w.conds = append(w.conds, col+" > 0")
			parts = append(parts, fmt.Sprintf("SELECT %d, %s AS b, %s AS bin, COUNT(*) FROM accesslog%s GROUP BY b, bin",
				kind, bucket, binOf(col), w.take()))
		}
	}
	if len(parts) > 0 {
		rows, err := h.db.QueryContext(ctx, strings.Join(parts, " UNION ALL "), w.args...)
		if err != nil {
			return fmt.Errorf("overview percentiles: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var kind, bin int
			var b string
			var n int64
			if err := rows.Scan(&kind, &b, &bin, &n); err != nil {
				return fmt.Errorf("overview percentiles: %w", err)
			}
			count(kind, b, func(hg histogram) error { hg[bin] += n; return nil })
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("overview percentiles: %w", err)
		}
		rows.Close()
	}
	if p.rollFrom != "" {
		w := &where{d: h.d}
		p.rollupWhere(w, f, rollupDimsFor(f.dims()))
		rows, err := h.db.QueryContext(ctx, "SELECT "+rollupBucket(day)+", request_time_bins, ttft_bins FROM accesslog_rollup"+w.String(), w.args...)
		if err != nil {
			return fmt.Errorf("overview percentiles: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var b string
			var bins [2]string
			if err := rows.Scan(&b, &bins[0], &bins[1]); err != nil {
				return fmt.Errorf("overview percentiles: %w", err)
			}
			for kind, text := range bins {
				if err := count(kind, b, func(hg histogram) error { return hg.addText(text) }); err != nil {
					return fmt.Errorf("overview percentiles: %w", err)
				}
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("overview percentiles: %w", err)
		}
	}
	set := func(fg *Figures, hs [2]histogram) {
		fg.P50Latency, fg.P95Latency = hs[0].quantile(0.5), hs[0].quantile(0.95)
		fg.P50TTFT, fg.P95TTFT = hs[1].quantile(0.5), hs[1].quantile(0.95)
	}
	set(&o.Totals, all)
	for i := range o.Series {
		set(&o.Series[i].Figures, per[i])
	}
	return nil
}
