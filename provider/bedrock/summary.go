package bedrock

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/aiproxy-go/aiproxy/provider"
)

// wireBlock is one content block of any of the formats: Anthropic's typed blocks
// ({"type":"text"}, {"type":"tool_use"}, {"type":"tool_result"}) and Converse's (and
// Nova's) keyed ones ({"text"}, {"toolUse"}, {"toolResult"}, {"reasoningContent"}).
type wireBlock struct {
	Type    string          `json:"type"`
	Text    *string         `json:"text"`
	ID      string          `json:"id"`
	Name    string          `json:"name"`
	Input   json.RawMessage `json:"input"`
	Content json.RawMessage `json:"content"`

	ToolUse *struct {
		ToolUseID string          `json:"toolUseId"`
		Name      string          `json:"name"`
		Input     json.RawMessage `json:"input"`
	} `json:"toolUse"`
	ToolResult *struct {
		Content json.RawMessage `json:"content"`
	} `json:"toolResult"`
}

// content is what the log reads of a message's content.
type content struct {
	text    []string // text blocks
	results []string // texts of tool results
	inputs  []string // tool call inputs
	calls   []provider.ToolCall
}

// readContent reads content in any of its shapes: a string or a list of blocks.
func readContent(raw json.RawMessage) content {
	var c content
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return c
	}
	if raw[0] == '"' {
		if s := provider.JSONString(raw); s != "" {
			c.text = append(c.text, s)
		}
		return c
	}
	var blocks []wireBlock
	_ = json.Unmarshal(raw, &blocks)
	for _, b := range blocks {
		switch {
		case b.ToolUse != nil:
			args := compactJSON(b.ToolUse.Input)
			c.inputs = append(c.inputs, args)
			c.calls = append(c.calls, toolCall(b.ToolUse.ToolUseID, b.ToolUse.Name, args))
		case b.ToolResult != nil:
			c.results = append(c.results, resultText(b.ToolResult.Content))
		case b.Type == "tool_use":
			args := compactJSON(b.Input)
			c.inputs = append(c.inputs, args)
			c.calls = append(c.calls, toolCall(b.ID, b.Name, args))
		case b.Type == "tool_result":
			c.results = append(c.results, resultText(b.Content))
		case b.Text != nil && (b.Type == "" || b.Type == "text"):
			c.text = append(c.text, *b.Text)
		}
	}
	return c
}

// resultText is the text of a tool result's content: a string, text blocks, or JSON.
func resultText(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		return provider.JSONString(raw)
	}
	var blocks []struct {
		Text *string         `json:"text"`
		JSON json.RawMessage `json:"json"`
	}
	_ = json.Unmarshal(raw, &blocks)
	var parts []string
	for _, b := range blocks {
		switch {
		case b.Text != nil:
			parts = append(parts, *b.Text)
		case len(b.JSON) > 0:
			parts = append(parts, compactJSON(b.JSON))
		}
	}
	return strings.Join(parts, "\n")
}

func toolCall(id, name, args string) provider.ToolCall {
	return provider.ToolCall{ID: id, Type: "function", Function: provider.FunctionCall{Name: name, Arguments: args}}
}

// compactJSON returns raw compacted, "{}" when it is empty or null.
func compactJSON(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "{}"
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}

// summarizeRequest reads any request body: Converse, or a model-native InvokeModel body.
func summarizeRequest(endpoint string, body []byte) provider.Summary {
	id, _, _ := parseEndpoint(endpoint)
	s := provider.Summary{Model: id}
	var f struct {
		Messages []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
		System    json.RawMessage `json:"system"`
		Prompt    json.RawMessage `json:"prompt"`
		InputText json.RawMessage `json:"inputText"`
		Message   json.RawMessage `json:"message"` // Cohere Command R
		Metadata  json.RawMessage `json:"metadata"`
	}
	// A field of an unexpected type stops only that field.
	_ = json.Unmarshal(body, &f)
	s.User = requestFields{Metadata: f.Metadata}.user()
	var all []string
	add := func(c content) {
		all = append(all, c.text...)
		all = append(all, c.results...)
		all = append(all, c.inputs...)
	}
	add(readContent(f.System))
	for _, m := range f.Messages {
		c := readContent(m.Content)
		add(c)
		if m.Role == "user" {
			switch {
			case len(c.text) > 0:
				s.Content = strings.Join(c.text, "\n")
			case len(c.results) > 0:
				s.Content = strings.Join(c.results, "\n")
			default:
				s.Content = ""
			}
		}
	}
	if prompt := provider.JSONString(f.Prompt); prompt != "" {
		all = append(all, prompt)
		if strings.Contains(prompt, "Human:") {
			s.Content = lastHumanTurn(prompt)
		} else {
			s.Content = strings.TrimSpace(prompt)
		}
	}
	for _, raw := range []json.RawMessage{f.InputText, f.Message} {
		if t := provider.JSONString(raw); t != "" {
			all = append(all, t)
			s.Content = t
		}
	}
	s.Text = strings.Join(all, "\n")
	return s
}

// lastHumanTurn is the text of a Claude v2 prompt's last "Human:" turn.
func lastHumanTurn(prompt string) string {
	i := strings.LastIndex(prompt, "Human:")
	if i < 0 {
		return strings.TrimSpace(prompt)
	}
	turn := prompt[i+len("Human:"):]
	if j := strings.Index(turn, "Assistant:"); j >= 0 {
		turn = turn[:j]
	}
	return strings.TrimSpace(turn)
}

// wireUsage is a usage object in any of the formats' spellings.
type wireUsage struct {
	// Converse, Nova
	InputTokens           int `json:"inputTokens"`
	OutputTokens          int `json:"outputTokens"`
	CacheReadInputTokens  int `json:"cacheReadInputTokens"`
	CacheWriteInputTokens int `json:"cacheWriteInputTokens"`
	// Anthropic
	AnthropicInput         int `json:"input_tokens"`
	AnthropicOutput        int `json:"output_tokens"`
	AnthropicCacheRead     int `json:"cache_read_input_tokens"`
	AnthropicCacheCreation int `json:"cache_creation_input_tokens"`
	// OpenAI-compatible models (Mistral Large, AI21 Jamba, ...)
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
}

// usage returns the neutral usage: input tokens count the cached ones, which Bedrock and
// Anthropic report apart.
func (u *wireUsage) usage() *provider.Usage {
	if u == nil {
		return nil
	}
	return &provider.Usage{
		InputTokens: u.InputTokens + u.CacheReadInputTokens + u.CacheWriteInputTokens +
			u.AnthropicInput + u.AnthropicCacheRead + u.AnthropicCacheCreation + u.PromptTokens,
		OutputTokens: u.OutputTokens + u.AnthropicOutput + u.CompletionTokens,
		CachedTokens: u.CacheReadInputTokens + u.AnthropicCacheRead,
	}
}

// invocationMetrics is the amazon-bedrock-invocationMetrics object of a stream's last
// chunk.
type invocationMetrics struct {
	InputTokenCount           int `json:"inputTokenCount"`
	OutputTokenCount          int `json:"outputTokenCount"`
	CacheReadInputTokenCount  int `json:"cacheReadInputTokenCount"`
	CacheWriteInputTokenCount int `json:"cacheWriteInputTokenCount"`
}

func (m *invocationMetrics) usage() *provider.Usage {
	return &provider.Usage{
		InputTokens:  m.InputTokenCount + m.CacheReadInputTokenCount + m.CacheWriteInputTokenCount,
		OutputTokens: m.OutputTokenCount,
		CachedTokens: m.CacheReadInputTokenCount,
	}
}

// summarizeResponse reads a response body or a captured event stream.
func summarizeResponse(endpoint string, body []byte, stream bool) provider.Summary {
	_, op, _ := parseEndpoint(endpoint)
	if stream {
		return summarizeStream(op, body)
	}
	return summarizeBody(body)
}

// responseBody is a complete response in any of the formats.
type responseBody struct {
	// Converse and Nova
	Output *struct {
		Message struct {
			Content json.RawMessage `json:"content"`
		} `json:"message"`
	} `json:"output"`
	Usage *wireUsage `json:"usage"`
	// Anthropic messages
	Model   string          `json:"model"`
	Content json.RawMessage `json:"content"`
	// Claude v2 text completions
	Completion *string `json:"completion"`
	// Titan Text
	InputTextTokenCount *int `json:"inputTextTokenCount"`
	Results             []struct {
		OutputText string `json:"outputText"`
		TokenCount int    `json:"tokenCount"`
	} `json:"results"`
	// Llama
	Generation           *string `json:"generation"`
	PromptTokenCount     *int    `json:"prompt_token_count"`
	GenerationTokenCount *int    `json:"generation_token_count"`
	// Mistral
	Outputs []struct {
		Text string `json:"text"`
	} `json:"outputs"`
	// OpenAI-compatible models
	Choices []struct {
		Message struct {
			Content   *string             `json:"content"`
			ToolCalls []provider.ToolCall `json:"tool_calls"`
		} `json:"message"`
	} `json:"choices"`
	// Cohere
	Text        *string `json:"text"`
	Generations []struct {
		Text string `json:"text"`
	} `json:"generations"`
	// An AWS error
	Message      *string `json:"message"`
	MessageUpper *string `json:"Message"`
}

// summarizeBody reads a complete JSON response of any operation and format, or an error.
func summarizeBody(body []byte) provider.Summary {
	var s provider.Summary
	var r responseBody
	_ = json.Unmarshal(body, &r)
	var texts []string
	switch {
	case r.Output != nil:
		c := readContent(r.Output.Message.Content)
		texts, s.ToolCalls = c.text, c.calls
	case len(r.Content) > 0:
		c := readContent(r.Content)
		texts, s.ToolCalls = c.text, c.calls
	case r.Completion != nil:
		texts = []string{*r.Completion}
	case len(r.Results) > 0:
		out := 0
		for _, res := range r.Results {
			texts = append(texts, res.OutputText)
			out += res.TokenCount
		}
		if r.InputTextTokenCount != nil {
			s.Usage = &provider.Usage{InputTokens: *r.InputTextTokenCount, OutputTokens: out}
		}
	case r.Generation != nil:
		texts = []string{*r.Generation}
		if r.PromptTokenCount != nil && r.GenerationTokenCount != nil {
			s.Usage = &provider.Usage{InputTokens: *r.PromptTokenCount, OutputTokens: *r.GenerationTokenCount}
		}
	case len(r.Outputs) > 0:
		for _, o := range r.Outputs {
			texts = append(texts, o.Text)
		}
	case len(r.Choices) > 0:
		if m := r.Choices[0].Message; m.Content != nil {
			texts = []string{*m.Content}
		}
		s.ToolCalls = r.Choices[0].Message.ToolCalls
	case r.Text != nil:
		texts = []string{*r.Text}
	case len(r.Generations) > 0:
		texts = []string{r.Generations[0].Text}
	case r.Message != nil:
		s.Error = *r.Message
	case r.MessageUpper != nil:
		s.Error = *r.MessageUpper
	}
	s.Content = strings.Join(texts, "")
	s.Model = r.Model
	if r.Usage != nil {
		s.Usage = r.Usage.usage()
	}
	return s
}

// streamSummary rebuilds a response from stream events.
type streamSummary struct {
	s     provider.Summary
	text  strings.Builder
	tools map[int]*toolAcc
	order []int
	// Anthropic's own usage, used when the stream has no invocation metrics.
	anthropic *provider.Usage
	metrics   *provider.Usage
}

type toolAcc struct {
	id, name string
	initial  string // the input of the block's start, when not empty
	args     strings.Builder
}

func (a *streamSummary) tool(index int) *toolAcc {
	if a.tools == nil {
		a.tools = map[int]*toolAcc{}
	}
	t := a.tools[index]
	if t == nil {
		t = &toolAcc{}
		a.tools[index] = t
		a.order = append(a.order, index)
	}
	return t
}

func (a *streamSummary) finish() provider.Summary {
	s := a.s
	s.Content = a.text.String()
	sort.Ints(a.order)
	for _, i := range a.order {
		t := a.tools[i]
		args := t.args.String()
		if args == "" {
			args = t.initial
		}
		if args == "" {
			args = "{}"
		}
		s.ToolCalls = append(s.ToolCalls, toolCall(t.id, t.name, args))
	}
	switch {
	case a.metrics != nil:
		s.Usage = a.metrics
	case a.anthropic != nil:
		s.Usage = a.anthropic
	}
	return s
}

// summarizeStream reads a captured event stream of ConverseStream or
// InvokeModelWithResponseStream. Exception and error frames become the summary's Error.
func summarizeStream(op string, body []byte) provider.Summary {
	a := &streamSummary{}
	_, _ = eachMessage(body, func(m eventstream.Message) {
		switch eventHeader(m, ":message-type") {
		case "exception":
			a.s.Error = streamError(eventHeader(m, ":exception-type"), messageOf(m.Payload)).Message
			return
		case "error":
			a.s.Error = streamError(eventHeader(m, ":error-code"), eventHeader(m, ":error-message")).Message
			return
		}
		typ := eventHeader(m, ":event-type")
		if typ == "chunk" {
			a.chunk(m.Payload)
			return
		}
		if isConverseOp(op) || op == "" {
			a.converseEvent(typ, m.Payload)
		}
	})
	return a.finish()
}

// converseEvent reads one ConverseStream event (or the same event nested in a Nova chunk).
func (a *streamSummary) converseEvent(typ string, payload []byte) {
	var ev struct {
		ContentBlockIndex int `json:"contentBlockIndex"`
		Start             *struct {
			ToolUse *struct {
				ToolUseID string `json:"toolUseId"`
				Name      string `json:"name"`
			} `json:"toolUse"`
		} `json:"start"`
		Delta *struct {
			Text    *string `json:"text"`
			ToolUse *struct {
				Input string `json:"input"`
			} `json:"toolUse"`
		} `json:"delta"`
		Usage *wireUsage `json:"usage"`
	}
	if json.Unmarshal(payload, &ev) != nil {
		return
	}
	switch typ {
	case "contentBlockStart":
		if ev.Start != nil && ev.Start.ToolUse != nil {
			t := a.tool(ev.ContentBlockIndex)
			t.id, t.name = ev.Start.ToolUse.ToolUseID, ev.Start.ToolUse.Name
		}
	case "contentBlockDelta":
		switch {
		case ev.Delta == nil:
		case ev.Delta.Text != nil:
			a.text.WriteString(*ev.Delta.Text)
		case ev.Delta.ToolUse != nil:
			a.tool(ev.ContentBlockIndex).args.WriteString(ev.Delta.ToolUse.Input)
		}
	case "metadata":
		if ev.Usage != nil {
			a.metrics = ev.Usage.usage()
		}
	}
}

// chunkEvent is the model-native event that an InvokeModelWithResponseStream chunk carries,
// in any of the formats.
type chunkEvent struct {
	// Anthropic messages
	Type    string `json:"type"`
	Index   int    `json:"index"`
	Message *struct {
		Model string     `json:"model"`
		Usage *wireUsage `json:"usage"`
	} `json:"message"`
	ContentBlock *struct {
		Type  string          `json:"type"`
		ID    string          `json:"id"`
		Name  string          `json:"name"`
		Input json.RawMessage `json:"input"`
	} `json:"content_block"`
	Delta *struct {
		Type        string `json:"type"`
		Text        string `json:"text"`
		PartialJSON string `json:"partial_json"`
	} `json:"delta"`
	Usage *wireUsage `json:"usage"`
	// Every format's last chunk
	Metrics *invocationMetrics `json:"amazon-bedrock-invocationMetrics"`
	// Claude v2, Titan, Llama, Mistral, OpenAI-compatible models, Cohere
	Completion *string `json:"completion"`
	OutputText *string `json:"outputText"`
	Generation *string `json:"generation"`
	Outputs    []struct {
		Text string `json:"text"`
	} `json:"outputs"`
	Choices []struct {
		Delta struct {
			Content string `json:"content"`
		} `json:"delta"`
	} `json:"choices"`
	Text       *string `json:"text"`
	IsFinished *bool   `json:"is_finished"`
	// Nova: Converse events keyed by their type
	ContentBlockStart json.RawMessage `json:"contentBlockStart"`
	ContentBlockDelta json.RawMessage `json:"contentBlockDelta"`
	NovaMetadata      json.RawMessage `json:"metadata"`
}

// chunk reads one chunk event: {"bytes": base64 of the model's own event}.
func (a *streamSummary) chunk(payload []byte) {
	inner, ok := chunkBytes(payload)
	if !ok {
		return
	}
	var c chunkEvent
	if json.Unmarshal(inner, &c) != nil {
		return
	}
	if c.Metrics != nil {
		a.metrics = c.Metrics.usage()
	}
	switch c.Type {
	case "message_start":
		if c.Message != nil {
			a.s.Model = c.Message.Model
			if u := c.Message.Usage.usage(); u != nil {
				a.anthropic = &provider.Usage{InputTokens: u.InputTokens, CachedTokens: u.CachedTokens}
			}
		}
		return
	case "content_block_start":
		if b := c.ContentBlock; b != nil && b.Type == "tool_use" {
			t := a.tool(c.Index)
			t.id, t.name = b.ID, b.Name
			if in := compactJSON(b.Input); in != "{}" {
				t.initial = in
			}
		}
		return
	case "content_block_delta":
		if c.Delta != nil {
			switch c.Delta.Type {
			case "text_delta":
				a.text.WriteString(c.Delta.Text)
			case "input_json_delta":
				a.tool(c.Index).args.WriteString(c.Delta.PartialJSON)
			}
		}
		return
	case "message_delta":
		if c.Usage != nil {
			if a.anthropic == nil {
				a.anthropic = &provider.Usage{}
			}
			a.anthropic.OutputTokens = c.Usage.AnthropicOutput
		}
		return
	case "":
	default:
		return
	}
	switch {
	case c.Completion != nil:
		a.text.WriteString(*c.Completion)
	case c.OutputText != nil:
		a.text.WriteString(*c.OutputText)
	case c.Generation != nil:
		a.text.WriteString(*c.Generation)
	case len(c.Outputs) > 0:
		for _, o := range c.Outputs {
			a.text.WriteString(o.Text)
		}
	case len(c.Choices) > 0:
		a.text.WriteString(c.Choices[0].Delta.Content)
	case c.Text != nil && c.IsFinished != nil:
		a.text.WriteString(*c.Text)
	case len(c.ContentBlockStart) > 0:
		a.converseEvent("contentBlockStart", c.ContentBlockStart)
	case len(c.ContentBlockDelta) > 0:
		a.converseEvent("contentBlockDelta", c.ContentBlockDelta)
	case len(c.NovaMetadata) > 0 && c.Metrics == nil:
		a.converseEvent("metadata", c.NovaMetadata)
	}
}

// chunkBytes decodes the base64 "bytes" of a chunk event's payload.
func chunkBytes(payload []byte) ([]byte, bool) {
	var p struct {
		Bytes string `json:"bytes"`
	}
	if json.Unmarshal(payload, &p) != nil || p.Bytes == "" {
		return nil, false
	}
	b, err := base64.StdEncoding.DecodeString(p.Bytes)
	if err != nil {
		return nil, false
	}
	return b, true
}
