// Package bedrock is the provider for the Amazon Bedrock runtime: InvokeModel,
// InvokeModelWithResponseStream, Converse and ConverseStream, for any model Bedrock serves
// (Claude in the Anthropic messages format or the text completions format of Claude v2,
// Llama, Titan, Mistral, Nova, ...).
//
// It serves POST /model/{modelId}/{operation} at the root, where an AWS SDK whose endpoint
// is set to the proxy sends it, and under /bedrock/. A client signs with any credentials:
// the proxy drops the client's signature and signs exactly the request it sends upstream
// (after the filters changed it) with its own credentials, static or from the AWS default
// credential chain.
//
// Streams are AWS event-stream frames. They are relayed frame by frame, unchanged (an
// exception frame too, so the client's SDK returns its typed exception), and decoded off the
// request path for the log: the response row's raw_body holds one JSON line per event (see
// Provider.LogBody). A stream that carried an exception reports it through its Failure
// method, for the proxy to log the exchange as an error.
package bedrock

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/aiproxy-go/aiproxy/provider"
)

// Operations of the Bedrock runtime that the provider serves, the last segment of their
// path.
const (
	OpInvoke               = "invoke"
	OpInvokeWithStream     = "invoke-with-response-stream"
	OpConverse             = "converse"
	OpConverseStream       = "converse-stream"
	contentTypeEventStream = "application/vnd.amazon.eventstream"
)

// Options configures a Provider.
type Options struct {
	// Name is the provider's name in the log, and the path prefix it is served under
	// (/{name}/model/...). The default, "bedrock", is also served at the root (/model/...).
	Name string
	// Region is the AWS region signed for and, without Endpoint, the region of the
	// upstream. Empty takes AWS_REGION or AWS_DEFAULT_REGION, then the region of the AWS
	// shared configuration's profile.
	Region string
	// Endpoint replaces the upstream URL, https://bedrock-runtime.{region}.amazonaws.com by
	// default (a VPC endpoint, a test fake).
	Endpoint string
	// AccessKeyID, SecretAccessKey and SessionToken are static credentials. When they are
	// empty, and Credentials is nil, the AWS default credential chain is used (environment,
	// shared config and credentials files, profile, SSO, container and instance roles),
	// loaded at the first request.
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	// Profile names the shared-config profile that the default credential chain (and the
	// region lookup) reads; empty uses AWS_PROFILE, then "default".
	Profile string
	// Credentials, when set, provides the credentials and overrides the static ones.
	Credentials aws.CredentialsProvider
}

// Provider is the Bedrock provider. Create it with New.
type Provider struct {
	name   string
	prefix string // "/" + name
	root   bool   // also served at the root
	base   string // upstream URL without trailing slash
	signer *signer
}

var (
	_ provider.Provider     = (*Provider)(nil)
	_ provider.LogFormatter = (*Provider)(nil)
)

// New returns a Bedrock provider. It fails when no region can be found or when Endpoint is
// not an absolute http(s) URL.
func New(opts Options) (*Provider, error) {
	p := &Provider{name: opts.Name}
	if p.name == "" {
		p.name = "bedrock"
	}
	p.prefix = "/" + p.name
	p.root = p.name == "bedrock"
	s, err := newSigner(opts)
	if err != nil {
		return nil, err
	}
	p.signer = s
	p.base = strings.TrimRight(opts.Endpoint, "/")
	if p.base == "" {
		p.base = DefaultEndpoint(s.region)
	}
	u, err := url.Parse(p.base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("bedrock: endpoint %q is not an http or https url", opts.Endpoint)
	}
	return p, nil
}

// DefaultEndpoint is the Bedrock runtime's URL in a region.
func DefaultEndpoint(region string) string {
	domain := "amazonaws.com"
	if strings.HasPrefix(region, "cn-") {
		domain = "amazonaws.com.cn"
	}
	return "https://bedrock-runtime." + region + "." + domain
}

// Name returns the provider's name.
func (p *Provider) Name() string { return p.name }

// Region returns the region the provider signs for.
func (p *Provider) Region() string { return p.signer.region }

// Match serves /model/{modelId}/{operation} under the provider's prefix and, for the
// provider named "bedrock", at the root. The endpoint is the path from /model/ on, escaped
// as the client sent it, so that a model id with ':' or an ARN with an escaped '/' goes
// upstream unchanged.
func (p *Provider) Match(r *http.Request) (string, bool) {
	path := r.URL.EscapedPath()
	if rest, ok := strings.CutPrefix(path, p.prefix); ok && strings.HasPrefix(rest, "/model/") {
		if _, _, ok := parseEndpoint(rest); ok {
			return rest, true
		}
	}
	if p.root {
		if _, _, ok := parseEndpoint(path); ok {
			return path, true
		}
	}
	return "", false
}

// parseEndpoint splits /model/{modelId}/{operation} into the unescaped model id and the
// operation. An ARN whose '/' came unescaped still names one model.
func parseEndpoint(endpoint string) (modelID, op string, ok bool) {
	rest, ok := strings.CutPrefix(endpoint, "/model/")
	if !ok {
		return "", "", false
	}
	i := strings.LastIndexByte(rest, '/')
	if i <= 0 {
		return "", "", false
	}
	op = rest[i+1:]
	switch op {
	case OpInvoke, OpInvokeWithStream, OpConverse, OpConverseStream:
	default:
		return "", "", false
	}
	id, err := url.PathUnescape(rest[:i])
	if err != nil || id == "" {
		return "", "", false
	}
	return id, op, true
}

func isStreamOp(op string) bool   { return op == OpInvokeWithStream || op == OpConverseStream }
func isConverseOp(op string) bool { return op == OpConverse || op == OpConverseStream }

// state is what Parse learnt of a request, for Render.
type state struct {
	op     string
	format bodyFormat
}

// Parse reads the model id from the path and whether the operation streams, and checks
// that a body said to be JSON is JSON (a Converse body always is). An InvokeModel body in a
// format the provider does not know is accepted as it is.
func (p *Provider) Parse(req *provider.Request) error {
	id, op, ok := parseEndpoint(req.Endpoint)
	if !ok {
		return &provider.Error{Status: http.StatusNotFound, Type: "UnknownOperationException",
			Message: "unknown bedrock operation " + req.Endpoint}
	}
	req.Model = id
	req.Stream = isStreamOp(op)
	req.User = ""
	st := &state{op: op}
	req.State = st
	if len(bytes.TrimSpace(req.Body)) == 0 {
		return nil
	}
	// Unmarshal checks the whole body's syntax before it decodes the fields, so one pass
	// both validates and reads; a field of another type than expected, or a body that is
	// not an object, is still valid JSON. An SDK that is not told an InvokeModel body's
	// type sends it as application/octet-stream: only a body said to be JSON must be JSON.
	var f requestFields
	err := json.Unmarshal(req.Body, &f)
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) && (isConverseOp(op) || provider.IsJSON(req.Header.Get("Content-Type"))) {
		return &provider.Error{Status: http.StatusBadRequest, Type: "ValidationException",
			Message: "malformed input request: the body is not valid json: " + strings.TrimPrefix(err.Error(), "json: "), Err: err}
	}
	req.User = f.user()
	if !isConverseOp(op) {
		st.format = f.format()
	}
	return nil
}

// stateOf returns what Parse learnt of req, parsing it again when a caller built req
// itself.
func (p *Provider) stateOf(req *provider.Request) *state {
	if st, ok := req.State.(*state); ok && st != nil {
		return st
	}
	_, op, _ := parseEndpoint(req.Endpoint)
	st := &state{op: op}
	if !isConverseOp(op) {
		st.format = readFields(req.Body).format()
	}
	return st
}

// Prepare builds the signed upstream request: the escaped path as the client sent it, the
// client's headers without its credentials, and a fresh SigV4 signature over the body as
// the filters left it.
func (p *Provider) Prepare(ctx context.Context, req *provider.Request) (*http.Request, error) {
	target := p.base + req.Endpoint
	if req.RawQuery != "" {
		target += "?" + req.RawQuery
	}
	u, err := url.Parse(target)
	if err != nil {
		return nil, &provider.Error{Status: http.StatusBadRequest, Type: "ValidationException",
			Message: "the request path cannot be sent upstream", Err: err}
	}
	up, err := http.NewRequestWithContext(ctx, req.Method, u.String(), bytes.NewReader(req.Body))
	if err != nil {
		return nil, fmt.Errorf("bedrock: build upstream request: %w", err)
	}
	up.Header = req.Header.Clone()
	if up.Header == nil {
		up.Header = http.Header{}
	}
	stripClientAuth(up.Header)
	if err := p.signer.sign(ctx, up, req.Body); err != nil {
		return nil, err
	}
	return up, nil
}

// NewStream frames application/vnd.amazon.eventstream responses.
func (p *Provider) NewStream(req *provider.Request, resp *http.Response) (provider.Stream, bool) {
	ct := strings.ToLower(resp.Header.Get("Content-Type"))
	if !strings.HasPrefix(ct, contentTypeEventStream) {
		return nil, false
	}
	return &stream{}, true
}

// SummarizeRequest extracts the model (from the path), the user and the last user text.
func (p *Provider) SummarizeRequest(endpoint string, body []byte) provider.Summary {
	return summarizeRequest(endpoint, body)
}

// SummarizeResponse extracts the text, tool calls, usage and, for InvokeModel, the model
// that answered; for streams from the decoded frames.
func (p *Provider) SummarizeResponse(endpoint string, body []byte, stream bool) provider.Summary {
	return summarizeResponse(endpoint, body, stream)
}

var _ provider.ModelSetter = (*Provider)(nil)

// SetModel changes the model id in the request's path, /model/{modelId}/{operation}.
func (p *Provider) SetModel(req *provider.Request, model string) error {
	_, op, ok := parseEndpoint(req.Endpoint)
	if !ok {
		return fmt.Errorf("bedrock: set model: endpoint %q names no model", req.Endpoint)
	}
	req.Endpoint = "/model/" + url.PathEscape(model) + "/" + op
	req.Model = model
	return nil
}
