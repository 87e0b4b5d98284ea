package fakeupstream

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/aiproxy-go/aiproxy/internal/fakefault"
)

// systemFingerprint is sent where the real API sends its backend's.
const systemFingerprint = "fp_f4ke0c0ffe"

// chatRequest is what the fake reads of a chat completion request.
type chatRequest struct {
	Model    string `json:"model"`
	Messages []struct {
		Role    string `json:"role"`
		Content text   `json:"content"`
	} `json:"messages"`
	Stream        bool           `json:"stream"`
	StreamOptions *streamOptions `json:"stream_options"`
	Tools         []tool         `json:"tools"`
}

// streamOptions are the stream_options of chat and legacy completions.
type streamOptions struct {
	IncludeUsage       bool  `json:"include_usage"`
	IncludeObfuscation *bool `json:"include_obfuscation"`
}

// includeUsage reports whether the stream ends with a usage chunk.
func (o *streamOptions) includeUsage() bool { return o != nil && o.IncludeUsage }

// obfuscate reports whether stream events carry an "obfuscation" field,
// which the real API adds unless told not to.
func (o *streamOptions) obfuscate() bool {
	return o == nil || o.IncludeObfuscation == nil || *o.IncludeObfuscation
}

// readJSON decodes the request body into v, answering 400 as the real API
// does when it is not JSON.
func (x *exchange) readJSON(v any) bool {
	if err := json.Unmarshal(x.body, v); err != nil {
		x.writeError(http.StatusBadRequest, "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)", "invalid_request_error", "", "")
		return false
	}
	return true
}

// requireModel answers 400 when a request has no model.
func (x *exchange) requireModel(model string) bool {
	if model == "" {
		x.writeError(http.StatusBadRequest, "you must provide a model parameter", "invalid_request_error", "", "")
		return false
	}
	return true
}

// chatCompletions answers POST /chat/completions.
func (x *exchange) chatCompletions() {
	var req chatRequest
	if !x.readJSON(&req) || !x.requireModel(req.Model) {
		return
	}
	if req.Messages == nil {
		x.writeError(http.StatusBadRequest, "Missing required parameter: 'messages'.", "invalid_request_error", "messages", "missing_required_parameter")
		return
	}
	if len(req.Messages) == 0 {
		x.writeError(http.StatusBadRequest, "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.", "invalid_request_error", "messages", "empty_array")
		return
	}
	texts := make([]string, len(req.Messages))
	last := ""
	for i, m := range req.Messages {
		texts[i] = string(m.Content)
		if m.Role == "user" {
			last = string(m.Content)
		}
	}
	var (
		calls []toolCall
		reply string
	)
	if k := x.f.ToolCallCount(len(req.Tools), last); k > 0 {
		calls = makeToolCalls(req.Tools, k)
	} else {
		reply = x.f.ReplyText(replyPrefix + last)
	}
	u := x.f.newUsage(req.Model, promptTokens(texts, len(req.Tools)), reply, calls)
	c := chatReply{
		id:      newID("chatcmpl-", 29, alnum),
		created: time.Now().Unix(),
		model:   req.Model,
		reply:   reply,
		calls:   calls,
		usage:   u,
	}
	if req.Stream {
		c.stream(x, req.StreamOptions)
		return
	}
	x.writeJSON(http.StatusOK, marshalIndent(c.completion()))
}

// chatReply is the assistant's answer to one chat completion request.
type chatReply struct {
	id      string
	created int64
	model   string
	reply   string
	calls   []toolCall
	usage   usage
}

// chatCompletion is the chat.completion object.
type chatCompletion struct {
	ID                string       `json:"id"`
	Object            string       `json:"object"`
	Created           int64        `json:"created"`
	Model             string       `json:"model"`
	Choices           []chatChoice `json:"choices"`
	Usage             chatUsage    `json:"usage"`
	ServiceTier       string       `json:"service_tier"`
	SystemFingerprint string       `json:"system_fingerprint"`
}

// chatChoice is a choice of a chat.completion.
type chatChoice struct {
	Index   int `json:"index"`
	Message struct {
		Role        string     `json:"role"`
		Content     *string    `json:"content"`
		ToolCalls   []toolCall `json:"tool_calls,omitempty"`
		Refusal     *string    `json:"refusal"`
		Annotations []struct{} `json:"annotations"`
	} `json:"message"`
	Logprobs     *struct{} `json:"logprobs"`
	FinishReason string    `json:"finish_reason"`
}

// completion returns the reply as a chat.completion object.
func (c *chatReply) completion() chatCompletion {
	var ch chatChoice
	ch.Message.Role = "assistant"
	ch.Message.Annotations = []struct{}{}
	ch.FinishReason = "stop"
	if len(c.calls) > 0 {
		ch.Message.ToolCalls = c.calls
		ch.FinishReason = "tool_calls"
	} else {
		ch.Message.Content = &c.reply
	}
	return chatCompletion{
		ID:                c.id,
		Object:            "chat.completion",
		Created:           c.created,
		Model:             c.model,
		Choices:           []chatChoice{ch},
		Usage:             c.usage.chat(),
		ServiceTier:       "default",
		SystemFingerprint: systemFingerprint,
	}
}

// stream sends the reply as chat.completion.chunk events, as the real API
// does: a first chunk with the role, the content (or tool call) deltas, a
// chunk with the finish reason, with include_usage a last chunk with no
// choices and the usage (every earlier chunk then has "usage":null), and
// "data: [DONE]".
func (c *chatReply) stream(x *exchange, opts *streamOptions) {
	withUsage, obfuscate := opts.includeUsage(), opts.obfuscate()
	head := make([]byte, 0, 160+len(c.model))
	head = append(head, `data: {"id":"`...)
	head = append(head, c.id...)
	head = append(head, `","object":"chat.completion.chunk","created":`...)
	head = strconv.AppendInt(head, c.created, 10)
	head = append(head, `,"model":`...)
	head = appendString(head, c.model)
	head = append(head, `,"service_tier":"default","system_fingerprint":"`+systemFingerprint+`","choices":[`...)

	s := x.startStream()
	// chunk sends one chunk whose choices are choice; content is the length
	// of its text, for the obfuscation padding.
	chunk := func(choice []byte, content int) error {
		s.buf = append(s.buf[:0], head...)
		s.buf = append(s.buf, choice...)
		s.buf = append(s.buf, ']')
		if withUsage {
			s.buf = append(s.buf, `,"usage":null`...)
		}
		if obfuscate {
			s.buf = appendObfuscation(s.buf, content, s.Sent())
		}
		s.buf = append(s.buf, "}\n\n"...)
		return s.send()
	}
	const (
		choiceStart = `{"index":0,"delta":{`
		choiceEnd   = `},"logprobs":null,"finish_reason":null}`
	)
	var choice []byte
	finish := `{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}`
	if len(c.calls) == 0 {
		if chunk([]byte(choiceStart+`"role":"assistant","content":"","refusal":null`+choiceEnd), 0) != nil {
			return
		}
		for _, piece := range fakefault.Split(c.reply, x.f.Chunks) {
			choice = append(choice[:0], choiceStart+`"content":`...)
			choice = appendString(choice, piece)
			choice = append(choice, choiceEnd...)
			if chunk(choice, len(piece)) != nil {
				return
			}
		}
	} else {
		finish = `{"index":0,"delta":{},"logprobs":null,"finish_reason":"tool_calls"}`
		// Every call opens with its id and name, then the argument
		// fragments of all calls interleave, which is legal on the wire
		// and catches accumulators that assume one call at a time.
		frags := make([][]string, len(c.calls))
		rounds := 0
		for i, call := range c.calls {
			choice = append(choice[:0], choiceStart...)
			if i == 0 {
				choice = append(choice, `"role":"assistant","content":null,`...)
			}
			choice = append(choice, `"tool_calls":[{"index":`...)
			choice = strconv.AppendInt(choice, int64(i), 10)
			choice = append(choice, `,"id":"`...)
			choice = append(choice, call.ID...)
			choice = append(choice, `","type":"function","function":{"name":`...)
			choice = appendString(choice, call.Function.Name)
			choice = append(choice, `,"arguments":""}}]`...)
			if i == 0 {
				choice = append(choice, `,"refusal":null`...)
			}
			choice = append(choice, choiceEnd...)
			if chunk(choice, 0) != nil {
				return
			}
			frags[i] = fakefault.Split(call.Function.Arguments, x.f.Chunks)
			rounds = max(rounds, len(frags[i]))
		}
		for r := range rounds {
			for i := range c.calls {
				if r >= len(frags[i]) {
					continue
				}
				choice = append(choice[:0], choiceStart+`"tool_calls":[{"index":`...)
				choice = strconv.AppendInt(choice, int64(i), 10)
				choice = append(choice, `,"function":{"arguments":`...)
				choice = appendString(choice, frags[i][r])
				choice = append(choice, `}}]`+choiceEnd...)
				if chunk(choice, len(frags[i][r])) != nil {
					return
				}
			}
		}
	}
	if chunk([]byte(finish), 0) != nil {
		return
	}
	if withUsage {
		s.buf = append(s.buf[:0], head...)
		s.buf = append(s.buf, `],"usage":`...)
		s.buf = c.usage.appendChat(s.buf)
		if obfuscate {
			s.buf = appendObfuscation(s.buf, 0, s.Sent())
		}
		s.buf = append(s.buf, "}\n\n"...)
		if s.send() != nil {
			return
		}
	}
	_ = s.sendDone()
}

// completionRequest is what the fake reads of a legacy completion request.
type completionRequest struct {
	Model         string         `json:"model"`
	Prompt        text           `json:"prompt"`
	Stream        bool           `json:"stream"`
	StreamOptions *streamOptions `json:"stream_options"`
}

// completions answers the legacy POST /completions.
func (x *exchange) completions() {
	var req completionRequest
	if !x.readJSON(&req) || !x.requireModel(req.Model) {
		return
	}
	reply := x.f.ReplyText(replyPrefix + string(req.Prompt))
	u := x.f.newUsage(req.Model, words(string(req.Prompt)), reply, nil)
	id := newID("cmpl-", 29, alnum)
	created := time.Now().Unix()
	if !req.Stream {
		type choice struct {
			Text         string    `json:"text"`
			Index        int       `json:"index"`
			Logprobs     *struct{} `json:"logprobs"`
			FinishReason string    `json:"finish_reason"`
		}
		type legacyUsage struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
			TotalTokens      int `json:"total_tokens"`
		}
		x.writeJSON(http.StatusOK, marshalIndent(struct {
			ID      string      `json:"id"`
			Object  string      `json:"object"`
			Created int64       `json:"created"`
			Model   string      `json:"model"`
			Choices []choice    `json:"choices"`
			Usage   legacyUsage `json:"usage"`
		}{id, "text_completion", created, req.Model,
			[]choice{{Text: reply, FinishReason: "stop"}},
			legacyUsage{u.prompt, u.completion, u.prompt + u.completion}}))
		return
	}

	withUsage := req.StreamOptions.includeUsage()
	s := x.startStream()
	chunk := func(choices []byte, usage bool) error {
		s.buf = append(s.buf[:0], `data: {"id":"`...)
		s.buf = append(s.buf, id...)
		s.buf = append(s.buf, `","object":"text_completion","created":`...)
		s.buf = strconv.AppendInt(s.buf, created, 10)
		s.buf = append(s.buf, `,"choices":[`...)
		s.buf = append(s.buf, choices...)
		s.buf = append(s.buf, `],"model":`...)
		s.buf = appendString(s.buf, req.Model)
		s.buf = append(s.buf, `,"system_fingerprint":null`...)
		if usage {
			s.buf = append(s.buf, `,"usage":{"prompt_tokens":`...)
			s.buf = strconv.AppendInt(s.buf, int64(u.prompt), 10)
			s.buf = append(s.buf, `,"completion_tokens":`...)
			s.buf = strconv.AppendInt(s.buf, int64(u.completion), 10)
			s.buf = append(s.buf, `,"total_tokens":`...)
			s.buf = strconv.AppendInt(s.buf, int64(u.prompt+u.completion), 10)
			s.buf = append(s.buf, '}')
		} else if withUsage {
			s.buf = append(s.buf, `,"usage":null`...)
		}
		s.buf = append(s.buf, "}\n\n"...)
		return s.send()
	}
	var choice []byte
	for _, piece := range fakefault.Split(reply, x.f.Chunks) {
		choice = append(choice[:0], `{"text":`...)
		choice = appendString(choice, piece)
		choice = append(choice, `,"index":0,"logprobs":null,"finish_reason":null}`...)
		if chunk(choice, false) != nil {
			return
		}
	}
	if chunk([]byte(`{"text":"","index":0,"logprobs":null,"finish_reason":"stop"}`), false) != nil {
		return
	}
	if withUsage && chunk(nil, true) != nil {
		return
	}
	_ = s.sendDone()
}
