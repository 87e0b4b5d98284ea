package bedrock_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/internal/fakebedrock"
	"github.com/aiproxy-go/aiproxy/internal/testproxy"
	"github.com/aiproxy-go/aiproxy/provider"
	"github.com/aiproxy-go/aiproxy/provider/bedrock"
)

// The proxy's own AWS credentials; tests check the secret never reaches the log.
const (
	upstreamKeyID  = "AKIAPROXYUPSTREAM001"
	upstreamSecret = "proxy-UPSTREAM-secret-0123456789abcdefXYZ"
)

// The client's credentials: any will do, the proxy signs anew.
const (
	clientKeyID  = "AKIACLIENTDUMMY00001"
	clientSecret = "client-dummy-secret-key"
)

const (
	sonnet  = "anthropic.claude-3-5-sonnet-20240620-v1:0"
	profile = "us.anthropic.claude-3-5-sonnet-20240620-v1:0"
	arn     = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20240620-v1:0"
)

// env is a proxy serving Bedrock between the AWS SDK and the fake.
type env struct {
	t      *testing.T
	h      *testproxy.Harness
	fake   *fakebedrock.Bedrock
	client *bedrockruntime.Client
	last   *lastResponse
}

type envOption func(*aiproxyOptions, *bedrockOptions, *fakeOptions)

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	fo := fakebedrock.Options{AccessKeyID: upstreamKeyID, SecretAccessKey: upstreamSecret}
	bo := bedrock.Options{Region: "us-east-1", AccessKeyID: upstreamKeyID, SecretAccessKey: upstreamSecret}
	po := aiproxy.Options{Secrets: []string{upstreamSecret}}
	for _, o := range opts {
		o(&po, &bo, &fo)
	}
	fake := fakebedrock.New(fo)
	up := httptest.NewServer(fake)
	t.Cleanup(up.Close)
	bo.Endpoint = up.URL
	prov, err := bedrock.New(bo)
	if err != nil {
		t.Fatal(err)
	}
	po.Providers = append([]provider.Provider{prov}, po.Providers...)
	e := &env{t: t, fake: fake, h: testproxy.New(t, po), last: &lastResponse{}}
	e.client = e.newClient(e.h.URL())
	return e
}

// newClient returns an SDK client of the proxy at base, with the client's dummy
// credentials, no retries, and the last response's headers recorded.
func (e *env) newClient(base string) *bedrockruntime.Client {
	return bedrockruntime.New(bedrockruntime.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(base),
		Credentials:  credentials.NewStaticCredentialsProvider(clientKeyID, clientSecret, ""),
		Retryer:      aws.NopRetryer{},
		HTTPClient:   sdkHTTPClient(e.last),
	})
}

// sdkHTTPClient is the HTTP client of the tests' SDK clients. Without SDKTransport the SDK's
// own transport sometimes closes the connection under a stream, so the proxy logs 499 and the
// client loses frames (see fakebedrock.SDKTransport).
func sdkHTTPClient(rt http.RoundTripper) *http.Client {
	return &http.Client{Transport: fakebedrock.SDKTransport(rt)}
}

// lastResponse records the headers of the last response a client received.
type lastResponse struct {
	mu     sync.Mutex
	header http.Header
}

func (l *lastResponse) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if resp != nil {
		l.mu.Lock()
		l.header = resp.Header.Clone()
		l.mu.Unlock()
	}
	return resp, err
}

// id returns the request id of the last exchange.
func (e *env) id() string {
	e.t.Helper()
	e.last.mu.Lock()
	defer e.last.mu.Unlock()
	if e.last.header == nil {
		e.t.Fatal("no response received")
	}
	id := e.last.header.Get(aiproxy.HeaderRequestID)
	if id == "" {
		e.t.Fatal("response without x-aiproxy-request-id")
	}
	return id
}

// rows returns the request row and the response (or error) row of the last exchange.
func (e *env) rows() (req, resp *accesslog.Record) {
	e.t.Helper()
	recs := e.h.Rows(e.id())
	req = e.h.Row(recs, accesslog.DirectionRequest)
	for _, r := range recs {
		if r.Direction != accesslog.DirectionRequest {
			return req, r
		}
	}
	e.t.Fatalf("no response or error row among %d rows", len(recs))
	return nil, nil
}

// upstream returns the one request the fake received, checking its signature was the
// proxy's and valid.
func (e *env) upstream() fakebedrock.Recorded {
	e.t.Helper()
	reqs := e.fake.Requests()
	if len(reqs) != 1 {
		e.t.Fatalf("upstream got %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.SignatureError != "" {
		e.t.Fatalf("upstream refused the signature: %s", r.SignatureError)
	}
	if a := r.Header.Get("Authorization"); !strings.Contains(a, "Credential="+upstreamKeyID+"/") || strings.Contains(a, clientKeyID) {
		e.t.Fatalf("upstream Authorization = %q", a)
	}
	return r
}

func header(k, v string) func(*bedrockruntime.Options) {
	return func(o *bedrockruntime.Options) {
		o.APIOptions = append(o.APIOptions, smithyhttp.AddHeaderValue(k, v))
	}
}

func userMessage(text string) types.Message {
	return types.Message{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: text}}}
}

// logLines parses a stream's raw_body as the provider logs it: one JSON object per line.
func logLines(t *testing.T, raw []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(raw), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("raw_body line %q is not JSON: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

type loggedCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

func loggedCalls(t *testing.T, s string) []loggedCall {
	t.Helper()
	var calls []loggedCall
	if err := json.Unmarshal([]byte(s), &calls); err != nil {
		t.Fatalf("tool_calls %q: %v", s, err)
	}
	return calls
}

// dbBytes returns the SQLite database files' bytes, WAL included.
func (e *env) dbBytes() []byte {
	e.t.Helper()
	if err := e.h.Proxy.Log().Flush(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	var all []byte
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(e.h.DBPath + suffix)
		if err == nil {
			all = append(all, b...)
		}
	}
	if len(all) == 0 {
		e.t.Fatal("no database file")
	}
	return all
}

// Short names for the options an envOption changes.
type (
	aiproxyOptions = aiproxy.Options
	bedrockOptions = bedrock.Options
	fakeOptions    = fakebedrock.Options
)

func staticCreds(key, secret, token string) aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(key, secret, token)
}
