package metrics

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var benchExchange = Exchange{
	Provider: "openai", Model: "gpt-4o-mini-2024-07-18", Status: 200, Stream: true,
	InputTokens: 1200, OutputTokens: 300, CachedTokens: 1000, ReasoningTokens: 0, CostUSD: 0.00042,
	Total: 2 * time.Second, Upstream: 1999 * time.Millisecond, TimeToFirstToken: 300 * time.Millisecond,
	ChunkGaps: []time.Duration{20 * time.Millisecond, 25 * time.Millisecond, 18 * time.Millisecond},
}

// BenchmarkObserveExchange is one exchange through the cache of resolved series.
func BenchmarkObserveExchange(b *testing.B) {
	m := New()
	b.ReportAllocs()
	for b.Loop() {
		m.ObserveExchange(benchExchange)
	}
}

// BenchmarkObserveExchangeUncached is the same through WithLabelValues on every metric, as
// ObserveExchange would do without its cache: what the cache saves.
func BenchmarkObserveExchangeUncached(b *testing.B) {
	m := New()
	e := benchExchange
	b.ReportAllocs()
	for b.Loop() {
		p, ml := labelValue(e.Provider), labelValue(e.Model)
		m.requests.WithLabelValues(p, ml, "200", "true").Inc()
		for _, k := range []struct {
			kind string
			n    int
		}{{"input", e.InputTokens}, {"output", e.OutputTokens}, {"cached", e.CachedTokens}, {"reasoning", e.ReasoningTokens}} {
			m.tokens.WithLabelValues(p, ml, k.kind).Add(float64(k.n))
		}
		m.cost.WithLabelValues(p, ml).Add(e.CostUSD)
		m.upstream.WithLabelValues(p, ml).Observe(e.Upstream.Seconds())
		m.overhead.WithLabelValues(p).Observe((e.Total - e.Upstream).Seconds())
		m.ttft.WithLabelValues(p, ml).Observe(e.TimeToFirstToken.Seconds())
		var g prometheus.Observer = m.gaps.WithLabelValues(p, ml)
		for _, d := range e.ChunkGaps {
			g.Observe(d.Seconds())
		}
	}
}
