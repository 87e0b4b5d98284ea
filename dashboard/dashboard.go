// Package dashboard is AIProxy's built-in web dashboard: an http.Handler that serves a small
// single-page application (plain HTML, CSS and JavaScript embedded in the binary, charts drawn
// as SVG) and the JSON API it reads, over the access log in SQLite or PostgreSQL.
//
// The pages are an overview (requests, tokens, cost, status classes, latency and time to first
// token per hour or day, broken down by model, provider, user or client key), a live tail, a log
// browser with a page per request, and a storage panel. The API is usable on its own:
//
//	GET {prefix}/api/overview?since=&until=&by=model&model=&provider=&user=&client_key=
//	GET {prefix}/api/logs?since=&until=&model=&provider=&user=&client_key=&status=&direction=&q=&before_id=&limit=
//	GET {prefix}/api/logs/{request_id}
//	GET {prefix}/api/tail?after_id=N   (text/event-stream)
//	GET {prefix}/api/storage
//
// Times are RFC 3339; every figure is computed from the response and error rows, one per
// exchange. The overview reads the complete hours of a range from hourly rollups that the
// dashboard maintains in the background (see RefreshRollups), and the rest from the rows.
package dashboard

import (
	"cmp"
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aiproxy-go/aiproxy/accesslog"
)

//go:embed web
var webFiles embed.FS

// DefaultPrefix is the path the dashboard is served under when Options.Prefix is empty.
const DefaultPrefix = "/dashboard"

// DefaultTailInterval is how often the live tail polls the database for new rows.
const DefaultTailInterval = time.Second

// Options configures a dashboard. Store is required; the rest have defaults.
type Options struct {
	// Store is the access log to show: an *accesslog.SQLiteStore or *accesslog.PostgresStore
	// (any store with a DB() *sql.DB method and one of those dialects).
	Store accesslog.Store
	// Prefix is the path the handler is mounted at, without a trailing slash; every route is
	// below it and the handler expects the full path (do not wrap it in http.StripPrefix).
	// Default DefaultPrefix.
	Prefix string
	// AdminToken, when set, is required on every page and API call: as
	// "Authorization: Bearer <token>", or through the login form, which sets an HttpOnly,
	// SameSite=Strict session cookie. Empty leaves the dashboard open.
	AdminToken string
	// Retention and ContentRetention are the pruning settings, shown on the storage panel;
	// zero means rows (or their bodies) are kept forever.
	Retention        time.Duration
	ContentRetention time.Duration
	// DatabaseLabel names the database on the storage panel; pass a redacted DSN
	// (accesslog.RedactDSN), never one with a password.
	DatabaseLabel string
	// ProxyURL is the proxy's base URL used in replay commands, e.g. "http://127.0.0.1:8000".
	// Default: the scheme and Host of the dashboard request.
	ProxyURL string
	// TailInterval is how often the live tail polls the database. Default DefaultTailInterval.
	TailInterval time.Duration
	// Logger receives the dashboard's errors. Default slog.Default().
	Logger *slog.Logger
	// RollupInterval is how often the dashboard brings its hourly rollups up to date (see
	// RefreshRollups), in a goroutine that New starts and Close stops. Default
	// DefaultRollupInterval. Negative turns the maintenance off in this dashboard: it still
	// reads the rollups that another one keeps (or that RefreshRollups writes), and the rows
	// for every hour they do not cover.
	RollupInterval time.Duration
	// Now is the clock, for tests. Default time.Now.
	Now func() time.Time
}

// Handler serves the dashboard and its API. Create it with New.
type Handler struct {
	opts   Options
	db     *sql.DB
	d      dialect
	mux    *http.ServeMux
	assets fs.FS
	logger *slog.Logger

	// readRollups lets the overview read the hourly rollups; off only in tests.
	readRollups atomic.Bool
	rollupMu    sync.Mutex // one RefreshRollups at a time
	sweepNext   time.Time  // the next hour the maintenance verifies; under rollupMu
	stopRollups context.CancelFunc
	rollupsDone chan struct{}
	closeOnce   sync.Once
}

// dbStore is what the dashboard needs of a store beyond accesslog.Store.
type dbStore interface {
	DB() *sql.DB
}

// New returns the dashboard handler for opts.
func New(opts Options) (*Handler, error) {
	if opts.Store == nil {
		return nil, errors.New("dashboard: no store")
	}
	var pg bool
	switch opts.Store.(type) {
	case *accesslog.SQLiteStore:
	case *accesslog.PostgresStore:
		pg = true
	default:
		return nil, fmt.Errorf("dashboard: store %T cannot be queried", opts.Store)
	}
	opts.Prefix = strings.TrimSuffix(cmp.Or(opts.Prefix, DefaultPrefix), "/")
	if opts.Prefix != "" && !strings.HasPrefix(opts.Prefix, "/") {
		return nil, fmt.Errorf("dashboard: prefix %q does not start with /", opts.Prefix)
	}
	opts.TailInterval = cmp.Or(opts.TailInterval, DefaultTailInterval)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	h := &Handler{
		opts:   opts,
		db:     opts.Store.(dbStore).DB(),
		logger: cmp.Or(opts.Logger, slog.Default()),
	}
	h.readRollups.Store(true)
	var err error
	if h.assets, err = fs.Sub(webFiles, "web"); err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if h.d, err = newDialect(ctx, h.db, pg); err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	h.routes()
	if opts.RollupInterval >= 0 {
		ctx, cancel := context.WithCancel(context.Background())
		h.stopRollups, h.rollupsDone = cancel, make(chan struct{})
		go h.maintainRollups(ctx, cmp.Or(opts.RollupInterval, DefaultRollupInterval), h.rollupsDone)
	}
	return h, nil
}

// Close stops the background maintenance of the rollups and waits for it to end. The handler
// still serves afterwards; close it before the store.
func (h *Handler) Close() error {
	h.closeOnce.Do(func() {
		if h.stopRollups != nil {
			h.stopRollups()
			<-h.rollupsDone
		}
	})
	return nil
}

func (h *Handler) routes() {
	p := h.opts.Prefix
	m := http.NewServeMux()
	m.HandleFunc("GET "+p+"/{$}", h.page)
	m.HandleFunc("GET "+p+"/static/{file}", h.static)
	m.HandleFunc("GET "+p+"/login", h.loginForm)
	m.HandleFunc("POST "+p+"/login", h.login)
	m.HandleFunc("POST "+p+"/logout", h.logout)
	m.HandleFunc("GET "+p+"/api/overview", h.api(h.overview))
	m.HandleFunc("GET "+p+"/api/logs", h.api(h.logs))
	m.HandleFunc("GET "+p+"/api/logs/{id}", h.api(h.logDetail))
	m.HandleFunc("GET "+p+"/api/storage", h.api(h.storage))
	m.HandleFunc("GET "+p+"/api/tail", h.authorized(h.tail))
	if p != "" {
		m.HandleFunc("GET "+p, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, p+"/", http.StatusMovedPermanently)
		})
	}
	h.mux = m
}

// ServeHTTP serves the pages, assets and API below the prefix.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	// Every script and style is a file of ours; nothing inline, nothing from elsewhere.
	hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	h.mux.ServeHTTP(w, r)
}

// page serves the single page of the application, or the login form.
func (h *Handler) page(w http.ResponseWriter, r *http.Request) {
	if !h.allowed(r) {
		http.Redirect(w, r, h.opts.Prefix+"/login", http.StatusSeeOther)
		return
	}
	b, err := fs.ReadFile(h.assets, "index.html")
	if err != nil {
		http.Error(w, "dashboard page missing", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b)
}

// static serves the embedded scripts and styles. They are public: they hold no data.
func (h *Handler) static(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	b, err := fs.ReadFile(h.assets, name)
	if err != nil || name == "index.html" {
		http.NotFound(w, r)
		return
	}
	switch {
	case strings.HasSuffix(name, ".js"):
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	case strings.HasSuffix(name, ".css"):
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	case strings.HasSuffix(name, ".svg"):
		w.Header().Set("Content-Type", "image/svg+xml")
	}
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(b)
}

// apiError is an error with the HTTP status it is answered with.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &apiError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// api wraps a JSON endpoint: authorization, the encoding of its result and of its error.
func (h *Handler) api(fn func(r *http.Request) (any, error)) http.HandlerFunc {
	return h.authorized(func(w http.ResponseWriter, r *http.Request) {
		v, err := fn(r)
		w.Header().Set("Cache-Control", "no-store")
		if err != nil {
			status := http.StatusInternalServerError
			msg := "the access log could not be read"
			if ae := (*apiError)(nil); errors.As(err, &ae) {
				status, msg = ae.status, ae.msg
			} else if r.Context().Err() != nil {
				return
			} else {
				h.logger.Error("dashboard query failed", "path", r.URL.Path, "error", err)
			}
			writeJSON(w, status, map[string]string{"error": msg})
			return
		}
		writeJSON(w, http.StatusOK, v)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}
