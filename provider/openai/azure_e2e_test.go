package openai_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/azure"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/internal/fakeazure"
	"github.com/aiproxy-go/aiproxy/internal/fakeupstream"
	"github.com/aiproxy-go/aiproxy/internal/testproxy"
	"github.com/aiproxy-go/aiproxy/provider"
	provopenai "github.com/aiproxy-go/aiproxy/provider/openai"
)

const (
	// azureKey is the proxy's key of the Azure resource; the fake accepts only it, and
	// only in the api-key header.
	azureKey = "azure-proxy-SECRET-key-0123456789abcdef"
	// euKey is the key of a second resource that one deployment is mapped to.
	euKey = "azure-eu-SECRET-key-fedcba9876543210"
	// azureClientKey is what the client sends; the proxy must replace it.
	azureClientKey = "client-azure-key-0000abcd"
	// openaiKey is the proxy's key of the OpenAI fake beside the Azure one.
	openaiKey = "sk-openai-SECRET-0123456789"

	apiVersion = "2024-10-21"
)

// azureHarness is a proxy serving Azure (first) and OpenAI (second), each in front of its
// fake, with an Azure SDK client pointed at the proxy.
type azureHarness struct {
	*testproxy.Harness
	fake   *fakeazure.Azure     // the default resource
	eu     *fakeazure.Azure     // the resource of the eu-gpt deployment
	openai *fakeupstream.OpenAI // behind the OpenAI provider
	client openai.Client        // the Azure SDK client
}

func newAzureHarness(t *testing.T, filters ...aiproxy.RequestFilter) *azureHarness {
	t.Helper()
	h := &azureHarness{
		fake:   fakeazure.New(fakeazure.Options{APIKey: azureKey}),
		eu:     fakeazure.New(fakeazure.Options{APIKey: euKey, Deployments: map[string]string{"eu-gpt": "gpt-4o-2024-08-06"}}),
		openai: fakeupstream.NewOpenAI(fakeupstream.OpenAIOptions{APIKey: openaiKey}),
	}
	var urls []string
	for _, hd := range []http.Handler{h.fake, h.eu, h.openai} {
		srv := httptest.NewServer(hd)
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL)
	}
	az := provopenai.NewAzure(provopenai.AzureOptions{
		Endpoint:    urls[0],
		APIKey:      azureKey,
		Deployments: map[string]provopenai.AzureDeployment{"eu-gpt": {Endpoint: urls[1], APIKey: euKey}},
	})
	oa := provopenai.New(provopenai.Options{APIKey: openaiKey, BaseURL: urls[2] + "/v1"})
	// No Secrets: the keys must stay out of the log by design, not by scrubbing.
	h.Harness = testproxy.New(t, aiproxy.Options{Providers: []provider.Provider{az, oa}, RequestFilters: filters})
	h.client = openai.NewClient(
		azure.WithEndpoint(h.URL(), apiVersion),
		azure.WithAPIKey(azureClientKey),
		azure.WithUnsafeAllowHTTP(), // the proxy listens on plain http on 127.0.0.1
		option.WithMaxRetries(0),
	)
	return h
}

func chatParams(deployment, text string) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{
		Model:    deployment,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("be brief"), openai.UserMessage(text)},
	}
}

// checkUpstreamKey checks that every request the fake got carried key as api-key and no
// Authorization header.
func checkUpstreamKey(t *testing.T, reqs []fakeupstream.Recorded, key string) {
	t.Helper()
	if len(reqs) == 0 {
		t.Fatal("the fake got no request")
	}
	for _, r := range reqs {
		if got := r.Header.Values("Api-Key"); len(got) != 1 || got[0] != key {
			t.Errorf("%s: upstream api-key %q", r.Path, got)
		}
		if a := r.Header.Get("Authorization"); a != "" {
			t.Errorf("%s: upstream Authorization %q", r.Path, a)
		}
	}
}

func TestAzureChat(t *testing.T) {
	h := newAzureHarness(t)
	var httpResp *http.Response
	params := chatParams("gpt-4o", "hello azure")
	params.User = openai.String("alice")
	got, err := h.client.Chat.Completions.New(context.Background(), params, option.WithResponseInto(&httpResp))
	if err != nil {
		t.Fatal(err)
	}
	if got.Choices[0].Message.Content != "Hello! You said: hello azure" || got.Model != "gpt-4o-2024-11-20" {
		t.Fatalf("reply %s", got.RawJSON())
	}
	// Azure's content filter results reached the client untouched.
	if !strings.Contains(got.RawJSON(), `"prompt_filter_results":[{"prompt_index":0`) ||
		!strings.Contains(got.Choices[0].RawJSON(), `"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}`) {
		t.Errorf("content filter results lost: %s", got.RawJSON())
	}

	reqs := h.fake.Requests()
	checkUpstreamKey(t, reqs, azureKey)
	if reqs[0].Path != "/openai/deployments/gpt-4o/chat/completions" || reqs[0].RawQuery != "api-version="+apiVersion {
		t.Errorf("upstream %s?%s", reqs[0].Path, reqs[0].RawQuery)
	}
	if h.openai.Hits() != 0 {
		t.Error("the OpenAI provider served an Azure SDK call")
	}

	id := h.RequestID(httpResp)
	recs := h.Rows(id)
	req, resp := h.Row(recs, accesslog.DirectionRequest), h.Row(recs, accesslog.DirectionResponse)
	if req.Provider != "azure" || req.Endpoint != "/openai/deployments/gpt-4o/chat/completions" || req.Model != "gpt-4o" ||
		req.Content != "hello azure" || req.User != "alice" || req.UpstreamBody != nil {
		t.Errorf("request row %+v", req)
	}
	if k := req.RawHeaders.Get("Api-Key"); k != "***abcd" {
		t.Errorf("client api-key logged as %q", k)
	}
	if resp.StatusCode != 200 || resp.Model != "gpt-4o-2024-11-20" || resp.Content != got.Choices[0].Message.Content ||
		resp.PromptTokens != int(got.Usage.PromptTokens) || resp.CompletionTokens != int(got.Usage.CompletionTokens) || resp.TokensEstimated {
		t.Errorf("response row %+v", resp)
	}
	if resp.UpstreamRequestID == "" || !bytes.Contains(resp.RawBody, []byte("prompt_filter_results")) {
		t.Errorf("response row: upstream id %q, raw body %s", resp.UpstreamRequestID, resp.RawBody)
	}
}

func TestAzureChatStream(t *testing.T) {
	h := newAzureHarness(t)
	var httpResp *http.Response
	stream := h.client.Chat.Completions.NewStreaming(context.Background(), chatParams("gpt-4o", "stream azure"),
		option.WithResponseInto(&httpResp), option.WithHeader(fakeupstream.HeaderChunks, "4"))
	var (
		acc                openai.ChatCompletionAccumulator
		chunks, promptOnly int
	)
	for stream.Next() {
		c := stream.Current()
		chunks++
		if c.JSON.Usage.Valid() {
			t.Errorf("the client got usage it did not ask for: %s", c.RawJSON())
		}
		if len(c.Choices) == 0 {
			promptOnly++
			if !strings.Contains(c.RawJSON(), `"prompt_filter_results"`) || c.Model != "" {
				t.Errorf("chunk without choices: %s", c.RawJSON())
			}
		} else if !strings.Contains(c.RawJSON(), `"content_filter_results"`) {
			t.Errorf("chunk without content filter results: %s", c.RawJSON())
		}
		acc.AddChunk(c)
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	// prompt filter, role, 4 contents, finish; the usage chunk is hidden.
	if chunks != 7 || promptOnly != 1 {
		t.Errorf("%d chunks, %d without choices", chunks, promptOnly)
	}
	if acc.Choices[0].Message.Content != "Hello! You said: stream azure" || acc.Usage.TotalTokens != 0 {
		t.Errorf("accumulated %q, usage %+v", acc.Choices[0].Message.Content, acc.Usage)
	}
	up := h.fake.Requests()
	checkUpstreamKey(t, up, azureKey)
	if !strings.Contains(string(up[0].Body), `"stream_options":{"include_usage":true}`) {
		t.Errorf("upstream not asked for usage: %s", up[0].Body)
	}

	recs := h.Rows(h.RequestID(httpResp))
	req, resp := h.Row(recs, accesslog.DirectionRequest), h.Row(recs, accesslog.DirectionResponse)
	if !bytes.Contains(req.UpstreamBody, []byte(`"include_usage":true`)) || bytes.Contains(req.RawBody, []byte("include_usage")) || !req.Stream {
		t.Errorf("request row: raw %s upstream %s", req.RawBody, req.UpstreamBody)
	}
	if resp.Model != "gpt-4o-2024-11-20" || resp.Content != "Hello! You said: stream azure" || !resp.Stream ||
		resp.PromptTokens == 0 || resp.CompletionTokens == 0 || resp.TokensEstimated {
		t.Errorf("response row %+v", resp)
	}
	// The row holds the stream as received: the prompt filter chunk first, the usage chunk.
	if !bytes.HasPrefix(resp.RawBody, []byte(`data: {"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results"`)) ||
		!bytes.Contains(resp.RawBody, []byte(`"usage":{"prompt_tokens"`)) {
		t.Errorf("raw body %s", resp.RawBody)
	}
}

// The exact bytes of a stream: nothing of the usage the proxy asked for shows.
func TestAzureStreamBytes(t *testing.T) {
	h := newAzureHarness(t)
	req, _ := http.NewRequest(http.MethodPost, h.URL()+"/openai/deployments/gpt-4o/chat/completions?api-version="+apiVersion,
		strings.NewReader(`{"stream":true,"messages":[{"role":"user","content":"bytes"}]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+azureClientKey) // a key sent the wrong way is replaced too
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%d %v %s", resp.StatusCode, err, body)
	}
	if bytes.Contains(body, []byte(`"usage"`)) || !bytes.HasSuffix(body, []byte("data: [DONE]\n\n")) ||
		bytes.Count(body, []byte(`"choices":[]`)) != 1 {
		t.Errorf("client stream:\n%s", body)
	}
	checkUpstreamKey(t, h.fake.Requests(), azureKey)
}

// Before 2024-09-01 Azure refuses stream_options: the proxy does not add it, and estimates.
func TestAzureStreamOldAPIVersion(t *testing.T) {
	h := newAzureHarness(t)
	client := openai.NewClient(azure.WithEndpoint(h.URL(), "2024-06-01"), azure.WithAPIKey(azureClientKey),
		azure.WithUnsafeAllowHTTP(), option.WithMaxRetries(0))
	var httpResp *http.Response
	stream := client.Chat.Completions.NewStreaming(context.Background(), chatParams("gpt-4o", "old version"), option.WithResponseInto(&httpResp))
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if up := h.fake.Requests(); len(up) != 1 || up[0].RawQuery != "api-version=2024-06-01" || bytes.Contains(up[0].Body, []byte("stream_options")) {
		t.Fatalf("upstream %+v", up)
	}
	resp := h.Row(h.Rows(h.RequestID(httpResp)), accesslog.DirectionResponse)
	if resp.Content != "Hello! You said: old version" || !resp.TokensEstimated || resp.CompletionTokens == 0 {
		t.Errorf("response row %+v", resp)
	}
}

func TestAzureEmbeddings(t *testing.T) {
	h := newAzureHarness(t)
	var httpResp *http.Response
	got, err := h.client.Embeddings.New(context.Background(), openai.EmbeddingNewParams{
		Model: "text-embedding-3-small",
		Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"one two", "three"}},
	}, option.WithResponseInto(&httpResp))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Data) != 2 || len(got.Data[0].Embedding) == 0 {
		t.Fatalf("embeddings %s", got.RawJSON())
	}
	up := h.fake.Requests()
	checkUpstreamKey(t, up, azureKey)
	if up[0].Path != "/openai/deployments/text-embedding-3-small/embeddings" {
		t.Errorf("upstream path %s", up[0].Path)
	}
	recs := h.Rows(h.RequestID(httpResp))
	req, resp := h.Row(recs, accesslog.DirectionRequest), h.Row(recs, accesslog.DirectionResponse)
	if req.Endpoint != "/openai/deployments/text-embedding-3-small/embeddings" || req.Model != "text-embedding-3-small" || req.Content == "" {
		t.Errorf("request row %+v", req)
	}
	if resp.PromptTokens != int(got.Usage.PromptTokens) || resp.PromptTokens == 0 || resp.TokensEstimated {
		t.Errorf("response row tokens %d estimated %v, upstream said %d", resp.PromptTokens, resp.TokensEstimated, got.Usage.PromptTokens)
	}
}

// A deployment mapped to another resource goes there, with that resource's key.
func TestAzureDeploymentMapping(t *testing.T) {
	h := newAzureHarness(t)
	var httpResp *http.Response
	got, err := h.client.Chat.Completions.New(context.Background(), chatParams("eu-gpt", "bonjour"), option.WithResponseInto(&httpResp))
	if err != nil {
		t.Fatal(err)
	}
	if got.Model != "gpt-4o-2024-08-06" {
		t.Errorf("answered by %s", got.Model)
	}
	if _, err := h.client.Chat.Completions.New(context.Background(), chatParams("gpt-4o", "hello")); err != nil {
		t.Fatal(err)
	}
	// The v1 API names the deployment in the body.
	v1 := openai.NewClient(option.WithBaseURL(h.URL()+"/azure/openai/v1/"), option.WithAPIKey(azureClientKey), option.WithMaxRetries(0))
	if _, err := v1.Chat.Completions.New(context.Background(), chatParams("eu-gpt", "v1 bonjour")); err != nil {
		t.Fatal(err)
	}
	eu, def := h.eu.Requests(), h.fake.Requests()
	if len(eu) != 2 || len(def) != 1 {
		t.Fatalf("eu resource got %d requests, default %d", len(eu), len(def))
	}
	checkUpstreamKey(t, eu, euKey)
	checkUpstreamKey(t, def, azureKey)
	if eu[0].Path != "/openai/deployments/eu-gpt/chat/completions" || eu[1].Path != "/openai/v1/chat/completions" {
		t.Errorf("eu paths %s %s", eu[0].Path, eu[1].Path)
	}
	resp := h.Row(h.Rows(h.RequestID(httpResp)), accesslog.DirectionResponse)
	if resp.Model != "gpt-4o-2024-08-06" || resp.Content != "Hello! You said: bonjour" {
		t.Errorf("response row %+v", resp)
	}
}

// Azure's v1 API: an api-key header claims /openai/v1 for Azure; a Bearer token there is an
// OpenAI client's and goes to OpenAI; /azure/openai/v1 is Azure's whatever the credential.
func TestAzureV1API(t *testing.T) {
	h := newAzureHarness(t)
	ctx := context.Background()

	withAPIKey := openai.NewClient(option.WithBaseURL(h.URL()+"/openai/v1/"), option.WithAPIKey(""),
		option.WithHeader("api-key", azureClientKey), option.WithMaxRetries(0))
	var httpResp *http.Response
	got, err := withAPIKey.Chat.Completions.New(ctx, chatParams("gpt-4o-mini", "v1 api"), option.WithResponseInto(&httpResp))
	if err != nil {
		t.Fatal(err)
	}
	if got.Model != "gpt-4o-mini-2024-07-18" || got.Choices[0].Message.Content != "Hello! You said: v1 api" {
		t.Fatalf("reply %s", got.RawJSON())
	}
	recs := h.Rows(h.RequestID(httpResp))
	if req := h.Row(recs, accesslog.DirectionRequest); req.Provider != "azure" || req.Endpoint != "/openai/v1/chat/completions" || req.Model != "gpt-4o-mini" {
		t.Errorf("request row %+v", req)
	}

	alias := openai.NewClient(option.WithBaseURL(h.URL()+"/azure/openai/v1/"), option.WithAPIKey(azureClientKey), option.WithMaxRetries(0))
	r, err := alias.Responses.New(ctx, responses.ResponseNewParams{
		Model: "gpt-4o", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("responses via azure")},
	}, option.WithResponseInto(&httpResp))
	if err != nil {
		t.Fatal(err)
	}
	if r.OutputText() != "Hello! You said: responses via azure" {
		t.Fatalf("response %s", r.RawJSON())
	}
	recs = h.Rows(h.RequestID(httpResp))
	if resp := h.Row(recs, accesslog.DirectionResponse); resp.Endpoint != "/openai/v1/responses" || resp.Content != r.OutputText() || resp.TokensEstimated {
		t.Errorf("responses row %+v", resp)
	}

	up := h.fake.Requests()
	checkUpstreamKey(t, up, azureKey)
	if len(up) != 2 || up[0].Path != "/openai/v1/chat/completions" || up[1].Path != "/openai/v1/responses" || up[0].RawQuery != "" {
		t.Errorf("azure upstream %+v", up)
	}

	// An OpenAI client on /openai/v1 is the OpenAI provider's.
	openaiClient := openai.NewClient(option.WithBaseURL(h.URL()+"/openai/v1/"), option.WithAPIKey("sk-client"), option.WithMaxRetries(0))
	if _, err := openaiClient.Chat.Completions.New(ctx, chatParams("gpt-4o-mini", "openai")); err != nil {
		t.Fatal(err)
	}
	if h.openai.Hits() != 1 || h.fake.Hits() != 2 {
		t.Errorf("openai fake hits %d, azure fake hits %d", h.openai.Hits(), h.fake.Hits())
	}
}

func apiError(t *testing.T, err error) *openai.Error {
	t.Helper()
	var e *openai.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is not an API error", err)
	}
	return e
}

// Upstream errors reach the client as Azure sent them and are logged.
func TestAzureUpstreamErrors(t *testing.T) {
	h := newAzureHarness(t)
	ctx := context.Background()
	tests := []struct {
		name       string
		deployment string
		header     []string
		status     int
		code       string
		message    string
	}{
		{"deployment not found", "gpt-7", nil, 404, "DeploymentNotFound", "The API deployment for this resource does not exist"},
		{"rate limited", "gpt-4o", []string{fakeupstream.HeaderStatus, "429", fakeupstream.HeaderRetryAfter, "3"}, 429, "429",
			"Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded call rate limit"},
		{"prompt filtered", "gpt-4o", []string{fakeazure.HeaderContentFilter, "prompt"}, 400, "content_filter",
			"The response was filtered due to the prompt triggering Azure OpenAI's content management policy"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var opts []option.RequestOption
			for i := 0; i+1 < len(tc.header); i += 2 {
				opts = append(opts, option.WithHeader(tc.header[i], tc.header[i+1]))
			}
			var httpResp *http.Response
			opts = append(opts, option.WithResponseInto(&httpResp))
			_, err := h.client.Chat.Completions.New(ctx, chatParams(tc.deployment, "error please"), opts...)
			e := apiError(t, err)
			if e.StatusCode != tc.status || e.Code != tc.code || !strings.HasPrefix(e.Message, tc.message) {
				t.Fatalf("error %d %q %q", e.StatusCode, e.Code, e.Message)
			}
			if tc.status == 429 && httpResp.Header.Get("Retry-After") != "3" {
				t.Errorf("retry-after %q", httpResp.Header.Get("Retry-After"))
			}
			if tc.code == "content_filter" && !strings.Contains(e.RawJSON(), `"innererror":{"code":"ResponsibleAIPolicyViolation"`) {
				t.Errorf("innererror lost: %s", e.RawJSON())
			}
			row := h.Row(h.Rows(h.RequestID(httpResp)), accesslog.DirectionError)
			if row.StatusCode != tc.status || !strings.HasPrefix(row.Content, tc.message) || row.Provider != "azure" {
				t.Errorf("error row %d %q", row.StatusCode, row.Content)
			}
		})
	}
	checkUpstreamKey(t, h.fake.Requests(), azureKey)
}

// A filtered completion keeps its text and its finish reason, and logs as any other.
func TestAzureFilteredCompletion(t *testing.T) {
	h := newAzureHarness(t)
	var httpResp *http.Response
	stream := h.client.Chat.Completions.NewStreaming(context.Background(), chatParams("gpt-4o", "filter me"),
		option.WithHeader(fakeazure.HeaderContentFilter, "completion"), option.WithResponseInto(&httpResp))
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if acc.Choices[0].FinishReason != "content_filter" {
		t.Errorf("finish reason %q", acc.Choices[0].FinishReason)
	}
	resp := h.Row(h.Rows(h.RequestID(httpResp)), accesslog.DirectionResponse)
	if resp.Content != acc.Choices[0].Message.Content || resp.Model != "gpt-4o-2024-11-20" || resp.TokensEstimated {
		t.Errorf("response row %+v", resp)
	}
}

// A filter's reply and a replay are rendered so that the Azure SDK reads them.
func TestAzureFilterReplyAndReplay(t *testing.T) {
	canned := aiproxy.RequestFilterFunc(func(_ context.Context, x *aiproxy.Exchange) (*aiproxy.Reply, error) {
		if x.Header().Get("X-Canned") == "" {
			return nil, nil
		}
		return &aiproxy.Reply{Text: "canned answer", Usage: &provider.Usage{InputTokens: 3, OutputTokens: 2}}, nil
	})
	h := newAzureHarness(t, canned)
	ctx := context.Background()

	got, err := h.client.Chat.Completions.New(ctx, chatParams("gpt-4o", "hi"), option.WithHeader("X-Canned", "1"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Choices[0].Message.Content != "canned answer" || got.Model != "gpt-4o" || got.Usage.PromptTokens != 3 {
		t.Errorf("filter reply %s", got.RawJSON())
	}
	stream := h.client.Chat.Completions.NewStreaming(ctx, chatParams("gpt-4o", "hi"), option.WithHeader("X-Canned", "1"))
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil || acc.Choices[0].Message.Content != "canned answer" {
		t.Errorf("filter reply streamed: %v %q", err, acc.Choices[0].Message.Content)
	}
	if h.fake.Hits() != 0 {
		t.Fatalf("upstream called %d times for canned replies", h.fake.Hits())
	}

	// Record a real answer, then replay it.
	var httpResp *http.Response
	orig, err := h.client.Chat.Completions.New(ctx, chatParams("gpt-4o", "remember me"), option.WithResponseInto(&httpResp))
	if err != nil {
		t.Fatal(err)
	}
	id := h.RequestID(httpResp)
	h.Rows(id)
	replay := option.WithHeader("X-Aiproxy-Replay", id)
	again, err := h.client.Chat.Completions.New(ctx, chatParams("gpt-4o", "anything"), replay)
	if err != nil {
		t.Fatal(err)
	}
	if again.Choices[0].Message.Content != orig.Choices[0].Message.Content || again.Model != orig.Model ||
		again.Usage.CompletionTokens != orig.Usage.CompletionTokens {
		t.Errorf("replayed %s, original %s", again.RawJSON(), orig.RawJSON())
	}
	stream = h.client.Chat.Completions.NewStreaming(ctx, chatParams("gpt-4o", "anything"), replay)
	acc = openai.ChatCompletionAccumulator{}
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil || acc.Choices[0].Message.Content != orig.Choices[0].Message.Content {
		t.Errorf("replay streamed: %v %q", err, acc.Choices[0].Message.Content)
	}
	if h.fake.Hits() != 1 {
		t.Errorf("upstream hits %d, want only the recorded call", h.fake.Hits())
	}
}

// The proxy's keys appear nowhere in the database file, whatever went through.
func TestAzureKeyNotInDB(t *testing.T) {
	h := newAzureHarness(t)
	ctx := context.Background()
	var ids []string
	var httpResp *http.Response
	if _, err := h.client.Chat.Completions.New(ctx, chatParams("gpt-4o", "one"), option.WithResponseInto(&httpResp)); err != nil {
		t.Fatal(err)
	}
	ids = append(ids, h.RequestID(httpResp))
	stream := h.client.Chat.Completions.NewStreaming(ctx, chatParams("eu-gpt", "two"), option.WithResponseInto(&httpResp))
	for stream.Next() {
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	ids = append(ids, h.RequestID(httpResp))
	_, err := h.client.Chat.Completions.New(ctx, chatParams("gpt-7", "three"), option.WithResponseInto(&httpResp))
	apiError(t, err)
	ids = append(ids, h.RequestID(httpResp))
	for _, id := range ids {
		h.Rows(id)
	}
	checkUpstreamKey(t, h.fake.Requests(), azureKey)
	checkUpstreamKey(t, h.eu.Requests(), euKey)

	files, err := filepath.Glob(h.DBPath + "*") // the database, its WAL and shared memory
	if err != nil || len(files) == 0 {
		t.Fatalf("database files %v %v", files, err)
	}
	var seen int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		seen += bytes.Count(b, []byte("Hello! You said: one"))
		for _, key := range []string{azureKey, euKey, openaiKey} {
			if bytes.Contains(b, []byte(key)) {
				t.Errorf("%s holds a proxy key", filepath.Base(f))
			}
		}
	}
	if seen == 0 {
		t.Fatal("the database files hold no logged content: the check above proves nothing")
	}
}

// Azure OpenAI behind the proxy: an Azure SDK client points its endpoint at the proxy,
// which forwards to the resource with its own key. A fake stands in for Azure here.
func ExampleNewAzure() {
	resource := httptest.NewServer(fakeazure.New(fakeazure.Options{APIKey: "azure-key"}))
	defer resource.Close()
	p, err := aiproxy.New(aiproxy.Options{
		Providers: []provider.Provider{
			// Before the OpenAI provider, which also serves /openai/v1/...
			provopenai.NewAzure(provopenai.AzureOptions{Endpoint: resource.URL, APIKey: "azure-key"}),
			provopenai.New(provopenai.Options{APIKey: "sk-..."}),
		},
	})
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(p)
	defer srv.Close()

	client := openai.NewClient(
		azure.WithEndpoint(srv.URL, "2024-10-21"),
		azure.WithAPIKey("any client key"),
		azure.WithUnsafeAllowHTTP(), // plain http to a local proxy
	)
	resp, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:    "gpt-4o", // the deployment
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(resp.Choices[0].Message.Content)
	fmt.Println(resp.Model)
	// Output:
	// Hello! You said: hi
	// gpt-4o-2024-11-20
}
