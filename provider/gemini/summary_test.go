package gemini

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/aiproxy-go/aiproxy/provider"
)

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSummarizeRequest(t *testing.T) {
	const gen = "/v1beta/models/gemini-2.5-flash:generateContent"
	tests := []struct {
		name, endpoint, body string
		model, content       string
		text                 []string // substrings of Text, in order
	}{
		{"conversation", gen, string(readFile(t, "request.json")), "gemini-2.5-flash", "What is the weather\nin Paris?",
			[]string{"You are terse.", "What is the weather\nin Paris?", "get_weather", `{"location":"Paris"}`, `"temp":21`, `"functionDeclarations"`}},
		{"snake case", "/v1/models/gemini-2.0-flash:streamGenerateContent", string(readFile(t, "request_snake.json")), "gemini-2.0-flash", "second question",
			[]string{"Be kind.", "first", "ok", "second question", `"function_declarations"`}},
		{"count tokens of a request", "/v1beta/models/m:countTokens", `{"generateContentRequest":{"model":"models/m","contents":[{"parts":[{"text":"count me"}]}]}}`, "m", "count me", []string{"count me"}},
		{"count tokens", "/v1beta/models/m:countTokens", `{"contents":[{"parts":[{"text":"a"}]}]}`, "m", "a", []string{"a"}},
		{"embed", "/v1beta/models/text-embedding-004:embedContent", `{"model":"models/text-embedding-004","content":{"parts":[{"text":"embed me"}]}}`, "text-embedding-004", "embed me", []string{"embed me"}},
		{"batch embed", "/v1beta/models/gemini-embedding-001:batchEmbedContents", `{"requests":[{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"one"}]}},{"content":{"parts":[{"text":"two"}]}}]}`, "gemini-embedding-001", "one\ntwo", []string{"one\ntwo"}},
		{"tuned model", "/v1beta/tunedModels/my-model-123:generateContent", `{"contents":[{"parts":[{"text":"x"}]}]}`, "tunedModels/my-model-123", "x", nil},
		{"model from the body", "/v1beta/cachedContents", `{"model":"models/gemini-2.5-pro","contents":[{"role":"user","parts":[{"text":"cache me"}]}]}`, "gemini-2.5-pro", "cache me", nil},
		{"model get", "/v1beta/models/gemini-2.5-flash", ``, "gemini-2.5-flash", "", nil},
		{"invalid json", gen, `{"contents": [`, "gemini-2.5-flash", "", nil},
		{"wrong types", gen, `{"contents": [{"role": 3, "parts": "x"}, {"parts": [{"text": "kept"}]}]}`, "gemini-2.5-flash", "kept", nil},
		{"thoughts are not the user's", gen, `{"contents":[{"parts":[{"text":"q"}]},{"role":"model","parts":[{"text":"t","thought":true},{"text":"a"}]}]}`, "gemini-2.5-flash", "q", []string{"q", "a"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := summarizeRequest(tc.endpoint, []byte(tc.body))
			if s.Model != tc.model || s.Content != tc.content {
				t.Fatalf("model %q content %q, want %q %q", s.Model, s.Content, tc.model, tc.content)
			}
			rest := s.Text
			for _, want := range tc.text {
				i := strings.Index(rest, want)
				if i < 0 {
					t.Fatalf("text %q lacks %q (in order)", s.Text, want)
				}
				rest = rest[i+len(want):]
			}
		})
	}
}

func TestSummarizeResponse(t *testing.T) {
	const stream = "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
	streamSummary := provider.Summary{Model: "gemini-2.5-flash", Content: "Bonjour, le monde <3 été 😀",
		Usage: &provider.Usage{InputTokens: 12, OutputTokens: 40, CachedTokens: 4, ReasoningTokens: 31}}
	toolCalls := []provider.ToolCall{
		{Type: "function", Function: provider.FunctionCall{Name: "get_weather", Arguments: `{"location":"Tokyo"}`}},
		{Type: "function", Function: provider.FunctionCall{Name: "get_time", Arguments: `{"city":"Tokyo","tz":{"dst":false}}`}},
	}
	tests := []struct {
		name, endpoint string
		body           []byte
		stream         bool
		want           provider.Summary
	}{
		{"sse stream", stream, readFile(t, "stream.sse"), true, streamSummary},
		{"json array stream", stream, readFile(t, "stream.json"), true, streamSummary},
		{"json array read as a body", stream, readFile(t, "stream.json"), false, streamSummary},
		{"stream with tools", stream, readFile(t, "stream_tools.sse"), true, provider.Summary{Model: "gemini-2.5-flash", Content: "Let me check.",
			ToolCalls: toolCalls, Usage: &provider.Usage{InputTokens: 83, OutputTokens: 118, ReasoningTokens: 104}}},
		{"generate", "/v1beta/models/gemini-2.5-pro:generateContent", readFile(t, "generate.json"), false, provider.Summary{Model: "gemini-2.5-pro", Content: "Hello there.",
			Usage: &provider.Usage{InputTokens: 8, OutputTokens: 32, ReasoningTokens: 29}}},
		{"generate with tools", "/v1beta/models/gemini-2.5-flash:generateContent", readFile(t, "generate_tools.json"), false, provider.Summary{Model: "gemini-2.5-flash",
			ToolCalls: []provider.ToolCall{
				{ID: "call-abc", Type: "function", Function: provider.FunctionCall{Name: "get_weather", Arguments: `{"location":"Paris"}`}},
				{Type: "function", Function: provider.FunctionCall{Name: "list_cities", Arguments: `{}`}},
			},
			Usage: &provider.Usage{InputTokens: 55, OutputTokens: 10}}},
		{"error", "/v1beta/models/m:generateContent", readFile(t, "error.json"), false, provider.Summary{Error: "API key not valid. Please pass a valid API key."}},
		{"error array", stream, readFile(t, "error_array.json"), true, provider.Summary{Error: "API key not valid. Please pass a valid API key."}},
		{"error in a stream", stream, []byte("data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"a\"}]}}]}\r\n\r\ndata: {\"error\": {\"code\": 503, \"message\": \"\", \"status\": \"UNAVAILABLE\"}}\r\n\r\n"), true,
			provider.Summary{Content: "a", Error: "UNAVAILABLE"}},
		{"cut array", stream, append(readFile(t, "stream.json")[:1200:1200], "garbage"...), true, provider.Summary{Model: "gemini-2.5-flash", Content: "Bonjour, ",
			Usage: &provider.Usage{InputTokens: 12, OutputTokens: 34, CachedTokens: 4, ReasoningTokens: 31}}},
		{"count tokens", "/v1beta/models/m:countTokens", []byte(`{"totalTokens": 31}`), false, provider.Summary{Usage: &provider.Usage{}}},
		{"models list", "/v1beta/models", []byte(`{"models": []}`), false, provider.Summary{Usage: &provider.Usage{}}},
		{"embedding has no usage", "/v1beta/models/e:embedContent", []byte(`{"embedding": {"values": [0.1]}}`), false, provider.Summary{}},
		{"usage as strings", "/v1beta/models/m:generateContent", []byte(`{"usageMetadata": {"promptTokenCount": "7", "candidatesTokenCount": 2.0, "thoughtsTokenCount": "x"}}`), false,
			provider.Summary{Usage: &provider.Usage{InputTokens: 7, OutputTokens: 2}}},
		{"empty", "/v1beta/models/m:generateContent", nil, false, provider.Summary{}},
		{"not json", "/v1beta/models/m:generateContent", []byte("<html>502</html>"), false, provider.Summary{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := summarizeResponse(tc.endpoint, tc.body, tc.stream)
			if !reflect.DeepEqual(got, tc.want) {
				g, _ := json.Marshal(got)
				w, _ := json.Marshal(tc.want)
				t.Fatalf("got  %s\nwant %s", g, w)
			}
		})
	}
}

// The summaries never panic, whatever the bytes.
func FuzzSummaries(f *testing.F) {
	for _, name := range []string{"stream.sse", "stream.json", "generate.json", "generate_tools.json", "request.json", "error_array.json"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, ep := range []string{"/v1beta/models/m:streamGenerateContent", "/v1beta/models/m:batchEmbedContents", "/v1beta/models/m:countTokens", ""} {
			summarizeRequest(ep, body)
			summarizeResponse(ep, body, true)
		}
	})
}
