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
	"net/url"
	"os"
	"os/signal"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/config"
	"github.com/aiproxy-go/aiproxy/metrics"
	"github.com/aiproxy-go/aiproxy/provider"
	"github.com/aiproxy-go/aiproxy/provider/anthropic"
	"github.com/aiproxy-go/aiproxy/provider/bedrock"
	"github.com/aiproxy-go/aiproxy/provider/gemini"
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
		case "prune":
			return prune(ctx, args[1:], stdout, stderr)
		case "logs":
			return logs(ctx, args[1:], stdout, stderr)
		case "stats":
			return stats(ctx, args[1:], stdout, stderr)
		case "export":
			return export(ctx, args[1:], stdout, stderr)
		case "reprice":
			return reprice(ctx, args[1:], stdout, stderr)
		}
	}
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serveConfig(ctx, cfg, stderr, nil, func() (*config.Config, error) { return parseFlags(args, io.Discard) })
}

// flagSpec is one flag; every name with "-" is also accepted with "_", the spelling of the
// original Python AIProxy. apply copies its value into the configuration when the flag was
// given.
type flagSpec struct {
	name, usage string
	value       flag.Value
	apply       func(c *config.Config)
}

// parseFlags builds the configuration: defaults, then the environment, then the config
// file, then the flags given on the command line.
func parseFlags(args []string, stderr io.Writer) (*config.Config, error) {
	fs := flag.NewFlagSet("aiproxy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfgFile, host, port, replay, db, jsonl, spill          string
		adminAddr, adminToken                                  string
		noDashboard                                            bool
		oaKey, oaURL, azURL, azKey, anKey, anURL, gmKey, gmURL string
		awsID, awsSecret, awsToken, awsRegion, brURL, awsProf  string
		retries                                                int
		maxBody                                                int64
		connectT, headerT, idleT, retention, contentRet        time.Duration
		listenErr                                              error
	)
	setHostPort := func(c *config.Config) {
		h, p, err := net.SplitHostPort(c.Listen)
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
		c.Listen = net.JoinHostPort(h, p)
	}
	specs := []flagSpec{
		{"config", "YAML configuration file (see README); flags given here override it", stringVar(&cfgFile), nil},
		{"host", "address to listen on (default 127.0.0.1)", stringVar(&host), setHostPort},
		{"port", "port to listen on (default 8000)", stringVar(&port), setHostPort},
		{"db", "access log database: a SQLite file path (default aiproxy.db) or postgres://user:pass@host/db; alias --connection-str", stringVar(&db), func(c *config.Config) { c.Database = db }},
		{"connection-str", "same as --db", stringVar(&db), func(c *config.Config) { c.Database = db }},
		{"retention", "delete log rows older than this, e.g. 30d (checked hourly; default: keep all)", daysVar(&retention), func(c *config.Config) { c.Retention = config.Duration(retention) }},
		{"content-retention", "blank bodies and texts of rows older than this, e.g. 7d, keeping tokens and cost", daysVar(&contentRet), func(c *config.Config) { c.ContentRetention = config.Duration(contentRet) }},
		{"log-jsonl", "also append every log row to this JSON Lines file", stringVar(&jsonl), func(c *config.Config) { c.LogJSONL = jsonl }},
		{"openai-api-key", "OpenAI API key used upstream (env OPENAI_API_KEY); without one the client's own key is forwarded", stringVar(&oaKey), func(c *config.Config) { openaiSection(c).APIKey = oaKey }},
		{"openai-base-url", "OpenAI-compatible upstream API root (env OPENAI_BASE_URL, default " + openai.DefaultBaseURL + ")", stringVar(&oaURL), func(c *config.Config) { openaiSection(c).BaseURL = oaURL }},
		{"azure-endpoint", "Azure OpenAI resource endpoint, https://{resource}.openai.azure.com (env AZURE_OPENAI_ENDPOINT); enables Azure", stringVar(&azURL), func(c *config.Config) { azureSection(c).Endpoint = azURL }},
		{"azure-api-key", "Azure OpenAI key, sent as api-key (env AZURE_OPENAI_API_KEY)", stringVar(&azKey), func(c *config.Config) { azureSection(c).APIKey = azKey }},
		{"anthropic-api-key", "Anthropic API key used upstream (env ANTHROPIC_API_KEY)", stringVar(&anKey), func(c *config.Config) { anthropicSection(c).APIKey = anKey }},
		{"anthropic-base-url", "Anthropic upstream (env ANTHROPIC_BASE_URL, default " + anthropic.DefaultBaseURL + ")", stringVar(&anURL), func(c *config.Config) { anthropicSection(c).BaseURL = anURL }},
		{"aws-access-key-id", "AWS access key id for Bedrock; without one the AWS default credential chain is used", stringVar(&awsID), func(c *config.Config) { bedrockSection(c).AccessKeyID = awsID }},
		{"aws-secret-access-key", "AWS secret access key for Bedrock", stringVar(&awsSecret), func(c *config.Config) { bedrockSection(c).SecretAccessKey = awsSecret }},
		{"aws-session-token", "AWS session token for Bedrock", stringVar(&awsToken), func(c *config.Config) { bedrockSection(c).SessionToken = awsToken }},
		{"aws-region", "AWS region of Bedrock (default from AWS_REGION or the AWS profile)", stringVar(&awsRegion), func(c *config.Config) { bedrockSection(c).Region = awsRegion }},
		{"aws-profile", "AWS shared-config profile for Bedrock credentials and region (env AWS_PROFILE)", stringVar(&awsProf), func(c *config.Config) { bedrockSection(c).Profile = awsProf }},
		{"bedrock-endpoint", "Bedrock runtime upstream URL (default https://bedrock-runtime.{region}.amazonaws.com)", stringVar(&brURL), func(c *config.Config) { bedrockSection(c).Endpoint = brURL }},
		{"gemini-api-key", "Gemini API key used upstream (env GEMINI_API_KEY or GOOGLE_API_KEY)", stringVar(&gmKey), func(c *config.Config) { geminiSection(c).APIKey = gmKey }},
		{"gemini-base-url", "Gemini upstream (env GEMINI_BASE_URL, default " + gemini.DefaultBaseURL + ")", stringVar(&gmURL), func(c *config.Config) { geminiSection(c).BaseURL = gmURL }},
		{"max-retries", "upstream retries on 429, 5xx and connection errors, before any byte reaches the client (default 0)", intVar(&retries), func(c *config.Config) { c.MaxRetries = retries }},
		{"max-body-size", "largest request body accepted, in bytes (default 33554432); larger ones get 413", int64Var(&maxBody), func(c *config.Config) { c.MaxBodySize = maxBody }},
		{"connect-timeout", "timeout to connect to the upstream (default 10s)", durationVar(&connectT), func(c *config.Config) { c.Timeouts.Connect = config.Duration(connectT) }},
		{"response-header-timeout", "timeout for the upstream's response headers (default 10m)", durationVar(&headerT), func(c *config.Config) { c.Timeouts.ResponseHeader = config.Duration(headerT) }},
		{"stream-idle-timeout", "longest wait for the next part of a response (default 5m)", durationVar(&idleT), func(c *config.Config) { c.Timeouts.StreamIdle = config.Duration(idleT) }},
		{"admin-addr", "serve the dashboard on this address instead of under /dashboard of the proxy's", stringVar(&adminAddr), func(c *config.Config) { c.Admin.Addr = adminAddr }},
		{"admin-token", "token required to open the dashboard (env AIPROXY_ADMIN_TOKEN)", stringVar(&adminToken), func(c *config.Config) { c.Admin.Token = adminToken }},
		{"no-dashboard", "do not serve the dashboard", boolVar(&noDashboard), func(c *config.Config) { off := false; c.Admin.Dashboard = &off }},
		{"spill-dir", "directory of the log's spill file while the database is down (default next to the SQLite file, or the user cache directory)", stringVar(&spill), func(c *config.Config) { c.SpillDir = spill }},
		{"replay-header", "request header of the built-in replay filter, \"off\" to disable (default x-aiproxy-replay)", stringVar(&replay), func(c *config.Config) { c.ReplayHeader = replay }},
	}
	byName := map[string]flagSpec{}
	for _, s := range specs {
		fs.Var(s.value, s.name, s.usage)
		byName[s.name] = s
		if alias := strings.ReplaceAll(s.name, "-", "_"); alias != s.name {
			fs.Var(s.value, alias, "")
		}
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: aiproxy [serve] [flags]\n       aiproxy logs [--db D] [--request-id ID] [--model M] [--status N] [--since 24h] [--limit N] [--json] [--follow]\n       aiproxy stats [--db D] [--by model|provider|user|client_key] [--since 24h] [--json]\n       aiproxy export [--db D] [--format jsonl|csv] [--since 7d] [--model M] [--output FILE]\n       aiproxy reprice [--db D] --since 30d [--prices FILE] [--dry-run]\n       aiproxy prune [--db D] --older-than 90d [--content-older-than 7d]\n       aiproxy version\n\nAIProxy %s relays LLM API calls and logs each one.\n\nFlags (each --a-b is also accepted as --a_b):\n", aiproxy.Version)
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
	applyEnv(cfg)
	if cfgFile != "" {
		if err := config.Load(cfgFile, cfg); err != nil {
			return nil, err
		}
	}
	fs.Visit(func(f *flag.Flag) {
		if s := byName[strings.ReplaceAll(f.Name, "_", "-")]; s.apply != nil {
			s.apply(cfg)
		}
	})
	if listenErr != nil {
		return nil, listenErr
	}
	return cfg, cfg.Validate()
}

// applyEnv takes the providers' usual environment variables.
func applyEnv(c *config.Config) {
	env := func(names ...string) string {
		for _, n := range names {
			if v := os.Getenv(n); v != "" {
				return v
			}
		}
		return ""
	}
	if v := env("OPENAI_API_KEY"); v != "" {
		openaiSection(c).APIKey = v
	}
	if v := env("OPENAI_BASE_URL"); v != "" {
		openaiSection(c).BaseURL = v
	}
	if v := env("AZURE_OPENAI_ENDPOINT"); v != "" {
		azureSection(c).Endpoint = v
	}
	if v := env("AZURE_OPENAI_API_KEY"); v != "" && c.Providers.Azure != nil {
		c.Providers.Azure.APIKey = v
	}
	if v := env("ANTHROPIC_API_KEY"); v != "" {
		anthropicSection(c).APIKey = v
	}
	if v := env("ANTHROPIC_BASE_URL"); v != "" {
		anthropicSection(c).BaseURL = v
	}
	if v := env("GEMINI_API_KEY", "GOOGLE_API_KEY"); v != "" {
		geminiSection(c).APIKey = v
	}
	if v := env("GEMINI_BASE_URL"); v != "" {
		geminiSection(c).BaseURL = v
	}
	if v := env("AIPROXY_ADMIN_TOKEN"); v != "" {
		c.Admin.Token = v
	}
}

func openaiSection(c *config.Config) *config.OpenAI {
	if c.Providers.OpenAI == nil {
		c.Providers.OpenAI = &config.OpenAI{}
	}
	return c.Providers.OpenAI
}

func azureSection(c *config.Config) *config.Azure {
	if c.Providers.Azure == nil {
		c.Providers.Azure = &config.Azure{}
	}
	return c.Providers.Azure
}

func anthropicSection(c *config.Config) *config.Anthropic {
	if c.Providers.Anthropic == nil {
		c.Providers.Anthropic = &config.Anthropic{}
	}
	return c.Providers.Anthropic
}

func bedrockSection(c *config.Config) *config.Bedrock {
	if c.Providers.Bedrock == nil {
		c.Providers.Bedrock = &config.Bedrock{}
	}
	return c.Providers.Bedrock
}

func geminiSection(c *config.Config) *config.Gemini {
	if c.Providers.Gemini == nil {
		c.Providers.Gemini = &config.Gemini{}
	}
	return c.Providers.Gemini
}

// buildProviders creates the providers in routing order: those with narrow routes first,
// OpenAI (which also serves the root) last. It returns the keys to scrub from the log too.
func buildProviders(c *config.Config) ([]provider.Provider, []string, error) {
	var ps []provider.Provider
	var secrets []string
	pv := c.Providers
	if a := pv.Azure; a != nil {
		deps := map[string]openai.AzureDeployment{}
		for name, d := range a.Deployments {
			deps[name] = openai.AzureDeployment{Endpoint: d.Endpoint, APIKey: d.APIKey}
			secrets = append(secrets, d.APIKey)
		}
		ps = append(ps, openai.NewAzure(openai.AzureOptions{Endpoint: a.Endpoint, APIKey: a.APIKey, Deployments: deps}))
		secrets = append(secrets, a.APIKey)
	}
	an := pv.Anthropic
	if an == nil {
		an = &config.Anthropic{}
	}
	ps = append(ps, anthropic.New(anthropic.Options{APIKey: an.APIKey, BaseURL: an.BaseURL, Version: an.Version}))
	secrets = append(secrets, an.APIKey)
	// Bedrock needs a region to sign for: it is served when configured, or when the
	// environment names a region as the AWS SDKs read it.
	br := pv.Bedrock
	if br == nil && (os.Getenv("AWS_REGION") != "" || os.Getenv("AWS_DEFAULT_REGION") != "") {
		br = &config.Bedrock{}
	}
	if br != nil {
		bp, err := bedrock.New(bedrock.Options{Region: br.Region, Endpoint: br.Endpoint, Profile: br.Profile,
			AccessKeyID: br.AccessKeyID, SecretAccessKey: br.SecretAccessKey, SessionToken: br.SessionToken})
		if err != nil {
			return nil, nil, fmt.Errorf("bedrock: %w", err)
		}
		ps = append(ps, bp)
		secrets = append(secrets, br.SecretAccessKey, br.SessionToken)
	}
	gm := pv.Gemini
	if gm == nil {
		gm = &config.Gemini{}
	}
	ps = append(ps, gemini.New(gemini.Options{APIKey: gm.APIKey, BaseURL: gm.BaseURL}))
	secrets = append(secrets, gm.APIKey)
	for _, u := range pv.Compatible {
		ps = append(ps, openai.New(openai.Options{Name: u.Name, BaseURL: u.BaseURL, APIKey: u.APIKey}))
		secrets = append(secrets, u.APIKey)
	}
	oa := pv.OpenAI
	if oa == nil {
		oa = &config.OpenAI{}
	}
	ps = append(ps, openai.New(openai.Options{APIKey: oa.APIKey, BaseURL: oa.BaseURL}))
	secrets = append(secrets, oa.APIKey)
	return ps, secrets, nil
}

// serve runs the proxy until ctx ends, then shuts down gracefully: in-flight requests
// finish, and the access log drains into the database. ready, when set, receives the
// address once listening.
func serve(ctx context.Context, cfg *config.Config, stderr io.Writer, ready func(addr string)) error {
	return serveConfig(ctx, cfg, stderr, ready, nil)
}

// serveConfig is serve, reloading the filters and client keys from reload on SIGHUP when
// reload is set.
func serveConfig(ctx context.Context, cfg *config.Config, stderr io.Writer, ready func(addr string), reload func() (*config.Config, error)) error {
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	prices, err := cfg.PriceTable()
	if err != nil {
		return err
	}
	store, err := accesslog.Open(cfg.Database)
	if err != nil {
		return fmt.Errorf("open access log: %w", err)
	}
	defer store.Close()
	base := store // what retention prunes; store may become a tee to the sinks
	if cfg.LogJSONL != "" {
		sink, err := accesslog.OpenJSONL(cfg.LogJSONL)
		if err != nil {
			return err
		}
		defer sink.Close()
		store = accesslog.Tee(store, func(err error) { logger.Error("access log sink failed", "err", err) }, sink)
	}

	providers, secrets, err := buildProviders(cfg)
	if err != nil {
		return err
	}
	for _, k := range cfg.ClientKeys {
		// Client keys are scrubbed from bodies too; headers are masked anyway.
		secrets = append(secrets, k.Key, k.AWSSecretAccessKey)
	}
	stack := &filterStack{store: base, prices: prices, logger: logger}
	p, err := aiproxy.New(aiproxy.Options{
		Providers:             providers,
		Store:                 store,
		Writer:                accesslog.WriterOptions{Enrich: stack.settle, SpillDir: spillDir(cfg, logger)},
		Prices:                prices,
		MaxRetries:            cfg.MaxRetries,
		MaxBodySize:           cfg.MaxBodySize,
		ConnectTimeout:        time.Duration(cfg.Timeouts.Connect),
		ResponseHeaderTimeout: time.Duration(cfg.Timeouts.ResponseHeader),
		StreamIdleTimeout:     time.Duration(cfg.Timeouts.StreamIdle),
		Secrets:               secrets,
		Logger:                logger,
		Metrics:               metrics.New(),
	})
	if err != nil {
		return err
	}
	stack.proxy = p
	defer stack.close(context.Background())
	if err := stack.apply(ctx, cfg); err != nil {
		return err
	}
	if len(cfg.ClientKeys) == 0 && !loopback(cfg.Listen) {
		logger.Warn("no client_keys configured: anyone who can reach " + cfg.Listen + " can use the upstream keys and read replays; configure client_keys or listen on 127.0.0.1")
	}
	if reload != nil {
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		go reloadOnSignal(ctx, hup, reload, cfg, stack, logger)
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	if u := selfUpstream(cfg, ln.Addr().String()); u != "" {
		ln.Close()
		return fmt.Errorf("upstream %s is this proxy's own address: check the *_BASE_URL variables, which SDKs also read", u)
	}
	handler, admin, dash, err := dashboardHandlers(cfg, base, p, ln.Addr().String(), logger)
	if err != nil {
		ln.Close()
		return err
	}
	if dash != nil {
		defer dash.Close() // its rollup maintenance, before the store closes
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 30 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	// HTTP/1.1 and HTTP/2 over cleartext (prior knowledge) on the same port: the AWS SDK
	// for JavaScript speaks h2c to http:// endpoints.
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	logger.Info("aiproxy listening", "addr", "http://"+ln.Addr().String(), "database", accesslog.RedactDSN(cfg.Database), "version", aiproxy.Version)
	if ready != nil {
		ready(ln.Addr().String())
	}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	if admin != nil {
		adminLn, err := net.Listen("tcp", cfg.Admin.Addr)
		if err != nil {
			_ = srv.Close()
			return fmt.Errorf("admin address: %w", err)
		}
		logger.Info("dashboard listening", "addr", "http://"+adminLn.Addr().String()+dashboardPrefix+"/")
		go func() { errc <- admin.Serve(adminLn) }()
		defer admin.Close()
	}
	retireCtx, stopRetire := context.WithCancel(ctx)
	defer stopRetire()
	go retire(retireCtx, base, cfg, logger)
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
	logger.Info("access log drained", "written", st.Written, "failed", st.Failed, "spilled", st.Spilled, "spill_pending", st.SpillPending)
	return nil
}

// spillDir is the directory of the log's spill file, "" for none: the configured one
// ("off" disables it), else accesslog.DefaultSpillDir. A directory that cannot be created
// is logged and the writer runs without a spill.
func spillDir(cfg *config.Config, logger *slog.Logger) string {
	dir := cfg.SpillDir
	switch dir {
	case "off":
		return ""
	case "":
		dir = accesslog.DefaultSpillDir(cfg.Database, cfg.Listen)
	}
	if dir == "" {
		return ""
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		logger.Error("no spill directory: the log writer will wait for the database when it is down", "dir", dir, "err", err)
		return ""
	}
	return dir
}

// reloadOnSignal reloads the configuration at each signal until ctx ends. The filters and
// client keys take effect at once; requests under way finish with the filters they
// started with. An invalid file is refused and the running configuration stays.
func reloadOnSignal(ctx context.Context, sig <-chan os.Signal, reload func() (*config.Config, error), running *config.Config, stack *filterStack, logger *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-sig:
		}
		next, err := reload()
		if err == nil {
			err = stack.apply(ctx, next)
		}
		if err != nil {
			logger.Error("config reload refused; the running configuration stays", "err", err)
			continue
		}
		if next.Listen != running.Listen || next.Database != running.Database || !reflect.DeepEqual(next.Providers, running.Providers) {
			logger.Warn("config reload: listen, database and providers changes take effect at the next start")
		}
		logger.Info("config reloaded", "client_keys", len(next.ClientKeys), "filters", len(next.Filters))
	}
}

// selfUpstream returns an upstream URL that points back at the proxy's own listen address,
// which would make every request call itself, or "".
func selfUpstream(c *config.Config, listen string) string {
	_, port, _ := net.SplitHostPort(listen)
	local := map[string]bool{"localhost": true, "127.0.0.1": true, "::1": true, "0.0.0.0": true, "::": true}
	if h, _, _ := net.SplitHostPort(c.Listen); h != "" {
		local[h] = true
	}
	pv := c.Providers
	var urls []string
	if pv.OpenAI != nil {
		urls = append(urls, pv.OpenAI.BaseURL)
	}
	if pv.Azure != nil {
		urls = append(urls, pv.Azure.Endpoint)
	}
	if pv.Anthropic != nil {
		urls = append(urls, pv.Anthropic.BaseURL)
	}
	if pv.Bedrock != nil {
		urls = append(urls, pv.Bedrock.Endpoint)
	}
	if pv.Gemini != nil {
		urls = append(urls, pv.Gemini.BaseURL)
	}
	for _, u := range pv.Compatible {
		urls = append(urls, u.BaseURL)
	}
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			continue
		}
		p := u.Port()
		if p == "" {
			p = map[string]string{"http": "80", "https": "443"}[u.Scheme]
		}
		if p == port && local[u.Hostname()] {
			return raw
		}
	}
	return ""
}

// retire applies the retention settings at start and then hourly, until ctx ends.
func retire(ctx context.Context, store accesslog.Store, cfg *config.Config, logger *slog.Logger) {
	p, ok := store.(accesslog.Pruner)
	if !ok || (cfg.Retention == 0 && cfg.ContentRetention == 0) {
		return
	}
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		now := time.Now()
		if d := time.Duration(cfg.ContentRetention); d > 0 {
			n, err := p.PruneContent(ctx, now.Add(-d))
			logger.Info("access log content retention", "older_than", d, "rows", n, "err", err)
		}
		if d := time.Duration(cfg.Retention); d > 0 {
			n, err := p.Prune(ctx, now.Add(-d))
			logger.Info("access log retention", "older_than", d, "deleted", n, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// prune is the `aiproxy prune` command: one retention pass over the log database.
func prune(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("aiproxy prune", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var olderThan, contentOlderThan time.Duration
	db := fs.String("db", "aiproxy.db", "access log database: SQLite path or postgres:// URL")
	fs.Var(daysVar(&olderThan), "older-than", "delete rows older than this, e.g. 90d")
	fs.Var(daysVar(&contentOlderThan), "content-older-than", "blank bodies and texts of rows older than this, e.g. 7d")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if olderThan == 0 && contentOlderThan == 0 {
		return errors.New("prune: give --older-than and/or --content-older-than")
	}
	store, err := accesslog.Open(*db)
	if err != nil {
		return err
	}
	defer store.Close()
	p, ok := store.(accesslog.Pruner)
	if !ok {
		return fmt.Errorf("prune: %T cannot prune", store)
	}
	now := time.Now()
	if contentOlderThan > 0 {
		n, err := p.PruneContent(ctx, now.Add(-contentOlderThan))
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "blanked the content of %d rows older than %s\n", n, contentOlderThan)
	}
	if olderThan > 0 {
		n, err := p.Prune(ctx, now.Add(-olderThan))
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "deleted %d rows older than %s\n", n, olderThan)
	}
	return nil
}

type daysValue struct{ p *time.Duration }

func daysVar(p *time.Duration) flag.Value { return daysValue{p} }
func (v daysValue) String() string        { return "" }
func (v daysValue) Set(s string) error {
	d, err := config.ParseDuration(s)
	*v.p = d
	return err
}

type boolValue struct{ p *bool }

func boolVar(p *bool) flag.Value     { return boolValue{p} }
func (v boolValue) String() string   { return "" }
func (v boolValue) IsBoolFlag() bool { return true }
func (v boolValue) Set(s string) error {
	b, err := strconv.ParseBool(s)
	*v.p = b
	return err
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
