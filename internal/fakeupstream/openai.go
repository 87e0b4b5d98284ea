// Package fakeupstream holds fakes of the LLM APIs that AIProxy sits in
// front of, for end-to-end tests and benchmarks. Each fake speaks its
// provider's real wire format, records what it receives and injects faults
// chosen per request by headers, so that a test can drive the proxy with an
// official SDK and combine faults freely.
package fakeupstream

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aiproxy-go/aiproxy/internal/fakefault"
)

// OpenAIOptions configures an [OpenAI] fake.
type OpenAIOptions struct {
	// APIKey, when set, is the only key accepted: every request must carry
	// "Authorization: Bearer <APIKey>" or it is answered 401 with the error
	// body of the real API.
	APIKey string
	// Prefix is the path under which the API is served: "/v1" when empty,
	// the root when "/".
	Prefix string
	// OnRequest, when set, is called with every request as soon as its body
	// has been read and recorded, before any fault or reply; the body can be
	// read again. It runs on the request's goroutine and must be safe for
	// concurrent use.
	OnRequest func(*http.Request)
	// DiscardRequests stops the recording of requests, for benchmarks that
	// send many; Requests then returns nil and Hits still counts.
	DiscardRequests bool
}

// Recorded is one request as the fake received it; its Path includes the
// prefix.
type Recorded = fakefault.Recorded

// OpenAI is a fake of the OpenAI API: an [http.Handler] that answers chat
// completions, legacy completions, the Responses API, embeddings and models
// in the real wire format, streamed or not, and injects the faults that the
// request's x-fake-* headers ask for (see the Header constants). It is safe
// for concurrent use.
//
// Replies are deterministic: the assistant says "Hello! You said: " and the
// text of the last user message, and token counts are computed from word
// counts (see [OpenAI.ServeHTTP]).
type OpenAI struct {
	// Recorder gives the fake its Requests and Hits methods.
	fakefault.Recorder[Recorded]

	opts   OpenAIOptions
	prefix string

	mu    sync.Mutex
	fails map[string]int // requests seen per x-fake-key, for x-fake-fail-first
}

// NewOpenAI returns a fake of the OpenAI API configured by opts.
func NewOpenAI(opts OpenAIOptions) *OpenAI {
	p := strings.TrimSuffix(opts.Prefix, "/")
	if opts.Prefix == "" {
		p = "/v1"
	}
	return &OpenAI{opts: opts, prefix: p, fails: make(map[string]int)}
}

// Reset forgets the recorded requests, the hit count and the counts kept
// for x-fake-fail-first.
func (o *OpenAI) Reset() {
	o.Recorder.Reset()
	o.mu.Lock()
	defer o.mu.Unlock()
	clear(o.fails)
}

// ServeHTTP answers one request. The routes, under the prefix, are
// POST /chat/completions, POST /completions, POST /responses,
// POST /embeddings, GET /models and GET /models/{id}; anything else is
// answered 404 with an OpenAI error body.
//
// Before the route, the fake applies in order: x-fake-delay, the API key
// check, then the failure headers (x-fake-text-error, x-fake-status), gated
// by x-fake-fail-first when it is present. x-fake-cut-after aborts a reply
// after that many stream events (or, for a reply that is not a stream, that
// many bytes of body); it panics with [http.ErrAbortHandler] to do so, so
// the fake must run under an [http.Server] (httptest.NewServer is fine),
// not be called directly with a ResponseRecorder.
//
// Token counts are word counts: a chat or Responses prompt counts 3, plus 4
// and the words of each message (and of the instructions), plus 20 per
// tool; a legacy prompt or an embeddings input counts its words (an input
// of tokens, their number). A reply counts its words, a tool call 8 plus a
// quarter of the length of its name and arguments; models whose name starts
// with "o" and a digit, or with "gpt-5", also count 64 reasoning tokens in
// the completion.
func (o *OpenAI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x := exchange{w: w, r: r, start: time.Now()}
	o.Hit()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		// The client went away while sending; nothing can be answered.
		return
	}
	x.body = body
	if !o.opts.DiscardRequests {
		o.Record(fakefault.NewRecorded(r, body))
	}
	fakefault.Notify(o.opts.OnRequest, r, body)

	if err := x.f.parse(r.Header); err != nil {
		x.f = faults{Faults: fakefault.New(5)}
		x.writeError(http.StatusBadRequest, "fakeupstream: "+err.Error(), "invalid_request_error", "", "")
		return
	}
	if !x.f.WaitDelay(r.Context()) {
		return
	}
	if !o.authorized(&x) {
		return
	}
	if x.f.failing() {
		if x.f.failFirst >= 0 {
			o.mu.Lock()
			o.fails[x.f.key]++
			n := o.fails[x.f.key]
			o.mu.Unlock()
			if n > x.f.failFirst {
				x.f.recover()
			} else if x.f.Status == 0 && x.f.textError == 0 && x.f.CutAfter < 0 {
				x.f.Status = http.StatusInternalServerError
			}
		}
		if x.f.textError != 0 {
			x.writeTextError(x.f.textError)
			return
		}
		if x.f.Status != 0 {
			x.writeStatusError(x.f.Status)
			return
		}
	}
	o.route(&x)
}

// route sends the request to the handler of its endpoint.
func (o *OpenAI) route(x *exchange) {
	path, ok := strings.CutPrefix(x.r.URL.Path, o.prefix)
	if ok {
		switch x.r.Method {
		case http.MethodPost:
			switch path {
			case "/chat/completions":
				x.chatCompletions()
				return
			case "/completions":
				x.completions()
				return
			case "/responses":
				x.responses()
				return
			case "/embeddings":
				x.embeddings()
				return
			}
		case http.MethodGet:
			if path == "/models" {
				x.listModels()
				return
			}
			if id, ok := strings.CutPrefix(path, "/models/"); ok && id != "" {
				x.getModel(id)
				return
			}
		}
	}
	x.writeError(http.StatusNotFound, "Invalid URL ("+x.r.Method+" "+x.r.URL.Path+")", "invalid_request_error", "", "")
}

// authorized checks the API key and answers 401 as the real API does when
// it is missing or wrong.
func (o *OpenAI) authorized(x *exchange) bool {
	if o.opts.APIKey == "" {
		return true
	}
	auth := x.r.Header.Get("Authorization")
	key, ok := strings.CutPrefix(auth, "Bearer ")
	if ok && key == o.opts.APIKey {
		return true
	}
	if strings.TrimSpace(key) == "" {
		x.writeError(http.StatusUnauthorized, "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username. You can obtain an API key from https://platform.openai.com/account/api-keys.", "invalid_request_error", "", "")
		return false
	}
	x.writeError(http.StatusUnauthorized, "Incorrect API key provided: "+maskKey(key)+". You can find your API key at https://platform.openai.com/account/api-keys.", "invalid_request_error", "", "invalid_api_key")
	return false
}

// maskKey hides a key the way the real API does in its 401 message: the
// first three and the last four characters stay.
func maskKey(k string) string {
	if len(k) <= 8 {
		return strings.Repeat("*", len(k))
	}
	return k[:3] + strings.Repeat("*", min(len(k)-7, 40)) + k[len(k)-4:]
}

// exchange is the state of one request.
type exchange struct {
	w     http.ResponseWriter
	r     *http.Request
	body  []byte
	start time.Time
	f     faults
}

// setHeaders sets the headers that the real API sends with every reply.
func (x *exchange) setHeaders(contentType string) {
	h := x.w.Header()
	// Canonical keys assigned directly: Header.Set would canonicalise them
	// again on every request.
	h["Content-Type"] = []string{contentType}
	h["X-Request-Id"] = []string{newID("req_", 32, hexDigits)}
	h["Openai-Processing-Ms"] = []string{strconv.FormatInt(time.Since(x.start).Milliseconds(), 10)}
	h["Openai-Version"] = []string{"2020-10-01"}
}

// setRateLimitHeaders sets the x-ratelimit-* headers that the real API sends
// with the replies of model endpoints.
func (x *exchange) setRateLimitHeaders() {
	h := x.w.Header()
	h["X-Ratelimit-Limit-Requests"] = []string{"10000"}
	h["X-Ratelimit-Limit-Tokens"] = []string{"30000000"}
	h["X-Ratelimit-Remaining-Requests"] = []string{"9999"}
	h["X-Ratelimit-Remaining-Tokens"] = []string{"29999990"}
	h["X-Ratelimit-Reset-Requests"] = []string{"6ms"}
	h["X-Ratelimit-Reset-Tokens"] = []string{"0s"}
}

// writeJSON sends a JSON body with the given status, cut short when
// x-fake-cut-after asks for it.
func (x *exchange) writeJSON(status int, body []byte) {
	x.setHeaders("application/json")
	if status == http.StatusOK {
		x.setRateLimitHeaders()
	}
	x.w.Header()["Content-Length"] = []string{strconv.Itoa(len(body))}
	x.w.WriteHeader(status)
	x.f.WriteBody(x.w, body)
}
