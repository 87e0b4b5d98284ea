package fakeupstream

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// discard is a ResponseWriter that keeps nothing, so that a benchmark
// measures the fake's own work.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}
func (d *discard) Flush()                      {}

// benchHandler runs one request through the handler per iteration.
func benchHandler(b *testing.B, path, body string, headers ...string) {
	o := NewOpenAI(OpenAIOptions{DiscardRequests: true})
	req := httptest.NewRequest("POST", path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	b.ReportAllocs()
	for b.Loop() {
		req.Body = io.NopCloser(strings.NewReader(body))
		o.ServeHTTP(&discard{h: make(http.Header, 12)}, req)
	}
}

func BenchmarkChatCompletion(b *testing.B) {
	benchHandler(b, "/v1/chat/completions", chatBody)
}

func BenchmarkChatStream(b *testing.B) {
	benchHandler(b, "/v1/chat/completions",
		`{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Hi there"}]}`,
		HeaderChunks, "20")
}

func BenchmarkResponsesStream(b *testing.B) {
	benchHandler(b, "/v1/responses", `{"model":"gpt-4.1","stream":true,"input":"Hi there"}`, HeaderChunks, "20")
}

// BenchmarkChatStreamHTTP is a whole stream over a loopback connection, the
// way the proxy's benchmarks use the fake.
func BenchmarkChatStreamHTTP(b *testing.B) {
	srv := httptest.NewServer(NewOpenAI(OpenAIOptions{DiscardRequests: true}))
	defer srv.Close()
	body := `{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"Hi there"}]}`
	b.ReportAllocs()
	for b.Loop() {
		res, err := http.Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
}
