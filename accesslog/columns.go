package accesslog

import (
	"bytes"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"
)

// TimeLayout is how created_at is stored: UTC, microseconds, the spelling the original Python
// AIProxy (SQLAlchemy) wrote. It sorts as text and SQLite's date functions read it.
const TimeLayout = "2006-01-02 15:04:05.000000"

// insertColumns are the built-in columns in the order Insert binds them; id is assigned by the
// database. The first fourteen are the original AIProxy's.
var insertColumns = []string{
	"request_id", "created_at", "direction", "status_code", "content", "function_call",
	"tool_calls", "raw_body", "raw_headers", "model", "prompt_tokens", "completion_tokens",
	"request_time", "request_time_api",
	"provider", "endpoint", "stream", "user", "client_key", "upstream_request_id",
	"time_to_first_token", "cached_tokens", "reasoning_tokens", "tokens_estimated", "cost_usd",
	"chunk_times", "upstream_body",
}

// isBuiltinColumn reports whether name, in any case, is a built-in column other than id.
func isBuiltinColumn(name string) bool {
	return slices.ContainsFunc(insertColumns, func(c string) bool { return strings.EqualFold(c, name) })
}

// identPattern is a portable SQL identifier that needs no quoting rules beyond double quotes.
var identPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// validateColumns checks the custom columns' names and types and returns a copy with the
// default type (Text) filled in.
func validateColumns(cols []Column) ([]Column, error) {
	var out []Column
	seen := make(map[string]bool, len(cols))
	for _, c := range cols {
		if !identPattern.MatchString(c.Name) {
			return nil, fmt.Errorf("custom column %q: a name is a letter or underscore followed by at most 62 letters, digits or underscores", c.Name)
		}
		low := strings.ToLower(c.Name)
		if low == "id" || isBuiltinColumn(low) {
			return nil, fmt.Errorf("custom column %q: the name is taken by a built-in column", c.Name)
		}
		if seen[low] {
			return nil, fmt.Errorf("custom column %q: declared twice", c.Name)
		}
		seen[low] = true
		switch t := ColumnType(strings.ToUpper(string(c.Type))); t {
		case "":
			c.Type = Text
		case Text, Integer, Real:
			c.Type = t
		default:
			return nil, fmt.Errorf("custom column %q: unknown type %q (want TEXT, INTEGER or REAL)", c.Name, c.Type)
		}
		out = append(out, c)
	}
	return out, nil
}

// quoteIdent quotes a validated identifier; "user", for one, is a keyword in PostgreSQL.
func quoteIdent(name string) string { return `"` + name + `"` }

// insertSQL is the INSERT of one row of the built-in and the custom columns.
func insertSQL(cols []Column) string {
	var b strings.Builder
	b.WriteString("INSERT INTO accesslog (")
	for i, c := range insertColumns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quoteIdent(c))
	}
	for _, c := range cols {
		b.WriteString(", ")
		b.WriteString(quoteIdent(c.Name))
	}
	b.WriteString(") VALUES (")
	b.WriteString(strings.Repeat("?, ", len(insertColumns)+len(cols)-1))
	b.WriteString("?)")
	return b.String()
}

// selectSQL selects id, the built-in columns in insertColumns order, then the extra columns.
func selectSQL(extra []string) string {
	var b strings.Builder
	b.WriteString("SELECT id")
	for _, c := range insertColumns {
		b.WriteString(", ")
		b.WriteString(quoteIdent(c))
	}
	for _, c := range extra {
		b.WriteString(", ")
		b.WriteString(quoteIdent(c))
	}
	b.WriteString(" FROM accesslog")
	return b.String()
}

// rowArgs builds the values of rows for insertSQL, reusing its buffers from one row to the
// next. The zero value is ready to use.
type rowArgs struct {
	args []any
	keys []string // header names, sorted
	buf  []byte   // JSON being encoded
}

// appendInsertArgs returns the values of one row in insertSQL's column order, in a slice
// that the next call overwrites.
//
// Zero values that mean "none" or "unknown" are stored as NULL, so that SQL aggregates skip
// them: empty strings and bodies, a zero status, zero times and cost, no chunk times. Token
// counts are stored as they are, since zero is a count.
func (a *rowArgs) appendInsertArgs(r *Record, cols []Column) []any {
	a.args = append(a.args[:0],
		r.RequestID,
		timeArg(r.CreatedAt),
		nullString(r.Direction),
		nullInt(r.StatusCode),
		nullString(r.Content),
		nullString(r.FunctionCall),
		nullString(r.ToolCalls),
		nullBytes(r.RawBody),
		a.headersArg(r.RawHeaders),
		nullString(r.Model),
		int64(r.PromptTokens),
		int64(r.CompletionTokens),
		nullFloat(r.RequestTime),
		nullFloat(r.RequestTimeAPI),
		nullString(r.Provider),
		nullString(r.Endpoint),
		r.Stream,
		nullString(r.User),
		nullString(r.ClientKey),
		nullString(r.UpstreamRequestID),
		nullFloat(r.TimeToFirstToken),
		int64(r.CachedTokens),
		int64(r.ReasoningTokens),
		r.TokensEstimated,
		nullFloat(r.CostUSD),
		a.chunkTimesArg(r.ChunkTimes),
		nullBytes(r.UpstreamBody),
	)
	for _, c := range cols {
		a.args = append(a.args, customArg(r.Extra[c.Name]))
	}
	return a.args
}

func timeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(TimeLayout)
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// nullBytes binds a body as TEXT, byte for byte: invalid UTF-8 is kept as it is.
//
// The string shares the body's bytes instead of copying them. That is safe because a
// Record's bytes do not change once it is written, and because modernc.org/sqlite copies
// every TEXT value into SQLite's own memory as it binds it (conn.bindText, libc.CString):
// nothing reads the string after the statement's Exec returns. A []byte would bind as a BLOB
// instead, which changes what typeof() and the readers of the database see.
func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

func nullInt(n int) any {
	if n == 0 {
		return nil
	}
	return int64(n)
}

func nullFloat(f float64) any {
	if f == 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return f
}

// headersArg encodes headers for SQLite as appendHeadersJSON does.
func (a *rowArgs) headersArg(h http.Header) any {
	if len(h) == 0 {
		return nil
	}
	a.buf, a.keys = appendHeadersJSON(a.buf[:0], a.keys[:0], h)
	return string(a.buf)
}

// appendHeadersJSON appends headers as a JSON object of name to value, several values joined
// by ", ", with the names sorted: what encoding/json makes of a map[string]string without
// HTML escaping, which is how the rows written so far were made. keys is scratch space,
// returned for reuse.
func appendHeadersJSON(b []byte, keys []string, h http.Header) ([]byte, []string) {
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':', '"')
		for j, v := range h[k] {
			if j > 0 {
				b = append(b, ", "...)
			}
			b = appendJSONStringBody(b, v)
		}
		b = append(b, '"')
	}
	return append(b, '}'), keys
}

// appendJSONString appends s as a JSON string, as encoding/json spells it without HTML
// escaping.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendJSONStringBody(b, s)
	return append(b, '"')
}

// appendJSONStringBody appends s as the inside of a JSON string. Header names and values are
// printable ASCII nearly always, which needs no escaping; anything else is left to
// encoding/json's own rules (control characters, invalid UTF-8, U+2028 and U+2029).
func appendJSONStringBody(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c >= utf8.RuneSelf || c == '"' || c == '\\' {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.Encode(s) // a string always encodes, as "...", and a newline
			q := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
			return append(b, q[1:len(q)-1]...)
		}
	}
	return append(b, s...)
}

// chunkTimesArg encodes chunk offsets as a JSON array of milliseconds; a non-finite value,
// which JSON cannot spell, becomes null.
func (a *rowArgs) chunkTimesArg(ts []float64) any {
	if len(ts) == 0 {
		return nil
	}
	b := append(a.buf[:0], '[')
	for i, t := range ts {
		if i > 0 {
			b = append(b, ',')
		}
		if math.IsNaN(t) || math.IsInf(t, 0) {
			b = append(b, "null"...)
			continue
		}
		b = strconv.AppendFloat(b, t, 'f', -1, 64)
	}
	b = append(b, ']')
	a.buf = b
	return string(b)
}

// customArg makes a custom column's value bindable: what database/sql cannot bind (a map, a
// struct, a slice other than []byte) is stored as its JSON, so that one odd value never fails
// a whole batch.
func customArg(v any) any {
	if v == nil {
		return nil
	}
	if _, ok := v.(driver.Valuer); ok {
		return v
	}
	if dv, err := driver.DefaultParameterConverter.ConvertValue(v); err == nil {
		return dv
	}
	if b, err := json.Marshal(v); err == nil {
		return string(b)
	}
	return fmt.Sprint(v)
}

// scanRecord reads one row of selectSQL(extra).
func scanRecord(rows *sql.Rows, extra []string) (*Record, error) {
	vals := make([]any, 1+len(insertColumns)+len(extra))
	ptrs := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	v := vals[1:] // in insertColumns order
	r := &Record{
		ID:                asInt64(vals[0]),
		RequestID:         asString(v[0]),
		CreatedAt:         asTime(v[1]),
		Direction:         asString(v[2]),
		StatusCode:        int(asInt64(v[3])),
		Content:           asString(v[4]),
		FunctionCall:      asString(v[5]),
		ToolCalls:         asString(v[6]),
		RawBody:           asBytes(v[7]),
		RawHeaders:        asHeaders(v[8]),
		Model:             asString(v[9]),
		PromptTokens:      int(asInt64(v[10])),
		CompletionTokens:  int(asInt64(v[11])),
		RequestTime:       asFloat(v[12]),
		RequestTimeAPI:    asFloat(v[13]),
		Provider:          asString(v[14]),
		Endpoint:          asString(v[15]),
		Stream:            asBool(v[16]),
		User:              asString(v[17]),
		ClientKey:         asString(v[18]),
		UpstreamRequestID: asString(v[19]),
		TimeToFirstToken:  asFloat(v[20]),
		CachedTokens:      int(asInt64(v[21])),
		ReasoningTokens:   int(asInt64(v[22])),
		TokensEstimated:   asBool(v[23]),
		CostUSD:           asFloat(v[24]),
		ChunkTimes:        asChunkTimes(v[25]),
		UpstreamBody:      asBytes(v[26]),
	}
	for i, name := range extra {
		x := vals[1+len(insertColumns)+i]
		if x == nil {
			continue
		}
		if r.Extra == nil {
			r.Extra = make(map[string]any, len(extra))
		}
		r.Extra[name] = x
	}
	return r, nil
}

// The as* functions read a column whatever SQLite's dynamic typing put in it (rows written by
// other programs included); NULL and anything unreadable give the zero value.

func asString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case time.Time:
		return x.UTC().Format(TimeLayout)
	}
	return ""
}

func asBytes(v any) []byte {
	switch x := v.(type) {
	case string:
		if x == "" {
			return nil
		}
		return []byte(x)
	case []byte:
		if len(x) == 0 {
			return nil
		}
		return x // database/sql already copied it for the *any destination
	}
	return nil
}

func asInt64(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case float64:
		return int64(x)
	case bool:
		if x {
			return 1
		}
	case string:
		n, _ := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		return n
	case []byte:
		n, _ := strconv.ParseInt(strings.TrimSpace(string(x)), 10, 64)
		return n
	}
	return 0
}

func asFloat(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case int64:
		return float64(x)
	case string:
		f, _ := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f
	case []byte:
		f, _ := strconv.ParseFloat(strings.TrimSpace(string(x)), 64)
		return f
	}
	return 0
}

func asBool(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case int64:
		return x != 0
	case float64:
		return x != 0
	case string:
		b, _ := strconv.ParseBool(strings.TrimSpace(x))
		return b
	}
	return false
}

// timeLayouts are the spellings of created_at accepted on read: ours, then ISO 8601 variants.
var timeLayouts = []string{
	TimeLayout,
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999-07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04",
	"2006-01-02",
}

func asTime(v any) time.Time {
	switch x := v.(type) {
	case time.Time:
		return x.UTC()
	case string:
		for _, l := range timeLayouts {
			if t, err := time.Parse(l, x); err == nil {
				return t.UTC()
			}
		}
	case int64:
		return time.Unix(x, 0).UTC()
	}
	return time.Time{}
}

func asHeaders(v any) http.Header {
	s := asString(v)
	if s == "" {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil || len(m) == 0 {
		return nil
	}
	h := make(http.Header, len(m))
	for k, x := range m {
		if str, ok := x.(string); ok {
			h[k] = []string{str}
		} else {
			h[k] = []string{fmt.Sprint(x)}
		}
	}
	return h
}

func asChunkTimes(v any) []float64 {
	s := asString(v)
	if s == "" {
		return nil
	}
	var ts []float64
	if err := json.Unmarshal([]byte(s), &ts); err != nil || len(ts) == 0 {
		return nil
	}
	return ts
}
