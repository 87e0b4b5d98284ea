package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/budget"
	"github.com/aiproxy-go/aiproxy/clientkey"
	"github.com/aiproxy-go/aiproxy/config"
	"github.com/aiproxy-go/aiproxy/dashboard"
	"github.com/aiproxy-go/aiproxy/filters"
	"github.com/aiproxy-go/aiproxy/pricing"
	"github.com/aiproxy-go/aiproxy/ratelimit"
)

// filterStack builds the proxy's filters from the configuration and rebuilds them on a
// reload. What must survive a reload lives here: the Guard with its rate-limit counters
// and budget ledger.
type filterStack struct {
	proxy  *aiproxy.Proxy
	store  accesslog.Store
	prices *pricing.Table
	logger *slog.Logger

	mu      sync.Mutex
	guard   *clientkey.Guard
	limiter ratelimit.Limiter
	redis   string // the URL the limiter was opened with
	ledger  *budget.Ledger
	closers []func() error
}

// settle hands an enriched log row to the Guard, which settles the request's tokens and
// cost. It runs in the log writer's goroutine.
func (s *filterStack) settle(rec *accesslog.Record) {
	s.mu.Lock()
	g := s.guard
	s.mu.Unlock()
	if g != nil {
		g.Settle(rec)
	}
}

// apply builds the filters of cfg and installs them on the proxy at once. On an error the
// proxy keeps the filters it had.
func (s *filterStack) apply(ctx context.Context, cfg *config.Config) error {
	// The client key is checked first; its model list, rate limits and budget last, on the
	// request as the other filters left it (a rewritten model, a clamped output limit).
	var list []any
	var admit aiproxy.RequestFilter
	var guard *clientkey.Guard
	var keys []clientkey.Key // to install on a Guard that existed before, once all is built
	if len(cfg.ClientKeys) > 0 {
		var err error
		if guard, keys, err = s.guardFor(ctx, cfg); err != nil {
			return err
		}
		list = append(list, aiproxy.WithPolicy(guard.Authenticate(), aiproxy.FilterPolicy{Name: "client_keys"}))
		admit = guard.Admit()
	}
	replay := false
	for i := range cfg.Filters {
		f := &cfg.Filters[i]
		built, err := filters.New(f.Name, f.Decode, filters.Env{Source: s.proxy})
		if err != nil {
			return fmt.Errorf("config: filters[%d] (line %d): %w", i, f.Line, err)
		}
		replay = replay || f.Name == "replay"
		list = append(list, aiproxy.WithPolicy(built, aiproxy.FilterPolicy{Name: f.Name, Timeout: f.Timeout, FailOpen: f.Fail == "open"}))
	}
	if !replay && cfg.ReplayHeader != "" && cfg.ReplayHeader != "off" {
		list = append(list, aiproxy.WithPolicy(&filters.Replay{Header: cfg.ReplayHeader, Source: s.proxy}, aiproxy.FilterPolicy{Name: "replay"}))
	}
	if admit != nil {
		list = append(list, aiproxy.WithPolicy(admit, aiproxy.FilterPolicy{Name: "limits"}))
	}
	if keys != nil {
		if err := guard.Reload(keys); err != nil {
			return err
		}
	}
	if err := s.proxy.SetFilters(list...); err != nil {
		return err
	}
	if len(cfg.ClientKeys) == 0 {
		s.mu.Lock()
		if s.guard != nil {
			// Keys removed: the Guard stays for the settlements of requests under way, but
			// accepts no key should it be installed again without a reload.
			_ = s.guard.Reload(nil)
		}
		s.mu.Unlock()
	}
	return nil
}

// guardFor returns the Guard for cfg's keys. The first time it creates the Guard with the
// keys, its limiter and its ledger; later it returns the Guard and the keys for the caller
// to install with Reload once the rest of the configuration was built.
func (s *filterStack) guardFor(ctx context.Context, cfg *config.Config) (*clientkey.Guard, []clientkey.Key, error) {
	keys := make([]clientkey.Key, 0, len(cfg.ClientKeys))
	for _, k := range cfg.ClientKeys {
		keys = append(keys, clientkey.Key{
			Name: k.Name, Key: k.Key, KeySHA256: k.KeySHA256,
			AWSAccessKeyID: k.AWSAccessKeyID, AWSSecretAccessKey: k.AWSSecretAccessKey,
			Models:            k.Models,
			RequestsPerMinute: int64(k.RequestsPerMinute), TokensPerMinute: int64(k.TokensPerMinute),
			BudgetUSDPerDay: k.BudgetUSDPerDay,
		})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.guard != nil {
		if cfg.Redis != s.redis {
			s.logger.Warn("config reload: a changed redis setting takes effect at the next start")
		}
		return s.guard, keys, nil
	}
	if cfg.Redis != "" {
		r, err := ratelimit.OpenRedis(ctx, cfg.Redis, ratelimit.RedisOptions{})
		if err != nil {
			return nil, nil, fmt.Errorf("redis: %w", err)
		}
		s.limiter, s.redis = r, cfg.Redis
		s.closers = append(s.closers, r.Close)
	}
	dbs, ok := s.store.(interface{ DB() *sql.DB })
	if !ok {
		return nil, nil, errors.New("client keys: the access log store has no database for the budget ledger")
	}
	ledger, err := budget.Open(ctx, dbs.DB(), budget.Options{})
	if err != nil {
		return nil, nil, fmt.Errorf("budget ledger: %w", err)
	}
	s.ledger = ledger
	g, err := clientkey.New(clientkey.Options{Keys: keys, Limiter: s.limiter, Budget: ledger, Prices: s.prices, Logger: s.logger})
	if err != nil {
		return nil, nil, err
	}
	s.guard = g
	return g, nil, nil
}

// close stops the Guard, after the proxy drained its log, and closes the limiter.
func (s *filterStack) close(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.guard != nil {
		if err := s.guard.Close(ctx); err != nil {
			s.logger.Warn("client keys: settlements not applied before shutdown", "err", err)
		}
	}
	if s.ledger != nil {
		_ = s.ledger.Close()
	}
	for _, c := range s.closers {
		_ = c()
	}
}

// loopback reports whether a listen address only accepts local connections.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// dashboardPrefix is where the dashboard is served.
const dashboardPrefix = dashboard.DefaultPrefix

// dashboardHandlers returns the handler of the proxy's address (the proxy, with the
// dashboard under /dashboard/ unless it has its own address), the server of the admin
// address (nil when there is none) and the dashboard, to be closed before the store (nil
// when it is off).
func dashboardHandlers(cfg *config.Config, store accesslog.Store, p *aiproxy.Proxy, listen string, logger *slog.Logger) (http.Handler, *http.Server, *dashboard.Handler, error) {
	if cfg.Admin.Dashboard != nil && !*cfg.Admin.Dashboard {
		return p, nil, nil, nil
	}
	opts := dashboard.Options{
		Store: store, AdminToken: cfg.Admin.Token, Prefix: dashboardPrefix,
		Retention: time.Duration(cfg.Retention), ContentRetention: time.Duration(cfg.ContentRetention),
		DatabaseLabel: accesslog.RedactDSN(cfg.Database), Logger: logger,
	}
	if cfg.Admin.Addr != "" {
		opts.ProxyURL = "http://" + listen
	}
	dash, err := dashboard.New(opts)
	if err != nil {
		return nil, nil, nil, err
	}
	mux := http.NewServeMux()
	mux.Handle(dashboardPrefix+"/", dash)
	mux.Handle(dashboardPrefix, dash)
	exposed := listen
	if cfg.Admin.Addr != "" {
		exposed = cfg.Admin.Addr
	}
	if cfg.Admin.Token == "" && !loopback(exposed) {
		logger.Warn("the dashboard has no admin token and listens beyond loopback: anyone who reaches " + exposed + " can read the log; set admin.token or --admin-token")
	}
	if cfg.Admin.Addr != "" {
		return p, &http.Server{Handler: mux, ReadHeaderTimeout: 30 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}, dash, nil
	}
	mux.Handle("/", p)
	return mux, nil, dash, nil
}
