package filters_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/filters"
	"github.com/aiproxy-go/aiproxy/internal/fakeupstream"
	"github.com/aiproxy-go/aiproxy/provider"
	provopenai "github.com/aiproxy-go/aiproxy/provider/openai"
)

// typicalChat is a chat request of a few turns, about 1.6 KB, with no personal data.
const typicalChat = `{"model":"gpt-4o-mini","user":"alice","temperature":0.2,"messages":[` +
	`{"role":"system","content":"You are a helpful assistant for an online bookshop. Answer briefly and politely. ` +
	`When the customer asks about an order, ask for the order number first. Never invent prices; if you do not know a price, say so ` +
	`and offer to look it up. Recommend at most three books at a time, with one sentence each about why."},` +
	`{"role":"user","content":"Hi! I'm looking for a present for my father. He likes history, especially the Roman empire, and detective novels."},` +
	`{"role":"assistant","content":"What a nice idea! Here are three books he might enjoy: SPQR by Mary Beard, a lively history of ancient Rome; ` +
	`The Silver Pigs by Lindsey Davis, a detective story set in Vespasian's Rome; and Roman Blood by Steven Saylor, a mystery with Cicero."},` +
	`{"role":"user","content":"The second one sounds great. Is it part of a series? And do you have it in paperback? ` +
	`He prefers paperbacks because they are lighter to carry on the train every morning."}]}`

// benchExchange returns a fresh exchange of the typical chat request.
func benchExchange(b *testing.B, p provider.Provider) *aiproxy.Exchange {
	req := &provider.Request{Method: http.MethodPost, Endpoint: "/chat/completions",
		Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(typicalChat)}
	if err := p.Parse(req); err != nil {
		b.Fatal(err)
	}
	in := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", nil)
	return &aiproxy.Exchange{Provider: p, Request: req, Incoming: in, ClientBody: req.Body}
}

// BenchmarkFilterChain measures the request side of issue 5's example filter list on the
// typical chat request, against a chain with no filters.
func BenchmarkFilterChain(b *testing.B) {
	p := provopenai.New(provopenai.Options{APIKey: "k"})
	fs, err := buildFilters(b, exampleConfig, filters.Env{Source: fakeSource{}})
	if err != nil {
		b.Fatal(err)
	}
	var chain []aiproxy.RequestFilter
	for _, f := range fs {
		chain = append(chain, f.(aiproxy.RequestFilter))
	}
	run := func(b *testing.B, chain []aiproxy.RequestFilter) {
		ctx := context.Background()
		b.ReportAllocs()
		b.SetBytes(int64(len(typicalChat)))
		for b.Loop() {
			b.StopTimer()
			x := benchExchange(b, p)
			b.StartTimer()
			for _, f := range chain {
				if _, err := f.FilterRequest(ctx, x); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.Run("none", func(b *testing.B) { run(b, nil) })
	b.Run("example", func(b *testing.B) { run(b, chain) })
	for i, name := range []string{"ban_users", "require_user", "models", "max_tokens", "block_patterns", "redact", "replay"} {
		b.Run("only_"+name, func(b *testing.B) { run(b, chain[i:i+1]) })
	}
}

// BenchmarkProxyWithFilters measures whole requests through the proxy (no access log) to
// the fake upstream, with and without the example filter list.
func BenchmarkProxyWithFilters(b *testing.B) {
	up := httptest.NewServer(fakeupstream.NewOpenAI(fakeupstream.OpenAIOptions{}))
	defer up.Close()
	for _, withFilters := range []bool{false, true} {
		name := "none"
		if withFilters {
			name = "example"
		}
		b.Run(name, func(b *testing.B) {
			p, err := aiproxy.New(aiproxy.Options{Providers: []provider.Provider{provopenai.New(provopenai.Options{APIKey: "k", BaseURL: up.URL + "/v1"})}})
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close(context.Background())
			if withFilters {
				fs, err := buildFilters(b, exampleConfig, filters.Env{Source: p})
				if err != nil {
					b.Fatal(err)
				}
				for _, f := range fs {
					if err := p.AddFilter(f); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(typicalChat))
				r.Header.Set("Content-Type", "application/json")
				w := httptest.NewRecorder()
				p.ServeHTTP(w, r)
				if w.Code != 200 {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}

// BenchmarkRedactLog measures masking the rows of one exchange in the log writer: the
// request row of the typical chat and a streamed response of 40 events.
func BenchmarkRedactLog(b *testing.B) {
	f := &filters.Redact{In: []string{filters.RedactLog}}
	var stream strings.Builder
	for range 40 {
		stream.WriteString(`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"some words "},"finish_reason":null}]}` + "\n\n")
	}
	stream.WriteString("data: [DONE]\n\n")
	b.ReportAllocs()
	for b.Loop() {
		req := &accesslog.Record{Content: "He prefers paperbacks because they are lighter.", RawBody: []byte(typicalChat)}
		resp := &accesslog.Record{Content: strings.Repeat("some words ", 40), RawBody: []byte(stream.String())}
		f.FilterLog(req)
		f.FilterLog(resp)
	}
}
