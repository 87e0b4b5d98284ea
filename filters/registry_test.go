package filters_test

import (
	"bytes"
	"os"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/filters"
)

// exampleConfig is issue 5's example configuration, whose filters section the tests build.
var exampleConfig = func() string {
	b, err := os.ReadFile("../examples/aiproxy.yaml")
	if err != nil {
		panic(err)
	}
	return string(b)
}()

// buildFilters builds the filters of a YAML filters section the way the configuration
// does: each entry's options decoded strictly into the filter.
func buildFilters(t testing.TB, config string, env filters.Env) ([]any, error) {
	t.Helper()
	var doc struct {
		Filters []map[string]yaml.Node `yaml:"filters"`
	}
	if err := yaml.Unmarshal([]byte(config), &doc); err != nil {
		t.Fatal(err)
	}
	var out []any
	for _, entry := range doc.Filters {
		for name, node := range entry {
			f, err := filters.New(name, strictDecode(&node), env)
			if err != nil {
				return nil, err
			}
			out = append(out, f)
		}
	}
	return out, nil
}

// strictDecode decodes a YAML node into v, refusing keys v does not have.
func strictDecode(node *yaml.Node) func(v any) error {
	return func(v any) error {
		b, err := yaml.Marshal(node)
		if err != nil {
			return err
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		return dec.Decode(v)
	}
}

func TestNewFromConfig(t *testing.T) {
	src := fakeSource{}
	fs, err := buildFilters(t, exampleConfig, filters.Env{Source: src})
	if err != nil {
		t.Fatal(err)
	}
	want := []any{
		&filters.BanUsers{Users: []string{"uezo"}, Message: "you can't use this service"},
		&filters.RequireUser{Message: "user is required"},
		&filters.Models{Rewrite: map[string]string{"gpt-4o": "gpt-4o-mini"}, Deny: []string{"o1*"}},
		&filters.MaxTokens{Limit: 2048},
		&filters.BlockPatterns{Patterns: []string{"(?i)ignore previous instructions"}, Message: "blocked"},
		&filters.Redact{Kinds: []string{"email", "phone", "credit_card", "api_key"}, In: []string{"request", "log"}},
		&filters.Replay{Header: "x-aiproxy-replay", Source: src},
	}
	if len(fs) != len(want) {
		t.Fatalf("%d filters", len(fs))
	}
	for i := range want {
		if reflect.TypeOf(fs[i]) != reflect.TypeOf(want[i]) {
			t.Fatalf("filter %d is %T, want %T", i, fs[i], want[i])
		}
		if !sameOptions(fs[i], want[i]) {
			t.Errorf("filter %d = %+v, want %+v", i, fs[i], want[i])
		}
		if _, ok := fs[i].(aiproxy.RequestFilter); !ok {
			t.Errorf("%T is not a request filter", fs[i])
		}
	}
	if _, ok := fs[5].(aiproxy.LogFilter); !ok {
		t.Error("redact is not a log filter")
	}
}

// sameOptions compares the exported fields of two filters.
func sameOptions(a, b any) bool {
	va, vb := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	for i := range va.NumField() {
		if !va.Type().Field(i).IsExported() {
			continue
		}
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			return false
		}
	}
	return true
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		config string
		want   string // part of the error
	}{
		{"filters: [{no_such: {}}]", `unknown filter "no_such" (known: ban_users, block_patterns, max_tokens, models, redact, replay, require_user)`},
		{"filters: [{ban_users: {users: []}}]", "ban_users: users is empty"},
		{"filters: [{ban_users: {}}]", "ban_users: users is empty"},
		{"filters: [{ban_users: {users: [a], mesage: x}}]", "field mesage not found"},
		{"filters: [{block_patterns: {patterns: ['(unclosed']}}]", `block_patterns: pattern "(unclosed": error parsing regexp: missing closing )`},
		{"filters: [{block_patterns: {patterns: [x], status: 200}}]", "status 200 is not an error status"},
		{"filters: [{block_patterns: {}}]", "block_patterns: patterns is empty"},
		{"filters: [{redact: {kinds: [email, ssn]}}]", `redact: unknown kind "ssn" (known: api_key, email, credit_card, phone)`},
		{"filters: [{redact: {in: [upstream]}}]", `redact: unknown place "upstream"`},
		{"filters: [{redact: {patterns: ['a[']}}]", `redact: pattern "a["`},
		{"filters: [{max_tokens: {limit: 0}}]", "max_tokens: limit must be a positive number"},
		{"filters: [{max_tokens: {limit: many}}]", "cannot unmarshal"},
		{"filters: [{models: {deny: ['o1[']}}]", `models: glob "o1["`},
		{"filters: [{models: {rewrite: {a: ''}}}]", `models: rewrite of "a" names no model`},
		{"filters: [{replay: {header: x}}]", "replay: no record source"},
		{"filters: [{replay: {source: x}}]", "field source not found"},
		{"filters: [{require_user: {fail: open}}]", "field fail not found"},
	}
	for _, tc := range tests {
		_, err := buildFilters(t, tc.config, filters.Env{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.config, err, tc.want)
		}
	}
}

func TestNamesAndNilDecode(t *testing.T) {
	if got := filters.Names(); !reflect.DeepEqual(got, []string{"ban_users", "block_patterns", "max_tokens", "models", "redact", "replay", "require_user"}) {
		t.Errorf("names %v", got)
	}
	f, err := filters.New("redact", nil, filters.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if r := f.(*filters.Redact); r.Kinds != nil || r.In != nil {
		t.Errorf("defaults changed: %+v", r)
	}
	if _, err := filters.New("require_user", nil, filters.Env{}); err != nil {
		t.Fatal(err)
	}
}
