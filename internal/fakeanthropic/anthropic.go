// Package fakeanthropic is a fake of the Anthropic API for end-to-end tests
// and benchmarks: an [http.Handler] that answers the Messages API (streamed
// or not, with text, tool_use and thinking blocks), token counting and the
// models list in the real wire format, records what it receives and
// injects the faults that each request's x-fake-* headers ask for (see the
// Header constants), so that a test can drive the proxy with the official
// SDK and combine faults freely.
package fakeanthropic

import (
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aiproxy-go/aiproxy/internal/fakefault"
)

// Options configures a [Server].
type Options struct {
	// APIKey, when set, is the only key accepted. The real API reads it
	// from x-api-key; current SDKs send it as "Authorization: Bearer", which
	// the real API accepts too, and so does the fake. A request without it
	// or with another key is answered 401 with the real API's error body.
	APIKey string
	// OnRequest, when set, is called with every request as soon as its body
	// has been read and recorded, before any fault or reply; the body can be
	// read again. It must be safe for concurrent use.
	OnRequest func(*http.Request)
}

// Recorded is one request as the fake received it.
type Recorded = fakefault.Recorded

// Server is the fake Anthropic API. Create it with [New]; it is safe for
// concurrent use.
//
// Replies are deterministic: the assistant says "Hello! You said: " and the
// text of the last user message, and token counts are word counts (see
// [Server.ServeHTTP]).
type Server struct {
	// Recorder gives the fake its Requests, Hits and Reset methods.
	fakefault.Recorder[Recorded]

	opts Options
}

// New returns a fake of the Anthropic API configured by opts.
func New(opts Options) *Server {
	return &Server{opts: opts}
}

// ServeHTTP answers one request. The routes are POST /v1/messages,
// POST /v1/messages/count_tokens, GET /v1/models and GET /v1/models/{id};
// anything else is answered 404 in the API's error shape.
//
// Before the route, the fake applies in order: the x-fake-* headers'
// syntax (a bad value is a 400), x-fake-delay, the API key check (401),
// the anthropic-version header, which the real API requires (400), and
// x-fake-status. x-fake-cut-after aborts a reply after that many stream
// events (or that many bytes of a body that is not a stream) by panicking
// with [http.ErrAbortHandler], so the fake must run under an [http.Server]
// (httptest.NewServer is fine).
//
// Token counts are word counts: a prompt counts 3, plus the words of the
// system prompt, plus 4 and the words of each message, plus 10 per block
// that is not text, plus 20 per tool. The reply counts its words, a
// thinking block its words too (reported as thinking_tokens), a tool_use
// block 8 plus a quarter of the length of its name and input. Cache
// creation and cache read tokens, set by headers, are taken from the
// prompt: input_tokens is what is left, as the real API reports it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x := &exchange{w: w, r: r, start: time.Now(), requestID: newID("req_011C", 20)}
	s.Hit()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return // the client went away while sending
	}
	x.body = body
	s.Record(fakefault.NewRecorded(r, body))
	fakefault.Notify(s.opts.OnRequest, r, body)

	if err := x.f.parse(r.Header); err != nil {
		x.f = faults{Faults: fakefault.New(5), streamError: -1}
		x.writeError(http.StatusBadRequest, "invalid_request_error", "fakeanthropic: "+err.Error())
		return
	}
	if !x.f.WaitDelay(r.Context()) {
		return
	}
	if !s.authorized(x) {
		return
	}
	if r.Header.Get("Anthropic-Version") == "" {
		x.writeError(http.StatusBadRequest, "invalid_request_error", "anthropic-version: header is required")
		return
	}
	if x.f.Status != 0 {
		x.writeStatusError(x.f.Status)
		return
	}
	s.route(x)
}

// route sends the request to the handler of its endpoint.
func (s *Server) route(x *exchange) {
	path := x.r.URL.Path
	switch x.r.Method {
	case http.MethodPost:
		switch path {
		case "/v1/messages":
			x.messages()
			return
		case "/v1/messages/count_tokens":
			x.countTokens()
			return
		}
	case http.MethodGet:
		if path == "/v1/models" {
			x.listModels()
			return
		}
		if id, ok := strings.CutPrefix(path, "/v1/models/"); ok && id != "" {
			x.getModel(id)
			return
		}
	}
	x.writeError(http.StatusNotFound, "not_found_error", "Not Found")
}

// authorized checks the API key and answers 401 as the real API does when
// it is missing or wrong.
func (s *Server) authorized(x *exchange) bool {
	if s.opts.APIKey == "" {
		return true
	}
	key := x.r.Header.Get("X-Api-Key")
	if key == "" {
		key, _ = strings.CutPrefix(x.r.Header.Get("Authorization"), "Bearer ")
	}
	switch {
	case key == s.opts.APIKey:
		return true
	case strings.TrimSpace(key) == "":
		x.writeError(http.StatusUnauthorized, "authentication_error", "x-api-key header is required")
	default:
		x.writeError(http.StatusUnauthorized, "authentication_error", "invalid x-api-key")
	}
	return false
}

// exchange is the state of one request.
type exchange struct {
	w         http.ResponseWriter
	r         *http.Request
	body      []byte
	start     time.Time
	f         faults
	requestID string
}

// organizationID is sent where the real API sends the caller's
// organization.
const organizationID = "0f4b4e3c-5d1a-4c9b-9b8e-fa4ec0ffee00"

// setHeaders sets the headers that the real API sends with every reply.
func (x *exchange) setHeaders(contentType string) {
	h := x.w.Header()
	h["Content-Type"] = []string{contentType}
	h["Request-Id"] = []string{x.requestID}
	h["Anthropic-Organization-Id"] = []string{organizationID}
}

// setRateLimitHeaders sets the anthropic-ratelimit-* headers of a reply
// from a model.
func (x *exchange) setRateLimitHeaders() {
	h := x.w.Header()
	reset := time.Now().UTC().Add(time.Second).Format(time.RFC3339)
	h["Anthropic-Ratelimit-Requests-Limit"] = []string{"4000"}
	h["Anthropic-Ratelimit-Requests-Remaining"] = []string{"3999"}
	h["Anthropic-Ratelimit-Requests-Reset"] = []string{reset}
	h["Anthropic-Ratelimit-Input-Tokens-Limit"] = []string{"2000000"}
	h["Anthropic-Ratelimit-Input-Tokens-Remaining"] = []string{"2000000"}
	h["Anthropic-Ratelimit-Input-Tokens-Reset"] = []string{reset}
	h["Anthropic-Ratelimit-Output-Tokens-Limit"] = []string{"400000"}
	h["Anthropic-Ratelimit-Output-Tokens-Remaining"] = []string{"400000"}
	h["Anthropic-Ratelimit-Output-Tokens-Reset"] = []string{reset}
}

// writeJSON sends a JSON body with the given status, cut short when
// x-fake-cut-after asks for it.
func (x *exchange) writeJSON(status int, body []byte) {
	x.setHeaders("application/json")
	if status == http.StatusOK {
		x.setRateLimitHeaders()
	}
	x.w.Header()["Content-Length"] = []string{itoa(len(body))}
	x.w.WriteHeader(status)
	x.f.WriteBody(x.w, body)
}
