package metrics

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/aiproxy-go/aiproxy/accesslog"
)

// scrape returns what GET /metrics answers.
func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	return string(b)
}

func wantLines(t *testing.T, text string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(text, "\n"+l+"\n") {
			t.Errorf("exposition lacks %q", l)
		}
	}
}

func TestObserveExchange(t *testing.T) {
	m := New()
	m.ObserveExchange(Exchange{
		Provider: "openai", Model: "gpt-4o-mini", Status: 200,
		InputTokens: 1000, OutputTokens: 200, CachedTokens: 600, CostUSD: 0.0003,
		Total: 850 * time.Millisecond, Upstream: 800 * time.Millisecond,
	})
	m.ObserveExchange(Exchange{
		Provider: "openai", Model: "gpt-4o-mini", Status: 200, Stream: true,
		InputTokens: 500, OutputTokens: 300, ReasoningTokens: 100, CostUSD: 0.0002,
		Total: 2 * time.Second, Upstream: 1999 * time.Millisecond, TimeToFirstToken: 300 * time.Millisecond,
		ChunkGaps: []time.Duration{20 * time.Millisecond, 30 * time.Millisecond, 2 * time.Second},
	})
	m.ObserveExchange(Exchange{
		Provider: "anthropic", Model: "claude-sonnet-4-5", Status: 429,
		Total: 120 * time.Millisecond, Upstream: 100 * time.Millisecond,
	})
	// Answered by the proxy itself: no upstream, no latency observed.
	m.ObserveExchange(Exchange{Provider: "openai", Model: "gpt-4o-mini", Status: 400, Total: time.Millisecond})
	m.WatchLog(func() LogStats { return LogStats{Queued: 7, Written: 1200, Failed: 3, Spilled: 2, Blocked: 1} })

	text := scrape(t, m)
	wantLines(t, text,
		`aiproxy_requests_total{code="200",model="gpt-4o-mini",provider="openai",stream="false"} 1`,
		`aiproxy_requests_total{code="200",model="gpt-4o-mini",provider="openai",stream="true"} 1`,
		`aiproxy_requests_total{code="400",model="gpt-4o-mini",provider="openai",stream="false"} 1`,
		`aiproxy_requests_total{code="429",model="claude-sonnet-4-5",provider="anthropic",stream="false"} 1`,
		`aiproxy_tokens_total{kind="input",model="gpt-4o-mini",provider="openai"} 1500`,
		`aiproxy_tokens_total{kind="output",model="gpt-4o-mini",provider="openai"} 500`,
		`aiproxy_tokens_total{kind="cached",model="gpt-4o-mini",provider="openai"} 600`,
		`aiproxy_tokens_total{kind="reasoning",model="gpt-4o-mini",provider="openai"} 100`,
		`aiproxy_tokens_total{kind="input",model="claude-sonnet-4-5",provider="anthropic"} 0`,
		`aiproxy_cost_usd_total{model="gpt-4o-mini",provider="openai"} 0.0005`,
		`aiproxy_upstream_seconds_count{model="gpt-4o-mini",provider="openai"} 2`,
		`aiproxy_upstream_seconds_bucket{model="gpt-4o-mini",provider="openai",le="1"} 1`,
		`aiproxy_upstream_seconds_bucket{model="gpt-4o-mini",provider="openai",le="2.5"} 2`,
		`aiproxy_upstream_seconds_count{model="claude-sonnet-4-5",provider="anthropic"} 1`,
		// 50 ms, 1 ms and 20 ms of overhead.
		`aiproxy_overhead_seconds_count{provider="openai"} 2`,
		`aiproxy_overhead_seconds_bucket{provider="openai",le="0.001"} 1`,
		`aiproxy_overhead_seconds_bucket{provider="openai",le="0.05"} 2`,
		`aiproxy_overhead_seconds_bucket{provider="anthropic",le="0.025"} 1`,
		`aiproxy_time_to_first_token_seconds_count{model="gpt-4o-mini",provider="openai"} 1`,
		`aiproxy_time_to_first_token_seconds_bucket{model="gpt-4o-mini",provider="openai",le="0.25"} 0`,
		`aiproxy_time_to_first_token_seconds_bucket{model="gpt-4o-mini",provider="openai",le="0.5"} 1`,
		`aiproxy_chunk_gap_seconds_count{model="gpt-4o-mini",provider="openai"} 3`,
		`aiproxy_chunk_gap_seconds_bucket{model="gpt-4o-mini",provider="openai",le="0.025"} 1`,
		`aiproxy_chunk_gap_seconds_bucket{model="gpt-4o-mini",provider="openai",le="0.05"} 2`,
		`aiproxy_chunk_gap_seconds_bucket{model="gpt-4o-mini",provider="openai",le="2.5"} 3`,
		`aiproxy_log_queue_depth 7`,
		`aiproxy_log_rows_written_total 1200`,
		`aiproxy_log_rows_failed_total 3`,
		`aiproxy_log_rows_spilled_total 2`,
		`aiproxy_log_rows_blocked_total 1`,
	)
	for _, want := range []string{"# TYPE aiproxy_log_queue_depth gauge", "# TYPE aiproxy_log_rows_written_total counter",
		"go_goroutines ", "process_cpu_seconds_total "} {
		if !strings.Contains(text, want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
	// Series exist from a model's first exchange, at zero until observed.
	wantLines(t, text, `aiproxy_time_to_first_token_seconds_count{model="claude-sonnet-4-5",provider="anthropic"} 0`)
	if n := testutil.CollectAndCount(m.requests); n != 4 {
		t.Errorf("%d request series, want 4", n)
	}
	if err := testutil.GatherAndCompare(m.reg, strings.NewReader(`
# HELP aiproxy_cost_usd_total Cost of the exchanges in US dollars at the configured list prices.
# TYPE aiproxy_cost_usd_total counter
aiproxy_cost_usd_total{model="claude-sonnet-4-5",provider="anthropic"} 0
aiproxy_cost_usd_total{model="gpt-4o-mini",provider="openai"} 0.0005
`), "aiproxy_cost_usd_total"); err != nil {
		t.Error(err)
	}

	// The log stats are read at each scrape, from the latest function.
	m.WatchLog(func() LogStats { return LogStats{Written: 1300} })
	wantLines(t, scrape(t, m), `aiproxy_log_rows_written_total 1300`, `aiproxy_log_queue_depth 0`)
}

func TestNoLogWatched(t *testing.T) {
	if text := scrape(t, New()); strings.Contains(text, "aiproxy_log_") {
		t.Error("log metrics exposed without WatchLog")
	}
}

func TestNilMetrics(t *testing.T) {
	var m *Metrics
	m.ObserveExchange(Exchange{Provider: "openai", Model: "gpt-4o", Status: 200})
	m.WatchLog(func() LogStats { return LogStats{} })
}

func TestBadValuesIgnored(t *testing.T) {
	m := New()
	m.ObserveExchange(Exchange{Provider: "openai", Model: "gpt-4o", Status: 200, InputTokens: -5, CostUSD: -1,
		Total: -time.Second, Upstream: -time.Second, TimeToFirstToken: -1, ChunkGaps: []time.Duration{-1}})
	m.ObserveExchange(Exchange{Status: 12345})
	wantLines(t, scrape(t, m),
		`aiproxy_tokens_total{kind="input",model="gpt-4o",provider="openai"} 0`,
		`aiproxy_cost_usd_total{model="gpt-4o",provider="openai"} 0`,
		`aiproxy_upstream_seconds_count{model="gpt-4o",provider="openai"} 0`,
		`aiproxy_chunk_gap_seconds_count{model="gpt-4o",provider="openai"} 0`,
		`aiproxy_requests_total{code="0",model="unknown",provider="unknown",stream="false"} 1`,
	)
}

// A model string that is really a credential, a request id or a long random token never
// becomes a label value.
func TestSecretModelNotALabel(t *testing.T) {
	secrets := []string{
		"sk-proj-Zq3vN8rT2xW9yB4mK7pL1cH6dF0gJ5sA",
		"sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
		"AKIAIOSFODNN7EXAMPLE",
		"AIzaSyD-1234567890abcdefghijklmnopqrstu",
		"Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
		"ghp_16C7e42F292c6912E7710c838347Ae178B4a",
		"chatcmpl-9f8e7d6c5b4a39281706f5e4d3c2b1a0",
		"9f8e7d6c5b4a39281706f5e4d3c2b1a0",
		"x8Kp2LmQ7rVt4Nw9",
		"gpt-4o\nsk-inject",
		`gpt-4o"} 1` + "\n" + `evil{a="b`,
	}
	m := New()
	for _, s := range secrets {
		m.ObserveExchange(Exchange{Provider: "openai", Model: s, Status: 200})
	}
	text := scrape(t, m)
	for _, s := range secrets {
		for _, part := range []string{s, s[:12]} {
			if strings.Contains(text, part) {
				t.Errorf("the exposition contains %q", part)
			}
		}
	}
	wantLines(t, text, fmt.Sprintf(`aiproxy_requests_total{code="200",model="other",provider="openai",stream="false"} %d`, len(secrets)))
}

func TestLabelValue(t *testing.T) {
	tests := []struct{ in, want string }{
		{"gpt-4o-2024-08-06", "gpt-4o-2024-08-06"},
		{"claude-3-5-sonnet-20241022", "claude-3-5-sonnet-20241022"},
		{"us.anthropic.claude-sonnet-4-5-20250929-v1:0", "us.anthropic.claude-sonnet-4-5-20250929-v1:0"},
		{"models/gemini-2.5-flash", "models/gemini-2.5-flash"},
		{"meta-llama/Meta-Llama-3.1-8B-Instruct", "meta-llama/Meta-Llama-3.1-8B-Instruct"},
		{"ft:gpt-4o-mini-2024-07-18:acme::9AbCdEfG", "ft:gpt-4o-mini-2024-07-18:acme::9AbCdEfG"},
		{"text-embedding-3-small", "text-embedding-3-small"},
		{"", "unknown"},
		{"gpt 4o", "other"},
		{"gpt-4o\u00e9", "other"},
		{strings.Repeat("ab-", 40), strings.Repeat("ab-", 40)[:64]},
		// An ARN keeps its profile id, not the account number.
		{"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0",
			"us.anthropic.claude-3-5-haiku-20241022-v1:0"},
		{"arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aapplication-inference-profile%2Fab12cd34ef56",
			"ab12cd34ef56"},
		{"arn:aws:bedrock", "other"},
	}
	for _, tt := range tests {
		if got := labelValue(tt.in); got != tt.want {
			t.Errorf("labelValue(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestModelLabelsBounded(t *testing.T) {
	m := New()
	for i := range maxModelsPerProvider + 50 {
		m.ObserveExchange(Exchange{Provider: "openai", Model: fmt.Sprintf("model-%d", i), Status: 200})
	}
	m.ObserveExchange(Exchange{Provider: "anthropic", Model: "claude-3-haiku", Status: 200})
	text := scrape(t, m)
	wantLines(t, text,
		`aiproxy_requests_total{code="200",model="other",provider="openai",stream="false"} 50`,
		`aiproxy_requests_total{code="200",model="model-0",provider="openai",stream="false"} 1`,
		`aiproxy_requests_total{code="200",model="claude-3-haiku",provider="anthropic",stream="false"} 1`,
	)
	if n := testutil.CollectAndCount(m.requests); n != maxModelsPerProvider+2 {
		t.Errorf("%d request series, want %d", n, maxModelsPerProvider+2)
	}
	// A model seen before the limit keeps its label.
	m.ObserveExchange(Exchange{Provider: "openai", Model: "model-3", Status: 200})
	wantLines(t, scrape(t, m), `aiproxy_requests_total{code="200",model="model-3",provider="openai",stream="false"} 2`)
}

func TestConcurrentObserve(t *testing.T) {
	m := New()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				m.ObserveExchange(Exchange{Provider: "openai", Model: fmt.Sprintf("m-%d", i%7), Status: 200 + g%2,
					InputTokens: 1, Upstream: time.Millisecond, Total: 2 * time.Millisecond})
			}
		})
	}
	wg.Go(func() { scrape(t, m) })
	wg.Wait()
	if got := testutil.ToFloat64(m.tokens.WithLabelValues("openai", "m-0", "input")); got != 8*29 {
		t.Errorf("input tokens of m-0: %v, want %v", got, 8*29)
	}
}

func TestExchangeFromRecord(t *testing.T) {
	if _, ok := ExchangeFromRecord(&accesslog.Record{Direction: accesslog.DirectionRequest}); ok {
		t.Error("a request row is an exchange")
	}
	if _, ok := ExchangeFromRecord(nil); ok {
		t.Error("nil is an exchange")
	}
	x, ok := ExchangeFromRecord(&accesslog.Record{
		Direction: accesslog.DirectionResponse, Provider: "openai", Model: "gpt-4o", StatusCode: 200, Stream: true,
		PromptTokens: 10, CompletionTokens: 20, CachedTokens: 5, ReasoningTokens: 7, CostUSD: 0.01,
		RequestTime: 1.5, RequestTimeAPI: 1.25, TimeToFirstToken: 0.2, ChunkTimes: []float64{200, 210.5, 260},
	})
	if !ok {
		t.Fatal("a response row is not an exchange")
	}
	want := Exchange{Provider: "openai", Model: "gpt-4o", Status: 200, Stream: true,
		InputTokens: 10, OutputTokens: 20, CachedTokens: 5, ReasoningTokens: 7, CostUSD: 0.01,
		Total: 1500 * time.Millisecond, Upstream: 1250 * time.Millisecond, TimeToFirstToken: 200 * time.Millisecond}
	gaps := x.ChunkGaps
	x.ChunkGaps = nil
	if !reflect.DeepEqual(x, want) {
		t.Errorf("exchange\n got %+v\nwant %+v", x, want)
	}
	if len(gaps) != 2 || gaps[0] != 10500*time.Microsecond || gaps[1] != 49500*time.Microsecond {
		t.Errorf("gaps %v", gaps)
	}
	if g := GapsFromOffsets([]float64{5}); g != nil {
		t.Errorf("one chunk: gaps %v", g)
	}
}
