package openai

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// The summaries run in the access-log writer for every row, so their cost is the proxy's
// logging cost per exchange. go test -run xxx -bench Summar -benchmem ./provider/openai/

// benchStream is a chat completion stream of 20 chunks, the length of a short answer: the
// role, 17 content deltas, the finish reason and usage, then [DONE].
func benchStream() []byte {
	var b bytes.Buffer
	head := `data: {"id":"chatcmpl-AZ8sX0rGfQ5vU2yEuS8b1WwkGcxI4","object":"chat.completion.chunk","created":1733011232,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_0705bf87c0","choices":`
	b.WriteString(head + `[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}` + "\n\n")
	for i := range 17 {
		b.WriteString(head + `[{"index":0,"delta":{"content":" word` + string(rune('a'+i)) + `"},"logprobs":null,"finish_reason":null}],"usage":null}` + "\n\n")
	}
	b.WriteString(head + `[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}` + "\n\n")
	b.WriteString(head + `[],"usage":{"prompt_tokens":19,"completion_tokens":17,"total_tokens":36,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}` + "\n\n")
	b.WriteString("data: [DONE]\n\n")
	return b.Bytes()
}

// benchObfuscatedStream is a stream as OpenAI sends it today, 24 events and about 7.6 KB:
// every chunk carries "usage":null and an "obfuscation" padding field, and some content
// deltas hold escapes (newlines, quotes) and non-ASCII text.
func benchObfuscatedStream() []byte {
	var b bytes.Buffer
	head := `data: {"id":"chatcmpl-BzR7qJ3eXm4Kp1Lw9TnYc2VdHs6Ga","object":"chat.completion.chunk","created":1754321098,"model":"gpt-4.1-mini-2025-04-14","service_tier":"default","system_fingerprint":"fp_6f2eabb9a5","choices":`
	pad := "oB3xYk9QzP1mWv7LtR2sHn8JdC4fGa6E"
	chunk := func(choices, usage string, i int) {
		b.WriteString(head + choices + `,"usage":` + usage + `,"obfuscation":"` + pad[:8+i%24] + `"}` + "\n\n")
	}
	chunk(`[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]`, "null", 0)
	pieces := []string{"Sure", "!", " Here", " is", " a", " short", " answer", ":\\n\\n", "1", ".", " The", " \\\"quick\\\"", " fox", " — déjà", " vu", ".\\n", "2", ". Done", " 🙂", "."}
	for i, p := range pieces {
		chunk(`[{"index":0,"delta":{"content":"`+p+`"},"logprobs":null,"finish_reason":null}]`, "null", i+1)
	}
	chunk(`[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]`, "null", 21)
	chunk(`[]`, `{"prompt_tokens":1117,"completion_tokens":46,"total_tokens":1163,"prompt_tokens_details":{"cached_tokens":1024,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}`, 22)
	b.WriteString("data: [DONE]\n\n")
	return b.Bytes()
}

// benchConversation is a chat request replaying a conversation of n turns, with a system
// prompt, tool definitions and text holding escapes, as agents send them.
func benchConversation(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"model":"gpt-4.1","user":"user-1234","stream":true,"stream_options":{"include_usage":true},"messages":[`)
	b.WriteString(`{"role":"system","content":"You are a helpful assistant.\nAnswer briefly and cite your sources."}`)
	for i := range n {
		fmt.Fprintf(&b, `,{"role":"user","content":"Question %d: what does the \"quick brown fox\" sentence demonstrate? Please explain in detail."}`, i)
		fmt.Fprintf(&b, `,{"role":"assistant","content":"%s"}`, strings.Repeat("It uses every letter of the alphabet, which makes it a pangram. ", 8))
	}
	b.WriteString(`],"tools":[{"type":"function","function":{"name":"search","description":"Search the web","parameters":{"type":"object","properties":{"q":{"type":"string"}},"required":["q"]}}}]}`)
	return []byte(b.String())
}

// benchImageRequest is a chat request with a question about an image of n bytes of base64
// sent inline, as a data URL.
func benchImageRequest(n int) []byte {
	return []byte(`{"model":"gpt-4.1","messages":[{"role":"user","content":[{"type":"text","text":"What is in this image?"},` +
		`{"type":"image_url","image_url":{"url":"data:image/jpeg;base64,` + strings.Repeat("iVBORw0KGgoAAAANSUhEUgAA", n/24) + `","detail":"auto"}}]}]}`)
}

func BenchmarkSummarizeChatStream20(b *testing.B) {
	body := benchStream()
	if s := summarizeResponse("/chat/completions", body, true); s.Usage == nil || s.Usage.OutputTokens != 17 {
		b.Fatalf("bad summary %s", showSummary(s))
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		summarizeResponse("/chat/completions", body, true)
	}
}

func BenchmarkSummarizeChatStreamObfuscated(b *testing.B) {
	body := benchObfuscatedStream()
	if s := summarizeResponse("/chat/completions", body, true); s.Usage == nil || s.Usage.OutputTokens != 46 || !strings.HasPrefix(s.Content, "Sure! Here") {
		b.Fatalf("bad summary %s", showSummary(s))
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		summarizeResponse("/chat/completions", body, true)
	}
}

func BenchmarkSummarizeChatStreamTools(b *testing.B) {
	body := readTestdata(b, "chat_stream_tools.sse")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		summarizeResponse("/chat/completions", body, true)
	}
}

func BenchmarkSummarizeResponsesStream(b *testing.B) {
	body := readTestdata(b, "responses_stream.sse")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		summarizeResponse("/responses", body, true)
	}
}

func BenchmarkSummarizeChatCompletion(b *testing.B) {
	body := readTestdata(b, "chat_completion.json")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		summarizeResponse("/chat/completions", body, false)
	}
}

func BenchmarkSummarizeRequest(b *testing.B) {
	for _, bc := range []struct {
		name string
		body []byte
	}{
		{"Small", readTestdata(b, "chat_request.json")},
		{"Conversation20", benchConversation(10)},
		{"Image200K", benchImageRequest(200 << 10)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.body)))
			b.ReportAllocs()
			for b.Loop() {
				summarizeRequest("/chat/completions", bc.body)
			}
		})
	}
}
