package bedrock

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/aiproxy-go/aiproxy/provider"
)

func TestSummarizeRequest(t *testing.T) {
	tests := []struct {
		name, endpoint, body string
		model, user, content string
		text                 string
	}{
		{"converse", "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse",
			`{"system":[{"text":"sys"}],"messages":[{"role":"user","content":[{"text":"a"},{"image":{}},{"text":"b"}]},` +
				`{"role":"assistant","content":[{"toolUse":{"toolUseId":"t1","name":"f","input":{"x":1}}}]},{"role":"user","content":[{"text":"last"}]}]}`,
			"anthropic.claude-3-haiku-20240307-v1:0", "", "last", "sys\na\nb\n{\"x\":1}\nlast"},
		{"converse tool result last", "/model/m/converse-stream",
			`{"messages":[{"role":"user","content":[{"text":"q"}]},{"role":"user","content":[{"toolResult":{"toolUseId":"t1","content":[{"json":{"t":20}},{"text":"sunny"}]}}]}]}`,
			"m", "", "{\"t\":20}\nsunny", "q\n{\"t\":20}\nsunny"},
		{"anthropic messages", "/model/m/invoke",
			`{"anthropic_version":"bedrock-2023-05-31","system":"sys","messages":[{"role":"user","content":"hello"},{"role":"assistant","content":"hi"},` +
				`{"role":"user","content":[{"type":"text","text":"again"},{"type":"image","source":{}}]}],"metadata":{"user_id":"bob"}}`,
			"m", "bob", "again", "sys\nhello\nhi\nagain"},
		{"anthropic tool result", "/model/m/invoke",
			`{"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"42"}]}]}`, "m", "", "42", "42"},
		{"claude v2 prompt", "/model/anthropic.claude-v2/invoke",
			`{"prompt": "Human: What is the difference between eel and conger eel?\nAssistant: ", "max_tokens_to_sample": 100}`,
			"anthropic.claude-v2", "", "What is the difference between eel and conger eel?", "Human: What is the difference between eel and conger eel?\nAssistant: "},
		{"titan", "/model/amazon.titan-text-express-v1/invoke", `{"inputText":"tell me"}`, "amazon.titan-text-express-v1", "", "tell me", "tell me"},
		{"llama", "/model/meta.llama3/invoke", `{"prompt":" say hi ","max_gen_len":5}`, "meta.llama3", "", "say hi", " say hi "},
		{"cohere", "/model/cohere.command-r-v1%3A0/invoke", `{"message":"hey"}`, "cohere.command-r-v1:0", "", "hey", "hey"},
		{"not json", "/model/m/invoke", `not json at all`, "m", "", "", ""},
		{"wrong types", "/model/m/converse", `{"messages":{"role":"user"},"system":7,"metadata":[1]}`, "m", "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := summarizeRequest(tc.endpoint, []byte(tc.body))
			if s.Model != tc.model || s.User != tc.user || s.Content != tc.content || s.Text != tc.text {
				t.Errorf("got model %q user %q content %q text %q", s.Model, s.User, s.Content, s.Text)
			}
		})
	}
}

func call(id, name, args string) provider.ToolCall { return toolCall(id, name, args) }

func TestSummarizeBody(t *testing.T) {
	tests := []struct {
		name, body string
		want       provider.Summary
	}{
		{"converse", `{"output":{"message":{"role":"assistant","content":[{"reasoningContent":{"reasoningText":{"text":"hmm"}}},{"text":"Sure."},` +
			`{"toolUse":{"toolUseId":"tooluse_1","name":"get_weather","input":{"location": "Paris"}}}]}},"stopReason":"tool_use",` +
			`"usage":{"inputTokens":10,"outputTokens":5,"totalTokens":1115,"cacheReadInputTokens":100,"cacheWriteInputTokens":1000}}`,
			provider.Summary{Content: "Sure.", ToolCalls: []provider.ToolCall{call("tooluse_1", "get_weather", `{"location":"Paris"}`)},
				Usage: &provider.Usage{InputTokens: 1110, OutputTokens: 5, CachedTokens: 100}}},
		{"anthropic", `{"id":"msg_1","type":"message","model":"claude-3-5-sonnet-20240620","content":[{"type":"thinking","thinking":"x"},{"type":"text","text":"a"},` +
			`{"type":"text","text":"b"},{"type":"tool_use","id":"toolu_1","name":"f","input":{}}],"usage":{"input_tokens":3,"cache_read_input_tokens":4,"cache_creation_input_tokens":5,"output_tokens":6}}`,
			provider.Summary{Model: "claude-3-5-sonnet-20240620", Content: "ab", ToolCalls: []provider.ToolCall{call("toolu_1", "f", "{}")},
				Usage: &provider.Usage{InputTokens: 12, OutputTokens: 6, CachedTokens: 4}}},
		{"claude v2", `{"type":"completion","completion":" Eels are","stop_reason":"max_tokens","stop":null}`, provider.Summary{Content: " Eels are"}},
		{"titan", `{"inputTextTokenCount":4,"results":[{"tokenCount":7,"outputText":"hi there","completionReason":"FINISH"}]}`,
			provider.Summary{Content: "hi there", Usage: &provider.Usage{InputTokens: 4, OutputTokens: 7}}},
		{"llama", `{"generation":"yo","prompt_token_count":9,"generation_token_count":2,"stop_reason":"stop"}`,
			provider.Summary{Content: "yo", Usage: &provider.Usage{InputTokens: 9, OutputTokens: 2}}},
		{"mistral", `{"outputs":[{"text":"bonjour","stop_reason":"stop"}]}`, provider.Summary{Content: "bonjour"}},
		{"openai-like", `{"choices":[{"message":{"role":"assistant","content":"ok"}}],"usage":{"prompt_tokens":3,"completion_tokens":1}}`,
			provider.Summary{Content: "ok", Usage: &provider.Usage{InputTokens: 3, OutputTokens: 1}}},
		{"nova", `{"output":{"message":{"content":[{"text":"nova says"}],"role":"assistant"}},"stopReason":"end_turn","usage":{"inputTokens":2,"outputTokens":3,"totalTokens":5}}`,
			provider.Summary{Content: "nova says", Usage: &provider.Usage{InputTokens: 2, OutputTokens: 3}}},
		{"aws error", `{"message":"Too many requests, please wait before trying again."}`, provider.Summary{Error: "Too many requests, please wait before trying again."}},
		{"aws error capital", `{"Message":"User is not authorized"}`, provider.Summary{Error: "User is not authorized"}},
		{"not json", `<html>502</html>`, provider.Summary{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := summarizeResponse("/model/m/converse", []byte(tc.body), false)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func join(frames ...[]byte) []byte { return bytes.Join(frames, nil) }

func TestSummarizeStream(t *testing.T) {
	anthropic := []string{
		`{"type":"message_start","message":{"id":"m","model":"claude-3-haiku-20240307","usage":{"input_tokens":20,"cache_read_input_tokens":5,"output_tokens":1}}}`,
		`{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
		`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}}`,
		`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"lo"}}`,
		`{"type":"content_block_stop","index":0}`,
		`{"type":"content_block_start","index":1,"content_block":{"type":"thinking","thinking":""}}`,
		`{"type":"content_block_delta","index":1,"delta":{"type":"thinking_delta","thinking":"hidden"}}`,
		`{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_9","name":"f","input":{}}}`,
		`{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"a\":"}}`,
		`{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"1}"}}`,
		`{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":9}}`,
	}
	var frames [][]byte
	for _, c := range anthropic {
		frames = append(frames, chunkFrame(t, c))
	}
	withoutMetrics := join(append(frames, chunkFrame(t, `{"type":"message_stop"}`))...)
	withMetrics := join(append(frames, chunkFrame(t, `{"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":21,"outputTokenCount":10,"cacheReadInputTokenCount":5,"invocationLatency":9,"firstByteLatency":3}}`))...)
	tool := []provider.ToolCall{call("toolu_9", "f", `{"a":1}`)}

	converse := join(
		event(t, "messageStart", `{"role":"assistant","p":"abc"}`),
		event(t, "contentBlockDelta", `{"contentBlockIndex":0,"delta":{"reasoningContent":{"text":"think"}}}`),
		event(t, "contentBlockDelta", `{"contentBlockIndex":1,"delta":{"text":"A"}}`),
		event(t, "contentBlockDelta", `{"contentBlockIndex":1,"delta":{"text":"B"}}`),
		event(t, "contentBlockStart", `{"contentBlockIndex":3,"start":{"toolUse":{"toolUseId":"tu_2","name":"g"}}}`),
		event(t, "contentBlockStart", `{"contentBlockIndex":2,"start":{"toolUse":{"toolUseId":"tu_1","name":"f"}}}`),
		event(t, "contentBlockDelta", `{"contentBlockIndex":2,"delta":{"toolUse":{"input":"{\"x\""}}}`),
		event(t, "contentBlockDelta", `{"contentBlockIndex":3,"delta":{"toolUse":{"input":"{}"}}}`),
		event(t, "contentBlockDelta", `{"contentBlockIndex":2,"delta":{"toolUse":{"input":":2}"}}}`),
		event(t, "messageStop", `{"stopReason":"tool_use"}`),
		event(t, "metadata", `{"usage":{"inputTokens":7,"outputTokens":8,"totalTokens":15},"metrics":{"latencyMs":5}}`),
	)

	tests := []struct {
		name, endpoint string
		body           []byte
		want           provider.Summary
	}{
		{"anthropic chunks, metrics", "/model/m/invoke-with-response-stream", withMetrics,
			provider.Summary{Model: "claude-3-haiku-20240307", Content: "Hello", ToolCalls: tool, Usage: &provider.Usage{InputTokens: 26, OutputTokens: 10, CachedTokens: 5}}},
		{"anthropic chunks, own usage", "/model/m/invoke-with-response-stream", withoutMetrics,
			provider.Summary{Model: "claude-3-haiku-20240307", Content: "Hello", ToolCalls: tool, Usage: &provider.Usage{InputTokens: 25, OutputTokens: 9, CachedTokens: 5}}},
		{"converse stream", "/model/m/converse-stream", converse,
			provider.Summary{Content: "AB", ToolCalls: []provider.ToolCall{call("tu_1", "f", `{"x":2}`), call("tu_2", "g", "{}")},
				Usage: &provider.Usage{InputTokens: 7, OutputTokens: 8}}},
		{"converse stream, exception", "/model/m/converse-stream",
			join(event(t, "contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"par"}}`), exceptionFrame(t, "throttlingException", "slow down")),
			provider.Summary{Content: "par", Error: "throttlingException: slow down"}},
		{"claude v2 chunks", "/model/anthropic.claude-v2/invoke-with-response-stream",
			join(chunkFrame(t, `{"completion":" Hi","stop_reason":null}`), chunkFrame(t, `{"completion":" there","stop_reason":null}`),
				chunkFrame(t, `{"completion":"","stop_reason":"stop_sequence","amazon-bedrock-invocationMetrics":{"inputTokenCount":12,"outputTokenCount":3}}`)),
			provider.Summary{Content: " Hi there", Usage: &provider.Usage{InputTokens: 12, OutputTokens: 3}}},
		{"titan chunks", "/model/t/invoke-with-response-stream",
			join(chunkFrame(t, `{"outputText":"ti","index":0}`), chunkFrame(t, `{"outputText":"tan","index":0,"amazon-bedrock-invocationMetrics":{"inputTokenCount":1,"outputTokenCount":2}}`)),
			provider.Summary{Content: "titan", Usage: &provider.Usage{InputTokens: 1, OutputTokens: 2}}},
		{"nova chunks", "/model/n/invoke-with-response-stream",
			join(chunkFrame(t, `{"messageStart":{"role":"assistant"}}`), chunkFrame(t, `{"contentBlockDelta":{"delta":{"text":"no"},"contentBlockIndex":0}}`),
				chunkFrame(t, `{"contentBlockDelta":{"delta":{"text":"va"},"contentBlockIndex":0}}`),
				chunkFrame(t, `{"metadata":{"usage":{"inputTokens":4,"outputTokens":2}}}`)),
			provider.Summary{Content: "nova", Usage: &provider.Usage{InputTokens: 4, OutputTokens: 2}}},
		{"cut inside a frame", "/model/m/converse-stream", converse[:len(converse)-10],
			provider.Summary{Content: "AB", ToolCalls: []provider.ToolCall{call("tu_1", "f", `{"x":2}`), call("tu_2", "g", "{}")}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := summarizeResponse(tc.endpoint, tc.body, true)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestLogBody(t *testing.T) {
	p := &Provider{}
	body := join(
		chunkFrame(t, `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a<b>"}}`),
		exceptionFrame(t, "throttlingException", "slow"),
	)
	got := string(p.LogBody("/model/m/invoke-with-response-stream", append(body, 0, 0, 0), true))
	want := `{"headers":{":content-type":"application/json",":event-type":"chunk",":message-type":"event"},"payload":{"bytes":{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a<b>"}},"p":"abc"}}` + "\n" +
		`{"headers":{":content-type":"application/json",":exception-type":"throttlingException",":message-type":"exception"},"payload":{"message":"slow"}}` + "\n" +
		`{"error":"undecodable event-stream bytes: upstream sent a malformed event-stream frame: the stream ended inside a frame","rest_base64":"AAAA"}` + "\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	plain := []byte(`{"output":{}}`)
	if got := p.LogBody("/model/m/converse", plain, false); !bytes.Equal(got, plain) {
		t.Errorf("a body that is not a stream changed: %s", got)
	}
}
