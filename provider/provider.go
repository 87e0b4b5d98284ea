// Package provider defines the Provider interface that connects the proxy to one API family
// (OpenAI, Anthropic, Bedrock, Gemini, ...) and the provider-neutral types it exchanges with the
// proxy: the Request being proxied, a Reply to render in the provider's wire format, and the
// Summary of a body that the access log stores.
//
// A provider never touches the log store: the proxy asks it for Summaries in the log writer's
// goroutine, off the request path.
package provider

import (
	"context"
	"net/http"
)

// Provider serves one API family. Its methods are called concurrently and must not keep
// per-request state outside Request.State.
//
// The proxy calls, for each request: Match (routing), Parse (before the request filters),
// Prepare (after them), then NewStream when the upstream answered with a stream. Render and
// Error produce replies and errors in the provider's own wire format. SummarizeRequest and
// SummarizeResponse run later, in the log writer.
type Provider interface {
	// Name is the provider's name as logged in the provider column, e.g. "openai".
	Name() string

	// Match reports whether the provider serves the request, and the endpoint: the path below
	// the provider's API root, starting with "/" (for example "/chat/completions").
	Match(r *http.Request) (endpoint string, ok bool)

	// Parse fills req.Model, req.Stream and req.User from the client's request and validates
	// the body. A malformed body yields an *Error with status 400.
	Parse(req *Request) error

	// Prepare builds the upstream request for req as the filters left it: URL, the
	// provider's own credentials in place of the client's, signing. Prepare may change
	// req.Body (for example to ask upstream for stream usage); the body it returns is the one
	// logged as sent upstream.
	Prepare(ctx context.Context, req *Request) (*http.Request, error)

	// NewStream returns the framing of a streamed upstream response, or false when resp is
	// not a stream and is relayed as one body.
	NewStream(req *Request, resp *http.Response) (Stream, bool)

	// Render renders a reply as a complete response in the provider's wire format: a
	// complete body, or the whole event stream when req.Stream is set.
	Render(req *Request, reply *Reply) *Response

	// Error renders an error response in the provider's own error shape.
	Error(req *Request, e *Error) *Response

	// SummarizeRequest extracts what the log stores of a request body: model, user and the
	// last user text. It must not fail: what cannot be read is left empty.
	SummarizeRequest(endpoint string, body []byte) Summary

	// SummarizeResponse extracts what the log stores of a response body: the model that
	// answered, the assistant text, tool calls and usage. For streams body holds the raw
	// stream as received and the summary is rebuilt from its deltas. It must not fail.
	SummarizeResponse(endpoint string, body []byte, stream bool) Summary
}

// Request is one client request on its way upstream. Filters may change Header and Body; the
// proxy keeps its own copy of what the client sent for the log.
type Request struct {
	ID       string // the proxy's request id (x-aiproxy-request-id), for error bodies
	Method   string
	Endpoint string      // path below the provider's API root, e.g. "/chat/completions"
	RawQuery string      // query string of the client's request, without "?"
	Header   http.Header // headers to send upstream, hop-by-hop headers removed
	Body     []byte      // body to send upstream

	Model  string // model asked for, from the body (or the path, for some providers)
	Stream bool   // the client asked for a streamed response
	User   string // the request's user field, when it has one

	// State is the provider's own per-request state, kept between Prepare and NewStream.
	State any
}

// Stream frames a streamed response into events (SSE events, event-stream frames, ...) and
// decides what the client receives of each.
type Stream interface {
	// Split is a bufio.SplitFunc returning one complete event, terminator included, so that
	// the bytes relayed are exactly the bytes received.
	Split(data []byte, atEOF bool) (advance int, event []byte, err error)
	// Relay returns the bytes the client receives for one event: the event itself, a
	// rewrite of it, or nil to drop it. It must not keep event past the call.
	Relay(event []byte) []byte
}

// StreamCompletion is implemented by a Stream whose wire format marks its end (OpenAI's
// data: [DONE], Anthropic's message_stop). Complete reports whether that mark was relayed:
// a client that hangs up after it has the whole answer, as SDKs do, is then not logged as
// a client that went away.
type StreamCompletion interface {
	Complete() bool
}

// StreamText is implemented by a Stream whose events carry generated text, so that stream
// filters can read and rewrite each text delta as it passes. Both methods take an event as
// Relay returned it (the bytes the client receives) and must not keep it.
type StreamText interface {
	// EventText returns the generated text an event carries (a content delta), and false
	// when the event carries none (role, tool-call, usage and stop events).
	EventText(event []byte) (text string, ok bool)
	// SetEventText returns the event with its text replaced, in the same wire format; the
	// rest of the event is kept as it was.
	SetEventText(event []byte, text string) ([]byte, error)
}

// StreamErrorRenderer is implemented by providers that can end a stream already under way
// with an error in their own wire format (an SSE error event, an AWS exception frame), for
// a response filter that stops a stream midway.
type StreamErrorRenderer interface {
	StreamError(req *Request, e *Error) []byte
}

// Response is a complete HTTP response: rendered by a provider, or a non-streamed upstream
// response as seen by response filters.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Reply is an answer produced by the proxy itself (a filter, the replay) instead of the
// upstream. Either Body is set, and is sent as it is with Status and Header, or the provider
// renders Text, ToolCalls and Usage in its own format (streamed when the client streams).
type Reply struct {
	Text      string
	ToolCalls []ToolCall
	Usage     *Usage // nil renders zero usage
	Model     string // model named in the reply; "" uses the request's model

	Status int         // status for Body; 0 means 200
	Header http.Header // extra headers for Body
	Body   []byte      // a full body in the provider's wire format
}

// ToolCall is one tool (function) call of an assistant message.
type ToolCall struct {
	ID       string       `json:"id"`
	Type     string       `json:"type"` // "function"
	Function FunctionCall `json:"function"`
}

// FunctionCall is the name and JSON-encoded arguments of a called function.
type FunctionCall struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// Usage is the token usage of one exchange as the provider reported it.
type Usage struct {
	InputTokens     int // prompt tokens, cached ones included
	OutputTokens    int // completion tokens, reasoning ones included
	CachedTokens    int // input tokens read from the provider's cache
	ReasoningTokens int // output tokens spent on reasoning
}

// Summary is what the access log stores of one body.
type Summary struct {
	Model        string
	User         string
	Content      string        // request: last user text; response: assistant text
	FunctionCall *FunctionCall // legacy function_call of a response
	ToolCalls    []ToolCall    // tool calls of a response, in order
	Usage        *Usage        // nil when the body reported none
	// Text is all the text of a request that counts as prompt, for token estimation when
	// the provider reports no usage.
	Text string
	// Error is the message of an error body.
	Error string
}

// Error is an error the proxy answers itself, rendered by Provider.Error.
type Error struct {
	Status  int    // HTTP status
	Type    string // error type, e.g. "invalid_request_error"
	Code    string // machine-readable code, may be empty
	Message string // lowercase, without final punctuation
	Err     error  // the cause, not shown to the client
	// Header holds extra response headers sent with the error, such as Retry-After on a
	// 429 from a rate limit.
	Header http.Header
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// ModelSetter is implemented by providers that keep the model somewhere other than the
// body's top-level "model" field, such as the URL path (Bedrock, Gemini) or a deployment
// name (Azure). SetModel changes the model req asks for, including req.Model.
type ModelSetter interface {
	SetModel(req *Request, model string) error
}

// LogFormatter is implemented by providers whose wire format is not readable text (the AWS
// event-stream). The log writer stores LogBody's result as raw_body instead of the captured
// bytes, after the summaries were taken from the captured bytes.
type LogFormatter interface {
	LogBody(endpoint string, body []byte, stream bool) []byte
}

// StreamFailure is implemented by a Stream whose wire format can end a 200 response with an
// error of its own, such as an AWS event-stream exception frame. Once the stream was relayed
// whole, Failure returns that error, or nil; the proxy then logs the exchange as an error
// row with the error's status and message. The client received the stream as it came.
type StreamFailure interface {
	Failure() *Error
}
