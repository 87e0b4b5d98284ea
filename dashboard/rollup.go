package dashboard

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aiproxy-go/aiproxy/accesslog"
)

// The hourly rollups (tables accesslog_rollup and accesslog_rollup_state, migration 00021) hold
// the overview's figures of each complete hour, so that a long range is read from a few rows
// per hour instead of every exchange. They are a cache of the accesslog rows that the dashboard
// keeps itself:
//
//   - An hour is rolled up once it has ended (plus rollupDelay), by recomputing it whole from
//     its rows: in one transaction, its rollup rows are deleted and written again. A recompute
//     is idempotent, so several dashboards may run the maintenance at once.
//   - rolled_id is a watermark: every exchange row of a rolled-up hour with an id up to it is
//     in the rollups. A row with a larger id (one that arrived late for an hour already rolled
//     up, from a spill file or a writer that waited for the database) makes its hour dirty:
//     the overview reads that hour from the rows, and the next maintenance recomputes it when
//     its count of rows differs from the rollup's.
//   - Hours before the oldest exchange row are pruned: the maintenance deletes their rollups,
//     and the overview reads the oldest hour (which the pruner may have cut) from the rows.
//   - Each maintenance also verifies the counts of a few rolled-up hours in turn (a sweep), so
//     that a change the watermark cannot see is repaired within one cycle over the log.

const (
	// hourLayout is the text of an hour in the rollups and in the overview's hourly buckets.
	hourLayout = "2006-01-02 15"
	// rollupDelay is how long after its end an hour is rolled up: the rows of an exchange
	// that ended in the hour are written within a few milliseconds of its end by a healthy
	// writer, and the later ones are caught by the watermark.
	rollupDelay = 2 * time.Minute
	// rollupSettle is, on PostgreSQL, how long after it is seen an id becomes the watermark.
	// Several proxies insert at once there, so a transaction that drew a smaller id may commit
	// after a larger id is visible; the writer gives up an insert after a minute
	// (accesslog's insertTimeout), so every id seen two minutes ago is committed or lost.
	rollupSettle = 2 * time.Minute
	// sweepHours is the number of rolled-up hours each maintenance verifies: a month's in
	// half an hour at the default interval.
	sweepHours = 24
	// rollupPause is the least pause between two hours' transactions on SQLite, so that the
	// proxy's writer, which waits for the write lock by polling, gets it in between.
	rollupPause = 5 * time.Millisecond
)

// DefaultRollupInterval is how often the dashboard brings its hourly rollups up to date when
// Options.RollupInterval is zero.
const DefaultRollupInterval = time.Minute

// Dimension bits of the rollups' dims column: which key columns a rollup row keeps.
const (
	dimModel     = 1
	dimProvider  = 2
	dimUser      = 4
	dimClientKey = 8
	dimAll       = dimModel | dimProvider | dimUser | dimClientKey
)

// rollupDims are the dims values stored for each hour: the hour alone, each key column
// alone, and all four together.
var rollupDims = []int{0, dimModel, dimProvider, dimUser, dimClientKey, dimAll}

// dimBits maps the API's breakdown names to dims bits.
var dimBits = map[string]int{"model": dimModel, "provider": dimProvider, "user": dimUser, "client_key": dimClientKey}

// rollupDimsFor is the dims of the smallest rollup rows that keep every column in need.
func rollupDimsFor(need int) int {
	switch need {
	case 0, dimModel, dimProvider, dimUser, dimClientKey:
		return need
	}
	return dimAll
}

// rollupColumns are the columns of accesslog_rollup that recompute writes, in order.
const rollupColumns = `dims, hour, model, provider, "user", client_key, requests, client_4xx, server_5xx,
input_tokens, output_tokens, cost_usd, request_time_sum, request_time_n,
request_time_api_sum, request_time_api_n, ttft_sum, ttft_n, request_time_bins, ttft_bins`

// rollupSums are the rollup part's SELECT terms that match partSums, in order.
const rollupSums = `SUM(requests) AS n, SUM(client_4xx) AS c4, SUM(server_5xx) AS c5,
SUM(input_tokens) AS tin, SUM(output_tokens) AS tout, SUM(cost_usd) AS cost,
SUM(request_time_sum) AS rt, SUM(request_time_n) AS rtn, SUM(request_time_api_sum) AS api,
SUM(request_time_api_n) AS apin, SUM(ttft_sum) AS ttft, SUM(ttft_n) AS ttftn`

// rollupState is the row of accesslog_rollup_state.
type rollupState struct {
	covered  string // hours before it are rolled up; "" when none is
	rolledID int64  // the watermark
	seenID   int64  // PostgreSQL: the largest id seen at seenAt, the next watermark
	seenAt   int64  // Unix seconds
}

// querier is what the rollup queries read through: a *sql.DB or *sql.Conn.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func readRollupState(ctx context.Context, q querier) (rollupState, error) {
	var st rollupState
	err := q.QueryRowContext(ctx, "SELECT covered_until, rolled_id, seen_id, seen_at FROM accesslog_rollup_state WHERE id = 1").
		Scan(&st.covered, &st.rolledID, &st.seenID, &st.seenAt)
	if errors.Is(err, sql.ErrNoRows) {
		return rollupState{}, nil
	}
	if err != nil {
		return st, fmt.Errorf("read the rollup state: %w", err)
	}
	return st, nil
}

// parseHour reads an hour as the rollups spell it.
func parseHour(s string) (time.Time, error) {
	return time.Parse(hourLayout, s)
}

func hourText(t time.Time) string { return t.UTC().Format(hourLayout) }

// ceilHour is the first hour boundary at or after t.
func ceilHour(t time.Time) time.Time {
	h := t.Truncate(time.Hour)
	if h.Before(t) {
		h = h.Add(time.Hour)
	}
	return h
}

// parseCreated reads a created_at value of either database.
func parseCreated(v any) (time.Time, error) {
	if t, ok := v.(time.Time); ok {
		return t.UTC(), nil
	}
	s := timeText(v)
	// SQLite text from other writers may lack the microseconds or use a T.
	for _, layout := range []string{accesslog.TimeLayout, "2006-01-02 15:04:05", time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	if len(s) >= 13 {
		if t, err := parseHour(s[:13]); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("created_at %q is not a time", s)
}

// firstExchangeAt is the created_at of the oldest exchange row at or after from (any when
// from is zero) and before until (no bound when zero); ok is false when there is none.
func (h *Handler) firstExchangeAt(ctx context.Context, q querier, from, until time.Time) (t time.Time, ok bool, err error) {
	w := &where{d: h.d}
	w.add(exchangeRows)
	if !from.IsZero() {
		w.add("created_at >= ?", h.d.timeArg(from))
	}
	if !until.IsZero() {
		w.add("created_at < ?", h.d.timeArg(until))
	}
	var v any
	if err := q.QueryRowContext(ctx, "SELECT MIN(created_at) FROM accesslog"+w.String(), w.args...).Scan(&v); err != nil {
		return t, false, fmt.Errorf("oldest exchange: %w", err)
	}
	if v == nil {
		return t, false, nil
	}
	t, err = parseCreated(v)
	return t, err == nil, err
}

// dirtyHours lists the hours in [from, until) that hold an exchange row with an id above the
// watermark, oldest first.
func (h *Handler) dirtyHours(ctx context.Context, q querier, watermark int64, from, until time.Time) ([]time.Time, error) {
	w := &where{d: h.d}
	// On SQLite, + keeps the planner on the rowid range (the rows since the watermark, few)
	// rather than the created_at index (every row of the range).
	plus := "+"
	if h.d.pg {
		plus = ""
	}
	w.add("id > ?", watermark)
	w.add(plus + "direction IN ('response', 'error')")
	w.add(plus+"created_at >= ?", h.d.timeArg(from))
	w.add(plus+"created_at < ?", h.d.timeArg(until))
	rows, err := q.QueryContext(ctx, "SELECT DISTINCT "+h.d.bucketExpr(false)+" FROM accesslog"+w.String(), w.args...)
	if err != nil {
		return nil, fmt.Errorf("rows since the rollups: %w", err)
	}
	defer rows.Close()
	var out []time.Time
	for rows.Next() {
		var b string
		if err := rows.Scan(&b); err != nil {
			return nil, fmt.Errorf("rows since the rollups: %w", err)
		}
		t, err := parseHour(strings.TrimSpace(b))
		if err != nil {
			return nil, fmt.Errorf("rows since the rollups: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("rows since the rollups: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out, nil
}

// RefreshRollups brings the hourly rollups up to date: it rolls up the hours that ended
// since the last run, recomputes the hours that received rows since, drops the rollups of
// pruned hours and verifies a few hours in turn. The dashboard runs it every
// Options.RollupInterval; a program that turns that off may call it itself. On PostgreSQL
// only one dashboard at a time runs it (an advisory lock), and a call that finds another
// running returns at once.
func (h *Handler) RefreshRollups(ctx context.Context) error {
	h.rollupMu.Lock()
	defer h.rollupMu.Unlock()
	conn, err := h.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("refresh rollups: %w", err)
	}
	defer conn.Close()
	if h.d.pg {
		// One lock per schema, so that tests and tenants in other schemas do not wait.
		const key = "hashtext('aiproxy.accesslog_rollup'), hashtext(current_schema())"
		var got bool
		if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock("+key+")").Scan(&got); err != nil {
			return fmt.Errorf("refresh rollups: lock: %w", err)
		}
		if !got {
			return nil
		}
		defer func() {
			// A session lock lives as long as the connection: one that could not be
			// released must not go back to the pool.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_unlock("+key+")"); err != nil {
				conn.Raw(func(any) error { return driver.ErrBadConn })
			}
		}()
	}
	if err := h.refresh(ctx, conn); err != nil {
		return fmt.Errorf("refresh rollups: %w", err)
	}
	return nil
}

// refresh is one maintenance run on conn.
func (h *Handler) refresh(ctx context.Context, conn *sql.Conn) error {
	st, err := readRollupState(ctx, conn)
	if err != nil {
		return err
	}
	now := h.opts.Now().UTC()
	target := now.Add(-rollupDelay).Truncate(time.Hour) // hours before it are rolled up
	var maxID int64
	if err := conn.QueryRowContext(ctx, "SELECT COALESCE(MAX(id), 0) FROM accesslog").Scan(&maxID); err != nil {
		return fmt.Errorf("newest id: %w", err)
	}
	oldest, found, err := h.firstExchangeAt(ctx, conn, time.Time{}, time.Time{})
	if err != nil {
		return err
	}
	first := target // the first hour that holds a row
	if found && oldest.Before(target) {
		first = oldest.Truncate(time.Hour)
	}

	var covered time.Time
	if st.covered == "" {
		// A first run, or one after the state was reset: nothing in the table is trusted.
		if _, err := conn.ExecContext(ctx, "DELETE FROM accesslog_rollup"); err != nil {
			return fmt.Errorf("clear rollups: %w", err)
		}
	} else if covered, err = parseHour(st.covered); err != nil {
		return fmt.Errorf("rollup state: %w", err)
	}
	// The rollups of pruned hours go with their rows.
	if _, err := conn.ExecContext(ctx, "DELETE FROM accesslog_rollup WHERE dims IN (0, 1, 2, 4, 8, 15) AND hour < "+h.placeholder(1), hourText(first)); err != nil {
		return fmt.Errorf("drop pruned rollups: %w", err)
	}

	// The hours that ended since the last run, skipping those without a row.
	from := covered
	if from.Before(first) {
		from = first
	}
	for hr := from; hr.Before(target); hr = hr.Add(time.Hour) {
		next, ok, err := h.firstExchangeAt(ctx, conn, hr, target)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		hr = next.Truncate(time.Hour)
		if err := h.recompute(ctx, conn, hr); err != nil {
			return err
		}
	}

	if !covered.IsZero() && first.Before(covered) {
		// Hours that received rows since the watermark, and the oldest hour, which a prune
		// may have cut.
		dirty, err := h.dirtyHours(ctx, conn, st.rolledID, first, covered)
		if err != nil {
			return err
		}
		check := append([]time.Time{first}, dirty...)
		// The sweep: a few hours in turn, from where the last run stopped.
		if h.sweepNext.Before(first) || !h.sweepNext.Before(covered) {
			h.sweepNext = first
		}
		for i := 0; i < sweepHours && h.sweepNext.Before(covered); i++ {
			check = append(check, h.sweepNext)
			h.sweepNext = h.sweepNext.Add(time.Hour)
		}
		done := map[time.Time]bool{}
		for _, hr := range check {
			if done[hr] {
				continue
			}
			done[hr] = true
			if err := h.verify(ctx, conn, hr); err != nil {
				return err
			}
		}
	}

	next := st
	if target.After(covered) {
		next.covered = hourText(target)
	}
	if !h.d.pg {
		// SQLite has one writer at a time, which draws ids in commit order: every id up to
		// the largest visible is committed.
		next.rolledID = maxID
	} else if st.seenAt == 0 || now.Unix()-st.seenAt >= int64(rollupSettle/time.Second) {
		if st.seenAt != 0 && st.seenID > next.rolledID {
			next.rolledID = st.seenID
		}
		next.seenID, next.seenAt = maxID, now.Unix()
	}
	if next == st {
		return nil
	}
	_, err = conn.ExecContext(ctx, "UPDATE accesslog_rollup_state SET covered_until = "+h.placeholder(1)+
		", rolled_id = "+h.placeholder(2)+", seen_id = "+h.placeholder(3)+", seen_at = "+h.placeholder(4)+" WHERE id = 1",
		next.covered, next.rolledID, next.seenID, next.seenAt)
	if err != nil {
		return fmt.Errorf("write the rollup state: %w", err)
	}
	return nil
}

// placeholder is the n-th bound value of a statement in the dialect.
func (h *Handler) placeholder(n int) string {
	if h.d.pg {
		return "$" + strconv.Itoa(n)
	}
	return "?" + strconv.Itoa(n)
}

// verify recomputes the hour when its rollups do not count as many exchanges as its rows.
func (h *Handler) verify(ctx context.Context, conn *sql.Conn, hr time.Time) error {
	var rows, rolled int64
	err := conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM accesslog WHERE "+exchangeRows+
		" AND created_at >= "+h.placeholder(1)+" AND created_at < "+h.placeholder(2),
		h.d.timeArg(hr), h.d.timeArg(hr.Add(time.Hour))).Scan(&rows)
	if err != nil {
		return fmt.Errorf("count the rows of %s: %w", hourText(hr), err)
	}
	err = conn.QueryRowContext(ctx, "SELECT COALESCE(SUM(requests), 0) FROM accesslog_rollup WHERE dims = 0 AND hour = "+
		h.placeholder(1), hourText(hr)).Scan(&rolled)
	if err != nil {
		return fmt.Errorf("count the rollup of %s: %w", hourText(hr), err)
	}
	if rows == rolled {
		return nil
	}
	return h.recompute(ctx, conn, hr)
}

// rollupKey is the key columns of a rollup row, in dims bit order: model, provider, user,
// client key.
type rollupKey [4]string

// rollupRow is the figures of one rollup row.
type rollupRow struct {
	s    sums
	bins [2]histogram // request_time, time_to_first_token
}

func (r *rollupRow) add(o *rollupRow) {
	r.s.add(o.s)
	for i := range r.bins {
		for b, n := range o.bins[i] {
			r.bins[i][b] += n
		}
	}
}

// recompute rolls the hour up again from its rows, in one transaction: its rollup rows are
// deleted first, which on SQLite takes the write lock, so the rows read are the latest.
func (h *Handler) recompute(ctx context.Context, conn *sql.Conn, hr time.Time) error {
	start := time.Now()
	if err := h.recomputeTx(ctx, conn, hr); err != nil {
		return fmt.Errorf("roll up %s: %w", hourText(hr), err)
	}
	if !h.d.pg {
		pause := max(rollupPause, time.Since(start))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
	}
	return nil
}

func (h *Handler) recomputeTx(ctx context.Context, conn *sql.Conn, hr time.Time) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	hour := hourText(hr)
	if _, err := tx.ExecContext(ctx, "DELETE FROM accesslog_rollup WHERE dims IN (0, 1, 2, 4, 8, 15) AND hour = "+h.placeholder(1), hour); err != nil {
		return err
	}
	full, err := h.readHour(ctx, tx, hr)
	if err != nil {
		return err
	}
	if len(full) == 0 {
		return tx.Commit()
	}
	type keyed struct {
		dims int
		key  rollupKey
		row  *rollupRow
	}
	var out []keyed
	for _, dims := range rollupDims {
		if dims == dimAll {
			for k, r := range full {
				out = append(out, keyed{dims, k, r})
			}
			continue
		}
		part := map[rollupKey]*rollupRow{}
		for k, r := range full {
			var pk rollupKey
			for i := range pk {
				if dims&(1<<i) != 0 {
					pk[i] = k[i]
				}
			}
			p := part[pk]
			if p == nil {
				p = &rollupRow{bins: [2]histogram{{}, {}}}
				part[pk] = p
			}
			p.add(r)
		}
		for k, r := range part {
			out = append(out, keyed{dims, k, r})
		}
	}
	ph := make([]string, 20)
	for i := range ph {
		ph[i] = h.placeholder(i + 1)
	}
	ins, err := tx.PrepareContext(ctx, "INSERT INTO accesslog_rollup ("+rollupColumns+") VALUES ("+strings.Join(ph, ", ")+")")
	if err != nil {
		return err
	}
	defer ins.Close()
	for _, k := range out {
		s := k.row.s
		if _, err := ins.ExecContext(ctx, k.dims, hour, k.key[0], k.key[1], k.key[2], k.key[3], s.n, s.c4, s.c5,
			s.in, s.out, s.cost, s.rt, s.rtN, s.api, s.apiN, s.ttft, s.ttftN,
			k.row.bins[0].String(), k.row.bins[1].String()); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// readHour aggregates the exchange rows of the hour by all four key columns, with the same
// terms as the overview reads from raw rows. It reads only columns of the exchanges index
// (migration 00020), never the table, whose pages are mostly bodies.
func (h *Handler) readHour(ctx context.Context, tx *sql.Tx, hr time.Time) (map[rollupKey]*rollupRow, error) {
	w := &where{d: h.d}
	w.add(exchangeRows)
	w.add("created_at >= ?", h.d.timeArg(hr))
	w.add("created_at < ?", h.d.timeArg(hr.Add(time.Hour)))
	const keys = `COALESCE(model, ''), COALESCE(provider, ''), COALESCE("user", ''), COALESCE(client_key, '')`
	rows, err := tx.QueryContext(ctx, "SELECT "+keys+", "+aggregates+" FROM accesslog"+w.String()+
		" GROUP BY 1, 2, 3, 4", w.args...)
	if err != nil {
		return nil, err
	}
	full := map[rollupKey]*rollupRow{}
	for rows.Next() {
		var k rollupKey
		r := &rollupRow{bins: [2]histogram{{}, {}}}
		if err := rows.Scan(append([]any{&k[0], &k[1], &k[2], &k[3]}, r.s.scanArgs()...)...); err != nil {
			rows.Close()
			return nil, err
		}
		full[k] = r
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	q := "SELECT 0, " + keys + ", " + binOf("request_time") + " AS bin, COUNT(*) FROM accesslog" + w.String() +
		" AND request_time > 0 GROUP BY 2, 3, 4, 5, bin UNION ALL SELECT 1, " + keys + ", " + binOf("time_to_first_token") +
		" AS bin, COUNT(*) FROM accesslog" + w.String() + " AND time_to_first_token > 0 GROUP BY 2, 3, 4, 5, bin"
	rows, err = tx.QueryContext(ctx, q, w.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var kind, bin int
		var k rollupKey
		var n int64
		if err := rows.Scan(&kind, &k[0], &k[1], &k[2], &k[3], &bin, &n); err != nil {
			return nil, err
		}
		r := full[k]
		if r == nil {
			// A row that arrived between the two statements (PostgreSQL reads each
			// statement's own snapshot): its hour is recomputed later, as it is above
			// the watermark.
			continue
		}
		r.bins[kind][bin] += n
	}
	return full, rows.Err()
}

// String writes the histogram as the rollups store it: "bin:count" in bin order, joined by
// commas.
func (hg histogram) String() string {
	bins := make([]int, 0, len(hg))
	for b := range hg {
		bins = append(bins, b)
	}
	sort.Ints(bins)
	var sb strings.Builder
	for i, b := range bins {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(strconv.Itoa(b))
		sb.WriteByte(':')
		sb.WriteString(strconv.FormatInt(hg[b], 10))
	}
	return sb.String()
}

// addText adds a histogram as String writes it.
func (hg histogram) addText(s string) error {
	for s != "" {
		var item string
		item, s, _ = strings.Cut(s, ",")
		b, n, ok := strings.Cut(item, ":")
		bin, err1 := strconv.Atoi(b)
		count, err2 := strconv.ParseInt(n, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			return fmt.Errorf("histogram item %q", item)
		}
		hg[bin] += count
	}
	return nil
}

// maintainRollups runs RefreshRollups at once and then every interval, until ctx ends.
func (h *Handler) maintainRollups(ctx context.Context, interval time.Duration, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := h.RefreshRollups(ctx); err != nil && ctx.Err() == nil {
			h.logger.Warn("dashboard rollups not refreshed", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
