// Package fakegemini is a fake of the Google Gemini API (generativelanguage.googleapis.com)
// for end-to-end tests and benchmarks: an [http.Handler] that answers generateContent,
// streamGenerateContent (as Server-Sent Events with ?alt=sse, or as the streamed JSON array
// the API sends by default), function calls, countTokens, embedContent,
// batchEmbedContents and the model list in the real wire format, checks the API key as the
// real API does, records what it receives and injects the faults that each request's
// x-fake-* headers ask for (see the Header constants), so that a test can drive the proxy
// with the official SDK (google.golang.org/genai) and combine faults freely.
package fakegemini

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aiproxy-go/aiproxy/internal/fakefault"
)

// The request headers that shape a reply. The proxy forwards headers it does not know, so a
// test sets them on the client's request.
const (
	// HeaderStatus makes the fake answer this status (400 to 599) with the API's error body
	// for it; 200 means no fault.
	HeaderStatus = fakefault.HeaderStatus
	// HeaderDelay is a wait before the reply's headers, as a Go duration ("200ms") or a
	// number of milliseconds; it ends early if the client goes away.
	HeaderDelay = fakefault.HeaderDelay
	// HeaderChunkDelay is a wait between two chunks of a stream, as HeaderDelay.
	HeaderChunkDelay = fakefault.HeaderChunkDelay
	// HeaderCutAfter makes the fake send N chunks of a stream (N bytes of a reply that is
	// not a stream) and then abort the connection. A reply of N chunks or fewer is whole.
	HeaderCutAfter = fakefault.HeaderCutAfter
	// HeaderChunks is the number of text chunks of a stream (3 when absent); the reply is
	// padded with "." when it has fewer characters.
	HeaderChunks = fakefault.HeaderChunks
	// HeaderToolCalls makes the model answer with this many function calls, cycling
	// through the declared functions. Without it, a request that declares functions and
	// whose last user text contains "use tools", or whose toolConfig's function calling
	// mode is ANY, gets one call per declared function.
	HeaderToolCalls = fakefault.HeaderToolCalls
	// HeaderThoughts sets the thoughtsTokenCount of the usage. When the request's
	// generationConfig.thinkingConfig.includeThoughts is true, the answer also starts with
	// a thought part.
	HeaderThoughts = "X-Fake-Thoughts"
	// HeaderCachedTokens sets the cachedContentTokenCount of the usage, at most the prompt
	// tokens.
	HeaderCachedTokens = fakefault.HeaderCachedTokens
	// HeaderReply replaces the whole text of the model's answer.
	HeaderReply = fakefault.HeaderReply
)

// Options configures a [Server].
type Options struct {
	// APIKey, when set, is the only key accepted, from the x-goog-api-key header or the key
	// query parameter. A request without a key is answered 403 PERMISSION_DENIED, one with
	// another key 400 INVALID_ARGUMENT (reason API_KEY_INVALID), as the real API does.
	APIKey string
	// OnRequest, when set, is called with every request as soon as its body has been read
	// and recorded, before any fault or reply; the body can be read again. It must be safe
	// for concurrent use.
	OnRequest func(*http.Request)
}

// Recorded is one request as the fake received it.
type Recorded = fakefault.Recorded

// Server is the fake Gemini API. Create it with [New]; it is safe for concurrent use.
//
// Replies are deterministic: the model says "Hello! You said: " and the text of the last
// user turn, and token counts are word counts (see [Server.ServeHTTP]).
type Server struct {
	// Recorder gives the fake its Requests, Hits and Reset methods.
	fakefault.Recorder[Recorded]

	opts Options
}

// New returns a fake of the Gemini API configured by opts.
func New(opts Options) *Server {
	return &Server{opts: opts}
}

// ServeHTTP answers one request. The routes, under any API version (/v1beta, /v1,
// /v1alpha), are POST models/{model}:generateContent, :streamGenerateContent (?alt=sse for
// SSE, else a JSON array), :countTokens, :embedContent and :batchEmbedContents, GET models
// and GET models/{model}; anything else is answered 404 with Google's HTML page. A model
// must be one the fake knows the kind of: names starting with "gemini", "gemma" or
// "learnlm" generate, names containing "embedding" embed; others are 404 NOT_FOUND.
//
// Before the route, the fake applies in order: x-fake-delay, the API key check, then
// x-fake-status. x-fake-cut-after aborts a reply after that many stream chunks (or bytes of
// a body); it panics with [http.ErrAbortHandler] to do so, so the fake must run under an
// [http.Server] (httptest.NewServer is fine). Errors of a streamGenerateContent request
// without alt=sse are wrapped in a JSON array, as the real API sends them.
//
// Token counts are word counts: the prompt counts the words of every text part of the
// contents and the system instruction, 4 per content and 20 per declared function; the
// answer counts its words, a function call 8 plus a quarter of the length of its name and
// arguments.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.Hit()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	s.Record(fakefault.NewRecorded(r, body))
	fakefault.Notify(s.opts.OnRequest, r, body)
	x := &exchange{w: w, r: r, body: body, start: time.Now()}
	x.model, x.method, x.version = parsePath(r.URL.Path)
	x.sse = strings.EqualFold(r.URL.Query().Get("alt"), "sse")
	x.arrayErrors = x.method == "streamGenerateContent" && !x.sse
	if err := x.f.parse(r.Header); err != nil {
		x.f = faults{Faults: fakefault.New(3)}
		x.writeError(http.StatusBadRequest, "fakegemini: "+err.Error(), "INVALID_ARGUMENT", nil)
		return
	}
	if !x.f.WaitDelay(r.Context()) {
		return
	}
	if !s.authorized(x) {
		return
	}
	if x.f.Status != 0 {
		x.writeStatusError(x.f.Status)
		return
	}
	x.route()
}

// parsePath splits /{version}/models/{model}:{method}; the model and method are empty for
// other paths.
func parsePath(path string) (model, method, version string) {
	rest := strings.TrimPrefix(path, "/")
	version, rest, _ = strings.Cut(rest, "/")
	res, ok := strings.CutPrefix(rest, "models")
	if !ok || (res != "" && res[0] != '/') {
		return "", "", version
	}
	res = strings.TrimPrefix(res, "/")
	model, method, _ = strings.Cut(res, ":")
	return model, method, version
}

// authorized checks the API key and answers as the real API does when it is missing or
// wrong.
func (s *Server) authorized(x *exchange) bool {
	if s.opts.APIKey == "" {
		return true
	}
	key := x.r.Header.Get("X-Goog-Api-Key")
	if key == "" {
		key = x.r.URL.Query().Get("key")
	}
	switch {
	case key == s.opts.APIKey:
		return true
	case key == "" && x.r.Header.Get("Authorization") != "":
		x.writeError(http.StatusUnauthorized, "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
			"UNAUTHENTICATED", []any{errorInfo("ACCESS_TOKEN_TYPE_UNSUPPORTED", map[string]string{"method": "google.ai.generativelanguage.v1beta.GenerativeService.GenerateContent", "service": "generativelanguage.googleapis.com"})})
	case key == "":
		x.writeError(http.StatusForbidden, "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.", "PERMISSION_DENIED", nil)
	default:
		const msg = "API key not valid. Please pass a valid API key."
		x.writeError(http.StatusBadRequest, msg, "INVALID_ARGUMENT", []any{
			errorInfo("API_KEY_INVALID", map[string]string{"service": "generativelanguage.googleapis.com"}),
			map[string]any{"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US", "message": msg},
		})
	}
	return false
}

// exchange is the state of one request.
type exchange struct {
	w     http.ResponseWriter
	r     *http.Request
	body  []byte
	start time.Time
	f     faults

	version, model, method string
	sse                    bool // streamGenerateContent?alt=sse
	arrayErrors            bool // errors go in a JSON array
}

// route sends the request to the handler of its method.
func (x *exchange) route() {
	switch {
	case x.r.Method == http.MethodGet && x.model == "" && x.method == "" && x.isModelsPath():
		x.listModels()
		return
	case x.r.Method == http.MethodGet && x.model != "" && x.method == "":
		x.getModel()
		return
	case x.r.Method == http.MethodPost && x.model != "":
		switch x.method {
		case "generateContent", "streamGenerateContent", "countTokens":
			if !x.knownModel(false) {
				return
			}
			if x.method == "countTokens" {
				x.countTokens()
			} else {
				x.generateContent()
			}
			return
		case "embedContent", "batchEmbedContents":
			if !x.knownModel(true) {
				return
			}
			if x.method == "embedContent" {
				x.embedContent()
			} else {
				x.batchEmbedContents()
			}
			return
		}
	}
	x.writeNotFoundPage()
}

func (x *exchange) isModelsPath() bool {
	return strings.TrimSuffix(x.r.URL.Path, "/") == "/"+x.version+"/models"
}

// knownModel answers 404 as the real API does for a model it does not know or that does not
// support the method.
func (x *exchange) knownModel(embed bool) bool {
	m := x.model
	isEmbed := strings.Contains(m, "embedding")
	generates := !isEmbed && (strings.HasPrefix(m, "gemini") || strings.HasPrefix(m, "gemma") || strings.HasPrefix(m, "learnlm"))
	if (embed && isEmbed) || (!embed && generates) {
		return true
	}
	x.writeError(http.StatusNotFound, "models/"+m+" is not found for API version "+x.version+", or is not supported for "+x.method+
		". Call ListModels to see the list of available models and their supported methods.", "NOT_FOUND", nil)
	return false
}

// setHeaders sets the headers the real API sends with every reply.
func (x *exchange) setHeaders(contentType string) {
	h := x.w.Header()
	h["Content-Type"] = []string{contentType}
	h["Vary"] = []string{"Origin", "X-Origin", "Referer"}
	h["Server"] = []string{"scaffolding on HTTPServer2"}
	h["X-Xss-Protection"] = []string{"0"}
	h["X-Frame-Options"] = []string{"SAMEORIGIN"}
	h["X-Content-Type-Options"] = []string{"nosniff"}
	h["Server-Timing"] = []string{"gfet4t7; dur=" + strconv.FormatInt(time.Since(x.start).Milliseconds(), 10)}
}

// writeBody sends a complete body with the given status, cut short when x-fake-cut-after
// asks for it.
func (x *exchange) writeBody(status int, contentType string, body []byte) {
	x.setHeaders(contentType)
	x.w.Header()["Content-Length"] = []string{strconv.Itoa(len(body))}
	x.w.WriteHeader(status)
	x.f.WriteBody(x.w, body)
}

// writeJSON sends v as the API writes bodies: indented by two spaces.
func (x *exchange) writeJSON(status int, v any) {
	x.writeBody(status, "application/json; charset=UTF-8", indent(v))
}

// writeNotFoundPage answers a path the API does not have with Google's HTML 404 page.
func (x *exchange) writeNotFoundPage() {
	page := `<!DOCTYPE html>
<html lang=en>
  <meta charset=utf-8>
  <meta name=viewport content="initial-scale=1, minimum-scale=1, width=device-width">
  <title>Error 404 (Not Found)!!1</title>
  <a href=//www.google.com/><span id=logo aria-label=Google></span></a>
  <p><b>404.</b> <ins>That’s an error.</ins>
  <p>The requested URL <code>` + htmlEscape(x.r.URL.Path) + `</code> was not found on this server.  <ins>That’s all we know.</ins>
`
	x.writeBody(http.StatusNotFound, "text/html; charset=UTF-8", []byte(page))
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;").Replace(s)
}
