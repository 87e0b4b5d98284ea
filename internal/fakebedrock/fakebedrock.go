// Package fakebedrock is a fake of the Amazon Bedrock runtime API for end-to-end tests and
// benchmarks: an http.Handler that checks every request's AWS Signature Version 4 the way
// the service does, answers InvokeModel, InvokeModelWithResponseStream, Converse and
// ConverseStream for Anthropic models in the real wire format (JSON bodies, and AWS
// event-stream frames with real checksums), records what it receives and injects the faults
// that the request's x-fake-* headers ask for.
//
// A proxy that forwarded its client's signature, signed a body other than the one it sent,
// or signed a path other than the one on the wire is answered 403 as AWS answers it.
package fakebedrock

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aiproxy-go/aiproxy/internal/fakefault"
	"github.com/aiproxy-go/aiproxy/internal/sigv4"
)

// Default credentials and region of a fake whose Options leave them empty.
const (
	DefaultAccessKeyID     = "AKIAFAKEBEDROCK00001"
	DefaultSecretAccessKey = "fakeBedrockSecretAccessKey/0123456789abcdef"
	DefaultRegion          = "us-east-1"
)

// Options configures a Bedrock fake.
type Options struct {
	// AccessKeyID and SecretAccessKey are the only credentials accepted; empty uses
	// DefaultAccessKeyID and DefaultSecretAccessKey.
	AccessKeyID     string
	SecretAccessKey string
	// SessionToken, when set, must come in X-Amz-Security-Token, as temporary credentials
	// require.
	SessionToken string
	// Region is the region the credential scope must name; empty uses DefaultRegion.
	Region string
	// Now is the fake's clock for the signature's time check; nil uses time.Now.
	Now func() time.Time
	// OnRequest, when set, is called with every request once its body was read and
	// recorded, before the signature check; the body can be read again. It must be safe
	// for concurrent use.
	OnRequest func(*http.Request)
}

// Recorded is one request as the fake received it.
type Recorded struct {
	Method string
	// Path is the URL path as it came on the wire, escaping included
	// (/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke).
	Path string
	// ModelID is the model id of the path, unescaped; "" when the path is not an operation.
	ModelID string
	// Operation is "invoke", "invoke-with-response-stream", "converse" or "converse-stream".
	Operation string
	RawQuery  string
	Header    http.Header
	Body      []byte
	// SignatureError is why the signature was refused, "" when it was valid.
	SignatureError string
}

// Bedrock is the fake. It is safe for concurrent use.
type Bedrock struct {
	// Recorder gives the fake its Requests, Hits and Reset methods.
	fakefault.Recorder[Recorded]

	opts Options
}

// New returns a fake configured by opts.
func New(opts Options) *Bedrock {
	if opts.AccessKeyID == "" {
		opts.AccessKeyID = DefaultAccessKeyID
	}
	if opts.SecretAccessKey == "" {
		opts.SecretAccessKey = DefaultSecretAccessKey
	}
	if opts.Region == "" {
		opts.Region = DefaultRegion
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Bedrock{opts: opts}
}

// Operations of the Bedrock runtime that the fake serves.
const (
	OpInvoke         = "invoke"
	OpInvokeStream   = "invoke-with-response-stream"
	OpConverse       = "converse"
	OpConverseStream = "converse-stream"
)

// ServeHTTP answers one request: POST /model/{modelId}/{operation}, the model id escaped as
// one path segment (a ':' may be escaped or not, a '/' of an ARN must be %2F). In order it
// reads the body, checks the signature (403 on failure), then the fault headers
// (x-fake-delay, x-fake-status), the route, the model id and the body, and answers.
//
// The assistant says "Hello! You said: " and the last user text. Token counts are word
// counts: the prompt counts 3, plus 4 and the words of each message and of the system
// prompt, plus 20 per tool; the reply its words, plus 8 and a quarter of the length of
// name and input per tool call.
func (b *Bedrock) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.Hit()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	path := sigv4.RequestPath(r)
	modelID, op, routed := parsePath(path)
	rec := Recorded{Method: r.Method, Path: path, ModelID: modelID, Operation: op, RawQuery: r.URL.RawQuery,
		Header: r.Header.Clone(), Body: body}
	fakefault.Notify(b.opts.OnRequest, r, body)
	sigErr := b.verify(r, path, body)
	if sigErr != nil {
		rec.SignatureError = sigErr.message
	}
	b.Record(rec)

	x := &exchange{w: w, r: r, body: body, modelID: modelID, op: op, start: time.Now()}
	if sigErr != nil {
		x.writeError(sigErr.status, sigErr.typ, sigErr.message)
		return
	}
	if err := x.f.parse(r.Header); err != nil {
		x.writeError(http.StatusBadRequest, "ValidationException", "fakebedrock: "+err.Error())
		return
	}
	if !x.f.WaitDelay(r.Context()) {
		return
	}
	if x.f.Status != 0 {
		x.writeStatusError(x.f.Status)
		return
	}
	if !routed || r.Method != http.MethodPost {
		x.writeError(http.StatusNotFound, "UnknownOperationException", "")
		return
	}
	if !knownModel(modelID) {
		x.writeError(http.StatusBadRequest, "ValidationException", "The provided model identifier is invalid.")
		return
	}
	switch op {
	case OpConverse, OpConverseStream:
		x.converse()
	default:
		x.invoke()
	}
}

// parsePath reads /model/{modelId}/{operation}: the model id must be one escaped segment.
func parsePath(path string) (modelID, op string, ok bool) {
	parts := strings.Split(path, "/")
	if len(parts) != 4 || parts[0] != "" || parts[1] != "model" || parts[2] == "" {
		return "", "", false
	}
	id, err := url.PathUnescape(parts[2])
	if err != nil {
		return "", "", false
	}
	switch parts[3] {
	case OpInvoke, OpInvokeStream, OpConverse, OpConverseStream:
		return id, parts[3], true
	}
	return id, "", false
}

// knownModel accepts Anthropic model ids, cross-region inference profiles of them
// (us.anthropic...) and ARNs of foundation models and inference profiles.
func knownModel(id string) bool {
	if rest, ok := strings.CutPrefix(id, "arn:aws:bedrock:"); ok {
		// region:account:resource-type/resource-id
		parts := strings.SplitN(rest, ":", 3)
		if len(parts) != 3 {
			return false
		}
		typ, res, ok := strings.Cut(parts[2], "/")
		if !ok || res == "" {
			return false
		}
		switch typ {
		case "foundation-model", "inference-profile":
			return knownModel(res)
		case "application-inference-profile", "provisioned-model":
			return true
		}
		return false
	}
	for _, geo := range []string{"us.", "eu.", "apac.", "global.", "us-gov.", "jp.", "au."} {
		if rest, ok := strings.CutPrefix(id, geo); ok {
			id = rest
			break
		}
	}
	return strings.HasPrefix(id, "anthropic.claude-")
}

// answerModel is the model name an Anthropic response carries for a model id:
// anthropic.claude-3-5-sonnet-20240620-v1:0 answers claude-3-5-sonnet-20240620.
func answerModel(id string) string {
	if i := strings.LastIndexByte(id, '/'); i >= 0 {
		id = id[i+1:]
	}
	if i := strings.Index(id, "anthropic."); i >= 0 {
		id = id[i+len("anthropic."):]
	}
	if i := strings.LastIndex(id, "-v"); i > 0 && strings.Contains(id[i:], ":") {
		id = id[:i]
	}
	return id
}
