package openai

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/aiproxy-go/aiproxy/provider"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// Azure OpenAI speaks the OpenAI wire format under its own paths and credentials:
//
//	POST {endpoint}/openai/deployments/{deployment}/chat/completions?api-version=2024-10-21
//	POST {endpoint}/openai/v1/chat/completions            (the v1 API, no api-version)
//	api-key: {key}
//
// The Azure provider below reuses the OpenAI provider's parsing, stream relay, rendering and
// log extraction; only routing, the upstream URL and the credential differ.

// AzureOptions configures an Azure provider.
type AzureOptions struct {
	// Name is the provider's name in the log and the prefix of its alias routes
	// (/{name}/openai/...). Default "azure". Only the provider named "azure" also serves the
	// paths the Azure SDKs call, /openai/deployments/... and /openai/...; give a second
	// Azure provider another name and point its clients at /{name}.
	Name string
	// Endpoint is the Azure OpenAI resource, e.g. https://{resource}.openai.azure.com. A
	// trailing /openai or /openai/v1 is ignored.
	Endpoint string
	// APIKey is sent upstream in the api-key header, in place of whatever credential the
	// client sent (api-key or Authorization). When empty, the client's own api-key and
	// Authorization headers are forwarded as they are (Microsoft Entra ID tokens work so).
	APIKey string
	// Deployments sends some deployments to another resource: the key is the deployment
	// name (in the path, or the body's model for the v1 API), the value the resource and key
	// to use for it. An empty field of the value falls back to Endpoint or APIKey.
	Deployments map[string]AzureDeployment
}

// AzureDeployment is the upstream of one deployment, overriding AzureOptions.
type AzureDeployment struct {
	// Endpoint is the Azure OpenAI resource serving the deployment.
	Endpoint string
	// APIKey is that resource's key.
	APIKey string
}

// Azure is the Azure OpenAI provider. Create it with NewAzure.
//
// Routes. The provider named "azure" serves:
//   - /openai/deployments/{deployment}/... always (chat/completions, completions,
//     embeddings and whatever else the deployment serves, any api-version);
//   - /azure/openai/... always: the unambiguous alias, e.g. /azure/openai/v1/... for
//     Azure's v1 API called with a plain OpenAI client, which sends its key as a Bearer token;
//   - any other /openai/... path (the v1 API /openai/v1/..., /openai/responses, /openai/files,
//     ...) only when the request carries an api-key header or an api-version query
//     parameter, which the Azure SDKs send and OpenAI clients never do. Without either, the
//     request is left to the OpenAI provider, which also serves /openai/v1/...; so the Azure
//     provider must come before the OpenAI provider in aiproxy.Options.Providers.
//
// A provider with another name serves only /{name}/openai/....
//
// Every path is forwarded as it is, with its query (api-version included), to the resource's
// endpoint. Stream usage is obtained as for OpenAI: a stream that did not ask for usage
// gets stream_options.include_usage added upstream (for api-versions from 2024-09-01 and the
// v1 API; older versions reject the field) and the extra usage chunk is hidden from the
// client. Azure's content filter results pass through untouched.
type Azure struct {
	name        string
	prefix      string // "/" + name
	root        bool   // serves the Azure SDKs' paths at the root
	base        *Provider
	upstream    azureUpstream
	deployments map[string]azureUpstream
}

var _ provider.Provider = (*Azure)(nil)

// azureUpstream is a resource and its key.
type azureUpstream struct {
	endpoint string // without a trailing "/"; "" when not configured
	apiKey   string
}

// NewAzure returns an Azure OpenAI provider.
func NewAzure(opts AzureOptions) *Azure {
	a := &Azure{name: opts.Name}
	if a.name == "" {
		a.name = "azure"
	}
	a.prefix = "/" + a.name
	a.root = a.name == "azure"
	a.base = New(Options{Name: a.name})
	a.upstream = azureUpstream{endpoint: azureEndpoint(opts.Endpoint), apiKey: opts.APIKey}
	if len(opts.Deployments) > 0 {
		a.deployments = make(map[string]azureUpstream, len(opts.Deployments))
		for name, d := range opts.Deployments {
			u := a.upstream
			if d.Endpoint != "" {
				u.endpoint = azureEndpoint(d.Endpoint)
			}
			if d.APIKey != "" {
				u.apiKey = d.APIKey
			}
			a.deployments[name] = u
		}
	}
	return a
}

// azureEndpoint trims what an operator may paste after the resource's root.
func azureEndpoint(s string) string {
	s = strings.TrimRight(strings.TrimSpace(s), "/")
	s = strings.TrimSuffix(s, "/openai/v1")
	s = strings.TrimSuffix(s, "/openai")
	return s
}

// Name returns the provider's name.
func (a *Azure) Name() string { return a.name }

// Match serves /openai/deployments/..., /{name}/openai/..., and the other /openai/... paths
// when the request carries an api-key header or an api-version query parameter (see Azure).
// The endpoint is the path below the resource's root, e.g.
// "/openai/deployments/gpt-4o/chat/completions".
func (a *Azure) Match(r *http.Request) (string, bool) {
	path := r.URL.Path
	if rest, ok := strings.CutPrefix(path, a.prefix); ok && isAzurePath(rest) {
		return rest, true
	}
	if !a.root || !isAzurePath(path) {
		return "", false
	}
	if deploymentOf(path) != "" || r.Header.Get("Api-Key") != "" || hasQueryKey(r.URL.RawQuery, "api-version") {
		return path, true
	}
	return "", false
}

// isAzurePath reports whether path is below /openai/ and free of dot segments, which
// would let a client reach other paths of the resource with the proxy's key.
func isAzurePath(path string) bool {
	rest, ok := strings.CutPrefix(path, "/openai/")
	if !ok || rest == "" {
		return false
	}
	for seg := range strings.SplitSeq(rest, "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// hasQueryKey reports whether a raw query has the key, without parsing it all.
func hasQueryKey(rawQuery, key string) bool {
	for rawQuery != "" {
		var part string
		part, rawQuery, _ = strings.Cut(rawQuery, "&")
		k, _, _ := strings.Cut(part, "=")
		if k == key {
			return true
		}
	}
	return false
}

// deploymentOf returns the deployment named by an endpoint
// /openai/deployments/{deployment}/..., or "".
func deploymentOf(endpoint string) string {
	rest, ok := strings.CutPrefix(endpoint, "/openai/deployments/")
	if !ok {
		return ""
	}
	d, _, _ := strings.Cut(rest, "/")
	return d
}

// operationOf returns an endpoint as the OpenAI API names it:
// /openai/deployments/{d}/chat/completions and /openai/v1/chat/completions both give
// /chat/completions.
func operationOf(endpoint string) string {
	if rest, ok := strings.CutPrefix(endpoint, "/openai/deployments/"); ok {
		if _, op, ok := strings.Cut(rest, "/"); ok {
			return "/" + op
		}
		return "/"
	}
	if rest, ok := strings.CutPrefix(endpoint, "/openai/v1/"); ok {
		return "/" + rest
	}
	if rest, ok := strings.CutPrefix(endpoint, "/openai/"); ok {
		return "/" + rest
	}
	return endpoint
}

// Parse validates a JSON body and reads model, stream and user from it, as for OpenAI. The
// model is the body's, else the deployment named in the path.
func (a *Azure) Parse(req *provider.Request) error {
	if err := a.base.Parse(req); err != nil {
		return err
	}
	if req.Model == "" {
		req.Model = deploymentOf(req.Endpoint)
	}
	return nil
}

// Prepare builds the upstream request: the endpoint of the deployment's resource, the path
// and query as the client sent them, and the configured key in the api-key header only.
// A stream of chat completions or completions that did not ask for usage is made to ask
// for it, as for OpenAI, when the api-version accepts stream_options.
func (a *Azure) Prepare(ctx context.Context, req *provider.Request) (*http.Request, error) {
	up := a.upstreamFor(req)
	if up.endpoint == "" {
		return nil, &provider.Error{Status: http.StatusInternalServerError, Type: "server_error",
			Message: "the proxy has no azure openai endpoint configured for this deployment"}
	}
	base, err := url.Parse(up.endpoint)
	if err != nil || base.Scheme == "" || base.Host == "" {
		return nil, &provider.Error{Status: http.StatusInternalServerError, Type: "server_error",
			Message: "the proxy's azure openai endpoint is not a valid url", Err: err}
	}
	st, _ := req.State.(*streamState)
	if st != nil && !st.clientUsage && !st.addedUsage && streamUsageAccepted(req.Endpoint, req.RawQuery) {
		body, err := withStreamUsage(req.Body, st.hasOptions)
		if err != nil {
			return nil, &provider.Error{Status: http.StatusBadRequest, Type: "invalid_request_error", Message: err.Error(), Err: err}
		}
		req.Body = body
		st.addedUsage = true
	}
	u := *base
	u.Path = strings.TrimRight(base.Path, "/") + req.Endpoint
	u.RawPath = ""
	u.RawQuery = req.RawQuery
	var body *bytes.Reader
	if req.Body != nil {
		body = bytes.NewReader(req.Body)
	}
	var out *http.Request
	if body != nil {
		out, err = http.NewRequestWithContext(ctx, req.Method, u.String(), body)
	} else {
		out, err = http.NewRequestWithContext(ctx, req.Method, u.String(), nil)
	}
	if err != nil {
		return nil, fmt.Errorf("azure: build upstream request: %w", err)
	}
	out.Header = req.Header.Clone()
	if up.apiKey != "" {
		// Azure reads api-key; a Bearer token beside it would be the client's key, or
		// worse the proxy's own sent where Azure does not expect it.
		out.Header.Del("Authorization")
		out.Header.Set("Api-Key", up.apiKey)
	}
	return out, nil
}

// upstreamFor returns the resource serving the request's deployment: the path's, or the
// body's model for the routes without one (the v1 API).
func (a *Azure) upstreamFor(req *provider.Request) azureUpstream {
	if a.deployments != nil {
		name := deploymentOf(req.Endpoint)
		if name == "" {
			name = req.Model
		}
		if u, ok := a.deployments[name]; ok {
			return u
		}
	}
	return a.upstream
}

// streamOptionsSince is the first api-version whose chat completions and completions accept
// stream_options (2024-09-01-preview; 2024-10-21 among the stable ones). Older versions
// answer 400 to an unknown field.
const streamOptionsSince = "2024-09-01"

// streamUsageAccepted reports whether the proxy may add stream_options to a request: a chat
// completions or completions stream, on the v1 API or with an api-version recent enough.
func streamUsageAccepted(endpoint, rawQuery string) bool {
	switch operationOf(endpoint) {
	case "/chat/completions", "/completions":
	default:
		return false
	}
	if strings.HasPrefix(endpoint, "/openai/v1/") {
		return true
	}
	q, _ := url.ParseQuery(rawQuery)
	v := q.Get("api-version")
	if v == "" {
		return false // Azure answers 404 anyway
	}
	if isDate(v) {
		return v[:len(streamOptionsSince)] >= streamOptionsSince
	}
	return true // "preview", "latest" and other undated versions are the newest
}

// isDate reports whether s starts with a date as YYYY-MM-DD.
func isDate(s string) bool {
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	for i, c := range s[:10] {
		if i != 4 && i != 7 && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// NewStream frames text/event-stream responses as SSE events and hides the usage chunk the
// proxy asked for, as for OpenAI. Azure's first chunk (prompt filter results, empty choices,
// no usage) and the content filter results of later chunks reach the client untouched.
func (a *Azure) NewStream(req *provider.Request, resp *http.Response) (provider.Stream, bool) {
	return a.base.NewStream(req, resp)
}

// Render renders a reply as the OpenAI operation the endpoint names would answer it: a chat
// completion (or its stream), or a Responses API response.
func (a *Azure) Render(req *provider.Request, r *provider.Reply) *provider.Response {
	op := *req
	op.Endpoint = operationOf(req.Endpoint)
	return a.base.Render(&op, r)
}

// Error renders Azure's error shape, which is OpenAI's: {"error":{"message","type","param",
// "code"}}. Azure always names a code, so the status stands in for an empty one, as Azure's
// own gateway errors do ({"code":"404","message":"Resource not found"}).
func (a *Azure) Error(req *provider.Request, e *provider.Error) *provider.Response {
	c := *e
	if c.Code == "" {
		c.Code = strconv.Itoa(c.Status)
	}
	return a.base.Error(req, &c)
}

// SummarizeRequest extracts model, user and the last user text of a request body; the model
// is the deployment's when the body names none.
func (a *Azure) SummarizeRequest(endpoint string, body []byte) provider.Summary {
	s := summarizeRequest(endpoint, body)
	if s.Model == "" {
		s.Model = deploymentOf(endpoint)
	}
	return s
}

// SummarizeResponse extracts the model, the assistant text, tool calls and usage of a
// response body or of a raw SSE stream. Azure's prompt filter chunk, whose model is empty,
// does not hide the model of the chunks after it.
func (a *Azure) SummarizeResponse(endpoint string, body []byte, stream bool) provider.Summary {
	return summarizeResponse(endpoint, body, stream)
}

var _ provider.ModelSetter = (*Azure)(nil)

// SetModel sends the request to another deployment: the deployment in the path of
// /openai/deployments/{deployment}/..., or the body's model on the v1 paths.
func (a *Azure) SetModel(req *provider.Request, model string) error {
	if d := deploymentOf(req.Endpoint); d != "" {
		req.Endpoint = "/openai/deployments/" + url.PathEscape(model) + operationOf(req.Endpoint)
		if gjson.GetBytes(req.Body, "model").Exists() {
			body, err := sjson.SetBytes(req.Body, "model", model)
			if err != nil {
				return fmt.Errorf("azure: set model: %w", err)
			}
			req.Body = body
		}
		req.Model = model
		return nil
	}
	body, err := sjson.SetBytes(req.Body, "model", model)
	if err != nil {
		return fmt.Errorf("azure: set model: %w", err)
	}
	req.Body = body
	req.Model = model
	return nil
}
