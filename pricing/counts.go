package pricing

// CostOfCounts returns the cost in USD of one exchange from the token counts an access-log row
// holds: prompt (cached tokens included), completion (reasoning tokens included), cached and
// reasoning. It is false when the model has no price. Pricing a row through this one function
// is what lets a later repricing reproduce what the proxy logged.
func (t *Table) CostOfCounts(provider, model string, prompt, completion, cached, reasoning int) (float64, bool) {
	return t.Cost(provider, model, Usage{Input: prompt, Output: completion, Cached: cached, Reasoning: reasoning})
}
