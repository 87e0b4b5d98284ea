package fakeanthropic

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy-go/aiproxy/sse"
)

const testKey = "sk-ant-fake-0123456789abcdef"

// start runs a fake behind an httptest.Server.
func start(t *testing.T, opts Options) (*Server, *httptest.Server) {
	t.Helper()
	s := New(opts)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv
}

// response is an answer read whole.
type response struct {
	status int
	header http.Header
	body   []byte
	err    error // from reading the body
}

// do sends a request with the key and anthropic-version, then the headers given as
// name, value pairs ("" as a value removes a header).
func do(t *testing.T, method, url, body string, headers ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Api-Key", testKey)
	req.Header.Set("Anthropic-Version", "2023-06-01")
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{err: err}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: b, err: err}
}

// event is one parsed event of a stream.
type event struct {
	name string
	data map[string]json.RawMessage
	raw  []byte
}

// events cuts a stream into its events and decodes each one's data.
func events(t *testing.T, body []byte) []event {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Split(sse.Split)
	var out []event
	for sc.Scan() {
		raw := bytes.Clone(sc.Bytes())
		ev := sse.Parse(raw)
		var data map[string]json.RawMessage
		if err := json.Unmarshal([]byte(ev.Data), &data); err != nil {
			t.Fatalf("event data is not JSON: %q", raw)
		}
		if typ := str(t, data["type"]); typ != ev.Event {
			t.Errorf("event %q has data of type %q", ev.Event, typ)
		}
		out = append(out, event{name: ev.Event, data: data, raw: raw})
	}
	return out
}

func names(evs []event) string {
	var n []string
	for _, e := range evs {
		n = append(n, e.name)
	}
	return strings.Join(n, " ")
}

func str(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("not a string: %s", raw)
	}
	return s
}

// apiError decodes the API's error shape and fails when the body is not in it.
func apiError(t *testing.T, b []byte) (typ, message, requestID string) {
	t.Helper()
	var e struct {
		Type  string `json:"type"`
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
		RequestID string `json:"request_id"`
	}
	if err := json.Unmarshal(b, &e); err != nil || e.Type != "error" || e.Error.Type == "" || e.Error.Message == "" {
		t.Fatalf("not an Anthropic error body: %s", b)
	}
	return e.Error.Type, e.Error.Message, e.RequestID
}

const (
	helloBody  = `{"model":"claude-sonnet-4-5","max_tokens":1024,"system":"Be brief.","messages":[{"role":"user","content":"What is up?"}]}`
	streamBody = `{"model":"claude-sonnet-4-5","max_tokens":1024,"stream":true,"messages":[{"role":"user","content":[{"type":"text","text":"Stream it"}]}]}`
)

func TestMessage(t *testing.T) {
	_, srv := start(t, Options{APIKey: testKey})
	r := do(t, "POST", srv.URL+"/v1/messages", helloBody, "X-Fake-Cache-Read-Tokens", "4", "X-Fake-Cache-Creation-Tokens", "2")
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if !strings.HasPrefix(r.header.Get("Request-Id"), "req_") || r.header.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v", r.header)
	}
	var m struct {
		ID, Type, Role, Model string
		Content               []struct{ Type, Text string }
		StopReason            string  `json:"stop_reason"`
		StopSequence          *string `json:"stop_sequence"`
		Usage                 struct {
			Input         int `json:"input_tokens"`
			CacheCreation int `json:"cache_creation_input_tokens"`
			CacheRead     int `json:"cache_read_input_tokens"`
			Output        int `json:"output_tokens"`
		}
	}
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m.ID, "msg_01") || m.Type != "message" || m.Role != "assistant" || m.Model != "claude-sonnet-4-5" || m.StopReason != "end_turn" || m.StopSequence != nil {
		t.Errorf("message %s", r.body)
	}
	if len(m.Content) != 1 || m.Content[0].Type != "text" || m.Content[0].Text != "Hello! You said: What is up?" {
		t.Errorf("content %s", r.body)
	}
	// prompt: 3 + 2 (system) + 4 + 3 = 12 words, of which 4 read from and 2 written to the cache.
	if m.Usage.Input != 6 || m.Usage.CacheRead != 4 || m.Usage.CacheCreation != 2 || m.Usage.Output != 6 {
		t.Errorf("usage %+v", m.Usage)
	}
}

func TestStream(t *testing.T) {
	_, srv := start(t, Options{})
	r := do(t, "POST", srv.URL+"/v1/messages", streamBody, "X-Fake-Chunks", "4")
	if r.status != 200 || r.err != nil || r.header.Get("Content-Type") != "text/event-stream; charset=utf-8" {
		t.Fatalf("status %d %v %v", r.status, r.err, r.header)
	}
	evs := events(t, r.body)
	want := "message_start content_block_start ping content_block_delta content_block_delta content_block_delta content_block_delta content_block_stop message_delta message_stop"
	if got := names(evs); got != want {
		t.Fatalf("events %s\nwant %s", got, want)
	}
	if !strings.HasPrefix(string(evs[0].raw), "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01") {
		t.Errorf("message_start %q", evs[0].raw)
	}
	var text strings.Builder
	for _, e := range evs[3:7] {
		var d struct{ Type, Text string }
		_ = json.Unmarshal(e.data["delta"], &d)
		if d.Type != "text_delta" || d.Text == "" {
			t.Errorf("delta %s", e.raw)
		}
		text.WriteString(d.Text)
	}
	if text.String() != "Hello! You said: Stream it" {
		t.Errorf("text %q", text.String())
	}
	var md struct {
		Delta struct {
			StopReason string `json:"stop_reason"`
		}
		Usage struct {
			Input  *int `json:"input_tokens"`
			Output int  `json:"output_tokens"`
		}
	}
	_ = json.Unmarshal(evs[8].raw[bytes.Index(evs[8].raw, []byte("{")):], &md)
	if md.Delta.StopReason != "end_turn" || md.Usage.Output != 5 || md.Usage.Input == nil || *md.Usage.Input != 9 {
		t.Errorf("message_delta %s", evs[8].raw)
	}
}

func TestStreamToolUse(t *testing.T) {
	_, srv := start(t, Options{})
	body := `{"model":"claude-sonnet-4-5","max_tokens":1024,"stream":true,"tools":[{"name":"get_weather","input_schema":{"type":"object"}},{"name":"get_time","input_schema":{"type":"object"}}],"messages":[{"role":"user","content":"please use tools"}]}`
	r := do(t, "POST", srv.URL+"/v1/messages", body, "X-Fake-Chunks", "3")
	evs := events(t, r.body)
	// Two tool_use blocks, each with an empty fragment and 3 more.
	want := "message_start content_block_start ping content_block_delta content_block_delta content_block_delta content_block_delta content_block_stop " +
		"content_block_start content_block_delta content_block_delta content_block_delta content_block_delta content_block_stop message_delta message_stop"
	if got := names(evs); got != want {
		t.Fatalf("events %s", got)
	}
	var blocks []struct {
		Type, ID, Name string
		Input          json.RawMessage
	}
	inputs := map[int]string{}
	for _, e := range evs {
		switch e.name {
		case "content_block_start":
			var b struct {
				Type, ID, Name string
				Input          json.RawMessage
			}
			_ = json.Unmarshal(e.data["content_block"], &b)
			blocks = append(blocks, b)
		case "content_block_delta":
			var i int
			var d struct {
				Type        string
				PartialJSON string `json:"partial_json"`
			}
			_ = json.Unmarshal(e.data["index"], &i)
			_ = json.Unmarshal(e.data["delta"], &d)
			if d.Type != "input_json_delta" {
				t.Errorf("delta %s", e.raw)
			}
			inputs[i] += d.PartialJSON
		case "message_delta":
			if !bytes.Contains(e.raw, []byte(`"stop_reason":"tool_use"`)) {
				t.Errorf("message_delta %s", e.raw)
			}
		}
	}
	if len(blocks) != 2 || blocks[0].Name != "get_weather" || blocks[1].Name != "get_time" || !strings.HasPrefix(blocks[0].ID, "toolu_01") ||
		string(blocks[0].Input) != "{}" || blocks[0].Type != "tool_use" {
		t.Errorf("blocks %+v", blocks)
	}
	if inputs[0] != `{"location":"Paris"}` || inputs[1] != `{"location":"London"}` {
		t.Errorf("inputs %v", inputs)
	}
}

func TestStreamThinking(t *testing.T) {
	_, srv := start(t, Options{})
	body := `{"model":"claude-sonnet-4-5","max_tokens":4096,"stream":true,"thinking":{"type":"enabled","budget_tokens":2048},"messages":[{"role":"user","content":"Think"}]}`
	r := do(t, "POST", srv.URL+"/v1/messages", body, "X-Fake-Chunks", "2")
	evs := events(t, r.body)
	want := "message_start content_block_start ping content_block_delta content_block_delta content_block_delta content_block_stop " +
		"content_block_start content_block_delta content_block_delta content_block_stop message_delta message_stop"
	if got := names(evs); got != want {
		t.Fatalf("events %s", got)
	}
	if !bytes.Contains(evs[1].raw, []byte(`"content_block":{"type":"thinking","thinking":"","signature":""}`)) ||
		!bytes.Contains(evs[3].raw, []byte(`"type":"thinking_delta"`)) || !bytes.Contains(evs[5].raw, []byte(`"type":"signature_delta"`)) ||
		!bytes.Contains(evs[7].raw, []byte(`"index":1,"content_block":{"type":"text"`)) {
		t.Errorf("thinking block:\n%s", r.body)
	}
	if !bytes.Contains(evs[11].raw, []byte(`"output_tokens_details":{"thinking_tokens":`)) {
		t.Errorf("message_delta %s", evs[11].raw)
	}
}

func TestBadRequests(t *testing.T) {
	_, srv := start(t, Options{APIKey: testKey})
	tests := []struct {
		name, path, body string
		headers          []string
		status           int
		typ, message     string
	}{
		{"no key", "/v1/messages", helloBody, []string{"X-Api-Key", ""}, 401, "authentication_error", "x-api-key header is required"},
		{"wrong key", "/v1/messages", helloBody, []string{"X-Api-Key", "sk-ant-wrong"}, 401, "authentication_error", "invalid x-api-key"},
		{"no version", "/v1/messages", helloBody, []string{"Anthropic-Version", ""}, 400, "invalid_request_error", "anthropic-version: header is required"},
		{"invalid json", "/v1/messages", `{"model":`, nil, 400, "invalid_request_error", "invalid JSON in request body"},
		{"no max_tokens", "/v1/messages", `{"model":"m","messages":[{"role":"user","content":"x"}]}`, nil, 400, "invalid_request_error", "max_tokens: Field required"},
		{"no messages", "/v1/messages", `{"model":"m","max_tokens":5}`, nil, 400, "invalid_request_error", "messages: Field required"},
		{"small budget", "/v1/messages", `{"model":"m","max_tokens":5000,"thinking":{"type":"enabled","budget_tokens":10},"messages":[{"role":"user","content":"x"}]}`, nil, 400, "invalid_request_error", "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"},
		{"unknown route", "/v1/complete2", `{}`, nil, 404, "not_found_error", "Not Found"},
		{"bad fault header", "/v1/messages", helloBody, []string{HeaderChunks, "zero"}, 400, "invalid_request_error", `fakeanthropic: bad x-fake-chunks header "zero": want an integer of at least 1`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, "POST", srv.URL+tc.path, tc.body, tc.headers...)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			typ, msg, id := apiError(t, r.body)
			if typ != tc.typ || msg != tc.message || id != r.header.Get("Request-Id") || !strings.HasPrefix(id, "req_") {
				t.Errorf("error %s (request-id %q)", r.body, r.header.Get("Request-Id"))
			}
		})
	}
	// The key is also accepted as a bearer token, as current SDKs send it.
	if r := do(t, "POST", srv.URL+"/v1/messages", helloBody, "X-Api-Key", "", "Authorization", "Bearer "+testKey); r.status != 200 {
		t.Errorf("bearer key refused: %d %s", r.status, r.body)
	}
}

func TestStatusFaults(t *testing.T) {
	_, srv := start(t, Options{})
	for status, typ := range map[int]string{400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
		404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 500: "api_error", 529: "overloaded_error", 503: "api_error"} {
		r := do(t, "POST", srv.URL+"/v1/messages", streamBody, HeaderStatus, itoa(status), HeaderRetryAfter, "2.5")
		if r.status != status {
			t.Errorf("status %d, want %d", r.status, status)
			continue
		}
		if got, _, _ := apiError(t, r.body); got != typ {
			t.Errorf("%d: type %q, want %q", status, got, typ)
		}
		if ra := r.header.Get("Retry-After"); (status == 429) != (ra == "3") {
			t.Errorf("%d: retry-after %q", status, ra)
		}
	}
}

func TestCutAndStreamError(t *testing.T) {
	_, srv := start(t, Options{})
	r := do(t, "POST", srv.URL+"/v1/messages", streamBody, HeaderCutAfter, "3")
	if r.err == nil || !errors.Is(r.err, io.ErrUnexpectedEOF) {
		t.Errorf("cut stream read without error: %v", r.err)
	}
	if n := bytes.Count(r.body, []byte("\n\n")); n != 3 {
		t.Errorf("%d events before the cut:\n%s", n, r.body)
	}
	r = do(t, "POST", srv.URL+"/v1/messages", helloBody, HeaderCutAfter, "10")
	if r.err == nil || len(r.body) != 10 {
		t.Errorf("cut body: %d bytes, %v", len(r.body), r.err)
	}

	r = do(t, "POST", srv.URL+"/v1/messages", streamBody, HeaderStreamError, "4")
	if r.err != nil {
		t.Fatal(r.err)
	}
	evs := events(t, r.body)
	if got := names(evs); got != "message_start content_block_start ping content_block_delta error" {
		t.Fatalf("events %s", got)
	}
	if typ, msg, _ := apiError(t, []byte(sse.Parse(evs[4].raw).Data)); typ != "overloaded_error" || msg != "Overloaded" {
		t.Errorf("error event %s", evs[4].raw)
	}
}

func TestChunkDelay(t *testing.T) {
	_, srv := start(t, Options{})
	began := time.Now()
	r := do(t, "POST", srv.URL+"/v1/messages", streamBody, HeaderChunkDelay, "20ms", HeaderChunks, "2")
	// 8 events, 7 waits.
	if took := time.Since(began); r.status != 200 || took < 140*time.Millisecond {
		t.Errorf("stream took %v", took)
	}
}

func TestCountTokensAndModels(t *testing.T) {
	_, srv := start(t, Options{})
	r := do(t, "POST", srv.URL+"/v1/messages/count_tokens", `{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"one two three"}]}`)
	if r.status != 200 || string(r.body) != `{"input_tokens":10}` {
		t.Errorf("count_tokens %d %s", r.status, r.body)
	}
	r = do(t, "GET", srv.URL+"/v1/models", "")
	var list struct {
		Data []struct {
			Type, ID string
		}
		HasMore bool `json:"has_more"`
	}
	if err := json.Unmarshal(r.body, &list); err != nil || r.status != 200 || len(list.Data) == 0 || list.Data[0].Type != "model" {
		t.Errorf("models %d %s", r.status, r.body)
	}
	if r = do(t, "GET", srv.URL+"/v1/models/"+list.Data[0].ID, ""); r.status != 200 {
		t.Errorf("model %d %s", r.status, r.body)
	}
	if r = do(t, "GET", srv.URL+"/v1/models/nope", ""); r.status != 404 {
		t.Errorf("unknown model %d", r.status)
	}
}

func TestRecording(t *testing.T) {
	var seen sync.Map
	s, srv := start(t, Options{OnRequest: func(r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		seen.Store(string(b), true)
	}})
	do(t, "POST", srv.URL+"/v1/messages?beta=true", helloBody, "Anthropic-Beta", "interleaved-thinking-2025-05-14")
	reqs := s.Requests()
	if s.Hits() != 1 || len(reqs) != 1 || reqs[0].Path != "/v1/messages" || reqs[0].RawQuery != "beta=true" ||
		string(reqs[0].Body) != helloBody || reqs[0].Header.Get("Anthropic-Beta") != "interleaved-thinking-2025-05-14" {
		t.Fatalf("recorded %+v", reqs)
	}
	if _, ok := seen.Load(helloBody); !ok {
		t.Error("OnRequest did not see the body")
	}
	s.Reset()
	if s.Hits() != 0 || s.Requests() != nil {
		t.Error("reset kept requests")
	}
}

func TestConcurrent(t *testing.T) {
	s, srv := start(t, Options{})
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/v1/messages", strings.NewReader(streamBody))
			req.Header.Set("Anthropic-Version", "2023-06-01")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			if !bytes.HasSuffix(b, []byte("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")) {
				t.Errorf("stream %s", b)
			}
		})
	}
	wg.Wait()
	if s.Hits() != 16 {
		t.Errorf("hits %d", s.Hits())
	}
}
