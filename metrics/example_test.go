package metrics_test

import (
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/aiproxy-go/aiproxy/metrics"
)

func Example() {
	m := metrics.New()
	// Once, with the log writer's counts; read at every scrape.
	m.WatchLog(func() metrics.LogStats { return metrics.LogStats{Queued: 3, Written: 42} })

	// Per finished exchange, from the log writer's goroutine.
	m.ObserveExchange(metrics.Exchange{
		Provider: "anthropic", Model: "claude-sonnet-4-5-20250929", Status: 200, Stream: true,
		InputTokens: 1200, OutputTokens: 350, CachedTokens: 1000, CostUSD: 0.00615,
		Total: 4200 * time.Millisecond, Upstream: 4195 * time.Millisecond, TimeToFirstToken: 600 * time.Millisecond,
		ChunkGaps: []time.Duration{40 * time.Millisecond, 35 * time.Millisecond},
	})

	// GET /metrics (mount m.Handler() on the proxy's or an admin listener).
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "aiproxy_requests_total") || strings.HasPrefix(line, "aiproxy_cost_usd_total") ||
			strings.HasPrefix(line, "aiproxy_log_rows_written_total") {
			fmt.Println(line)
		}
	}
	// Output:
	// aiproxy_cost_usd_total{model="claude-sonnet-4-5-20250929",provider="anthropic"} 0.00615
	// aiproxy_log_rows_written_total 42
	// aiproxy_requests_total{code="200",model="claude-sonnet-4-5-20250929",provider="anthropic",stream="true"} 1
}
