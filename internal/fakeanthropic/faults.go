package fakeanthropic

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/aiproxy-go/aiproxy/internal/fakefault"
)

// The request headers that shape a fake's reply. The proxy forwards headers
// it does not know, so a test sets them on the client's request.
const (
	// HeaderStatus makes the fake answer this status (400 to 599) with the
	// error body the real API sends for it: 429 is a rate_limit_error with
	// retry-after, 529 an overloaded_error.
	HeaderStatus = fakefault.HeaderStatus
	// HeaderRetryAfter is the delay in seconds that a 429 asks for; 1 when
	// absent.
	HeaderRetryAfter = fakefault.HeaderRetryAfter
	// HeaderDelay is a wait before the reply's headers, as a Go duration
	// ("200ms") or a number of milliseconds.
	HeaderDelay = fakefault.HeaderDelay
	// HeaderChunkDelay is a wait between two events of a stream, as
	// HeaderDelay.
	HeaderChunkDelay = fakefault.HeaderChunkDelay
	// HeaderCutAfter makes the fake send N events of a stream (N bytes of a
	// reply that is not a stream) and then abort the connection, so the
	// client sees an unexpected EOF. A reply of N events or fewer is whole.
	HeaderCutAfter = fakefault.HeaderCutAfter
	// HeaderStreamError makes the fake send N events of a stream and then
	// an "event: error" with an overloaded_error, as the real API does when
	// it fails after the 200; the stream then ends cleanly.
	HeaderStreamError = "X-Fake-Stream-Error"
	// HeaderChunks is the number of deltas a text or thinking block is cut
	// into (5 when absent); the text is padded with "." when it has fewer
	// characters. Tool inputs are cut into as many input_json_delta
	// fragments.
	HeaderChunks = fakefault.HeaderChunks
	// HeaderToolCalls makes the assistant answer with this many tool_use
	// blocks, using the request's tools in turn. Without it, a request that
	// has tools and whose last user text contains "use tools" gets one call
	// per tool.
	HeaderToolCalls = fakefault.HeaderToolCalls
	// HeaderReply replaces the text of the assistant's reply. With tool
	// calls, it is sent as a text block before them.
	HeaderReply = fakefault.HeaderReply
	// HeaderCacheReadTokens sets cache_read_input_tokens, at most the prompt.
	HeaderCacheReadTokens = "X-Fake-Cache-Read-Tokens"
	// HeaderCacheCreationTokens sets cache_creation_input_tokens, at most
	// what the cache read left of the prompt.
	HeaderCacheCreationTokens = "X-Fake-Cache-Creation-Tokens"
)

// faults is what the x-fake-* headers of one request ask for.
type faults struct {
	fakefault.Faults
	retryAfter    float64 // seconds
	streamError   int     // -1 when absent
	cacheRead     int
	cacheCreation int
}

// parse reads the x-fake-* headers. A header whose value cannot be read is
// an error, so that a mistake in a test does not go unnoticed.
func (f *faults) parse(h http.Header) error {
	*f = faults{Faults: fakefault.New(5), retryAfter: 1, streamError: -1}
	p := fakefault.NewParser(h)
	f.Read(p)
	p.Int(HeaderStreamError, &f.streamError, 0)
	p.Int(HeaderCacheReadTokens, &f.cacheRead, 0)
	p.Int(HeaderCacheCreationTokens, &f.cacheCreation, 0)
	p.Seconds(HeaderRetryAfter, &f.retryAfter)
	if err := p.Err(); err != nil {
		return err
	}
	return f.CheckStatus()
}

// errorFor returns the error type and message the real API sends with a
// status.
func errorFor(status int) (typ, message string) {
	switch status {
	case http.StatusBadRequest:
		return "invalid_request_error", "Invalid request (injected by x-fake-status)."
	case http.StatusUnauthorized:
		return "authentication_error", "invalid x-api-key"
	case http.StatusPaymentRequired:
		return "billing_error", "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."
	case http.StatusForbidden:
		return "permission_error", "Your API key does not have permission to use the specified resource."
	case http.StatusNotFound:
		return "not_found_error", "The requested resource could not be found."
	case http.StatusRequestEntityTooLarge:
		return "request_too_large", "Request exceeds the maximum allowed number of bytes."
	case http.StatusTooManyRequests:
		return "rate_limit_error", "This request would exceed the rate limit for your organization of 50 requests per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits. You can see the response headers for current usage. Please reduce the prompt length or the maximum tokens requested, or try again later."
	case http.StatusInternalServerError:
		return "api_error", "Internal server error"
	case http.StatusGatewayTimeout:
		return "timeout_error", "Request timed out"
	case 529:
		return "overloaded_error", "Overloaded"
	}
	if status >= 500 {
		return "api_error", http.StatusText(status) + " (injected by x-fake-status)."
	}
	return "invalid_request_error", http.StatusText(status) + " (injected by x-fake-status)."
}

// writeStatusError answers an injected status with the real API's error.
func (x *exchange) writeStatusError(status int) {
	if status == http.StatusTooManyRequests {
		h := x.w.Header()
		h["Retry-After"] = []string{strconv.FormatFloat(math.Ceil(x.f.retryAfter), 'f', -1, 64)}
		h["Anthropic-Ratelimit-Requests-Limit"] = []string{"50"}
		h["Anthropic-Ratelimit-Requests-Remaining"] = []string{"0"}
		h["Anthropic-Ratelimit-Requests-Reset"] = []string{time.Now().UTC().Add(time.Duration(x.f.retryAfter * float64(time.Second))).Format(time.RFC3339)}
	}
	typ, msg := errorFor(status)
	x.writeError(status, typ, msg)
}

// errorBody returns the real API's error shape:
// {"type":"error","error":{"type":…,"message":…},"request_id":…}.
func errorBody(typ, message, requestID string) []byte {
	b := make([]byte, 0, 96+len(message))
	b = append(b, `{"type":"error","error":{"type":`...)
	b = appendString(b, typ)
	b = append(b, `,"message":`...)
	b = appendString(b, message)
	b = append(b, `},"request_id":`...)
	b = appendString(b, requestID)
	return append(b, '}')
}

// writeError sends an error body with its status.
func (x *exchange) writeError(status int, typ, message string) {
	x.writeJSON(status, errorBody(typ, message, x.requestID))
}
