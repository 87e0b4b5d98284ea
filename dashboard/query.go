package dashboard

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aiproxy-go/aiproxy/accesslog"
)

// exchangeRows selects the one row per exchange that carries its outcome. The migration
// 00020 indexes exactly these rows; the term must be written the same way for the query
// planners to use that partial index.
const exchangeRows = "direction IN ('response', 'error')"

// dialect holds what differs between SQLite and PostgreSQL in the dashboard's queries.
type dialect struct {
	pg bool
	// localTime: on PostgreSQL, created_at is a "timestamp without time zone" holding UTC
	// (a table adopted from the Python AIProxy) rather than a timestamptz.
	localTime bool
}

func newDialect(ctx context.Context, db *sql.DB, pg bool) (dialect, error) {
	d := dialect{pg: pg}
	if !pg {
		return d, nil
	}
	var typ string
	err := db.QueryRowContext(ctx, `SELECT data_type FROM information_schema.columns
WHERE table_schema = current_schema() AND table_name = 'accesslog' AND column_name = 'created_at'`).Scan(&typ)
	if err != nil {
		return d, fmt.Errorf("read the type of created_at: %w", err)
	}
	d.localTime = typ == "timestamp without time zone"
	return d, nil
}

// bucketExpr is created_at cut to the hour ("2006-01-02 15") or the day ("2006-01-02"), as
// text, in UTC. On SQLite created_at is text in accesslog.TimeLayout, so a prefix is the
// bucket, which is far cheaper than a date function on each row.
func (d dialect) bucketExpr(day bool) string {
	if !d.pg {
		if day {
			return "substr(created_at, 1, 10)"
		}
		return "substr(created_at, 1, 13)"
	}
	col := "created_at AT TIME ZONE 'UTC'"
	if d.localTime {
		col = "created_at"
	}
	if day {
		return "to_char(" + col + ", 'YYYY-MM-DD')"
	}
	return "to_char(" + col + ", 'YYYY-MM-DD HH24')"
}

// timeArg is a bound value compared with created_at.
func (d dialect) timeArg(t time.Time) any {
	if d.pg {
		return t.UTC()
	}
	return t.UTC().Format(accesslog.TimeLayout)
}

// where builds a WHERE clause with the placeholders of the dialect.
type where struct {
	d     dialect
	conds []string
	args  []any
}

// arg binds v and returns its placeholder, numbered so that it may appear anywhere in the
// statement: "$n" on PostgreSQL, "?n" on SQLite.
func (w *where) arg(v any) string {
	w.args = append(w.args, v)
	if w.d.pg {
		return "$" + strconv.Itoa(len(w.args))
	}
	return "?" + strconv.Itoa(len(w.args))
}

// add appends a condition; each "?" in cond takes the next of args.
func (w *where) add(cond string, args ...any) {
	var b strings.Builder
	for _, c := range cond {
		if c == '?' && len(args) > 0 {
			b.WriteString(w.arg(args[0]))
			args = args[1:]
			continue
		}
		b.WriteRune(c)
	}
	w.conds = append(w.conds, b.String())
}

// list binds the values and returns "(p1, p2, ...)".
func (w *where) list(vals []string) string {
	ph := make([]string, len(vals))
	for i, v := range vals {
		ph[i] = w.arg(v)
	}
	return "(" + strings.Join(ph, ", ") + ")"
}

// in appends "expr IN (...)" for the values.
func (w *where) in(expr string, vals []string) {
	if len(vals) == 0 {
		w.conds = append(w.conds, "1 = 0")
		return
	}
	w.conds = append(w.conds, expr+" IN "+w.list(vals))
}

// take returns the WHERE clause of the conditions added so far and forgets them, keeping
// their bound values: the next conditions make another clause of the same statement.
func (w *where) take() string {
	s := w.String()
	w.conds = nil
	return s
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// filter is what the overview and the log browser can narrow the rows to.
type filter struct {
	since, until time.Time
	model        string
	provider     string
	user         string
	clientKey    string
}

// dimensions are the columns the overview breaks figures down by, keyed by the API's name.
var dimensions = map[string]string{
	"model":      "model",
	"provider":   "provider",
	"user":       `"user"`,
	"client_key": "client_key",
}

// parseFilter reads since, until and the column filters of a query string. since defaults to
// 24 hours before until, until to now.
func (h *Handler) parseFilter(r *http.Request) (filter, error) {
	q := r.URL.Query()
	f := filter{
		model: q.Get("model"), provider: q.Get("provider"), user: q.Get("user"), clientKey: q.Get("client_key"),
	}
	var err error
	if f.until, err = parseTime(q.Get("until"), h.opts.Now()); err != nil {
		return f, badRequest("until: %v", err)
	}
	if f.since, err = parseTime(q.Get("since"), f.until.Add(-24*time.Hour)); err != nil {
		return f, badRequest("since: %v", err)
	}
	if !f.since.Before(f.until) {
		return f, badRequest("since must be before until")
	}
	return f, nil
}

// parseTime reads an RFC 3339 time, a Unix time in seconds, or a duration before now ("24h",
// "7d"); "" is def.
func parseTime(s string, def time.Time) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time or Unix seconds", s)
}

// apply adds the filter's conditions on created_at and the columns.
func (f filter) apply(w *where) {
	w.add("created_at >= ?", w.d.timeArg(f.since))
	w.add("created_at < ?", w.d.timeArg(f.until))
	f.applyColumns(w)
}

// applyColumns adds the filter's conditions on the columns, which the rollups share with the
// access log (holding the empty string where it holds NULL, which no filter asks for).
func (f filter) applyColumns(w *where) {
	if f.model != "" {
		w.add("model = ?", f.model)
	}
	if f.provider != "" {
		w.add("provider = ?", f.provider)
	}
	if f.user != "" {
		w.add(`"user" = ?`, f.user)
	}
	if f.clientKey != "" {
		w.add("client_key = ?", f.clientKey)
	}
}

// dims is the rollup dims bits of the columns the filter narrows.
func (f filter) dims() int {
	d := 0
	if f.model != "" {
		d |= dimModel
	}
	if f.provider != "" {
		d |= dimProvider
	}
	if f.user != "" {
		d |= dimUser
	}
	if f.clientKey != "" {
		d |= dimClientKey
	}
	return d
}

// timeText shows a created_at value from either database the same way: UTC, as stored.
func timeText(v any) string {
	switch t := v.(type) {
	case time.Time:
		return t.UTC().Format(accesslog.TimeLayout)
	case []byte:
		return string(t)
	case string:
		return t
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}
