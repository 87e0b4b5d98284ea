package pricing

import "testing"

// The writer goroutine prices every response row; these show what one lookup costs.
func BenchmarkCost(b *testing.B) {
	tab := Default()
	u := Usage{Input: 1200, Cached: 1000, Output: 300}
	for _, bm := range []struct{ name, provider, model string }{
		{"exact", "openai", "gpt-4o-mini"},
		{"dated", "anthropic", "claude-sonnet-4-5-20250929"},
		{"bedrock", "bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0"},
		{"prefix", "openai", "gpt-4o-mini-search-preview-2025-03-11"},
		{"unknown-provider", "my-gateway", "gemini-2.5-flash-preview-05-20"},
		{"unknown-model", "openai", "some-model-nobody-priced"},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				tab.Cost(bm.provider, bm.model, u)
			}
		})
	}
}
