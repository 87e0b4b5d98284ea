package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	t.Setenv("CFG_TEST_KEY", "sk-env")
	tests := []struct {
		name, yaml, err string
	}{
		{"valid", "listen: 127.0.0.1:9000\nproviders:\n  openai: {api_key: ${CFG_TEST_KEY}}\n  openai_compatible:\n    - {name: groq, base_url: https://api.groq.com/openai/v1}\n", ""},
		{"empty file", "", ""},
		{"unknown key names its line", "listen: 127.0.0.1:9000\nlisen: x\n", "line 2"},
		{"unset variable", "providers:\n  openai: {api_key: ${CFG_TEST_NOPE}}\n", "CFG_TEST_NOPE"},
		{"bad listen", "listen: nowhere\n", "listen"},
		{"relative base url", "providers:\n  openai: {base_url: api.openai.com/v1}\n", "not an absolute http(s) URL"},
		{"azure without endpoint", "providers:\n  azure: {api_key: k}\n", "endpoint"},
		{"bedrock half a key", "providers:\n  bedrock: {access_key_id: AKID}\n", "both"},
		{"reserved upstream name", "providers:\n  openai_compatible:\n    - {name: anthropic, base_url: http://x}\n", "taken"},
		{"upstream without url", "providers:\n  openai_compatible:\n    - {name: vllm}\n", "base_url"},
		{"bad duration", "timeouts: {connect: soon}\n", "line 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "aiproxy.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			c := Default()
			err := Load(path, c)
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.err)
			}
		})
	}
	c := Default()
	path := filepath.Join(t.TempDir(), "a.yaml")
	os.WriteFile(path, []byte(tests[0].yaml), 0o600)
	if err := Load(path, c); err != nil || c.Providers.OpenAI.APIKey != "sk-env" || c.Listen != "127.0.0.1:9000" || c.Database != "aiproxy.db" {
		t.Fatalf("loaded %+v %v", c, err)
	}
}
