package fakeazure

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/azure"
	"github.com/openai/openai-go/v3/option"

	"github.com/aiproxy-go/aiproxy/internal/fakeupstream"
)

const key = "azure-resource-key-0123456789"

const chatBody = `{"messages":[{"role":"user","content":"hi there"}]}`

func start(t *testing.T) (*Azure, *httptest.Server) {
	t.Helper()
	a := New(Options{APIKey: key})
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	return a, srv
}

// do sends a request and returns the status and body; header holds name, value pairs.
func do(t *testing.T, url, body string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestGatewayErrors(t *testing.T) {
	_, srv := start(t)
	chat := srv.URL + "/openai/deployments/gpt-4o/chat/completions"
	tests := []struct {
		name, url, body string
		header          []string
		status          int
		code, message   string
	}{
		{"no api-version", chat, chatBody, []string{"api-key", key}, 404, "404", "Resource not found"},
		{"bad api-version", chat + "?api-version=latest", chatBody, []string{"api-key", key}, 400, "BadRequest", "API version not supported"},
		{"unknown path", srv.URL + "/openai/deployments/gpt-4o/moderations?api-version=2024-10-21", chatBody, []string{"api-key", key}, 404, "404", "Resource not found"},
		{"no key", chat + "?api-version=2024-10-21", chatBody, nil, 401, "401", "missing subscription key"},
		{"wrong key", chat + "?api-version=2024-10-21", chatBody, []string{"api-key", "nope"}, 401, "401", "invalid subscription key"},
		{"key as bearer", chat + "?api-version=2024-10-21", chatBody, []string{"Authorization", "Bearer " + key}, 401, "401", "Access token is missing"},
		{"unknown deployment", srv.URL + "/openai/deployments/gpt-7/chat/completions?api-version=2024-10-21", chatBody, []string{"api-key", key}, 404, "DeploymentNotFound", "deployment for this resource does not exist"},
		{"v1 unknown model", srv.URL + "/openai/v1/chat/completions", `{"model":"gpt-7","messages":[]}`, []string{"api-key", key}, 404, "DeploymentNotFound", "does not exist"},
		{"injected 429", chat + "?api-version=2024-10-21", chatBody, []string{"api-key", key, fakeupstream.HeaderStatus, "429"}, 429, "429", "ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21"},
		{"injected 404", chat + "?api-version=2024-10-21", chatBody, []string{"api-key", key, fakeupstream.HeaderStatus, "404"}, 404, "DeploymentNotFound", "does not exist"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := do(t, tc.url, tc.body, tc.header...)
			var e struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal([]byte(body), &e); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			if resp.StatusCode != tc.status || e.Error.Code != tc.code || !strings.Contains(e.Error.Message, tc.message) {
				t.Fatalf("got %d %s", resp.StatusCode, body)
			}
			if resp.Header.Get("Apim-Request-Id") == "" {
				t.Error("no apim-request-id")
			}
		})
	}
}

func TestRateLimitHeaders(t *testing.T) {
	_, srv := start(t)
	resp, _ := do(t, srv.URL+"/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21", chatBody,
		"api-key", key, fakeupstream.HeaderStatus, "429", fakeupstream.HeaderRetryAfter, "2")
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "2" {
		t.Fatalf("status %d retry-after %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

func TestChatCompletionAnnotated(t *testing.T) {
	a, srv := start(t)
	resp, body := do(t, srv.URL+"/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21",
		`{"model":"whatever","messages":[{"role":"user","content":"hi there"}]}`, "api-key", key)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var c struct {
		Model               string
		PromptFilterResults []struct {
			PromptIndex          int             `json:"prompt_index"`
			ContentFilterResults json.RawMessage `json:"content_filter_results"`
		} `json:"prompt_filter_results"`
		Choices []struct {
			FinishReason         string          `json:"finish_reason"`
			ContentFilterResults json.RawMessage `json:"content_filter_results"`
			Message              struct{ Content string }
		}
	}
	if err := json.Unmarshal([]byte(body), &c); err != nil {
		t.Fatal(err)
	}
	if c.Model != "gpt-4o-2024-11-20" || len(c.PromptFilterResults) != 1 || len(c.Choices) != 1 ||
		string(c.Choices[0].ContentFilterResults) != safeResults || c.Choices[0].Message.Content != "Hello! You said: hi there" {
		t.Fatalf("body %s", body)
	}
	if resp.Header.Get("Openai-Version") != "" || resp.Header.Get("X-Request-Id") == "" {
		t.Errorf("headers %v", resp.Header)
	}
	reqs := a.Requests()
	if len(reqs) != 1 || reqs[0].Path != "/openai/deployments/gpt-4o/chat/completions" || reqs[0].RawQuery != "api-version=2024-10-21" ||
		reqs[0].Header.Get("Api-Key") != key || !strings.Contains(string(reqs[0].Body), `"whatever"`) {
		t.Errorf("recorded %+v", reqs)
	}
}

func TestStreamAnnotated(t *testing.T) {
	_, srv := start(t)
	resp, body := do(t, srv.URL+"/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21",
		`{"stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`,
		"api-key", key, fakeupstream.HeaderChunks, "3")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	events := strings.Split(strings.TrimSuffix(body, "\n\n"), "\n\n")
	// prompt filter, role, 3 contents, finish, usage, [DONE]
	if len(events) != 8 {
		t.Fatalf("%d events:\n%s", len(events), body)
	}
	if events[0] != strings.TrimSuffix(promptFilterChunk, "\n\n") {
		t.Errorf("first event %s", events[0])
	}
	if !strings.Contains(events[1], `"content_filter_results":{}`) || !strings.Contains(events[1], `"role":"assistant"`) {
		t.Errorf("role chunk %s", events[1])
	}
	for _, ev := range events[2:6] {
		if !strings.Contains(ev, `"content_filter_results":`+safeResults) || !strings.Contains(ev, `"model":"gpt-4o-2024-11-20"`) {
			t.Errorf("chunk %s", ev)
		}
	}
	if !strings.Contains(events[6], `"choices":[]`) || !strings.Contains(events[6], `"usage":{`) || events[7] != "data: [DONE]" {
		t.Errorf("tail %s %s", events[6], events[7])
	}
	if strings.Contains(body, "obfuscation") {
		t.Error("obfuscation field in an Azure stream")
	}
}

func TestStreamOptionsNeedRecentVersion(t *testing.T) {
	_, srv := start(t)
	body := `{"stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`
	resp, got := do(t, srv.URL+"/openai/deployments/gpt-4o/chat/completions?api-version=2024-06-01", body, "api-key", key)
	if resp.StatusCode != 400 || !strings.Contains(got, "Unrecognized request argument supplied: stream_options") {
		t.Fatalf("%d %s", resp.StatusCode, got)
	}
	if resp, got := do(t, srv.URL+"/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21", body, "api-key", key); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, got)
	}
}

func TestContentFilter(t *testing.T) {
	_, srv := start(t)
	url := srv.URL + "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"
	resp, body := do(t, url, chatBody, "api-key", key, HeaderContentFilter, "prompt")
	var e struct {
		Error struct {
			Code       string
			Param      string
			InnerError struct {
				Code string
			} `json:"innererror"`
		}
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || resp.StatusCode != 400 ||
		e.Error.Code != "content_filter" || e.Error.Param != "prompt" || e.Error.InnerError.Code != "ResponsibleAIPolicyViolation" {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}

	resp, body = do(t, url, chatBody, "api-key", key, HeaderContentFilter, "completion")
	if resp.StatusCode != 200 || !strings.Contains(body, `"finish_reason":"content_filter"`) || !strings.Contains(body, `"violence":{"filtered":true`) {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	resp, body = do(t, url, `{"stream":true,"messages":[{"role":"user","content":"hi"}]}`, "api-key", key, HeaderContentFilter, "completion")
	if resp.StatusCode != 200 || !strings.Contains(body, `"finish_reason":"content_filter"`) {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}

func TestV1API(t *testing.T) {
	a, srv := start(t)
	for _, auth := range [][]string{{"api-key", key}, {"Authorization", "Bearer " + key}} {
		resp, body := do(t, srv.URL+"/openai/v1/chat/completions", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"v1"}]}`, auth...)
		if resp.StatusCode != 200 || !strings.Contains(body, `"model":"gpt-4o-mini-2024-07-18"`) || !strings.Contains(body, "prompt_filter_results") {
			t.Fatalf("%s: %d %s", auth[0], resp.StatusCode, body)
		}
	}
	resp, body := do(t, srv.URL+"/openai/v1/embeddings", `{"model":"text-embedding-3-small","input":"x"}`, "api-key", key)
	if resp.StatusCode != 200 || strings.Contains(body, "filter") || !strings.Contains(body, `"embedding"`) {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if a.Hits() != 3 {
		t.Errorf("hits %d", a.Hits())
	}
	a.Reset()
	if a.Hits() != 0 || a.Requests() != nil {
		t.Error("reset kept state")
	}
}

func TestCutStream(t *testing.T) {
	_, srv := start(t)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21",
		strings.NewReader(`{"stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("api-key", key)
	req.Header.Set(fakeupstream.HeaderCutAfter, "2")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err %v, body %s", err, body)
	}
	// the prompt filter chunk, then the 2 events the cut lets through
	if n := strings.Count(string(body), "data: "); n != 3 {
		t.Fatalf("%d events before the cut:\n%s", n, body)
	}
}

// The official SDK's Azure options read the fake's replies and errors.
func TestSDK(t *testing.T) {
	_, srv := start(t)
	client := openai.NewClient(azure.WithEndpoint(srv.URL, "2024-10-21"), azure.WithAPIKey(key),
		azure.WithUnsafeAllowHTTP(), option.WithMaxRetries(0))
	params := openai.ChatCompletionNewParams{Model: "gpt-4o", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("sdk")}}
	c, err := client.Chat.Completions.New(context.Background(), params)
	if err != nil {
		t.Fatal(err)
	}
	if c.Choices[0].Message.Content != "Hello! You said: sdk" || c.Model != "gpt-4o-2024-11-20" {
		t.Fatalf("%s", c.RawJSON())
	}
	stream := client.Chat.Completions.NewStreaming(context.Background(), params)
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil || acc.Choices[0].Message.Content != "Hello! You said: sdk" {
		t.Fatalf("stream: %v %+v", err, acc)
	}
	params.Model = "gpt-7"
	_, err = client.Chat.Completions.New(context.Background(), params)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Code != "DeploymentNotFound" {
		t.Fatalf("err %v", err)
	}
}
