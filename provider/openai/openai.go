// Package openai is the provider for the OpenAI API and for any server that speaks it
// (vLLM, Ollama, Groq, a second OpenAI account, ...).
//
// It serves the OpenAI API at /v1/..., /openai/v1/..., /openai/... and, for the endpoints of
// the API, at the root (/chat/completions), as the original AIProxy did. Chat completions
// are fully featured; every other endpoint is relayed and logged.
package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/aiproxy-go/aiproxy/provider"
	"github.com/aiproxy-go/aiproxy/sse"
)

// DefaultBaseURL is the upstream used when Options.BaseURL is empty.
const DefaultBaseURL = "https://api.openai.com/v1"

// Options configures a Provider.
type Options struct {
	// Name is the provider's name in the log and, for a name other than "openai", the path
	// prefix it is served under (/{name}/v1/...). Default "openai".
	Name string
	// BaseURL is the upstream API root, e.g. https://api.openai.com/v1.
	BaseURL string
	// APIKey replaces the client's credential upstream. When empty the client's own
	// Authorization header is forwarded.
	APIKey string
}

// Provider is the OpenAI provider. Create it with New.
type Provider struct {
	name     string
	baseURL  string
	apiKey   string
	prefixes []string
}

var _ provider.Provider = (*Provider)(nil)

// New returns an OpenAI provider.
func New(opts Options) *Provider {
	p := &Provider{name: opts.Name, baseURL: strings.TrimRight(opts.BaseURL, "/"), apiKey: opts.APIKey}
	if p.name == "" {
		p.name = "openai"
	}
	if p.baseURL == "" {
		p.baseURL = DefaultBaseURL
	}
	if p.name == "openai" {
		p.prefixes = []string{"/openai/v1", "/openai", "/v1"}
	} else {
		p.prefixes = []string{"/" + p.name + "/v1", "/" + p.name}
	}
	return p
}

// Name returns the provider's name.
func (p *Provider) Name() string { return p.name }

// rootEndpoints are the first path segments of the OpenAI API, served at the root too.
var rootEndpoints = map[string]bool{
	"chat": true, "completions": true, "responses": true, "embeddings": true, "models": true,
	"files": true, "uploads": true, "batches": true, "images": true, "audio": true,
	"moderations": true, "fine_tuning": true, "assistants": true, "threads": true,
	"vector_stores": true, "conversations": true, "evals": true, "containers": true,
	"realtime": true,
}

// Match serves /v1/..., /openai/v1/..., /openai/... and the API's endpoints at the root.
func (p *Provider) Match(r *http.Request) (string, bool) {
	path := r.URL.Path
	for _, pre := range p.prefixes {
		if rest, ok := strings.CutPrefix(path, pre); ok && strings.HasPrefix(rest, "/") && len(rest) > 1 {
			return rest, true
		}
	}
	if p.name != "openai" {
		return "", false
	}
	first, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	if rootEndpoints[first] {
		return path, true
	}
	return "", false
}

// requestFields are the few fields the proxy reads on the hot path. RawMessage keeps the
// decoder from building values it does not need while still validating the whole body.
type requestFields struct {
	Model         json.RawMessage `json:"model"`
	Stream        json.RawMessage `json:"stream"`
	User          json.RawMessage `json:"user"`
	StreamOptions json.RawMessage `json:"stream_options"`
}

// Parse validates a JSON body and reads model, stream and user from it.
func (p *Provider) Parse(req *provider.Request) error {
	if len(req.Body) == 0 || !provider.IsJSON(req.Header.Get("Content-Type")) {
		return nil
	}
	var f requestFields
	if err := json.Unmarshal(req.Body, &f); err != nil {
		return &provider.Error{Status: http.StatusBadRequest, Type: "invalid_request_error",
			Message: "we could not parse the JSON body of your request: " + strings.TrimPrefix(err.Error(), "json: "), Err: err}
	}
	req.Model = provider.JSONString(f.Model)
	req.User = provider.JSONString(f.User)
	req.Stream = bytes.Equal(bytes.TrimSpace(f.Stream), []byte("true"))
	req.State = nil
	if req.Stream {
		st := &streamState{hasOptions: len(f.StreamOptions) > 0 && string(f.StreamOptions) != "null"}
		if st.hasOptions {
			var o struct {
				IncludeUsage bool `json:"include_usage"`
			}
			_ = json.Unmarshal(f.StreamOptions, &o)
			st.clientUsage = o.IncludeUsage
		}
		req.State = st
	}
	return nil
}

// streamState carries what Parse learnt of a stream request's stream_options to Prepare, and
// from Prepare to NewStream and Render whether the proxy asked upstream for a usage chunk the
// client did not ask for. Filters change bodies through Exchange.SetBody, which parses
// again, so the state always describes the current body.
type streamState struct {
	hasOptions  bool // the body has a stream_options object
	clientUsage bool // the client asked for usage itself
	addedUsage  bool // the proxy asked for it
}

// Prepare builds the upstream request. For a stream of chat completions or completions
// that did not ask for usage, it asks for it, and NewStream later hides the extra chunk.
func (p *Provider) Prepare(ctx context.Context, req *provider.Request) (*http.Request, error) {
	st, _ := req.State.(*streamState)
	if st != nil && !st.clientUsage && !st.addedUsage && (req.Endpoint == "/chat/completions" || req.Endpoint == "/completions") {
		body, err := withStreamUsage(req.Body, st.hasOptions)
		if err != nil {
			return nil, &provider.Error{Status: http.StatusBadRequest, Type: "invalid_request_error", Message: err.Error(), Err: err}
		}
		req.Body = body
		st.addedUsage = true
	}
	url := p.baseURL + req.Endpoint
	if req.RawQuery != "" {
		url += "?" + req.RawQuery
	}
	var body *bytes.Reader
	if req.Body != nil {
		body = bytes.NewReader(req.Body)
	}
	var up *http.Request
	var err error
	if body != nil {
		up, err = http.NewRequestWithContext(ctx, req.Method, url, body)
	} else {
		up, err = http.NewRequestWithContext(ctx, req.Method, url, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("openai: build upstream request: %w", err)
	}
	up.Header = req.Header.Clone()
	up.Header.Del("Api-Key")
	if p.apiKey != "" {
		up.Header.Set("Authorization", "Bearer "+p.apiKey)
	}
	return up, nil
}

// withStreamUsage returns body with stream_options.include_usage set to true.
func withStreamUsage(body []byte, hasOptions bool) ([]byte, error) {
	if !hasOptions {
		// The common case: append the field before the closing brace, leaving the
		// client's bytes otherwise untouched.
		trimmed := bytes.TrimRight(body, " \t\r\n")
		if len(trimmed) == 0 || trimmed[len(trimmed)-1] != '}' {
			return nil, fmt.Errorf("request body is not a json object")
		}
		inner := bytes.TrimRight(trimmed[:len(trimmed)-1], " \t\r\n")
		out := make([]byte, 0, len(trimmed)+40)
		out = append(out, inner...)
		if len(inner) > 0 && inner[len(inner)-1] != '{' {
			out = append(out, ',')
		}
		out = append(out, `"stream_options":{"include_usage":true}}`...)
		return out, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return nil, fmt.Errorf("invalid json body: %w", err)
	}
	var opts map[string]json.RawMessage
	if err := json.Unmarshal(obj["stream_options"], &opts); err != nil || opts == nil {
		opts = map[string]json.RawMessage{}
	}
	opts["include_usage"] = json.RawMessage("true")
	raw, err := json.Marshal(opts)
	if err != nil {
		return nil, err
	}
	obj["stream_options"] = raw
	return json.Marshal(obj)
}

// NewStream frames text/event-stream responses as SSE events.
func (p *Provider) NewStream(req *provider.Request, resp *http.Response) (provider.Stream, bool) {
	if !strings.HasPrefix(strings.ToLower(resp.Header.Get("Content-Type")), "text/event-stream") {
		return nil, false
	}
	st, _ := req.State.(*streamState)
	return &stream{addedUsage: st != nil && st.addedUsage}, true
}

type stream struct {
	addedUsage bool
	done       bool // data: [DONE] was relayed
}

var _ provider.StreamCompletion = (*stream)(nil)

// Complete reports whether the stream's data: [DONE] was relayed.
func (s *stream) Complete() bool { return s.done }

// isDone reports whether ev is the data: [DONE] event that ends a stream.
func isDone(ev []byte) bool {
	if len(ev) > 24 {
		return false
	}
	rest, ok := bytes.CutPrefix(bytes.TrimSpace(ev), []byte("data:"))
	return ok && string(bytes.TrimSpace(rest)) == "[DONE]"
}

func (s *stream) Split(data []byte, atEOF bool) (int, []byte, error) { return sse.Split(data, atEOF) }

var (
	usageNull   = []byte(`,"usage":null`)
	emptyChoice = []byte(`"choices":[]`)
	usageObject = []byte(`"usage":{`)
)

// Relay hides what the proxy added: the usage chunk and the "usage":null that every chunk
// carries once usage was asked for. A literal `,"usage":null` cannot occur inside a JSON
// string (its quotes would be escaped), so the byte search cannot hit content.
func (s *stream) Relay(ev []byte) []byte {
	if isDone(ev) {
		s.done = true
		return ev
	}
	if !s.addedUsage {
		return ev
	}
	if bytes.Contains(ev, emptyChoice) && bytes.Contains(ev, usageObject) {
		return nil
	}
	if bytes.Contains(ev, usageNull) {
		return bytes.ReplaceAll(ev, usageNull, nil)
	}
	return ev
}

// SummarizeRequest extracts model, user and the last user text of a request body.
func (p *Provider) SummarizeRequest(endpoint string, body []byte) provider.Summary {
	return summarizeRequest(endpoint, body)
}

// SummarizeResponse extracts the model, the assistant text, tool calls and usage of a
// response body or of a raw SSE stream.
func (p *Provider) SummarizeResponse(endpoint string, body []byte, stream bool) provider.Summary {
	return summarizeResponse(endpoint, body, stream)
}
