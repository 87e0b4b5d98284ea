// Command aiproxy runs AIProxy: a reverse proxy for LLM APIs that logs every request,
// response and stream into SQLite (./aiproxy.db by default).
//
//	aiproxy --openai-api-key sk-...        serve on 127.0.0.1:8000
//	aiproxy serve --config aiproxy.yaml    the same, configured by a file
//	aiproxy version                        print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/config"
	"github.com/aiproxy-go/aiproxy/filters"
	"github.com/aiproxy-go/aiproxy/provider"
	"github.com/aiproxy-go/aiproxy/provider/openai"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "aiproxy:", err)
		}
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "version", "--version", "-version":
			fmt.Fprintln(stdout, "aiproxy", aiproxy.Version)
			return nil
		case "serve":
			args = args[1:]
		}
	}
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serve(ctx, cfg, stderr, nil)
}

// flagSpec is one flag; every name with "-" is also accepted with "_", the spelling of the
// original Python AIProxy.
type flagSpec struct {
	name, usage string
	value       flag.Value
}

// parseFlags builds the configuration: defaults, then the environment, then the config
// file, then the flags given on the command line.
func parseFlags(args []string, stderr io.Writer) (*config.Config, error) {
	fs := flag.NewFlagSet("aiproxy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		host, port, apiKey, baseURL, db, cfgFile, replay string
		retries                                          int
		maxBody                                          int64
		connectT, headerT, idleT                         time.Duration
	)
	specs := []flagSpec{
		{"config", "YAML configuration file (see README); flags given here override it", stringVar(&cfgFile)},
		{"host", "address to listen on (default 127.0.0.1)", stringVar(&host)},
		{"port", "port to listen on (default 8000)", stringVar(&port)},
		{"openai-api-key", "OpenAI API key used upstream (env OPENAI_API_KEY); without one the client's own key is forwarded", stringVar(&apiKey)},
		{"openai-base-url", "OpenAI-compatible upstream API root (env OPENAI_BASE_URL, default " + openai.DefaultBaseURL + ")", stringVar(&baseURL)},
		{"db", "access log database: a SQLite file path (default aiproxy.db); alias --connection-str", stringVar(&db)},
		{"connection-str", "same as --db", stringVar(&db)},
		{"max-retries", "upstream retries on 429, 5xx and connection errors, before any byte reaches the client (default 0)", intVar(&retries)},
		{"max-body-size", "largest request body accepted, in bytes (default 33554432); larger ones get 413", int64Var(&maxBody)},
		{"connect-timeout", "timeout to connect to the upstream (default 10s)", durationVar(&connectT)},
		{"response-header-timeout", "timeout for the upstream's response headers (default 10m)", durationVar(&headerT)},
		{"stream-idle-timeout", "longest wait for the next part of a response (default 5m)", durationVar(&idleT)},
		{"replay-header", "request header of the built-in replay filter, \"off\" to disable (default x-aiproxy-replay)", stringVar(&replay)},
	}
	for _, s := range specs {
		fs.Var(s.value, s.name, s.usage)
		if alias := strings.ReplaceAll(s.name, "-", "_"); alias != s.name {
			fs.Var(s.value, alias, "")
		}
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: aiproxy [serve] [flags]\n       aiproxy version\n\nAIProxy %s relays LLM API calls and logs each one.\n\nFlags (each --a-b is also accepted as --a_b):\n", aiproxy.Version)
		for _, s := range specs {
			fmt.Fprintf(stderr, "  --%s\n    \t%s\n", s.name, s.usage)
		}
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (see aiproxy --help)", fs.Arg(0))
	}

	cfg := config.Default()
	if v := os.Getenv("OPENAI_API_KEY"); v != "" {
		openaiSection(cfg).APIKey = v
	}
	if v := os.Getenv("OPENAI_BASE_URL"); v != "" {
		openaiSection(cfg).BaseURL = v
	}
	if cfgFile != "" {
		if err := config.Load(cfgFile, cfg); err != nil {
			return nil, err
		}
	}
	var listenErr error
	fs.Visit(func(f *flag.Flag) {
		switch strings.ReplaceAll(f.Name, "_", "-") {
		case "host", "port":
			h, p, err := net.SplitHostPort(cfg.Listen)
			if err != nil {
				listenErr = err
				return
			}
			if host != "" {
				h = host
			}
			if port != "" {
				p = port
			}
			cfg.Listen = net.JoinHostPort(h, p)
		case "openai-api-key":
			openaiSection(cfg).APIKey = apiKey
		case "openai-base-url":
			openaiSection(cfg).BaseURL = baseURL
		case "db", "connection-str":
			cfg.Database = db
		case "max-retries":
			cfg.MaxRetries = retries
		case "max-body-size":
			cfg.MaxBodySize = maxBody
		case "connect-timeout":
			cfg.Timeouts.Connect = config.Duration(connectT)
		case "response-header-timeout":
			cfg.Timeouts.ResponseHeader = config.Duration(headerT)
		case "stream-idle-timeout":
			cfg.Timeouts.StreamIdle = config.Duration(idleT)
		case "replay-header":
			cfg.ReplayHeader = replay
		}
	})
	if listenErr != nil {
		return nil, listenErr
	}
	if cfg.Providers.OpenAI == nil {
		// OpenAI is served even without a key: clients then bring their own.
		cfg.Providers.OpenAI = &config.OpenAI{}
	}
	return cfg, cfg.Validate()
}

func openaiSection(c *config.Config) *config.OpenAI {
	if c.Providers.OpenAI == nil {
		c.Providers.OpenAI = &config.OpenAI{}
	}
	return c.Providers.OpenAI
}

// serve runs the proxy until ctx ends, then shuts down gracefully: in-flight requests
// finish, and the access log drains into the database. ready, when set, receives the
// address once listening.
func serve(ctx context.Context, cfg *config.Config, stderr io.Writer, ready func(addr string)) error {
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	store, err := accesslog.Open(cfg.Database)
	if err != nil {
		return fmt.Errorf("open access log: %w", err)
	}
	defer store.Close()

	var providers []provider.Provider
	var secrets []string
	if o := cfg.Providers.OpenAI; o != nil {
		providers = append(providers, openai.New(openai.Options{APIKey: o.APIKey, BaseURL: o.BaseURL}))
		secrets = append(secrets, o.APIKey)
	}
	p, err := aiproxy.New(aiproxy.Options{
		Providers:             providers,
		Store:                 store,
		MaxRetries:            cfg.MaxRetries,
		MaxBodySize:           cfg.MaxBodySize,
		ConnectTimeout:        time.Duration(cfg.Timeouts.Connect),
		ResponseHeaderTimeout: time.Duration(cfg.Timeouts.ResponseHeader),
		StreamIdleTimeout:     time.Duration(cfg.Timeouts.StreamIdle),
		Secrets:               secrets,
		Logger:                logger,
	})
	if err != nil {
		return err
	}
	if cfg.ReplayHeader != "" && cfg.ReplayHeader != "off" {
		if err := p.AddFilter(&filters.Replay{Header: cfg.ReplayHeader, Source: p}); err != nil {
			return err
		}
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 30 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	// HTTP/1.1 and HTTP/2 over cleartext (prior knowledge) on the same port: the AWS SDK
	// for JavaScript speaks h2c to http:// endpoints.
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	logger.Info("aiproxy listening", "addr", "http://"+ln.Addr().String(), "database", cfg.Database, "version", aiproxy.Version)
	if ready != nil {
		ready(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		_ = p.Close(context.Background())
		return err
	case <-ctx.Done():
	}
	logger.Info("aiproxy shutting down: finishing requests and draining the access log")
	shutCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		logger.Warn("shutdown: requests still running were cut", "err", err)
	}
	if err := p.Close(shutCtx); err != nil {
		return fmt.Errorf("drain access log: %w", err)
	}
	st := p.Log().Stats()
	logger.Info("access log drained", "written", st.Written, "failed", st.Failed)
	return nil
}

type stringValue struct{ p *string }

func stringVar(p *string) flag.Value     { return stringValue{p} }
func (v stringValue) String() string     { return "" }
func (v stringValue) Set(s string) error { *v.p = s; return nil }

type intValue struct{ p *int }

func intVar(p *int) flag.Value    { return intValue{p} }
func (v intValue) String() string { return "" }
func (v intValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	*v.p = n
	return err
}

type int64Value struct{ p *int64 }

func int64Var(p *int64) flag.Value  { return int64Value{p} }
func (v int64Value) String() string { return "" }
func (v int64Value) Set(s string) error {
	n, err := strconv.ParseInt(s, 10, 64)
	*v.p = n
	return err
}

type durationValue struct{ p *time.Duration }

func durationVar(p *time.Duration) flag.Value { return durationValue{p} }
func (v durationValue) String() string        { return "" }
func (v durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	*v.p = d
	return err
}
