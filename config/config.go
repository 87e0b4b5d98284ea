// Package config reads the aiproxy YAML configuration file. The file is strict: an unknown
// key is an error that names its line. ${VAR} expands from the environment.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the whole configuration of the aiproxy binary.
type Config struct {
	// Listen is the address to serve on, host:port. Default 127.0.0.1:8000.
	Listen string `yaml:"listen"`
	// Database is a SQLite file path (default aiproxy.db) or a connection string.
	Database string `yaml:"database"`
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

// Providers configures each provider; a provider without a section is not served.
type Providers struct {
	OpenAI *OpenAI `yaml:"openai"`
}

// OpenAI configures the OpenAI provider.
type OpenAI struct {
	APIKey  string `yaml:"api_key"`
	BaseURL string `yaml:"base_url"`
}

// Timeouts of the upstream calls; zero keeps the default.
type Timeouts struct {
	Connect        Duration `yaml:"connect"`
	ResponseHeader Duration `yaml:"response_header"`
	StreamIdle     Duration `yaml:"stream_idle"`
}

// Duration is a time.Duration written as in Go ("10s", "5m").
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
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
	if c.MaxBodySize < 0 {
		return fmt.Errorf("config: max_body_size %d is negative", c.MaxBodySize)
	}
	return nil
}
