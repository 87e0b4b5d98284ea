package openai

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/aiproxy-go/aiproxy/provider"
)

func TestPrepareAsksForStreamUsage(t *testing.T) {
	p := New(Options{APIKey: "sk-up", BaseURL: "http://up.example/v1"})
	tests := []struct {
		name, body string
		added      bool
	}{
		{"no options", `{"model":"m","stream":true,"messages":[]}` + "\n", true},
		{"options without usage", `{"model":"m","stream":true,"stream_options":{"include_obfuscation":false}}`, true},
		{"usage false", `{"model":"m","stream":true,"stream_options":{"include_usage":false}}`, true},
		{"usage true", `{"model":"m","stream":true,"stream_options":{"include_usage":true}}`, false},
		{"not a stream", `{"model":"m","stream":false}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := &provider.Request{Method: "POST", Endpoint: "/chat/completions", Header: http.Header{"Authorization": {"Bearer client"}}, Body: []byte(tc.body)}
			if err := p.Parse(req); err != nil {
				t.Fatal(err)
			}
			up, err := p.Prepare(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			sent, _ := io.ReadAll(up.Body)
			var f struct {
				Model         string
				StreamOptions map[string]any `json:"stream_options"`
			}
			if err := json.Unmarshal(sent, &f); err != nil {
				t.Fatalf("upstream body %s: %v", sent, err)
			}
			if f.Model != "m" {
				t.Errorf("model lost: %s", sent)
			}
			if tc.added && f.StreamOptions["include_usage"] != true {
				t.Errorf("usage not asked for: %s", sent)
			}
			if !tc.added && string(sent) != tc.body {
				t.Errorf("body changed: %s", sent)
			}
			if tc.name == "options without usage" && f.StreamOptions["include_obfuscation"] != false {
				t.Errorf("client's stream option lost: %s", sent)
			}
			st, _ := req.State.(*streamState)
			if got := st != nil && st.addedUsage; got != tc.added {
				t.Errorf("addedUsage = %v", got)
			}
			if up.Header.Get("Authorization") != "Bearer sk-up" || up.URL.String() != "http://up.example/v1/chat/completions" {
				t.Errorf("upstream %s %q", up.URL, up.Header.Get("Authorization"))
			}
		})
	}
}

func TestRelayHidesAddedUsage(t *testing.T) {
	s := &stream{addedUsage: true}
	chunk := []byte(`data: {"id":"x","choices":[{"index":0,"delta":{"content":"a \"usage\":null"}}],"usage":null}` + "\n\n")
	if got := string(s.Relay(chunk)); got != `data: {"id":"x","choices":[{"index":0,"delta":{"content":"a \"usage\":null"}}]}`+"\n\n" {
		t.Errorf("relayed %q", got)
	}
	if got := s.Relay([]byte(`data: {"id":"x","choices":[],"usage":{"prompt_tokens":1}}` + "\n\n")); got != nil {
		t.Errorf("usage chunk relayed: %q", got)
	}
	plain := &stream{}
	if got := plain.Relay(chunk); string(got) != string(chunk) {
		t.Errorf("changed a stream the proxy did not touch: %q", got)
	}
}

func TestMatch(t *testing.T) {
	p := New(Options{})
	for path, want := range map[string]string{
		"/v1/chat/completions": "/chat/completions", "/openai/v1/embeddings": "/embeddings",
		"/openai/models": "/models", "/chat/completions": "/chat/completions", "/responses/abc": "/responses/abc",
		"/nowhere": "", "/v1": "", "/": "",
	} {
		r, _ := http.NewRequest("POST", "http://x"+path, nil)
		got, ok := p.Match(r)
		if got != want || ok != (want != "") {
			t.Errorf("Match(%s) = %q %v, want %q", path, got, ok, want)
		}
	}
	named := New(Options{Name: "groq"})
	r, _ := http.NewRequest("POST", "http://x/groq/v1/chat/completions", nil)
	if got, ok := named.Match(r); !ok || got != "/chat/completions" {
		t.Errorf("named provider: %q %v", got, ok)
	}
	if _, ok := named.Match(mustReq("/chat/completions")); ok {
		t.Error("a named provider claimed the root")
	}
}

func mustReq(path string) *http.Request {
	r, _ := http.NewRequest("GET", "http://x"+path, nil)
	return r
}
