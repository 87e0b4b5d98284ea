// Package gemini is the provider for the Google Gemini API (Google AI Studio,
// generativelanguage.googleapis.com).
//
// It serves the API at its own paths, /v1beta/..., /v1alpha/..., /upload/v1beta/... and the
// Gemini methods of /v1/models/{model}:{method}, and under the prefixes /googleaistudio/...
// (the original AIProxy's) and /gemini/.... The endpoint logged is the path below the API
// root, version included: "/v1beta/models/gemini-2.5-flash:generateContent".
//
// generateContent and streamGenerateContent are fully featured, streamed as Server-Sent
// Events (?alt=sse, what the official SDKs ask for) or as the JSON array that the API
// streams by default; every other method (countTokens, embedContent, batchEmbedContents,
// the model list, files, cached contents, ...) is relayed and logged.
//
// The client's API key, sent in the x-goog-api-key header or the key query parameter, is
// replaced by the proxy's, which always goes upstream in the x-goog-api-key header, never in
// a URL that could reach a log.
package gemini

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/aiproxy-go/aiproxy/provider"
)

// DefaultBaseURL is the upstream used when Options.BaseURL is empty. The API version is part
// of each endpoint, not of the base URL.
const DefaultBaseURL = "https://generativelanguage.googleapis.com"

// headerAPIKey is the header that carries a Gemini API key.
const headerAPIKey = "X-Goog-Api-Key"

// Options configures a Provider.
type Options struct {
	// Name is the provider's name in the log. The default, "gemini", serves the API at its
	// own paths and under /googleaistudio/ and /gemini/; any other name serves it only
	// under /{name}/, so that a second Gemini account can sit beside the first.
	Name string
	// BaseURL is the upstream API root, without the version:
	// https://generativelanguage.googleapis.com by default.
	BaseURL string
	// APIKey replaces the client's key upstream. When empty, the client's own key is
	// forwarded (moved from the query string to the x-goog-api-key header).
	APIKey string
}

// Provider is the Gemini provider. Create it with New.
type Provider struct {
	name     string
	base     *url.URL
	apiKey   string
	prefixes []string
	root     bool // serves the API's own paths, not only under a prefix
}

var _ provider.Provider = (*Provider)(nil)

// New returns a Gemini provider. A BaseURL that is not an absolute URL makes every request
// fail with a 500 that names it.
func New(opts Options) *Provider {
	p := &Provider{name: opts.Name, apiKey: opts.APIKey}
	if p.name == "" {
		p.name = "gemini"
	}
	base := strings.TrimRight(opts.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := url.Parse(base)
	if err != nil || u.Scheme == "" || u.Host == "" {
		u = &url.URL{Scheme: "invalid", Opaque: base}
	}
	p.base = u
	if p.name == "gemini" {
		p.prefixes = []string{"/googleaistudio", "/gemini"}
		p.root = true
	} else {
		p.prefixes = []string{"/" + p.name}
	}
	return p
}

// Name returns the provider's name.
func (p *Provider) Name() string { return p.name }

// Match serves /googleaistudio/..., /gemini/... (or /{name}/... for a named provider) and,
// for the default provider, the API's own paths: /v1beta/..., /v1alpha/..., /upload/...,
// /v1/models/{model}:{method} and /v1/tunedModels/...; any other /v1/ path (the model list
// above all) only when the request carries a Gemini key (an x-goog-api-key header or a key
// query parameter), since the OpenAI API lives under /v1/ too.
func (p *Provider) Match(r *http.Request) (string, bool) {
	path := r.URL.Path
	for _, pre := range p.prefixes {
		if rest, ok := strings.CutPrefix(path, pre); ok && strings.HasPrefix(rest, "/") && len(rest) > 1 {
			return rest, true
		}
	}
	if !p.root {
		return "", false
	}
	if isGeminiPath(r, path) {
		return path, true
	}
	return "", false
}

// isGeminiPath reports whether a path at the root belongs to the Gemini API.
func isGeminiPath(r *http.Request, path string) bool {
	for _, pre := range []string{"/v1beta/", "/v1alpha/", "/upload/"} {
		if rest, ok := strings.CutPrefix(path, pre); ok && rest != "" {
			return true
		}
	}
	rest, ok := strings.CutPrefix(path, "/v1/")
	if !ok || rest == "" {
		return false
	}
	if strings.HasPrefix(rest, "tunedModels/") {
		return true
	}
	if m, ok := strings.CutPrefix(rest, "models/"); ok {
		// Gemini's "models/{model}:{method}". OpenAI's fine-tuned model ids have colons
		// too (ft:gpt-4o-mini:org::id), but OpenAI never POSTs to a model and its ids do not
		// end in a Gemini method.
		if i := strings.LastIndexByte(m, ':'); i >= 0 {
			method := m[i+1:]
			if knownMethods[method] || (r.Method == http.MethodPost && isMethodName(method)) {
				return true
			}
		}
	}
	return hasGoogleKey(r)
}

// knownMethods are the custom methods of the Gemini API's models.
var knownMethods = map[string]bool{
	"generateContent": true, "streamGenerateContent": true, "countTokens": true,
	"embedContent": true, "batchEmbedContents": true, "batchGenerateContent": true,
	"asyncBatchEmbedContent": true, "predict": true, "predictLongRunning": true,
	"generateAnswer": true, "generateText": true, "embedText": true, "batchEmbedText": true,
	"countTextTokens": true, "generateMessage": true, "countMessageTokens": true,
	"bidiGenerateContent": true,
}

// isMethodName reports whether s is a lowerCamelCase method name.
func isMethodName(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
			return false
		}
	}
	return true
}

// hasGoogleKey reports whether the request carries a Gemini API key.
func hasGoogleKey(r *http.Request) bool {
	if r.Header.Get(headerAPIKey) != "" {
		return true
	}
	_, key := stripKey(r.URL.RawQuery)
	return key != ""
}

// stripKey returns the query without its key parameters, every other byte as it was, and
// the value of the first key parameter.
func stripKey(rawQuery string) (rest, key string) {
	if rawQuery == "" {
		return "", ""
	}
	if !strings.Contains(rawQuery, "key") && !strings.Contains(rawQuery, "%") {
		return rawQuery, ""
	}
	var kept []string
	found := false
	for part := range strings.SplitSeq(rawQuery, "&") {
		name, value, _ := strings.Cut(part, "=")
		if n, err := url.QueryUnescape(name); err == nil && n == "key" {
			if !found {
				if v, err := url.QueryUnescape(value); err == nil {
					key = v
				} else {
					key = value
				}
				found = true
			}
			continue
		}
		kept = append(kept, part)
	}
	if !found {
		return rawQuery, ""
	}
	return strings.Join(kept, "&"), key
}

// endpointParts splits an endpoint into the model's resource name (without "models/") and
// the custom method: "/v1beta/models/gemini-2.5-flash:generateContent" gives
// "gemini-2.5-flash" and "generateContent". A tuned model keeps its collection:
// "tunedModels/my-model".
func endpointParts(endpoint string) (model, method string) {
	e, _, _ := strings.Cut(endpoint, "?")
	last := e[strings.LastIndexByte(e, '/')+1:]
	if i := strings.LastIndexByte(last, ':'); i >= 0 {
		method = last[i+1:]
		e = e[:len(e)-len(last)+i]
	}
	collection := ""
	if i := strings.Index(e, "/models/"); i >= 0 {
		model = e[i+len("/models/"):]
	} else if i := strings.Index(e, "/tunedModels/"); i >= 0 {
		model, collection = e[i+len("/tunedModels/"):], "tunedModels/"
	}
	if i := strings.IndexByte(model, '/'); i >= 0 {
		model = model[:i]
	}
	if model == "" {
		return "", method
	}
	return collection + model, method
}

// isStreamMethod reports whether the endpoint streams its answer.
func isStreamMethod(endpoint string) bool {
	_, m := endpointParts(endpoint)
	return m == "streamGenerateContent"
}

// wantsSSE reports whether the query asks for a stream of Server-Sent Events (alt=sse);
// without it the API streams one JSON array.
func wantsSSE(rawQuery string) bool {
	if !strings.Contains(rawQuery, "alt") {
		return false
	}
	q, _ := url.ParseQuery(rawQuery)
	return strings.EqualFold(q.Get("alt"), "sse")
}

// Parse reads the model and the stream flag from the path, validates a JSON body and moves
// a key the client sent in the query string into the x-goog-api-key header, so that no URL
// the proxy builds or logs holds a key.
func (p *Provider) Parse(req *provider.Request) error {
	if rest, key := stripKey(req.RawQuery); key != "" || rest != req.RawQuery {
		req.RawQuery = rest
		if req.Header == nil {
			req.Header = http.Header{}
		}
		if key != "" && req.Header.Get(headerAPIKey) == "" {
			req.Header.Set(headerAPIKey, key)
		}
	}
	req.Model, _ = endpointParts(req.Endpoint)
	req.Stream = isStreamMethod(req.Endpoint)
	req.User = ""
	req.State = nil
	if len(req.Body) == 0 || !provider.IsJSON(req.Header.Get("Content-Type")) {
		return nil
	}
	if !json.Valid(req.Body) {
		var v any
		err := json.Unmarshal(req.Body, &v)
		return &provider.Error{Status: http.StatusBadRequest, Type: "INVALID_ARGUMENT",
			Message: "invalid json payload received: " + strings.TrimPrefix(fmt.Sprint(err), "json: "), Err: err}
	}
	if req.Model == "" {
		// Some methods name the model in the body only (cachedContents, batches).
		var f struct {
			Model json.RawMessage `json:"model"`
		}
		if json.Unmarshal(req.Body, &f) == nil {
			req.Model = strings.TrimPrefix(provider.JSONString(f.Model), "models/")
		}
	}
	return nil
}

// Prepare builds the upstream request: the base URL, the endpoint and the client's query
// without any key; the proxy's key in x-goog-api-key in place of the client's (whose
// Authorization header, an OAuth token, is dropped too), or the client's key when the
// proxy has none. The body goes upstream as the filters left it.
func (p *Provider) Prepare(ctx context.Context, req *provider.Request) (*http.Request, error) {
	if p.base.Scheme == "invalid" {
		return nil, fmt.Errorf("gemini: base url %q is not an absolute url", p.base.Opaque)
	}
	query, clientKey := stripKey(req.RawQuery)
	u := *p.base
	u.Path = strings.TrimRight(u.Path, "/") + req.Endpoint
	u.RawPath = ""
	u.RawQuery = query
	u.Fragment = ""
	var up *http.Request
	var err error
	if req.Body != nil {
		up, err = http.NewRequestWithContext(ctx, req.Method, u.String(), bytes.NewReader(req.Body))
	} else {
		up, err = http.NewRequestWithContext(ctx, req.Method, u.String(), nil)
	}
	if err != nil {
		return nil, fmt.Errorf("gemini: build upstream request: %w", err)
	}
	up.Header = req.Header.Clone()
	if up.Header == nil {
		up.Header = http.Header{}
	}
	if p.apiKey != "" {
		up.Header.Set(headerAPIKey, p.apiKey)
		up.Header.Del("Authorization")
	} else if clientKey != "" && up.Header.Get(headerAPIKey) == "" {
		up.Header.Set(headerAPIKey, clientKey)
	}
	return up, nil
}

// NewStream frames a streamed answer: text/event-stream as SSE events, and the JSON array
// of streamGenerateContent without alt=sse element by element.
func (p *Provider) NewStream(req *provider.Request, resp *http.Response) (provider.Stream, bool) {
	ct := strings.ToLower(resp.Header.Get("Content-Type"))
	if strings.HasPrefix(ct, "text/event-stream") {
		return sseStream{}, true
	}
	if isStreamMethod(req.Endpoint) && (ct == "" || strings.Contains(ct, "json")) {
		return arrayStream{}, true
	}
	return nil, false
}

// SummarizeRequest extracts the model and the last user text of a request body.
func (p *Provider) SummarizeRequest(endpoint string, body []byte) provider.Summary {
	return summarizeRequest(endpoint, body)
}

// SummarizeResponse extracts the model version, the answer's text, its function calls and
// usage from a response body, an SSE stream or a streamed JSON array.
func (p *Provider) SummarizeResponse(endpoint string, body []byte, stream bool) provider.Summary {
	return summarizeResponse(endpoint, body, stream)
}

var _ provider.ModelSetter = (*Provider)(nil)

// SetModel changes the model in the request's path, .../models/{model}:{method}.
func (p *Provider) SetModel(req *provider.Request, model string) error {
	old, _ := endpointParts(req.Endpoint)
	if old == "" {
		return fmt.Errorf("gemini: set model: endpoint %q names no model", req.Endpoint)
	}
	model = strings.TrimPrefix(model, "models/")
	seg := "/models/" + old
	if strings.HasPrefix(old, "tunedModels/") {
		seg = "/" + old
	}
	i := strings.Index(req.Endpoint, seg)
	if i < 0 {
		return fmt.Errorf("gemini: set model: endpoint %q names no model", req.Endpoint)
	}
	repl := "/models/" + model
	if strings.HasPrefix(model, "tunedModels/") {
		repl = "/" + model
	}
	req.Endpoint = req.Endpoint[:i] + repl + req.Endpoint[i+len(seg):]
	req.Model = model
	return nil
}
