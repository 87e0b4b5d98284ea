package pricing_test

import (
	"fmt"
	"strings"

	"github.com/aiproxy-go/aiproxy/pricing"
)

func Example() {
	// An operator's own prices, laid over the built-in table.
	overrides, err := pricing.Load(strings.NewReader(`
openai:
  models:
    gpt-4o: {input: 2.00, cached_input: 1.00, output: 8.00}
`))
	if err != nil {
		panic(err)
	}
	prices := pricing.Default().With(overrides)

	// 12,000 prompt tokens of which 10,000 were cached, 800 completion tokens.
	usd, ok := prices.Cost("openai", "gpt-4o-2024-08-06", pricing.Usage{Input: 12000, Cached: 10000, Output: 800})
	fmt.Printf("%.4f %v\n", usd, ok)

	usd, ok = prices.Cost("bedrock", "us.anthropic.claude-3-5-haiku-20241022-v1:0", pricing.Usage{Input: 1000, Output: 200})
	fmt.Printf("%.4f %v\n", usd, ok)

	_, ok = prices.Cost("openai", "a-model-nobody-priced", pricing.Usage{Input: 1000})
	fmt.Println(ok)
	// Output:
	// 0.0204 true
	// 0.0016 true
	// false
}
