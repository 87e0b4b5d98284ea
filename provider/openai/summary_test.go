package openai

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aiproxy-go/aiproxy/provider"
	"github.com/aiproxy-go/aiproxy/provider/internal/extract"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// cutBefore returns b up to the first occurrence of marker, as a stream cut at that point.
func cutBefore(t testing.TB, b []byte, marker string) []byte {
	t.Helper()
	i := bytes.Index(b, []byte(marker))
	if i < 0 {
		t.Fatalf("marker %q not in body", marker)
	}
	return b[:i]
}

func showSummary(s provider.Summary) string {
	b, _ := json.MarshalIndent(s, "", "  ")
	return string(b)
}

func checkSummary(t *testing.T, got, want provider.Summary) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %s\nwant %s", showSummary(got), showSummary(want))
	}
}

func TestSummarizeRequest(t *testing.T) {
	chatTools := `[{"type":"function","function":{"name":"get_weather","description":"Get the current weather in a given location",` +
		`"parameters":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}}]`
	responsesTools := `[{"type":"function","name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}]`
	lines := func(s ...string) string { return strings.Join(s, "\n") }

	tests := []struct {
		name     string
		endpoint string
		body     string
		file     string
		want     provider.Summary
	}{
		{
			name: "chat with parts, tool calls and tools", endpoint: "/chat/completions", file: "chat_request.json",
			want: provider.Summary{
				Model: "gpt-4o-2024-08-06", User: "user-1234", Content: "And tomorrow?",
				Text: lines(
					"You are a helpful travel assistant.",
					"What is the weather like in this place?",
					"get_weather", `{"location":"Santorini, Greece"}`,
					`{"temperature":24,"unit":"celsius","sky":"clear"}`,
					"It is 24 °C and clear in Santorini.",
					"And tomorrow?",
					chatTools,
				),
			},
		},
		{
			name: "chat last user message is an image only", endpoint: "/chat/completions",
			body: `{"model":"gpt-4o","messages":[{"role":"user","content":"first"},{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}]}`,
			want: provider.Summary{Model: "gpt-4o", Content: "", Text: "first"},
		},
		{
			name: "chat text parts join with newlines", endpoint: "/v1/chat/completions",
			body: `{"model":"gpt-4o","messages":[{"role":"developer","content":[{"type":"text","text":"Be brief."}]},{"role":"user","content":[{"type":"text","text":"one"},{"type":"text","text":"two"}]}]}`,
			want: provider.Summary{Model: "gpt-4o", Content: "one\ntwo", Text: "Be brief.\none\ntwo"},
		},
		{
			name: "chat legacy functions and function_call", endpoint: "/chat/completions",
			body: `{"model":"gpt-3.5-turbo-0613","messages":[{"role":"user","content":"Weather in Boston?"},` +
				`{"role":"assistant","content":null,"function_call":{"name":"get_current_weather","arguments":"{\"location\":\"Boston\"}"}},` +
				`{"role":"function","name":"get_current_weather","content":"22C"}],` +
				`"functions":[ {"name":"get_current_weather", "parameters":{"type":"object"}} ]}`,
			want: provider.Summary{Model: "gpt-3.5-turbo-0613", Content: "Weather in Boston?",
				Text: lines("Weather in Boston?", "get_current_weather", `{"location":"Boston"}`, "22C",
					`[{"name":"get_current_weather","parameters":{"type":"object"}}]`)},
		},
		{
			name: "chat fields of the wrong type are skipped", endpoint: "/chat/completions",
			body: `{"model":"gpt-4o","user":42,"messages":[{"role":"user","content":"hi","name":7},{"role":"user","content":12}]}`,
			want: provider.Summary{Model: "gpt-4o", Content: "", Text: "hi"},
		},
		{
			name: "chat user from safety_identifier", endpoint: "/chat/completions",
			body: `{"model":"gpt-5","safety_identifier":"sid-9","metadata":{"user_id":"meta-1"},"messages":[{"role":"user","content":"x"}]}`,
			want: provider.Summary{Model: "gpt-5", User: "sid-9", Content: "x", Text: "x"},
		},
		{
			name: "chat user from metadata", endpoint: "/chat/completions",
			body: `{"model":"gpt-5","metadata":{"user_id":"meta-1","team":"a"},"messages":[]}`,
			want: provider.Summary{Model: "gpt-5", User: "meta-1"},
		},
		{
			name: "responses items, instructions and tools", endpoint: "/responses", file: "responses_request.json",
			want: provider.Summary{
				Model: "gpt-4.1", User: "hashed-user-42", Content: "Should I bring a coat?",
				Text: lines(
					"You are a concise assistant.",
					"What's the weather in Paris?",
					"get_weather", `{"city":"Paris"}`, `{"temp_c":18}`,
					"It is 18 °C in Paris.",
					"Should I bring a coat?",
					responsesTools,
				),
			},
		},
		{
			name: "responses string input", endpoint: "/responses",
			body: `{"model":"gpt-4o","instructions":"Talk like a pirate.","input":"Are semicolons optional in JavaScript?"}`,
			want: provider.Summary{Model: "gpt-4o", Content: "Are semicolons optional in JavaScript?",
				Text: "Talk like a pirate.\nAre semicolons optional in JavaScript?"},
		},
		{
			name: "responses input of the wrong shape", endpoint: "/responses",
			body: `{"model":"gpt-4o","input":{"role":"user"},"prompt":{"id":"pmpt_1"}}`,
			want: provider.Summary{Model: "gpt-4o"},
		},
		{
			name: "completions prompt string", endpoint: "/completions",
			body: `{"model":"gpt-3.5-turbo-instruct","prompt":"Say this is a test","max_tokens":7}`,
			want: provider.Summary{Model: "gpt-3.5-turbo-instruct", Content: "Say this is a test", Text: "Say this is a test"},
		},
		{
			name: "completions prompt array", endpoint: "/completions",
			body: `{"model":"gpt-3.5-turbo-instruct","prompt":["one","two"]}`,
			want: provider.Summary{Model: "gpt-3.5-turbo-instruct", Content: "one\ntwo", Text: "one\ntwo"},
		},
		{
			name: "completions token prompt", endpoint: "/completions",
			body: `{"model":"gpt-3.5-turbo-instruct","prompt":[1212,318,257,1332]}`,
			want: provider.Summary{Model: "gpt-3.5-turbo-instruct"},
		},
		{
			name: "embeddings string", endpoint: "/embeddings",
			body: `{"input":"The food was delicious and the waiter...","model":"text-embedding-3-small","encoding_format":"float","user":"u1"}`,
			want: provider.Summary{Model: "text-embedding-3-small", User: "u1",
				Content: "The food was delicious and the waiter...", Text: "The food was delicious and the waiter..."},
		},
		{
			name: "embeddings array, tokens ignored", endpoint: "/embeddings",
			body: `{"input":["first doc",[1,2,3],"second doc"],"model":"text-embedding-3-large"}`,
			want: provider.Summary{Model: "text-embedding-3-large", Content: "first doc\nsecond doc", Text: "first doc\nsecond doc"},
		},
		{
			name: "other endpoint", endpoint: "/images/generations",
			body: `{"model":"gpt-image-1","prompt":"A cute baby sea otter","user":"u2"}`,
			want: provider.Summary{Model: "gpt-image-1", User: "u2"},
		},
		{name: "invalid json", endpoint: "/chat/completions", body: `{"model":"gpt-4o",`},
		{name: "multipart body", endpoint: "/audio/transcriptions", body: "--boundary\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n"},
		{name: "empty body", endpoint: "/chat/completions", body: ""},
		{name: "json array", endpoint: "/chat/completions", body: `[{"model":"gpt-4o"}]`},
		{name: "json null", endpoint: "/chat/completions", body: `null`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(tt.body)
			if tt.file != "" {
				body = readTestdata(t, tt.file)
			}
			checkSummary(t, summarizeRequest(tt.endpoint, body), tt.want)
		})
	}
}

func TestSummarizeResponse(t *testing.T) {
	chatUsage := &provider.Usage{InputTokens: 19, OutputTokens: 10}
	chatStream := readTestdata(t, "chat_stream.sse")
	toolStream := readTestdata(t, "chat_stream_tools.sse")
	responsesStream := readTestdata(t, "responses_stream.sse")
	weather := provider.ToolCall{ID: "call_w7Lb9nBiLLu2vMvSNCN9fQ1r", Type: "function",
		Function: provider.FunctionCall{Name: "get_weather", Arguments: `{"location": "Paris, France"}`}}
	clock := provider.ToolCall{ID: "call_3UKNWpSLZOrcmnuXzfmXuRXG", Type: "function",
		Function: provider.FunctionCall{Name: "get_time", Arguments: `{"timezone": "Europe/Paris"}`}}

	tests := []struct {
		name     string
		endpoint string
		stream   bool
		file     string
		body     []byte
		want     provider.Summary
	}{
		// Chat completions.
		{
			name: "chat", endpoint: "/chat/completions", file: "chat_completion.json",
			want: provider.Summary{Model: "gpt-4o-2024-08-06",
				Content: "The image shows a wooden boardwalk path running through a lush green field or meadow.",
				Usage:   &provider.Usage{InputTokens: 1117, OutputTokens: 46, CachedTokens: 1024}},
		},
		{
			name: "chat parallel tool calls", endpoint: "/chat/completions", file: "chat_completion_tool_calls.json",
			want: provider.Summary{Model: "o3-mini-2025-01-31",
				ToolCalls: []provider.ToolCall{
					{ID: "call_abc123", Type: "function", Function: provider.FunctionCall{Name: "get_current_weather", Arguments: "{\n\"location\": \"Boston, MA\"\n}"}},
					{ID: "call_def456", Type: "function", Function: provider.FunctionCall{Name: "get_current_weather", Arguments: "{\n\"location\": \"Paris, France\"\n}"}},
				},
				Usage: &provider.Usage{InputTokens: 82, OutputTokens: 217, ReasoningTokens: 128}},
		},
		{
			name: "chat refusal", endpoint: "/chat/completions", file: "chat_completion_refusal.json",
			want: provider.Summary{Model: "gpt-4o-2024-08-06", Content: "I'm sorry, I cannot assist with that request.",
				Usage: &provider.Usage{InputTokens: 81, OutputTokens: 11}},
		},
		{
			name: "chat legacy function_call", endpoint: "/chat/completions", file: "chat_completion_function_call.json",
			want: provider.Summary{Model: "gpt-3.5-turbo-0613",
				FunctionCall: &provider.FunctionCall{Name: "get_current_weather", Arguments: "{\n  \"location\": \"Boston, MA\"\n}"},
				Usage:        &provider.Usage{InputTokens: 82, OutputTokens: 18}},
		},
		{
			name: "chat usage null", endpoint: "/chat/completions",
			body: []byte(`{"model":"llama3","choices":[{"index":0,"message":{"role":"assistant","content":"hi"}}],"usage":null}`),
			want: provider.Summary{Model: "llama3", Content: "hi"},
		},
		{
			name: "chat content parts and object arguments from a compatible server", endpoint: "/chat/completions",
			body: []byte(`{"model":"mistral-large","choices":[{"index":0,"message":{"role":"assistant","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}],` +
				`"tool_calls":[{"id":"x","function":{"name":"f","arguments":{"k": 1}}}]}}],"usage":{"prompt_tokens":12.0,"completion_tokens":"3"}}`),
			want: provider.Summary{Model: "mistral-large", Content: "ab",
				ToolCalls: []provider.ToolCall{{ID: "x", Type: "function", Function: provider.FunctionCall{Name: "f", Arguments: `{"k":1}`}}},
				Usage:     &provider.Usage{InputTokens: 12}},
		},
		{
			name: "chat custom tool call", endpoint: "/chat/completions",
			body: []byte(`{"model":"gpt-5","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"custom","custom":{"name":"run_sql","input":"SELECT 1"}}]}}]}`),
			want: provider.Summary{Model: "gpt-5",
				ToolCalls: []provider.ToolCall{{ID: "call_1", Type: "custom", Function: provider.FunctionCall{Name: "run_sql", Arguments: "SELECT 1"}}}},
		},
		{
			name: "chat stream", endpoint: "/chat/completions", stream: true, body: chatStream,
			want: provider.Summary{Model: "gpt-4o-mini-2024-07-18", Content: "Hello! How can I assist you today?", Usage: chatUsage},
		},
		{
			name: "chat stream CRLF", endpoint: "/chat/completions", stream: true,
			body: bytes.ReplaceAll(chatStream, []byte("\n"), []byte("\r\n")),
			want: provider.Summary{Model: "gpt-4o-mini-2024-07-18", Content: "Hello! How can I assist you today?", Usage: chatUsage},
		},
		{
			name: "chat stream CR", endpoint: "/chat/completions", stream: true,
			body: bytes.ReplaceAll(chatStream, []byte("\n"), []byte("\r")),
			want: provider.Summary{Model: "gpt-4o-mini-2024-07-18", Content: "Hello! How can I assist you today?", Usage: chatUsage},
		},
		{
			name: "chat stream without [DONE] or final blank line", endpoint: "/chat/completions", stream: true,
			body: bytes.TrimRight(cutBefore(t, chatStream, "data: [DONE]"), "\n"),
			want: provider.Summary{Model: "gpt-4o-mini-2024-07-18", Content: "Hello! How can I assist you today?", Usage: chatUsage},
		},
		{
			name: "chat stream cut inside an event", endpoint: "/chat/completions", stream: true,
			body: cutBefore(t, chatStream, `" today"}`),
			want: provider.Summary{Model: "gpt-4o-mini-2024-07-18", Content: "Hello! How can I assist you"},
		},
		{
			name: "chat stream parallel tool calls", endpoint: "/chat/completions", stream: true, body: toolStream,
			want: provider.Summary{Model: "gpt-4o-mini-2024-07-18", ToolCalls: []provider.ToolCall{weather, clock},
				Usage: &provider.Usage{InputTokens: 85, OutputTokens: 47}},
		},
		{
			name: "chat stream tool calls cut", endpoint: "/chat/completions", stream: true,
			body: cutBefore(t, toolStream, `ezone\": \"Eur`),
			want: provider.Summary{Model: "gpt-4o-mini-2024-07-18", ToolCalls: []provider.ToolCall{weather,
				{ID: clock.ID, Type: "function", Function: provider.FunctionCall{Name: "get_time", Arguments: `{"tim`}}}},
		},
		{
			name: "chat stream interleaved tool calls", endpoint: "/chat/completions", stream: true, file: "chat_stream_tools_interleaved.sse",
			want: provider.Summary{Model: "gpt-4o-mini-2024-07-18", ToolCalls: []provider.ToolCall{
				{ID: "call_a", Type: "function", Function: provider.FunctionCall{Name: "get_weather", Arguments: `{"location":"Paris"}`}},
				{ID: "call_b", Type: "function", Function: provider.FunctionCall{Name: "get_time", Arguments: `{"timezone":"Europe/Paris"}`}},
				{ID: "call_c", Type: "function", Function: provider.FunctionCall{Name: "get_news", Arguments: `{}`}},
			}},
		},
		{
			name: "chat stream tool calls without index", endpoint: "/chat/completions", stream: true,
			body: []byte(`data: {"model":"m","choices":[{"delta":{"tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":"{\"x\":"}}]}}]}` + "\n\n" +
				`data: {"model":"m","choices":[{"delta":{"tool_calls":[{"function":{"arguments":"1}"}}]}}]}` + "\n\n" +
				`data: {"model":"m","choices":[{"delta":{"tool_calls":[{"id":"b","type":"function","function":{"name":"g","arguments":"{}"}}]}}]}` + "\n\n" +
				`data: {"model":"m","choices":[{"delta":{"tool_calls":[{"id":"a","function":{"name":"f","arguments":""}}]}}]}` + "\n\n"),
			want: provider.Summary{Model: "m", ToolCalls: []provider.ToolCall{
				{ID: "a", Type: "function", Function: provider.FunctionCall{Name: "f", Arguments: `{"x":1}`}},
				{ID: "b", Type: "function", Function: provider.FunctionCall{Name: "g", Arguments: `{}`}},
			}},
		},
		{
			name: "chat stream refusal", endpoint: "/chat/completions", stream: true, file: "chat_stream_refusal.sse",
			want: provider.Summary{Model: "gpt-4o-2024-08-06", Content: "I'm sorry, I can't assist with that."},
		},
		{
			name: "chat stream legacy function_call", endpoint: "/chat/completions", stream: true, file: "chat_stream_function_call.sse",
			want: provider.Summary{Model: "gpt-3.5-turbo-0613",
				FunctionCall: &provider.FunctionCall{Name: "get_current_weather", Arguments: "{\n  \"location\": \"Boston, MA\"\n}"}},
		},
		{
			name: "chat stream azure", endpoint: "/openai/deployments/gpt4o/chat/completions", stream: true, file: "chat_stream_azure.sse",
			want: provider.Summary{Model: "gpt-4o-2024-11-20", Content: "Azure says hi."},
		},
		{
			name: "chat stream n=2 keeps choice 0", endpoint: "/chat/completions", stream: true,
			body: []byte("data: {\"model\":\"gpt-4o\",\"choices\":[{\"index\":1,\"delta\":{\"content\":\"B\"}},{\"index\":0,\"delta\":{\"content\":\"A\"}}]}\n\n" +
				"data: {\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n" +
				"data: {\"model\":\"gpt-4o\",\"choices\":[{\"index\":1,\"delta\":{\"content\":\"b\"}}]}\n\n"),
			want: provider.Summary{Model: "gpt-4o", Content: "Aa"},
		},
		{
			name: "chat stream error event", endpoint: "/chat/completions", stream: true,
			body: []byte("data: {\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Par\"}}]}\n\n" +
				"data: {\"error\":{\"message\":\"The server had an error while processing your request.\",\"type\":\"server_error\",\"param\":null,\"code\":null}}\n\n"),
			want: provider.Summary{Model: "gpt-4o", Content: "Par", Error: "The server had an error while processing your request."},
		},
		{
			name: "chat stream answered with a json error", endpoint: "/chat/completions", stream: true, file: "error.json",
			want: provider.Summary{Error: "Incorrect API key provided: sk-proj-****************************************************abcd. You can find your API key at https://platform.openai.com/account/api-keys."},
		},
		{
			name: "sse comments, BOM, multi-line data, no space after colon", endpoint: "/chat/completions", stream: true,
			body: []byte("\xEF\xBB\xBF: keep-alive\n\nid: 1\ndata:{\"model\":\ndata: \"m1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}\n\n" +
				"event: message\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"y\"}}]}\n\ndata\n\n"),
			want: provider.Summary{Model: "m1", Content: "xy"},
		},

		// Legacy completions.
		{
			name: "completions", endpoint: "/completions", file: "completions.json",
			want: provider.Summary{Model: "gpt-3.5-turbo-instruct", Content: "\n\nThis is indeed a test",
				Usage: &provider.Usage{InputTokens: 5, OutputTokens: 7}},
		},
		{
			name: "completions stream", endpoint: "/completions", stream: true, file: "completions_stream.sse",
			want: provider.Summary{Model: "gpt-3.5-turbo-instruct", Content: "\n\nThis is indeed a test",
				Usage: &provider.Usage{InputTokens: 5, OutputTokens: 7}},
		},

		// Responses API.
		{
			name: "responses", endpoint: "/responses", file: "responses.json",
			want: provider.Summary{Model: "gpt-5-2025-08-07",
				Content: "In a peaceful grove beneath a silver moon, a unicorn named Lumina discovered a hidden pool.",
				Usage:   &provider.Usage{InputTokens: 2048, OutputTokens: 1035, CachedTokens: 1920, ReasoningTokens: 832}},
		},
		{
			name: "responses stream", endpoint: "/responses", stream: true, body: responsesStream,
			want: provider.Summary{Model: "gpt-4.1-2025-04-14", Content: "Under a silver moon, a unicorn dreamed.",
				Usage: &provider.Usage{InputTokens: 36, OutputTokens: 87}},
		},
		{
			name: "responses stream CRLF", endpoint: "/responses", stream: true,
			body: bytes.ReplaceAll(responsesStream, []byte("\n"), []byte("\r\n")),
			want: provider.Summary{Model: "gpt-4.1-2025-04-14", Content: "Under a silver moon, a unicorn dreamed.",
				Usage: &provider.Usage{InputTokens: 36, OutputTokens: 87}},
		},
		{
			name: "responses stream cut before completed", endpoint: "/responses", stream: true,
			body: cutBefore(t, responsesStream, "event: response.completed"),
			want: provider.Summary{Model: "gpt-4.1-2025-04-14", Content: "Under a silver moon, a unicorn dreamed."},
		},
		{
			name: "responses stream cut inside a delta", endpoint: "/responses", stream: true,
			body: cutBefore(t, responsesStream, `" unicorn"`),
			want: provider.Summary{Model: "gpt-4.1-2025-04-14", Content: "Under a silver moon, a"},
		},
		{
			name: "responses stream function call", endpoint: "/responses", stream: true, file: "responses_stream_tools.sse",
			want: provider.Summary{Model: "o4-mini-2025-04-16",
				ToolCalls: []provider.ToolCall{{ID: "call_Qe3kYcgwq1fB0Z8oT2Jd4vXh", Type: "function",
					Function: provider.FunctionCall{Name: "get_weather", Arguments: `{"city":"Paris"}`}}},
				Usage: &provider.Usage{InputTokens: 62, OutputTokens: 150, ReasoningTokens: 128}},
		},
		{
			name: "responses stream function call cut before completed", endpoint: "/responses", stream: true,
			body: cutBefore(t, readTestdata(t, "responses_stream_tools.sse"), "event: response.completed"),
			want: provider.Summary{Model: "o4-mini-2025-04-16",
				ToolCalls: []provider.ToolCall{{ID: "call_Qe3kYcgwq1fB0Z8oT2Jd4vXh", Type: "function",
					Function: provider.FunctionCall{Name: "get_weather", Arguments: `{"city":"Paris"}`}}}},
		},
		{
			name: "responses stream failed", endpoint: "/responses", stream: true, file: "responses_stream_failed.sse",
			want: provider.Summary{Model: "gpt-4.1-2025-04-14", Error: "The model produced invalid content."},
		},
		{
			name: "responses stream error event", endpoint: "/responses", stream: true,
			body: []byte("event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"model\":\"gpt-4o\",\"output\":[]}}\n\n" +
				"event: error\ndata: {\"type\":\"error\",\"code\":\"ERR_SOMETHING\",\"message\":\"Something went wrong\",\"param\":null,\"sequence_number\":1}\n\n"),
			want: provider.Summary{Model: "gpt-4o", Error: "Something went wrong"},
		},
		{
			name: "responses stream completed with empty output", endpoint: "/responses", stream: true,
			body: []byte("event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"hi\"}\n\n" +
				"event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"model\":\"qwen3\",\"output\":[],\"usage\":{\"input_tokens\":4,\"output_tokens\":1}}}\n\n"),
			want: provider.Summary{Model: "qwen3", Content: "hi", Usage: &provider.Usage{InputTokens: 4, OutputTokens: 1}},
		},
		{
			name: "responses stream logged without the stream flag", endpoint: "/responses", body: responsesStream,
			want: provider.Summary{Model: "gpt-4.1-2025-04-14", Content: "Under a silver moon, a unicorn dreamed.",
				Usage: &provider.Usage{InputTokens: 36, OutputTokens: 87}},
		},
		{
			name: "responses refusal", endpoint: "/responses",
			body: []byte(`{"model":"gpt-4o","output":[{"type":"message","role":"assistant","content":[{"type":"refusal","refusal":"I can't help with that."}]}],"usage":null}`),
			want: provider.Summary{Model: "gpt-4o", Content: "I can't help with that."},
		},
		{
			name: "responses error body", endpoint: "/responses", file: "error.json",
			want: provider.Summary{Error: "Incorrect API key provided: sk-proj-****************************************************abcd. You can find your API key at https://platform.openai.com/account/api-keys."},
		},

		// Embeddings, errors, other endpoints.
		{
			name: "embeddings", endpoint: "/embeddings", file: "embeddings.json",
			want: provider.Summary{Model: "text-embedding-3-small", Usage: &provider.Usage{InputTokens: 8}},
		},
		{
			name: "error", endpoint: "/chat/completions", file: "error.json",
			want: provider.Summary{Error: "Incorrect API key provided: sk-proj-****************************************************abcd. You can find your API key at https://platform.openai.com/account/api-keys."},
		},
		{
			name: "error as a string", endpoint: "/chat/completions",
			body: []byte(`{"error":"model \"llama9\" not found, try pulling it first"}`),
			want: provider.Summary{Error: `model "llama9" not found, try pulling it first`},
		},
		{
			name: "error with a code only", endpoint: "/embeddings",
			body: []byte(`{"error":{"message":"","code":"rate_limit_exceeded"}}`),
			want: provider.Summary{Error: "rate_limit_exceeded"},
		},
		{name: "not json", endpoint: "/chat/completions", body: []byte("upstream connect error or disconnect/reset before headers")},
		{name: "html", endpoint: "/chat/completions", body: []byte("<html><body><h1>502 Bad Gateway</h1></body></html>")},
		{name: "empty", endpoint: "/chat/completions", stream: true, body: nil},
		{
			name: "other endpoint with usage", endpoint: "/audio/transcriptions",
			body: []byte(`{"text":"Imagine the wildest idea.","usage":{"type":"tokens","input_tokens":14,"input_token_details":{"text_tokens":0,"audio_tokens":14},"output_tokens":45,"total_tokens":59}}`),
			want: provider.Summary{Usage: &provider.Usage{InputTokens: 14, OutputTokens: 45}},
		},
		{
			name: "other endpoint with model", endpoint: "/moderations",
			body: []byte(`{"id":"modr-0d9740456c391e43c445bf0f010940c7","model":"omni-moderation-latest","results":[{"flagged":false}]}`),
			want: provider.Summary{Model: "omni-moderation-latest"},
		},
		{
			name: "other endpoint stream", endpoint: "/audio/transcriptions", stream: true,
			body: []byte("data: {\"type\":\"transcript.text.delta\",\"delta\":\"Hi\"}\n\n" +
				"data: {\"type\":\"transcript.text.done\",\"text\":\"Hi\",\"usage\":{\"type\":\"tokens\",\"input_tokens\":14,\"output_tokens\":2,\"total_tokens\":16}}\n\n"),
			want: provider.Summary{Usage: &provider.Usage{InputTokens: 14, OutputTokens: 2}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := tt.body
			if tt.file != "" {
				body = readTestdata(t, tt.file)
			}
			checkSummary(t, summarizeResponse(tt.endpoint, body, tt.stream), tt.want)
		})
	}
}

// TestSummarizeResponseRendered reads what the provider itself renders for a Reply, so that
// replies made by filters log the same as upstream answers.
func TestSummarizeResponseRendered(t *testing.T) {
	p := New(Options{})
	reply := &provider.Reply{Text: "canned answer", Model: "gpt-4o",
		ToolCalls: []provider.ToolCall{{ID: "call_1", Type: "function", Function: provider.FunctionCall{Name: "f", Arguments: `{"a":1}`}}},
		Usage:     &provider.Usage{InputTokens: 3, OutputTokens: 2}}
	for _, endpoint := range []string{"/chat/completions", "/responses"} {
		for _, stream := range []bool{false, true} {
			req := &provider.Request{Method: "POST", Endpoint: endpoint, Model: "gpt-4o", Stream: stream}
			resp := p.Render(req, reply)
			if resp == nil {
				t.Fatalf("%s stream=%v: Render returned nil", endpoint, stream)
			}
			got := summarizeResponse(endpoint, resp.Body, stream)
			if got.Content != reply.Text || !reflect.DeepEqual(got.ToolCalls, reply.ToolCalls) || got.Model != "gpt-4o" {
				t.Errorf("%s stream=%v: summary of rendered reply = %s", endpoint, stream, showSummary(got))
			}
		}
	}
}

func TestEachSSEEvent(t *testing.T) {
	type ev struct{ event, data string }
	var got []ev
	eachSSEEvent([]byte("event: a\ndata: 1\ndata:2\n\n:comment\nretry: 5\n\nevent: b\r\ndata\r\n\r\ndata: tail"), func(e string, d []byte) {
		got = append(got, ev{e, string(d)})
	})
	want := []ev{{"a", "1\n2"}, {"b", ""}, {"", "tail"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("events = %q, want %q", got, want)
	}
}

// nextLineSimple is how eachSSEEvent split lines before lineReader.
func nextLineSimple(b []byte) (line, rest []byte) {
	i := bytes.IndexAny(b, "\r\n")
	if i < 0 {
		return b, nil
	}
	if b[i] == '\r' && i+1 < len(b) && b[i+1] == '\n' {
		return b[:i], b[i+2:]
	}
	return b[:i], b[i+1:]
}

func FuzzLineReader(f *testing.F) {
	for _, s := range []string{"a\nb\r\nc\rd", "\r\r\n\n\r", "no end", "\n", "x\r", "data: 1\r\rdata: 2\n\n" + strings.Repeat("a\r", 100) + "\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := lineReader{b: body, nl: -1}
		for rest := body; len(rest) > 0; {
			var want []byte
			want, rest = nextLineSimple(rest)
			if got := r.next(); !bytes.Equal(got, want) || len(r.b) != len(rest) {
				t.Fatalf("line %q, %d bytes left; want %q, %d left", got, len(r.b), want, len(rest))
			}
		}
		if len(r.b) != 0 {
			t.Fatalf("%d bytes left", len(r.b))
		}
	})
}

func TestAPIKindOf(t *testing.T) {
	tests := map[string]apiKind{
		"/chat/completions":                       chatAPI,
		"/v1/chat/completions/":                   chatAPI,
		"chat/completions?api-version=2024-10-21": chatAPI,
		"/openai/deployments/d/chat/completions":  chatAPI,
		"/completions":                            completionsAPI,
		"/responses":                              responsesAPI,
		"/embeddings":                             embeddingsAPI,
		"/responses/resp_123/input_items":         otherAPI,
		"/models":                                 otherAPI,
		"":                                        otherAPI,
	}
	for endpoint, want := range tests {
		if got := apiKindOf(endpoint); got != want {
			t.Errorf("apiKindOf(%q) = %v, want %v", endpoint, got, want)
		}
	}
}

var fuzzEndpoints = []string{"/chat/completions", "/completions", "/responses", "/embeddings", "/models"}

func addFuzzSeeds(f *testing.F) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b := readTestdata(f, e.Name())
		for i := range fuzzEndpoints {
			f.Add(uint8(i), b, strings.HasSuffix(e.Name(), ".sse"))
		}
		// The same bytes cut short, as a dropped connection leaves them.
		f.Add(uint8(0), b[:len(b)/2], true)
		f.Add(uint8(2), b[:len(b)/3], true)
	}
	f.Add(uint8(0), []byte("data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":-1,\"function\":{\"arguments\":\"x\"}}]}}]}\n\n"), true)
	f.Add(uint8(0), []byte("data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":99999999999999999999}]}}]}\n\n"), true)
	f.Add(uint8(0), []byte(`{"usage":{"prompt_tokens":1e308,"completion_tokens":-5}}`), false)
	f.Add(uint8(2), []byte("event: response.completed\ndata: {\"response\":[1,2]}\n\n"), true)
	f.Add(uint8(0), []byte("\r\r\n\n\r"), true)
}

func FuzzSummarizeResponse(f *testing.F) {
	addFuzzSeeds(f)
	f.Fuzz(func(t *testing.T, endpoint uint8, body []byte, stream bool) {
		ep := fuzzEndpoints[int(endpoint)%len(fuzzEndpoints)]
		s := summarizeResponse(ep, body, stream)
		if s.Usage != nil && (s.Usage.InputTokens < 0 || s.Usage.OutputTokens < 0) {
			t.Errorf("negative usage %+v", *s.Usage)
		}
		summarizeResponse(ep, body, !stream)
	})
}

func FuzzSummarizeRequest(f *testing.F) {
	addFuzzSeeds(f)
	f.Fuzz(func(t *testing.T, endpoint uint8, body []byte, _ bool) {
		summarizeRequest(fuzzEndpoints[int(endpoint)%len(fuzzEndpoints)], body)
	})
}

// fastChunkCases are stream chunks for comparing addFast with the full decode: the shapes it
// reads (fast), and the ones it leaves to encoding/json.
var fastChunkCases = []struct {
	name  string
	chunk string
	fast  bool
}{
	{"role", `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1733011232,"model":"gpt-4o-mini","service_tier":"default","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}`, true},
	{"content", `{"id":"chatcmpl-1","model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"aB3x"}`, true},
	{"finish", `{"id":"chatcmpl-1","model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}`, true},
	{"usage", `{"id":"chatcmpl-1","model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,"prompt_tokens_details":{"cached_tokens":3},"completion_tokens_details":{"reasoning_tokens":2}}}`, true},
	{"usage odd counts", `{"choices":[],"usage":{"prompt_tokens":12.0,"completion_tokens":"3","input_tokens":-1,"output_tokens":1e300,"prompt_tokens_details":null,"completion_tokens_details":[1]}}`, true},
	{"usage odder counts", `{"choices":[],"usage":{"prompt_tokens":null,"completion_tokens":{"n":1},"input_tokens":7.9,"output_tokens":true,"input_tokens_details":{"cached_tokens":"2","reasoning_tokens":3},"output_tokens_details":{"reasoning_tokens":-0}}}`, true},
	{"usage keys left to encoding/json", `{"choices":[],"usage":{"Prompt_Tokens":5,"completion_tokens":1,"completion_tokens":2,"prompt_tokens_details":{"cached_tokens":1,"CACHED_TOKENS":2}}}`, true},
	{"azure prompt filter", `{"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}}}]}`, true},
	{"azure content filter", `{"choices":[{"content_filter_results":{"hate":{"filtered":false}},"delta":{"content":"Azure"},"finish_reason":null,"index":0,"logprobs":null}],"created":1,"id":"x","model":"gpt-4o","object":"chat.completion.chunk"}`, true},
	{"completions text", `{"id":"cmpl-1","object":"text_completion","choices":[{"text":"\n\nThis","index":0,"logprobs":null,"finish_reason":null}],"model":"gpt-3.5-turbo-instruct","usage":null}`, true},
	{"escapes", `{"model":"m","choices":[{"index":0,"delta":{"content":"a\n\"b\"\t\/\\ \u00e9 \ud83d\ude00 \u0000"}}]}`, true},
	{"lone surrogates", `{"model":"m","choices":[{"index":0,"delta":{"content":"\ud800x\udc00\ud800\u0041"}}]}`, true},
	{"invalid utf-8", "{\"model\":\"m\xff\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\xc3(b\xed\xa0\x80\"}}]}", true},
	{"raw utf-8", `{"model":"m","choices":[{"index":0,"delta":{"content":"déjà vu 🙂 日本"}}]}`, true},
	{"two choices", `{"model":"m","choices":[{"index":1,"delta":{"content":"B","tool_calls":[{"index":0}]}},{"index":0,"delta":{"content":"A"}},{"index":0,"text":"t"}]}`, true},
	{"index null, -0, absent", `{"choices":[{"index":null,"delta":{"content":"a"}},{"index":-0,"delta":{"content":"b"}},{"delta":{"content":"c"}}]}`, true},
	{"nulls", `{"model":null,"choices":[{"index":0,"delta":null,"text":null,"message":null}],"usage":null,"error":null}`, true},
	{"choices null", `{"model":"m","choices":null}`, true},
	{"empty object", `{}`, true},
	{"refusal", `{"model":"m","choices":[{"index":0,"delta":{"refusal":"I can't."}}]}`, true},
	{"empty tool calls", `{"choices":[{"index":0,"delta":{"content":"x","tool_calls":[ ],"function_call":null}}]}`, true},
	{"null tool calls", `{"choices":[{"index":0,"delta":{"content":"x","tool_calls":null}}]}`, true},
	{"message ignored", `{"choices":[{"index":0,"message":{"content":[1],"tool_calls":"x"},"delta":{"content":"d"}}]}`, true},
	{"unknown fields of any type", `{"x_groq":{"id":"r","usage":{"prompt_tokens":5}},"Models":1,"choice":[1],"usages":{},"choices":[{"index":0,"Deltas":3,"delta":{"roles":[],"content":"x"}}]}`, true},
	{"role of another type", `{"choices":[{"index":0,"delta":{"role":7,"content":"x"}}]}`, true},
	{"pretty", "{\n  \"model\" : \"m\" ,\n  \"choices\" : [ { \"index\" : 0 , \"delta\" : { \"content\" : \"x\" } } ] ,\n  \"usage\" : { \"prompt_tokens\" : 1 }\n}", true},
	{"error object", `{"error":{"message":"The server had an error.","type":"server_error","param":null,"code":null}}`, true},
	{"error string", `{"error":"model \"x\" not found"}`, true},
	{"error code", `{"error":{"message":"","code":429}}`, true},
	{"error of another type", `{"error":[1],"model":"m"}`, true},

	{"tool call delta", `{"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":""}}]}}]}`, true},
	{"function call delta", `{"model":"m","choices":[{"index":0,"delta":{"function_call":{"name":"f","arguments":"{}"}}}]}`, true},
	{"content parts", `{"model":"m","choices":[{"index":0,"delta":{"content":[{"type":"text","text":"a"}]}}]}`, true},
	{"content number", `{"choices":[{"index":0,"delta":{"content":5}}]}`, true},
	{"refusal number", `{"choices":[{"index":0,"delta":{"content":"a","refusal":5}}]}`, true},
	{"model number", `{"model":5,"choices":[{"index":0,"delta":{"content":"a"}}]}`, true},
	{"text number", `{"choices":[{"index":0,"text":5}]}`, true},
	{"delta string", `{"choices":[{"index":0,"delta":"x","text":"t"}]}`, true},
	{"index float", `{"choices":[{"index":0.0,"delta":{"content":"a"}}]}`, true},
	{"index exponent", `{"choices":[{"index":1e0,"delta":{"content":"a"}}]}`, true},
	{"index string", `{"choices":[{"index":"1","delta":{"content":"a"}}]}`, true},
	{"index overflow", `{"choices":[{"index":99999999999999999999,"delta":{"content":"a"}}]}`, true},
	{"usage string", `{"choices":[],"usage":"none"}`, true},
	{"usage array", `{"choices":[],"usage":[]}`, true},
	{"choices object", `{"model":"m","choices":{"index":0}}`, true},
	{"choice null", `{"model":"m","choices":[null,{"index":0,"delta":{"content":"a"}}]}`, true},
	{"choice number", `{"model":"m","choices":[1]}`, true},
	{"tool call first delta", `{"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}],"refusal":null},"finish_reason":null}]}`, true},
	{"tool call fragments", `{"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"lo"}},{"index":1,"function":{"arguments":"cation\": \"Paris\"}"}}]}}]}`, true},
	{"tool calls without index", `{"choices":[{"delta":{"tool_calls":[{"id":"a","function":{"name":"f","arguments":"{"}},{"function":{"arguments":"}"}},{"id":"b","type":"function"}]}}]}`, true},
	{"tool call odd values", `{"choices":[{"delta":{"tool_calls":[null,1,"x",{"index":"1","id":5,"function":"f"},{"index":1.5,"function":{"name":null,"arguments":{"k": [1, 2]}}},{"index":-3,"custom":{"name":"sql","input":"SELECT 1"}},{"index":2,"custom":[1],"function":null}]}}]}`, true},
	{"tool call arguments of any type", `{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":null}},{"index":0,"function":{"arguments":12}},{"index":0,"function":{"arguments":"\u00e9\n"}}]}}]}`, true},
	{"function call odd values", `{"choices":[{"index":0,"delta":{"function_call":"x"}},{"index":0,"delta":{"function_call":{"name":"f","arguments":{"a":1}}}},{"index":0,"delta":{"function_call":null}}]}`, true},
	{"tool call key case", `{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"ID":"call_1"}]}}]}`, false},
	{"function key case", `{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"Name":"f"}}]}}]}`, false},
	{"custom key repeated", `{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"custom":{"input":"a","input":"b"}}]}}]}`, false},
	{"key case", `{"Model":"m","choices":[]}`, false},
	{"key case after", `{"model":"a","MODEL":"b"}`, false},
	{"key case in choice", `{"choices":[{"index":0,"Delta":{"content":"a"}}]}`, false},
	{"key case in delta", `{"choices":[{"index":0,"delta":{"CONTENT":"a"}}]}`, false},
	{"key repeated", `{"model":"a","model":"b"}`, false},
	{"delta repeated", `{"choices":[{"index":0,"delta":{"content":"a"},"delta":{"refusal":"r"}}]}`, false},
	{"content repeated", `{"choices":[{"index":0,"delta":{"content":"a","content":"b"}}]}`, false},
	{"key escaped", `{"mod\u0065l":"m","choices":[]}`, false},
	{"key folding to ASCII", "{\"choice\u017f\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}],\"\u212aey\":1}", false},
	{"array", `[{"model":"m"}]`, false},
	{"string", `"x"`, false},
	{"null", `null`, false},
	{"truncated", `{"model":"m","choices":[{"index":0,"delta":{"content":"Hel`, false},
	{"trailing comma", `{"model":"m",}`, false},
	{"trailing data", `{"model":"m"} {"model":"n"}`, false},
	{"large", `{"model":"m","choices":[{"index":0,"delta":{"content":"` + strings.Repeat("x", 1<<20) + `"}}]}`, true},
	{"nested as deep as allowed", `{"x":` + strings.Repeat("[", maxJSONDepth-1) + strings.Repeat("]", maxJSONDepth-1) + `,"model":"m"}`, true},
	{"nested too deep", `{"x":` + strings.Repeat("[", maxJSONDepth) + strings.Repeat("]", maxJSONDepth) + `,"model":"m"}`, false},
	{"many brackets", `{"x":[` + strings.Repeat("[],", maxJSONDepth) + `[]],"model":"m"}`, true},
}

// TestFastFields checks that the fast way reads the fields that the structs it stands in
// for declare.
func TestFastFields(t *testing.T) {
	for _, tt := range []struct {
		v      any
		fields []string
	}{
		{completionJSON{}, completionFields},
		{choiceJSON{}, choiceFields},
		{chatMessageJSON{}, messageFields},
		{toolCallJSON{}, toolCallFields},
		{functionCallJSON{}, functionFields},
		{toolCallJSON{}.Custom, customFields},
		{contentPartJSON{}, partFields},
		{responsesEventJSON{}, responsesEventFields},
		{usageJSON{}, usageFields},
		{detailsJSON{}, detailsFields},
	} {
		typ := reflect.TypeOf(tt.v)
		var tags []string
		for i := range typ.NumField() {
			tags = append(tags, typ.Field(i).Tag.Get("json"))
		}
		if !reflect.DeepEqual(tags, tt.fields) {
			t.Errorf("%v has fields %q, the fast way reads %q", typ, tags, tt.fields)
		}
	}
}

// TestCompletionStreamFast checks that reading chunks with addFast gives the summary that
// decoding them does, and that addFast reads the common shapes itself.
func TestCompletionStreamFast(t *testing.T) {
	compare := func(t *testing.T, body []byte) {
		t.Helper()
		got, want := summarizeCompletionStream(body, true), summarizeCompletionStream(body, false)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("fast %s\ndecoded %s", showSummary(got), showSummary(want))
		}
	}
	var all bytes.Buffer
	for _, tt := range fastChunkCases {
		t.Run(tt.name, func(t *testing.T) {
			var st completionStream
			if fast := st.addFast([]byte(tt.chunk)); fast != tt.fast {
				t.Errorf("addFast = %v, want %v", fast, tt.fast)
			}
			// Twice, for the first model and the accumulated text.
			compare(t, []byte("data: "+tt.chunk+"\n\ndata: "+tt.chunk+"\n\n"))
		})
		all.WriteString("data: " + tt.chunk + "\n\n")
	}
	t.Run("all cases", func(t *testing.T) { compare(t, all.Bytes()) })

	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "chat_stream") || strings.HasPrefix(e.Name(), "completions_stream") {
			t.Run(e.Name(), func(t *testing.T) {
				body := readTestdata(t, e.Name())
				compare(t, body)
				for n := 0; n < len(body); n += 5 {
					compare(t, body[:n]) // cut short, anywhere
				}
			})
		}
	}
	for name, body := range map[string][]byte{"bench": benchStream(), "obfuscated": benchObfuscatedStream()} {
		t.Run(name, func(t *testing.T) {
			compare(t, body)
			eachSSEEvent(body, func(_ string, data []byte) {
				var st completionStream
				if string(data) != "[DONE]" && !st.addFast(data) {
					t.Errorf("addFast gave up on %s", data)
				}
			})
		})
	}
}

// TestSummarizeCompletionFast checks that summarizeCompletionFast gives the summary that
// decoding the body does, for every kind of endpoint.
func TestSummarizeCompletionFast(t *testing.T) {
	bodies := map[string]string{
		"first choice is index 0": `{"model":"m","choices":[{"index":1,"message":{"content":"B"}},{"index":0,"message":{"content":"A"}},{"index":0,"message":{"content":"C"}}]}`,
		"no choice is index 0":    `{"model":"m","choices":[{"index":2,"message":{"content":"B"}},{"index":3,"message":{"content":"A"}}]}`,
		"no choices":              `{"model":"m","choices":[],"usage":{"prompt_tokens":3}}`,
		"refusal and content":     `{"choices":[{"index":0,"message":{"content":"","refusal":"no"}}]}`,
		"content null":            `{"choices":[{"index":0,"message":{"content":null,"refusal":"no"}}]}`,
		"message null":            `{"choices":[{"index":0,"message":null,"text":"t"}]}`,
		"tool calls":              `{"choices":[{"index":0,"message":{"content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]}}]}`,
		"tool calls elsewhere":    `{"choices":[{"index":1,"message":{"tool_calls":[{"id":"c"}]}},{"index":0,"message":{"content":"a"}}]}`,
		"embeddings":              `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.0023,-0.0093]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":8,"total_tokens":8}}`,
	}
	for _, tt := range fastChunkCases {
		bodies[tt.name] = strings.ReplaceAll(tt.chunk, `"delta"`, `"message"`)
	}
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".json") {
			bodies[e.Name()] = string(readTestdata(t, e.Name()))
		}
	}
	for name, body := range bodies {
		for _, kind := range []apiKind{chatAPI, completionsAPI, embeddingsAPI, otherAPI} {
			got, want := summarizeCompletion(kind, []byte(body), true), summarizeCompletion(kind, []byte(body), false)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s, kind %d: fast %s\ndecoded %s", name, kind, showSummary(got), showSummary(want))
			}
		}
	}
	for _, name := range []string{"chat_completion.json", "chat_completion_refusal.json", "completions.json", "embeddings.json", "error.json"} {
		if _, ok := summarizeCompletionFast(chatAPI, readTestdata(t, name)); !ok {
			t.Errorf("summarizeCompletionFast gave up on %s", name)
		}
	}
}

func FuzzSummarizeCompletionFast(f *testing.F) {
	for _, tt := range fastChunkCases {
		f.Add(uint8(chatAPI), []byte(strings.ReplaceAll(tt.chunk, `"delta"`, `"message"`)))
	}
	for _, name := range []string{"chat_completion.json", "chat_completion_tool_calls.json", "completions.json", "embeddings.json", "error.json"} {
		f.Add(uint8(chatAPI), readTestdata(f, name))
		f.Add(uint8(completionsAPI), readTestdata(f, name))
	}
	f.Fuzz(func(t *testing.T, kind uint8, body []byte) {
		k := apiKind(kind % 5)
		got, want := summarizeCompletion(k, body, true), summarizeCompletion(k, body, false)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("fast %s\ndecoded %s", showSummary(got), showSummary(want))
		}
	})
}

func FuzzCompletionStreamFast(f *testing.F) {
	for _, tt := range fastChunkCases {
		f.Add([]byte(tt.chunk))
	}
	f.Add(benchObfuscatedStream())
	for _, name := range []string{"chat_stream.sse", "chat_stream_tools.sse", "chat_stream_azure.sse", "completions_stream.sse"} {
		f.Add(readTestdata(f, name))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// A body that is not SSE is read as the data of one event.
		body := data
		if !looksLikeSSE(data) {
			body = append([]byte("data: "), data...)
		}
		got, want := summarizeCompletionStream(body, true), summarizeCompletionStream(body, false)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("fast %s\ndecoded %s", showSummary(got), showSummary(want))
		}
	})
}

// responsesEventCases are Responses API stream events for comparing readResponsesEventFast
// with the full decode.
var responsesEventCases = []string{
	"event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\",\"model\":\"gpt-4.1\",\"output\":[]}}\n\n",
	"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"Hi \\\"there\\\"\\n\",\"obfuscation\":\"x\"}\n\n",
	"data: {\"type\":\"response.refusal.delta\",\"delta\":\"No.\"}\n\n",
	"data: {\"type\":\"response.output_item.done\",\"item\":{\"type\":\"function_call\",\"call_id\":\"call_1\",\"name\":\"f\",\"arguments\":\"{\\\"a\\\":1}\"}}\n\n",
	"data: {\"type\":\"response.output_item.done\",\"item\":{\"type\":\"custom_tool_call\",\"call_id\":\"call_2\",\"name\":\"sql\",\"input\":\"SELECT 1\"}}\n\n",
	"data: {\"type\":\"response.output_item.done\",\"item\":\"x\"}\n\n",
	"event: error\ndata: {\"type\":\"error\",\"code\":\"ERR\",\"message\":null,\"error\":{\"message\":\"nested\"}}\n\n",
	"event: error\ndata: {\"code\":42,\"message\":5}\n\n",
	"data: {\"type\":5,\"delta\":[1]}\n\n",
	"data: {\"Type\":\"response.output_text.delta\",\"delta\":\"case\"}\n\n",
	"data: {\"type\":\"response.output_text.delta\",\"delta\":\"a\",\"delta\":\"b\"}\n\n",
	"data: {\"type\":\"response.completed\",\"response\":{\"model\":\"gpt-4.1\",\"output\":[{\"type\":\"message\",\"content\":[{\"type\":\"output_text\",\"text\":\"done\"}]}],\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n",
	"data: {\"type\":\"response.failed\",\"response\":null}\n\n",
	"data: [1,2]\n\n",
}

// TestResponsesStreamFast checks that reading events with readResponsesEventFast gives the
// summary that decoding them does.
func TestResponsesStreamFast(t *testing.T) {
	compare := func(t *testing.T, body []byte) {
		t.Helper()
		got, want := summarizeResponsesStream(body, true), summarizeResponsesStream(body, false)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("fast %s\ndecoded %s", showSummary(got), showSummary(want))
		}
	}
	for i, ev := range responsesEventCases {
		compare(t, []byte(ev))
		compare(t, []byte(strings.Join(responsesEventCases[i:], "")))
	}
	for _, name := range []string{"responses_stream.sse", "responses_stream_tools.sse", "responses_stream_failed.sse"} {
		t.Run(name, func(t *testing.T) {
			body := readTestdata(t, name)
			for n := 0; n < len(body); n += 5 {
				compare(t, body[:n])
			}
			compare(t, body)
			eachSSEEvent(body, func(_ string, data []byte) {
				if !readResponsesEventFast(data, &responsesEventJSON{}) {
					t.Errorf("readResponsesEventFast gave up on %s", data)
				}
			})
		})
	}
}

func FuzzResponsesStreamFast(f *testing.F) {
	for _, ev := range responsesEventCases {
		f.Add([]byte(ev))
	}
	for _, name := range []string{"responses_stream.sse", "responses_stream_tools.sse"} {
		f.Add(readTestdata(f, name))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, want := summarizeResponsesStream(body, true), summarizeResponsesStream(body, false)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("fast %s\ndecoded %s", showSummary(got), showSummary(want))
		}
	})
}

// FuzzParseJSON checks that parseJSON accepts what encoding/json does, and that stringField
// reads a string as it does.
func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{`""`, `"abc"`, `"a\nb"`, `"\ud83d\ude00"`, `"\ud800"`, "\"\xff\"", `"a"b"`, `"\u12"`, `"`, `x`,
		"\"\x01\"", `"\'"`, ` {"a" : [1, -0.5e+3, true, false, null, {}], "b":"\/"} `, `[1,]`, `{"a":1,}`, `01`, `-`, `1.`, `1e`,
		`[` + strings.Repeat("[", maxJSONDepth-1) + strings.Repeat("]", maxJSONDepth) + ``, `tru`, `nul`, "[1]\x00"} {
		f.Add([]byte(s))
	}
	for _, tt := range fastChunkCases {
		f.Add([]byte(tt.chunk))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		v, ok := parseJSON(raw)
		if ok != json.Valid(raw) {
			t.Fatalf("parseJSON(%q) ok = %v, json.Valid %v", raw, ok, !ok)
		}
		if !ok {
			return
		}
		if !bytes.Equal(v, bytes.TrimSpace(raw)) && len(bytes.TrimLeft(raw, " \t\r\n")) == len(bytes.TrimLeft(v, " \t\r\n")) {
			t.Errorf("parseJSON(%q) = %q", raw, v)
		}
		var want string
		err := json.Unmarshal(raw, &want)
		if v.isString() && (err != nil || stringField(v) != want) {
			t.Errorf("stringField(%q) = %q; encoding/json: %q, %v", v, stringField(v), want, err)
		}
	})
}

// textOfDecoded is textOf with encoding/json alone, as it was before the fast way.
func textOfDecoded(raw []byte, sep string) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return ""
		}
		return s
	case '[':
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			return ""
		}
		var texts []string
		for _, it := range items {
			var t string
			switch it := bytes.TrimSpace(it); {
			case len(it) > 0 && it[0] == '"':
				t = textOfDecoded(it, "")
			case len(it) > 0 && it[0] == '{':
				var p contentPartJSON
				if extract.DecodeLenient(it, &p) {
					t = p.text()
				}
			}
			if t != "" {
				texts = append(texts, t)
			}
		}
		return strings.Join(texts, sep)
	}
	return ""
}

// compactDecoded is compactJSON with json.Compact, as it was before the fast way.
func compactDecoded(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	switch string(raw) {
	case "", "null", "[]", "{}":
		return ""
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return ""
	}
	return b.String()
}

var jsonHelperSeeds = []string{
	`"plain"`, `"a\nb \"q\" \u00e9\ud83d\ude00 \ud800"`, "\"\xff\"", `["one","two"]`,
	`[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}},{"type":"refusal","refusal":"no"},"s",1,null]`,
	`[{"type":"text","Text":"a"},{"type":"text","text":"x","text":"y"},{"type":"input_text","text":5},{"type":"output_text","t\u0065xt":"e"}]`,
	` [ { "type" : "text" , "text" : "spaced" } ] `, `[1,2`, `[{"text":"a"}]x`, `{"type":"text"}`,
	`[{"type":"function","function":{"name":"f","description":"Get the \"weather\"\n","parameters":{"type":"object"}}}]`,
	"{\n  \"a\" : [ 1 , 2 ] ,\t\"b\\\\\" : \"x y\"\r\n}", `[]`, `{}`, `null`, `[ ]`,
	`[` + strings.Repeat("[", maxJSONDepth) + strings.Repeat("]", maxJSONDepth) + `]`,
}

func TestTextOfAndCompactJSON(t *testing.T) {
	for _, raw := range jsonHelperSeeds {
		for _, sep := range []string{"", "\n"} {
			if got, want := textOf([]byte(raw), sep), textOfDecoded([]byte(raw), sep); got != want {
				t.Errorf("textOf(%.80q, %q) = %q, want %q", raw, sep, got, want)
			}
		}
		if got, want := compactJSON([]byte(raw)), compactDecoded([]byte(raw)); got != want {
			t.Errorf("compactJSON(%.80q) = %q, want %q", raw, got, want)
		}
	}
}

func FuzzTextOfAndCompactJSON(f *testing.F) {
	for _, raw := range jsonHelperSeeds {
		f.Add([]byte(raw))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if got, want := textOf(raw, "\n"), textOfDecoded(raw, "\n"); got != want {
			t.Errorf("textOf(%q) = %q, want %q", raw, got, want)
		}
		if got, want := compactJSON(raw), compactDecoded(raw); got != want {
			t.Errorf("compactJSON(%q) = %q, want %q", raw, got, want)
		}
	})
}
