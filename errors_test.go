package aiproxy_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/provider"
	provopenai "github.com/aiproxy-go/aiproxy/provider/openai"
)

// openAIError decodes OpenAI's error shape and fails when the body is not in it.
func openAIError(t *testing.T, body string) string {
	t.Helper()
	var e struct {
		Error struct {
			Message string `json:"message"`
			Type    string `json:"type"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error.Message == "" || e.Error.Type == "" {
		t.Fatalf("not an OpenAI error body: %s", body)
	}
	return e.Error.Message
}

func TestBadInput(t *testing.T) {
	h := newHarness(t, func(o *aiproxy.Options) { o.MaxBodySize = 1024 })
	tests := []struct {
		name, path, body string
		status           int
	}{
		{"invalid json", "/v1/chat/completions", `{"model": "gpt-4o", "messages": [`, 400},
		{"not an object", "/v1/chat/completions", `nonsense`, 400},
		{"unknown route", "/nowhere/at/all", `{}`, 404},
		{"body too large", "/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"` + strings.Repeat("x", 2000) + `"}]}`, 413},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := h.post(tc.path, tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			openAIError(t, body)
			id := requestID(t, resp)
			if tc.status == 404 {
				return
			}
			recs := h.Rows(id)
			if e := h.Row(recs, "error"); e.StatusCode != tc.status || e.Content == "" {
				t.Errorf("error row %+v", e)
			}
			h.Row(recs, "request")
		})
	}
	if h.fake.Hits() != 0 {
		t.Errorf("bad input reached the upstream %d times", h.fake.Hits())
	}
}

func TestUpstreamErrorsRelayed(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name   string
		header []string
		status int
		json   bool
	}{
		{"429", []string{"x-fake-status", "429", "x-fake-retry-after", "7"}, 429, true},
		{"500", []string{"x-fake-status", "500"}, 500, true},
		{"400", []string{"x-fake-status", "400"}, 400, true},
		{"html 502", []string{"x-fake-text-error", "502"}, 502, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := h.post("/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"x"}]}`, tc.header...)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.status == 429 && resp.Header.Get("Retry-After") != "7" {
				t.Errorf("Retry-After %q not relayed", resp.Header.Get("Retry-After"))
			}
			if tc.json {
				openAIError(t, body)
			}
			e := h.Row(h.Rows(requestID(t, resp)), "error")
			if e.StatusCode != tc.status || e.Content == "" || string(e.RawBody) != body {
				t.Errorf("error row %d %q body %q", e.StatusCode, e.Content, e.RawBody)
			}
		})
	}

	// Through the SDK: a 401 from the upstream (the proxy's key is wrong) comes back as it was.
	bad := newHarness(t, func(o *aiproxy.Options) {
		o.Providers = []provider.Provider{provopenai.New(provopenai.Options{APIKey: "sk-wrong-key-000000000000", BaseURL: h.up.URL + "/v1"})}
	})
	_, err := bad.client.Chat.Completions.New(context.Background(), userParams("m", "x"))
	if e := apiError(t, err); e.StatusCode != 401 || e.Code != "invalid_api_key" {
		t.Fatalf("401: %d %q", e.StatusCode, e.Code)
	}
}

func TestUpstreamUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	h := newHarness(t, func(o *aiproxy.Options) {
		o.Providers = []provider.Provider{provopenai.New(provopenai.Options{APIKey: upstreamKey, BaseURL: "http://" + dead + "/v1"})}
	})
	var httpResp *http.Response
	_, err = h.client.Chat.Completions.New(context.Background(), userParams("m", "x"), option.WithResponseInto(&httpResp))
	e := apiError(t, err)
	if e.StatusCode != 502 || !strings.Contains(e.Message, "upstream unreachable") {
		t.Fatalf("%d %q", e.StatusCode, e.Message)
	}
	row := h.Row(h.Rows(requestID(t, httpResp)), "error")
	if row.StatusCode != 502 || !strings.Contains(row.Content, "connection refused") {
		t.Errorf("error row %d %q", row.StatusCode, row.Content)
	}
}

func TestRetries(t *testing.T) {
	h := newHarness(t, func(o *aiproxy.Options) { o.MaxRetries = 2 })
	resp, body := h.post("/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"flaky"}]}`,
		"x-fake-fail-first", "2", "x-fake-key", "flaky-1", "x-fake-status", "503")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d after retries: %s", resp.StatusCode, body)
	}
	if h.fake.Hits() != 3 {
		t.Fatalf("upstream hit %d times, want 3", h.fake.Hits())
	}
	recs := h.Rows(requestID(t, resp))
	if len(recs) != 2 || h.Row(recs, "response").StatusCode != 200 {
		t.Fatalf("rows %+v", recs)
	}

	// Retry-After is honoured: a 429 that says "come back in 0.3 s" delays the retry so.
	h.fake.Reset()
	start := time.Now()
	resp, _ = h.post("/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"x"}]}`,
		"x-fake-fail-first", "1", "x-fake-key", "flaky-2", "x-fake-status", "429", "x-fake-retry-after", "0.3")
	if resp.StatusCode != 200 || h.fake.Hits() != 2 {
		t.Fatalf("status %d hits %d", resp.StatusCode, h.fake.Hits())
	}
	if waited := time.Since(start); waited < 300*time.Millisecond {
		t.Errorf("retried after %v, before Retry-After", waited)
	}

	// Out of retries, the last upstream answer reaches the client.
	h.fake.Reset()
	resp, _ = h.post("/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"x"}]}`,
		"x-fake-status", "500", "x-fake-retry-after", "0")
	if resp.StatusCode != 500 || h.fake.Hits() != 3 {
		t.Fatalf("status %d hits %d", resp.StatusCode, h.fake.Hits())
	}
}

func TestNoRetriesByDefault(t *testing.T) {
	h := newHarness(t)
	resp, _ := h.post("/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"x"}]}`, "x-fake-status", "500")
	if resp.StatusCode != 500 || h.fake.Hits() != 1 {
		t.Fatalf("status %d hits %d", resp.StatusCode, h.fake.Hits())
	}
}

func TestClientDisconnect(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var httpResp *http.Response
	stream := h.client.Chat.Completions.NewStreaming(ctx, userParams("gpt-4o-mini", "a long answer"),
		option.WithResponseInto(&httpResp), option.WithHeader("x-fake-chunks", "50"), option.WithHeader("x-fake-chunk-delay", "20ms"))
	got := 0
	for stream.Next() {
		if got++; got == 3 {
			cancel()
			break
		}
	}
	stream.Close()
	id := requestID(t, httpResp)
	recs := h.RowsN(id, 2)
	row := h.Row(recs, "response")
	if row.StatusCode != 499 {
		t.Fatalf("status %d, want 499", row.StatusCode)
	}
	if row.Content == "" || row.Content == "Hello! You said: a long answer" {
		t.Errorf("partial content %q", row.Content)
	}
	if len(row.ChunkTimes) >= 50 {
		t.Errorf("upstream was not cancelled: %d chunks read", len(row.ChunkTimes))
	}
}

func TestUpstreamCutsStream(t *testing.T) {
	h := newHarness(t)
	var httpResp *http.Response
	stream := h.client.Chat.Completions.NewStreaming(context.Background(), userParams("gpt-4o-mini", "cut me"),
		option.WithResponseInto(&httpResp), option.WithHeader("x-fake-chunks", "10"), option.WithHeader("x-fake-cut-after", "4"))
	got := 0
	for stream.Next() {
		got++
	}
	if stream.Err() == nil {
		t.Fatal("client saw a cut stream as complete")
	}
	if got != 4 {
		t.Errorf("client got %d chunks, want the 4 that arrived", got)
	}
	recs := h.RowsN(requestID(t, httpResp), 2)
	e := h.Row(recs, "error")
	if !strings.Contains(e.Content, "ended early") || e.StatusCode != 502 || strings.Count(string(e.RawBody), "data:") != 4 {
		t.Errorf("error row %d %q body %q", e.StatusCode, e.Content, e.RawBody)
	}
}

func TestStreamIdleTimeout(t *testing.T) {
	h := newHarness(t, func(o *aiproxy.Options) { o.StreamIdleTimeout = 100 * time.Millisecond })
	var httpResp *http.Response
	stream := h.client.Chat.Completions.NewStreaming(context.Background(), userParams("m", "slow"),
		option.WithResponseInto(&httpResp), option.WithHeader("x-fake-chunk-delay", "2s"))
	for stream.Next() {
	}
	if stream.Err() == nil {
		t.Fatal("an idle stream ended as complete")
	}
	e := h.Row(h.RowsN(requestID(t, httpResp), 2), "error")
	if e.StatusCode != 504 {
		t.Errorf("idle stream row %d %q", e.StatusCode, e.Content)
	}
}

// TestByteExactStream relays a stream with every SSE oddity unchanged.
func TestByteExactStream(t *testing.T) {
	const stream = ": keep-alive comment\r\n\r\n" +
		"event: message\r\ndata: {\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"h\\u00e9\"}}]}\r\n\r\n" +
		"data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"日本\"}}],\"usage\":null}\n\n" +
		"id: 7\ndata: [DONE]\n\n"
	up := httpServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for _, part := range []string{stream[:10], stream[10:60], stream[60:61], stream[61:]} {
			io.WriteString(w, part)
			w.(http.Flusher).Flush()
		}
	}))
	h := newHarness(t, func(o *aiproxy.Options) {
		o.Providers = []provider.Provider{provopenai.New(provopenai.Options{APIKey: upstreamKey, BaseURL: up + "/v1"})}
	})
	// include_usage set by the client: the proxy changes nothing.
	resp, body := h.post("/v1/chat/completions", `{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[]}`)
	if resp.StatusCode != 200 || body != stream {
		t.Fatalf("relayed stream differs:\n%q\nwant\n%q", body, stream)
	}
}

func httpServer(t *testing.T, h http.Handler) string {
	srv := &http.Server{Handler: h}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// TestConcurrentStreamsComplete runs many streams at once and counts the complete ones:
// a proxy that let Go's server close the request body while relaying would cut some.
func TestConcurrentStreamsComplete(t *testing.T) {
	h := newHarness(t)
	const total, workers = 300, 30
	var wg sync.WaitGroup
	var mu sync.Mutex
	complete, ids := 0, map[string]bool{}
	jobs := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				req, _ := http.NewRequest("POST", h.URL()+"/v1/chat/completions",
					strings.NewReader(`{"model":"m","stream":true,"messages":[{"role":"user","content":"`+strings.Repeat("padding ", 500)+`"}]}`))
				req.Header.Set("x-fake-chunks", "20")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					continue
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				mu.Lock()
				if err == nil && bytes.HasSuffix(b, []byte("data: [DONE]\n\n")) {
					complete++
				}
				ids[resp.Header.Get(aiproxy.HeaderRequestID)] = true
				mu.Unlock()
			}
		}()
	}
	for i := range total {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if complete != total {
		t.Fatalf("%d of %d streams complete", complete, total)
	}
	for id := range ids {
		if n := len(h.Rows(id)); n != 2 {
			t.Fatalf("request %s has %d rows", id, n)
		}
	}
}

// TestUpstreamKeyNeverLogged runs every kind of exchange, then searches the whole database
// (and its WAL) for the upstream key.
func TestUpstreamKeyNeverLogged(t *testing.T) {
	h := newHarness(t, func(o *aiproxy.Options) { o.MaxRetries = 1 })
	params := userParams("gpt-4o-mini", "secret test")
	h.client.Chat.Completions.New(context.Background(), params)
	s := h.client.Chat.Completions.NewStreaming(context.Background(), params)
	for s.Next() {
	}
	h.post("/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"x"}]}`, "x-fake-status", "500", "x-fake-retry-after", "0")
	h.post("/v1/chat/completions", `{bad json`)
	// An upstream that echoes the key back, as some error pages do.
	echo := httpServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(401)
		io.WriteString(w, `{"error":{"message":"bad key `+strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")+`","type":"x"}}`)
	}))
	e := newHarness(t, func(o *aiproxy.Options) {
		o.Providers = []provider.Provider{provopenai.New(provopenai.Options{APIKey: upstreamKey, BaseURL: echo + "/v1"})}
	})
	resp, _ := e.post("/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"x"}]}`)
	if resp.StatusCode != 401 {
		t.Fatalf("echo status %d", resp.StatusCode)
	}
	for _, hh := range []*harness{h, e} {
		hh.RowsN("flush", 0)
		entries, _ := filepath.Glob(hh.DBPath + "*")
		if len(entries) == 0 {
			t.Fatal("no database files")
		}
		for _, f := range entries {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte(upstreamKey)) || bytes.Contains(b, []byte(upstreamKey[10:])) {
				t.Errorf("upstream key found in %s", filepath.Base(f))
			}
		}
	}
}

var (
	_ = bufio.NewReader
	_ = openai.String
)

func TestUpstreamCutsBody(t *testing.T) {
	h := newHarness(t)
	req, _ := http.NewRequest("POST", h.URL()+"/v1/chat/completions", strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"cut body"}]}`))
	req.Header.Set("x-fake-cut-after", "40")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil {
		t.Fatal("client read a cut body as complete")
	}
	e := h.Row(h.RowsN(requestID(t, resp), 2), "error")
	if !strings.Contains(e.Content, "ended early") || len(e.RawBody) != 40 || e.StatusCode != 502 {
		t.Errorf("error row %d %q with %d body bytes", e.StatusCode, e.Content, len(e.RawBody))
	}
}

func TestBinaryBodyRelayedNotLogged(t *testing.T) {
	audio := bytes.Repeat([]byte{0xff, 0x00, 0xfe}, 50000)
	up := httpServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "audio/mpeg")
		for i := 0; i < len(audio); i += 30000 {
			w.Write(audio[i:min(i+30000, len(audio))])
			w.(http.Flusher).Flush()
		}
	}))
	h := newHarness(t, func(o *aiproxy.Options) {
		o.Providers = []provider.Provider{provopenai.New(provopenai.Options{APIKey: upstreamKey, BaseURL: up + "/v1"})}
	})
	resp, body := h.post("/v1/audio/speech", `{"model":"tts-1","input":"hi","voice":"alloy"}`)
	if resp.StatusCode != 200 || body != string(audio) {
		t.Fatalf("status %d, %d bytes of %d", resp.StatusCode, len(body), len(audio))
	}
	row := h.Row(h.Rows(requestID(t, resp)), "response")
	if row.RawBody != nil || row.StatusCode != 200 || row.Endpoint != "/audio/speech" {
		t.Errorf("binary row: %d body bytes, status %d, endpoint %q", len(row.RawBody), row.StatusCode, row.Endpoint)
	}
}
