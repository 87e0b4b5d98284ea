// Package config reads the aiproxy YAML configuration file. The file is strict: an unknown
// key is an error that names its line. ${VAR} expands from the environment.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/aiproxy-go/aiproxy/pricing"
)

// Config is the whole configuration of the aiproxy binary.
type Config struct {
	// Listen is the address to serve on, host:port. Default 127.0.0.1:8000.
	Listen string `yaml:"listen"`
	// Database is a SQLite file path (default aiproxy.db) or a connection string.
	Database string `yaml:"database"`
	// Retention deletes rows older than this, checked hourly; 0 keeps everything.
	Retention Duration `yaml:"retention"`
	// ContentRetention blanks bodies, headers and texts of rows older than this, keeping
	// counts, tokens, times and cost; 0 keeps them.
	ContentRetention Duration `yaml:"content_retention"`
	// LogJSONL, when set, also appends every log row to this JSON Lines file.
	LogJSONL string `yaml:"log_jsonl"`
	// Providers configures the upstream APIs.
	Providers Providers `yaml:"providers"`
	// MaxRetries retries 429, 5xx and connection errors upstream. Default 0.
	MaxRetries int `yaml:"max_retries"`
	// MaxBodySize limits request bodies, in bytes. Default 32 MiB.
	MaxBodySize int64 `yaml:"max_body_size"`
	// Timeouts of the upstream calls.
	Timeouts Timeouts `yaml:"timeouts"`
	// ReplayHeader is the request header of the built-in replay filter; "off" disables it.
	// Default x-aiproxy-replay. A replay entry in Filters replaces it.
	ReplayHeader string `yaml:"replay_header"`
	// SpillDir holds the log writer's spill file while the database cannot take rows.
	// Default: a directory next to the SQLite file, or in the user's cache directory.
	SpillDir string `yaml:"spill_dir"`

	// ClientKeys, when present, are the only credentials the proxy accepts; each request
	// must carry one. Without them the proxy is open.
	ClientKeys []ClientKey `yaml:"client_keys"`
	// Redis, a redis:// URL, shares the rate-limit counters of several proxy instances;
	// without it they are kept in memory.
	Redis string `yaml:"redis"`
	// Filters are the built-in filters, in order: each entry is a one-key map from the
	// filter's name to its options, which may also hold fail (open or closed) and timeout.
	Filters []Filter `yaml:"filters"`
	// Prices go over the embedded price table, in its format (pricing/prices.yaml).
	Prices yaml.Node `yaml:"prices"`
	// Admin configures the dashboard.
	Admin Admin `yaml:"admin"`
}

// ClientKey is one credential clients may use, with its limits.
type ClientKey struct {
	// Name identifies the key in the log (client_key) and in errors; it is not secret.
	Name string `yaml:"name"`
	// Key is the key itself, or KeySHA256 its SHA-256 in hex, so the file need not hold it.
	Key       string `yaml:"key"`
	KeySHA256 string `yaml:"key_sha256"`
	// AWSAccessKeyID and AWSSecretAccessKey are a pair that Bedrock clients sign their
	// requests with (SigV4); the proxy verifies the signature, then signs anew upstream.
	AWSAccessKeyID     string `yaml:"aws_access_key_id"`
	AWSSecretAccessKey string `yaml:"aws_secret_access_key"`
	// Models the key may use, as glob patterns (gpt-4o*); empty allows all.
	Models []string `yaml:"models"`
	// RequestsPerMinute and TokensPerMinute limit the key; 0 is no limit.
	RequestsPerMinute int `yaml:"requests_per_minute"`
	TokensPerMinute   int `yaml:"tokens_per_minute"`
	// BudgetUSDPerDay caps the key's spend per UTC day; 0 is no cap.
	BudgetUSDPerDay float64 `yaml:"budget_usd_per_day"`
}

// Admin configures the dashboard.
type Admin struct {
	// Addr serves the dashboard on its own address instead of under /dashboard of the
	// proxy's.
	Addr string `yaml:"addr"`
	// Token, when set, is required to open the dashboard (as a bearer token or through
	// its login page).
	Token string `yaml:"token"`
	// Dashboard turns the dashboard off when false. Default on.
	Dashboard *bool `yaml:"dashboard"`
}

// Filter is one entry of the filters list: a built-in filter's name and options, and the
// policy for its failures.
type Filter struct {
	// Name is the filter's name, e.g. ban_users.
	Name string
	// Fail is "closed" (default: a filter that panics or times out fails the request) or
	// "open" (the request goes on without it).
	Fail string
	// Timeout bounds each call of the filter; 0 is none.
	Timeout time.Duration
	// Line is the entry's line in the file, for errors.
	Line int

	options yaml.Node
}

// UnmarshalYAML reads a one-key map {name: options}.
func (f *Filter) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		// "- require_user" without options.
		f.Name, f.Line = n.Value, n.Line
		return nil
	}
	if n.Kind != yaml.MappingNode || len(n.Content) != 2 {
		return fmt.Errorf("line %d: a filter is a map with one key, its name (e.g. - ban_users: {users: [a]})", n.Line)
	}
	f.Name, f.Line = n.Content[0].Value, n.Line
	opts := *n.Content[1]
	if opts.Kind == yaml.ScalarNode && opts.Tag == "!!null" {
		return nil
	}
	if opts.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: options of filter %s must be a map", opts.Line, f.Name)
	}
	kept := make([]*yaml.Node, 0, len(opts.Content))
	for i := 0; i+1 < len(opts.Content); i += 2 {
		k, v := opts.Content[i], opts.Content[i+1]
		switch k.Value {
		case "fail":
			if v.Value != "open" && v.Value != "closed" {
				return fmt.Errorf("line %d: filter %s: fail must be open or closed, not %q", v.Line, f.Name, v.Value)
			}
			f.Fail = v.Value
		case "timeout":
			d, err := time.ParseDuration(v.Value)
			if err != nil || d < 0 {
				return fmt.Errorf("line %d: filter %s: timeout %q is not a duration like 2s", v.Line, f.Name, v.Value)
			}
			f.Timeout = d
		default:
			kept = append(kept, k, v)
		}
	}
	opts.Content = kept
	f.options = opts
	return nil
}

// Decode decodes the filter's options into v strictly: an unknown option is an error that
// names its line.
func (f *Filter) Decode(v any) error {
	if f.options.Kind == 0 {
		return nil
	}
	raw, err := yaml.Marshal(&f.options)
	if err != nil {
		return fmt.Errorf("line %d: filter %s: %w", f.Line, f.Name, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		// Lines in err count from the options' own first line.
		return fmt.Errorf("filter %s (line %d): %w", f.Name, f.Line, shiftLines(err, f.options.Line-1))
	}
	return nil
}

var lineRef = regexp.MustCompile(`line (\d+)`)

// shiftLines renumbers the "line N" references of a YAML error by off.
func shiftLines(err error, off int) error {
	msg := lineRef.ReplaceAllStringFunc(err.Error(), func(m string) string {
		n, _ := strconv.Atoi(m[len("line "):])
		return "line " + strconv.Itoa(n+off)
	})
	return errors.New(msg)
}

// PriceTable returns the embedded prices with the file's prices over them.
func (c *Config) PriceTable() (*pricing.Table, error) {
	if c.Prices.Kind == 0 {
		return pricing.Default(), nil
	}
	raw, err := yaml.Marshal(&c.Prices)
	if err != nil {
		return nil, fmt.Errorf("config: prices: %w", err)
	}
	t, err := pricing.Load(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("config: prices (line %d): %w", c.Prices.Line, shiftLines(err, c.Prices.Line-1))
	}
	return pricing.Default().With(t), nil
}

// Providers configures each provider. OpenAI, Anthropic, Bedrock and Gemini are served
// without a section too (clients then bring their own keys; Bedrock uses the AWS default
// credential chain); Azure needs its endpoint.
type Providers struct {
	OpenAI    *OpenAI    `yaml:"openai"`
	Azure     *Azure     `yaml:"azure"`
	Anthropic *Anthropic `yaml:"anthropic"`
	Bedrock   *Bedrock   `yaml:"bedrock"`
	Gemini    *Gemini    `yaml:"gemini"`
	// Compatible are more OpenAI-compatible upstreams (vLLM, Ollama, Groq, a second
	// OpenAI account), each served under /{name}/v1/....
	Compatible []Compatible `yaml:"openai_compatible"`
}

// OpenAI configures the OpenAI provider.
type OpenAI struct {
	APIKey  string `yaml:"api_key"`
	BaseURL string `yaml:"base_url"`
}

// Azure configures Azure OpenAI.
type Azure struct {
	Endpoint    string                     `yaml:"endpoint"`
	APIKey      string                     `yaml:"api_key"`
	Deployments map[string]AzureDeployment `yaml:"deployments"`
}

// AzureDeployment sends one deployment to its own endpoint and key.
type AzureDeployment struct {
	Endpoint string `yaml:"endpoint"`
	APIKey   string `yaml:"api_key"`
}

// Anthropic configures the Anthropic provider.
type Anthropic struct {
	APIKey  string `yaml:"api_key"`
	BaseURL string `yaml:"base_url"`
	Version string `yaml:"version"`
}

// Bedrock configures AWS Bedrock, served when this section (or a Bedrock flag, or AWS_REGION)
// is present. Without keys the AWS default credential chain is used.
type Bedrock struct {
	Region          string `yaml:"region"`
	Endpoint        string `yaml:"endpoint"`
	AccessKeyID     string `yaml:"access_key_id"`
	SecretAccessKey string `yaml:"secret_access_key"`
	SessionToken    string `yaml:"session_token"`
	Profile         string `yaml:"profile"`
}

// Gemini configures the Gemini API provider.
type Gemini struct {
	APIKey  string `yaml:"api_key"`
	BaseURL string `yaml:"base_url"`
}

// Compatible is a named OpenAI-compatible upstream.
type Compatible struct {
	Name    string `yaml:"name"`
	BaseURL string `yaml:"base_url"`
	APIKey  string `yaml:"api_key"`
}

// Timeouts of the upstream calls; zero keeps the default.
type Timeouts struct {
	Connect        Duration `yaml:"connect"`
	ResponseHeader Duration `yaml:"response_header"`
	StreamIdle     Duration `yaml:"stream_idle"`
}

// Duration is a time.Duration written as in Go ("10s", "5m").
type Duration time.Duration

// ParseDuration reads a Go duration ("90m", "12h") or a number of days ("30d").
func ParseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// UnmarshalYAML parses a Go duration string or a number of days ("30d").
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// Default returns the configuration used when nothing is set.
func Default() *Config {
	return &Config{Listen: "127.0.0.1:8000", Database: "aiproxy.db", ReplayHeader: "x-aiproxy-replay"}
}

// identifier is what a named upstream may be called: it becomes a path prefix.
var identifier = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// reserved names are path prefixes the built-in providers serve.
var reserved = map[string]bool{"openai": true, "azure": true, "anthropic": true, "bedrock": true, "gemini": true,
	"googleaistudio": true, "v1": true, "v1beta": true, "v1alpha": true, "model": true, "healthz": true, "metrics": true, "dashboard": true}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// Load reads the file at path over the defaults in c.
func Load(path string, c *Config) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	raw, missing := expandEnv(raw)
	if len(missing) > 0 {
		return fmt.Errorf("config %s: environment variables not set: %v", path, missing)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) { // io.EOF: an empty file
		return fmt.Errorf("config %s: %w", path, err)
	}
	return c.Validate()
}

// expandEnv replaces ${VAR} with the variable's value outside comments, line by line so
// that errors keep their line numbers. It returns the names that are not set.
func expandEnv(raw []byte) ([]byte, []string) {
	var missing []string
	lines := bytes.SplitAfter(raw, []byte("\n"))
	for i, line := range lines {
		code, comment := line[:commentStart(line)], line[commentStart(line):]
		code = envRef.ReplaceAllFunc(code, func(m []byte) []byte {
			name := string(m[2 : len(m)-1])
			v, ok := os.LookupEnv(name)
			if !ok {
				missing = append(missing, name)
			}
			return []byte(v)
		})
		lines[i] = append(code[:len(code):len(code)], comment...)
	}
	return bytes.Join(lines, nil), missing
}

// commentStart returns where a line's YAML comment starts (a # at the start or after a
// space, outside quotes), or len(line).
func commentStart(line []byte) int {
	var quote byte
	for i, c := range line {
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case (c == '"' || c == '\'') && (i == 0 || strings.IndexByte(" \t:[{,-", line[i-1]) >= 0):
			// A quote opens a quoted scalar only where a scalar starts; "can't" is plain.
			quote = c
		case c == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t'):
			return i
		}
	}
	return len(line)
}

// Validate checks the settings that would otherwise fail later and less clearly.
func (c *Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("config: listen %q: %w", c.Listen, err)
	}
	if c.MaxRetries < 0 {
		return fmt.Errorf("config: max_retries %d is negative", c.MaxRetries)
	}
	pv := c.Providers
	urls := map[string]string{}
	if pv.OpenAI != nil {
		urls["providers.openai.base_url"] = pv.OpenAI.BaseURL
	}
	if pv.Azure != nil {
		if pv.Azure.Endpoint == "" && len(pv.Azure.Deployments) == 0 {
			return errors.New("config: providers.azure needs an endpoint")
		}
		urls["providers.azure.endpoint"] = pv.Azure.Endpoint
		for name, d := range pv.Azure.Deployments {
			urls["providers.azure.deployments."+name+".endpoint"] = d.Endpoint
		}
	}
	if pv.Anthropic != nil {
		urls["providers.anthropic.base_url"] = pv.Anthropic.BaseURL
	}
	if pv.Bedrock != nil {
		urls["providers.bedrock.endpoint"] = pv.Bedrock.Endpoint
		if (pv.Bedrock.AccessKeyID == "") != (pv.Bedrock.SecretAccessKey == "") {
			return errors.New("config: providers.bedrock needs both access_key_id and secret_access_key, or neither")
		}
	}
	if pv.Gemini != nil {
		urls["providers.gemini.base_url"] = pv.Gemini.BaseURL
	}
	seen := map[string]bool{}
	for i, u := range pv.Compatible {
		if !identifier.MatchString(u.Name) {
			return fmt.Errorf("config: providers.openai_compatible[%d]: name %q must be lowercase letters, digits, - or _", i, u.Name)
		}
		if reserved[u.Name] || seen[u.Name] {
			return fmt.Errorf("config: providers.openai_compatible[%d]: name %q is taken", i, u.Name)
		}
		seen[u.Name] = true
		if u.BaseURL == "" {
			return fmt.Errorf("config: providers.openai_compatible[%d] (%s) needs a base_url", i, u.Name)
		}
		urls[fmt.Sprintf("providers.openai_compatible[%d].base_url", i)] = u.BaseURL
	}
	for key, raw := range urls {
		if raw == "" {
			continue
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("config: %s %q is not an absolute http(s) URL", key, raw)
		}
	}
	if c.MaxBodySize < 0 {
		return fmt.Errorf("config: max_body_size %d is negative", c.MaxBodySize)
	}
	if err := c.validateKeys(); err != nil {
		return err
	}
	if c.Redis != "" {
		u, err := url.Parse(c.Redis)
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") {
			return fmt.Errorf("config: redis %q is not a redis:// URL", redactURL(c.Redis))
		}
	}
	if _, err := c.PriceTable(); err != nil {
		return err
	}
	if c.Admin.Addr != "" {
		if _, _, err := net.SplitHostPort(c.Admin.Addr); err != nil {
			return fmt.Errorf("config: admin.addr %q: %w", c.Admin.Addr, err)
		}
	}
	return nil
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// validateKeys checks the client keys: each has a unique name and exactly one credential
// kind, and the limits are not negative. Errors name keys by name, never by value.
func (c *Config) validateKeys() error {
	names := map[string]bool{}
	for i, k := range c.ClientKeys {
		where := fmt.Sprintf("config: client_keys[%d]", i)
		if k.Name == "" {
			return fmt.Errorf("%s needs a name", where)
		}
		where += " (" + k.Name + ")"
		if names[k.Name] {
			return fmt.Errorf("%s: the name is used twice", where)
		}
		names[k.Name] = true
		kinds := 0
		if k.Key != "" {
			kinds++
		}
		if k.KeySHA256 != "" {
			kinds++
			if !sha256Hex.MatchString(strings.ToLower(k.KeySHA256)) {
				return fmt.Errorf("%s: key_sha256 must be 64 hex digits", where)
			}
		}
		if k.AWSAccessKeyID != "" || k.AWSSecretAccessKey != "" {
			kinds++
			if k.AWSAccessKeyID == "" || k.AWSSecretAccessKey == "" {
				return fmt.Errorf("%s needs both aws_access_key_id and aws_secret_access_key", where)
			}
		}
		if kinds != 1 {
			return fmt.Errorf("%s needs exactly one of key, key_sha256 or an aws_access_key_id/aws_secret_access_key pair", where)
		}
		if k.RequestsPerMinute < 0 || k.TokensPerMinute < 0 || k.BudgetUSDPerDay < 0 {
			return fmt.Errorf("%s: limits cannot be negative", where)
		}
		for _, m := range k.Models {
			if _, err := path.Match(m, ""); err != nil {
				return fmt.Errorf("%s: model pattern %q: %w", where, m, err)
			}
		}
	}
	return nil
}

// redactURL hides a URL's password.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable)"
	}
	return u.Redacted()
}
