package filters

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/provider/anthropic"
	"github.com/aiproxy-go/aiproxy/provider/bedrock"
	"github.com/aiproxy-go/aiproxy/provider/gemini"
	"github.com/aiproxy-go/aiproxy/provider/openai"
)

// MaxTokens bounds the number of output tokens a request may ask for. It finds the
// request's output limit where each API keeps it and lowers it to Limit (or, with Reject,
// refuses the request with 400); a request that sets no limit gets one of Limit.
//
// The fields, by provider and endpoint:
//
//   - OpenAI and compatible servers, Azure: chat completions max_completion_tokens and
//     max_tokens (a request with neither gets max_completion_tokens from OpenAI and from
//     Azure at api-version 2024-09-01 or later or on its v1 API, and max_tokens from
//     other OpenAI-compatible servers and older Azure api-versions, which may not know the
//     newer field); legacy completions max_tokens; Responses API max_output_tokens.
//   - Anthropic messages: max_tokens.
//   - Bedrock Converse and ConverseStream: inferenceConfig.maxTokens. InvokeModel, by the
//     model's body format: Anthropic messages max_tokens, Claude v2 text completions
//     max_tokens_to_sample, Amazon Nova inferenceConfig.max_new_tokens, Amazon Titan
//     textGenerationConfig.maxTokenCount, Meta Llama max_gen_len, Mistral max_tokens.
//   - Gemini generateContent and streamGenerateContent: generationConfig.maxOutputTokens
//     (the snake_case spellings too).
//
// Every occurrence counts, so a body that repeats a key cannot slip a second, larger value
// past the filter. A null or non-numeric value is replaced by Limit. Endpoints without an
// output limit (embeddings, token counting) and providers not listed pass unchanged. The
// rest of the body is kept byte for byte.
type MaxTokens struct {
	// Limit is the largest number of output tokens a request may ask for. It must be
	// positive.
	Limit int `yaml:"limit" json:"limit"`
	// Reject refuses a request that asks for more than Limit with 400 instead of lowering
	// its limit. A request that sets no limit still gets Limit.
	Reject bool `yaml:"reject" json:"reject,omitempty"`
}

var _ aiproxy.RequestFilter = (*MaxTokens)(nil)

// Validate reports a limit that is not positive.
func (f *MaxTokens) Validate() error {
	if f.Limit <= 0 {
		return errors.New("max_tokens: limit must be a positive number of tokens")
	}
	return nil
}

// FilterRequest lowers, sets or checks the request's output limit.
func (f *MaxTokens) FilterRequest(_ context.Context, x *aiproxy.Exchange) (*aiproxy.Reply, error) {
	if err := f.Validate(); err != nil {
		return nil, misconfigured("max_tokens", err)
	}
	if x.Request.Method != http.MethodPost || len(x.Request.Body) == 0 {
		return nil, nil
	}
	fld, ok := outputField(x)
	if !ok {
		return nil, nil
	}
	body, asked, changed := fld.limit(x.Request.Body, f.Limit, f.Reject)
	if asked > 0 {
		return nil, &aiproxy.Error{Status: http.StatusBadRequest, Type: "invalid_request_error", Code: "max_tokens_exceeded",
			Message: fmt.Sprintf("the request asks for up to %s output tokens; this proxy allows at most %d",
				strconv.FormatFloat(asked, 'f', -1, 64), f.Limit)}
	}
	if !changed {
		return nil, nil
	}
	if err := x.SetBody(body); err != nil {
		return nil, fmt.Errorf("max_tokens: set the limited body: %w", err)
	}
	return nil, nil
}

// tokenField says where a body keeps its output-token limit.
type tokenField struct {
	parents []string // keys of the object that holds the field, any of them; nil: the top level
	names   []string // keys of the field, any of them; each one present is limited
	set     string   // key to add when no name is present; "" adds nothing
	parent  string   // key of the object to create for set when no parent is present
}

// outputField returns where the exchange's body keeps its output limit.
func outputField(x *aiproxy.Exchange) (tokenField, bool) {
	ep := x.Request.Endpoint
	switch p := x.Provider.(type) {
	case *openai.Azure:
		newer := "max_completion_tokens"
		if v := apiVersion(x.Request.RawQuery); v != "" && v < "2024-09-01" {
			newer = "max_tokens"
		}
		return openAIField(ep, newer)
	case *openai.Provider:
		newer := "max_completion_tokens"
		if p.Name() != "openai" {
			newer = "max_tokens"
		}
		return openAIField(ep, newer)
	case *anthropic.Provider:
		if ep == "/v1/messages" {
			return tokenField{names: []string{"max_tokens"}, set: "max_tokens"}, true
		}
	case *bedrock.Provider:
		return bedrockField(ep, x.Model(), x.Request.Body)
	case *gemini.Provider:
		if strings.HasSuffix(ep, ":generateContent") || strings.HasSuffix(ep, ":streamGenerateContent") {
			return tokenField{parents: []string{"generationConfig", "generation_config"},
				names: []string{"maxOutputTokens", "max_output_tokens"}, set: "maxOutputTokens", parent: "generationConfig"}, true
		}
	}
	return tokenField{}, false
}

// openAIField is the field of an OpenAI endpoint; chat is the key a chat completion
// without a limit gets.
func openAIField(ep, chat string) (tokenField, bool) {
	switch {
	case strings.HasSuffix(ep, "/chat/completions"):
		return tokenField{names: []string{"max_completion_tokens", "max_tokens"}, set: chat}, true
	case strings.HasSuffix(ep, "/completions"):
		return tokenField{names: []string{"max_tokens"}, set: "max_tokens"}, true
	case strings.HasSuffix(ep, "/responses"):
		return tokenField{names: []string{"max_output_tokens"}, set: "max_output_tokens"}, true
	}
	return tokenField{}, false
}

// apiVersion returns the api-version of an Azure query.
func apiVersion(rawQuery string) string {
	q, _ := url.ParseQuery(rawQuery)
	return q.Get("api-version")
}

// bedrockField is the field of a Bedrock operation. InvokeModel bodies differ by model;
// the body's own keys decide, then the model id.
func bedrockField(ep, model string, body []byte) (tokenField, bool) {
	op := ep[strings.LastIndexByte(ep, '/')+1:]
	switch op {
	case bedrock.OpConverse, bedrock.OpConverseStream:
		return tokenField{parents: []string{"inferenceConfig"}, names: []string{"maxTokens"}, set: "maxTokens", parent: "inferenceConfig"}, true
	case bedrock.OpInvoke, bedrock.OpInvokeWithStream:
	default:
		return tokenField{}, false
	}
	has := func(key string) bool {
		return slices.ContainsFunc(members(body, skipSpace(body, 0)), func(m member) bool { return m.keyIs(key) })
	}
	is := func(vendor string) bool { return strings.Contains(model, vendor) }
	switch {
	case has("anthropic_version") || (is("anthropic.") && has("messages")):
		return tokenField{names: []string{"max_tokens"}, set: "max_tokens"}, true
	case has("max_tokens_to_sample") || (is("anthropic.") && has("prompt")):
		return tokenField{names: []string{"max_tokens_to_sample"}, set: "max_tokens_to_sample"}, true
	case has("inputText") || has("textGenerationConfig") || is("amazon.titan"):
		return tokenField{parents: []string{"textGenerationConfig"}, names: []string{"maxTokenCount"}, set: "maxTokenCount", parent: "textGenerationConfig"}, true
	case has("schemaVersion") || has("inferenceConfig") || is("amazon.nova"):
		return tokenField{parents: []string{"inferenceConfig"}, names: []string{"max_new_tokens"}, set: "max_new_tokens", parent: "inferenceConfig"}, true
	case has("max_gen_len") || is("meta."):
		return tokenField{names: []string{"max_gen_len"}, set: "max_gen_len"}, true
	case is("mistral."):
		return tokenField{names: []string{"max_tokens"}, set: "max_tokens"}, true
	}
	// An unknown format: limit what is there, add nothing.
	return tokenField{names: []string{"max_tokens", "max_tokens_to_sample", "max_gen_len"}}, true
}

// edit replaces body[start:end] with text.
type edit struct {
	start, end int
	text       string
}

// limit returns body with every value of the field above limit (or not a number) replaced
// by limit, and the field added where it is missing. With reject it changes no value that
// is a number and returns, as asked, the largest one above limit instead; asked is 0 when
// none is above. A body that is not a JSON object is returned as it is.
func (fld tokenField) limit(body []byte, limit int, reject bool) (out []byte, asked float64, changed bool) {
	root := skipSpace(body, 0)
	if root >= len(body) || body[root] != '{' || valueEnd(body, root) < 0 {
		return body, 0, false
	}
	lim := strconv.Itoa(limit)
	var objs []int
	if fld.parents == nil {
		objs = []int{root}
	} else {
		for _, m := range members(body, root) {
			if body[m.start] == '{' && m.keyIs(fld.parents...) {
				objs = append(objs, m.start)
			}
		}
	}
	var edits []edit
	for _, obj := range objs {
		found := false
		for _, m := range members(body, obj) {
			if !m.keyIs(fld.names...) {
				continue
			}
			found = true
			v, err := strconv.ParseFloat(string(body[m.start:m.end]), 64)
			switch {
			case err == nil && v <= float64(limit):
			case err == nil && reject:
				asked = max(asked, v)
			default:
				edits = append(edits, edit{m.start, m.end, lim})
			}
		}
		if !found && fld.set != "" {
			edits = append(edits, insertMember(body, obj, fld.set, lim))
		}
	}
	if len(objs) == 0 && fld.set != "" && fld.parent != "" {
		edits = append(edits, insertMember(body, root, fld.parent, `{"`+fld.set+`":`+lim+`}`))
	}
	if asked > 0 || len(edits) == 0 {
		return body, asked, false
	}
	return applyEdits(body, edits), 0, true
}

// insertMember returns the edit that adds "key":value at the end of the object at obj.
func insertMember(body []byte, obj int, key, value string) edit {
	closing := valueEnd(body, obj) - 1
	text := `"` + key + `":` + value
	if skipSpace(body, obj+1) != closing {
		text = "," + text
	}
	return edit{closing, closing, text}
}

// applyEdits returns body with the edits, which do not overlap, made.
func applyEdits(body []byte, edits []edit) []byte {
	slices.SortFunc(edits, func(a, b edit) int { return a.start - b.start })
	n := len(body)
	for _, e := range edits {
		n += len(e.text) - (e.end - e.start)
	}
	out := make([]byte, 0, n)
	last := 0
	for _, e := range edits {
		out = append(out, body[last:e.start]...)
		out = append(out, e.text...)
		last = e.end
	}
	return append(out, body[last:]...)
}
