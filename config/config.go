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
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
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
	// Default x-aiproxy-replay.
	ReplayHeader string `yaml:"replay_header"`
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
	var missing []string
	raw = envRef.ReplaceAllFunc(raw, func(m []byte) []byte {
		name := string(m[2 : len(m)-1])
		v, ok := os.LookupEnv(name)
		if !ok {
			missing = append(missing, name)
		}
		return []byte(v)
	})
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
	return nil
}
