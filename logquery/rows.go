package logquery

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aiproxy-go/aiproxy/accesslog"
)

// Row is one row of the access log. List fills every column but the bodies (RawBody,
// RawHeaders, UpstreamBody, ChunkTimes); Export fills them all, and Extra too. A NULL reads as
// the zero value.
type Row struct {
	ID        int64     `json:"id"`
	CreatedAt time.Time `json:"created_at"`
	RequestID string    `json:"request_id"`
	Direction string    `json:"direction"`

	StatusCode        int    `json:"status_code"`
	Provider          string `json:"provider"`
	Endpoint          string `json:"endpoint"`
	Stream            bool   `json:"stream"`
	Model             string `json:"model"`
	User              string `json:"user"`
	ClientKey         string `json:"client_key"`
	UpstreamRequestID string `json:"upstream_request_id"`

	PromptTokens     int     `json:"prompt_tokens"`
	CompletionTokens int     `json:"completion_tokens"`
	CachedTokens     int     `json:"cached_tokens"`
	ReasoningTokens  int     `json:"reasoning_tokens"`
	TokensEstimated  bool    `json:"tokens_estimated"`
	CostUSD          float64 `json:"cost_usd"`

	RequestTime      float64 `json:"request_time"`        // seconds, whole exchange
	RequestTimeAPI   float64 `json:"request_time_api"`    // seconds, the upstream part
	TimeToFirstToken float64 `json:"time_to_first_token"` // seconds, streams only

	Content      string `json:"content"`
	FunctionCall string `json:"function_call"` // JSON, as stored
	ToolCalls    string `json:"tool_calls"`    // JSON, as stored

	RawBody      string `json:"raw_body,omitempty"`
	RawHeaders   string `json:"raw_headers,omitempty"` // JSON object, as stored
	UpstreamBody string `json:"upstream_body,omitempty"`
	ChunkTimes   string `json:"chunk_times,omitempty"` // JSON array of milliseconds, as stored

	// Extra holds the custom columns of the table (Export only), NULL as nil, by name.
	Extra map[string]any `json:"extra,omitempty"`
}

// Columns are the names of the built-in columns of the access log in the order Export reads
// them, which is the order of Row's fields. The custom columns of a table follow them.
var Columns = []string{
	"id", "created_at", "request_id", "direction", "status_code", "provider", "endpoint",
	"stream", "model", "user", "client_key", "upstream_request_id", "prompt_tokens",
	"completion_tokens", "cached_tokens", "reasoning_tokens", "tokens_estimated", "cost_usd",
	"request_time", "request_time_api", "time_to_first_token", "content", "function_call",
	"tool_calls", "raw_body", "raw_headers", "upstream_body", "chunk_times",
}

// summaryColumns is how many of Columns List reads: all but the bodies.
const summaryColumns = 24

// selectList returns the SELECT list of the first n Columns and of the extra columns.
func selectList(n int, extra []string) string {
	names := make([]string, 0, n+len(extra))
	for _, c := range Columns[:n] {
		names = append(names, quoteIdent(c))
	}
	for _, c := range extra {
		names = append(names, quoteIdent(c))
	}
	return strings.Join(names, ", ")
}

// quoteIdent quotes a column name; "user" is a keyword of PostgreSQL.
func quoteIdent(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// List returns the rows that f selects, newest first (by created_at, then id), at most
// f.Limit of them (DefaultLimit when 0). The bodies are left out: Export reads them.
//
// The order is that of the created_at indexes, ix_accesslog_created_at and, with f.Model,
// ix_accesslog_model_created_at, so the newest rows are found without sorting the others.
func List(ctx context.Context, db *sql.DB, d Dialect, f Filter) ([]Row, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	var out []Row
	err := scanRows(ctx, db, d, f, summaryColumns, nil, "created_at DESC, id DESC", limit, func(r Row) error {
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("logquery: list: %w", err)
	}
	return out, nil
}

// Export calls fn with every row that f selects, oldest first (by created_at, then id: the
// reverse of List), with every column, the custom ones in Extra, up to f.Limit rows when it
// is set. Rows are read one at a time from the database, never all held in memory. An error
// from fn stops the export and is returned as it is.
func Export(ctx context.Context, db *sql.DB, d Dialect, f Filter, fn func(Row) error) error {
	if db == nil {
		return errNoDB
	}
	extra, err := extraColumns(ctx, db, d)
	if err != nil {
		return fmt.Errorf("logquery: export: %w", err)
	}
	var fnErr error
	err = scanRows(ctx, db, d, f, len(Columns), extra, "created_at, id", max(f.Limit, 0), func(r Row) error {
		fnErr = fn(r)
		return fnErr
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return fmt.Errorf("logquery: export: %w", err)
	}
	return nil
}

// LastID returns the largest id of the access log, 0 when it is empty.
func LastID(ctx context.Context, db *sql.DB) (int64, error) {
	if db == nil {
		return 0, errNoDB
	}
	var id sql.NullInt64
	if err := db.QueryRowContext(ctx, "SELECT MAX(id) FROM accesslog").Scan(&id); err != nil {
		return 0, fmt.Errorf("logquery: last id: %w", err)
	}
	return id.Int64, nil
}

// FollowBatch is the most rows Follow reads in one query; a longer backlog takes several.
const FollowBatch = 500

// Follow calls fn, oldest first, with each row that f selects as it is written, polling the
// database every interval (500ms when 0) until ctx ends, when it returns ctx's error. It
// starts after f.AfterID, or, when that is 0, after the last row written when it is called.
// f.Limit is ignored.
//
// Rows are told apart by id. A SQLite file has one writer, so ids grow in the order rows
// become visible. On PostgreSQL several proxy instances take ids from one sequence and commit
// in any order: a batch that commits after a later one, with smaller ids, is not reported.
func Follow(ctx context.Context, db *sql.DB, d Dialect, f Filter, interval time.Duration, fn func(Row) error) error {
	if db == nil {
		return errNoDB
	}
	if interval <= 0 {
		interval = 500 * time.Millisecond
	}
	if f.AfterID <= 0 {
		last, err := LastID(ctx, db)
		if err != nil {
			return err
		}
		f.AfterID = last
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n := 0
		var fnErr error
		err := scanRows(ctx, db, d, f, summaryColumns, nil, "id", FollowBatch, func(r Row) error {
			n++
			f.AfterID = r.ID
			fnErr = fn(r)
			return fnErr
		})
		if fnErr != nil {
			return fnErr
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("logquery: follow: %w", err)
		}
		if n == FollowBatch {
			continue // more are waiting
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// scanRows runs the SELECT of the first n Columns and the extra ones over the rows f
// selects, in order, up to limit rows when it is positive, and calls fn with each.
func scanRows(ctx context.Context, db *sql.DB, d Dialect, f Filter, n int, extra []string, order string, limit int, fn func(Row) error) error {
	if db == nil {
		return errNoDB
	}
	q := query{d: d}
	if err := q.filter(f); err != nil {
		return err
	}
	text := "SELECT " + selectList(n, extra) + " FROM accesslog" + q.whereClause() + " ORDER BY " + order
	if limit > 0 {
		text += " LIMIT " + strconv.Itoa(limit)
	}
	rows, err := db.QueryContext(ctx, text, q.args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var s rowScan
	for rows.Next() {
		r, err := s.scan(rows, n, extra)
		if err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// rowScan holds the destinations of one row's values, reused from row to row.
type rowScan struct {
	created                                        any
	id, status, prompt, completion, cached, reason sql.NullInt64
	stream, estimated                              sql.NullBool
	cost, rt, rtAPI, ttft                          sql.NullFloat64
	reqID, dir, prov, endpoint, model, user, key   sql.NullString
	upID, content, fcall, tools                    sql.NullString
	body, headers, upBody, chunks                  sql.NullString
	dest                                           []any
	extraVals                                      []any
}

// scan reads one row of the first n Columns and the extra ones.
func (s *rowScan) scan(rows *sql.Rows, n int, extra []string) (Row, error) {
	if s.dest == nil {
		s.dest = []any{&s.id, &s.created, &s.reqID, &s.dir, &s.status, &s.prov, &s.endpoint,
			&s.stream, &s.model, &s.user, &s.key, &s.upID, &s.prompt, &s.completion, &s.cached,
			&s.reason, &s.estimated, &s.cost, &s.rt, &s.rtAPI, &s.ttft, &s.content, &s.fcall,
			&s.tools, &s.body, &s.headers, &s.upBody, &s.chunks}
	}
	dest := s.dest[:n:n]
	if len(extra) > 0 {
		s.extraVals = make([]any, len(extra))
		for i := range s.extraVals {
			dest = append(dest, &s.extraVals[i])
		}
	}
	if err := rows.Scan(dest...); err != nil {
		return Row{}, err
	}
	r := Row{
		ID:                s.id.Int64,
		CreatedAt:         asTime(s.created),
		RequestID:         s.reqID.String,
		Direction:         s.dir.String,
		StatusCode:        int(s.status.Int64),
		Provider:          s.prov.String,
		Endpoint:          s.endpoint.String,
		Stream:            s.stream.Bool,
		Model:             s.model.String,
		User:              s.user.String,
		ClientKey:         s.key.String,
		UpstreamRequestID: s.upID.String,
		PromptTokens:      int(s.prompt.Int64),
		CompletionTokens:  int(s.completion.Int64),
		CachedTokens:      int(s.cached.Int64),
		ReasoningTokens:   int(s.reason.Int64),
		TokensEstimated:   s.estimated.Bool,
		CostUSD:           s.cost.Float64,
		RequestTime:       s.rt.Float64,
		RequestTimeAPI:    s.rtAPI.Float64,
		TimeToFirstToken:  s.ttft.Float64,
		Content:           s.content.String,
		FunctionCall:      s.fcall.String,
		ToolCalls:         s.tools.String,
	}
	if n > summaryColumns {
		r.RawBody, r.RawHeaders, r.UpstreamBody, r.ChunkTimes = s.body.String, s.headers.String, s.upBody.String, s.chunks.String
	}
	if len(extra) > 0 {
		r.Extra = make(map[string]any, len(extra))
		for i, name := range extra {
			v := s.extraVals[i]
			if b, ok := v.([]byte); ok {
				v = string(b)
			}
			r.Extra[name] = v
		}
	}
	return r, nil
}

// timeLayouts are the spellings of created_at read from SQLite: the store's, then the ISO 8601
// variants that other programs write.
var timeLayouts = []string{
	accesslog.TimeLayout,
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999-07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04",
	"2006-01-02",
}

// asTime reads created_at as either database returns it; what it cannot read is the zero time.
func asTime(v any) time.Time {
	var s string
	switch x := v.(type) {
	case time.Time:
		return x.UTC()
	case string:
		s = x
	case []byte:
		s = string(x)
	default:
		return time.Time{}
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// extraColumns returns the names of the table's columns that are not built in, in table order.
func extraColumns(ctx context.Context, db *sql.DB, d Dialect) ([]string, error) {
	text := "SELECT name FROM pragma_table_info('accesslog') ORDER BY cid"
	if d == Postgres {
		// The table the search_path finds, as the store resolves it.
		text = `SELECT attname FROM pg_attribute WHERE attrelid = 'accesslog'::regclass
AND attnum > 0 AND NOT attisdropped ORDER BY attnum`
	}
	rows, err := db.QueryContext(ctx, text)
	if err != nil {
		return nil, fmt.Errorf("read columns: %w", err)
	}
	defer rows.Close()
	builtin := make(map[string]bool, len(Columns))
	for _, c := range Columns {
		builtin[c] = true
	}
	var extra []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("read columns: %w", err)
		}
		if !builtin[strings.ToLower(name)] {
			extra = append(extra, name)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read columns: %w", err)
	}
	return extra, nil
}
