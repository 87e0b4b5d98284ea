package clientkey

import (
	"github.com/tidwall/gjson"

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/tokens"
)

// DefaultMaxOutputTokens is what a request that sets no output limit is assumed to
// generate, for its budget reservation.
const DefaultMaxOutputTokens = 1024

// maxOutputFields are where each API takes its output limit: OpenAI chat (both spellings),
// the Responses API, Anthropic and Bedrock InvokeModel, Bedrock Converse, Gemini.
var maxOutputFields = []string{
	"max_completion_tokens", "max_tokens", "max_output_tokens",
	"inferenceConfig.maxTokens", "generationConfig.maxOutputTokens",
}

// maxOutputTokens returns the request's output limit, or def when it sets none.
func maxOutputTokens(body []byte, def int) int {
	for _, f := range maxOutputFields {
		if v := gjson.GetBytes(body, f); v.Type == gjson.Number && v.Int() > 0 {
			return int(v.Int())
		}
	}
	return def
}

// promptTokens estimates the prompt tokens of the request as it goes upstream from all its
// text, generously and without encoding it (tokens.Estimate): it runs on the request path,
// and the real count replaces it when the response is logged. Images, audio and tools are
// not counted.
func promptTokens(x *aiproxy.Exchange) int {
	s := x.Provider.SummarizeRequest(x.Request.Endpoint, x.Request.Body)
	return tokens.Estimate(s.Text)
}
