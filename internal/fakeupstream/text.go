package fakeupstream

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// replyPrefix starts every text reply.
const replyPrefix = "Hello! You said: "

// text is message content as requests carry it: a string, null, or an array
// of parts ({"type":"text","text":…}, {"type":"input_text","text":…}, plain
// strings for legacy prompts). It holds the parts' text joined with "\n";
// parts without text (images, audio, token arrays) are skipped.
type text string

// UnmarshalJSON reads content in any of its shapes.
func (t *text) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil
	}
	switch b[0] {
	case '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = text(s)
	case '[':
		var parts []json.RawMessage
		if err := json.Unmarshal(b, &parts); err != nil {
			return err
		}
		var sb strings.Builder
		for _, p := range parts {
			var s string
			switch p[0] {
			case '"':
				if err := json.Unmarshal(p, &s); err != nil {
					return err
				}
			case '{':
				var part struct {
					Text string `json:"text"`
				}
				if err := json.Unmarshal(p, &part); err != nil {
					return err
				}
				s = part.Text
			default:
				continue
			}
			if sb.Len() > 0 {
				sb.WriteByte('\n')
			}
			sb.WriteString(s)
		}
		*t = text(sb.String())
	default:
		*t = ""
	}
	return nil
}

// words counts the words of s, the fake's unit of tokens.
func words(s string) int {
	n := 0
	in := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\n', '\r':
			in = false
		default:
			if !in {
				n++
				in = true
			}
		}
	}
	return n
}

// isReasoningModel reports whether a model thinks before it answers, so
// that its usage reports reasoning tokens.
func isReasoningModel(model string) bool {
	if len(model) >= 2 && model[0] == 'o' && model[1] >= '0' && model[1] <= '9' {
		return true
	}
	return strings.HasPrefix(model, "gpt-5")
}

// reasoningTokens is what a reasoning model reports having thought.
const reasoningTokens = 64

// toolCall is one call that the fake's assistant makes.
type toolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function toolFn `json:"function"`
}

// toolFn is the function of a chat completion tool call.
type toolFn struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// tool is a tool definition of a request, in the chat completions shape
// ({"type":"function","function":{"name":…}}) or the Responses API's flat
// one ({"type":"function","name":…}).
type tool struct {
	Type     string `json:"type"`
	Name     string `json:"name"`
	Function struct {
		Name string `json:"name"`
	} `json:"function"`
}

// cities give each tool call its own arguments.
var cities = []string{"Paris", "London", "Tokyo", "New York", "Berlin", "Madrid", "Rome", "Sydney"}

// makeToolCalls returns k tool calls that use the request's tools in turn.
func makeToolCalls(tools []tool, k int) []toolCall {
	calls := make([]toolCall, k)
	for i := range calls {
		name := "get_weather"
		if len(tools) > 0 {
			t := tools[i%len(tools)]
			name = t.Function.Name
			if name == "" {
				name = t.Name
			}
		}
		args := `{"location":` + strconv.Quote(cities[i%len(cities)]) + `}`
		calls[i] = toolCall{
			ID:       newID("call_", 24, alnum),
			Type:     "function",
			Function: toolFn{Name: name, Arguments: args},
		}
	}
	return calls
}

// usage is a token count, from which each endpoint renders its own shape.
type usage struct {
	prompt, completion, cached, reasoning int
}

// promptTokens counts a prompt made of message texts and tools.
func promptTokens(texts []string, tools int) int {
	n := 3 + 20*tools
	for _, t := range texts {
		n += 4 + words(t)
	}
	return n
}

// newUsage counts the tokens of an exchange.
func (f *faults) newUsage(model string, prompt int, reply string, calls []toolCall) usage {
	u := usage{prompt: prompt, cached: min(f.cachedTokens, prompt)}
	if len(calls) == 0 {
		u.completion = words(reply)
	}
	for _, c := range calls {
		u.completion += 8 + (len(c.Function.Name)+len(c.Function.Arguments))/4
	}
	if isReasoningModel(model) {
		u.reasoning = reasoningTokens
		u.completion += reasoningTokens
	}
	return u
}

// chatUsage is the usage object of chat completions.
type chatUsage struct {
	PromptTokens        int `json:"prompt_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	TotalTokens         int `json:"total_tokens"`
	PromptTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
		AudioTokens  int `json:"audio_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails struct {
		ReasoningTokens          int `json:"reasoning_tokens"`
		AudioTokens              int `json:"audio_tokens"`
		AcceptedPredictionTokens int `json:"accepted_prediction_tokens"`
		RejectedPredictionTokens int `json:"rejected_prediction_tokens"`
	} `json:"completion_tokens_details"`
}

// chat returns u in the chat completions shape.
func (u usage) chat() chatUsage {
	c := chatUsage{PromptTokens: u.prompt, CompletionTokens: u.completion, TotalTokens: u.prompt + u.completion}
	c.PromptTokensDetails.CachedTokens = u.cached
	c.CompletionTokensDetails.ReasoningTokens = u.reasoning
	return c
}

// appendChat appends u in the chat completions shape, compact.
func (u usage) appendChat(b []byte) []byte {
	b = append(b, `{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(u.prompt), 10)
	b = append(b, `,"completion_tokens":`...)
	b = strconv.AppendInt(b, int64(u.completion), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, int64(u.prompt+u.completion), 10)
	b = append(b, `,"prompt_tokens_details":{"cached_tokens":`...)
	b = strconv.AppendInt(b, int64(u.cached), 10)
	b = append(b, `,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":`...)
	b = strconv.AppendInt(b, int64(u.reasoning), 10)
	return append(b, `,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}`...)
}

// responseUsage is the usage object of the Responses API.
type responseUsage struct {
	InputTokens        int `json:"input_tokens"`
	InputTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokens        int `json:"output_tokens"`
	OutputTokensDetails struct {
		ReasoningTokens int `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
	TotalTokens int `json:"total_tokens"`
}

// response returns u in the Responses API shape.
func (u usage) response() *responseUsage {
	r := &responseUsage{InputTokens: u.prompt, OutputTokens: u.completion, TotalTokens: u.prompt + u.completion}
	r.InputTokensDetails.CachedTokens = u.cached
	r.OutputTokensDetails.ReasoningTokens = u.reasoning
	return r
}
