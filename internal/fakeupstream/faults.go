package fakeupstream

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The request headers that shape a fake's reply. The proxy forwards headers
// it does not know, so a test sets them on the client's request and combines
// them freely.
const (
	// HeaderStatus makes the fake answer this status (400 or more) with an
	// OpenAI error body; 429 also sends Retry-After and retry-after-ms.
	HeaderStatus = "X-Fake-Status"
	// HeaderRetryAfter is the delay in seconds, possibly fractional, that a
	// 429 asks for; 1 when absent.
	HeaderRetryAfter = "X-Fake-Retry-After"
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
	HeaderDelay = "X-Fake-Delay"
	// HeaderChunkDelay is a wait between two events of a stream, as
	// HeaderDelay.
	HeaderChunkDelay = "X-Fake-Chunk-Delay"
	// HeaderCutAfter makes the fake send N events of a stream (N bytes of
	// a reply that is not a stream) and then abort the connection, so the
	// client sees an unexpected EOF. A reply of N events or fewer is whole.
	HeaderCutAfter = "X-Fake-Cut-After"
	// HeaderTextError makes the fake answer this status with an HTML body,
	// as a load balancer in front of the API does.
	HeaderTextError = "X-Fake-Text-Error"
	// HeaderChunks is the number of content deltas in a stream (5 when
	// absent); the reply is padded with "." when it has fewer characters.
	// Tool call arguments are cut into as many fragments.
	HeaderChunks = "X-Fake-Chunks"
	// HeaderToolCalls makes a chat completion or response answer with this
	// many parallel tool calls. Without it, a request that has tools and
	// whose last user text contains "use tools" gets one call per tool.
	HeaderToolCalls = "X-Fake-Tool-Calls"
	// HeaderCachedTokens sets the cached_tokens of the usage, at most the
	// prompt tokens.
	HeaderCachedTokens = "X-Fake-Cached-Tokens"
	// HeaderReply replaces the whole text of the assistant's reply.
	HeaderReply = "X-Fake-Reply"
)

// faults is what the x-fake-* headers of one request ask for.
type faults struct {
	status       int
	retryAfter   float64 // seconds
	failFirst    int     // -1 when absent
	key          string
	delay        time.Duration
	chunkDelay   time.Duration
	cutAfter     int // -1 when absent
	textError    int
	chunks       int
	toolCalls    int // -1 when absent
	cachedTokens int
	reply        string
	hasReply     bool
}

// parse reads the x-fake-* headers. A header with a value that cannot be
// read is an error, so that a mistake in a test does not go unnoticed.
func (f *faults) parse(h http.Header) error {
	*f = faults{retryAfter: 1, failFirst: -1, cutAfter: -1, chunks: 5, toolCalls: -1}
	var err error
	intHeader := func(name string, dst *int, lo int) {
		v, ok := h[name]
		if !ok || err != nil {
			return
		}
		n, e := strconv.Atoi(strings.TrimSpace(v[0]))
		if e != nil || n < lo {
			err = fmt.Errorf("bad %s header %q: want an integer of at least %d", strings.ToLower(name), v[0], lo)
			return
		}
		*dst = n
	}
	durHeader := func(name string, dst *time.Duration) {
		v, ok := h[name]
		if !ok || err != nil {
			return
		}
		d, e := parseDelay(v[0])
		if e != nil {
			err = fmt.Errorf("bad %s header %q: want a duration such as 200ms", strings.ToLower(name), v[0])
			return
		}
		*dst = d
	}
	intHeader(HeaderStatus, &f.status, 0)
	intHeader(HeaderFailFirst, &f.failFirst, 0)
	intHeader(HeaderCutAfter, &f.cutAfter, 0)
	intHeader(HeaderTextError, &f.textError, 0)
	intHeader(HeaderChunks, &f.chunks, 1)
	intHeader(HeaderToolCalls, &f.toolCalls, 0)
	intHeader(HeaderCachedTokens, &f.cachedTokens, 0)
	durHeader(HeaderDelay, &f.delay)
	durHeader(HeaderChunkDelay, &f.chunkDelay)
	if v, ok := h[HeaderRetryAfter]; ok && err == nil {
		s, e := strconv.ParseFloat(strings.TrimSpace(v[0]), 64)
		if e != nil || s < 0 || math.IsInf(s, 0) || math.IsNaN(s) {
			err = fmt.Errorf("bad x-fake-retry-after header %q: want seconds", v[0])
		}
		f.retryAfter = s
	}
	if v, ok := h[HeaderKey]; ok {
		f.key = v[0]
	}
	if v, ok := h[HeaderReply]; ok {
		f.reply, f.hasReply = v[0], true
	}
	if f.status != 0 && f.status < 400 && f.status != http.StatusOK {
		// 200 is accepted as "no fault"; other success statuses would give
		// a reply that no client expects.
		return fmt.Errorf("bad x-fake-status header %d: want 400 to 599", f.status)
	}
	if f.status == http.StatusOK {
		f.status = 0
	}
	if f.status > 599 || f.textError > 599 || (f.textError != 0 && f.textError < 400) {
		return fmt.Errorf("bad status in x-fake-status or x-fake-text-error: want 400 to 599")
	}
	return err
}

// failing reports whether the request asks for a failure of any kind.
func (f *faults) failing() bool {
	return f.status != 0 || f.textError != 0 || f.cutAfter >= 0 || f.failFirst >= 0
}

// recover clears the failures, for a request past its x-fake-fail-first.
func (f *faults) recover() {
	f.status, f.textError, f.cutAfter = 0, 0, -1
}

// parseDelay reads a Go duration or a plain number of milliseconds.
func parseDelay(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil && n >= 0 {
		return time.Duration(n) * time.Millisecond, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, errors.New("bad duration")
	}
	return d, nil
}

// sleep waits for d, or until ctx is done; it reports whether the whole
// wait passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// abort ends the handler so that the client sees the connection cut:
// net/http then closes an HTTP/1 connection without the last chunk, and
// resets an HTTP/2 stream.
func abort(w http.ResponseWriter) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	panic(http.ErrAbortHandler)
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
