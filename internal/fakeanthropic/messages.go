package fakeanthropic

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/aiproxy-go/aiproxy/internal/fakefault"
)

// replyPrefix starts every text reply.
const replyPrefix = "Hello! You said: "

// serviceTier is the tier every reply is served in.
const serviceTier = "standard"

// messagesRequest is what the fake reads of a Messages API request.
type messagesRequest struct {
	Model     string `json:"model"`
	MaxTokens *int   `json:"max_tokens"`
	Messages  []struct {
		Role    string  `json:"role"`
		Content content `json:"content"`
	} `json:"messages"`
	System   content `json:"system"`
	Stream   bool    `json:"stream"`
	Tools    []tool  `json:"tools"`
	Thinking *struct {
		Type         string `json:"type"`
		BudgetTokens *int   `json:"budget_tokens"`
		Display      string `json:"display"`
	} `json:"thinking"`
}

// tool is a tool definition of a request.
type tool struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// readRequest decodes and validates a Messages API request body, answering
// 400 as the real API does when it is not valid. countOnly relaxes the
// rules for count_tokens, which takes no max_tokens.
func (x *exchange) readRequest(countOnly bool) (*messagesRequest, bool) {
	var req messagesRequest
	if err := json.Unmarshal(x.body, &req); err != nil {
		var typ *json.UnmarshalTypeError
		msg := "invalid JSON in request body"
		if errors.As(err, &typ) {
			msg = typ.Field + ": Input has the wrong type (" + typ.Value + ")"
		}
		x.writeError(http.StatusBadRequest, "invalid_request_error", msg)
		return nil, false
	}
	bad := func(msg string) (*messagesRequest, bool) {
		x.writeError(http.StatusBadRequest, "invalid_request_error", msg)
		return nil, false
	}
	switch {
	case req.Model == "":
		return bad("model: Field required")
	case req.Messages == nil:
		return bad("messages: Field required")
	case len(req.Messages) == 0:
		return bad("messages: at least one message is required")
	case !countOnly && req.MaxTokens == nil:
		return bad("max_tokens: Field required")
	case !countOnly && *req.MaxTokens < 1:
		return bad("max_tokens: Input should be greater than or equal to 1")
	}
	if t := req.Thinking; t != nil && t.Type == "enabled" {
		switch {
		case t.BudgetTokens == nil:
			return bad("thinking.enabled.budget_tokens: Field required")
		case *t.BudgetTokens < 1024:
			return bad("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
		case !countOnly && *t.BudgetTokens >= *req.MaxTokens:
			return bad("`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size")
		}
	}
	return &req, true
}

// thinking reports whether the request turned extended thinking on.
func (r *messagesRequest) thinking() bool {
	return r.Thinking != nil && (r.Thinking.Type == "enabled" || r.Thinking.Type == "adaptive")
}

// lastUserText returns the text of the last user message that has some.
func (r *messagesRequest) lastUserText() string {
	for i := len(r.Messages) - 1; i >= 0; i-- {
		if m := r.Messages[i]; m.Role == "user" && m.Content.text != "" {
			return m.Content.text
		}
	}
	return ""
}

// promptTokens counts the prompt of a request.
func (r *messagesRequest) promptTokens() int {
	n := 3 + words(r.System.text) + 10*r.System.others + 20*len(r.Tools)
	for _, m := range r.Messages {
		n += 4 + words(m.Content.text) + 10*m.Content.others
	}
	return n
}

// cities give each tool call its own input.
var cities = []string{"Paris", "London", "Tokyo", "New York", "Berlin", "Madrid", "Rome", "Sydney"}

// toolUse is a tool_use block of the reply.
type toolUse struct {
	id, name, input string
}

// usage is the token count of one reply.
type usage struct {
	input, cacheCreation, cacheRead, output, thinking int
}

// wireUsage is the usage object of a Message.
type wireUsage struct {
	InputTokens              int `json:"input_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
	CacheCreation            struct {
		Ephemeral5m int `json:"ephemeral_5m_input_tokens"`
		Ephemeral1h int `json:"ephemeral_1h_input_tokens"`
	} `json:"cache_creation"`
	OutputTokens        int                  `json:"output_tokens"`
	OutputTokensDetails *outputTokensDetails `json:"output_tokens_details,omitempty"`
	ServiceTier         string               `json:"service_tier"`
	InferenceGeo        string               `json:"inference_geo"`
}

type outputTokensDetails struct {
	ThinkingTokens int `json:"thinking_tokens"`
}

// wire returns the usage of a Message, with output_tokens as given (the
// start of a stream reports 1).
func (u usage) wire(output int, details bool) wireUsage {
	w := wireUsage{InputTokens: u.input, CacheCreationInputTokens: u.cacheCreation, CacheReadInputTokens: u.cacheRead,
		OutputTokens: output, ServiceTier: serviceTier, InferenceGeo: "not_available"}
	w.CacheCreation.Ephemeral5m = u.cacheCreation
	if details {
		w.OutputTokensDetails = &outputTokensDetails{ThinkingTokens: u.thinking}
	}
	return w
}

// deltaUsage is the usage object of a message_delta event: cumulative
// counts for the whole message.
type deltaUsage struct {
	InputTokens              int                  `json:"input_tokens"`
	CacheCreationInputTokens int                  `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int                  `json:"cache_read_input_tokens"`
	OutputTokens             int                  `json:"output_tokens"`
	OutputTokensDetails      *outputTokensDetails `json:"output_tokens_details,omitempty"`
}

// reply is the assistant's answer to one Messages request.
type reply struct {
	id, model  string
	thinking   bool // a thinking block comes first
	thought    string
	signature  string
	text       string // "" when there is no text block
	calls      []toolUse
	usage      usage
	stopReason string
}

// newReply plans the answer to req.
func (x *exchange) newReply(req *messagesRequest) *reply {
	last := req.lastUserText()
	rp := &reply{id: newID("msg_01", 22), model: req.Model, stopReason: "end_turn"}
	if req.thinking() {
		rp.thinking = true
		rp.signature = newSignature()
		if req.Thinking.Display != "omitted" {
			rp.thought = fakefault.Pad("The user said: "+last+". I will answer by echoing it.", x.f.Chunks)
		}
	}
	k := x.f.ToolCallCount(len(req.Tools), last)
	for i := range k {
		name := "get_weather"
		if len(req.Tools) > 0 {
			name = req.Tools[i%len(req.Tools)].Name
		}
		rp.calls = append(rp.calls, toolUse{id: newID("toolu_01", 22), name: name,
			input: `{"location":` + string(appendString(nil, cities[i%len(cities)])) + `}`})
	}
	if x.f.HasReply || k == 0 {
		rp.text = x.f.ReplyText(replyPrefix + last)
	}
	if k > 0 {
		rp.stopReason = "tool_use"
	}

	prompt := req.promptTokens()
	u := usage{cacheRead: min(x.f.cacheRead, prompt)}
	u.cacheCreation = min(x.f.cacheCreation, prompt-u.cacheRead)
	u.input = prompt - u.cacheRead - u.cacheCreation
	u.thinking = words(rp.thought)
	if rp.thinking && u.thinking == 0 {
		u.thinking = 16 // thought, though not shown
	}
	u.output = words(rp.text) + u.thinking
	for _, c := range rp.calls {
		u.output += 8 + (len(c.name)+len(c.input))/4
	}
	rp.usage = u
	return rp
}

// messages answers POST /v1/messages.
func (x *exchange) messages() {
	req, ok := x.readRequest(false)
	if !ok {
		return
	}
	rp := x.newReply(req)
	if req.Stream {
		rp.stream(x)
		return
	}
	x.writeJSON(http.StatusOK, rp.message())
}

// wireBlock is a content block of a Message.
type wireBlock struct {
	Type      string          `json:"type"`
	Thinking  *string         `json:"thinking,omitempty"`
	Signature *string         `json:"signature,omitempty"`
	Text      *string         `json:"text,omitempty"`
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Input     json.RawMessage `json:"input,omitempty"`
}

// wireMessage is a Message object.
type wireMessage struct {
	ID           string      `json:"id"`
	Type         string      `json:"type"`
	Role         string      `json:"role"`
	Model        string      `json:"model"`
	Content      []wireBlock `json:"content"`
	StopReason   *string     `json:"stop_reason"`
	StopSequence *string     `json:"stop_sequence"`
	StopDetails  *struct{}   `json:"stop_details"`
	Usage        wireUsage   `json:"usage"`
}

// message returns the reply as a Message object.
func (rp *reply) message() []byte {
	m := wireMessage{ID: rp.id, Type: "message", Role: "assistant", Model: rp.model, Content: []wireBlock{},
		StopReason: &rp.stopReason, Usage: rp.usage.wire(rp.usage.output, true)}
	if rp.thinking {
		m.Content = append(m.Content, wireBlock{Type: "thinking", Thinking: &rp.thought, Signature: &rp.signature})
	}
	if rp.text != "" {
		m.Content = append(m.Content, wireBlock{Type: "text", Text: &rp.text})
	}
	for _, c := range rp.calls {
		m.Content = append(m.Content, wireBlock{Type: "tool_use", ID: c.id, Name: c.name, Input: json.RawMessage(c.input)})
	}
	return marshal(m)
}

// stream sends the reply as the real event sequence: message_start,
// then for each block content_block_start, its deltas and
// content_block_stop (a ping after the first start), then message_delta
// with the stop reason and the cumulative usage, and message_stop.
func (rp *reply) stream(x *exchange) {
	s := x.startStream()
	empty := ""
	start := wireMessage{ID: rp.id, Type: "message", Role: "assistant", Model: rp.model, Content: []wireBlock{},
		Usage: rp.usage.wire(1, false)}
	if s.send("message_start", marshal(struct {
		Type    string      `json:"type"`
		Message wireMessage `json:"message"`
	}{"message_start", start})) != nil {
		return
	}
	index := 0
	pinged := false
	block := func(b wireBlock, deltas [][]byte) error {
		if err := s.send("content_block_start", marshal(struct {
			Type         string    `json:"type"`
			Index        int       `json:"index"`
			ContentBlock wireBlock `json:"content_block"`
		}{"content_block_start", index, b})); err != nil {
			return err
		}
		if !pinged {
			pinged = true
			// The real API's ping has a space after the colon.
			if err := s.send("ping", []byte(`{"type": "ping"}`)); err != nil {
				return err
			}
		}
		for _, d := range deltas {
			ev := []byte(`{"type":"content_block_delta","index":` + itoa(index) + `,"delta":`)
			ev = append(ev, d...)
			if err := s.send("content_block_delta", append(ev, '}')); err != nil {
				return err
			}
		}
		err := s.send("content_block_stop", []byte(`{"type":"content_block_stop","index":`+itoa(index)+`}`))
		index++
		return err
	}
	delta := func(typ, field, value string) []byte {
		b := []byte(`{"type":"` + typ + `","` + field + `":`)
		return append(appendString(b, value), '}')
	}
	n := x.f.Chunks
	if rp.thinking {
		var ds [][]byte
		if rp.thought != "" {
			for _, piece := range fakefault.Split(rp.thought, n) {
				ds = append(ds, delta("thinking_delta", "thinking", piece))
			}
		}
		ds = append(ds, delta("signature_delta", "signature", rp.signature))
		if block(wireBlock{Type: "thinking", Thinking: &empty, Signature: &empty}, ds) != nil {
			return
		}
	}
	if rp.text != "" {
		var ds [][]byte
		for _, piece := range fakefault.Split(rp.text, n) {
			ds = append(ds, delta("text_delta", "text", piece))
		}
		if block(wireBlock{Type: "text", Text: &empty}, ds) != nil {
			return
		}
	}
	for _, c := range rp.calls {
		// The real API opens a tool's input with an empty fragment.
		ds := [][]byte{delta("input_json_delta", "partial_json", "")}
		for _, piece := range fakefault.Split(c.input, n) {
			ds = append(ds, delta("input_json_delta", "partial_json", piece))
		}
		if block(wireBlock{Type: "tool_use", ID: c.id, Name: c.name, Input: json.RawMessage(`{}`)}, ds) != nil {
			return
		}
	}
	u := rp.usage
	du := deltaUsage{InputTokens: u.input, CacheCreationInputTokens: u.cacheCreation, CacheReadInputTokens: u.cacheRead, OutputTokens: u.output}
	if rp.thinking {
		du.OutputTokensDetails = &outputTokensDetails{ThinkingTokens: u.thinking}
	}
	if s.send("message_delta", marshal(struct {
		Type  string `json:"type"`
		Delta struct {
			StopReason   string    `json:"stop_reason"`
			StopSequence *string   `json:"stop_sequence"`
			StopDetails  *struct{} `json:"stop_details"`
		} `json:"delta"`
		Usage deltaUsage `json:"usage"`
	}{Type: "message_delta", Delta: struct {
		StopReason   string    `json:"stop_reason"`
		StopSequence *string   `json:"stop_sequence"`
		StopDetails  *struct{} `json:"stop_details"`
	}{StopReason: rp.stopReason}, Usage: du})) != nil {
		return
	}
	_ = s.send("message_stop", []byte(`{"type":"message_stop"}`))
}

// countTokens answers POST /v1/messages/count_tokens.
func (x *exchange) countTokens() {
	req, ok := x.readRequest(true)
	if !ok {
		return
	}
	x.writeJSON(http.StatusOK, []byte(`{"input_tokens":`+itoa(req.promptTokens())+`}`))
}
