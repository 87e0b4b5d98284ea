package fakeupstream

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy-go/aiproxy/sse"
)

// start runs a fake behind an httptest.Server.
func start(t *testing.T, opts OpenAIOptions) (*OpenAI, *httptest.Server) {
	t.Helper()
	o := NewOpenAI(opts)
	srv := httptest.NewServer(o)
	t.Cleanup(srv.Close)
	return o, srv
}

// reply is an answer read whole.
type reply struct {
	status int
	header http.Header
	body   []byte
	err    error // from reading the body
}

// do sends a request with headers given as name, value pairs.
func do(t *testing.T, method, url, body string, headers ...string) reply {
	t.Helper()
	return doCtx(t, context.Background(), method, url, body, headers...)
}

func doCtx(t *testing.T, ctx context.Context, method, url, body string, headers ...string) reply {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return reply{err: err}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return reply{status: res.StatusCode, header: res.Header, body: b, err: err}
}

// events cuts a stream into its events.
func events(t *testing.T, body []byte) [][]byte {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Split(sse.Split)
	var out [][]byte
	for sc.Scan() {
		out = append(out, bytes.Clone(sc.Bytes()))
	}
	return out
}

// object decodes JSON into a map of raw fields.
func object(t *testing.T, b []byte) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("bad JSON %q: %v", b, err)
	}
	return m
}

// apiErr decodes an OpenAI error body.
func apiErr(t *testing.T, b []byte) (e struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}) {
	t.Helper()
	var body struct {
		Error *json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(b, &body); err != nil || body.Error == nil {
		t.Fatalf("not an OpenAI error body: %q", b)
	}
	if err := json.Unmarshal(*body.Error, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

const chatBody = `{"model":"gpt-4o-mini","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"What is up?"}]}`

func TestChatCompletion(t *testing.T) {
	_, srv := start(t, OpenAIOptions{})
	r := do(t, "POST", srv.URL+"/v1/chat/completions", chatBody)
	if r.status != 200 || r.err != nil {
		t.Fatalf("status %d, err %v: %s", r.status, r.err, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	if id := r.header.Get("X-Request-Id"); !strings.HasPrefix(id, "req_") || len(id) != 36 {
		t.Errorf("x-request-id = %q", id)
	}
	if r.header.Get("Openai-Processing-Ms") == "" {
		t.Error("no openai-processing-ms")
	}
	var c struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Model   string `json:"model"`
		Choices []struct {
			Message struct {
				Role    string  `json:"role"`
				Content *string `json:"content"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage chatUsage `json:"usage"`
	}
	if err := json.Unmarshal(r.body, &c); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c.ID, "chatcmpl-") || c.Object != "chat.completion" || c.Model != "gpt-4o-mini" {
		t.Errorf("id %q, object %q, model %q", c.ID, c.Object, c.Model)
	}
	if len(c.Choices) != 1 || c.Choices[0].Message.Content == nil || *c.Choices[0].Message.Content != "Hello! You said: What is up?" ||
		c.Choices[0].Message.Role != "assistant" || c.Choices[0].FinishReason != "stop" {
		t.Errorf("choices = %+v", c.Choices)
	}
	// 3 + (4+2) + (4+3) prompt tokens; 6 words in the reply.
	if u := c.Usage; u.PromptTokens != 16 || u.CompletionTokens != 6 || u.TotalTokens != 22 || u.CompletionTokensDetails.ReasoningTokens != 0 {
		t.Errorf("usage = %+v", u)
	}
	if !bytes.HasPrefix(r.body, []byte("{\n  \"id\"")) {
		t.Errorf("body is not indented as the real API's: %.40q", r.body)
	}
}

func TestChatCompletionReasoningAndCache(t *testing.T) {
	_, srv := start(t, OpenAIOptions{})
	for _, model := range []string{"o1", "o3", "o4-mini", "gpt-5-mini"} {
		body := strings.Replace(chatBody, "gpt-4o-mini", model, 1)
		r := do(t, "POST", srv.URL+"/v1/chat/completions", body, HeaderCachedTokens, "10")
		var c struct{ Usage chatUsage }
		if err := json.Unmarshal(r.body, &c); err != nil {
			t.Fatal(err)
		}
		if c.Usage.CompletionTokensDetails.ReasoningTokens == 0 || c.Usage.CompletionTokens != 6+reasoningTokens {
			t.Errorf("%s: usage = %+v, want reasoning tokens", model, c.Usage)
		}
		if c.Usage.PromptTokensDetails.CachedTokens != 10 {
			t.Errorf("%s: cached tokens = %d, want 10", model, c.Usage.PromptTokensDetails.CachedTokens)
		}
	}
}

func TestChatCompletionBadRequests(t *testing.T) {
	_, srv := start(t, OpenAIOptions{})
	tests := []struct {
		name, body, code string
	}{
		{"not JSON", `{"model":`, ""},
		{"no model", `{"messages":[{"role":"user","content":"x"}]}`, ""},
		{"no messages", `{"model":"gpt-4o"}`, "missing_required_parameter"},
		{"empty messages", `{"model":"gpt-4o","messages":[]}`, "empty_array"},
	}
	for _, tt := range tests {
		r := do(t, "POST", srv.URL+"/v1/chat/completions", tt.body)
		if r.status != 400 {
			t.Errorf("%s: status %d", tt.name, r.status)
			continue
		}
		e := apiErr(t, r.body)
		if e.Type != "invalid_request_error" || (tt.code == "" && e.Code != nil) || (tt.code != "" && (e.Code == nil || *e.Code != tt.code)) {
			t.Errorf("%s: error = %+v", tt.name, e)
		}
	}
}

// chatChunk is what the tests read of a chat.completion.chunk.
type chatChunk struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			Role      *string          `json:"role"`
			Content   *string          `json:"content"`
			ToolCalls []map[string]any `json:"tool_calls"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *chatUsage `json:"usage"`
}

func TestChatStreamUsageRules(t *testing.T) {
	_, srv := start(t, OpenAIOptions{})
	for _, withUsage := range []bool{false, true} {
		for _, n := range []int{1, 5, 40} {
			body := `{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"Hi"}]}`
			if withUsage {
				body = `{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Hi"}]}`
			}
			r := do(t, "POST", srv.URL+"/v1/chat/completions", body, HeaderChunks, itoa(n))
			if r.status != 200 || r.err != nil {
				t.Fatalf("status %d, err %v", r.status, r.err)
			}
			if ct := r.header.Get("Content-Type"); ct != "text/event-stream; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
			evs := events(t, r.body)
			if !sse.IsDone(evs[len(evs)-1]) {
				t.Fatalf("last event %q, want [DONE]", evs[len(evs)-1])
			}
			evs = evs[:len(evs)-1]
			// role, n contents, finish, and the usage chunk.
			want := n + 2
			if withUsage {
				want++
			}
			if len(evs) != want {
				t.Fatalf("usage %v, n %d: %d chunks, want %d", withUsage, n, len(evs), want)
			}
			var text strings.Builder
			var id string
			for i, ev := range evs {
				data := sse.Data(ev)
				fields := object(t, data)
				u, has := fields["usage"]
				last := i == len(evs)-1
				switch {
				case !withUsage && has:
					t.Errorf("chunk %d has a usage key without include_usage: %s", i, data)
				case withUsage && !has:
					t.Errorf("chunk %d has no usage key with include_usage: %s", i, data)
				case withUsage && !last && string(u) != "null":
					t.Errorf("chunk %d: usage = %s, want null", i, u)
				}
				var c chatChunk
				if err := json.Unmarshal(data, &c); err != nil {
					t.Fatal(err)
				}
				if id == "" {
					id = c.ID
				}
				if c.ID != id || c.Object != "chat.completion.chunk" {
					t.Errorf("chunk %d: id %q object %q", i, c.ID, c.Object)
				}
				if withUsage && last {
					if len(c.Choices) != 0 || string(fields["choices"]) != "[]" || c.Usage == nil || c.Usage.TotalTokens == 0 {
						t.Errorf("usage chunk = %s", data)
					}
					continue
				}
				if len(c.Choices) != 1 {
					t.Fatalf("chunk %d: %d choices", i, len(c.Choices))
				}
				d := c.Choices[0].Delta
				switch {
				case i == 0:
					if d.Role == nil || *d.Role != "assistant" || d.Content == nil || *d.Content != "" {
						t.Errorf("first chunk = %s", data)
					}
				case i <= n:
					if d.Content == nil || *d.Content == "" {
						t.Errorf("content chunk %d = %s", i, data)
					} else {
						text.WriteString(*d.Content)
					}
				default:
					if fr := c.Choices[0].FinishReason; fr == nil || *fr != "stop" {
						t.Errorf("finish chunk = %s", data)
					}
				}
			}
			if got := strings.TrimRight(text.String(), "."); got != "Hello! You said: Hi" {
				t.Errorf("streamed text = %q", text.String())
			}
		}
	}
}

func TestChatStreamToolCalls(t *testing.T) {
	_, srv := start(t, OpenAIOptions{})
	body := `{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true,"include_obfuscation":false},
		"tools":[{"type":"function","function":{"name":"get_weather","parameters":{}}},{"type":"function","function":{"name":"get_time"}}],
		"messages":[{"role":"user","content":"Please use tools."}]}`
	for _, k := range []int{0, 1, 3} {
		var headers []string
		if k != 0 {
			headers = []string{HeaderToolCalls, itoa(k)}
		}
		r := do(t, "POST", srv.URL+"/v1/chat/completions", body, headers...)
		wantCalls := k
		if k == 0 {
			wantCalls = 2 // "use tools" with two tools
		}
		type call struct{ id, name, args string }
		calls := map[int]*call{}
		var finish string
		for i, ev := range events(t, r.body) {
			data := sse.Data(ev)
			if sse.IsDone(ev) {
				continue
			}
			if bytes.Contains(data, []byte("obfuscation")) {
				t.Errorf("obfuscation despite include_obfuscation false: %s", data)
			}
			var c chatChunk
			if err := json.Unmarshal(data, &c); err != nil {
				t.Fatal(err)
			}
			if len(c.Choices) == 0 {
				continue
			}
			d := c.Choices[0].Delta
			if i == 0 && (d.Role == nil || !strings.Contains(string(data), `"content":null`)) {
				t.Errorf("first chunk = %s", data)
			}
			if d.Content != nil {
				t.Errorf("content in a tool call stream: %s", data)
			}
			if c.Choices[0].FinishReason != nil {
				finish = *c.Choices[0].FinishReason
			}
			for _, tc := range d.ToolCalls {
				idx := int(tc["index"].(float64))
				fn := tc["function"].(map[string]any)
				if id, ok := tc["id"]; ok {
					if calls[idx] != nil {
						t.Errorf("call %d opened twice", idx)
					}
					if tc["type"] != "function" || fn["arguments"] != "" {
						t.Errorf("opening delta = %v", tc)
					}
					calls[idx] = &call{id: id.(string), name: fn["name"].(string)}
					continue
				}
				if calls[idx] == nil {
					t.Fatalf("fragment before opening of call %d", idx)
				}
				if len(tc) != 2 || len(fn) != 1 {
					t.Errorf("fragment delta has more than index and arguments: %v", tc)
				}
				calls[idx].args += fn["arguments"].(string)
			}
		}
		if finish != "tool_calls" || len(calls) != wantCalls {
			t.Fatalf("k %d: finish %q, %d calls", k, finish, len(calls))
		}
		for i := range wantCalls {
			c := calls[i]
			wantName := []string{"get_weather", "get_time"}[i%2]
			var args map[string]string
			if err := json.Unmarshal([]byte(c.args), &args); err != nil || args["location"] == "" || c.name != wantName || !strings.HasPrefix(c.id, "call_") {
				t.Errorf("call %d = %+v (%v)", i, c, err)
			}
		}
	}
}

func TestChatToolCallsNonStream(t *testing.T) {
	_, srv := start(t, OpenAIOptions{})
	r := do(t, "POST", srv.URL+"/v1/chat/completions", chatBody, HeaderToolCalls, "2")
	var c struct {
		Choices []struct {
			Message struct {
				Content   *string    `json:"content"`
				ToolCalls []toolCall `json:"tool_calls"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(r.body, &c); err != nil {
		t.Fatal(err)
	}
	m := c.Choices[0].Message
	if m.Content != nil || len(m.ToolCalls) != 2 || c.Choices[0].FinishReason != "tool_calls" ||
		m.ToolCalls[1].Function.Arguments != `{"location":"London"}` || m.ToolCalls[0].Function.Name != "get_weather" {
		t.Errorf("reply = %s", r.body)
	}
}

func TestLegacyCompletions(t *testing.T) {
	_, srv := start(t, OpenAIOptions{})
	r := do(t, "POST", srv.URL+"/v1/completions", `{"model":"gpt-3.5-turbo-instruct","prompt":"Say this"}`)
	var c struct {
		Object  string `json:"object"`
		Choices []struct {
			Text string `json:"text"`
		} `json:"choices"`
		Usage struct {
			TotalTokens int `json:"total_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal(r.body, &c); err != nil {
		t.Fatal(err)
	}
	if c.Object != "text_completion" || c.Choices[0].Text != "Hello! You said: Say this" || c.Usage.TotalTokens == 0 {
		t.Errorf("reply = %s", r.body)
	}

	r = do(t, "POST", srv.URL+"/v1/completions", `{"model":"gpt-3.5-turbo-instruct","prompt":["Say this"],"stream":true,"stream_options":{"include_usage":true}}`, HeaderChunks, "3")
	evs := events(t, r.body)
	if len(evs) != 6 || !sse.IsDone(evs[5]) {
		t.Fatalf("events = %q", evs)
	}
	var text string
	for _, ev := range evs[:3] {
		var c struct{ Choices []struct{ Text string } }
		_ = json.Unmarshal(sse.Data(ev), &c)
		text += c.Choices[0].Text
	}
	if text != "Hello! You said: Say this" || !bytes.Contains(evs[4], []byte(`"choices":[],"model"`)) {
		t.Errorf("text %q, usage event %q", text, evs[4])
	}
}

// responseEvent is what the tests read of a Responses API stream event.
type responseEvent struct {
	Type           string `json:"type"`
	SequenceNumber int    `json:"sequence_number"`
	Delta          string `json:"delta"`
	Response       *struct {
		Status string         `json:"status"`
		Usage  *responseUsage `json:"usage"`
		Output []outputItem   `json:"output"`
	} `json:"response"`
}

func TestResponsesStream(t *testing.T) {
	_, srv := start(t, OpenAIOptions{})
	tests := []struct {
		name, body string
		headers    []string
		want       []string
	}{
		{
			"text", `{"model":"gpt-4.1","stream":true,"input":"Hi there"}`, []string{HeaderChunks, "3"},
			[]string{"response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
				"response.output_text.delta", "response.output_text.delta", "response.output_text.delta",
				"response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed"},
		},
		{
			"reasoning", `{"model":"o3","stream":true,"input":[{"role":"user","content":[{"type":"input_text","text":"Hi there"}]}]}`, []string{HeaderChunks, "1"},
			[]string{"response.created", "response.in_progress", "response.output_item.added", "response.output_item.done",
				"response.output_item.added", "response.content_part.added", "response.output_text.delta",
				"response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed"},
		},
		{
			"tool call", `{"model":"gpt-4.1","stream":true,"input":"Hi there","tools":[{"type":"function","name":"lookup"}]}`, []string{HeaderChunks, "2", HeaderToolCalls, "1"},
			[]string{"response.created", "response.in_progress", "response.output_item.added",
				"response.function_call_arguments.delta", "response.function_call_arguments.delta",
				"response.function_call_arguments.done", "response.output_item.done", "response.completed"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, "POST", srv.URL+"/v1/responses", tt.body, tt.headers...)
			if r.status != 200 || r.err != nil {
				t.Fatalf("status %d, err %v: %s", r.status, r.err, r.body)
			}
			var got []string
			var text string
			var last responseEvent
			for i, raw := range events(t, r.body) {
				ev := sse.Parse(raw)
				var e responseEvent
				if err := json.Unmarshal([]byte(ev.Data), &e); err != nil {
					t.Fatal(err)
				}
				if e.Type != ev.Event || e.SequenceNumber != i {
					t.Errorf("event %d: event line %q, type %q, sequence_number %d", i, ev.Event, e.Type, e.SequenceNumber)
				}
				if e.Type == "response.output_text.delta" {
					text += e.Delta
				}
				got = append(got, e.Type)
				last = e
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("events:\n got %v\nwant %v", got, tt.want)
			}
			if last.Response == nil || last.Response.Status != "completed" || last.Response.Usage == nil || last.Response.Usage.TotalTokens == 0 {
				t.Fatalf("completed event = %+v", last)
			}
			if tt.name != "tool call" && text != "Hello! You said: Hi there" {
				t.Errorf("text = %q", text)
			}
			if tt.name == "reasoning" && last.Response.Usage.OutputTokensDetails.ReasoningTokens == 0 {
				t.Errorf("no reasoning tokens: %+v", last.Response.Usage)
			}
		})
	}
}

func TestResponsesNonStream(t *testing.T) {
	_, srv := start(t, OpenAIOptions{})
	r := do(t, "POST", srv.URL+"/v1/responses", `{"model":"gpt-4.1","instructions":"Be kind.","input":[{"type":"message","role":"user","content":"Hi"}],"metadata":{"k":"v"}}`)
	var resp struct {
		ID           string            `json:"id"`
		Object       string            `json:"object"`
		Status       string            `json:"status"`
		Instructions string            `json:"instructions"`
		Metadata     map[string]string `json:"metadata"`
		Output       []outputItem      `json:"output"`
		Usage        responseUsage     `json:"usage"`
	}
	if err := json.Unmarshal(r.body, &resp); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(resp.ID, "resp_") || resp.Object != "response" || resp.Status != "completed" ||
		resp.Instructions != "Be kind." || resp.Metadata["k"] != "v" {
		t.Errorf("response = %s", r.body)
	}
	if len(resp.Output) != 1 || resp.Output[0].Type != "message" || resp.Output[0].Role != "assistant" ||
		(*resp.Output[0].Content)[0].Text != "Hello! You said: Hi" {
		t.Errorf("output = %+v", resp.Output)
	}
	// Input 3 + (4+1) + (4+2); output 4 words.
	if u := resp.Usage; u.InputTokens != 14 || u.OutputTokens != 4 || u.TotalTokens != 18 {
		t.Errorf("usage = %+v", u)
	}
	if r := do(t, "POST", srv.URL+"/v1/responses", `{"model":"gpt-4.1"}`); r.status != 400 {
		t.Errorf("no input: status %d", r.status)
	}
}

func TestEmbeddings(t *testing.T) {
	_, srv := start(t, OpenAIOptions{})
	type emb struct {
		Object string `json:"object"`
		Data   []struct {
			Object    string          `json:"object"`
			Index     int             `json:"index"`
			Embedding json.RawMessage `json:"embedding"`
		} `json:"data"`
		Model string `json:"model"`
		Usage struct {
			PromptTokens int `json:"prompt_tokens"`
			TotalTokens  int `json:"total_tokens"`
		} `json:"usage"`
	}
	read := func(body string) emb {
		r := do(t, "POST", srv.URL+"/v1/embeddings", body)
		if r.status != 200 {
			t.Fatalf("%s: status %d: %s", body, r.status, r.body)
		}
		var e emb
		if err := json.Unmarshal(r.body, &e); err != nil {
			t.Fatal(err)
		}
		return e
	}
	floats := func(raw json.RawMessage) []float32 {
		var v []float32
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	one := read(`{"model":"text-embedding-3-small","input":"hello world"}`)
	if one.Object != "list" || len(one.Data) != 1 || one.Data[0].Object != "embedding" || one.Model != "text-embedding-3-small" ||
		one.Usage.PromptTokens != 2 || one.Usage.TotalTokens != 2 {
		t.Errorf("embeddings = %+v", one)
	}
	v := floats(one.Data[0].Embedding)
	var norm float64
	for _, f := range v {
		norm += float64(f) * float64(f)
	}
	if len(v) != 8 || math.Abs(norm-1) > 1e-5 {
		t.Errorf("vector %v, norm %v", v, norm)
	}

	many := read(`{"model":"m","input":["hello world","bye",[1,2,3]]}`)
	if len(many.Data) != 3 || many.Data[2].Index != 2 || many.Usage.PromptTokens != 6 {
		t.Errorf("embeddings = %+v", many)
	}
	if string(many.Data[0].Embedding) != string(one.Data[0].Embedding) {
		t.Error("same input, different vectors")
	}
	if tokens := read(`{"model":"m","input":[1,2,3,4]}`); len(tokens.Data) != 1 || tokens.Usage.PromptTokens != 4 {
		t.Errorf("token input: %+v", tokens)
	}

	b64 := read(`{"model":"text-embedding-3-small","input":"hello world","encoding_format":"base64","dimensions":4}`)
	var s string
	if err := json.Unmarshal(b64.Data[0].Embedding, &s); err != nil {
		t.Fatalf("base64 embedding is not a string: %s", b64.Data[0].Embedding)
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(raw) != 16 {
		t.Fatalf("base64 embedding %q: %v", s, err)
	}
	if f := math.Float32frombits(binary.LittleEndian.Uint32(raw)); f == 0 || f < -1 || f > 1 {
		t.Errorf("first component %v", f)
	}

	for _, body := range []string{`{"model":"m"}`, `{"model":"m","input":""}`, `{"model":"m","input":[]}`, `{"model":"m","input":"x","encoding_format":"int8"}`} {
		if r := do(t, "POST", srv.URL+"/v1/embeddings", body); r.status != 400 {
			t.Errorf("%s: status %d", body, r.status)
		}
	}
}

func TestModels(t *testing.T) {
	_, srv := start(t, OpenAIOptions{})
	r := do(t, "GET", srv.URL+"/v1/models", "")
	var list struct {
		Object string  `json:"object"`
		Data   []model `json:"data"`
	}
	if err := json.Unmarshal(r.body, &list); err != nil || list.Object != "list" || len(list.Data) == 0 || list.Data[0].Object != "model" {
		t.Errorf("models = %s (%v)", r.body, err)
	}
	r = do(t, "GET", srv.URL+"/v1/models/gpt-4o", "")
	var m model
	if err := json.Unmarshal(r.body, &m); err != nil || m.ID != "gpt-4o" || m.OwnedBy != "system" {
		t.Errorf("model = %s (%v)", r.body, err)
	}
	r = do(t, "GET", srv.URL+"/v1/models/nope", "")
	if e := apiErr(t, r.body); r.status != 404 || e.Code == nil || *e.Code != "model_not_found" {
		t.Errorf("unknown model: %d %s", r.status, r.body)
	}
}

func TestNotFound(t *testing.T) {
	_, srv := start(t, OpenAIOptions{Prefix: "/openai/v1/"})
	for _, req := range [][2]string{{"POST", "/v1/chat/completions"}, {"GET", "/openai/v1/chat/completions"}, {"POST", "/openai/v1/nope"}, {"DELETE", "/openai/v1/models/gpt-4o"}} {
		r := do(t, req[0], srv.URL+req[1], chatBody)
		if r.status != 404 {
			t.Errorf("%s %s: status %d", req[0], req[1], r.status)
			continue
		}
		e := apiErr(t, r.body)
		if e.Message != "Invalid URL ("+req[0]+" "+req[1]+")" || e.Type != "invalid_request_error" || e.Param != nil || e.Code != nil {
			t.Errorf("%s %s: error %+v", req[0], req[1], e)
		}
	}
	if r := do(t, "POST", srv.URL+"/openai/v1/chat/completions", chatBody); r.status != 200 {
		t.Errorf("with prefix: status %d", r.status)
	}
	_, root := start(t, OpenAIOptions{Prefix: "/"})
	if r := do(t, "POST", root.URL+"/chat/completions", chatBody); r.status != 200 {
		t.Errorf("at the root: status %d", r.status)
	}
}

func TestAPIKey(t *testing.T) {
	const key = "sk-test-0123456789abcdef"
	_, srv := start(t, OpenAIOptions{APIKey: key})
	url := srv.URL + "/v1/chat/completions"

	r := do(t, "POST", url, chatBody)
	if e := apiErr(t, r.body); r.status != 401 || e.Code != nil || !strings.Contains(e.Message, "didn't provide an API key") {
		t.Errorf("no key: %d %s", r.status, r.body)
	}
	r = do(t, "POST", url, chatBody, "Authorization", "Bearer sk-wrong-key-123456789")
	if e := apiErr(t, r.body); r.status != 401 || e.Code == nil || *e.Code != "invalid_api_key" || !strings.Contains(e.Message, "sk-*") {
		t.Errorf("wrong key: %d %s", r.status, r.body)
	}
	if bytes.Contains(r.body, []byte("sk-wrong-key-123456789")) {
		t.Error("the error body repeats the whole key")
	}
	if r = do(t, "POST", url, chatBody, "Authorization", "Bearer "+key); r.status != 200 {
		t.Errorf("right key: %d %s", r.status, r.body)
	}
}

func TestStatusFaults(t *testing.T) {
	_, srv := start(t, OpenAIOptions{})
	url := srv.URL + "/v1/chat/completions"
	tests := []struct {
		status   int
		typ      string
		hasCode  bool
		withBody string
	}{
		{400, "invalid_request_error", false, chatBody},
		{401, "invalid_request_error", true, chatBody},
		{404, "invalid_request_error", true, chatBody},
		{429, "requests", true, chatBody},
		{500, "server_error", false, chatBody},
		{503, "server_error", false, `{"stream":true}`},
		{529, "server_error", false, chatBody},
	}
	for _, tt := range tests {
		r := do(t, "POST", url, tt.withBody, HeaderStatus, itoa(tt.status), HeaderRetryAfter, "2.5")
		if r.status != tt.status || r.header.Get("Content-Type") != "application/json" || r.header.Get("X-Request-Id") == "" {
			t.Errorf("%d: got %d %v", tt.status, r.status, r.header)
			continue
		}
		e := apiErr(t, r.body)
		if e.Type != tt.typ || (e.Code != nil) != tt.hasCode || e.Message == "" {
			t.Errorf("%d: error %+v", tt.status, e)
		}
		ra, ram := r.header.Get("Retry-After"), r.header.Get("Retry-After-Ms")
		if tt.status == 429 && (ra != "3" || ram != "2500") {
			t.Errorf("429: Retry-After %q, retry-after-ms %q", ra, ram)
		}
		if tt.status != 429 && (ra != "" || ram != "") {
			t.Errorf("%d: Retry-After %q", tt.status, ra)
		}
	}
	r := do(t, "POST", url, chatBody, HeaderStatus, "429")
	if r.header.Get("Retry-After") != "1" || r.header.Get("Retry-After-Ms") != "1000" {
		t.Errorf("default Retry-After %q", r.header.Get("Retry-After"))
	}
	r = do(t, "POST", url, chatBody, HeaderStatus, "200")
	if r.status != 200 {
		t.Errorf("x-fake-status 200: %d", r.status)
	}
}

func TestTextError(t *testing.T) {
	_, srv := start(t, OpenAIOptions{})
	r := do(t, "POST", srv.URL+"/v1/chat/completions", chatBody, HeaderTextError, "502")
	if r.status != 502 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") || !bytes.Contains(r.body, []byte("502 Bad Gateway")) {
		t.Errorf("got %d %q %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	if json.Valid(r.body) {
		t.Error("body is JSON")
	}
}

func TestBadFaultHeaders(t *testing.T) {
	_, srv := start(t, OpenAIOptions{})
	for _, h := range [][2]string{{HeaderStatus, "abc"}, {HeaderStatus, "201"}, {HeaderChunks, "0"}, {HeaderDelay, "soon"}, {HeaderRetryAfter, "-1"}, {HeaderTextError, "200"}} {
		r := do(t, "POST", srv.URL+"/v1/chat/completions", chatBody, h[0], h[1])
		if e := apiErr(t, r.body); r.status != 400 || !strings.Contains(e.Message, "fakeupstream") {
			t.Errorf("%s: %s: %d %s", h[0], h[1], r.status, r.body)
		}
	}
}

func TestFailFirst(t *testing.T) {
	o, srv := start(t, OpenAIOptions{})
	url := srv.URL + "/v1/chat/completions"
	statuses := func(headers ...string) []int {
		var out []int
		for range 4 {
			out = append(out, do(t, "POST", url, chatBody, headers...).status)
		}
		return out
	}
	if got := statuses(HeaderFailFirst, "2", HeaderKey, "a"); itoas(got) != "500 500 200 200" {
		t.Errorf("fail first 2: %v", got)
	}
	if got := statuses(HeaderFailFirst, "1", HeaderKey, "b", HeaderStatus, "503"); itoas(got) != "503 200 200 200" {
		t.Errorf("fail first 1 with 503: %v", got)
	}
	if got := statuses(HeaderFailFirst, "3", HeaderKey, "c", HeaderTextError, "502"); itoas(got) != "502 502 502 200" {
		t.Errorf("fail first 3 with text error: %v", got)
	}
	// Key "a" is past its failures; Reset starts it again.
	if got := statuses(HeaderFailFirst, "2", HeaderKey, "a"); itoas(got) != "200 200 200 200" {
		t.Errorf("key a again: %v", got)
	}
	o.Reset()
	if got := statuses(HeaderFailFirst, "2", HeaderKey, "a"); itoas(got) != "500 500 200 200" {
		t.Errorf("key a after Reset: %v", got)
	}
	// A stream cut on the first attempt only.
	body := `{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"Hi"}]}`
	first := do(t, "POST", url, body, HeaderFailFirst, "1", HeaderKey, "d", HeaderCutAfter, "2")
	second := do(t, "POST", url, body, HeaderFailFirst, "1", HeaderKey, "d", HeaderCutAfter, "2")
	if !errors.Is(first.err, io.ErrUnexpectedEOF) || second.err != nil || !sse.IsDone(events(t, second.body)[len(events(t, second.body))-1]) {
		t.Errorf("cut then whole: %v, %v", first.err, second.err)
	}
}

func TestDelay(t *testing.T) {
	_, srv := start(t, OpenAIOptions{})
	url := srv.URL + "/v1/chat/completions"
	st := time.Now()
	if r := do(t, "POST", url, chatBody, HeaderDelay, "60ms"); r.status != 200 {
		t.Fatalf("status %d", r.status)
	}
	if d := time.Since(st); d < 60*time.Millisecond {
		t.Errorf("answered after %v, want at least 60ms", d)
	}
	st = time.Now()
	if r := do(t, "POST", url, chatBody, HeaderDelay, "30"); r.status != 200 || time.Since(st) < 30*time.Millisecond {
		t.Errorf("plain milliseconds: status %d after %v", r.status, time.Since(st))
	}

	// A client that gives up ends the wait.
	done := make(chan struct{})
	o := NewOpenAI(OpenAIOptions{})
	srv2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		o.ServeHTTP(w, r)
	}))
	defer srv2.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	r := doCtx(t, ctx, "POST", srv2.URL+"/v1/chat/completions", chatBody, HeaderDelay, "10s")
	if !errors.Is(r.err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want deadline exceeded", r.err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second): // generous: the machine is shared; the fault is waiting the full 10s
		t.Error("the handler kept waiting after the client went away")
	}
}

func TestChunkDelay(t *testing.T) {
	_, srv := start(t, OpenAIOptions{})
	body := `{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"Hi"}]}`
	st := time.Now()
	r := do(t, "POST", srv.URL+"/v1/chat/completions", body, HeaderChunks, "3", HeaderChunkDelay, "10ms")
	// 6 events (role, 3 contents, finish, [DONE]): 5 waits.
	if n := len(events(t, r.body)); n != 6 {
		t.Fatalf("%d events", n)
	}
	if d := time.Since(st); d < 50*time.Millisecond {
		t.Errorf("stream took %v, want at least 50ms", d)
	}
}

func TestCutAfter(t *testing.T) {
	_, srv := start(t, OpenAIOptions{})
	streams := map[string]string{
		"/v1/chat/completions": `{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"Hi"}]}`,
		"/v1/responses":        `{"model":"gpt-4o","stream":true,"input":"Hi"}`,
		"/v1/completions":      `{"model":"gpt-3.5-turbo-instruct","stream":true,"prompt":"Hi"}`,
	}
	for path, body := range streams {
		for _, n := range []int{0, 1, 3} {
			r := do(t, "POST", srv.URL+path, body, HeaderCutAfter, itoa(n))
			if r.status != 200 || !errors.Is(r.err, io.ErrUnexpectedEOF) {
				t.Errorf("%s cut after %d: status %d, err %v", path, n, r.status, r.err)
			}
			if got := len(events(t, r.body)); got != n {
				t.Errorf("%s cut after %d: got %d events", path, n, got)
			}
		}
		// A stream shorter than the cut is whole.
		if r := do(t, "POST", srv.URL+path, body, HeaderCutAfter, "1000"); r.err != nil {
			t.Errorf("%s: long cut: %v", path, r.err)
		}
	}
	r := do(t, "POST", srv.URL+"/v1/chat/completions", chatBody, HeaderCutAfter, "10")
	if !errors.Is(r.err, io.ErrUnexpectedEOF) || string(r.body) != "{\n  \"id\": " {
		t.Errorf("non-stream cut: err %v, body %q", r.err, r.body)
	}
}

func TestRecording(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	o, srv := start(t, OpenAIOptions{OnRequest: func(r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, r.URL.Path+" "+string(b))
		mu.Unlock()
	}})
	do(t, "POST", srv.URL+"/v1/chat/completions?api-version=1", chatBody, "X-Custom", "yes")
	do(t, "GET", srv.URL+"/v1/models", "", HeaderStatus, "500")
	if o.Hits() != 2 {
		t.Errorf("Hits = %d", o.Hits())
	}
	reqs := o.Requests()
	if len(reqs) != 2 || reqs[0].Method != "POST" || reqs[0].Path != "/v1/chat/completions" || reqs[0].RawQuery != "api-version=1" ||
		string(reqs[0].Body) != chatBody || reqs[0].Header.Get("X-Custom") != "yes" || reqs[1].Method != "GET" {
		t.Errorf("Requests = %+v", reqs)
	}
	mu.Lock()
	if len(seen) != 2 || seen[0] != "/v1/chat/completions "+chatBody {
		t.Errorf("OnRequest saw %q", seen)
	}
	mu.Unlock()
	o.Reset()
	if o.Hits() != 0 || o.Requests() != nil {
		t.Errorf("after Reset: %d hits, %d requests", o.Hits(), len(o.Requests()))
	}

	d, srv2 := start(t, OpenAIOptions{DiscardRequests: true})
	do(t, "POST", srv2.URL+"/v1/chat/completions", chatBody)
	if d.Hits() != 1 || d.Requests() != nil {
		t.Errorf("DiscardRequests: %d hits, %d requests", d.Hits(), len(d.Requests()))
	}
}

func TestConcurrent(t *testing.T) {
	o, srv := start(t, OpenAIOptions{})
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			body := chatBody
			if i%2 == 0 {
				body = `{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"Hi"}]}`
			}
			r := do(t, "POST", srv.URL+"/v1/chat/completions", body, HeaderFailFirst, "4", HeaderKey, "shared")
			if r.status != 200 && r.status != 500 {
				t.Errorf("status %d", r.status)
			}
		})
	}
	wg.Wait()
	if o.Hits() != 16 || len(o.Requests()) != 16 {
		t.Errorf("%d hits, %d requests", o.Hits(), len(o.Requests()))
	}
	failed := 0
	o.mu.Lock()
	failed = o.fails["shared"]
	o.mu.Unlock()
	if failed != 16 {
		t.Errorf("fail counter %d", failed)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// itoas joins numbers with spaces.
func itoas(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, " ")
}
