// Package aiproxy is a reverse proxy for LLM APIs that logs every call: a Proxy is an
// http.Handler that relays requests to OpenAI (and other providers), runs request and
// response filters, and writes every request, response and error into an access log
// (SQLite by default) through a background writer, off the request path.
//
// A program embeds it like this:
//
//	store, _ := accesslog.OpenSQLite("aiproxy.db")
//	p, _ := aiproxy.New(aiproxy.Options{
//		Providers: []provider.Provider{openai.New(openai.Options{APIKey: key})},
//		Store:     store,
//	})
//	defer p.Close(context.Background())
//	p.AddFilter(myFilter)
//	http.ListenAndServe("127.0.0.1:8000", p)
package aiproxy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/metrics"
	"github.com/aiproxy-go/aiproxy/pricing"
	"github.com/aiproxy-go/aiproxy/provider"
)

// Version is the version of AIProxy for Go.
const Version = "0.1.0"

// Defaults of Options.
const (
	DefaultMaxBodySize           = 32 << 20
	DefaultConnectTimeout        = 10 * time.Second
	DefaultResponseHeaderTimeout = 10 * time.Minute
	DefaultStreamIdleTimeout     = 5 * time.Minute
)

// Options configures a Proxy. The zero value of each field is a sensible default.
type Options struct {
	// Providers serve the routes, tried in order; the first whose Match accepts a request
	// serves it.
	Providers []provider.Provider
	// RequestFilters and ResponseFilters run in order on every request. AddFilter adds more.
	RequestFilters  []RequestFilter
	ResponseFilters []ResponseFilter

	// Store receives the access log. Nil disables logging.
	Store accesslog.Store
	// Writer tunes the background log writer; its Enrich hook, when set, runs after the
	// proxy's own.
	Writer accesslog.WriterOptions

	// MaxRetries is how often a request is retried upstream after a 429, a 5xx or a
	// connection error, before any byte went to the client. Default 0: client SDKs retry
	// themselves, and retries at two levels multiply.
	MaxRetries int
	// MaxBodySize limits the client's request body; larger ones are answered 413.
	MaxBodySize int64
	// ConnectTimeout limits dialing the upstream.
	ConnectTimeout time.Duration
	// ResponseHeaderTimeout limits the wait for the upstream's response headers.
	ResponseHeaderTimeout time.Duration
	// StreamIdleTimeout limits the wait for the next event of a stream.
	StreamIdleTimeout time.Duration
	// Transport replaces the default upstream transport (tests, custom TLS).
	Transport http.RoundTripper

	// Prices computes each exchange's cost_usd from its token counts. Nil uses
	// pricing.Default(); an operator's file goes over it with pricing.Default().With(t).
	Prices *pricing.Table
	// Metrics, when set, records every finished exchange and the log writer's counts, and
	// the proxy serves them at GET /metrics. Exchanges are observed in the log writer, off
	// the request path, so metrics need a Store.
	Metrics *metrics.Metrics

	// Secrets are scrubbed from every logged body, in case an upstream echoes one. The
	// provider keys belong here.
	Secrets []string
	// Logger receives the proxy's own log lines. Default slog.Default().
	Logger *slog.Logger
}

// Proxy is the AIProxy handler. Create it with New; call Close when done to drain the log.
type Proxy struct {
	opts      Options
	providers []provider.Provider
	byName    map[string]provider.Provider
	filters   atomic.Pointer[filterSet]
	client    *http.Client
	log       *accesslog.Writer
	logger    *slog.Logger
	secrets   [][]byte
	prices    *pricing.Table
	serving   atomic.Bool
	closed    atomic.Bool
}

// New returns a Proxy for the options.
func New(opts Options) (*Proxy, error) {
	if len(opts.Providers) == 0 {
		return nil, errors.New("aiproxy: no provider configured")
	}
	if opts.MaxBodySize <= 0 {
		opts.MaxBodySize = DefaultMaxBodySize
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = DefaultConnectTimeout
	}
	if opts.ResponseHeaderTimeout <= 0 {
		opts.ResponseHeaderTimeout = DefaultResponseHeaderTimeout
	}
	if opts.StreamIdleTimeout <= 0 {
		opts.StreamIdleTimeout = DefaultStreamIdleTimeout
	}
	if opts.MaxRetries < 0 {
		return nil, fmt.Errorf("aiproxy: max retries %d is negative", opts.MaxRetries)
	}
	p := &Proxy{
		opts:      opts,
		providers: opts.Providers,
		byName:    make(map[string]provider.Provider, len(opts.Providers)),
		logger:    opts.Logger,
	}
	if p.logger == nil {
		p.logger = slog.Default()
	}
	fs := &filterSet{}
	for _, f := range opts.RequestFilters {
		fs.req = append(fs.req, reqEntry{f: f, name: fmt.Sprintf("%T", f)})
	}
	for _, f := range opts.ResponseFilters {
		e, err := newRespEntry(f, FilterPolicy{}, fmt.Sprintf("%T", f))
		if err != nil {
			return nil, err
		}
		fs.addResp(e)
	}
	p.filters.Store(fs)
	p.prices = cmp.Or(opts.Prices, pricing.Default())
	for _, pr := range opts.Providers {
		if _, dup := p.byName[pr.Name()]; dup {
			return nil, fmt.Errorf("aiproxy: two providers are named %q", pr.Name())
		}
		p.byName[pr.Name()] = pr
	}
	for _, s := range opts.Secrets {
		if len(s) >= 8 {
			p.secrets = append(p.secrets, []byte(s))
		}
	}
	rt := opts.Transport
	if rt == nil {
		rt = newTransport(opts)
	}
	p.client = &http.Client{Transport: rt, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	if opts.Store != nil {
		wo := opts.Writer
		userEnrich := wo.Enrich
		wo.Enrich = func(r *accesslog.Record) {
			p.enrich(r)
			p.price(r)
			if userEnrich != nil {
				userEnrich(r)
			}
			p.filterLog(r)
			p.observe(r)
		}
		if wo.Logger == nil {
			wo.Logger = p.logger
		}
		p.log = accesslog.NewWriter(opts.Store, wo)
		if opts.Metrics != nil {
			opts.Metrics.WatchLog(func() metrics.LogStats {
				s := p.log.Stats()
				return metrics.LogStats{Queued: s.Queued, Written: s.Written, Failed: s.Failed, Spilled: s.Spilled, SpillPending: s.SpillPending, Blocked: s.Blocked}
			})
		}
	}
	return p, nil
}

// newTransport returns a transport tuned for many concurrent long-lived upstream calls.
func newTransport(opts Options) *http.Transport {
	d := &net.Dialer{Timeout: opts.ConnectTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   opts.ConnectTimeout,
		ResponseHeaderTimeout: opts.ResponseHeaderTimeout,
		ExpectContinueTimeout: time.Second,
		// The proxy asks for identity bodies so the log can read them; it never
		// decompresses a response behind the client's back.
		DisableCompression: true,
	}
}

// AddFilter adds a filter that implements RequestFilter, ResponseFilter (and maybe
// StreamFilter), LogFilter or several of them, after the filters already there. Wrap it
// with WithPolicy to set a time limit or let it fail open. Add filters before the proxy
// serves its first request; to change filters while serving, use SetFilters.
func (p *Proxy) AddFilter(f any) error {
	if p.serving.Load() {
		return errors.New("aiproxy: add filters before serving, or use SetFilters")
	}
	fs := p.filters.Load().clone()
	if err := fs.add(f); err != nil {
		return err
	}
	p.filters.Store(fs)
	return nil
}

// SetFilters replaces all filters at once, while the proxy serves: requests already under
// way finish with the filters they started with, new ones get the new set. On an error
// the filters stay as they were. Use it to reload a configuration.
func (p *Proxy) SetFilters(filters ...any) error {
	fs := &filterSet{}
	for _, f := range filters {
		if err := fs.add(f); err != nil {
			return err
		}
	}
	p.filters.Store(fs)
	return nil
}

// Log returns the proxy's access-log writer, nil when logging is off.
func (p *Proxy) Log() *accesslog.Writer { return p.log }

// Records returns the logged rows of one exchange (direction "" for all), waiting for the
// log writer to store what is still queued when nothing is found at first.
func (p *Proxy) Records(ctx context.Context, requestID, direction string) ([]*accesslog.Record, error) {
	if p.log == nil {
		return nil, errors.New("aiproxy: logging is off")
	}
	recs, err := p.opts.Store.Records(ctx, requestID, direction)
	if err != nil || len(recs) > 0 {
		return recs, err
	}
	if err := p.log.Flush(ctx); err != nil {
		return nil, err
	}
	return p.opts.Store.Records(ctx, requestID, direction)
}

// Close drains the access log into the store, waiting at most until ctx ends. It does not
// close the store.
func (p *Proxy) Close(ctx context.Context) error {
	if !p.closed.CompareAndSwap(false, true) || p.log == nil {
		return nil
	}
	return p.log.Close(ctx)
}
