package fakeanthropic

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
// it does not know, so a test sets them on the client's request.
const (
	// HeaderStatus makes the fake answer this status (400 to 599) with the
	// error body the real API sends for it: 429 is a rate_limit_error with
	// retry-after, 529 an overloaded_error.
	HeaderStatus = "X-Fake-Status"
	// HeaderRetryAfter is the delay in seconds that a 429 asks for; 1 when
	// absent.
	HeaderRetryAfter = "X-Fake-Retry-After"
	// HeaderDelay is a wait before the reply's headers, as a Go duration
	// ("200ms") or a number of milliseconds.
	HeaderDelay = "X-Fake-Delay"
	// HeaderChunkDelay is a wait between two events of a stream, as
	// HeaderDelay.
	HeaderChunkDelay = "X-Fake-Chunk-Delay"
	// HeaderCutAfter makes the fake send N events of a stream (N bytes of a
	// reply that is not a stream) and then abort the connection, so the
	// client sees an unexpected EOF. A reply of N events or fewer is whole.
	HeaderCutAfter = "X-Fake-Cut-After"
	// HeaderStreamError makes the fake send N events of a stream and then
	// an "event: error" with an overloaded_error, as the real API does when
	// it fails after the 200; the stream then ends cleanly.
	HeaderStreamError = "X-Fake-Stream-Error"
	// HeaderChunks is the number of deltas a text or thinking block is cut
	// into (5 when absent); the text is padded with "." when it has fewer
	// characters. Tool inputs are cut into as many input_json_delta
	// fragments.
	HeaderChunks = "X-Fake-Chunks"
	// HeaderToolCalls makes the assistant answer with this many tool_use
	// blocks, using the request's tools in turn. Without it, a request that
	// has tools and whose last user text contains "use tools" gets one call
	// per tool.
	HeaderToolCalls = "X-Fake-Tool-Calls"
	// HeaderReply replaces the text of the assistant's reply. With tool
	// calls, it is sent as a text block before them.
	HeaderReply = "X-Fake-Reply"
	// HeaderCacheReadTokens sets cache_read_input_tokens, at most the prompt.
	HeaderCacheReadTokens = "X-Fake-Cache-Read-Tokens"
	// HeaderCacheCreationTokens sets cache_creation_input_tokens, at most
	// what the cache read left of the prompt.
	HeaderCacheCreationTokens = "X-Fake-Cache-Creation-Tokens"
)

// faults is what the x-fake-* headers of one request ask for.
type faults struct {
	status        int
	retryAfter    float64 // seconds
	delay         time.Duration
	chunkDelay    time.Duration
	cutAfter      int // -1 when absent
	streamError   int // -1 when absent
	chunks        int
	toolCalls     int // -1 when absent
	reply         string
	hasReply      bool
	cacheRead     int
	cacheCreation int
}

// parse reads the x-fake-* headers. A header whose value cannot be read is
// an error, so that a mistake in a test does not go unnoticed.
func (f *faults) parse(h http.Header) error {
	*f = faults{retryAfter: 1, cutAfter: -1, streamError: -1, chunks: 5, toolCalls: -1}
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
	intHeader(HeaderCutAfter, &f.cutAfter, 0)
	intHeader(HeaderStreamError, &f.streamError, 0)
	intHeader(HeaderChunks, &f.chunks, 1)
	intHeader(HeaderToolCalls, &f.toolCalls, 0)
	intHeader(HeaderCacheReadTokens, &f.cacheRead, 0)
	intHeader(HeaderCacheCreationTokens, &f.cacheCreation, 0)
	durHeader(HeaderDelay, &f.delay)
	durHeader(HeaderChunkDelay, &f.chunkDelay)
	if v, ok := h[HeaderRetryAfter]; ok && err == nil {
		s, e := strconv.ParseFloat(strings.TrimSpace(v[0]), 64)
		if e != nil || s < 0 || math.IsInf(s, 0) || math.IsNaN(s) {
			err = fmt.Errorf("bad x-fake-retry-after header %q: want seconds", v[0])
		}
		f.retryAfter = s
	}
	if v, ok := h[HeaderReply]; ok {
		f.reply, f.hasReply = v[0], true
	}
	if err != nil {
		return err
	}
	if f.status == http.StatusOK {
		f.status = 0
	}
	if f.status != 0 && (f.status < 400 || f.status > 599) {
		return fmt.Errorf("bad x-fake-status header %d: want 400 to 599", f.status)
	}
	return nil
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

// abort ends the handler so that the client sees the connection cut.
func abort(w http.ResponseWriter) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	panic(http.ErrAbortHandler)
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
