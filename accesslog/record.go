// Package accesslog holds the access-log record, the bounded batching writer that stores records
// off the request path, and the Store interface with its SQLite and PostgreSQL implementations.
//
// A Record is captured by the proxy at the moment of each event (request received, response
// finished, error) and is immutable from then on: it holds bytes, not shared objects. The
// parsing a row needs (content, tool calls, usage, token estimates) happens later in the
// writer goroutine through the Writer's Enrich hook.
//
// The Writer loses nothing it accepted. With a spill directory (WriterOptions.SpillDir), a
// record that finds the queue full, or a batch that the database refuses (it is down), goes to
// an append-only local spill file instead of blocking the request or being dropped; the writer
// probes the database with backoff and replays the spill once it answers, and a spill left by
// a crash or by a Close deadline is replayed at the next start. Every batch is stored under a
// random id recorded in the accesslog_batches table in the same transaction, so that a batch
// stored again (a retry after a commit whose acknowledgement was lost, or a replay) is skipped
// instead of duplicated.
package accesslog

import (
	"net/http"
	"time"
)

// Directions of a Record.
const (
	DirectionRequest  = "request"
	DirectionResponse = "response"
	DirectionError    = "error"
)

// Record is one row of the access log: one event of one exchange.
//
// Fields that name a column are stored as they are. The proxy fills the captured fields
// (ids, times, bodies, headers, status); the writer's Enrich hook fills the derived ones
// (Content, ToolCalls, FunctionCall, Model, token counts) from the captured bytes before the
// record is stored.
type Record struct {
	ID        int64     // id, assigned by the store
	RequestID string    // request_id, the x-aiproxy-request-id of the exchange
	CreatedAt time.Time // created_at, UTC time of the event
	Direction string    // direction: request, response or error

	StatusCode int    // status_code sent to the client (response and error rows)
	Provider   string // provider name, e.g. "openai"
	Endpoint   string // endpoint below the provider's API root, e.g. "/chat/completions"
	Stream     bool   // stream: the client asked for a stream

	Content      string // request: last user text; response: assistant text; error: the message
	FunctionCall string // function_call as JSON, "" when none
	ToolCalls    string // tool_calls as a JSON array, "" when none

	RawBody      []byte      // raw_body: request row, the client's body; response row, the body received
	RawHeaders   http.Header // raw_headers, credentials already masked
	UpstreamBody []byte      // upstream_body: request row, the body sent upstream when it differs from RawBody

	Model string // model asked for (request) or answered (response)
	User  string // user field of the request, or the client key's name

	ClientKey         string // client_key: name of the client key used
	UpstreamRequestID string // upstream_request_id, e.g. OpenAI's x-request-id

	PromptTokens     int  // prompt_tokens
	CompletionTokens int  // completion_tokens
	CachedTokens     int  // cached_tokens
	ReasoningTokens  int  // reasoning_tokens
	TokensEstimated  bool // tokens_estimated: true only where no provider count existed

	CostUSD float64 // cost_usd; 0 when unknown

	RequestTime      float64   // request_time, seconds, whole exchange
	RequestTimeAPI   float64   // request_time_api, seconds, the upstream part
	TimeToFirstToken float64   // time_to_first_token, seconds, streams only
	ChunkTimes       []float64 // chunk_times, each chunk's arrival offset in ms from the exchange start

	// RequestBody is, on response and error rows, the body that was sent upstream. It is not
	// stored on those rows; the Enrich hook uses it, for example to estimate prompt tokens
	// when the provider reported none.
	RequestBody []byte

	// Extra holds the values of custom columns, computed by the writer from Column.Value.
	Extra map[string]any
}
