package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// exampleFile is the configuration of the filters issue, which must work as written.
const exampleFile = "../examples/aiproxy.yaml"

func load(t *testing.T, yaml string) (*Config, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "aiproxy.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c := Default()
	return c, Load(p, c)
}

func TestIssueExampleLoads(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "sk-test")
	raw, err := os.ReadFile(exampleFile)
	if err != nil {
		t.Fatal(err)
	}
	c, err := load(t, string(raw))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.ClientKeys) != 2 || c.ClientKeys[0].BudgetUSDPerDay != 5 || c.ClientKeys[0].Models[1] != "gpt-4.1-mini" || c.ClientKeys[1].KeySHA256 == "" {
		t.Fatalf("client keys %+v", c.ClientKeys)
	}
	var names []string
	for _, f := range c.Filters {
		names = append(names, f.Name)
	}
	if got := strings.Join(names, ","); got != "ban_users,require_user,models,max_tokens,block_patterns,redact,replay" {
		t.Fatalf("filters %s", got)
	}
	var opts struct {
		Users   []string `yaml:"users"`
		Message string   `yaml:"message"`
	}
	if err := c.Filters[0].Decode(&opts); err != nil || opts.Users[0] != "uezo" || opts.Message != "you can't use this service" {
		t.Fatalf("ban_users options %+v, %v", opts, err)
	}
}

func TestFilterPolicyKeys(t *testing.T) {
	c, err := load(t, "filters:\n  - ban_users: {users: [a], fail: open, timeout: 250ms}\n  - require_user\n")
	if err != nil {
		t.Fatal(err)
	}
	f := c.Filters[0]
	if f.Fail != "open" || f.Timeout != 250*time.Millisecond || f.Line != 2 {
		t.Fatalf("%+v", f)
	}
	var opts struct {
		Users []string `yaml:"users"`
	}
	if err := f.Decode(&opts); err != nil || len(opts.Users) != 1 {
		t.Fatalf("the policy keys reached the options: %v", err)
	}
	if c.Filters[1].Name != "require_user" {
		t.Fatalf("bare filter name: %+v", c.Filters[1])
	}
}

func TestFilterErrorsNameTheirLine(t *testing.T) {
	c, err := load(t, "listen: 127.0.0.1:8000\nfilters:\n  - ban_users:\n      users: [a]\n      colour: red\n")
	if err != nil {
		t.Fatal(err)
	}
	var opts struct {
		Users []string `yaml:"users"`
	}
	err = c.Filters[0].Decode(&opts)
	if err == nil || !strings.Contains(err.Error(), "line 5") || !strings.Contains(err.Error(), "colour") {
		t.Fatalf("unknown option error %v should name line 5 and the key", err)
	}
	for _, bad := range []string{
		"filters:\n  - ban_users: {users: [a], fail: maybe}\n",
		"filters:\n  - ban_users: {users: [a], timeout: soon}\n",
		"filters:\n  - {ban_users: {}, require_user: {}}\n",
	} {
		if _, err := load(t, bad); err == nil || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("%q: error %v should name line 2", bad, err)
		}
	}
}

func TestClientKeysValidation(t *testing.T) {
	for yaml, want := range map[string]string{
		"client_keys:\n  - key: sk-1\n":                                                               "needs a name",
		"client_keys:\n  - name: a\n    key: sk-1\n  - name: a\n    key: sk-2\n":                      "used twice",
		"client_keys:\n  - name: a\n":                                                                 "exactly one",
		"client_keys:\n  - name: a\n    key: sk-1\n    key_sha256: " + strings.Repeat("a", 64) + "\n": "exactly one",
		"client_keys:\n  - name: a\n    key_sha256: abc\n":                                            "64 hex",
		"client_keys:\n  - name: a\n    aws_access_key_id: AKIA1\n":                                   "both",
		"client_keys:\n  - name: a\n    key: sk-secret-value\n    requests_per_minute: -1\n":          "negative",
		"client_keys:\n  - name: a\n    key: sk-1\n    models: ['[']\n":                               "pattern",
		"redis: http://127.0.0.1:6379\n":                                                              "redis",
	} {
		_, err := load(t, yaml)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", yaml, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "sk-secret-value") {
			t.Errorf("error shows a key: %v", err)
		}
	}
}

func TestPriceOverrides(t *testing.T) {
	c, err := load(t, "prices:\n  openai:\n    models:\n      my-finetune: {input: 3, output: 12}\n")
	if err != nil {
		t.Fatal(err)
	}
	tab, err := c.PriceTable()
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := tab.Lookup("openai", "my-finetune"); !ok || p.Input != 3 || p.Output != 12 {
		t.Fatalf("override %+v %v", p, ok)
	}
	if _, ok := tab.Lookup("openai", "gpt-4o-mini"); !ok {
		t.Fatal("the embedded prices were lost")
	}
	if _, err := load(t, "prices:\n  openai:\n    models:\n      x: {input: -1}\n"); err == nil || !strings.Contains(err.Error(), "line") {
		t.Fatalf("negative price: %v", err)
	}
}

func TestEnvNotExpandedInComments(t *testing.T) {
	t.Setenv("AIPROXY_TEST_KEY", "sk-from-env")
	c, err := load(t, "providers:\n  openai:\n    api_key: ${AIPROXY_TEST_KEY} # not ${UNSET_VAR}\n# ${ALSO_UNSET}\nreplay_header: \"x-#-${AIPROXY_TEST_KEY}\" # can't ${X}\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.Providers.OpenAI.APIKey != "sk-from-env" || c.ReplayHeader != "x-#-sk-from-env" {
		t.Fatalf("api key %q, replay header %q", c.Providers.OpenAI.APIKey, c.ReplayHeader)
	}
	if _, err := load(t, "listen: ${AIPROXY_UNSET_FOR_TEST}\n"); err == nil || !strings.Contains(err.Error(), "AIPROXY_UNSET_FOR_TEST") {
		t.Fatalf("unset variable: %v", err)
	}
}
