package dashboard

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/aiproxy-go/aiproxy/accesslog"
)

// LogRow is one row of the log browser and the live tail: every column but the bodies and
// headers, and the first contentPreview characters of content.
type LogRow struct {
	ID               int64   `json:"id"`
	RequestID        string  `json:"request_id"`
	CreatedAt        string  `json:"created_at"` // UTC, accesslog.TimeLayout
	Direction        string  `json:"direction"`
	StatusCode       int     `json:"status_code,omitempty"`
	Provider         string  `json:"provider,omitempty"`
	Endpoint         string  `json:"endpoint,omitempty"`
	Stream           bool    `json:"stream"`
	Model            string  `json:"model,omitempty"`
	User             string  `json:"user,omitempty"`
	ClientKey        string  `json:"client_key,omitempty"`
	PromptTokens     int64   `json:"prompt_tokens"`
	CompletionTokens int64   `json:"completion_tokens"`
	CostUSD          float64 `json:"cost_usd"`
	RequestTime      float64 `json:"request_time,omitempty"`
	TimeToFirstToken float64 `json:"time_to_first_token,omitempty"`
	Content          string  `json:"content,omitempty"`
}

// contentPreview is how many characters of content a LogRow carries.
const contentPreview = 200

// logColumns are what scanLogRow reads, in order.
const logColumns = `id, request_id, created_at, COALESCE(direction, ''), COALESCE(status_code, 0),
COALESCE(provider, ''), COALESCE(endpoint, ''), COALESCE(stream, FALSE), COALESCE(model, ''),
COALESCE("user", ''), COALESCE(client_key, ''), COALESCE(prompt_tokens, 0), COALESCE(completion_tokens, 0),
COALESCE(cost_usd, 0), COALESCE(request_time, 0), COALESCE(time_to_first_token, 0),
COALESCE(substr(content, 1, 200), '')`

func scanLogRow(rows *sql.Rows) (LogRow, error) {
	var r LogRow
	var created any
	err := rows.Scan(&r.ID, &r.RequestID, &created, &r.Direction, &r.StatusCode, &r.Provider, &r.Endpoint,
		&r.Stream, &r.Model, &r.User, &r.ClientKey, &r.PromptTokens, &r.CompletionTokens, &r.CostUSD,
		&r.RequestTime, &r.TimeToFirstToken, &r.Content)
	r.CreatedAt = timeText(created)
	return r, err
}

// LogPage is the answer of /api/logs: rows newest first, and the before_id of the next page
// (0 when this is the last).
type LogPage struct {
	Rows       []LogRow `json:"rows"`
	NextBefore int64    `json:"next_before_id,omitempty"`
}

const (
	defaultLogLimit = 50
	maxLogLimit     = 500
)

// logs answers /api/logs.
func (h *Handler) logs(r *http.Request) (any, error) {
	q := r.URL.Query()
	w := &where{d: h.d}
	for _, name := range []string{"since", "until"} {
		if s := q.Get(name); s != "" {
			t, err := parseTime(s, h.opts.Now())
			if err != nil {
				return nil, badRequest("%s: %v", name, err)
			}
			op := ">="
			if name == "until" {
				op = "<"
			}
			w.add("created_at "+op+" ?", h.d.timeArg(t))
		}
	}
	for param, col := range map[string]string{"model": "model", "provider": "provider", "user": `"user"`, "client_key": "client_key", "request_id": "request_id"} {
		if v := q.Get(param); v != "" {
			w.add(col+" = ?", v)
		}
	}
	switch dir := q.Get("direction"); dir {
	case "":
		w.add(exchangeRows)
	case "all":
	case accesslog.DirectionRequest, accesslog.DirectionResponse, accesslog.DirectionError:
		w.add("direction = ?", dir)
	default:
		return nil, badRequest("direction: want request, response, error or all")
	}
	switch st := q.Get("status"); st {
	case "":
	case "ok":
		w.add("(status_code IS NULL OR status_code < 400)")
	case "error":
		w.add("status_code >= 400")
	case "4xx":
		w.add("status_code >= 400 AND status_code < 500")
	case "5xx":
		w.add("status_code >= 500")
	default:
		n, err := strconv.Atoi(st)
		if err != nil || n < 100 || n > 999 {
			return nil, badRequest("status: want ok, error, 4xx, 5xx or a status code")
		}
		w.add("status_code = ?", n)
	}
	if text := strings.TrimSpace(q.Get("q")); text != "" {
		// The text is searched in every row of an exchange (the prompt is on its request row),
		// and is also taken as a request id.
		like := "LIKE"
		if h.d.pg {
			like = "ILIKE"
		}
		w.add("(request_id = ? OR request_id IN (SELECT request_id FROM accesslog WHERE content "+like+
			" ? ESCAPE '\\'))", text, "%"+escapeLike(text)+"%")
	}
	if s := q.Get("before_id"); s != "" {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, badRequest("before_id: %v", err)
		}
		w.add("id < ?", id)
	}
	limit := defaultLogLimit
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return nil, badRequest("limit: want a positive number")
		}
		limit = min(n, maxLogLimit)
	}
	query := "SELECT " + logColumns + " FROM accesslog" + w.String() + fmt.Sprintf(" ORDER BY id DESC LIMIT %d", limit+1)
	rows, err := h.db.QueryContext(r.Context(), query, w.args...)
	if err != nil {
		return nil, fmt.Errorf("list logs: %w", err)
	}
	defer rows.Close()
	page := &LogPage{Rows: []LogRow{}}
	for rows.Next() {
		lr, err := scanLogRow(rows)
		if err != nil {
			return nil, fmt.Errorf("list logs: %w", err)
		}
		page.Rows = append(page.Rows, lr)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list logs: %w", err)
	}
	if len(page.Rows) > limit {
		page.Rows = page.Rows[:limit]
		page.NextBefore = page.Rows[limit-1].ID
	}
	return page, nil
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// DetailRow is one row of an exchange with everything it holds.
type DetailRow struct {
	LogRow
	Content           string              `json:"content,omitempty"`
	FunctionCall      string              `json:"function_call,omitempty"`
	ToolCalls         string              `json:"tool_calls,omitempty"`
	RawBody           string              `json:"raw_body,omitempty"`
	RawHeaders        map[string][]string `json:"raw_headers,omitempty"`
	UpstreamBody      string              `json:"upstream_body,omitempty"`
	UpstreamRequestID string              `json:"upstream_request_id,omitempty"`
	CachedTokens      int                 `json:"cached_tokens"`
	ReasoningTokens   int                 `json:"reasoning_tokens"`
	TokensEstimated   bool                `json:"tokens_estimated"`
	RequestTimeAPI    float64             `json:"request_time_api,omitempty"`
	ChunkTimes        []float64           `json:"chunk_times,omitempty"`
	Extra             map[string]any      `json:"extra,omitempty"`
}

// Detail is the answer of /api/logs/{request_id}: every row of one exchange, and the command
// that replays it through the proxy.
type Detail struct {
	RequestID string      `json:"request_id"`
	Rows      []DetailRow `json:"rows"`
	Replay    string      `json:"replay,omitempty"`
}

// logDetail answers /api/logs/{id}.
func (h *Handler) logDetail(r *http.Request) (any, error) {
	id := r.PathValue("id")
	d, err := h.detail(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if len(d.Rows) == 0 {
		return nil, &apiError{status: http.StatusNotFound, msg: fmt.Sprintf("no rows for request id %q", id)}
	}
	d.Replay = h.replayCommand(r, d)
	return d, nil
}

func (h *Handler) detail(ctx context.Context, id string) (*Detail, error) {
	recs, err := h.opts.Store.Records(ctx, id, "")
	if err != nil {
		return nil, fmt.Errorf("read request %q: %w", id, err)
	}
	d := &Detail{RequestID: id, Rows: []DetailRow{}}
	for _, rec := range recs {
		dr := DetailRow{
			LogRow: LogRow{
				ID: rec.ID, RequestID: rec.RequestID, CreatedAt: timeText(rec.CreatedAt), Direction: rec.Direction,
				StatusCode: rec.StatusCode, Provider: rec.Provider, Endpoint: rec.Endpoint, Stream: rec.Stream,
				Model: rec.Model, User: rec.User, ClientKey: rec.ClientKey,
				PromptTokens: int64(rec.PromptTokens), CompletionTokens: int64(rec.CompletionTokens),
				CostUSD: rec.CostUSD, RequestTime: rec.RequestTime, TimeToFirstToken: rec.TimeToFirstToken,
			},
			Content: rec.Content, FunctionCall: rec.FunctionCall, ToolCalls: rec.ToolCalls,
			RawBody: string(rec.RawBody), RawHeaders: rec.RawHeaders, UpstreamBody: string(rec.UpstreamBody),
			UpstreamRequestID: rec.UpstreamRequestID, CachedTokens: rec.CachedTokens,
			ReasoningTokens: rec.ReasoningTokens, TokensEstimated: rec.TokensEstimated,
			RequestTimeAPI: rec.RequestTimeAPI, ChunkTimes: rec.ChunkTimes, Extra: rec.Extra,
		}
		if rec.CreatedAt.IsZero() {
			dr.CreatedAt = ""
		}
		d.Rows = append(d.Rows, dr)
	}
	return d, nil
}

// replayCommand is a curl command that sends the exchange's request again with the replay
// header, so that the proxy's replay filter answers it with the logged response.
func (h *Handler) replayCommand(r *http.Request, d *Detail) string {
	var req *DetailRow
	for i := range d.Rows {
		if d.Rows[i].Direction == accesslog.DirectionRequest {
			req = &d.Rows[i]
			break
		}
	}
	if req == nil || req.Endpoint == "" {
		return ""
	}
	base := h.opts.ProxyURL
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	var b strings.Builder
	fmt.Fprintf(&b, "curl %s", shellQuote(strings.TrimSuffix(base, "/")+ProxyPath(req.Provider, req.Endpoint)))
	fmt.Fprintf(&b, " \\\n  -H %s", shellQuote("x-aiproxy-replay: "+d.RequestID))
	b.WriteString(" \\\n  -H 'content-type: application/json'")
	if req.RawBody != "" {
		fmt.Fprintf(&b, " \\\n  -d %s", shellQuote(req.RawBody))
	}
	return b.String()
}

// ProxyPath is the path a client calls for an endpoint of a provider with its default routes:
// "/v1" and the endpoint for "openai", the provider's name and the endpoint for the others.
func ProxyPath(provider, endpoint string) string {
	if !strings.HasPrefix(endpoint, "/") {
		endpoint = "/" + endpoint
	}
	if provider == "openai" || provider == "" {
		if strings.HasPrefix(endpoint, "/v1/") {
			return endpoint
		}
		return "/v1" + endpoint
	}
	return "/" + provider + endpoint
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
