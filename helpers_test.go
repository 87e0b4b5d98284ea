package aiproxy_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/internal/fakeupstream"
	"github.com/aiproxy-go/aiproxy/internal/testproxy"
	"github.com/aiproxy-go/aiproxy/provider"
	provopenai "github.com/aiproxy-go/aiproxy/provider/openai"
)

// upstreamKey is the proxy's own OpenAI key; tests check it never reaches the log.
const upstreamKey = "sk-upstream-SECRET-0123456789abcdefXYZ"

// clientKey is what the SDKs send; the proxy must replace it.
const clientKey = "sk-client-key-9876543210"

// harness is the proxy under test, between an SDK client and the fake OpenAI upstream.
type harness struct {
	*testproxy.Harness
	t      *testing.T
	fake   *fakeupstream.OpenAI
	up     *httptest.Server
	client openai.Client
}

type harnessOption func(*aiproxy.Options)

func newHarness(t *testing.T, opts ...harnessOption) *harness {
	t.Helper()
	h := &harness{t: t}
	h.fake = fakeupstream.NewOpenAI(fakeupstream.OpenAIOptions{APIKey: upstreamKey})
	h.up = httptest.NewServer(h.fake)
	t.Cleanup(h.up.Close)
	o := aiproxy.Options{
		Providers: []provider.Provider{provopenai.New(provopenai.Options{APIKey: upstreamKey, BaseURL: h.up.URL + "/v1"})},
		Secrets:   []string{upstreamKey},
	}
	for _, f := range opts {
		f(&o)
	}
	h.Harness = testproxy.New(t, o)
	h.client = openai.NewClient(
		option.WithBaseURL(h.URL()+"/v1/"),
		option.WithAPIKey(clientKey),
		option.WithMaxRetries(0),
	)
	return h
}

// post sends a raw request through the proxy.
func (h *harness) post(path, body string, header ...string) (*http.Response, string) {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.URL()+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+clientKey)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("read body: %v", err)
	}
	return resp, string(b)
}

func requestID(t *testing.T, resp *http.Response) string {
	t.Helper()
	if resp == nil {
		t.Fatal("no http response captured")
	}
	id := resp.Header.Get(aiproxy.HeaderRequestID)
	if len(id) != 32 {
		t.Fatalf("x-aiproxy-request-id = %q", id)
	}
	return id
}

func userParams(model, text string) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{
		Model:    model,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("be brief"), openai.UserMessage(text)},
	}
}
