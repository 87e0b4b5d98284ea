package aiproxy_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
	"github.com/openai/openai-go/v3/shared"

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/metrics"
	"github.com/aiproxy-go/aiproxy/pricing"
)

func TestChatCompletion(t *testing.T) {
	h := newHarness(t)
	var httpResp *http.Response
	params := userParams("gpt-4o-mini", "hello proxy")
	params.User = openai.String("alice")
	got, err := h.client.Chat.Completions.New(context.Background(), params, option.WithResponseInto(&httpResp))
	if err != nil {
		t.Fatal(err)
	}
	if want := "Hello! You said: hello proxy"; got.Choices[0].Message.Content != want {
		t.Fatalf("content = %q, want %q", got.Choices[0].Message.Content, want)
	}
	id := requestID(t, httpResp)

	// The upstream saw the proxy's key, never the client's.
	reqs := h.fake.Requests()
	if len(reqs) != 1 {
		t.Fatalf("upstream got %d requests", len(reqs))
	}
	if a := reqs[0].Header.Get("Authorization"); a != "Bearer "+upstreamKey {
		t.Fatalf("upstream Authorization = %q", a)
	}

	recs := h.Rows(id)
	if len(recs) != 2 {
		t.Fatalf("%d rows, want request and response", len(recs))
	}
	req, resp := h.Row(recs, "request"), h.Row(recs, "response")
	if req.Content != "hello proxy" || req.Model != "gpt-4o-mini" || req.User != "alice" || req.Provider != "openai" || req.Endpoint != "/chat/completions" {
		t.Errorf("request row = %+v", req)
	}
	if !strings.Contains(string(req.RawBody), `"hello proxy"`) {
		t.Errorf("request raw_body = %s", req.RawBody)
	}
	if a := req.RawHeaders.Get("Authorization"); strings.Contains(a, clientKey) || !strings.HasPrefix(a, "Bearer ***") {
		t.Errorf("client key not masked: %q", a)
	}
	if req.UpstreamBody != nil {
		t.Errorf("upstream_body set though nothing changed the body: %s", req.UpstreamBody)
	}
	if resp.StatusCode != 200 || resp.Content != got.Choices[0].Message.Content || resp.Model != got.Model {
		t.Errorf("response row = %+v", resp)
	}
	if resp.PromptTokens != int(got.Usage.PromptTokens) || resp.CompletionTokens != int(got.Usage.CompletionTokens) || resp.TokensEstimated {
		t.Errorf("tokens = %d/%d estimated=%v, upstream said %d/%d", resp.PromptTokens, resp.CompletionTokens, resp.TokensEstimated, got.Usage.PromptTokens, got.Usage.CompletionTokens)
	}
	if resp.UpstreamRequestID == "" || resp.RequestTime <= 0 || resp.RequestTimeAPI <= 0 || resp.RequestTimeAPI > resp.RequestTime {
		t.Errorf("ids/times: upstream id %q, times %v/%v", resp.UpstreamRequestID, resp.RequestTime, resp.RequestTimeAPI)
	}
}

// streamRaw reads a stream through the proxy with plain HTTP, to see its exact bytes.
func TestStreamHidesAddedUsage(t *testing.T) {
	h := newHarness(t)
	resp, body := h.post("/v1/chat/completions", `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"count me"}]}`, "x-fake-chunks", "7")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if strings.Contains(body, `"usage"`) || strings.Contains(body, `"choices":[]`) {
		t.Fatalf("client sees usage it did not ask for:\n%s", body)
	}
	if !strings.HasSuffix(body, "data: [DONE]\n\n") {
		t.Fatalf("stream does not end in [DONE]:\n%s", body)
	}
	// The upstream was asked for usage.
	if up := string(h.fake.Requests()[0].Body); !strings.Contains(up, `"include_usage":true`) {
		t.Fatalf("upstream body lacks include_usage: %s", up)
	}
	id := requestID(t, resp)
	recs := h.Rows(id)
	req, row := h.Row(recs, "request"), h.Row(recs, "response")
	if !strings.Contains(string(req.UpstreamBody), `"include_usage":true`) || strings.Contains(string(req.RawBody), "include_usage") {
		t.Errorf("request row bodies: raw %s upstream %s", req.RawBody, req.UpstreamBody)
	}
	if row.PromptTokens == 0 || row.CompletionTokens == 0 || row.TokensEstimated {
		t.Errorf("stream usage not logged from the provider: %+v", row)
	}
	if row.Content != "Hello! You said: count me" || !row.Stream {
		t.Errorf("content %q stream %v", row.Content, row.Stream)
	}
	// 1 role chunk + 7 content + finish + usage + [DONE], as received from upstream.
	if len(row.ChunkTimes) < 9 || row.TimeToFirstToken <= 0 {
		t.Errorf("chunk_times %v ttft %v", row.ChunkTimes, row.TimeToFirstToken)
	}
}

func TestStreamWithClientUsage(t *testing.T) {
	h := newHarness(t)
	params := userParams("gpt-4o-mini", "usage please")
	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	var httpResp *http.Response
	stream := h.client.Chat.Completions.NewStreaming(context.Background(), params, option.WithResponseInto(&httpResp))
	acc := openai.ChatCompletionAccumulator{}
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if acc.Usage.TotalTokens == 0 {
		t.Fatal("client asked for usage and got none")
	}
	id := requestID(t, httpResp)
	recs := h.Rows(id)
	if req := h.Row(recs, "request"); req.UpstreamBody != nil {
		t.Errorf("body changed though the client asked for usage: %s", req.UpstreamBody)
	}
	row := h.Row(recs, "response")
	if row.PromptTokens != int(acc.Usage.PromptTokens) || row.CompletionTokens != int(acc.Usage.CompletionTokens) {
		t.Errorf("logged %d/%d, client saw %d/%d", row.PromptTokens, row.CompletionTokens, acc.Usage.PromptTokens, acc.Usage.CompletionTokens)
	}
	if row.Content != acc.Choices[0].Message.Content {
		t.Errorf("logged %q, client saw %q", row.Content, acc.Choices[0].Message.Content)
	}
}

func weatherTools() []openai.ChatCompletionToolUnionParam {
	tool := func(name string) openai.ChatCompletionToolUnionParam {
		return openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
			Name:       name,
			Parameters: shared.FunctionParameters{"type": "object", "properties": map[string]any{"location": map[string]any{"type": "string"}}},
		})
	}
	return []openai.ChatCompletionToolUnionParam{tool("get_weather"), tool("get_time")}
}

func TestParallelToolCallsStream(t *testing.T) {
	h := newHarness(t)
	params := userParams("gpt-4o", "weather and time in Paris")
	params.Tools = weatherTools()
	var httpResp *http.Response
	stream := h.client.Chat.Completions.NewStreaming(context.Background(), params,
		option.WithResponseInto(&httpResp), option.WithHeader("x-fake-tool-calls", "2"))
	acc := openai.ChatCompletionAccumulator{}
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	calls := acc.Choices[0].Message.ToolCalls
	if len(calls) != 2 {
		t.Fatalf("client got %d tool calls", len(calls))
	}
	row := h.Row(h.Rows(requestID(t, httpResp)), "response")
	var logged []struct {
		ID       string `json:"id"`
		Function struct {
			Name      string `json:"name"`
			Arguments string `json:"arguments"`
		} `json:"function"`
	}
	if err := json.Unmarshal([]byte(row.ToolCalls), &logged); err != nil {
		t.Fatalf("tool_calls %q: %v", row.ToolCalls, err)
	}
	if len(logged) != 2 {
		t.Fatalf("logged %d tool calls: %s", len(logged), row.ToolCalls)
	}
	for i, c := range calls {
		if logged[i].ID != c.ID || logged[i].Function.Name != c.Function.Name || logged[i].Function.Arguments != c.Function.Arguments {
			t.Errorf("call %d: logged %+v, client %+v", i, logged[i], c)
		}
	}
}

func TestResponsesAPI(t *testing.T) {
	h := newHarness(t)
	params := responses.ResponseNewParams{Model: "gpt-4.1-mini", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("tell me")}}
	var httpResp *http.Response
	got, err := h.client.Responses.New(context.Background(), params, option.WithResponseInto(&httpResp))
	if err != nil {
		t.Fatal(err)
	}
	recs := h.Rows(requestID(t, httpResp))
	if req := h.Row(recs, "request"); req.Content != "tell me" || req.Endpoint != "/responses" {
		t.Errorf("request row content %q endpoint %q", req.Content, req.Endpoint)
	}
	row := h.Row(recs, "response")
	if row.Content != got.OutputText() || row.PromptTokens != int(got.Usage.InputTokens) || row.CompletionTokens != int(got.Usage.OutputTokens) || row.TokensEstimated {
		t.Errorf("row %q %d/%d, client %q %d/%d", row.Content, row.PromptTokens, row.CompletionTokens, got.OutputText(), got.Usage.InputTokens, got.Usage.OutputTokens)
	}

	stream := h.client.Responses.NewStreaming(context.Background(), params, option.WithResponseInto(&httpResp))
	var text strings.Builder
	for stream.Next() {
		if ev := stream.Current(); ev.Type == "response.output_text.delta" {
			text.WriteString(ev.Delta)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	row = h.Row(h.Rows(requestID(t, httpResp)), "response")
	if row.Content != text.String() || row.CompletionTokens == 0 || !row.Stream {
		t.Errorf("stream row %q %d, client %q", row.Content, row.CompletionTokens, text.String())
	}
}

func TestEmbeddings(t *testing.T) {
	h := newHarness(t)
	var httpResp *http.Response
	got, err := h.client.Embeddings.New(context.Background(), openai.EmbeddingNewParams{
		Model: openai.EmbeddingModelTextEmbedding3Small,
		Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"one", "two"}},
	}, option.WithResponseInto(&httpResp))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Data) != 2 {
		t.Fatalf("%d embeddings", len(got.Data))
	}
	row := h.Row(h.Rows(requestID(t, httpResp)), "response")
	if row.PromptTokens != int(got.Usage.PromptTokens) || row.PromptTokens == 0 || row.Endpoint != "/embeddings" {
		t.Errorf("row tokens %d endpoint %q, upstream %d", row.PromptTokens, row.Endpoint, got.Usage.PromptTokens)
	}
}

func TestOtherEndpointsRelayed(t *testing.T) {
	h := newHarness(t)
	var httpResp *http.Response
	page, err := h.client.Models.List(context.Background(), option.WithResponseInto(&httpResp))
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Data) == 0 {
		t.Fatal("no models")
	}
	row := h.Row(h.Rows(requestID(t, httpResp)), "response")
	if row.Endpoint != "/models" || row.StatusCode != 200 || !strings.Contains(string(row.RawBody), page.Data[0].ID) {
		t.Errorf("models row %+v", row)
	}
}

// TestRoutes checks every prefix the OpenAI API is served under, and the query string.
func TestRoutes(t *testing.T) {
	h := newHarness(t)
	for _, path := range []string{"/chat/completions", "/v1/chat/completions", "/openai/chat/completions", "/openai/v1/chat/completions"} {
		t.Run(path, func(t *testing.T) {
			h.fake.Reset()
			resp, body := h.post(path+"?api-version=x&z=1", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			got := h.fake.Requests()[0]
			if got.Path != "/v1/chat/completions" || got.RawQuery != "api-version=x&z=1" {
				t.Errorf("upstream path %q query %q", got.Path, got.RawQuery)
			}
		})
	}
	// The base URL of the original README: http://127.0.0.1:8000/
	c := openai.NewClient(option.WithBaseURL(h.URL()+"/"), option.WithAPIKey(clientKey), option.WithMaxRetries(0))
	if _, err := c.Chat.Completions.New(context.Background(), userParams("gpt-4o-mini", "root")); err != nil {
		t.Fatalf("root base URL: %v", err)
	}
	resp, _ := h.post("/healthz", "")
	if resp.StatusCode != 200 {
		t.Errorf("healthz %d", resp.StatusCode)
	}
}

func TestHopByHopHeaders(t *testing.T) {
	h := newHarness(t)
	resp, body := h.post("/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"hi"}]}`,
		"Connection", "X-Drop-Me", "X-Drop-Me", "1", "X-Keep-Me", "2", "Proxy-Authorization", "Basic abc", "Api-Key", "client-azure-key")
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	got := h.fake.Requests()[0].Header
	if got.Get("X-Drop-Me") != "" || got.Get("Proxy-Authorization") != "" || got.Get("Api-Key") != "" {
		t.Errorf("hop-by-hop or client credential headers reached upstream: %v", got)
	}
	if got.Get("X-Keep-Me") != "2" {
		t.Errorf("end-to-end header lost: %v", got)
	}
}

func apiError(t *testing.T, err error) *openai.Error {
	t.Helper()
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("error %v is not an API error", err)
	}
	return apiErr
}

var _ = accesslog.DirectionRequest

func TestCostAndMetrics(t *testing.T) {
	m := metrics.New()
	h := newHarness(t, func(o *aiproxy.Options) { o.Metrics = m })
	var httpResp *http.Response
	got, err := h.client.Chat.Completions.New(context.Background(), userParams("gpt-4o-mini", "what does it cost"), option.WithResponseInto(&httpResp))
	if err != nil {
		t.Fatal(err)
	}
	row := h.Row(h.Rows(requestID(t, httpResp)), "response")
	price, ok := pricing.Default().Lookup("openai", "gpt-4o-mini")
	if !ok {
		t.Fatal("no price for gpt-4o-mini")
	}
	u := got.Usage
	want := (float64(u.PromptTokens-u.PromptTokensDetails.CachedTokens)*price.Input +
		float64(u.PromptTokensDetails.CachedTokens)*price.CachedInput + float64(u.CompletionTokens)*price.Output) / 1e6
	if row.CostUSD <= 0 || math.Abs(row.CostUSD-want) > 1e-12 {
		t.Errorf("cost_usd %v, want %v", row.CostUSD, want)
	}

	resp, err := http.Get(h.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, series := range []string{
		`aiproxy_requests_total{code="200",model="` + got.Model + `",provider="openai",stream="false"} 1`,
		`aiproxy_tokens_total{kind="input",model="` + got.Model + `",provider="openai"} ` + strconv.Itoa(int(u.PromptTokens)),
		`aiproxy_log_rows_written_total`,
	} {
		if !strings.Contains(string(body), series) {
			t.Errorf("/metrics lacks %s", series)
		}
	}
	if strings.Contains(string(body), upstreamKey) || strings.Contains(string(body), clientKey) {
		t.Error("a key reached /metrics")
	}
}
