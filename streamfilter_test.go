package aiproxy_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openai/openai-go/v3/option"

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/metrics"
)

// chunkFilter is a StreamFilter made of functions, for tests.
type chunkFilter struct {
	mode    aiproxy.StreamMode
	chunk   func(c *aiproxy.Chunk) error
	whole   func(resp *aiproxy.Response) error
	mu      sync.Mutex
	texts   []string
	wholeN  atomic.Int32
	chunksN atomic.Int32
}

func (f *chunkFilter) StreamMode() aiproxy.StreamMode { return f.mode }

func (f *chunkFilter) FilterChunk(ctx context.Context, x *aiproxy.Exchange, c *aiproxy.Chunk) error {
	f.chunksN.Add(1)
	if c.HasText {
		f.mu.Lock()
		f.texts = append(f.texts, c.Text)
		f.mu.Unlock()
	}
	if f.chunk != nil {
		return f.chunk(c)
	}
	return nil
}

func (f *chunkFilter) FilterResponse(ctx context.Context, x *aiproxy.Exchange, resp *aiproxy.Response) error {
	f.wholeN.Add(1)
	if f.whole != nil {
		return f.whole(resp)
	}
	return nil
}

func (f *chunkFilter) seen() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.texts, "")
}

func withFilter(f any) harnessOption {
	return func(o *aiproxy.Options) { o.ResponseFilters = append(o.ResponseFilters, f.(aiproxy.ResponseFilter)) }
}

// readStream reads a chat stream through the SDK and returns its text and error.
func readStream(h *harness, text string, opts ...option.RequestOption) (string, *http.Response, error) {
	var httpResp *http.Response
	opts = append(opts, option.WithResponseInto(&httpResp))
	stream := h.client.Chat.Completions.NewStreaming(context.Background(), userParams("gpt-4o-mini", text), opts...)
	var sb strings.Builder
	for stream.Next() {
		if ch := stream.Current(); len(ch.Choices) > 0 {
			sb.WriteString(ch.Choices[0].Delta.Content)
		}
	}
	return sb.String(), httpResp, stream.Err()
}

func TestObserveFilterSeesEveryChunkAndKeepsTheStream(t *testing.T) {
	f := &chunkFilter{mode: aiproxy.ObserveStream}
	h := newHarness(t, withFilter(f))
	got, resp, err := readStream(h, "watch me")
	if err != nil {
		t.Fatal(err)
	}
	if want := "Hello! You said: watch me"; got != want {
		t.Fatalf("client got %q, want %q", got, want)
	}
	if f.seen() != got {
		t.Fatalf("filter saw %q, client got %q", f.seen(), got)
	}
	if f.wholeN.Load() != 0 {
		t.Fatal("FilterResponse called for a stream in observe mode")
	}
	if f.chunksN.Load() < 3 {
		t.Fatalf("filter saw %d chunks", f.chunksN.Load())
	}
	rec := h.Row(h.RowsN(requestID(t, resp), 2), "response")
	if rec.Content != got || rec.StatusCode != 200 || rec.PromptTokens == 0 || rec.TokensEstimated {
		t.Fatalf("response row content %q status %d tokens %d estimated %v", rec.Content, rec.StatusCode, rec.PromptTokens, rec.TokensEstimated)
	}

	// A non-streamed response still goes to FilterResponse.
	if _, err := h.client.Chat.Completions.New(context.Background(), userParams("gpt-4o-mini", "whole")); err != nil {
		t.Fatal(err)
	}
	if f.wholeN.Load() != 1 {
		t.Fatalf("FilterResponse called %d times for one non-streamed response", f.wholeN.Load())
	}
}

func TestTransformFilterRewritesStreamText(t *testing.T) {
	f := &chunkFilter{mode: aiproxy.TransformStream, chunk: func(c *aiproxy.Chunk) error {
		c.Text = strings.ToUpper(c.Text)
		return nil
	}}
	h := newHarness(t, withFilter(f))
	got, resp, err := readStream(h, "make it loud")
	if err != nil {
		t.Fatal(err)
	}
	if want := "HELLO! YOU SAID: MAKE IT LOUD"; got != want {
		t.Fatalf("client got %q, want %q", got, want)
	}
	rec := h.Row(h.RowsN(requestID(t, resp), 2), "response")
	if rec.Content != got {
		t.Fatalf("logged content %q, client got %q", rec.Content, got)
	}
	if rec.PromptTokens == 0 || rec.CompletionTokens == 0 || rec.TokensEstimated {
		t.Fatalf("usage lost by the transform: %d/%d estimated %v", rec.PromptTokens, rec.CompletionTokens, rec.TokensEstimated)
	}
}

func TestTransformFilterDropsChunks(t *testing.T) {
	f := &chunkFilter{mode: aiproxy.TransformStream, chunk: func(c *aiproxy.Chunk) error {
		if c.HasText && strings.Contains(c.Text, "drop") {
			c.Raw = nil // the fake sends four characters a chunk: " drop" is one
		}
		return nil
	}}
	h := newHarness(t, withFilter(f))
	got, _, err := readStream(h, "drop")
	if err != nil {
		t.Fatal(err)
	}
	if got != "Hello! You said:" {
		t.Fatalf("client got %q", got)
	}
}

func TestObserveFilterStopsStreamMidway(t *testing.T) {
	f := &chunkFilter{mode: aiproxy.ObserveStream}
	f.chunk = func(c *aiproxy.Chunk) error {
		if strings.Contains(f.seen(), "said") {
			return aiproxy.Errorf(http.StatusBadRequest, "the answer mentions a forbidden word")
		}
		return nil
	}
	h := newHarness(t, withFilter(f))
	got, resp, err := readStream(h, "stop me please")
	if err == nil {
		t.Fatalf("stream ended without an error; client got %q", got)
	}
	if !strings.Contains(err.Error(), "forbidden word") {
		t.Fatalf("SDK error %v does not carry the filter's message", err)
	}
	if strings.Contains(got, "said") {
		t.Fatalf("the chunk that tripped the filter reached the client: %q", got)
	}
	if got == "" {
		t.Fatal("nothing reached the client before the stop: the test does not cover a stop midway")
	}
	recs := h.RowsN(requestID(t, resp), 2)
	rec := h.Row(recs, "error")
	if rec == nil || rec.StatusCode != http.StatusBadRequest || rec.Content != "the answer mentions a forbidden word" {
		t.Fatalf("rows %+v", recs)
	}
}

func TestObserveFilterStopsStreamBeforeFirstByte(t *testing.T) {
	f := &chunkFilter{mode: aiproxy.ObserveStream, chunk: func(c *aiproxy.Chunk) error {
		return aiproxy.Errorf(http.StatusForbidden, "no streams today")
	}}
	h := newHarness(t, withFilter(f))
	_, _, err := readStream(h, "anything")
	apiErr := apiError(t, err)
	if apiErr.StatusCode != http.StatusForbidden || apiErr.Message != "no streams today" {
		t.Fatalf("error %d %q", apiErr.StatusCode, apiErr.Message)
	}
}

// slowFilter blocks each request until released or the test ends.
func slowFilter(release <-chan struct{}) aiproxy.RequestFilterFunc {
	return func(ctx context.Context, x *aiproxy.Exchange) (*aiproxy.Reply, error) {
		x.Request.Header.Set("X-Slow-Filter", "changed")
		<-release
		return nil, nil
	}
}

func TestFilterPolicyTimeout(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	m := metrics.New()
	closed := newHarness(t, func(o *aiproxy.Options) { o.Metrics = m })
	if err := closed.Proxy.AddFilter(aiproxy.WithPolicy(slowFilter(release), aiproxy.FilterPolicy{Timeout: 50 * time.Millisecond, Name: "slow"})); err != nil {
		t.Fatal(err)
	}
	_, err := closed.client.Chat.Completions.New(context.Background(), userParams("gpt-4o-mini", "hi"))
	if apiErr := apiError(t, err); apiErr.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("fail-closed timeout answered %d", apiErr.StatusCode)
	}
	if closed.fake.Hits() != 0 {
		t.Fatal("upstream called after a fail-closed filter timed out")
	}

	open := newHarness(t, func(o *aiproxy.Options) { o.Metrics = m })
	if err := open.Proxy.AddFilter(aiproxy.WithPolicy(slowFilter(release), aiproxy.FilterPolicy{Timeout: 50 * time.Millisecond, FailOpen: true, Name: "slow"})); err != nil {
		t.Fatal(err)
	}
	got, err := open.client.Chat.Completions.New(context.Background(), userParams("gpt-4o-mini", "hi"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Choices[0].Message.Content != "Hello! You said: hi" {
		t.Fatalf("reply %q", got.Choices[0].Message.Content)
	}
	// The abandoned filter's change to its copy of the request never went upstream.
	if h := open.fake.Requests()[0].Header.Get("X-Slow-Filter"); h != "" {
		t.Fatalf("timed-out filter's header change reached the upstream: %q", h)
	}
	body := scrape(t, m)
	if !strings.Contains(body, `aiproxy_filter_failures_total{filter="slow",reason="timeout"} 2`) {
		t.Fatalf("filter failures not counted:\n%s", grepLines(body, "filter_failures"))
	}
}

func TestFilterPolicyPanicFailOpen(t *testing.T) {
	h := newHarness(t)
	boom := aiproxy.RequestFilterFunc(func(ctx context.Context, x *aiproxy.Exchange) (*aiproxy.Reply, error) { panic("boom") })
	if err := h.Proxy.AddFilter(aiproxy.WithPolicy(boom, aiproxy.FilterPolicy{FailOpen: true})); err != nil {
		t.Fatal(err)
	}
	if _, err := h.client.Chat.Completions.New(context.Background(), userParams("gpt-4o-mini", "hi")); err != nil {
		t.Fatalf("fail-open filter's panic failed the request: %v", err)
	}
}

func TestSetFiltersWhileServing(t *testing.T) {
	h := newHarness(t)
	if _, err := h.client.Chat.Completions.New(context.Background(), userParams("gpt-4o-mini", "hi")); err != nil {
		t.Fatal(err)
	}
	if err := h.Proxy.AddFilter(aiproxy.RequestFilterFunc(nil)); err == nil {
		t.Fatal("AddFilter accepted a filter while serving")
	}
	deny := aiproxy.RequestFilterFunc(func(ctx context.Context, x *aiproxy.Exchange) (*aiproxy.Reply, error) {
		return nil, aiproxy.Errorf(http.StatusForbidden, "closed for maintenance")
	})
	if err := h.Proxy.SetFilters(deny); err != nil {
		t.Fatal(err)
	}
	_, err := h.client.Chat.Completions.New(context.Background(), userParams("gpt-4o-mini", "hi"))
	if apiErr := apiError(t, err); apiErr.StatusCode != http.StatusForbidden {
		t.Fatalf("after SetFilters: %d", apiErr.StatusCode)
	}
	if err := h.Proxy.SetFilters("not a filter"); err == nil {
		t.Fatal("SetFilters accepted a string")
	}
	// The refused set left the previous one in place.
	_, err = h.client.Chat.Completions.New(context.Background(), userParams("gpt-4o-mini", "hi"))
	if apiErr := apiError(t, err); apiErr.StatusCode != http.StatusForbidden {
		t.Fatalf("after a refused SetFilters: %d", apiErr.StatusCode)
	}
	if err := h.Proxy.SetFilters(); err != nil {
		t.Fatal(err)
	}
	if _, err := h.client.Chat.Completions.New(context.Background(), userParams("gpt-4o-mini", "hi")); err != nil {
		t.Fatal(err)
	}
}

type maskLog struct{ word string }

func (m maskLog) FilterLog(rec *accesslog.Record) {
	rec.Content = strings.ReplaceAll(rec.Content, m.word, "[MASKED]")
	rec.RawBody = []byte(strings.ReplaceAll(string(rec.RawBody), m.word, "[MASKED]"))
}

func TestLogFilterMasksOnlyTheLog(t *testing.T) {
	h := newHarness(t)
	if err := h.Proxy.AddFilter(maskLog{word: "hunter2"}); err != nil {
		t.Fatal(err)
	}
	var httpResp *http.Response
	got, err := h.client.Chat.Completions.New(context.Background(), userParams("gpt-4o-mini", "my password is hunter2"), option.WithResponseInto(&httpResp))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got.Choices[0].Message.Content, "hunter2") {
		t.Fatalf("the client's answer was masked: %q", got.Choices[0].Message.Content)
	}
	for _, rec := range h.RowsN(requestID(t, httpResp), 2) {
		if strings.Contains(rec.Content, "hunter2") || strings.Contains(string(rec.RawBody), "hunter2") {
			t.Fatalf("%s row keeps the word: %q", rec.Direction, rec.Content)
		}
		if rec.PromptTokens == 0 && rec.Direction == "response" {
			t.Fatal("tokens lost")
		}
	}
}

func TestWithPolicyRejectsNonFilters(t *testing.T) {
	h := newHarness(t)
	if err := h.Proxy.AddFilter(aiproxy.WithPolicy(42, aiproxy.FilterPolicy{})); err == nil {
		t.Fatal("AddFilter accepted an int")
	}
}

// scrape returns the metrics text of m.
func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return rec.Body.String()
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
