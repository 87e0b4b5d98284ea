package accesslog

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// headersJSON is how raw_headers was encoded before headersArg wrote the JSON itself: the rows
// written since must read the same.
func headersJSON(h http.Header) any {
	if len(h) == 0 {
		return nil
	}
	m := make(map[string]string, len(h))
	for k, v := range h {
		m[k] = strings.Join(v, ", ")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

func TestHeadersArg(t *testing.T) {
	tests := []http.Header{
		nil,
		{},
		{"Content-Type": {"application/json"}},
		{"Content-Type": {"application/json"}, "X-Request-Id": {"req_abc"}, "Openai-Processing-Ms": {"812"}, "Accept": {"text/event-stream", "application/json"}},
		{"content-type": {"a"}, "Content-Type": {"b"}, "": {""}, "Empty": {}, "Z": {"", ""}},
		{"Quote": {`say "hi" \ back\slash`}, "Html": {"<a href='x'>&amp;</a>"}, "Del": {"\x7f"}},
		{"Control": {"a\tb\nc\rd\x00e\x1f\bf\fg"}, "Sep": {"line\u2028para\u2029"}},
		{"Utf8": {"déjà vu 🙂 日本"}, "Invalid": {"\xff\xfe latin-1 caf\xe9"}, "K\xe9y": {"v"}},
	}
	var a rowArgs
	var prev []any
	for _, h := range tests {
		got, want := a.headersArg(h), headersJSON(h)
		if got != want {
			t.Errorf("headersArg(%q) = %#v, want %#v", h, got, want)
		}
		prev = append(prev, got)
	}
	// The buffer is reused; the strings returned before must not change.
	for i, h := range tests {
		if want := headersJSON(h); prev[i] != want {
			t.Errorf("headersArg(%q) became %#v, want %#v", h, prev[i], want)
		}
	}
}

func FuzzHeadersArg(f *testing.F) {
	f.Add("Content-Type", "application/json", "X-Id", "a\"b\\c\x00\u2028\xff")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		h := http.Header{k1: {v1}, k2: {v2, v1}}
		var a rowArgs
		if got, want := a.headersArg(h), headersJSON(h); got != want {
			t.Errorf("headersArg(%q) = %#v, want %#v", h, got, want)
		}
	})
}

// TestSQLiteBodiesCopied checks that the bodies, bound without a copy, are stored as TEXT
// byte for byte and do not change with the record's bytes afterwards.
func TestSQLiteBodiesCopied(t *testing.T) {
	s := openTestStore(t, "")
	raw := []byte("data: {\"x\":1}\n\n\xff\xfe not UTF-8\x00 NUL")
	up := []byte(`{"model":"gpt-4o"}`)
	r := &Record{RequestID: "req-bodies", Direction: DirectionRequest, RawBody: raw, UpstreamBody: up}
	want := string(raw) + string(up)
	if err := s.Insert(context.Background(), []*Record{r}); err != nil {
		t.Fatal(err)
	}
	for i := range raw {
		raw[i] = 'x'
	}
	for i := range up {
		up[i] = 'y'
	}
	var body, upstream, typ string
	err := s.DB().QueryRow(`SELECT raw_body, upstream_body, typeof(raw_body) || typeof(upstream_body)
		FROM accesslog WHERE request_id = 'req-bodies'`).Scan(&body, &upstream, &typ)
	if err != nil {
		t.Fatal(err)
	}
	if body+upstream != want || typ != "texttext" {
		t.Errorf("stored %q, %q as %s; want %q as texttext", body, upstream, typ, want)
	}
}
