package pricing

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

func TestDefaultParses(t *testing.T) {
	tab, err := Load(bytes.NewReader(defaultYAML))
	if err != nil {
		t.Fatalf("embedded prices.yaml: %v", err)
	}
	for _, name := range []string{"openai", "azure", "anthropic", "bedrock", "gemini"} {
		b := tab.blocks[name]
		if b == nil {
			t.Fatalf("no %s block", name)
		}
		if b.Source == "" || b.Checked == "" {
			t.Errorf("%s: source %q checked %q: every block says where and when its prices come from", name, b.Source, b.Checked)
		}
		if name != "azure" && len(b.Models) < 5 {
			t.Errorf("%s: only %d models", name, len(b.Models))
		}
		for m, p := range b.Models {
			if p.Input == 0 && p.Output == 0 {
				t.Errorf("%s %s: no price", name, m)
			}
			if p.CachedInput > p.Input {
				t.Errorf("%s %s: cached input %v costs more than input %v", name, m, p.CachedInput, p.Input)
			}
			if lc := p.LongContext; lc.Above > 0 && (lc.Input < p.Input || lc.Output < p.Output) {
				t.Errorf("%s %s: long context prices %+v below the base ones", name, m, lc)
			}
		}
	}
	if Default() != Default() {
		t.Error("Default is not shared")
	}
}

func TestLookup(t *testing.T) {
	tab := Default()
	tests := []struct {
		provider, model string
		in, cached, out float64
		ok              bool
	}{
		// Exact names.
		{"openai", "gpt-5", 1.25, 0.125, 10, true},
		{"openai", "gpt-5-mini", 0.25, 0.025, 2, true},
		{"openai", "gpt-5-nano", 0.05, 0.005, 0.40, true},
		{"openai", "gpt-4.1", 2, 0.5, 8, true},
		{"openai", "gpt-4.1-mini", 0.40, 0.10, 1.60, true},
		{"openai", "gpt-4.1-nano", 0.10, 0.025, 0.40, true},
		{"openai", "gpt-4o", 2.5, 1.25, 10, true},
		{"openai", "gpt-4o-mini", 0.15, 0.075, 0.60, true},
		{"openai", "o1", 15, 7.5, 60, true},
		{"openai", "o3", 2, 0.5, 8, true},
		{"openai", "o3-mini", 1.10, 0.55, 4.40, true},
		{"openai", "o4-mini", 1.10, 0.275, 4.40, true},
		{"openai", "text-embedding-3-small", 0.02, 0, 0, true},
		{"openai", "text-embedding-3-large", 0.13, 0, 0, true},
		{"openai", "gpt-3.5-turbo", 0.5, 0, 1.5, true},
		// Dated snapshots resolve to their alias, unless priced on their own.
		{"openai", "gpt-4o-2024-08-06", 2.5, 1.25, 10, true},
		{"openai", "gpt-4o-2024-05-13", 5, 0, 15, true},
		{"openai", "gpt-4o-mini-2024-07-18", 0.15, 0.075, 0.60, true},
		{"openai", "gpt-5-2025-08-07", 1.25, 0.125, 10, true},
		{"openai", "o1-2024-12-17", 15, 7.5, 60, true},
		{"openai", "gpt-3.5-turbo-0125", 0.5, 0, 1.5, true},
		{"openai", "gpt-3.5-turbo-1106", 1, 0, 2, true},
		// Path prefixes and case.
		{"openai", "openai/gpt-4o", 2.5, 1.25, 10, true},
		{"openai", "GPT-4O", 2.5, 1.25, 10, true},
		// Longest known prefix, at a word boundary.
		{"openai", "gpt-4o-search-preview", 2.5, 1.25, 10, true},
		{"openai", "gpt-4o-mini-search-preview-2025-03-11", 0.15, 0.075, 0.60, true},
		{"openai", "o3-mini-high", 1.10, 0.55, 4.40, true},
		{"openai", "gpt-4o-realtime-preview-2024-12-17", 5, 2.5, 20, true},
		// Not a prefix across a dot or inside a word.
		{"openai", "gpt-5.9", 0, 0, 0, false},
		{"openai", "o1x", 0, 0, 0, false},
		{"openai", "ft:gpt-4o-mini-2024-07-18:acme::abc123", 0, 0, 0, false},
		{"openai", "llama3.1", 0, 0, 0, false},
		{"openai", "", 0, 0, 0, false},
		{"openai", "/", 0, 0, 0, false},
		// Azure: its own names, and OpenAI's through inherit.
		{"azure", "gpt-35-turbo", 0.5, 0, 1.5, true},
		{"azure", "gpt-4o-2024-11-20", 2.5, 1.25, 10, true},
		{"azure", "gpt-4.1-nano-2025-04-14", 0.10, 0.025, 0.40, true},
		// Anthropic.
		{"anthropic", "claude-sonnet-4-5-20250929", 3, 0.3, 15, true},
		{"anthropic", "claude-sonnet-4-5", 3, 0.3, 15, true},
		{"anthropic", "claude-opus-4-1-20250805", 15, 1.5, 75, true},
		{"anthropic", "claude-opus-4-20250514", 15, 1.5, 75, true},
		{"anthropic", "claude-opus-4-0", 15, 1.5, 75, true},
		{"anthropic", "claude-opus-4-5-20251101", 5, 0.5, 25, true},
		{"anthropic", "claude-haiku-4-5-20251001", 1, 0.1, 5, true},
		{"anthropic", "claude-3-5-sonnet-20241022", 3, 0.3, 15, true},
		{"anthropic", "claude-3-5-sonnet-latest", 3, 0.3, 15, true},
		{"anthropic", "claude-3-5-haiku-20241022", 0.8, 0.08, 4, true},
		{"anthropic", "claude-3-haiku-20240307", 0.25, 0.03, 1.25, true},
		{"anthropic", "claude-3-opus-20240229", 15, 1.5, 75, true},
		{"anthropic", "claude-3-5-sonnet-v2@20241022", 3, 0.3, 15, true},
		{"anthropic", "claude-sonnet-5", 0, 0, 0, false},
		// Bedrock: versions, regions, global profiles at list price.
		{"bedrock", "anthropic.claude-3-5-sonnet-20241022-v2:0", 3, 0.3, 15, true},
		{"bedrock", "us.anthropic.claude-3-7-sonnet-20250219-v1:0", 3, 0.3, 15, true},
		{"bedrock", "eu.anthropic.claude-3-haiku-20240307-v1:0", 0.25, 0, 1.25, true},
		{"bedrock", "apac.anthropic.claude-sonnet-4-20250514-v1:0", 3, 0.3, 15, true},
		{"bedrock", "global.anthropic.claude-sonnet-4-5-20250929-v1:0", 3, 0.3, 15, true},
		{"bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", 3.3, 0.33, 16.5, true},
		{"bedrock", "anthropic.claude-opus-4-6-v1", 5.5, 0.55, 27.5, true},
		{"bedrock", "global.anthropic.claude-opus-4-6-v1", 5, 0.5, 25, true},
		{"bedrock", "anthropic.claude-sonnet-4-6", 3.3, 0.33, 16.5, true},
		{"bedrock", "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0", 0.8, 0.08, 4, true},
		{"bedrock", "amazon.nova-pro-v1:0", 0.8, 0.2, 3.2, true},
		{"bedrock", "us.amazon.nova-lite-v1:0", 0.06, 0.015, 0.24, true},
		{"bedrock", "amazon.nova-micro-v1:0", 0.035, 0.00875, 0.14, true},
		{"bedrock", "meta.llama3-70b-instruct-v1:0", 2.65, 0, 3.5, true},
		{"bedrock", "us.meta.llama3-1-70b-instruct-v1:0", 0.72, 0, 0.72, true},
		{"bedrock", "meta.llama3-2-90b-instruct-v1:0", 0.72, 0, 0.72, true},
		{"bedrock", "cohere.command-r-v1:0", 0, 0, 0, false},
		// Gemini.
		{"gemini", "gemini-2.5-pro", 1.25, 0.31, 10, true},
		{"gemini", "models/gemini-2.5-flash", 0.30, 0.075, 2.50, true},
		{"gemini", "gemini-2.5-flash-lite", 0.10, 0.025, 0.40, true},
		{"gemini", "gemini-2.5-flash-lite-preview-06-17", 0.10, 0.025, 0.40, true},
		{"gemini", "gemini-2.5-flash-preview-05-20", 0.30, 0.075, 2.50, true},
		{"gemini", "gemini-2.0-flash-001", 0.10, 0.025, 0.40, true},
		{"gemini", "gemini-1.5-pro-002", 1.25, 0.3125, 5, true},
		{"gemini", "gemini-1.5-flash", 0.075, 0.01875, 0.30, true},
		{"gemini", "gemini-1.5-flash-8b-001", 0.0375, 0.01, 0.15, true},
		// A provider's block only: no OpenAI price for a Gemini provider.
		{"gemini", "gpt-4o", 0, 0, 0, false},
		{"anthropic", "gpt-4o", 0, 0, 0, false},
		// A provider the table does not name is looked up everywhere.
		{"openai-eu", "gpt-4o-2024-08-06", 2.5, 1.25, 10, true},
		{"", "claude-3-5-haiku-20241022", 0.8, 0.08, 4, true},
		{"my-vertex", "claude-sonnet-4@20250514", 3, 0.3, 15, true},
		{"ollama", "llama3.1:8b", 0, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.provider+"/"+tt.model, func(t *testing.T) {
			p, ok := tab.Lookup(tt.provider, tt.model)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v (price %+v)", ok, tt.ok, p)
			}
			if p.Input != tt.in || p.CachedInput != tt.cached || p.Output != tt.out {
				t.Errorf("price %+v, want input %v cached %v output %v", p, tt.in, tt.cached, tt.out)
			}
		})
	}
}

func TestCandidates(t *testing.T) {
	tests := []struct {
		model string
		want  string
	}{
		{"gpt-4o-2024-08-06", "gpt-4o-2024-08-06 gpt-4o"},
		{"claude-sonnet-4-5-20250929", "claude-sonnet-4-5-20250929 claude-sonnet-4-5"},
		{"openai/gpt-4o", "gpt-4o"},
		{"models/gemini-2.5-pro-001", "gemini-2.5-pro-001 gemini-2.5-pro"},
		{"us.anthropic.claude-sonnet-4-5-20250929-v1:0",
			"us.anthropic.claude-sonnet-4-5-20250929-v1:0 us.anthropic.claude-sonnet-4-5-20250929 us.anthropic.claude-sonnet-4-5 " +
				"anthropic.claude-sonnet-4-5-20250929-v1:0 anthropic.claude-sonnet-4-5-20250929 anthropic.claude-sonnet-4-5 " +
				"claude-sonnet-4-5-20250929-v1:0 claude-sonnet-4-5-20250929 claude-sonnet-4-5"},
		{"anthropic.claude-opus-4-6-v1", "anthropic.claude-opus-4-6-v1 anthropic.claude-opus-4-6 claude-opus-4-6-v1 claude-opus-4-6"},
		{"meta.llama3-8b-instruct-v1:0", "meta.llama3-8b-instruct-v1:0 meta.llama3-8b-instruct llama3-8b-instruct-v1:0 llama3-8b-instruct"},
		{"claude-3-5-sonnet-v2@20241022", "claude-3-5-sonnet-v2@20241022 claude-3-5-sonnet-v2 claude-3-5-sonnet"},
		{"gpt-3.5-turbo-0125", "gpt-3.5-turbo-0125 gpt-3.5-turbo"},
		{"gpt-5-chat-latest", "gpt-5-chat-latest gpt-5-chat"},
		{"  GPT-4.1  ", "gpt-4.1"},
		{"o3", "o3"},
		{"", ""},
		{strings.Repeat("a", maxModelName+1), ""},
	}
	for _, tt := range tests {
		if got := strings.Join(candidates(tt.model), " "); got != tt.want {
			t.Errorf("candidates(%q)\n got %s\nwant %s", tt.model, got, tt.want)
		}
	}
}

func TestCost(t *testing.T) {
	tab := Default()
	tests := []struct {
		name            string
		provider, model string
		u               Usage
		want            float64
		ok              bool
	}{
		// 1000 in, 500 out at $2.50/$10: 0.0025 + 0.005.
		{"plain", "openai", "gpt-4o", Usage{Input: 1000, Output: 500}, 0.0075, true},
		// 1000 in of which 400 cached: 600*2.50 + 400*1.25 + 500*10 = 1500+500+5000 = 7000 µ$.
		{"cached", "openai", "gpt-4o", Usage{Input: 1000, Cached: 400, Output: 500}, 0.007, true},
		// Reasoning is part of output and costs nothing more: 2000*1.25 + 3000*10 = 32500 µ$.
		{"reasoning", "openai", "gpt-5", Usage{Input: 2000, Output: 3000, Reasoning: 2500}, 0.0325, true},
		// Embeddings bill input only: 1e6 * 0.02.
		{"embedding", "openai", "text-embedding-3-small", Usage{Input: 1_000_000}, 0.02, true},
		// No cache discount listed: cached billed as input. 1000*0.5 + 100*1.5 = 650 µ$.
		{"no cache price", "openai", "gpt-3.5-turbo", Usage{Input: 1000, Cached: 500, Output: 100}, 0.00065, true},
		// Anthropic with cache reads and writes: 10000 prompt = 2000 plain + 5000 read + 3000 written;
		// 2000*3 + 5000*0.3 + 3000*3.75 + 1000*15 = 6000+1500+11250+15000 = 33750 µ$.
		{"anthropic cache", "anthropic", "claude-sonnet-4-5-20250929",
			Usage{Input: 10000, Cached: 5000, CacheWrite: 3000, Output: 1000}, 0.03375, true},
		// Cache writes unknown: billed as input. 8000*3 + 2000*0.3 + 1000*15 = 24000+600+15000.
		{"anthropic no write count", "anthropic", "claude-sonnet-4-5",
			Usage{Input: 10000, Cached: 2000, Output: 1000}, 0.0396, true},
		// Long context: 300k prompt at $2.50, 1000 out at $15: 0.75 + 0.015.
		{"gemini long", "gemini", "gemini-2.5-pro", Usage{Input: 300_000, Output: 1000}, 0.765, true},
		// At the threshold the base prices hold: 200k*1.25 + 1000*10 = 0.25 + 0.01.
		{"gemini at threshold", "gemini", "gemini-2.5-pro", Usage{Input: 200_000, Output: 1000}, 0.26, true},
		// Sonnet 4 over 200k: 250k*6 + 100k cached... : 150000*6 + 100000*0.6 + 2000*22.5 = 900000+60000+45000.
		{"sonnet long", "anthropic", "claude-sonnet-4-20250514",
			Usage{Input: 250_000, Cached: 100_000, Output: 2000}, 1.005, true},
		// Bedrock geographic profile of Sonnet 4.5: 1000*3.3 + 1000*16.5 = 19800 µ$.
		{"bedrock regional", "bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
			Usage{Input: 1000, Output: 1000}, 0.0198, true},
		{"nova micro", "bedrock", "amazon.nova-micro-v1:0", Usage{Input: 1_000_000, Output: 1_000_000}, 0.175, true},
		// Inconsistent counts are clamped: cached > input bills all input as cached.
		{"clamped", "openai", "gpt-4o", Usage{Input: 100, Cached: 500, Output: -3}, 0.000125, true},
		{"zero", "openai", "gpt-4o", Usage{}, 0, true},
		{"unknown", "openai", "gpt-unknown", Usage{Input: 1000, Output: 1000}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tab.Cost(tt.provider, tt.model, tt.u)
			if ok != tt.ok || math.Abs(got-tt.want) > 1e-12 {
				t.Errorf("Cost = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestLoadStrict(t *testing.T) {
	tests := []struct {
		name, yaml, err string
	}{
		{"unknown model key", "openai:\n  models:\n    gpt-x: {input: 1, outptu: 2}\n", "outptu"},
		{"unknown block key", "openai:\n  sources: x\n", "sources"},
		{"negative", "openai:\n  models:\n    gpt-x: {input: -1}\n", "non-negative"},
		{"nan", "openai:\n  models:\n    gpt-x: {input: .nan}\n", "non-negative"},
		{"negative above", "openai:\n  models:\n    gpt-x: {input: 1, long_context: {above: -5}}\n", "negative"},
		{"case duplicate", "openai:\n  models:\n    gpt-x: {input: 1}\n    GPT-X: {input: 2}\n", "twice"},
		{"self inherit", "openai:\n  inherit: OpenAI\n", "itself"},
		{"not a map", "- openai\n", "pricing"},
		{"string price", "openai:\n  models:\n    gpt-x: {input: cheap}\n", "pricing"},
		{"two documents", "openai: {}\n---\nazure: {}\n", "more than one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(strings.NewReader(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("err = %v, want one containing %q", err, tt.err)
			}
		})
	}

	empty, err := Load(strings.NewReader(""))
	if err != nil || len(empty.blocks) != 0 {
		t.Errorf("empty input: %v, %v", empty, err)
	}
	j, err := Load(strings.NewReader(`{"groq": {"models": {"llama-3.3-70b-versatile": {"input": 0.59, "output": 0.79}}}}`))
	if err != nil {
		t.Fatalf("JSON: %v", err)
	}
	if p, ok := j.Lookup("groq", "llama-3.3-70b-versatile"); !ok || p.Output != 0.79 {
		t.Errorf("JSON table lookup: %+v %v", p, ok)
	}
}

func TestWith(t *testing.T) {
	over, err := Load(strings.NewReader(`
openai:
  checked: "2030-01-01"
  models:
    gpt-4o: {input: 2.00, cached_input: 1.00, output: 8.00}   # negotiated price
    my-finetune: {input: 3, output: 12}
azure:
  models:
    gpt-4o: {input: 2.75, output: 11}                         # a Data Zone deployment
groq:
  source: https://groq.com/pricing
  inherit: openai
  models:
    llama-3.3-70b-versatile: {input: 0.59, output: 0.79}
`))
	if err != nil {
		t.Fatal(err)
	}
	base := Default()
	tab := base.With(over)

	check := func(tab *Table, provider, model string, in, out float64, ok bool) {
		t.Helper()
		p, got := tab.Lookup(provider, model)
		if got != ok || p.Input != in || p.Output != out {
			t.Errorf("%s %s: %+v %v, want input %v output %v %v", provider, model, p, got, in, out, ok)
		}
	}
	check(tab, "openai", "gpt-4o-2024-08-06", 2, 8, true)
	check(tab, "openai", "gpt-4o-mini", 0.15, 0.60, true) // untouched
	check(tab, "openai", "my-finetune", 3, 12, true)
	check(tab, "azure", "gpt-4o", 2.75, 11, true)
	check(tab, "azure", "gpt-4.1", 2, 8, true) // still inherited
	check(tab, "groq", "llama-3.3-70b-versatile", 0.59, 0.79, true)
	check(tab, "groq", "gpt-4o", 2, 8, true) // through inherit, with the override
	check(tab, "anthropic", "claude-3-opus", 15, 75, true)
	if got := tab.blocks["openai"].Checked; got != "2030-01-01" {
		t.Errorf("checked %q", got)
	}
	if got := tab.blocks["openai"].Source; got == "" {
		t.Error("source lost in the merge")
	}

	// The default table is not changed.
	check(base, "openai", "gpt-4o", 2.5, 10, true)
	check(base, "openai", "my-finetune", 0, 0, false)
	if base.With(nil) != base {
		t.Error("With(nil) copies")
	}
	var none *Table
	check(none.With(over), "groq", "llama-3.3-70b-versatile", 0.59, 0.79, true)
	check(none, "openai", "gpt-4o", 0, 0, false)
}

func TestInheritCycle(t *testing.T) {
	tab, err := Load(strings.NewReader("a: {inherit: b, models: {x: {input: 1}}}\nb: {inherit: a, models: {y: {input: 2}}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := tab.Lookup("a", "y"); !ok || p.Input != 2 {
		t.Errorf("a/y: %+v %v", p, ok)
	}
	if _, ok := tab.Lookup("a", "z"); ok {
		t.Error("a/z found")
	}
}
