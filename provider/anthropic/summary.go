package anthropic

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/aiproxy-go/aiproxy/provider"
	"github.com/aiproxy-go/aiproxy/provider/internal/extract"
	"github.com/aiproxy-go/aiproxy/sse"
)

// This file extracts what the access log stores of Anthropic bodies. It runs in the log
// writer, off the request path, on whatever bytes the client or upstream sent: it never
// fails and never panics, and a field it cannot read is left empty.

// apiKind is the family of an endpoint's bodies.
type apiKind int

const (
	otherAPI       apiKind = iota
	messagesAPI            // /v1/messages
	countTokensAPI         // /v1/messages/count_tokens
)

func apiKindOf(endpoint string) apiKind {
	e, _, _ := strings.Cut(endpoint, "?")
	e = "/" + strings.Trim(e, "/")
	switch {
	case strings.HasSuffix(e, "/messages/count_tokens"):
		return countTokensAPI
	case strings.HasSuffix(e, "/messages"):
		return messagesAPI
	}
	return otherAPI
}

// requestJSON holds what the log reads of a Messages (or count_tokens) request.
type requestJSON struct {
	Model    string `json:"model"`
	Metadata struct {
		UserID string `json:"user_id"`
	} `json:"metadata"`
	System   json.RawMessage `json:"system"` // a string or an array of text blocks
	Messages []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"` // a string or an array of blocks
	} `json:"messages"`
	Tools json.RawMessage `json:"tools"`
}

// blockJSON is a content block of a request or a response.
type blockJSON struct {
	Type    string          `json:"type"`
	Text    string          `json:"text"`
	ID      string          `json:"id"`
	Name    string          `json:"name"`
	Input   json.RawMessage `json:"input"`
	Content json.RawMessage `json:"content"` // tool_result: a string or an array of blocks
}

// summarizeRequest extracts the model, the user (metadata.user_id), the last user text
// (Content) and the prompt text (Text, for token estimation) of a request body.
//
// Content is the text of the last user message that has text: tool results travel in
// user messages too, and a message of tool results only is not what the user said. Text
// holds the system prompt, every message's text, tool_use names and inputs and tool
// results, in order, then the tool definitions as compact JSON.
func summarizeRequest(endpoint string, body []byte) provider.Summary {
	var req requestJSON
	if !extract.DecodeLenient(body, &req) {
		return provider.Summary{}
	}
	s := provider.Summary{Model: req.Model, User: req.Metadata.UserID}
	if apiKindOf(endpoint) == otherAPI {
		return s
	}
	var text extract.Joiner
	text.Add(blocksText(req.System, "\n", &text, false))
	for _, m := range req.Messages {
		var others extract.Joiner
		t := blocksText(m.Content, "\n", &others, true)
		text.Add(t)
		text.Add(others.String())
		if m.Role == "user" && (t != "" || !hasToolResult(m.Content)) {
			s.Content = t
		}
	}
	text.Add(compactJSON(req.Tools))
	s.Text = text.String()
	return s
}

// blocksText returns the text of a content value (a string, or the text blocks of an
// array, joined with sep). With all, the other blocks' text (tool_use names and inputs,
// tool_result contents) is added to others.
func blocksText(raw json.RawMessage, sep string, others *extract.Joiner, all bool) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return ""
		}
		return s
	case '[':
		var blocks []json.RawMessage
		if json.Unmarshal(raw, &blocks) != nil {
			return ""
		}
		var b strings.Builder
		for _, rb := range blocks {
			var bl blockJSON
			if !extract.DecodeLenient(rb, &bl) {
				continue
			}
			switch bl.Type {
			case "text":
				if bl.Text == "" {
					continue
				}
				if b.Len() > 0 {
					b.WriteString(sep)
				}
				b.WriteString(bl.Text)
			case "tool_use", "server_tool_use":
				if all {
					others.Add(bl.Name)
					others.Add(compactJSON(bl.Input))
				}
			case "tool_result":
				if all {
					others.Add(blocksText(bl.Content, "\n", others, false))
				}
			}
		}
		return b.String()
	}
	return ""
}

// hasToolResult reports whether a message's content has a tool_result block.
func hasToolResult(raw json.RawMessage) bool {
	var blocks []struct {
		Type string `json:"type"`
	}
	if raw = bytes.TrimSpace(raw); len(raw) == 0 || raw[0] != '[' || !extract.DecodeLenient(raw, &blocks) {
		return false
	}
	return slices.ContainsFunc(blocks, func(b struct {
		Type string `json:"type"`
	}) bool {
		return b.Type == "tool_result"
	})
}

// compactJSON returns raw without insignificant spaces, or "" for absent, null or empty
// values.
func compactJSON(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	switch string(raw) {
	case "", "null", "[]", "{}":
		return ""
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return ""
	}
	return b.String()
}

// tokenCount is a token count that also accepts a float spelling; anything else reads as
// zero rather than failing the usage object.
type tokenCount int

// UnmarshalJSON reads a number, and anything else (a string, a negative or absurd number)
// as zero; it never fails.
func (c *tokenCount) UnmarshalJSON(data []byte) error {
	f, err := strconv.ParseFloat(string(data), 64)
	if err != nil || f < 0 || f > 1e15 {
		*c = 0
		return nil
	}
	*c = tokenCount(f)
	return nil
}

// usageJSON is the usage of a Message or of a message_delta event. A count that is absent
// or null is nil: a message_delta then leaves what message_start said.
type usageJSON struct {
	InputTokens              *tokenCount `json:"input_tokens"`
	CacheCreationInputTokens *tokenCount `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     *tokenCount `json:"cache_read_input_tokens"`
	OutputTokens             *tokenCount `json:"output_tokens"`
	OutputTokensDetails      *struct {
		ThinkingTokens *tokenCount `json:"thinking_tokens"`
	} `json:"output_tokens_details"`
}

// usageCounts accumulates the counts of one message.
type usageCounts struct {
	input, cacheCreation, cacheRead, output, thinking int
	seen                                              bool
}

// merge takes every count u reports; counts are cumulative, so they replace.
func (c *usageCounts) merge(u *usageJSON) {
	if u == nil {
		return
	}
	set := func(dst *int, v *tokenCount) {
		if v != nil {
			*dst = int(*v)
			c.seen = true
		}
	}
	set(&c.input, u.InputTokens)
	set(&c.cacheCreation, u.CacheCreationInputTokens)
	set(&c.cacheRead, u.CacheReadInputTokens)
	set(&c.output, u.OutputTokens)
	if d := u.OutputTokensDetails; d != nil {
		set(&c.thinking, d.ThinkingTokens)
	}
}

// usage maps the counts to the neutral Usage: the whole prompt, cache writes and reads
// included, is InputTokens; cache reads are CachedTokens.
func (c *usageCounts) usage() *provider.Usage {
	if !c.seen {
		return nil
	}
	return &provider.Usage{
		InputTokens:     c.input + c.cacheCreation + c.cacheRead,
		OutputTokens:    c.output,
		CachedTokens:    c.cacheRead,
		ReasoningTokens: c.thinking,
	}
}

// messageJSON is a Message, an error body, or a count_tokens result.
type messageJSON struct {
	Type    string          `json:"type"`
	Model   string          `json:"model"`
	Content []blockJSON     `json:"content"`
	Usage   *usageJSON      `json:"usage"`
	Error   json.RawMessage `json:"error"`
}

// errorMessage returns the message of an "error" value: Anthropic's object (its message,
// or its type when the message is empty) or a bare string.
func errorMessage(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return ""
		}
		return s
	case '{':
		var e struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		}
		if !extract.DecodeLenient(raw, &e) {
			return ""
		}
		if e.Message != "" {
			return e.Message
		}
		return e.Type
	}
	return ""
}

// summarizeResponse extracts the model, the assistant text, the tool calls, the usage and
// any error message of a response body. For a stream, body is the raw SSE text as
// received, and the summary is rebuilt from its events; a stream cut short gives what its
// complete events held. The body decides over the flag: a JSON body is read as one, an
// SSE body as a stream.
func summarizeResponse(endpoint string, body []byte, stream bool) provider.Summary {
	kind := apiKindOf(endpoint)
	if stream && !looksLikeJSONObject(body) || looksLikeSSE(body) {
		return summarizeStream(body)
	}
	var m messageJSON
	if !extract.DecodeLenient(body, &m) {
		return provider.Summary{}
	}
	s := provider.Summary{Error: errorMessage(m.Error)}
	switch {
	case s.Error != "" || m.Type == "error":
		return s
	case kind == countTokensAPI:
		// Counting tokens consumes none: the count is in the raw body, the usage is zero.
		s.Usage = &provider.Usage{}
		return s
	case kind != messagesAPI && m.Type != "message":
		return s
	}
	s.Model = m.Model
	var c usageCounts
	c.merge(m.Usage)
	s.Usage = c.usage()
	var text strings.Builder
	for _, b := range m.Content {
		switch b.Type {
		case "text":
			text.WriteString(b.Text)
		case "tool_use":
			s.ToolCalls = append(s.ToolCalls, toolCall(b.ID, b.Name, string(b.Input)))
		}
	}
	s.Content = text.String()
	return s
}

// toolCall returns the neutral tool call of a tool_use block: its input as a compact JSON
// string, "{}" when it had none, as received when it is not valid JSON (a stream cut in
// the middle of it).
func toolCall(id, name, input string) provider.ToolCall {
	args := strings.TrimSpace(input)
	switch {
	case args == "" || args == "null":
		args = "{}"
	case json.Valid([]byte(args)):
		var b bytes.Buffer
		if json.Compact(&b, []byte(args)) == nil {
			args = b.String()
		}
	}
	return provider.ToolCall{ID: id, Type: "function", Function: provider.FunctionCall{Name: name, Arguments: args}}
}

func looksLikeJSONObject(body []byte) bool {
	b := bytes.TrimSpace(body)
	return len(b) > 0 && b[0] == '{'
}

// utf8BOM may start a stream; the SSE standard says to skip it.
var utf8BOM = []byte("\xEF\xBB\xBF")

func looksLikeSSE(body []byte) bool {
	b := bytes.TrimLeft(bytes.TrimPrefix(body, utf8BOM), " \t\r\n")
	for _, field := range []string{"data:", "event:", "id:", ":"} {
		if bytes.HasPrefix(b, []byte(field)) {
			return true
		}
	}
	return false
}

// eventJSON is one event of a Messages stream; the fields read depend on its type.
type eventJSON struct {
	Type    string `json:"type"`
	Message struct {
		Model string     `json:"model"`
		Usage *usageJSON `json:"usage"`
	} `json:"message"` // message_start
	Index        *int      `json:"index"`         // content_block_*
	ContentBlock blockJSON `json:"content_block"` // content_block_start
	Delta        struct {
		Type        string `json:"type"`
		Text        string `json:"text"`
		PartialJSON string `json:"partial_json"`
	} `json:"delta"` // content_block_delta, message_delta
	Usage *usageJSON      `json:"usage"` // message_delta
	Error json.RawMessage `json:"error"` // error
}

// blockBuilder accumulates one content block of a stream.
type blockBuilder struct {
	index     int
	typ       string
	id, name  string
	text      strings.Builder
	input     strings.Builder // the input_json_delta fragments
	hasDeltas bool
	start     string // the input of content_block_start
}

// messageStream rebuilds a Message from its events.
type messageStream struct {
	model  string
	usage  usageCounts
	blocks []*blockBuilder // in order of first appearance
	err    string
}

func summarizeStream(body []byte) provider.Summary {
	var st messageStream
	eachEvent(body, func(event string, data []byte) {
		var ev eventJSON
		if !extract.DecodeLenient(data, &ev) {
			return // a truncated last event, anything not JSON
		}
		if ev.Type == "" {
			ev.Type = event
		}
		st.add(&ev)
	})
	return st.summary()
}

func (st *messageStream) add(ev *eventJSON) {
	switch ev.Type {
	case "message_start":
		if st.model == "" {
			st.model = ev.Message.Model
		}
		st.usage.merge(ev.Message.Usage)
	case "content_block_start":
		b := st.block(ev.Index, ev.ContentBlock.Type)
		b.typ, b.id, b.name = ev.ContentBlock.Type, ev.ContentBlock.ID, ev.ContentBlock.Name
		b.text.WriteString(ev.ContentBlock.Text)
		b.start = string(ev.ContentBlock.Input)
	case "content_block_delta":
		switch ev.Delta.Type {
		case "text_delta":
			st.block(ev.Index, "text").text.WriteString(ev.Delta.Text)
		case "input_json_delta":
			b := st.block(ev.Index, "tool_use")
			b.input.WriteString(ev.Delta.PartialJSON)
			b.hasDeltas = true
		}
	case "message_delta":
		st.usage.merge(ev.Usage)
	case "error":
		if msg := errorMessage(ev.Error); msg != "" {
			st.err = msg
		}
	}
}

// block returns the builder of the block at index, made with typ when it is new (a delta
// whose content_block_start was lost still counts).
func (st *messageStream) block(index *int, typ string) *blockBuilder {
	i := 0
	if index != nil {
		i = *index
	} else if n := len(st.blocks); n > 0 {
		return st.blocks[n-1]
	}
	for _, b := range st.blocks {
		if b.index == i {
			return b
		}
	}
	b := &blockBuilder{index: i, typ: typ}
	st.blocks = append(st.blocks, b)
	return b
}

func (st *messageStream) summary() provider.Summary {
	s := provider.Summary{Model: st.model, Usage: st.usage.usage(), Error: st.err}
	blocks := slices.Clone(st.blocks)
	slices.SortStableFunc(blocks, func(a, b *blockBuilder) int { return a.index - b.index })
	var text strings.Builder
	for _, b := range blocks {
		switch b.typ {
		case "text":
			text.WriteString(b.text.String())
		case "tool_use":
			input := b.start
			if b.hasDeltas {
				input = b.input.String()
			}
			s.ToolCalls = append(s.ToolCalls, toolCall(b.id, b.name, input))
		}
	}
	s.Content = text.String()
	return s
}

// eachEvent calls fn with the type and the data of each event of an SSE stream, an event
// cut short at the end included; comments and events without data are skipped.
func eachEvent(body []byte, fn func(event string, data []byte)) {
	for len(body) > 0 {
		adv, tok, err := sse.Split(body, true)
		if err != nil || adv <= 0 {
			return
		}
		body = body[adv:]
		ev := sse.Parse(tok)
		if ev.Data == "" {
			continue
		}
		fn(ev.Event, []byte(ev.Data))
	}
}
