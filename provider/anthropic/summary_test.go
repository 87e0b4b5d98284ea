package anthropic_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aiproxy-go/aiproxy/provider"
	"github.com/aiproxy-go/aiproxy/provider/anthropic"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// cutBefore returns b up to the first occurrence of marker, as a stream cut there.
func cutBefore(t testing.TB, b []byte, marker string) []byte {
	t.Helper()
	i := bytes.Index(b, []byte(marker))
	if i < 0 {
		t.Fatalf("marker %q not in body", marker)
	}
	return b[:i]
}

func checkSummary(t *testing.T, got, want provider.Summary) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", "  ")
		w, _ := json.MarshalIndent(want, "", "  ")
		t.Errorf("got %s\nwant %s", g, w)
	}
}

func tool(id, name, args string) provider.ToolCall {
	return provider.ToolCall{ID: id, Type: "function", Function: provider.FunctionCall{Name: name, Arguments: args}}
}

func TestSummarizeRequest(t *testing.T) {
	p := anthropic.New(anthropic.Options{})
	tools := `[{"name":"get_weather","description":"Get the weather","input_schema":{"type":"object","properties":{"location":{"type":"string"}}}}]`
	tests := []struct {
		name, endpoint, body, file string
		want                       provider.Summary
	}{
		{
			name: "tool loop: the last user text is the question, not the tool result", endpoint: "/v1/messages", file: "request.json",
			want: provider.Summary{Model: "claude-sonnet-4-5", User: "user-42", Content: "What is the weather in Paris?",
				Text: strings.Join([]string{"You are a travel assistant.", "What is the weather in Paris?", "Let me check.",
					"get_weather", `{"location":"Paris"}`, "18 °C, clear", tools}, "\n")},
		},
		{
			name: "string system and text blocks", endpoint: "/v1/messages",
			body: `{"model":"claude-haiku-4-5","system":"Be brief.","messages":[{"role":"user","content":[{"type":"text","text":"one"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAAA"}},{"type":"text","text":"two"}]}]}`,
			want: provider.Summary{Model: "claude-haiku-4-5", Content: "one\ntwo", Text: "Be brief.\none\ntwo"},
		},
		{
			name: "an image-only last user message has no text", endpoint: "/v1/messages",
			body: `{"model":"m","messages":[{"role":"user","content":"first"},{"role":"assistant","content":"ok"},{"role":"user","content":[{"type":"image","source":{}}]}]}`,
			want: provider.Summary{Model: "m", Content: "", Text: "first\nok"},
		},
		{
			name: "count_tokens reads like messages", endpoint: "/v1/messages/count_tokens",
			body: `{"model":"m","messages":[{"role":"user","content":"count me"}]}`,
			want: provider.Summary{Model: "m", Content: "count me", Text: "count me"},
		},
		{
			name: "other endpoints give model and user only", endpoint: "/v1/messages/batches",
			body: `{"requests":[{"custom_id":"a","params":{"model":"m","messages":[]}}]}`,
			want: provider.Summary{},
		},
		{
			name: "wrong types spoil one field", endpoint: "/v1/messages",
			body: `{"model":7,"metadata":{"user_id":"u"},"messages":[{"role":"user","content":"hi"}]}`,
			want: provider.Summary{User: "u", Content: "hi", Text: "hi"},
		},
		{name: "not json", endpoint: "/v1/messages", body: `{"model":`, want: provider.Summary{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(tc.body)
			if tc.file != "" {
				body = readTestdata(t, tc.file)
			}
			checkSummary(t, p.SummarizeRequest(tc.endpoint, body), tc.want)
		})
	}
}

func TestSummarizeResponse(t *testing.T) {
	p := anthropic.New(anthropic.Options{})
	tools := readTestdata(t, "stream_tools.sse")
	tests := []struct {
		name, endpoint string
		body           []byte
		stream         bool
		want           provider.Summary
	}{
		{
			name: "message with text and tool_use, cache tokens", endpoint: "/v1/messages", body: readTestdata(t, "message.json"),
			want: provider.Summary{Model: "claude-sonnet-4-5-20250929", Content: "I'll check the weather in Paris for you.",
				ToolCalls: []provider.ToolCall{tool("toolu_01A09q90qw90lq917835lq9", "get_weather", `{"location":"Paris, France","unit":"celsius"}`)},
				Usage:     &provider.Usage{InputTokens: 472 + 1024 + 2048, CachedTokens: 2048, OutputTokens: 89}},
		},
		{
			name: "message with thinking: text only in content, thinking tokens as reasoning", endpoint: "/v1/messages", body: readTestdata(t, "message_thinking.json"),
			want: provider.Summary{Model: "claude-opus-4-5-20251101", Content: "27 × 453 = 12,231",
				Usage: &provider.Usage{InputTokens: 48, OutputTokens: 310, ReasoningTokens: 290}},
		},
		{
			name: "stream", endpoint: "/v1/messages", body: readTestdata(t, "stream.sse"), stream: true,
			want: provider.Summary{Model: "claude-sonnet-4-5-20250929", Content: "Hello! I'm doing well, thank you for asking. How are you — ça va? 🙂",
				Usage: &provider.Usage{InputTokens: 12, OutputTokens: 30}},
		},
		{
			name: "stream with tool_use from input_json_delta; message_start usage kept where message_delta is silent", endpoint: "/v1/messages", body: tools, stream: true,
			want: provider.Summary{Model: "claude-sonnet-4-5-20250929", Content: "Okay, let's check the weather in both cities:",
				ToolCalls: []provider.ToolCall{
					tool("toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather", `{"location":"San Francisco, CA","unit":"fahrenheit"}`),
					tool("toolu_01Ab2cD3eF4gH5iJ6kL7mN8o", "get_time", `{}`),
				},
				Usage: &provider.Usage{InputTokens: 472 + 300 + 1200, CachedTokens: 1200, OutputTokens: 89}},
		},
		{
			name: "stream with thinking", endpoint: "/v1/messages", body: readTestdata(t, "stream_thinking.sse"), stream: true,
			want: provider.Summary{Model: "claude-opus-4-5-20251101", Content: "The greatest common divisor of 1071 and 462 is **21**.",
				Usage: &provider.Usage{InputTokens: 48, OutputTokens: 187, ReasoningTokens: 160}},
		},
		{
			name: "stream cut inside a tool input keeps what arrived", endpoint: "/v1/messages", stream: true,
			body: cutBefore(t, tools, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"ncisco"),
			want: provider.Summary{Model: "claude-sonnet-4-5-20250929", Content: "Okay, let's check the weather in both cities:",
				ToolCalls: []provider.ToolCall{tool("toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather", `{"location": "San Fra`)},
				Usage:     &provider.Usage{InputTokens: 472 + 300 + 1200, CachedTokens: 1200, OutputTokens: 2}},
		},
		{
			name: "stream cut in the middle of an event", endpoint: "/v1/messages", stream: true,
			body: cutBefore(t, readTestdata(t, "stream.sse"), ". How are you"),
			want: provider.Summary{Model: "claude-sonnet-4-5-20250929", Content: "Hello! I'm doing well, thank you for asking",
				Usage: &provider.Usage{InputTokens: 12, OutputTokens: 1}},
		},
		{
			name: "stream ended by an error event", endpoint: "/v1/messages", body: readTestdata(t, "stream_error.sse"), stream: true,
			want: provider.Summary{Model: "claude-haiku-4-5-20251001", Content: "Partial answ", Error: "Overloaded",
				Usage: &provider.Usage{InputTokens: 20, OutputTokens: 1}},
		},
		{
			name: "error body", endpoint: "/v1/messages", body: readTestdata(t, "error.json"),
			want: provider.Summary{Error: "model: claude-nonexistent"},
		},
		{
			name: "error body to a stream request", endpoint: "/v1/messages", body: readTestdata(t, "error.json"), stream: true,
			want: provider.Summary{Error: "model: claude-nonexistent"},
		},
		{
			name: "count_tokens uses no tokens", endpoint: "/v1/messages/count_tokens", body: []byte(`{"input_tokens":2095}`),
			want: provider.Summary{Usage: &provider.Usage{}},
		},
		{
			name: "models list", endpoint: "/v1/models", body: []byte(`{"data":[{"type":"model","id":"claude-x"}],"has_more":false}`),
			want: provider.Summary{},
		},
		{name: "empty", endpoint: "/v1/messages", body: nil, stream: true, want: provider.Summary{}},
		{name: "html", endpoint: "/v1/messages", body: []byte("<html>502 Bad Gateway</html>"), want: provider.Summary{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkSummary(t, p.SummarizeResponse(tc.endpoint, tc.body, tc.stream), tc.want)
		})
	}
}

// The stream of a message summarizes as the message itself.
func TestSummarizeStreamMatchesRender(t *testing.T) {
	p := anthropic.New(anthropic.Options{})
	reply := &provider.Reply{Text: "Checking <both> & more.", Model: "claude-x",
		ToolCalls: []provider.ToolCall{tool("toolu_1", "get_weather", `{"location":"Paris"}`), tool("toolu_2", "get_time", `{}`)},
		Usage:     &provider.Usage{InputTokens: 30, CachedTokens: 10, OutputTokens: 7, ReasoningTokens: 2}}
	want := provider.Summary{Model: "claude-x", Content: reply.Text, ToolCalls: reply.ToolCalls, Usage: reply.Usage}
	for _, stream := range []bool{false, true} {
		req := &provider.Request{Endpoint: "/v1/messages", Stream: stream}
		resp := p.Render(req, reply)
		checkSummary(t, p.SummarizeResponse("/v1/messages", resp.Body, stream), want)
	}
}

func FuzzSummarizeResponse(f *testing.F) {
	for _, name := range []string{"message.json", "message_thinking.json", "stream.sse", "stream_tools.sse", "stream_thinking.sse", "stream_error.sse", "error.json"} {
		b := readTestdata(f, name)
		f.Add(b, strings.HasSuffix(name, ".sse"))
		f.Add(b[:len(b)/2], true)
	}
	f.Add([]byte("event: content_block_delta\ndata: {\"index\":-3,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\"}}\n\n"), true)
	f.Add([]byte(`{"type":"message","content":[{"type":"tool_use","input":null}],"usage":{"input_tokens":"x","output_tokens":1e300}}`), false)
	p := anthropic.New(anthropic.Options{})
	f.Fuzz(func(t *testing.T, body []byte, stream bool) {
		for _, ep := range []string{"/v1/messages", "/v1/messages/count_tokens", "/v1/models"} {
			s := p.SummarizeResponse(ep, body, stream)
			if again := p.SummarizeResponse(ep, body, stream); !reflect.DeepEqual(s, again) {
				t.Fatalf("not deterministic: %+v vs %+v", s, again)
			}
			if u := s.Usage; u != nil && (u.InputTokens < 0 || u.OutputTokens < 0 || u.CachedTokens > u.InputTokens) {
				t.Fatalf("impossible usage %+v", u)
			}
			for _, tc := range s.ToolCalls {
				if tc.Type != "function" || tc.Function.Arguments == "" {
					t.Fatalf("tool call %+v", tc)
				}
			}
			_ = p.SummarizeRequest(ep, body)
		}
	})
}
