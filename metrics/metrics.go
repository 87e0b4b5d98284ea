// Package metrics exposes the proxy's Prometheus metrics: requests, tokens and cost per
// provider and model, the latencies of the upstream, of the proxy itself, of the first token
// and between stream chunks, and the state of the access-log pipeline.
//
// A Metrics has its own registry (with the Go runtime and process collectors), served by
// Handler. The proxy calls ObserveExchange once per finished exchange from the log writer's
// goroutine, off the request path (ExchangeFromRecord builds the Exchange of an access-log
// row), and WatchLog once to have the log writer's counts read at scrape time.
//
// Labels are bounded: a model name is clipped to 64 characters, a name with a character
// outside [A-Za-z0-9._:/-] or that looks like a credential becomes "other", and each provider
// gets at most 500 distinct model names, the rest counting as "other". No request id,
// key or user ever becomes a label.
package metrics

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Bucket bounds of the histograms, in seconds.
var (
	// latencyBuckets cover an LLM call: 10 ms to 5 minutes.
	latencyBuckets = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300}
	// overheadBuckets cover the proxy's own time: 50 µs to 1 s.
	overheadBuckets = []float64{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}
	// gapBuckets cover the pause between two chunks of a stream: 1 ms to 1 minute.
	gapBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}
)

const (
	// maxModelsPerProvider bounds the model label values of one provider.
	maxModelsPerProvider = 500
	// maxCachedSeries bounds the cache of resolved label sets; past it, observations take the
	// slower path through the vectors.
	maxCachedSeries = 4096
)

// Exchange is what the metrics record of one finished exchange.
type Exchange struct {
	Provider, Model string
	Status          int  // HTTP status sent to the client (499 when it went away)
	Stream          bool // the client asked for a stream

	InputTokens, OutputTokens, CachedTokens, ReasoningTokens int
	CostUSD                                                  float64

	Total            time.Duration   // the whole exchange, as the client saw it
	Upstream         time.Duration   // the upstream call; 0 when none was made
	TimeToFirstToken time.Duration   // streams: until the first chunk was sent; 0 otherwise
	ChunkGaps        []time.Duration // streams: the pause before each chunk after the first
}

// LogStats are the access-log writer's counts, read at each scrape.
type LogStats struct {
	Queued  int    // records accepted and not yet stored or given up on
	Written uint64 // records stored
	Failed  uint64 // records given up on
	Spilled uint64 // records written to the spill file
	// SpillPending are records in the spill file not yet replayed into the database.
	SpillPending int
	Blocked      uint64 // writes that found the queue full and waited
}

// Metrics are the proxy's Prometheus metrics. Its methods are safe for concurrent use.
type Metrics struct {
	reg     *prometheus.Registry
	handler http.Handler

	requests *prometheus.CounterVec
	tokens   *prometheus.CounterVec
	cost     *prometheus.CounterVec
	upstream *prometheus.HistogramVec
	overhead *prometheus.HistogramVec
	ttft     *prometheus.HistogramVec
	gaps     *prometheus.HistogramVec
	filters  *prometheus.CounterVec

	mu     sync.Mutex
	series map[rawKey]*series         // by the raw provider and model of an exchange
	models map[string]map[string]bool // model label values handed out, per provider label

	logStats atomic.Pointer[func() LogStats]
	logOnce  sync.Once
}

type rawKey struct{ provider, model string }

// series are the metric children of one provider and model, resolved once.
type series struct {
	provider, model                   string
	input, output, cached, reasoning  prometheus.Counter
	cost                              prometheus.Counter
	upstream, overhead, ttft, gapHist prometheus.Observer
	requests                          map[reqKey]prometheus.Counter // guarded by Metrics.mu
}

type reqKey struct {
	status int
	stream bool
}

// New returns the metrics on a new registry that also holds the Go runtime and process
// collectors.
func New() *Metrics {
	pm := []string{"provider", "model"}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aiproxy_requests_total",
			Help: "Exchanges finished, by provider, model, HTTP status sent to the client (499: the client went away) and whether the client asked for a stream.",
		}, []string{"provider", "model", "code", "stream"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aiproxy_tokens_total",
			Help: "Tokens as the provider counted them (or as estimated): input includes cached, output includes reasoning.",
		}, []string{"provider", "model", "kind"}),
		cost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aiproxy_cost_usd_total",
			Help: "Cost of the exchanges in US dollars at the configured list prices.",
		}, pm),
		upstream: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "aiproxy_upstream_seconds",
			Help:    "Time from sending the request upstream to the end of its response (the whole stream for streams).",
			Buckets: latencyBuckets,
		}, pm),
		overhead: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "aiproxy_overhead_seconds",
			Help:    "Time the proxy added to an exchange that went upstream: the whole exchange minus the upstream call.",
			Buckets: overheadBuckets,
		}, []string{"provider"}),
		ttft: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "aiproxy_time_to_first_token_seconds",
			Help:    "Streams: time from receiving the request to sending the first chunk to the client.",
			Buckets: latencyBuckets,
		}, pm),
		gaps: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "aiproxy_chunk_gap_seconds",
			Help:    "Streams: pause between two consecutive chunks sent to the client.",
			Buckets: gapBuckets,
		}, pm),
		filters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aiproxy_filter_failures_total",
			Help: "Filter calls that panicked or ran past their time limit, by filter and reason (panic, timeout).",
		}, []string{"filter", "reason"}),
		series: make(map[rawKey]*series),
		models: make(map[string]map[string]bool),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.tokens, m.cost, m.upstream, m.overhead, m.ttft, m.gaps, m.filters,
	)
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      m.reg, // counts its own errors in promhttp_metric_handler_errors_total
	})
	return m
}

// Handler serves the metrics in the Prometheus text format, for GET /metrics. It is the same
// handler at every call.
func (m *Metrics) Handler() http.Handler { return m.handler }

// Registerer is where a program embedding the proxy registers metrics of its own, to have
// them served by Handler too.
func (m *Metrics) Registerer() prometheus.Registerer { return m.reg }

// ObserveFilterFailure counts one filter call that panicked or timed out; reason is "panic"
// or "timeout". Filter names are the operator's (config names or Go types), never request
// data. On a nil *Metrics it does nothing.
func (m *Metrics) ObserveFilterFailure(filter, reason string) {
	if m == nil {
		return
	}
	m.filters.WithLabelValues(filter, reason).Inc()
}

// ObserveExchange records one finished exchange. It is cheap (a map look-up and a few atomic
// adds once a provider and model have been seen) but meant for the log writer's goroutine,
// not the request path. On a nil *Metrics it does nothing.
func (m *Metrics) ObserveExchange(e Exchange) {
	if m == nil {
		return
	}
	s, req := m.resolve(e.Provider, e.Model, e.Status, e.Stream)
	req.Inc()
	addTokens(s.input, e.InputTokens)
	addTokens(s.output, e.OutputTokens)
	addTokens(s.cached, e.CachedTokens)
	addTokens(s.reasoning, e.ReasoningTokens)
	if e.CostUSD > 0 && !math.IsInf(e.CostUSD, 0) {
		s.cost.Add(e.CostUSD)
	}
	if e.Upstream > 0 {
		s.upstream.Observe(e.Upstream.Seconds())
		if e.Total >= e.Upstream {
			s.overhead.Observe((e.Total - e.Upstream).Seconds())
		}
	}
	if e.TimeToFirstToken > 0 {
		s.ttft.Observe(e.TimeToFirstToken.Seconds())
	}
	for _, g := range e.ChunkGaps {
		if g >= 0 {
			s.gapHist.Observe(g.Seconds())
		}
	}
}

func addTokens(c prometheus.Counter, n int) {
	if n > 0 {
		c.Add(float64(n))
	}
}

// resolve returns the children of a provider and model, and the request counter of a status.
func (m *Metrics) resolve(provider, model string, status int, stream bool) (*series, prometheus.Counter) {
	if status < 0 || status > 999 {
		status = 0
	}
	rk, qk := rawKey{provider, model}, reqKey{status, stream}
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.series[rk]
	if s == nil {
		s = m.newSeries(provider, model)
		if len(m.series) < maxCachedSeries {
			m.series[rk] = s
		}
	}
	c := s.requests[qk]
	if c == nil {
		c = m.requests.WithLabelValues(s.provider, s.model, strconv.Itoa(status), strconv.FormatBool(stream))
		if len(s.requests) < 64 {
			s.requests[qk] = c
		}
	}
	return s, c
}

// newSeries resolves the labels of a provider and model. m.mu is held.
func (m *Metrics) newSeries(provider, model string) *series {
	p := labelValue(provider)
	ml := labelValue(model)
	seen := m.models[p]
	if seen == nil {
		seen = make(map[string]bool)
		m.models[p] = seen
	}
	if !seen[ml] {
		if len(seen) >= maxModelsPerProvider {
			ml = otherLabel
		}
		seen[ml] = true
	}
	return &series{
		provider:  p,
		model:     ml,
		input:     m.tokens.WithLabelValues(p, ml, "input"),
		output:    m.tokens.WithLabelValues(p, ml, "output"),
		cached:    m.tokens.WithLabelValues(p, ml, "cached"),
		reasoning: m.tokens.WithLabelValues(p, ml, "reasoning"),
		cost:      m.cost.WithLabelValues(p, ml),
		upstream:  m.upstream.WithLabelValues(p, ml),
		overhead:  m.overhead.WithLabelValues(p),
		ttft:      m.ttft.WithLabelValues(p, ml),
		gapHist:   m.gaps.WithLabelValues(p, ml),
		requests:  make(map[reqKey]prometheus.Counter),
	}
}

// WatchLog has the access-log writer's counts read from stats at every scrape, as
// aiproxy_log_queue_depth and aiproxy_log_rows_{written,failed,spilled,blocked}_total. A later
// call replaces the function. On a nil *Metrics it does nothing.
func (m *Metrics) WatchLog(stats func() LogStats) {
	if m == nil || stats == nil {
		return
	}
	m.logStats.Store(&stats)
	m.logOnce.Do(func() { m.reg.MustRegister(logCollector{m}) })
}

var (
	descQueue   = prometheus.NewDesc("aiproxy_log_queue_depth", "Access-log records accepted and not yet stored or given up on.", nil, nil)
	descWritten = prometheus.NewDesc("aiproxy_log_rows_written_total", "Access-log records stored.", nil, nil)
	descFailed  = prometheus.NewDesc("aiproxy_log_rows_failed_total", "Access-log records given up on after retries.", nil, nil)
	descSpilled = prometheus.NewDesc("aiproxy_log_rows_spilled_total", "Access-log records written to the spill file because the queue was full or the database did not answer.", nil, nil)
	descPending = prometheus.NewDesc("aiproxy_log_spill_pending", "Access-log records in the spill file waiting to be replayed into the database.", nil, nil)
	descBlocked = prometheus.NewDesc("aiproxy_log_rows_blocked_total", "Access-log writes that found the queue full and waited for room.", nil, nil)
)

// logCollector reads the log writer's counts once per scrape.
type logCollector struct{ m *Metrics }

func (c logCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descQueue, descWritten, descFailed, descSpilled, descPending, descBlocked} {
		ch <- d
	}
}

func (c logCollector) Collect(ch chan<- prometheus.Metric) {
	f := c.m.logStats.Load()
	if f == nil {
		return
	}
	s := (*f)()
	ch <- prometheus.MustNewConstMetric(descQueue, prometheus.GaugeValue, float64(s.Queued))
	ch <- prometheus.MustNewConstMetric(descWritten, prometheus.CounterValue, float64(s.Written))
	ch <- prometheus.MustNewConstMetric(descFailed, prometheus.CounterValue, float64(s.Failed))
	ch <- prometheus.MustNewConstMetric(descSpilled, prometheus.CounterValue, float64(s.Spilled))
	ch <- prometheus.MustNewConstMetric(descPending, prometheus.GaugeValue, float64(s.SpillPending))
	ch <- prometheus.MustNewConstMetric(descBlocked, prometheus.CounterValue, float64(s.Blocked))
}
