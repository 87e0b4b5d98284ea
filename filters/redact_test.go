package filters_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/filters"
	"github.com/aiproxy-go/aiproxy/provider/anthropic"
	provopenai "github.com/aiproxy-go/aiproxy/provider/openai"
)

func TestRedactFilterLog(t *testing.T) {
	f := &filters.Redact{In: []string{filters.RedactLog}, Replacement: "<{KIND}>"}
	shared := http.Header{"X-Contact": {"bob@example.com"}, "Accept": {"*/*"}}
	rec := &accesslog.Record{
		Content:      "write bob@example.com",
		ToolCalls:    `[{"id":"c1","type":"function","function":{"name":"send","arguments":"{\"to\":\"bob\\u0040example.com\"}"}}]`,
		FunctionCall: `{"name":"f","arguments":"{\"card\":\"4111111111111111\"}"}`,
		RawBody: []byte("event: message\ndata: {\"delta\":{\"text\":\"mail bob@exa\"}}\n\n" +
			"data: {\"delta\":{\"text\":\"mple.com now\"}}\n\ndata: [DONE]\n\n"),
		UpstreamBody: []byte("plain text, call +1 555 123 4567"),
		RawHeaders:   shared,
	}
	f.FilterLog(rec)
	checks := []struct{ name, got, want string }{
		{"content", rec.Content, "write <EMAIL>"},
		{"tool calls", rec.ToolCalls, `[{"id":"c1","type":"function","function":{"name":"send","arguments":"{\"to\":\"<EMAIL>\"}"}}]`},
		{"function call", rec.FunctionCall, `{"name":"f","arguments":"{\"card\":\"<CREDIT_CARD>\"}"}`},
		{"raw body", string(rec.RawBody), "event: message\ndata: {\"delta\":{\"text\":\"mail <EMAIL>\"}}\n\n" +
			"data: {\"delta\":{\"text\":\" now\"}}\n\ndata: [DONE]\n\n"},
		{"upstream body", string(rec.UpstreamBody), "plain text, call <PHONE>"},
		{"header", rec.RawHeaders.Get("X-Contact"), "<EMAIL>"},
		{"shared header", shared.Get("X-Contact"), "bob@example.com"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s\n got %s\nwant %s", c.name, c.got, c.want)
		}
	}

	// A match cut across events, then one inside a single event further on: the offsets of
	// the later lines move with the first masking.
	rec = &accesslog.Record{RawBody: []byte("data: {\"choices\":[{\"delta\":{\"content\":\"card 4111 1111\"}}]}\n\n" +
		"data: {\"choices\":[{\"delta\":{\"content\":\" 1111 1111.\"}}]}\n\nevent: note\n" +
		"data: {\"id\":\"x\",\"note\":\"reach me at a@b.io\"}\n\ndata: [DONE]\n\n")}
	f.FilterLog(rec)
	if want := "data: {\"choices\":[{\"delta\":{\"content\":\"card <CREDIT_CARD>\"}}]}\n\n" +
		"data: {\"choices\":[{\"delta\":{\"content\":\".\"}}]}\n\nevent: note\n" +
		"data: {\"id\":\"x\",\"note\":\"reach me at <EMAIL>\"}\n\ndata: [DONE]\n\n"; string(rec.RawBody) != want {
		t.Errorf("stream\n got %q\nwant %q", rec.RawBody, want)
	}

	// Masking only the request leaves the log alone.
	rec = &accesslog.Record{Content: "bob@example.com"}
	(&filters.Redact{In: []string{filters.RedactRequest}}).FilterLog(rec)
	if rec.Content != "bob@example.com" {
		t.Errorf("request-only redact changed the log: %q", rec.Content)
	}
}

func TestRedactRequestBodies(t *testing.T) {
	f := &filters.Redact{Kinds: []string{filters.KindEmail, filters.KindAPIKey}, In: []string{filters.RedactRequest}}
	// A base64 image is left alone, even where its bytes happen to look like a key.
	image := strings.Repeat("iVBO", 100) + "+AKIAIOSFODNN7EXAMPLE+" + strings.Repeat("AAAA", 50)
	tests := []struct {
		name       string
		endpoint   string
		body, want string
	}{
		{"system and tools", "/v1/messages",
			`{"model":"c","max_tokens":5,"system":"owner a@b.io","messages":[{"role":"user","content":[{"type":"text","text":"x@y.io"},{"type":"image","source":{"type":"base64","data":"` + image + `"}}]}]}`,
			`{"model":"c","max_tokens":5,"system":"owner [REDACTED_EMAIL]","messages":[{"role":"user","content":[{"type":"text","text":"[REDACTED_EMAIL]"},{"type":"image","source":{"type":"base64","data":"` + image + `"}}]}]}`},
		{"user kept in keys", "/v1/messages", `{"model":"c","metadata":{"user_id":"u1"},"messages":[]}`, ``},
	}
	an := anthropic.New(anthropic.Options{APIKey: "k"})
	for _, tc := range tests {
		x := exchange(t, an, tc.endpoint, "", tc.body)
		if _, err := f.FilterRequest(context.Background(), x); err != nil {
			t.Fatal(err)
		}
		want := tc.want
		if want == "" {
			want = tc.body
		}
		if string(x.Request.Body) != want {
			t.Errorf("%s\n got %s\nwant %s", tc.name, x.Request.Body, want)
		}
	}
	// A body the provider cannot parse as JSON goes upstream as it is.
	oa := provopenai.New(provopenai.Options{APIKey: "k"})
	x := exchange(t, oa, "/audio/transcriptions", "", "")
	x.Request.Body = []byte("--boundary\r\nbob@example.com")
	if _, err := f.FilterRequest(context.Background(), x); err != nil || string(x.Request.Body) != "--boundary\r\nbob@example.com" {
		t.Errorf("non-JSON body: %v %q", err, x.Request.Body)
	}
}
