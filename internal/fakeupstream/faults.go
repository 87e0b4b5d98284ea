package fakeupstream

import (
	"fmt"
	"math"
	"net/http"
	"strconv"

	"github.com/aiproxy-go/aiproxy/internal/fakefault"
)

// The request headers that shape a fake's reply. The proxy forwards headers
// it does not know, so a test sets them on the client's request and combines
// them freely.
const (
	// HeaderStatus makes the fake answer this status (400 or more) with an
	// OpenAI error body; 429 also sends Retry-After and retry-after-ms.
	HeaderStatus = fakefault.HeaderStatus
	// HeaderRetryAfter is the delay in seconds, possibly fractional, that a
	// 429 asks for; 1 when absent.
	HeaderRetryAfter = fakefault.HeaderRetryAfter
	// HeaderFailFirst makes only the first N requests carrying the same
	// HeaderKey fail; later ones succeed. The failure is what HeaderStatus,
	// HeaderTextError or HeaderCutAfter ask for, or a 500 when none is set.
	HeaderFailFirst = "X-Fake-Fail-First"
	// HeaderKey names the counter that HeaderFailFirst uses; requests
	// without it share one counter.
	HeaderKey = "X-Fake-Key"
	// HeaderDelay is a wait before the reply's headers, as a Go duration
	// ("200ms") or a number of milliseconds; it ends early if the client
	// goes away.
	HeaderDelay = fakefault.HeaderDelay
	// HeaderChunkDelay is a wait between two events of a stream, as
	// HeaderDelay.
	HeaderChunkDelay = fakefault.HeaderChunkDelay
	// HeaderCutAfter makes the fake send N events of a stream (N bytes of
	// a reply that is not a stream) and then abort the connection, so the
	// client sees an unexpected EOF. A reply of N events or fewer is whole.
	HeaderCutAfter = fakefault.HeaderCutAfter
	// HeaderTextError makes the fake answer this status with an HTML body,
	// as a load balancer in front of the API does.
	HeaderTextError = "X-Fake-Text-Error"
	// HeaderChunks is the number of content deltas in a stream (5 when
	// absent); the reply is padded with "." when it has fewer characters.
	// Tool call arguments are cut into as many fragments.
	HeaderChunks = fakefault.HeaderChunks
	// HeaderToolCalls makes a chat completion or response answer with this
	// many parallel tool calls. Without it, a request that has tools and
	// whose last user text contains "use tools" gets one call per tool.
	HeaderToolCalls = fakefault.HeaderToolCalls
	// HeaderCachedTokens sets the cached_tokens of the usage, at most the
	// prompt tokens.
	HeaderCachedTokens = fakefault.HeaderCachedTokens
	// HeaderReply replaces the whole text of the assistant's reply.
	HeaderReply = fakefault.HeaderReply
)

// faults is what the x-fake-* headers of one request ask for.
type faults struct {
	fakefault.Faults
	retryAfter   float64 // seconds
	failFirst    int     // -1 when absent
	key          string
	textError    int
	cachedTokens int
}

// parse reads the x-fake-* headers. A header with a value that cannot be
// read is an error, so that a mistake in a test does not go unnoticed.
func (f *faults) parse(h http.Header) error {
	*f = faults{Faults: fakefault.New(5), retryAfter: 1, failFirst: -1}
	p := fakefault.NewParser(h)
	f.Read(p)
	p.Int(HeaderFailFirst, &f.failFirst, 0)
	p.Int(HeaderTextError, &f.textError, 0)
	p.Int(HeaderCachedTokens, &f.cachedTokens, 0)
	p.Seconds(HeaderRetryAfter, &f.retryAfter)
	f.key, _ = p.String(HeaderKey)
	if f.Status != 0 && f.Status < 400 && f.Status != http.StatusOK {
		// 200 is accepted as "no fault"; other success statuses would give
		// a reply that no client expects.
		return fmt.Errorf("bad x-fake-status header %d: want 400 to 599", f.Status)
	}
	if f.Status == http.StatusOK {
		f.Status = 0
	}
	if f.Status > 599 || f.textError > 599 || (f.textError != 0 && f.textError < 400) {
		return fmt.Errorf("bad status in x-fake-status or x-fake-text-error: want 400 to 599")
	}
	return p.Err()
}

// failing reports whether the request asks for a failure of any kind.
func (f *faults) failing() bool {
	return f.Status != 0 || f.textError != 0 || f.CutAfter >= 0 || f.failFirst >= 0
}

// recover clears the failures, for a request past its x-fake-fail-first.
func (f *faults) recover() {
	f.Status, f.textError, f.CutAfter = 0, 0, -1
}

// apiError is an error as the real API sends it.
type apiError struct {
	message, typ, param, code string
}

// errorFor returns the error that the real API sends with a status.
func errorFor(status int) apiError {
	switch status {
	case http.StatusBadRequest:
		return apiError{"Invalid request (injected by x-fake-status).", "invalid_request_error", "", ""}
	case http.StatusUnauthorized:
		return apiError{"Incorrect API key provided: sk-****. You can find your API key at https://platform.openai.com/account/api-keys.", "invalid_request_error", "", "invalid_api_key"}
	case http.StatusForbidden:
		return apiError{"Country, region, or territory not supported", "request_forbidden", "", "unsupported_country_region_territory"}
	case http.StatusNotFound:
		return apiError{"The model `fake-model` does not exist or you do not have access to it.", "invalid_request_error", "", "model_not_found"}
	case http.StatusTooManyRequests:
		return apiError{"Rate limit reached for requests.", "requests", "", "rate_limit_exceeded"}
	case http.StatusInternalServerError:
		return apiError{"The server had an error while processing your request. Sorry about that!", "server_error", "", ""}
	case http.StatusServiceUnavailable:
		return apiError{"The server is overloaded or not ready yet.", "server_error", "", ""}
	}
	if status >= 500 {
		return apiError{http.StatusText(status) + " (injected by x-fake-status).", "server_error", "", ""}
	}
	return apiError{http.StatusText(status) + " (injected by x-fake-status).", "invalid_request_error", "", ""}
}

// writeStatusError answers an injected status with the real API's error.
func (x *exchange) writeStatusError(status int) {
	if status == http.StatusTooManyRequests {
		h := x.w.Header()
		h["Retry-After"] = []string{strconv.FormatFloat(math.Ceil(x.f.retryAfter), 'f', -1, 64)}
		h["Retry-After-Ms"] = []string{strconv.FormatFloat(math.Round(x.f.retryAfter*1000), 'f', -1, 64)}
		h["X-Ratelimit-Limit-Requests"] = []string{"3"}
		h["X-Ratelimit-Remaining-Requests"] = []string{"0"}
		h["X-Ratelimit-Reset-Requests"] = []string{strconv.FormatFloat(x.f.retryAfter, 'f', -1, 64) + "s"}
	}
	e := errorFor(status)
	if status == http.StatusTooManyRequests {
		e.message = "Rate limit reached for requests. Limit 3, Used 3, Requested 1. Please try again in " +
			strconv.FormatFloat(x.f.retryAfter, 'f', -1, 64) + "s. Visit https://platform.openai.com/account/rate-limits to learn more."
	}
	x.writeError(status, e.message, e.typ, e.param, e.code)
}

// writeError sends an error body shaped as the real API's, which indents
// with four spaces; empty param and code are null.
func (x *exchange) writeError(status int, message, typ, param, code string) {
	b := make([]byte, 0, 128+len(message))
	b = append(b, "{\n    \"error\": {\n        \"message\": "...)
	b = appendString(b, message)
	b = append(b, ",\n        \"type\": "...)
	b = appendString(b, typ)
	b = append(b, ",\n        \"param\": "...)
	b = appendStringOrNull(b, param)
	b = append(b, ",\n        \"code\": "...)
	b = appendStringOrNull(b, code)
	b = append(b, "\n    }\n}\n"...)
	x.writeJSON(status, b)
}

// writeTextError answers a status with the HTML page that a load balancer
// sends, not JSON.
func (x *exchange) writeTextError(status int) {
	text := strconv.Itoa(status) + " " + http.StatusText(status)
	body := "<html>\r\n<head><title>" + text + "</title></head>\r\n<body>\r\n<center><h1>" + text +
		"</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n"
	h := x.w.Header()
	h["Content-Type"] = []string{"text/html"}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	x.w.WriteHeader(status)
	_, _ = x.w.Write([]byte(body))
}
