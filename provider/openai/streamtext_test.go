package openai_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	openaisdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/ssestream"
	"github.com/openai/openai-go/v3/responses"

	"github.com/aiproxy-go/aiproxy/provider"
	"github.com/aiproxy-go/aiproxy/provider/openai"
	"github.com/aiproxy-go/aiproxy/sse"
)

// stTrickyText needs escaping in JSON and is not ASCII.
const stTrickyText = "say \"hi\"\n\tto <b>Zoë</b> & 世界 \\ 🙂"

// stStream returns the StreamText of an OpenAI stream.
func stStream(t testing.TB) provider.StreamText {
	t.Helper()
	p := openai.New(openai.Options{})
	s, ok := p.NewStream(&provider.Request{Endpoint: "/chat/completions"},
		&http.Response{Header: http.Header{"Content-Type": {"text/event-stream"}}})
	if !ok {
		t.Fatal("no stream for text/event-stream")
	}
	st, ok := s.(provider.StreamText)
	if !ok {
		t.Fatalf("%T does not implement provider.StreamText", s)
	}
	return st
}

// stQuote is text as a JSON string, as the API writes it (no HTML escaping).
func stQuote(text string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(text)
	return strings.TrimSuffix(b.String(), "\n")
}

func TestEventText(t *testing.T) {
	st := stStream(t)
	tests := []struct {
		name string
		ev   string
		text string // "" when the event carries none
		old  string // the raw JSON string SetEventText replaces; "" when it fails
	}{
		{"chat content", `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null}]}` + "\n\n",
			"Hello", `"Hello"`},
		{"escaped content", `data: {"choices":[{"index":0,"delta":{"content":"a\"b\n\u00e9"}}]}` + "\n\n",
			"a\"b\né", `"a\"b\n\u00e9"`},
		{"role chunk", `data: {"choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"finish_reason":null}]}` + "\n\n",
			"", `""`},
		{"azure content filter", `data: {"choices":[{"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}},"delta":{"content":"Azure"},"finish_reason":null,"index":0,"logprobs":null}],"created":1733011300,"id":"chatcmpl-A","model":"gpt-4o","object":"chat.completion.chunk"}` + "\n\n",
			"Azure", `"Azure"`},
		{"azure prompt filter", `data: {"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0}]}` + "\n\n", "", ""},
		{"tool call", `data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"a\""}}]}}]}` + "\n\n", "", ""},
		{"null content", `data: {"choices":[{"index":0,"delta":{"content":null,"refusal":"no"}}]}` + "\n\n", "", ""},
		{"finish", `data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\n", "", ""},
		{"usage", `data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}` + "\n\n", "", ""},
		{"done", "data: [DONE]\n\n", "", ""},
		{"n=2 second choice", `data: {"choices":[{"index":1,"delta":{"content":"B"}}]}` + "\n\n", "B", `"B"`},
		{"n=2 first non-empty", `data: {"choices":[{"index":0,"delta":{"content":""}},{"index":1,"delta":{"content":"two"}}]}` + "\n\n",
			"two", `"two"`},
		{"legacy completion", `data: {"id":"cmpl-1","object":"text_completion","created":1,"choices":[{"text":" is","index":0,"logprobs":null,"finish_reason":null}],"model":"gpt-3.5-turbo-instruct"}` + "\n\n",
			" is", `" is"`},
		{"responses delta", "event: response.output_text.delta\n" + `data: {"type":"response.output_text.delta","item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi","sequence_number":4}` + "\n\n",
			"Hi", `"Hi"`},
		{"responses done", "event: response.output_text.done\n" + `data: {"type":"response.output_text.done","item_id":"msg_1","output_index":0,"content_index":0,"text":"Hi there","sequence_number":9}` + "\n\n", "", ""},
		{"responses refusal", "event: response.refusal.delta\n" + `data: {"type":"response.refusal.delta","delta":"no","sequence_number":4}` + "\n\n", "", ""},
		{"crlf and fields", "id: 7\r\n: comment\r\nevent: message\r\n" + `data:{"choices":[{"index":0,"delta":{"content":"x"}}]}` + "\r\n\r\n", "x", `"x"`},
		{"no terminator", `data: {"choices":[{"index":0,"delta":{"content":"end"}}]}`, "end", `"end"`},
		{"bom", "\xEF\xBB\xBF" + `data: {"choices":[{"index":0,"delta":{"content":"b"}}]}` + "\n\n", "b", `"b"`},
		{"not json", "data: hello\n\n", "", ""},
		{"comment only", ": keep-alive\n\n", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, ok := st.EventText([]byte(tt.ev))
			if text != tt.text || ok != (tt.text != "") {
				t.Fatalf("EventText = %q, %v; want %q", text, ok, tt.text)
			}
			out, err := st.SetEventText([]byte(tt.ev), stTrickyText)
			if tt.old == "" {
				if err == nil {
					t.Fatalf("SetEventText succeeded: %q", out)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := strings.Replace(tt.ev, tt.old, stQuote(stTrickyText), 1)
			if string(out) != want {
				t.Fatalf("SetEventText =\n%q\nwant\n%q", out, want)
			}
			if got, ok := st.EventText(out); !ok || got != stTrickyText {
				t.Fatalf("EventText after SetEventText = %q, %v", got, ok)
			}
			if empty, err := st.SetEventText([]byte(tt.ev), ""); err != nil || !json.Valid(sse.Data(empty)) {
				t.Fatalf("SetEventText(\"\") = %q, %v", empty, err)
			}
		})
	}
}

// The data of an event may come in several data lines; it is rewritten as one.
func TestSetEventTextMultilineData(t *testing.T) {
	st := stStream(t)
	ev := "event: x\ndata: {\"choices\":[{\"index\":0,\ndata: \"delta\":{\"content\":\"old\"}}]}\nid: 3\n\n"
	if text, ok := st.EventText([]byte(ev)); !ok || text != "old" {
		t.Fatalf("EventText = %q, %v", text, ok)
	}
	out, err := st.SetEventText([]byte(ev), "new\nline")
	if err != nil {
		t.Fatal(err)
	}
	want := "event: x\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"new\\nline\"}}]}\nid: 3\n\n"
	if string(out) != want {
		t.Fatalf("got\n%q\nwant\n%q", out, want)
	}
}

// stEvents splits a stream with the provider's own framing.
func stEvents(t testing.TB, s provider.Stream, body []byte) [][]byte {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	sc.Split(s.Split)
	var out [][]byte
	for sc.Scan() {
		out = append(out, bytes.Clone(sc.Bytes()))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// The text of a recorded stream's events is the assistant text its summary holds. (A
// refusal, which the summary logs as content, is not text that filters rewrite.)
func TestEventTextOfRecordedStreams(t *testing.T) {
	p := openai.New(openai.Options{})
	st := stStream(t)
	for _, tt := range []struct{ file, endpoint string }{
		{"chat_stream.sse", "/chat/completions"},
		{"chat_stream_azure.sse", "/chat/completions"},
		{"chat_stream_tools.sse", "/chat/completions"},
		{"completions_stream.sse", "/completions"},
		{"responses_stream.sse", "/responses"},
		{"responses_stream_tools.sse", "/responses"},
	} {
		t.Run(tt.file, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			var got strings.Builder
			for _, ev := range stEvents(t, st.(provider.Stream), body) {
				if text, ok := st.EventText(ev); ok {
					got.WriteString(text)
				}
			}
			want := p.SummarizeResponse(tt.endpoint, body, true).Content
			if got.String() != want {
				t.Fatalf("text of the events = %q, summary = %q", got.String(), want)
			}
		})
	}
}

// stServe serves a stream's bytes as text/event-stream.
func stServe(t *testing.T, body []byte) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// stRewrite replaces the text of every text event of a recorded stream by fn's result and
// returns the stream and the new text.
func stRewrite(t *testing.T, file string, fn func(i int, text string) string) ([]byte, string) {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	st := stStream(t)
	var out []byte
	var text strings.Builder
	i := 0
	for _, ev := range stEvents(t, st.(provider.Stream), body) {
		if old, ok := st.EventText(ev); ok {
			n := fn(i, old)
			i++
			text.WriteString(n)
			if ev, err = st.SetEventText(ev, n); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, ev...)
	}
	if i == 0 {
		t.Fatalf("%s has no text event", file)
	}
	return out, text.String()
}

func stClient(url string) *openaisdk.Client {
	c := openaisdk.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey("sk-test"), option.WithMaxRetries(0))
	return &c
}

// openai-go reads rewritten chat and Responses streams, and sees the new text.
func TestSetEventTextWithSDK(t *testing.T) {
	upper := func(i int, s string) string { return strings.ToUpper(s) + "|" + stTrickyText }
	t.Run("chat", func(t *testing.T) {
		body, want := stRewrite(t, "chat_stream.sse", upper)
		stream := stClient(stServe(t, body)).Chat.Completions.NewStreaming(context.Background(),
			openaisdk.ChatCompletionNewParams{Model: "gpt-4o", Messages: []openaisdk.ChatCompletionMessageParamUnion{openaisdk.UserMessage("hi")}})
		var acc openaisdk.ChatCompletionAccumulator
		for stream.Next() {
			acc.AddChunk(stream.Current())
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if got := acc.Choices[0].Message.Content; got != want {
			t.Fatalf("SDK text = %q, want %q", got, want)
		}
	})
	t.Run("responses", func(t *testing.T) {
		body, want := stRewrite(t, "responses_stream.sse", upper)
		stream := stClient(stServe(t, body)).Responses.NewStreaming(context.Background(),
			responses.ResponseNewParams{Model: "gpt-4.1", Input: responses.ResponseNewParamsInputUnion{OfString: openaisdk.String("hi")}})
		var got strings.Builder
		for stream.Next() {
			if ev := stream.Current(); ev.Type == "response.output_text.delta" {
				got.WriteString(ev.Delta)
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if got.String() != want {
			t.Fatalf("SDK text = %q, want %q", got.String(), want)
		}
	})
}

// A stream that ends with StreamError's event makes openai-go return an error that carries
// the message, after the text before it.
func TestStreamErrorWithSDK(t *testing.T) {
	e := &provider.Error{Status: 400, Type: "invalid_request_error", Code: "content_filter", Message: "the answer broke a rule \"x\""}
	first := `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}` + "\n\n"
	for _, tt := range []struct {
		name     string
		p        provider.StreamErrorRenderer
		wantCode string
	}{
		{"openai", openai.New(openai.Options{}), `"code":"content_filter"`},
		{"azure", openai.NewAzure(openai.AzureOptions{}), `"code":"content_filter"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ev := tt.p.StreamError(&provider.Request{Endpoint: "/chat/completions"}, e)
			if !bytes.HasPrefix(ev, []byte("data: {")) || !bytes.HasSuffix(ev, []byte("}\n\n")) || !bytes.Contains(ev, []byte(tt.wantCode)) {
				t.Fatalf("StreamError = %q", ev)
			}
			stream := stClient(stServe(t, append([]byte(first), ev...))).Chat.Completions.NewStreaming(context.Background(),
				openaisdk.ChatCompletionNewParams{Model: "gpt-4o", Messages: []openaisdk.ChatCompletionMessageParamUnion{openaisdk.UserMessage("hi")}})
			var text string
			for stream.Next() {
				if c := stream.Current(); len(c.Choices) > 0 {
					text += c.Choices[0].Delta.Content
				}
			}
			err := stream.Err()
			var se *ssestream.StreamError
			if !errors.As(err, &se) || !strings.Contains(err.Error(), `the answer broke a rule \"x\"`) {
				t.Fatalf("stream error = %v (%T)", err, err)
			}
			if text != "Hel" {
				t.Fatalf("text before the error = %q", text)
			}
		})
	}
	t.Run("azure code from status", func(t *testing.T) {
		ev := openai.NewAzure(openai.AzureOptions{}).StreamError(&provider.Request{}, &provider.Error{Status: 429, Message: "slow down"})
		var body struct {
			Error struct{ Message, Type, Code string }
		}
		if err := json.Unmarshal(sse.Data(ev), &body); err != nil || body.Error.Code != "429" || body.Error.Type != "rate_limit_error" || body.Error.Message != "slow down" {
			t.Fatalf("StreamError = %q, %v", ev, err)
		}
	})
}

func FuzzSetEventText(f *testing.F) {
	for _, file := range []string{"chat_stream.sse", "chat_stream_azure.sse", "completions_stream.sse", "responses_stream.sse"} {
		body, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			f.Fatal(err)
		}
		for i, ev := range stEvents(f, stStream(f).(provider.Stream), body) {
			if i < 6 {
				f.Add(ev, stTrickyText)
			}
		}
	}
	f.Add([]byte("data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\r\n\r\n"), "\x00\xff")
	f.Fuzz(func(t *testing.T, ev []byte, text string) {
		st := stStream(t)
		out, err := st.SetEventText(ev, text)
		if err != nil {
			return
		}
		if json.Valid(sse.Data(ev)) && !json.Valid(sse.Data(out)) {
			t.Fatalf("valid data became invalid: %q -> %q", sse.Data(ev), sse.Data(out))
		}
		if !json.Valid(sse.Data(ev)) {
			return
		}
		// Invalid UTF-8 is written as U+FFFD, one per bad byte, as encoding/json does.
		var want string
		if err := json.Unmarshal([]byte(stQuote(text)), &want); err != nil {
			t.Fatal(err)
		}
		if got, ok := st.EventText(out); got != want || ok != (want != "") {
			t.Fatalf("EventText after SetEventText(%q) = %q, %v", text, got, ok)
		}
	})
}

// A stream filter reads and rewrites the text of each event as it passes.
func ExampleProvider_NewStream_text() {
	p := openai.New(openai.Options{})
	s, _ := p.NewStream(&provider.Request{Endpoint: "/chat/completions"},
		&http.Response{Header: http.Header{"Content-Type": {"text/event-stream"}}})
	st := s.(provider.StreamText)
	ev := []byte(`data: {"id":"chatcmpl-1","choices":[{"index":0,"delta":{"content":"Hello"}}]}` + "\n\n")
	text, _ := st.EventText(ev)
	out, _ := st.SetEventText(ev, strings.ToUpper(text)+` "world"`)
	fmt.Print(string(out))
	// Output:
	// data: {"id":"chatcmpl-1","choices":[{"index":0,"delta":{"content":"HELLO \"world\""}}]}
}

// A filter that stops a stream midway ends it with an error event.
func ExampleProvider_StreamError() {
	p := openai.New(openai.Options{})
	ev := p.StreamError(&provider.Request{Endpoint: "/chat/completions"},
		&provider.Error{Status: 400, Type: "invalid_request_error", Code: "content_filter", Message: "the answer was blocked"})
	fmt.Print(string(ev))
	// Output:
	// data: {"error":{"message":"the answer was blocked","type":"invalid_request_error","param":null,"code":"content_filter"}}
}

var stBenchChunk = []byte(`data: {"id":"chatcmpl-AZ9aBcDeFgHiJkLmNoPqRsTuVwXyZ","object":"chat.completion.chunk","created":1733011300,"model":"gpt-4o-2024-11-20","system_fingerprint":"fp_04751d0b65","choices":[{"index":0,"delta":{"content":" world"},"logprobs":null,"finish_reason":null}]}` + "\n\n")

func BenchmarkEventText(b *testing.B) {
	st := stStream(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := st.EventText(stBenchChunk); !ok {
			b.Fatal("no text")
		}
	}
}

func BenchmarkSetEventText(b *testing.B) {
	st := stStream(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.SetEventText(stBenchChunk, " WORLD"); err != nil {
			b.Fatal(err)
		}
	}
}
