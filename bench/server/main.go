// Command server is the load benchmark's one binary (see bench/README.md and bench/run.sh).
// Its -mode chooses what it is:
//
//	fake     the fake OpenAI upstream
//	bare     a bare httputil.ReverseProxy to -upstream, the baseline proxy
//	aiproxy  AIProxy with full logging into -db (a SQLite file or a postgres:// URL), its
//	         OpenAI provider at -upstream/v1; -filters example installs the filters issue's
//	         example filter list with its client keys, -hold a response filter that holds
//	         streams
//	count    prints the rows of the access log in -db (SQLite or PostgreSQL) as a JSON line,
//	         and exits
//	ttfb     a small load driver: sends -n chat requests to -url, -c at a time, and prints the
//	         latency percentiles of the response headers, the first event and the whole
//	         response as a JSON line
//
// The three servers listen on -addr (127.0.0.1 only), print "ready ADDR" once listening, and
// on SIGTERM or SIGINT finish their requests and exit; aiproxy first drains its access log
// and prints the log writer's counts as a JSON line. While it runs, aiproxy answers
// GET /bench/stats with the writer's counts and the longest queue seen since the previous
// call. With -cpuprofile they write a CPU profile of their whole run.
package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/clientkey"
	"github.com/aiproxy-go/aiproxy/filters"
	"github.com/aiproxy-go/aiproxy/internal/fakeupstream"
	"github.com/aiproxy-go/aiproxy/provider"
	"github.com/aiproxy-go/aiproxy/provider/openai"
)

// defaultKey is the upstream key of the benchmark: the fake accepts only it.
const defaultKey = "sk-bench-upstream-0123456789abcdefXYZ"

type options struct {
	mode, addr, upstream, db, key string
	cpuprofile                    string
	nolog                         bool
	spillDir                      string
	filters                       string
	hold                          bool

	// ttfb driver
	url        string
	clientKey  string
	user       string
	n, c       int
	stream     bool
	chunks     int
	chunkDelay time.Duration
	timeout    time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.mode, "mode", "", "fake, bare, aiproxy, count or ttfb")
	flag.StringVar(&o.addr, "addr", "127.0.0.1:0", "listen address (fake, bare, aiproxy); must be on 127.0.0.1")
	flag.StringVar(&o.upstream, "upstream", "", "upstream base URL, e.g. http://127.0.0.1:9000 (bare, aiproxy)")
	flag.StringVar(&o.db, "db", "", "access log database (aiproxy, count): a SQLite file or a postgres:// URL, as accesslog.Open takes it")
	flag.StringVar(&o.key, "key", defaultKey, "upstream API key: the one the fake accepts, the one aiproxy sends, the one the ttfb driver sends")
	flag.BoolVar(&o.nolog, "nolog", false, "aiproxy without its access log (no -db), to tell the request path's cost from the log writer's")
	flag.StringVar(&o.spillDir, "spill-dir", "", "the log writer's spill directory (aiproxy; accesslog.WriterOptions.SpillDir); empty: no spill")
	flag.StringVar(&o.filters, "filters", "none", "aiproxy's filters: none (the replay filter only, as the binary without a config) or example (the filters issue's example list and client keys)")
	flag.BoolVar(&o.hold, "hold", false, "add a no-op response filter to aiproxy, which holds each stream until it is complete")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the server, from start to exit, to this file (fake, bare, aiproxy)")
	flag.StringVar(&o.url, "url", "", "base URL to load (ttfb), e.g. http://127.0.0.1:9001")
	flag.StringVar(&o.clientKey, "client-key", "", "the key the ttfb driver sends; empty: -key")
	flag.StringVar(&o.user, "user", "", "the user field of the ttfb driver's requests; empty: none")
	flag.IntVar(&o.n, "n", 200, "requests to send (ttfb)")
	flag.IntVar(&o.c, "c", 1, "concurrent requests (ttfb)")
	flag.BoolVar(&o.stream, "stream", true, "ask for a stream (ttfb)")
	flag.IntVar(&o.chunks, "chunks", 20, "content chunks of a stream (ttfb)")
	flag.DurationVar(&o.chunkDelay, "chunk-delay", 0, "delay the fake waits between two stream events (ttfb)")
	flag.DurationVar(&o.timeout, "timeout", 60*time.Second, "longest the ttfb driver runs")
	flag.Parse()

	var err error
	switch o.mode {
	case "fake", "bare", "aiproxy":
		err = serve(o)
	case "count":
		err = count(o.db)
	case "ttfb":
		err = ttfb(o)
	default:
		err = fmt.Errorf("unknown -mode %q: want fake, bare, aiproxy, count or ttfb", o.mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/server:", err)
		os.Exit(1)
	}
}

// serve runs one of the three servers until SIGTERM or SIGINT.
func serve(o options) error {
	host, _, err := net.SplitHostPort(o.addr)
	if err != nil {
		return fmt.Errorf("-addr: %w", err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-addr %s: the benchmark listens on loopback addresses only", o.addr)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	var (
		handler http.Handler
		p       *aiproxy.Proxy
		store   accesslog.Store
	)
	switch o.mode {
	case "fake":
		handler = fakeupstream.NewOpenAI(fakeupstream.OpenAIOptions{APIKey: o.key, DiscardRequests: true})
	case "bare":
		up, err := loopbackURL(o.upstream)
		if err != nil {
			return err
		}
		rp := &httputil.ReverseProxy{
			Rewrite:   func(r *httputil.ProxyRequest) { r.SetURL(up) },
			Transport: tunedTransport(),
			ErrorLog:  slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		}
		// Without full duplex, Go's HTTP/1 server closes the request body when the response
		// starts; the transport's last read of the body, after its Content-Length, then fails
		// and the upstream connection is dropped mid-stream (golang/go#40747), cutting a few
		// streams in a hundred. AIProxy reads the whole body first and is immune.
		handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_ = http.NewResponseController(w).EnableFullDuplex()
			rp.ServeHTTP(w, r)
		})
	case "aiproxy":
		if _, err := loopbackURL(o.upstream); err != nil {
			return err
		}
		opts := aiproxy.Options{
			Providers: []provider.Provider{openai.New(openai.Options{APIKey: o.key, BaseURL: o.upstream + "/v1"})},
			Secrets:   []string{o.key},
			Logger:    logger,
		}
		if !o.nolog {
			if o.db == "" {
				return errors.New("-mode aiproxy needs -db (or -nolog)")
			}
			store, err = accesslog.Open(o.db)
			if err != nil {
				return err
			}
			defer store.Close()
			opts.Store = store
			opts.Writer.SpillDir = o.spillDir
		}
		var guard *clientkey.Guard
		switch o.filters {
		case "none":
		case "example":
			if store == nil {
				return errors.New("-filters example needs -db: the client keys' budget ledger lives in the log database")
			}
			if guard, err = exampleGuard(store, logger); err != nil {
				return err
			}
			// As the binary does: the Guard settles each request's cost from its log row,
			// and the client keys are scrubbed from logged bodies.
			opts.Writer.Enrich = guard.Settle
			opts.Secrets = append(opts.Secrets, teamAKey)
		default:
			return fmt.Errorf("unknown -filters %q: want none or example", o.filters)
		}
		p, err = aiproxy.New(opts)
		if err != nil {
			return err
		}
		if guard != nil {
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if err := guard.Close(ctx); err != nil {
					fmt.Fprintln(os.Stderr, "bench/server: client keys:", err)
				}
			}()
			list, err := exampleFilters(p, guard)
			if err != nil {
				return err
			}
			if err := p.SetFilters(list...); err != nil {
				return err
			}
		} else if err := p.AddFilter(&filters.Replay{Source: p}); err != nil {
			// As the aiproxy binary configures it without a config file: the replay filter on.
			return err
		}
		if o.hold {
			// A response filter that declares no stream mode holds each stream: the proxy
			// reads all of it, calls the filter, then sends it to the client.
			hold := aiproxy.ResponseFilterFunc(func(context.Context, *aiproxy.Exchange, *aiproxy.Response) error { return nil })
			if err := p.AddFilter(hold); err != nil {
				return err
			}
		}
		handler = withStats(p)
	}

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	if o.cpuprofile != "" {
		f, err := os.Create(o.cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		// Stopped after the drain, so the profile holds the log writer's work too.
		defer pprof.StopCPUProfile()
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 30 * time.Second,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Printf("ready %s\n", ln.Addr())

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		fmt.Fprintln(os.Stderr, "bench/server: shutdown:", err)
	}
	if p == nil || p.Log() == nil {
		return nil
	}
	drainStart := time.Now()
	if err := p.Close(shutCtx); err != nil {
		return fmt.Errorf("drain access log: %w", err)
	}
	st := p.Log().Stats()
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"written": st.Written, "failed": st.Failed, "queued": st.Queued, "blocked": st.Blocked,
		"spilled": st.Spilled, "spill_pending": st.SpillPending,
		"drain_ms": float64(time.Since(drainStart).Microseconds()) / 1000,
	})
}

// statsPath is where aiproxy serves its log writer's counts.
const statsPath = "/bench/stats"

// withStats serves GET statsPath beside the proxy: the log writer's counts and max_queued,
// the longest queue seen (sampled every 2ms) since the previous call. Without a log it
// answers {}.
func withStats(p *aiproxy.Proxy) http.Handler {
	var maxQueued atomic.Int64
	if w := p.Log(); w != nil {
		go func() {
			t := time.NewTicker(2 * time.Millisecond)
			defer t.Stop()
			for range t.C {
				q := int64(w.Stats().Queued)
				for {
					m := maxQueued.Load()
					if q <= m || maxQueued.CompareAndSwap(m, q) {
						break
					}
				}
			}
		}()
	}
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path != statsPath {
			p.ServeHTTP(rw, r)
			return
		}
		rw.Header().Set("Content-Type", "application/json")
		w := p.Log()
		if w == nil {
			_, _ = io.WriteString(rw, "{}\n")
			return
		}
		st := w.Stats()
		_ = json.NewEncoder(rw).Encode(map[string]any{
			"written": st.Written, "failed": st.Failed, "queued": st.Queued, "blocked": st.Blocked,
			"spilled": st.Spilled, "spill_pending": st.SpillPending,
			"max_queued": max(maxQueued.Swap(int64(st.Queued)), int64(st.Queued)),
		})
	})
}

// loopbackURL parses an upstream URL and refuses one that is not on a loopback address.
func loopbackURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("-upstream %q: want http://127.0.0.1:PORT", s)
	}
	if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("-upstream %q: the benchmark talks to loopback addresses only", s)
	}
	return u, nil
}

// tunedTransport is the transport of the bare proxy and of the ttfb driver, tuned as
// AIProxy's own: many idle connections per host, no compression.
func tunedTransport() *http.Transport {
	return &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
}

// count prints the access log's rows in db: all, per direction, and the responses with
// status 200. db is a SQLite file, which must exist, or a postgres:// URL.
func count(db string) error {
	if db == "" {
		return errors.New("-mode count needs -db")
	}
	var conn *sql.DB
	if lower := strings.ToLower(db); strings.HasPrefix(lower, "postgres://") || strings.HasPrefix(lower, "postgresql://") {
		store, err := accesslog.OpenPostgres(context.Background(), db)
		if err != nil {
			return err
		}
		defer store.Close()
		conn = store.DB()
	} else {
		if _, err := os.Stat(db); err != nil {
			return err
		}
		c, err := sql.Open("sqlite", db+"?_pragma=busy_timeout(5000)")
		if err != nil {
			return err
		}
		defer c.Close()
		conn = c
	}
	// CASE rather than SUM(boolean): PostgreSQL does not sum booleans.
	var rows, requests, responses, errs, ok200 int64
	err := conn.QueryRow(`SELECT COUNT(*),
		COALESCE(SUM(CASE WHEN direction = 'request' THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN direction = 'response' THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN direction = 'error' THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN direction = 'response' AND status_code = 200 THEN 1 ELSE 0 END), 0)
		FROM accesslog`).Scan(&rows, &requests, &responses, &errs, &ok200)
	if err != nil {
		return fmt.Errorf("count rows: %w", err)
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]int64{
		"rows": rows, "request": requests, "response": responses, "error": errs, "response_200": ok200,
	})
}

// sample is the timing of one request, from just before it was sent.
type sample struct {
	headers, first, done time.Duration
}

// ttfb sends o.n chat requests to o.url, o.c at a time, and prints the percentiles of the
// time to the response headers, to the first body line (the first event of a stream) and to
// the end of the response. "sent" in its output counts the o.c warm-up requests too.
func ttfb(o options) error {
	base, err := loopbackURL(o.url)
	if err != nil {
		return err
	}
	if o.n < 1 || o.c < 1 || o.c > o.n {
		return fmt.Errorf("want 1 <= -c <= -n, have -c %d -n %d", o.c, o.n)
	}
	user := ""
	if o.user != "" {
		u, err := json.Marshal(o.user)
		if err != nil {
			return err
		}
		user = `"user":` + string(u) + `,`
	}
	body := []byte(`{"model":"gpt-4o-mini",` + user + `"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"Say hello to the benchmark, please"}]}`)
	if o.stream {
		body = []byte(`{"model":"gpt-4o-mini",` + user + `"stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"Say hello to the benchmark, please"}]}`)
	}
	if o.clientKey == "" {
		o.clientKey = o.key
	}
	target := base.JoinPath("/v1/chat/completions").String()
	client := &http.Client{Transport: tunedTransport(), Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()

	// One warm-up request per worker opens the connections outside the measurement.
	for range o.c {
		if _, err := ttfbOne(ctx, client, target, body, o); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}
	samples := make([]sample, o.n)
	var (
		next     = make(chan int)
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	start := time.Now()
	for range o.c {
		wg.Go(func() {
			for i := range next {
				s, err := ttfbOne(ctx, client, target, body, o)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					cancel()
					continue
				}
				samples[i] = s
			}
		})
	}
	for i := range o.n {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return firstErr
	}
	if ctx.Err() != nil {
		return fmt.Errorf("ttfb driver stopped after %s: %w", o.timeout, ctx.Err())
	}
	pct := func(get func(sample) time.Duration) (p50, p90, p99 float64) {
		d := make([]time.Duration, len(samples))
		for i, s := range samples {
			d[i] = get(s)
		}
		slices.Sort(d)
		at := func(q float64) float64 {
			return float64(d[min(len(d)-1, int(q*float64(len(d))))].Nanoseconds()) / 1000
		}
		return at(0.50), at(0.90), at(0.99)
	}
	h50, h90, h99 := pct(func(s sample) time.Duration { return s.headers })
	f50, f90, f99 := pct(func(s sample) time.Duration { return s.first })
	d50, d90, d99 := pct(func(s sample) time.Duration { return s.done })
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"url": o.url, "n": o.n, "c": o.c, "sent": o.n + o.c, "stream": o.stream, "chunk_delay": o.chunkDelay.String(),
		"rps":            float64(o.n) / elapsed.Seconds(),
		"headers_p50_us": h50, "headers_p90_us": h90, "headers_p99_us": h99,
		"first_p50_us": f50, "first_p90_us": f90, "first_p99_us": f99,
		"done_p50_us": d50, "done_p90_us": d90, "done_p99_us": d99,
	})
}

// ttfbOne sends one request and times it.
func ttfbOne(ctx context.Context, client *http.Client, target string, body []byte, o options) (sample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return sample{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+o.clientKey)
	if o.stream {
		req.Header.Set(fakeupstream.HeaderChunks, fmt.Sprint(o.chunks))
		if o.chunkDelay > 0 {
			req.Header.Set(fakeupstream.HeaderChunkDelay, o.chunkDelay.String())
		}
	}
	var s sample
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	s.headers = time.Since(start)
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		return s, fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	br := bufio.NewReaderSize(resp.Body, 4<<10)
	for {
		line, err := br.ReadSlice('\n')
		if s.first == 0 && len(bytes.TrimSpace(line)) > 0 {
			s.first = time.Since(start)
		}
		if o.stream && bytes.HasPrefix(line, []byte("data: [DONE]")) {
			break
		}
		if err == io.EOF && !o.stream {
			break
		}
		if err != nil && err != bufio.ErrBufferFull {
			return s, fmt.Errorf("read response: %w", err)
		}
	}
	if _, err := io.Copy(io.Discard, br); err != nil {
		return s, err
	}
	s.done = time.Since(start)
	return s, nil
}
