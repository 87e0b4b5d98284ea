package pricing_test

import (
	"fmt"
	"testing"

	"github.com/aiproxy-go/aiproxy/pricing"
)

func TestCostOfCounts(t *testing.T) {
	prices := pricing.Default()
	for _, c := range []struct {
		provider, model                       string
		prompt, completion, cached, reasoning int
	}{
		{"openai", "gpt-4o", 12000, 800, 10000, 0},
		{"openai", "o3", 100, 1000, 0, 640},
		{"anthropic", "claude-sonnet-4", 5000, 10, 4000, 0},
	} {
		want, wantOK := prices.Cost(c.provider, c.model, pricing.Usage{Input: c.prompt, Output: c.completion, Cached: c.cached, Reasoning: c.reasoning})
		got, ok := prices.CostOfCounts(c.provider, c.model, c.prompt, c.completion, c.cached, c.reasoning)
		if got != want || ok != wantOK || !ok || got == 0 {
			t.Errorf("%s %s: %v %v, want %v %v", c.provider, c.model, got, ok, want, wantOK)
		}
	}
	if _, ok := prices.CostOfCounts("openai", "a-model-nobody-priced", 1, 1, 0, 0); ok {
		t.Error("an unknown model has a price")
	}
}

func ExampleTable_CostOfCounts() {
	// The token columns of an access-log row: prompt_tokens 12000 (10000 of them cached),
	// completion_tokens 800, reasoning_tokens 0.
	usd, ok := pricing.Default().CostOfCounts("openai", "gpt-4o", 12000, 800, 10000, 0)
	fmt.Printf("%.4f %v\n", usd, ok)
	// Output:
	// 0.0255 true
}
