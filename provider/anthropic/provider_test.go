package anthropic_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aiproxy-go/aiproxy/provider"
	"github.com/aiproxy-go/aiproxy/provider/anthropic"
	"github.com/aiproxy-go/aiproxy/sse"
)

func TestMatch(t *testing.T) {
	p := anthropic.New(anthropic.Options{})
	tests := []struct {
		method, path, version string
		want                  string // "" when not matched
	}{
		{"POST", "/v1/messages", "", "/v1/messages"},
		{"POST", "/v1/messages/count_tokens", "", "/v1/messages/count_tokens"},
		{"GET", "/v1/messages/batches/msgbatch_01", "", "/v1/messages/batches/msgbatch_01"},
		{"POST", "/anthropic/v1/messages", "", "/v1/messages"},
		{"GET", "/anthropic/v1/models", "", "/v1/models"},
		{"POST", "/anthropic/v1/files", "", "/v1/files"},
		{"GET", "/v1/models", "2023-06-01", "/v1/models"},
		{"GET", "/v1/models", "", ""},
		{"POST", "/v1/chat/completions", "", ""},
		{"POST", "/v1/messagesx", "", ""},
		{"POST", "/v1/", "2023-06-01", ""},
		{"POST", "/anthropic/", "", ""},
		{"POST", "/anthropic", "", ""},
		{"POST", "/messages", "", ""},
	}
	for _, tc := range tests {
		r, _ := http.NewRequest(tc.method, "http://proxy"+tc.path, nil)
		if tc.version != "" {
			r.Header.Set("anthropic-version", tc.version)
		}
		got, ok := p.Match(r)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("Match(%s %s, version %q) = %q %v, want %q", tc.method, tc.path, tc.version, got, ok, tc.want)
		}
	}

	named := anthropic.New(anthropic.Options{Name: "claude-eu"})
	for path, want := range map[string]string{"/claude-eu/v1/messages": "/v1/messages", "/v1/messages": "", "/anthropic/v1/messages": ""} {
		r, _ := http.NewRequest("POST", "http://proxy"+path, nil)
		if got, ok := named.Match(r); got != want || ok != (want != "") {
			t.Errorf("named Match(%s) = %q %v, want %q", path, got, ok, want)
		}
	}
	if named.Name() != "claude-eu" || p.Name() != "anthropic" {
		t.Errorf("names %q %q", named.Name(), p.Name())
	}
}

func TestPrepare(t *testing.T) {
	body := []byte(`{"model": "claude-x",   "max_tokens": 5, "messages": []}` + "\n")
	tests := []struct {
		name        string
		key         string
		header      http.Header
		wantKey     string // x-api-key upstream
		wantAuth    string // authorization upstream
		wantVersion string
	}{
		{"bearer replaced", "sk-up", http.Header{"Authorization": {"Bearer sk-client"}, "Anthropic-Version": {"2026-10-21"}}, "sk-up", "", "2026-10-21"},
		{"x-api-key replaced", "sk-up", http.Header{"X-Api-Key": {"sk-client"}}, "sk-up", "", anthropic.DefaultVersion},
		{"forwarded without a key", "", http.Header{"Authorization": {"Bearer sk-client"}}, "", "Bearer sk-client", anthropic.DefaultVersion},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := anthropic.New(anthropic.Options{APIKey: tc.key, BaseURL: "http://up.example/", Version: ""})
			req := &provider.Request{Method: "POST", Endpoint: "/v1/messages", RawQuery: "beta=true", Header: tc.header, Body: body}
			if err := p.Parse(req); err != nil {
				t.Fatal(err)
			}
			up, err := p.Prepare(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			sent, _ := io.ReadAll(up.Body)
			if !bytes.Equal(sent, body) || !bytes.Equal(req.Body, body) {
				t.Errorf("body changed: %q", sent)
			}
			if up.URL.String() != "http://up.example/v1/messages?beta=true" || up.Method != "POST" {
				t.Errorf("upstream %s %s", up.Method, up.URL)
			}
			if up.Header.Get("X-Api-Key") != tc.wantKey || up.Header.Get("Authorization") != tc.wantAuth || up.Header.Get("Anthropic-Version") != tc.wantVersion {
				t.Errorf("upstream header %v", up.Header)
			}
			if tc.header.Get("Anthropic-Version") == "" && req.Header.Get("Anthropic-Version") != "" {
				t.Error("Prepare changed the request's own header")
			}
		})
	}
	custom := anthropic.New(anthropic.Options{Version: "2099-01-01"})
	up, _ := custom.Prepare(context.Background(), &provider.Request{Method: "GET", Endpoint: "/v1/models", Header: http.Header{}})
	if up.Header.Get("Anthropic-Version") != "2099-01-01" || up.URL.String() != anthropic.DefaultBaseURL+"/v1/models" {
		t.Errorf("custom version: %s %v", up.URL, up.Header)
	}
}

func TestParse(t *testing.T) {
	p := anthropic.New(anthropic.Options{})
	req := &provider.Request{Header: http.Header{"Content-Type": {"application/json"}},
		Body: []byte(`{"model":"claude-x","stream":true,"metadata":{"user_id":"u-1"},"messages":[]}`)}
	if err := p.Parse(req); err != nil || req.Model != "claude-x" || !req.Stream || req.User != "u-1" {
		t.Errorf("parse: %+v %v", req, err)
	}
	req = &provider.Request{Header: http.Header{}, Body: []byte(`{"model":`)}
	if e, ok := p.Parse(req).(*provider.Error); !ok || e.Status != 400 || e.Type != "invalid_request_error" || !strings.HasPrefix(e.Message, "the request body is not valid json") {
		t.Errorf("invalid json: %v", e)
	}
	// Bodies that are not JSON (a file upload) are not parsed.
	req = &provider.Request{Header: http.Header{"Content-Type": {"multipart/form-data; boundary=x"}}, Body: []byte("--x\r\n")}
	if err := p.Parse(req); err != nil {
		t.Errorf("multipart: %v", err)
	}
}

func TestError(t *testing.T) {
	p := anthropic.New(anthropic.Options{})
	tests := []struct {
		e    provider.Error
		typ  string
		code int
	}{
		{provider.Error{Status: 400, Type: "invalid_request_error", Message: "bad"}, "invalid_request_error", 400},
		{provider.Error{Status: 403, Message: "banned"}, "permission_error", 403},
		{provider.Error{Status: 404, Type: "invalid_request_error", Message: "replay: none"}, "not_found_error", 404},
		{provider.Error{Status: 413, Type: "invalid_request_error", Message: "too big"}, "request_too_large", 413},
		{provider.Error{Status: 422, Type: "invalid_request_error", Message: "odd"}, "invalid_request_error", 422},
		{provider.Error{Status: 401, Type: "authentication_error", Message: "who"}, "authentication_error", 401},
		{provider.Error{Status: 429, Message: "slow down"}, "rate_limit_error", 429},
		{provider.Error{Status: 502, Type: "server_error", Message: "upstream unreachable"}, "api_error", 502},
		{provider.Error{Status: 504, Type: "server_error", Message: "upstream timed out"}, "timeout_error", 504},
		{provider.Error{Status: 529, Message: "busy"}, "overloaded_error", 529},
	}
	for _, tc := range tests {
		resp := p.Error(&provider.Request{}, &tc.e)
		var body struct {
			Type  string `json:"type"`
			Error struct {
				Type    string `json:"type"`
				Message string `json:"message"`
			} `json:"error"`
			RequestID string `json:"request_id"`
		}
		if err := json.Unmarshal(resp.Body, &body); err != nil || resp.Status != tc.code || body.Type != "error" || body.Error.Type != tc.typ ||
			body.Error.Message != tc.e.Message || body.RequestID == "" || resp.Header.Get("Request-Id") != body.RequestID ||
			resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%d: %d %s %v", tc.e.Status, resp.Status, resp.Body, resp.Header)
		}
	}
}

// eventNames lists the event types of a rendered stream.
func eventNames(t *testing.T, body []byte) []string {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Split(sse.Split)
	var names []string
	for sc.Scan() {
		ev := sse.Parse(sc.Bytes())
		var data struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal([]byte(ev.Data), &data); err != nil || data.Type != ev.Event {
			t.Fatalf("event %q", sc.Bytes())
		}
		names = append(names, ev.Event)
	}
	return names
}

func TestRender(t *testing.T) {
	p := anthropic.New(anthropic.Options{})
	reply := &provider.Reply{Text: "Hi", ToolCalls: []provider.ToolCall{
		{ID: "toolu_1", Type: "function", Function: provider.FunctionCall{Name: "f", Arguments: `{"a": 1}`}},
		{Type: "function", Function: provider.FunctionCall{Name: "g", Arguments: `{"cut`}},
	}}
	resp := p.Render(&provider.Request{Endpoint: "/v1/messages", Stream: true, Model: "claude-asked"}, reply)
	want := "message_start content_block_start content_block_delta content_block_stop content_block_start content_block_delta content_block_stop " +
		"content_block_start content_block_delta content_block_stop message_delta message_stop"
	if got := strings.Join(eventNames(t, resp.Body), " "); got != want || resp.Header.Get("Content-Type") != "text/event-stream; charset=utf-8" {
		t.Errorf("events %s\n%s", got, resp.Body)
	}
	for _, frag := range []string{`"model":"claude-asked"`, `"partial_json":"{\"a\":1}"`, `"partial_json":"{}"`, `"id":"toolu_1"`, `"id":"toolu_aiproxy_`, `"stop_reason":"tool_use"`} {
		if !bytes.Contains(resp.Body, []byte(frag)) {
			t.Errorf("stream lacks %s:\n%s", frag, resp.Body)
		}
	}

	resp = p.Render(&provider.Request{Endpoint: "/v1/messages"}, &provider.Reply{})
	var m map[string]any
	if err := json.Unmarshal(resp.Body, &m); err != nil || m["stop_reason"] != "end_turn" || m["stop_sequence"] != nil || m["type"] != "message" {
		t.Errorf("empty reply %s", resp.Body)
	}
	if c := m["content"].([]any); len(c) != 1 || c[0].(map[string]any)["text"] != "" {
		t.Errorf("empty reply content %s", resp.Body)
	}

	resp = p.Render(&provider.Request{Endpoint: "/v1/messages/count_tokens"}, &provider.Reply{Usage: &provider.Usage{InputTokens: 42}})
	if string(resp.Body) != `{"input_tokens":42}` {
		t.Errorf("count_tokens %s", resp.Body)
	}
	resp = p.Render(&provider.Request{Endpoint: "/v1/messages", Stream: true}, &provider.Reply{Body: []byte(`{"x":1}`), Status: 202})
	if resp.Status != 202 || string(resp.Body) != `{"x":1}` || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("body reply %d %s", resp.Status, resp.Body)
	}
}

func TestNewStream(t *testing.T) {
	p := anthropic.New(anthropic.Options{})
	if _, ok := p.NewStream(&provider.Request{}, &http.Response{Header: http.Header{"Content-Type": {"application/json"}}}); ok {
		t.Error("a JSON body framed as a stream")
	}
	st, ok := p.NewStream(&provider.Request{}, &http.Response{Header: http.Header{"Content-Type": {"text/event-stream; charset=utf-8"}}})
	if !ok {
		t.Fatal("no stream")
	}
	text := []byte("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"an error of mine\"}}\n\n")
	if got := st.Relay(text); !bytes.Equal(got, text) || st.(provider.StreamFailure).Failure() != nil {
		t.Errorf("a text delta mentioning an error failed the stream")
	}
	for typ, status := range map[string]int{"overloaded_error": 529, "rate_limit_error": 429, "api_error": 500, "something_new": 500} {
		st, _ := p.NewStream(&provider.Request{}, &http.Response{Header: http.Header{"Content-Type": {"text/event-stream"}}})
		fail := []byte(`event: error` + "\n" + `data: {"type":"error","error":{"type":"` + typ + `","message":"went wrong"}}` + "\n\n")
		if got := st.Relay(fail); !bytes.Equal(got, fail) {
			t.Errorf("error event changed: %q", got)
		}
		st.Relay([]byte("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"second\"}}\n\n"))
		if e := st.(provider.StreamFailure).Failure(); e == nil || e.Status != status || e.Type != typ || e.Message != "went wrong" {
			t.Errorf("%s: failure %+v", typ, e)
		}
	}
	ev := []byte("event: ping\ndata: {\"type\": \"ping\"}\n\n")
	if adv, tok, _ := st.Split(append(bytes.Clone(ev), "event: x"...), false); adv != len(ev) || !bytes.Equal(tok, ev) {
		t.Errorf("split %d %q", adv, tok)
	}
	if got := st.Relay(ev); !bytes.Equal(got, ev) {
		t.Errorf("relay changed an event: %q", got)
	}
}
