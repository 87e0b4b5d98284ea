package aiproxy_test

// The proxy's end-to-end benchmarks. Each one sends the same requests, in the same run, three
// ways, so that the figures read as overheads against baselines rather than absolute times:
//
//	direct   client → fake upstream
//	bare     client → httputil.ReverseProxy (tuned transport) → fake upstream
//	aiproxy  client → AIProxy with full SQLite logging → fake upstream
//
// Each has a serial variant (one request at a time: latency) and a parallel one
// (benchParallelism × GOMAXPROCS clients at once: throughput). The aiproxy variants drain the
// access log after the timed loop and fail unless exactly two rows (request and response) were
// stored per request. Run them with, for example:
//
//	go test -run xxx -bench . -benchtime=2000x .

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/filters"
	"github.com/aiproxy-go/aiproxy/internal/fakeupstream"
	"github.com/aiproxy-go/aiproxy/provider"
	provopenai "github.com/aiproxy-go/aiproxy/provider/openai"
)

// benchKey is the upstream key. The direct and bare clients send it themselves; AIProxy puts
// its own (the same) in place of the client's.
const benchKey = "sk-bench-upstream-0123456789abcdefXYZ"

// benchChunks is the number of content chunks of a benchmarked stream.
const benchChunks = "20"

// benchParallelism multiplies GOMAXPROCS into the number of clients of the parallel variants.
const benchParallelism = 8

// The request bodies. The stream asks for usage itself, so that the upstream does the same
// work on every path: without it AIProxy would add stream_options and hide the extra chunk.
var (
	benchChatBody   = []byte(`{"model":"gpt-4o-mini","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"Say hello to the benchmark, please"}]}`)
	benchStreamBody = []byte(`{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"Say hello to the benchmark, please"}]}`)
)

// benchCall is one kind of request: its body, its extra headers, and how the client reads
// the response.
type benchCall struct {
	body   []byte
	header http.Header
	read   func(*http.Response) error
}

var (
	benchChat   = benchCall{body: benchChatBody, read: benchReadAll}
	benchStream = benchCall{body: benchStreamBody, header: http.Header{fakeupstream.HeaderChunks: {benchChunks}}, read: benchReadStream}
)

func BenchmarkChatCompletion(b *testing.B) { benchTargets(b, benchChat) }

func BenchmarkChatStream(b *testing.B) { benchTargets(b, benchStream) }

// benchTargets runs the call against the fake directly, through the bare reverse proxy and
// through AIProxy, serially and in parallel.
func benchTargets(b *testing.B, c benchCall) {
	fake := httptest.NewServer(fakeupstream.NewOpenAI(fakeupstream.OpenAIOptions{APIKey: benchKey, DiscardRequests: true}))
	b.Cleanup(fake.Close)
	upURL, err := url.Parse(fake.URL)
	if err != nil {
		b.Fatal(err)
	}
	bare := httptest.NewServer(benchFullDuplex(benchBareProxy(upURL)))
	b.Cleanup(bare.Close)

	for _, mode := range []string{"serial", "parallel"} {
		b.Run("direct/"+mode, func(b *testing.B) { benchLoop(b, fake.URL, c, mode) })
		b.Run("bare/"+mode, func(b *testing.B) { benchLoop(b, bare.URL, c, mode) })
		b.Run("aiproxy/"+mode, func(b *testing.B) { benchAIProxy(b, fake.URL, c, mode) })
	}
}

// benchBareProxy is the baseline proxy: the standard library's reverse proxy with a transport
// tuned as AIProxy's is, doing nothing but relaying.
func benchBareProxy(up *url.URL) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.SetURL(up) },
		Transport: benchTransport(),
		ErrorLog:  slog.NewLogLogger(slog.DiscardHandler, slog.LevelError),
	}
}

// benchFullDuplex keeps Go's HTTP/1 server from closing the request body when the response
// starts. Without it the bare proxy cuts some streams: the transport reads the inbound body
// once more after its Content-Length to check for extra bytes, that read fails with "invalid
// Read on closed Body" once the response has begun, and the transport drops the upstream
// connection mid-stream (golang/go#40747). AIProxy reads the whole body first and is immune.
func benchFullDuplex(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).EnableFullDuplex()
		h.ServeHTTP(w, r)
	})
}

// benchTransport is the transport of the clients and of the bare proxy: enough idle
// connections for every parallel client, and no compression, as AIProxy's.
func benchTransport() *http.Transport {
	return &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
}

// benchAIProxy runs the loop through a fresh AIProxy logging into a fresh SQLite file, then
// drains the log and checks that every request left its two rows.
func benchAIProxy(b *testing.B, upstream string, c benchCall, mode string) {
	b.StopTimer()
	store, err := accesslog.OpenSQLite(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	p, err := aiproxy.New(aiproxy.Options{
		Providers: []provider.Provider{provopenai.New(provopenai.Options{APIKey: benchKey, BaseURL: upstream + "/v1"})},
		Store:     store,
		Secrets:   []string{benchKey},
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	// The binary adds the replay filter by default; so does the benchmark.
	if err := p.AddFilter(&filters.Replay{Source: p}); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(p)
	defer srv.Close()
	b.StartTimer()

	n := benchLoop(b, srv.URL, c, mode)

	b.StopTimer()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		b.Fatalf("drain log: %v", err)
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/1000, "drain-ms")
	want := 2 * n
	st := p.Log().Stats()
	if st.Written != uint64(want) || st.Failed != 0 || st.Queued != 0 {
		b.Fatalf("log writer stats %+v after %d requests, want %d written", st, n, want)
	}
	var rows, responses int64
	if err := store.DB().QueryRowContext(ctx,
		`SELECT COUNT(*), COALESCE(SUM(direction = 'response' AND status_code = 200), 0) FROM accesslog`,
	).Scan(&rows, &responses); err != nil {
		b.Fatal(err)
	}
	if rows != want || responses != n {
		b.Fatalf("accesslog holds %d rows (%d responses with status 200) after %d requests, want %d (%d)", rows, responses, n, want, n)
	}
}

// benchLoop sends b.N requests to base, one at a time or from parallel clients, and returns
// how many were sent.
func benchLoop(b *testing.B, base string, c benchCall, mode string) int64 {
	client := &http.Client{Transport: benchTransport()}
	defer client.CloseIdleConnections()
	target := base + "/v1/chat/completions"
	b.ReportAllocs()
	var sent atomic.Int64
	b.ResetTimer()
	if mode == "serial" {
		for range b.N {
			sent.Add(1)
			if err := benchDo(client, target, c); err != nil {
				b.Fatal(err)
			}
		}
	} else {
		b.SetParallelism(benchParallelism)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				sent.Add(1)
				if err := benchDo(client, target, c); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	b.StopTimer()
	return sent.Load()
}

// benchDo sends one request and reads its response as a client would.
func benchDo(client *http.Client, target string, c benchCall) error {
	req, err := http.NewRequest(http.MethodPost, target, bytes.NewReader(c.body))
	if err != nil {
		return err
	}
	req.Header["Content-Type"] = []string{"application/json"}
	req.Header["Authorization"] = []string{"Bearer " + benchKey}
	for k, v := range c.header {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		return fmt.Errorf("status %d: %s", resp.StatusCode, body)
	}
	return c.read(resp)
}

// benchReadAll reads a whole non-streamed response.
func benchReadAll(resp *http.Response) error {
	n, err := io.Copy(io.Discard, resp.Body)
	if err == nil && n == 0 {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// benchReadStream reads a stream until its [DONE] event, then to its end so that the
// connection is reused.
func benchReadStream(resp *http.Response) error {
	br := bufio.NewReaderSize(resp.Body, 4<<10)
	events := 0
	for {
		line, err := br.ReadSlice('\n')
		if bytes.HasPrefix(line, []byte("data: ")) {
			if bytes.HasPrefix(line, []byte("data: [DONE]")) {
				break
			}
			events++
		}
		if err != nil {
			return fmt.Errorf("stream ended after %d events without [DONE]: %w", events, err)
		}
	}
	if _, err := io.Copy(io.Discard, br); err != nil {
		return err
	}
	// A role chunk, the content chunks, a finish chunk and a usage chunk at the least.
	if events < 20 {
		return fmt.Errorf("stream had %d events before [DONE]", events)
	}
	return nil
}
