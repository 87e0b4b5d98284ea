package anthropic_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	sdk "github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/internal/fakeanthropic"
	"github.com/aiproxy-go/aiproxy/internal/fakeupstream"
	"github.com/aiproxy-go/aiproxy/internal/testproxy"
	"github.com/aiproxy-go/aiproxy/provider"
	"github.com/aiproxy-go/aiproxy/provider/anthropic"
	"github.com/aiproxy-go/aiproxy/provider/openai"
)

// upstreamKey is the proxy's own Anthropic key; it must never reach the log.
const upstreamKey = "sk-ant-api03-upstream-SECRET-0123456789abcdefXYZ"

// clientKey is what the SDK sends; the proxy must replace it.
const clientKey = "sk-ant-client-key-9876543210"

// env is an Anthropic SDK → proxy → fake Anthropic API, with an OpenAI provider
// registered after the Anthropic one, as the binary does.
type env struct {
	t      *testing.T
	h      *testproxy.Harness
	fake   *fakeanthropic.Server
	openai *fakeupstream.OpenAI
}

type envOption func(*aiproxy.Options, *anthropic.Options)

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	e := &env{t: t, fake: fakeanthropic.New(fakeanthropic.Options{APIKey: upstreamKey}), openai: fakeupstream.NewOpenAI(fakeupstream.OpenAIOptions{})}
	up := httptest.NewServer(e.fake)
	t.Cleanup(up.Close)
	oup := httptest.NewServer(e.openai)
	t.Cleanup(oup.Close)
	ao := anthropic.Options{BaseURL: up.URL, APIKey: upstreamKey}
	o := aiproxy.Options{Secrets: []string{upstreamKey}}
	for _, f := range opts {
		f(&o, &ao)
	}
	o.Providers = []provider.Provider{anthropic.New(ao), openai.New(openai.Options{APIKey: "sk-openai-upstream", BaseURL: oup.URL + "/v1"})}
	e.h = testproxy.New(t, o)
	return e
}

// client returns an SDK client for the proxy at base ("/" or "/anthropic/").
func (e *env) client(base string, opts ...option.RequestOption) *sdk.Client {
	c := sdk.NewClient(append([]option.RequestOption{
		option.WithBaseURL(e.h.URL() + base),
		option.WithAPIKey(clientKey),
		option.WithMaxRetries(0),
	}, opts...)...)
	return &c
}

// bases are the two ways to point the SDK at the proxy.
var bases = []string{"/", "/anthropic/"}

func params(text string) sdk.MessageNewParams {
	return sdk.MessageNewParams{
		Model:     "claude-sonnet-4-5",
		MaxTokens: 4096,
		System:    []sdk.TextBlockParam{{Text: "Be brief."}},
		Messages:  []sdk.MessageParam{sdk.NewUserMessage(sdk.NewTextBlock(text))},
		Metadata:  sdk.MetadataParam{UserID: sdk.String("user-7")},
	}
}

func weatherTools() []sdk.ToolUnionParam {
	schema := sdk.ToolInputSchemaParam{Properties: map[string]any{"location": map[string]any{"type": "string"}}}
	return []sdk.ToolUnionParam{
		{OfTool: &sdk.ToolParam{Name: "get_weather", InputSchema: schema}},
		{OfTool: &sdk.ToolParam{Name: "get_time", InputSchema: schema}},
	}
}

// accumulate reads a whole stream into a Message, as SDK users do.
func accumulate(t *testing.T, s interface {
	Next() bool
	Current() sdk.MessageStreamEventUnion
	Err() error
}) (sdk.Message, error) {
	t.Helper()
	var m sdk.Message
	for s.Next() {
		if err := m.Accumulate(s.Current()); err != nil {
			t.Fatalf("accumulate: %v", err)
		}
	}
	return m, s.Err()
}

func textOf(m sdk.Message) string {
	var b strings.Builder
	for _, c := range m.Content {
		if c.Type == "text" {
			b.WriteString(c.Text)
		}
	}
	return b.String()
}

// loggedToolCalls decodes a row's tool_calls column.
func loggedToolCalls(t *testing.T, r *accesslog.Record) []provider.ToolCall {
	t.Helper()
	if r.ToolCalls == "" {
		return nil
	}
	var calls []provider.ToolCall
	if err := json.Unmarshal([]byte(r.ToolCalls), &calls); err != nil {
		t.Fatalf("tool_calls %q: %v", r.ToolCalls, err)
	}
	return calls
}

// checkToolCalls compares the tool_use blocks the client got with the logged tool calls.
func checkToolCalls(t *testing.T, m sdk.Message, logged []provider.ToolCall) {
	t.Helper()
	var want []provider.ToolCall
	for _, c := range m.Content {
		if c.Type == "tool_use" {
			want = append(want, provider.ToolCall{ID: c.ID, Type: "function", Function: provider.FunctionCall{Name: c.Name, Arguments: string(c.Input)}})
		}
	}
	if len(want) == 0 || !slices.Equal(want, logged) {
		t.Errorf("logged tool calls %+v, client got %+v", logged, want)
	}
}

func TestMessage(t *testing.T) {
	for _, base := range bases {
		t.Run(base, func(t *testing.T) {
			e := newEnv(t)
			var httpResp *http.Response
			got, err := e.client(base).Messages.New(context.Background(), params("hello proxy"),
				option.WithResponseInto(&httpResp),
				option.WithHeader("anthropic-beta", "interleaved-thinking-2025-05-14"),
				option.WithHeader(fakeanthropic.HeaderCacheReadTokens, "5"),
				option.WithHeader(fakeanthropic.HeaderCacheCreationTokens, "3"))
			if err != nil {
				t.Fatal(err)
			}
			if textOf(*got) != "Hello! You said: hello proxy" || got.StopReason != sdk.StopReasonEndTurn {
				t.Fatalf("message %s", got.RawJSON())
			}

			reqs := e.fake.Requests()
			if len(reqs) != 1 {
				t.Fatalf("upstream got %d requests", len(reqs))
			}
			id := e.h.RequestID(httpResp)
			rows := e.h.Rows(id)
			req, resp := e.h.Row(rows, "request"), e.h.Row(rows, "response")

			// anthropic-version and anthropic-beta pass through as the SDK sent them.
			up := reqs[0]
			if sent := req.RawHeaders.Get("Anthropic-Version"); sent == "" || up.Header.Get("Anthropic-Version") != sent {
				t.Errorf("anthropic-version: client sent %q, upstream got %q", sent, up.Header.Get("Anthropic-Version"))
			}
			if up.Path != "/v1/messages" || up.Header.Get("X-Api-Key") != upstreamKey || up.Header.Get("Authorization") != "" ||
				up.Header.Get("Anthropic-Beta") != "interleaved-thinking-2025-05-14" {
				t.Errorf("upstream request %s %v", up.Path, up.Header)
			}
			if req.Provider != "anthropic" || req.Endpoint != "/v1/messages" || req.Model != "claude-sonnet-4-5" || req.User != "user-7" || req.Content != "hello proxy" || req.Stream {
				t.Errorf("request row %+v", req)
			}
			if !bytes.Equal(req.RawBody, up.Body) || req.UpstreamBody != nil {
				t.Errorf("body changed on the way: client %s, upstream %s, upstream_body %s", req.RawBody, up.Body, req.UpstreamBody)
			}
			u := got.Usage
			if resp.StatusCode != 200 || resp.Content != textOf(*got) || resp.Model != string(got.Model) || resp.TokensEstimated ||
				resp.PromptTokens != int(u.InputTokens+u.CacheCreationInputTokens+u.CacheReadInputTokens) || resp.CachedTokens != 5 ||
				resp.CompletionTokens != int(u.OutputTokens) || u.CacheReadInputTokens != 5 || u.CacheCreationInputTokens != 3 {
				t.Errorf("response row %+v, usage %s", resp, u.RawJSON())
			}
			if resp.UpstreamRequestID == "" || resp.UpstreamRequestID != httpResp.Header.Get("Request-Id") {
				t.Errorf("upstream request id %q, client saw %q", resp.UpstreamRequestID, httpResp.Header.Get("Request-Id"))
			}
		})
	}
}

func TestStream(t *testing.T) {
	for _, base := range bases {
		t.Run(base, func(t *testing.T) {
			e := newEnv(t)
			var httpResp *http.Response
			s := e.client(base).Messages.NewStreaming(context.Background(), params("stream please"), option.WithResponseInto(&httpResp),
				option.WithHeader(fakeanthropic.HeaderChunks, "6"), option.WithHeader(fakeanthropic.HeaderCacheReadTokens, "4"))
			m, err := accumulate(t, s)
			if err != nil {
				t.Fatal(err)
			}
			if textOf(m) != "Hello! You said: stream please" {
				t.Fatalf("accumulated %s", m.RawJSON())
			}
			rows := e.h.Rows(e.h.RequestID(httpResp))
			req, resp := e.h.Row(rows, "request"), e.h.Row(rows, "response")
			if !req.Stream || !resp.Stream {
				t.Errorf("stream not logged: %v %v", req.Stream, resp.Stream)
			}
			u := m.Usage
			if resp.Content != textOf(m) || resp.Model != string(m.Model) || resp.TokensEstimated ||
				resp.PromptTokens != int(u.InputTokens+u.CacheReadInputTokens+u.CacheCreationInputTokens) || resp.CachedTokens != 4 || resp.CompletionTokens != int(u.OutputTokens) {
				t.Errorf("response row %+v, client usage %s", resp, u.RawJSON())
			}
			// message_start, block start, ping, 6 deltas, block stop, message_delta, message_stop.
			if len(resp.ChunkTimes) != 12 || resp.TimeToFirstToken <= 0 {
				t.Errorf("chunk_times %v ttft %v", resp.ChunkTimes, resp.TimeToFirstToken)
			}
			if !bytes.Contains(resp.RawBody, []byte("event: ping\n")) || !bytes.HasSuffix(resp.RawBody, []byte("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")) {
				t.Errorf("raw body %s", resp.RawBody)
			}
		})
	}
}

// The client receives exactly the bytes the upstream sent, and the log keeps them.
func TestStreamRelayedByteForByte(t *testing.T) {
	e := newEnv(t)
	body := `{"model":"claude-haiku-4-5","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"byte for byte — ünïcode ✓"}]}`
	req, _ := http.NewRequest("POST", e.h.URL()+"/v1/messages", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Api-Key", clientKey) // an older SDK's header, and no anthropic-version
	req.Header.Set(fakeanthropic.HeaderChunks, "9")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream; charset=utf-8" {
		t.Fatalf("%d %v %v", resp.StatusCode, resp.Header, err)
	}
	row := e.h.Row(e.h.Rows(e.h.RequestID(resp)), "response")
	if !bytes.Equal(row.RawBody, got) {
		t.Errorf("logged stream differs from the one relayed:\nlogged  %q\nrelayed %q", row.RawBody, got)
	}
	if row.Content != "Hello! You said: byte for byte — ünïcode ✓" {
		t.Errorf("content %q", row.Content)
	}
	up := e.fake.Requests()[0]
	if up.Header.Get("Anthropic-Version") != anthropic.DefaultVersion || up.Header.Get("X-Api-Key") != upstreamKey {
		t.Errorf("upstream headers %v", up.Header)
	}
}

func TestToolUse(t *testing.T) {
	for _, stream := range []bool{false, true} {
		t.Run(map[bool]string{false: "message", true: "stream"}[stream], func(t *testing.T) {
			e := newEnv(t)
			p := params("weather and time in Paris, use tools")
			p.Tools = weatherTools()
			opts := []option.RequestOption{option.WithHeader(fakeanthropic.HeaderReply, "Let me look."), option.WithHeader(fakeanthropic.HeaderChunks, "4")}
			var httpResp *http.Response
			opts = append(opts, option.WithResponseInto(&httpResp))
			var m sdk.Message
			if stream {
				var err error
				if m, err = accumulate(t, e.client("/").Messages.NewStreaming(context.Background(), p, opts...)); err != nil {
					t.Fatal(err)
				}
			} else {
				got, err := e.client("/").Messages.New(context.Background(), p, opts...)
				if err != nil {
					t.Fatal(err)
				}
				m = *got
			}
			if m.StopReason != sdk.StopReasonToolUse || len(m.Content) != 3 || m.Content[1].Name != "get_weather" || m.Content[2].Name != "get_time" {
				t.Fatalf("message %s", m.RawJSON())
			}
			row := e.h.Row(e.h.Rows(e.h.RequestID(httpResp)), "response")
			calls := loggedToolCalls(t, row)
			checkToolCalls(t, m, calls)
			if calls[0].Function.Arguments != `{"location":"Paris"}` || calls[1].Function.Arguments != `{"location":"London"}` || !strings.HasPrefix(calls[0].ID, "toolu_") {
				t.Errorf("tool calls %+v", calls)
			}
			if row.Content != "Let me look." || row.CompletionTokens != int(m.Usage.OutputTokens) {
				t.Errorf("row %+v", row)
			}
		})
	}
}

func TestThinking(t *testing.T) {
	for _, stream := range []bool{false, true} {
		t.Run(map[bool]string{false: "message", true: "stream"}[stream], func(t *testing.T) {
			e := newEnv(t)
			p := params("think first")
			p.Thinking = sdk.ThinkingConfigParamOfEnabled(2048)
			var httpResp *http.Response
			var m sdk.Message
			if stream {
				var err error
				if m, err = accumulate(t, e.client("/anthropic/").Messages.NewStreaming(context.Background(), p, option.WithResponseInto(&httpResp))); err != nil {
					t.Fatal(err)
				}
			} else {
				got, err := e.client("/anthropic/").Messages.New(context.Background(), p, option.WithResponseInto(&httpResp))
				if err != nil {
					t.Fatal(err)
				}
				m = *got
			}
			if len(m.Content) != 2 || m.Content[0].Type != "thinking" || m.Content[0].Thinking == "" || m.Content[0].Signature == "" || m.Content[1].Text != "Hello! You said: think first" {
				t.Fatalf("message %s", m.RawJSON())
			}
			row := e.h.Row(e.h.Rows(e.h.RequestID(httpResp)), "response")
			if row.Content != m.Content[1].Text {
				t.Errorf("content %q: thinking must not be logged as the answer", row.Content)
			}
			if row.ReasoningTokens == 0 || row.ReasoningTokens != int(m.Usage.OutputTokensDetails.ThinkingTokens) || row.CompletionTokens != int(m.Usage.OutputTokens) {
				t.Errorf("reasoning %d completion %d, usage %s", row.ReasoningTokens, row.CompletionTokens, m.Usage.RawJSON())
			}
			if !bytes.Contains(row.RawBody, []byte(m.Content[0].Signature)) {
				t.Error("thinking block not in the logged body")
			}
		})
	}
}

func TestCountTokens(t *testing.T) {
	e := newEnv(t)
	var httpResp *http.Response
	n, err := e.client("/").Messages.CountTokens(context.Background(), sdk.MessageCountTokensParams{
		Model:    "claude-sonnet-4-5",
		Messages: []sdk.MessageParam{sdk.NewUserMessage(sdk.NewTextBlock("how many tokens"))},
	}, option.WithResponseInto(&httpResp))
	if err != nil || n.InputTokens != 10 {
		t.Fatalf("count %v %v", n, err)
	}
	if e.fake.Requests()[0].Path != "/v1/messages/count_tokens" {
		t.Errorf("upstream path %s", e.fake.Requests()[0].Path)
	}
	rows := e.h.Rows(e.h.RequestID(httpResp))
	req, resp := e.h.Row(rows, "request"), e.h.Row(rows, "response")
	if req.Endpoint != "/v1/messages/count_tokens" || req.Content != "how many tokens" || resp.StatusCode != 200 {
		t.Errorf("rows %+v %+v", req, resp)
	}
	if string(resp.RawBody) != `{"input_tokens":10}` || resp.PromptTokens != 0 || resp.TokensEstimated {
		t.Errorf("count_tokens logged as tokens used: %+v", resp)
	}
}

// The models list of the SDK carries anthropic-version, so it reaches Anthropic, while
// OpenAI's /v1 paths still reach OpenAI.
func TestRoutes(t *testing.T) {
	e := newEnv(t)
	var httpResp *http.Response
	page, err := e.client("/").Models.List(context.Background(), sdk.ModelListParams{}, option.WithResponseInto(&httpResp))
	if err != nil || len(page.Data) == 0 || !strings.HasPrefix(page.Data[0].ID, "claude-") {
		t.Fatalf("models %v %v", page, err)
	}
	if row := e.h.Row(e.h.Rows(e.h.RequestID(httpResp)), "response"); row.Provider != "anthropic" || row.Endpoint != "/v1/models" {
		t.Errorf("models row %+v", row)
	}
	req, _ := http.NewRequest("POST", e.h.URL()+"/v1/chat/completions", strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || e.openai.Hits() != 1 || len(e.fake.Requests()) != 1 {
		t.Errorf("chat completion: %d, openai hits %d, anthropic hits %d", resp.StatusCode, e.openai.Hits(), len(e.fake.Requests()))
	}
}

func TestUpstreamErrors(t *testing.T) {
	tests := []struct {
		name   string
		status int
		typ    string
		opts   []envOption
		header []string
	}{
		{"400", 400, "invalid_request_error", nil, []string{fakeanthropic.HeaderStatus, "400"}},
		{"401 when the proxy's key is wrong", 401, "authentication_error", []envOption{func(_ *aiproxy.Options, a *anthropic.Options) { a.APIKey = "sk-ant-wrong-key-0000000000" }}, nil},
		{"429", 429, "rate_limit_error", nil, []string{fakeanthropic.HeaderStatus, "429", fakeanthropic.HeaderRetryAfter, "7"}},
		{"529", 529, "overloaded_error", nil, []string{fakeanthropic.HeaderStatus, "529"}},
	}
	for _, tc := range tests {
		for _, stream := range []bool{false, true} {
			t.Run(tc.name+map[bool]string{false: "", true: " stream"}[stream], func(t *testing.T) {
				e := newEnv(t, tc.opts...)
				var httpResp *http.Response
				opts := []option.RequestOption{option.WithResponseInto(&httpResp)}
				for i := 0; i+1 < len(tc.header); i += 2 {
					opts = append(opts, option.WithHeader(tc.header[i], tc.header[i+1]))
				}
				var err error
				if stream {
					_, err = accumulate(t, e.client("/").Messages.NewStreaming(context.Background(), params("x"), opts...))
				} else {
					_, err = e.client("/").Messages.New(context.Background(), params("x"), opts...)
				}
				var apiErr *sdk.Error
				if !errors.As(err, &apiErr) {
					t.Fatalf("error %v is not the SDK's API error", err)
				}
				if apiErr.StatusCode != tc.status || string(apiErr.Type()) != tc.typ || apiErr.RequestID == "" || apiErr.Message == "" {
					t.Fatalf("status %d type %q request id %q message %q", apiErr.StatusCode, apiErr.Type(), apiErr.RequestID, apiErr.Message)
				}
				if tc.status == 429 && apiErr.Response.Header.Get("Retry-After") != "7" {
					t.Errorf("retry-after %q", apiErr.Response.Header.Get("Retry-After"))
				}
				rows := e.h.Rows(e.h.RequestID(httpResp))
				row := e.h.Row(rows, "error")
				if row.StatusCode != tc.status || row.Content != apiErr.Message || row.UpstreamRequestID != apiErr.RequestID {
					t.Errorf("error row %+v, client saw %q", row, apiErr.Message)
				}
			})
		}
	}
}

func TestInvalidJSON(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/v1/messages", "/anthropic/v1/messages"} {
		req, _ := http.NewRequest("POST", e.h.URL()+path, strings.NewReader(`{"model": "claude-sonnet-4-5", "messages": [`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Anthropic-Version", "2023-06-01")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var got struct {
			Type  string `json:"type"`
			Error struct {
				Type    string `json:"type"`
				Message string `json:"message"`
			} `json:"error"`
			RequestID string `json:"request_id"`
		}
		if resp.StatusCode != 400 || json.Unmarshal(body, &got) != nil || got.Type != "error" || got.Error.Type != "invalid_request_error" ||
			!strings.Contains(got.Error.Message, "not valid json") || got.RequestID != resp.Header.Get(aiproxy.HeaderRequestID) || resp.Header.Get("Request-Id") != got.RequestID {
			t.Errorf("%s: %d %s", path, resp.StatusCode, body)
		}
		row := e.h.Row(e.h.Rows(e.h.RequestID(resp)), "error")
		if row.StatusCode != 400 || row.Content != got.Error.Message {
			t.Errorf("error row %+v", row)
		}
	}
	if e.fake.Hits() != 0 {
		t.Errorf("invalid json reached the upstream")
	}
}

func TestUpstreamCutsStream(t *testing.T) {
	e := newEnv(t)
	var httpResp *http.Response
	_, err := accumulate(t, e.client("/").Messages.NewStreaming(context.Background(), params("cut me"), option.WithResponseInto(&httpResp),
		option.WithHeader(fakeanthropic.HeaderCutAfter, "5")))
	if err == nil {
		t.Fatal("a cut stream read as whole")
	}
	row := e.h.Row(e.h.Rows(e.h.RequestID(httpResp)), "error")
	if !strings.Contains(row.Content, "ended early") || bytes.Count(row.RawBody, []byte("\n\n")) != 5 || row.PromptTokens == 0 {
		t.Errorf("error row %+v", row)
	}
}

// An error event after the 200 reaches the client's SDK as an error, and the exchange is
// logged as an error row with the status the error type has outside a stream, whether the
// stream was relayed or held by a response filter.
func TestStreamErrorEvent(t *testing.T) {
	observe := aiproxy.ResponseFilterFunc(func(context.Context, *aiproxy.Exchange, *aiproxy.Response) error {
		t.Error("a failed stream was given to a response filter")
		return nil
	})
	for _, held := range []bool{false, true} {
		t.Run(map[bool]string{false: "relayed", true: "held"}[held], func(t *testing.T) {
			e := newEnv(t, func(o *aiproxy.Options, _ *anthropic.Options) {
				if held {
					o.ResponseFilters = []aiproxy.ResponseFilter{observe}
				}
			})
			var httpResp *http.Response
			m, err := accumulate(t, e.client("/").Messages.NewStreaming(context.Background(), params("fail midway"), option.WithResponseInto(&httpResp),
				option.WithHeader(fakeanthropic.HeaderStreamError, "5")))
			var apiErr *sdk.Error
			if !errors.As(err, &apiErr) || string(apiErr.Type()) != "overloaded_error" {
				t.Fatalf("stream error %v", err)
			}
			if textOf(m) == "" {
				t.Error("the text before the error did not reach the client")
			}
			row := e.h.Row(e.h.Rows(e.h.RequestID(httpResp)), "error")
			if row.StatusCode != 529 || row.Content != "Overloaded" || row.PromptTokens == 0 ||
				!bytes.Contains(row.RawBody, []byte("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\"")) {
				t.Errorf("row %+v", row)
			}
		})
	}
}

// replyFilter answers every request whose last user text is "canned" itself.
var replyFilter = aiproxy.RequestFilterFunc(func(ctx context.Context, x *aiproxy.Exchange) (*aiproxy.Reply, error) {
	var body struct {
		Messages []struct {
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
	}
	if err := x.DecodeJSON(&body); err != nil || len(body.Messages) == 0 || !bytes.Contains(body.Messages[len(body.Messages)-1].Content, []byte(`"canned`)) {
		return nil, nil
	}
	return &aiproxy.Reply{Text: "From the filter.", Model: "claude-filter",
		ToolCalls: []provider.ToolCall{{ID: "toolu_filter1", Type: "function", Function: provider.FunctionCall{Name: "get_weather", Arguments: `{"location": "Oslo"}`}}},
		Usage:     &provider.Usage{InputTokens: 12, CachedTokens: 2, OutputTokens: 7}}, nil
})

func TestFilterReply(t *testing.T) {
	e := newEnv(t, func(o *aiproxy.Options, _ *anthropic.Options) {
		o.RequestFilters = []aiproxy.RequestFilter{replyFilter}
	})
	for _, stream := range []bool{false, true} {
		var m sdk.Message
		var httpResp *http.Response
		if stream {
			var err error
			if m, err = accumulate(t, e.client("/").Messages.NewStreaming(context.Background(), params("canned"), option.WithResponseInto(&httpResp))); err != nil {
				t.Fatal(err)
			}
			if ct := httpResp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
				t.Errorf("stream reply content type %q", ct)
			}
		} else {
			got, err := e.client("/").Messages.New(context.Background(), params("canned"), option.WithResponseInto(&httpResp))
			if err != nil {
				t.Fatal(err)
			}
			m = *got
		}
		if m.Type != "message" || m.Role != "assistant" || m.Model != "claude-filter" || !strings.HasPrefix(m.ID, "msg_") || m.StopReason != sdk.StopReasonToolUse ||
			len(m.Content) != 2 || m.Content[0].Text != "From the filter." || m.Content[1].ID != "toolu_filter1" || string(m.Content[1].Input) != `{"location":"Oslo"}` {
			t.Errorf("stream=%v: message %s", stream, m.RawJSON())
		}
		if m.Usage.InputTokens != 10 || m.Usage.CacheReadInputTokens != 2 || m.Usage.OutputTokens != 7 {
			t.Errorf("stream=%v: usage %s", stream, m.Usage.RawJSON())
		}
		row := e.h.Row(e.h.Rows(e.h.RequestID(httpResp)), "response")
		if row.Content != "From the filter." || row.PromptTokens != 12 || row.CachedTokens != 2 {
			t.Errorf("stream=%v: row %+v", stream, row)
		}
	}
	if e.fake.Hits() != 0 {
		t.Errorf("the filter's reply called the upstream")
	}
}

func TestReplay(t *testing.T) {
	e := newEnv(t)
	p := params("weather in Paris and Tokyo")
	p.Tools = weatherTools()
	var first *http.Response
	orig, err := e.client("/").Messages.New(context.Background(), p, option.WithResponseInto(&first),
		option.WithHeader(fakeanthropic.HeaderToolCalls, "2"), option.WithHeader(fakeanthropic.HeaderCacheReadTokens, "6"))
	if err != nil {
		t.Fatal(err)
	}
	id := e.h.RequestID(first)
	e.h.Rows(id)
	for _, stream := range []bool{false, true} {
		var m sdk.Message
		replay := option.WithHeader("x-aiproxy-replay", id)
		if stream {
			if m, err = accumulate(t, e.client("/anthropic/").Messages.NewStreaming(context.Background(), p, replay)); err != nil {
				t.Fatal(err)
			}
		} else {
			got, err := e.client("/anthropic/").Messages.New(context.Background(), p, replay)
			if err != nil {
				t.Fatal(err)
			}
			m = *got
		}
		if len(m.Content) != 2 || m.Content[0].ID != orig.Content[0].ID || m.Content[1].Name != orig.Content[1].Name ||
			string(m.Content[0].Input) != string(orig.Content[0].Input) || m.StopReason != sdk.StopReasonToolUse {
			t.Errorf("stream=%v: replayed %s\noriginal %s", stream, m.RawJSON(), orig.RawJSON())
		}
		if m.Usage.InputTokens != orig.Usage.InputTokens+orig.Usage.CacheCreationInputTokens || m.Usage.CacheReadInputTokens != 6 || m.Usage.OutputTokens != orig.Usage.OutputTokens {
			t.Errorf("stream=%v: replayed usage %s, original %s", stream, m.Usage.RawJSON(), orig.Usage.RawJSON())
		}
	}
	if e.fake.Hits() != 1 {
		t.Errorf("replay called the upstream (%d hits)", e.fake.Hits())
	}
}

// The proxy's key never reaches the log; the client's key, sent either way, is masked
// in the log and never reaches the upstream.
func TestCredentials(t *testing.T) {
	e := newEnv(t)
	var viaBearer, viaHeader *http.Response
	if _, err := e.client("/").Messages.New(context.Background(), params("bearer"), option.WithResponseInto(&viaBearer)); err != nil {
		t.Fatal(err)
	}
	old := sdk.NewClient(option.WithoutEnvironmentDefaults(), option.WithBaseURL(e.h.URL()+"/anthropic/"),
		option.WithHeader("X-Api-Key", clientKey), option.WithMaxRetries(0))
	if _, err := old.Messages.New(context.Background(), params("x-api-key"), option.WithResponseInto(&viaHeader)); err != nil {
		t.Fatal(err)
	}
	s := e.client("/").Messages.NewStreaming(context.Background(), params("stream"))
	if _, err := accumulate(t, s); err != nil {
		t.Fatal(err)
	}
	_, _ = e.client("/").Messages.New(context.Background(), params("fail"), option.WithHeader(fakeanthropic.HeaderStatus, "500"))

	for i, resp := range []*http.Response{viaBearer, viaHeader} {
		req := e.h.Row(e.h.Rows(e.h.RequestID(resp)), "request")
		name := []string{"Authorization", "X-Api-Key"}[i]
		masked := req.RawHeaders.Get(name)
		if masked == "" || strings.Contains(masked, clientKey) || !strings.Contains(masked, "***") {
			t.Errorf("%s logged as %q", name, masked)
		}
	}
	for _, r := range e.fake.Requests() {
		for name, vals := range r.Header {
			for _, v := range vals {
				if strings.Contains(v, clientKey) {
					t.Errorf("client key sent upstream in %s", name)
				}
			}
		}
		if r.Header.Get("X-Api-Key") != upstreamKey || r.Header.Get("Authorization") != "" {
			t.Errorf("upstream credentials %v", r.Header)
		}
	}
	e.h.RowsN("flush", 0)
	files, _ := filepath.Glob(e.h.DBPath + "*")
	if len(files) == 0 {
		t.Fatal("no database files")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(upstreamKey)) || bytes.Contains(b, []byte(upstreamKey[12:])) {
			t.Errorf("upstream key found in %s", filepath.Base(f))
		}
		if bytes.Contains(b, []byte(clientKey)) {
			t.Errorf("client key found in %s", filepath.Base(f))
		}
	}
}

// Without a key of its own the provider forwards the client's credential as it came.
func TestForwardsClientCredential(t *testing.T) {
	e := newEnv(t, func(_ *aiproxy.Options, a *anthropic.Options) { a.APIKey = "" })
	c := sdk.NewClient(option.WithBaseURL(e.h.URL()+"/"), option.WithAPIKey(upstreamKey), option.WithMaxRetries(0))

	if _, err := c.Messages.New(context.Background(), params("mine")); err != nil {
		t.Fatal(err)
	}
	if got := e.fake.Requests()[0].Header.Get("Authorization"); got != "Bearer "+upstreamKey {
		t.Errorf("upstream Authorization %q", got)
	}
}

// A response filter holds the stream: it sees the whole Message, and the client gets the
// stream as relayed when the filter left it alone, or the changed Message as a stream.
func TestResponseFilterHoldsStream(t *testing.T) {
	var seen []string
	rewrite := aiproxy.ResponseFilterFunc(func(ctx context.Context, x *aiproxy.Exchange, resp *aiproxy.Response) error {
		var m struct {
			Type    string `json:"type"`
			Content []struct {
				Text string `json:"text"`
			} `json:"content"`
		}
		if err := json.Unmarshal(resp.Body, &m); err != nil || m.Type != "message" {
			t.Errorf("filter got %s", resp.Body)
			return nil
		}
		seen = append(seen, m.Content[0].Text)
		if strings.Contains(m.Content[0].Text, "rewrite") {
			resp.Body = bytes.ReplaceAll(resp.Body, []byte("Hello!"), []byte("Howdy!"))
		}
		return nil
	})
	e := newEnv(t, func(o *aiproxy.Options, _ *anthropic.Options) { o.ResponseFilters = []aiproxy.ResponseFilter{rewrite} })
	for _, text := range []string{"keep me", "rewrite me"} {
		var httpResp *http.Response
		m, err := accumulate(t, e.client("/").Messages.NewStreaming(context.Background(), params(text), option.WithResponseInto(&httpResp)))
		if err != nil {
			t.Fatal(err)
		}
		want := "Hello! You said: " + text
		if text == "rewrite me" {
			want = "Howdy! You said: " + text
		}
		if textOf(m) != want || m.Usage.OutputTokens == 0 {
			t.Errorf("client got %s", m.RawJSON())
		}
		row := e.h.Row(e.h.Rows(e.h.RequestID(httpResp)), "response")
		if row.Content != want || row.CompletionTokens != int(m.Usage.OutputTokens) {
			t.Errorf("row %+v", row)
		}
	}
	if len(seen) != 2 || seen[0] != "Hello! You said: keep me" {
		t.Errorf("filter saw %q", seen)
	}
}
