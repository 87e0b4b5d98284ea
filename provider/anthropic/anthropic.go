// Package anthropic is the provider for the Anthropic API (the Messages API of Claude).
//
// It serves everything under /anthropic/ (the endpoint is the rest of the path, so
// /anthropic/v1/messages goes to {BaseURL}/v1/messages), and under /v1/ the Messages API
// (/v1/messages, /v1/messages/count_tokens, /v1/messages/batches/...) and any request that
// carries an anthropic-version header, as the Anthropic SDKs send on every call. Register
// it before the OpenAI provider, which serves the rest of /v1/.
//
// The client's credential, sent by current SDKs as "Authorization: Bearer" and by older
// ones as x-api-key, is replaced by the provider's key, sent as x-api-key.
// anthropic-version and anthropic-beta pass through; a request without anthropic-version
// gets Options.Version. Request bodies go upstream byte for byte and streams are relayed
// event by event as they arrive. A stream that the API ends with an error event after its
// 200 (an overloaded_error, say) reaches the client as it came and is logged as an error
// row, with the status the same error has outside a stream (529 for overloaded_error).
//
// # Usage in the log
//
// Anthropic reports input_tokens without the tokens written to or read from the prompt
// cache; the log's prompt_tokens is the whole prompt, as for the other providers:
//
//	prompt_tokens     = input_tokens + cache_creation_input_tokens + cache_read_input_tokens
//	cached_tokens     = cache_read_input_tokens
//	completion_tokens = output_tokens
//	reasoning_tokens  = output_tokens_details.thinking_tokens, when reported
//
// A tool_use block is logged as a tool call whose id is the block's id, whose function
// name is the tool's name and whose arguments are the input as a JSON string. The text
// of thinking blocks is not part of content (which is the assistant's text); it stays
// in the logged raw body.
package anthropic

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

// Defaults of Options.
const (
	// DefaultBaseURL is the upstream used when Options.BaseURL is empty. It has no /v1:
	// the endpoint carries it.
	DefaultBaseURL = "https://api.anthropic.com"
	// DefaultVersion is the anthropic-version sent for a client that sent none.
	DefaultVersion = "2023-06-01"
)

// Options configures a Provider.
type Options struct {
	// Name is the provider's name in the log. Default "anthropic". A provider with
	// another name (a second account, a compatible server) is served under /{name}/
	// only, and does not claim /v1/.
	Name string
	// BaseURL is the upstream API root, without /v1. Default DefaultBaseURL.
	BaseURL string
	// APIKey replaces the client's credential upstream, sent as x-api-key. When empty the
	// client's own credential (Authorization or x-api-key) is forwarded.
	APIKey string
	// Version is the anthropic-version sent upstream when the client sent none.
	// Default DefaultVersion.
	Version string
}

// Provider is the Anthropic provider. Create it with New.
type Provider struct {
	name    string
	baseURL string
	apiKey  string
	version string
	prefix  string // "/anthropic/" or "/{name}/"
	claimV1 bool
}

var _ provider.Provider = (*Provider)(nil)

// New returns an Anthropic provider.
func New(opts Options) *Provider {
	p := &Provider{name: opts.Name, baseURL: strings.TrimRight(opts.BaseURL, "/"), apiKey: opts.APIKey, version: opts.Version}
	if p.name == "" {
		p.name = "anthropic"
	}
	if p.baseURL == "" {
		p.baseURL = DefaultBaseURL
	}
	if p.version == "" {
		p.version = DefaultVersion
	}
	p.prefix = "/" + p.name + "/"
	p.claimV1 = p.name == "anthropic"
	return p
}

// Name returns the provider's name.
func (p *Provider) Name() string { return p.name }

// Match serves /anthropic/... (endpoint: the rest of the path), /v1/messages and
// /v1/messages/..., and any other /v1/... request with an anthropic-version header. The
// endpoint of a /v1/ path is the path itself.
func (p *Provider) Match(r *http.Request) (string, bool) {
	path := r.URL.Path
	if rest, ok := strings.CutPrefix(path, p.prefix); ok && rest != "" {
		return "/" + rest, true
	}
	if !p.claimV1 || !strings.HasPrefix(path, "/v1/") || len(path) == len("/v1/") {
		return "", false
	}
	if path == "/v1/messages" || strings.HasPrefix(path, "/v1/messages/") || r.Header.Get("Anthropic-Version") != "" {
		return path, true
	}
	return "", false
}

// requestFields are the few fields the proxy reads on the hot path; RawMessage keeps the
// decoder from building values it does not need while it still validates the whole body.
type requestFields struct {
	Model    json.RawMessage `json:"model"`
	Stream   json.RawMessage `json:"stream"`
	Metadata json.RawMessage `json:"metadata"`
}

// Parse validates a JSON body and reads model, stream and user (metadata.user_id) from
// it. Invalid JSON is a 400 invalid_request_error.
func (p *Provider) Parse(req *provider.Request) error {
	if len(req.Body) == 0 || !provider.IsJSON(req.Header.Get("Content-Type")) {
		return nil
	}
	var f requestFields
	if err := json.Unmarshal(req.Body, &f); err != nil {
		return &provider.Error{Status: http.StatusBadRequest, Type: "invalid_request_error",
			Message: "the request body is not valid json: " + strings.TrimPrefix(err.Error(), "json: "), Err: err}
	}
	req.Model = provider.JSONString(f.Model)
	req.Stream = bytes.Equal(bytes.TrimSpace(f.Stream), []byte("true"))
	req.User = ""
	if len(f.Metadata) > 0 && f.Metadata[0] == '{' {
		var m struct {
			UserID json.RawMessage `json:"user_id"`
		}
		if json.Unmarshal(f.Metadata, &m) == nil {
			req.User = provider.JSONString(m.UserID)
		}
	}
	return nil
}

// Prepare builds the upstream request: the body as it is, the provider's key as x-api-key
// in place of any credential of the client, anthropic-version when the client sent none.
func (p *Provider) Prepare(ctx context.Context, req *provider.Request) (*http.Request, error) {
	url := p.baseURL + req.Endpoint
	if req.RawQuery != "" {
		url += "?" + req.RawQuery
	}
	var (
		up  *http.Request
		err error
	)
	if req.Body != nil {
		up, err = http.NewRequestWithContext(ctx, req.Method, url, bytes.NewReader(req.Body))
	} else {
		up, err = http.NewRequestWithContext(ctx, req.Method, url, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("anthropic: build upstream request: %w", err)
	}
	up.Header = req.Header.Clone()
	if p.apiKey != "" {
		up.Header.Del("Authorization")
		up.Header.Set("X-Api-Key", p.apiKey)
	}
	if up.Header.Get("Anthropic-Version") == "" {
		up.Header.Set("Anthropic-Version", p.version)
	}
	return up, nil
}

// NewStream frames text/event-stream responses as SSE events, relayed as they are.
func (p *Provider) NewStream(req *provider.Request, resp *http.Response) (provider.Stream, bool) {
	if !strings.HasPrefix(strings.ToLower(resp.Header.Get("Content-Type")), "text/event-stream") {
		return nil, false
	}
	return &stream{}, true
}

// stream relays every event untouched: the proxy adds nothing to an Anthropic stream. It
// notes the first error event, with which the API ends a stream that failed after its 200.
type stream struct {
	failed *provider.Error
	done   bool // the message_stop event was relayed
}

var (
	_ provider.StreamFailure    = (*stream)(nil)
	_ provider.StreamCompletion = (*stream)(nil)
)

// Complete reports whether the stream's message_stop event was relayed.
func (s *stream) Complete() bool { return s.done }

var messageStop = []byte("event: message_stop")

func (s *stream) Split(data []byte, atEOF bool) (int, []byte, error) { return sse.Split(data, atEOF) }

var errorWord = []byte("error")

// Relay returns the event as it came. An event that mentions "error" at all, which text
// deltas rarely do, is parsed to see whether it is an error event.
func (s *stream) Relay(ev []byte) []byte {
	if bytes.HasPrefix(ev, messageStop) {
		s.done = true
	}
	if s.failed == nil && bytes.Contains(ev, errorWord) {
		s.failed = streamError(ev)
	}
	return ev
}

// Failure returns the error of the stream's error event, nil when it had none. Its status
// is the one the API gives the same error type outside a stream: 529 for overloaded_error,
// 429 for rate_limit_error, 500 for api_error, ...
func (s *stream) Failure() *provider.Error { return s.failed }

// streamError returns the error an error event carries, nil for any other event.
func streamError(ev []byte) *provider.Error {
	e := sse.Parse(ev)
	var data struct {
		Type  string          `json:"type"`
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal([]byte(e.Data), &data) != nil || (e.Event != "error" && data.Type != "error") {
		return nil
	}
	var obj struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	}
	_ = json.Unmarshal(data.Error, &obj)
	msg := obj.Message
	if msg == "" {
		msg = "upstream stream failed: " + obj.Type
	}
	return &provider.Error{Status: statusOf(obj.Type), Type: obj.Type, Message: msg}
}

// SummarizeRequest extracts the model, the user (metadata.user_id), the last user text
// and the prompt text of a request body.
func (p *Provider) SummarizeRequest(endpoint string, body []byte) provider.Summary {
	return summarizeRequest(endpoint, body)
}

// SummarizeResponse extracts the model, the assistant text, the tool_use blocks as tool
// calls and the usage of a Message, of a raw event stream (rebuilt from its deltas, also
// when it was cut short), or the message of an error body or error event.
func (p *Provider) SummarizeResponse(endpoint string, body []byte, stream bool) provider.Summary {
	return summarizeResponse(endpoint, body, stream)
}
