package fakegemini

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// faults is what the x-fake-* headers of one request ask for.
type faults struct {
	status       int
	delay        time.Duration
	chunkDelay   time.Duration
	cutAfter     int // -1 when absent
	chunks       int
	toolCalls    int // -1 when absent
	thoughts     int
	cachedTokens int
	reply        string
	hasReply     bool
}

// parse reads the x-fake-* headers. A header whose value cannot be read is an error, so that
// a mistake in a test does not go unnoticed.
func (f *faults) parse(h http.Header) error {
	*f = faults{cutAfter: -1, chunks: 3, toolCalls: -1}
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
	intHeader(HeaderChunks, &f.chunks, 1)
	intHeader(HeaderToolCalls, &f.toolCalls, 0)
	intHeader(HeaderThoughts, &f.thoughts, 0)
	intHeader(HeaderCachedTokens, &f.cachedTokens, 0)
	durHeader(HeaderDelay, &f.delay)
	durHeader(HeaderChunkDelay, &f.chunkDelay)
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

// sleep waits for d, or until ctx is done; it reports whether the whole wait passed.
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

// errorInfo is a google.rpc.ErrorInfo detail.
func errorInfo(reason string, metadata map[string]string) map[string]any {
	return map[string]any{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "domain": "googleapis.com", "metadata": metadata}
}

// googleError is the body of every error of the API.
type googleError struct {
	Error googleErrorStatus `json:"error"`
}

type googleErrorStatus struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Status  string `json:"status"`
	Details []any  `json:"details,omitempty"`
}

// writeError sends Google's error body. For a streamGenerateContent request without
// alt=sse the body is a JSON array holding the error, as the real API sends it.
func (x *exchange) writeError(status int, message, canonical string, details []any) {
	body := indent(googleError{googleErrorStatus{Code: status, Message: message, Status: canonical, Details: details}})
	if x.arrayErrors {
		body = append(append([]byte("["), body...), "\n]"...)
	}
	x.writeBody(status, "application/json; charset=UTF-8", body)
}

// writeStatusError answers an injected status with the error the real API sends with it.
func (x *exchange) writeStatusError(status int) {
	switch status {
	case http.StatusBadRequest:
		x.writeError(status, "Request contains an invalid argument.", "INVALID_ARGUMENT", nil)
	case http.StatusUnauthorized:
		x.writeError(status, "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.", "UNAUTHENTICATED", nil)
	case http.StatusForbidden:
		x.writeError(status, "The caller does not have permission", "PERMISSION_DENIED", nil)
	case http.StatusNotFound:
		x.writeError(status, "Requested entity was not found.", "NOT_FOUND", nil)
	case http.StatusTooManyRequests:
		x.writeError(status, "You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.", "RESOURCE_EXHAUSTED", []any{
			map[string]any{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": []any{map[string]any{
				"quotaMetric":     "generativelanguage.googleapis.com/generate_content_free_tier_requests",
				"quotaId":         "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
				"quotaDimensions": map[string]string{"location": "global", "model": x.model},
				"quotaValue":      "10",
			}}},
			map[string]any{"@type": "type.googleapis.com/google.rpc.Help", "links": []any{map[string]string{
				"description": "Learn more about Gemini API quotas", "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}}},
			map[string]any{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"},
		})
	case http.StatusInternalServerError:
		x.writeError(status, "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting", "INTERNAL", nil)
	case http.StatusServiceUnavailable:
		x.writeError(status, "The model is overloaded. Please try again later.", "UNAVAILABLE", nil)
	case http.StatusGatewayTimeout:
		x.writeError(status, "The request timed out. Please try again.", "DEADLINE_EXCEEDED", nil)
	default:
		canonical := "FAILED_PRECONDITION"
		if status >= 500 {
			canonical = "INTERNAL"
		}
		x.writeError(status, http.StatusText(status)+" (injected by x-fake-status).", canonical, nil)
	}
}
