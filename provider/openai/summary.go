package openai

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/aiproxy-go/aiproxy/internal/jsontext"
	"github.com/aiproxy-go/aiproxy/provider"
	"github.com/aiproxy-go/aiproxy/provider/internal/extract"
)

// This file extracts what the access log stores of OpenAI bodies. It runs in the log writer,
// off the request path, on whatever bytes the client or upstream sent: it never fails and
// never panics, and a field it cannot read is left empty. Every decode is lenient: a value of
// an unexpected type (a number where a string belongs, an OpenAI-compatible server's own
// variant) spoils that one field, not the summary.

// apiKind is the family of an endpoint's bodies.
type apiKind int

const (
	otherAPI apiKind = iota
	chatAPI
	completionsAPI
	responsesAPI
	embeddingsAPI
)

// apiKindOf classifies by suffix so that the Azure and versioned spellings of a path
// (/openai/deployments/{d}/chat/completions, /v1/chat/completions) count too.
func apiKindOf(endpoint string) apiKind {
	e, _, _ := strings.Cut(endpoint, "?")
	e = "/" + strings.Trim(e, "/")
	switch {
	case strings.HasSuffix(e, "/chat/completions"):
		return chatAPI
	case strings.HasSuffix(e, "/completions"):
		return completionsAPI
	case strings.HasSuffix(e, "/responses"):
		return responsesAPI
	case strings.HasSuffix(e, "/embeddings"):
		return embeddingsAPI
	}
	return otherAPI
}

// requestJSON holds the fields of a request body of any endpoint that the log reads.
type requestJSON struct {
	Model            string `json:"model"`
	User             string `json:"user"`
	SafetyIdentifier string `json:"safety_identifier"`
	Metadata         struct {
		UserID string `json:"user_id"`
	} `json:"metadata"`

	Messages     []chatMessageJSON `json:"messages"`     // chat completions
	Prompt       json.RawMessage   `json:"prompt"`       // completions: string or array
	Input        json.RawMessage   `json:"input"`        // responses, embeddings
	Instructions json.RawMessage   `json:"instructions"` // responses
	Tools        json.RawMessage   `json:"tools"`
	Functions    json.RawMessage   `json:"functions"` // legacy function calling
}

// chatMessageJSON is a chat message of a request, a message of a response, or the delta of
// a stream chunk: they share their shape.
type chatMessageJSON struct {
	Role         string            `json:"role"`
	Content      json.RawMessage   `json:"content"` // string, array of parts, or null
	Refusal      string            `json:"refusal"`
	ToolCalls    []toolCallJSON    `json:"tool_calls"`
	FunctionCall *functionCallJSON `json:"function_call"`
}

type toolCallJSON struct {
	Index    *int             `json:"index"` // stream deltas only
	ID       string           `json:"id"`
	Type     string           `json:"type"`
	Function functionCallJSON `json:"function"`
	Custom   struct {         // a call of a custom (free-form) tool
		Name  string `json:"name"`
		Input string `json:"input"`
	} `json:"custom"`
}

type functionCallJSON struct {
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"` // a JSON-encoded string; some servers send the object
}

// contentPartJSON is a part of a message content array, in chat ("text", "refusal") or in
// the Responses API ("input_text", "output_text", "refusal").
type contentPartJSON struct {
	Type    string `json:"type"`
	Text    string `json:"text"`
	Refusal string `json:"refusal"`
}

// inputItemJSON is an item of a Responses API input array: a message, or a function call or
// its output replayed from an earlier turn.
type inputItemJSON struct {
	Type      string          `json:"type"`
	Role      string          `json:"role"`
	Content   json.RawMessage `json:"content"` // string or array of parts
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
	Input     string          `json:"input"`  // custom_tool_call
	Output    json.RawMessage `json:"output"` // function_call_output: string or array of parts
}

// summarizeRequest extracts the model, the user, the last user text (Content) and all the
// prompt text (Text, for token estimation) of a request body.
//
// User is the request's "user" field or, since OpenAI deprecated it, "safety_identifier",
// or else metadata.user_id: the fields a client uses to name its end user. Text holds every
// message's text in order, system and developer messages and replayed tool calls and results
// included, then the tool (or legacy function) definitions as compact JSON, since upstream
// bills them as prompt too. For completions and embeddings, whose input is the user's text
// as a whole, Content is the same as Text. Invalid JSON yields an empty Summary.
func summarizeRequest(endpoint string, body []byte) provider.Summary {
	var req requestJSON
	if !extract.DecodeLenient(body, &req) {
		return provider.Summary{}
	}
	s := provider.Summary{Model: req.Model, User: req.User}
	if s.User == "" {
		s.User = req.SafetyIdentifier
	}
	if s.User == "" {
		s.User = req.Metadata.UserID
	}

	var text extract.Joiner
	switch apiKindOf(endpoint) {
	case chatAPI:
		for _, m := range req.Messages {
			t := textOf(m.Content, "\n")
			if m.Role == "user" {
				s.Content = t
			}
			text.Add(t)
			text.Add(m.Refusal)
			for _, tc := range m.ToolCalls {
				text.Add(tc.Function.Name)
				text.Add(argumentsOf(tc.Function.Arguments))
				text.Add(tc.Custom.Name)
				text.Add(tc.Custom.Input)
			}
			if fc := m.FunctionCall; fc != nil {
				text.Add(fc.Name)
				text.Add(argumentsOf(fc.Arguments))
			}
		}
		text.Add(compactJSON(req.Tools))
		text.Add(compactJSON(req.Functions))
	case completionsAPI:
		s.Content = textOf(req.Prompt, "\n")
		text.Add(s.Content)
	case embeddingsAPI:
		s.Content = textOf(req.Input, "\n")
		text.Add(s.Content)
	case responsesAPI:
		text.Add(textOf(req.Instructions, "\n"))
		s.Content = responsesInputText(req.Input, &text)
		text.Add(compactJSON(req.Tools))
	default:
		return s
	}
	s.Text = text.String()
	return s
}

// responsesInputText adds the text of a Responses API input to text and returns the text of
// its last user message. The input is a string (one user message) or an array of items.
func responsesInputText(input json.RawMessage, text *extract.Joiner) string {
	input = bytes.TrimSpace(input)
	if len(input) == 0 {
		return ""
	}
	if input[0] == '"' {
		t := textOf(input, "")
		text.Add(t)
		return t
	}
	var items []inputItemJSON
	if input[0] != '[' || !extract.DecodeLenient(input, &items) {
		return ""
	}
	var last string
	for _, it := range items {
		switch it.Type {
		case "", "message":
			t := textOf(it.Content, "\n")
			if it.Role == "user" {
				last = t
			}
			text.Add(t)
		case "function_call":
			text.Add(it.Name)
			text.Add(argumentsOf(it.Arguments))
		case "custom_tool_call":
			text.Add(it.Name)
			text.Add(it.Input)
		case "function_call_output", "custom_tool_call_output":
			text.Add(textOf(it.Output, "\n"))
		}
	}
	return last
}

// textOf returns the text of a content value: a string, or an array of strings (completion
// prompts, embedding inputs) and text parts, joined with sep. Images, audio, files and token
// arrays have no text.
func textOf(raw json.RawMessage, sep string) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	switch raw[0] {
	case '"':
		v, ok := parseJSON(raw)
		if !ok {
			return ""
		}
		return stringField(v)
	case '[':
		v, ok := parseJSON(raw)
		if !ok {
			return ""
		}
		var b strings.Builder
		eachElement(v, func(it jsonValue) bool {
			if t := partText(it); t != "" {
				if b.Len() > 0 {
					b.WriteString(sep)
				}
				b.WriteString(t)
			}
			return true
		})
		return b.String()
	}
	return ""
}

// plainString reports whether s is valid UTF-8 without quotes, backslashes or control
// characters: the inside of a JSON string that decodes to itself.
func plainString(s []byte) bool {
	ascii := true
	for _, c := range s {
		if c == '\\' || c == '"' || c < ' ' {
			return false
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	return ascii || utf8.Valid(s)
}

// partText returns the text of an item of a content array, which parseJSON accepted: a
// string, or a part read as encoding/json decodes it into contentPartJSON.
func partText(it jsonValue) string {
	switch {
	case it.isString():
		return stringField(it)
	case it.isObject():
		var p contentPartJSON
		ok := eachField(it, partFields, func(field string, v jsonValue) bool {
			switch field {
			case "type":
				p.Type = stringField(v)
			case "text":
				p.Text = stringField(v)
			case "refusal":
				p.Refusal = stringField(v)
			}
			return true
		})
		if !ok {
			p = contentPartJSON{}
			extract.DecodeLenient(it, &p)
		}
		return p.text()
	}
	return ""
}

// text returns the text of a part: nothing for images, audio and files.
func (p *contentPartJSON) text() string {
	switch p.Type {
	case "text", "input_text", "output_text", "":
		return p.Text
	case "refusal":
		return p.Refusal
	}
	return ""
}

// argumentsOf returns function arguments as the JSON text OpenAI sends them in a string;
// servers that send the arguments as an object get its compact JSON.
func argumentsOf(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return ""
	}
	if raw[0] == '"' {
		return textOf(raw, "")
	}
	return compactJSON(raw)
}

// compactJSON returns raw without insignificant spaces, or "" for absent, null or empty
// values, so that a pretty-printed tools array does not inflate the token estimate.
func compactJSON(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	switch string(raw) {
	case "", "null", "[]", "{}":
		return ""
	}
	if _, ok := parseJSON(raw); !ok {
		return "" // json.Compact fails on it too
	}
	// Valid JSON: what json.Compact does is drop the spaces between tokens.
	var b strings.Builder
	b.Grow(len(raw))
	start, inString := 0, false
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case inString:
			if c == '\\' {
				i++
			} else if c == '"' {
				inString = false
			}
		case c == '"':
			inString = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			b.Write(raw[start:i])
			start = i + 1
		}
	}
	b.Write(raw[start:])
	return b.String()
}

// tokenCount is a token count that also accepts the float spelling (12.0) some servers use;
// anything else reads as zero rather than failing the usage object.
type tokenCount int

// UnmarshalJSON reads an integer or a float, and anything else (a string, a negative or
// absurd number) as zero; it never fails, so one odd count keeps the rest of the usage.
func (c *tokenCount) UnmarshalJSON(data []byte) error {
	f, err := strconv.ParseFloat(string(data), 64)
	if err != nil || f < 0 || f > 1e15 {
		*c = 0
		return nil
	}
	*c = tokenCount(f)
	return nil
}

// usageJSON reads both spellings of usage: chat, completions and embeddings
// (prompt_tokens, completion_tokens) and the Responses API (input_tokens, output_tokens).
type usageJSON struct {
	PromptTokens            tokenCount  `json:"prompt_tokens"`
	CompletionTokens        tokenCount  `json:"completion_tokens"`
	InputTokens             tokenCount  `json:"input_tokens"`
	OutputTokens            tokenCount  `json:"output_tokens"`
	PromptTokensDetails     detailsJSON `json:"prompt_tokens_details"`
	InputTokensDetails      detailsJSON `json:"input_tokens_details"`
	CompletionTokensDetails detailsJSON `json:"completion_tokens_details"`
	OutputTokensDetails     detailsJSON `json:"output_tokens_details"`
}

type detailsJSON struct {
	CachedTokens    tokenCount `json:"cached_tokens"`
	ReasoningTokens tokenCount `json:"reasoning_tokens"`
}

func (u *usageJSON) usage() *provider.Usage {
	if u == nil {
		return nil
	}
	first := func(a, b tokenCount) int {
		if a != 0 {
			return int(a)
		}
		return int(b)
	}
	return &provider.Usage{
		InputTokens:     first(u.PromptTokens, u.InputTokens),
		OutputTokens:    first(u.CompletionTokens, u.OutputTokens),
		CachedTokens:    first(u.PromptTokensDetails.CachedTokens, u.InputTokensDetails.CachedTokens),
		ReasoningTokens: first(u.CompletionTokensDetails.ReasoningTokens, u.OutputTokensDetails.ReasoningTokens),
	}
}

// errorMessage returns the message of an "error" value: OpenAI's object (its message, or
// its code when the message is empty) or the bare string some compatible servers send.
func errorMessage(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	switch raw[0] {
	case '"':
		return textOf(raw, "")
	case '{':
		var e struct {
			Message string          `json:"message"`
			Code    json.RawMessage `json:"code"` // a string, or a number on some servers
			Type    string          `json:"type"`
		}
		if !extract.DecodeLenient(raw, &e) {
			return ""
		}
		switch {
		case e.Message != "":
			return e.Message
		case len(e.Code) > 0 && !bytes.Equal(e.Code, []byte("null")):
			if c := textOf(e.Code, ""); c != "" {
				return c
			}
			return string(e.Code)
		}
		return e.Type
	}
	return ""
}

// completionJSON is a chat completion, a legacy completion, an embeddings response, one
// chunk of a stream of either, or an error body: the log reads the same few fields of each.
type completionJSON struct {
	Model   string          `json:"model"`
	Choices []choiceJSON    `json:"choices"`
	Usage   *usageJSON      `json:"usage"`
	Error   json.RawMessage `json:"error"`
}

type choiceJSON struct {
	Index   int             `json:"index"`
	Message chatMessageJSON `json:"message"`
	Delta   chatMessageJSON `json:"delta"`
	Text    string          `json:"text"` // completions
}

// firstChoice returns the choice with index 0, which is the one the log keeps when a client
// asked for several (n > 1), else the first one, or nil when there is none.
func firstChoice(choices []choiceJSON) *choiceJSON {
	for i := range choices {
		if choices[i].Index == 0 {
			return &choices[i]
		}
	}
	if len(choices) > 0 {
		return &choices[0]
	}
	return nil
}

// summarizeResponse extracts the model that answered, the assistant text, the tool calls,
// the usage and any error message of a response body. For a stream, body is the raw SSE text
// as received and the summary is rebuilt from its events; a stream cut short gives what its
// complete events held. The body decides over the flag: an upstream that answered a stream
// request with a JSON body (an error, typically) is read as that body, and an SSE body is
// read as a stream.
func summarizeResponse(endpoint string, body []byte, stream bool) provider.Summary {
	kind := apiKindOf(endpoint)
	if stream && !looksLikeJSONObject(body) || looksLikeSSE(body) {
		if kind == responsesAPI {
			return summarizeResponsesStream(body, true)
		}
		return summarizeCompletionStream(body, true)
	}
	if kind == responsesAPI {
		return summarizeResponsesObject(body)
	}
	return summarizeCompletion(kind, body, true)
}

// summarizeCompletion summarizes a chat completion, a legacy completion, an embeddings
// response or an error body: with summarizeCompletionFast when it can, else by decoding the
// body whole. fast is false only in the tests that compare the two ways.
func summarizeCompletion(kind apiKind, body []byte, fast bool) provider.Summary {
	if fast {
		if s, ok := summarizeCompletionFast(kind, body); ok {
			return s
		}
	}
	var c completionJSON
	if !extract.DecodeLenient(body, &c) {
		return provider.Summary{}
	}
	s := provider.Summary{Model: c.Model, Usage: c.Usage.usage(), Error: errorMessage(c.Error)}
	ch := firstChoice(c.Choices)
	if ch == nil {
		return s
	}
	switch kind {
	case chatAPI:
		m := &ch.Message
		s.Content = textOf(m.Content, "")
		if s.Content == "" {
			s.Content = m.Refusal
		}
		for _, tc := range m.ToolCalls {
			s.ToolCalls = append(s.ToolCalls, toolCallOf(tc))
		}
		if fc := m.FunctionCall; fc != nil {
			s.FunctionCall = &provider.FunctionCall{Name: fc.Name, Arguments: argumentsOf(fc.Arguments)}
		}
	case completionsAPI:
		s.Content = ch.Text
	}
	return s
}

func looksLikeJSONObject(body []byte) bool {
	b := bytes.TrimSpace(body)
	return len(b) > 0 && b[0] == '{'
}

func looksLikeSSE(body []byte) bool {
	b := bytes.TrimLeft(bytes.TrimPrefix(body, utf8BOM), " \t\r\n")
	for _, field := range []string{"data:", "event:", "id:", ":"} {
		if bytes.HasPrefix(b, []byte(field)) {
			return true
		}
	}
	return false
}

func toolCallOf(tc toolCallJSON) provider.ToolCall {
	c := provider.ToolCall{ID: tc.ID, Type: tc.Type,
		Function: provider.FunctionCall{Name: tc.Function.Name, Arguments: argumentsOf(tc.Function.Arguments)}}
	if c.Function.Name == "" && tc.Custom.Name != "" {
		c.Function = provider.FunctionCall{Name: tc.Custom.Name, Arguments: tc.Custom.Input}
	}
	if c.Type == "" {
		c.Type = "function"
	}
	return c
}

// toolCallBuilder accumulates one tool call from its stream deltas.
type toolCallBuilder struct {
	index         int
	id, typ, name string
	args          strings.Builder
}

// completionStream rebuilds a chat completion or a legacy completion from its chunks.
type completionStream struct {
	s        provider.Summary
	content  strings.Builder
	refusal  strings.Builder
	calls    []*toolCallBuilder // in order of first appearance
	fn       *toolCallBuilder   // legacy function_call
	hasModel bool

	deltas []deltaFast // what addFast read of the current chunk's choices
}

// summarizeCompletionStream rebuilds the summary of a chat or completions stream. Each chunk
// is read by addFast when it can, else decoded whole; fast is false only in the tests that
// compare the two ways.
func summarizeCompletionStream(body []byte, fast bool) provider.Summary {
	var st completionStream
	eachSSEEvent(body, func(_ string, data []byte) {
		if bytes.Equal(bytes.TrimSpace(data), []byte("[DONE]")) {
			return
		}
		if fast && st.addFast(data) {
			return
		}
		var c completionJSON
		if !extract.DecodeLenient(data, &c) {
			return // a truncated last event, a keep-alive, anything not JSON
		}
		st.add(&c)
	})
	return st.summary()
}

// add adds a chunk that encoding/json decoded.
func (st *completionStream) add(c *completionJSON) {
	st.addHead(c.Model, c.Usage, errorMessage(c.Error))
	for i := range c.Choices {
		ch := &c.Choices[i]
		if ch.Index == 0 {
			d := &ch.Delta
			st.addDelta(textOf(d.Content, ""), ch.Text, d.Refusal, d.ToolCalls, d.FunctionCall)
		}
	}
}

// addHead adds what a chunk holds besides its choices.
func (st *completionStream) addHead(model string, usage *usageJSON, errMsg string) {
	// Azure's first chunk (prompt filter results) has an empty model.
	if !st.hasModel && model != "" {
		st.s.Model, st.hasModel = model, true
	}
	if usage != nil {
		st.s.Usage = usage.usage()
	}
	if errMsg != "" {
		st.s.Error = errMsg
	}
}

// addDelta adds the delta of a chunk's choice with index 0 and, in a completions chunk, its
// text.
func (st *completionStream) addDelta(content, text, refusal string, calls []toolCallJSON, fc *functionCallJSON) {
	st.content.WriteString(content)
	st.content.WriteString(text)
	st.refusal.WriteString(refusal)
	for _, tc := range calls {
		st.toolDelta(tc)
	}
	if fc != nil {
		if st.fn == nil {
			st.fn = &toolCallBuilder{}
		}
		if fc.Name != "" {
			st.fn.name = fc.Name
		}
		st.fn.args.WriteString(argumentsOf(fc.Arguments))
	}
}

// toolDelta merges one tool call delta. OpenAI names the call by index in every delta and
// sends id, type and name once, in the first; servers that omit the index are matched by id,
// and an anonymous fragment continues the latest call.
func (st *completionStream) toolDelta(d toolCallJSON) {
	var b *toolCallBuilder
	switch {
	case d.Index != nil:
		for _, c := range st.calls {
			if c.index == *d.Index {
				b = c
				break
			}
		}
		if b == nil {
			b = st.newCall(*d.Index)
		}
	case d.ID != "":
		for _, c := range st.calls {
			if c.id == d.ID {
				b = c
				break
			}
		}
		if b == nil {
			b = st.newCall(st.nextIndex())
		}
	case len(st.calls) > 0:
		b = st.calls[len(st.calls)-1]
	default:
		b = st.newCall(0)
	}
	// Some servers repeat id, type and name in every delta: set, never append.
	if d.ID != "" {
		b.id = d.ID
	}
	if d.Type != "" {
		b.typ = d.Type
	}
	if d.Function.Name != "" {
		b.name = d.Function.Name
	}
	if d.Custom.Name != "" {
		b.name = d.Custom.Name
	}
	b.args.WriteString(argumentsOf(d.Function.Arguments))
	b.args.WriteString(d.Custom.Input)
}

func (st *completionStream) newCall(index int) *toolCallBuilder {
	b := &toolCallBuilder{index: index}
	st.calls = append(st.calls, b)
	return b
}

func (st *completionStream) nextIndex() int {
	n := 0
	for _, c := range st.calls {
		n = max(n, c.index+1)
	}
	return n
}

func (st *completionStream) summary() provider.Summary {
	s := st.s
	s.Content = st.content.String()
	if s.Content == "" {
		s.Content = st.refusal.String()
	}
	// Deltas of parallel calls interleave; the index is the call's position.
	calls := slices.Clone(st.calls)
	slices.SortStableFunc(calls, func(a, b *toolCallBuilder) int { return a.index - b.index })
	for _, c := range calls {
		tc := provider.ToolCall{ID: c.id, Type: c.typ,
			Function: provider.FunctionCall{Name: c.name, Arguments: c.args.String()}}
		if tc.Type == "" {
			tc.Type = "function"
		}
		s.ToolCalls = append(s.ToolCalls, tc)
	}
	if st.fn != nil {
		s.FunctionCall = &provider.FunctionCall{Name: st.fn.name, Arguments: st.fn.args.String()}
	}
	return s
}

// The fast way to read completions and chunks.
//
// Decoding a body or a stream chunk into completionJSON with encoding/json costs several
// times what reading the few values a summary needs where they lie does. That is what the
// fast way does: parseJSON checks the JSON as encoding/json would, eachField walks its
// objects, and each value read is turned into what encoding/json would store in the struct
// field, type mismatches included (a number where a string belongs leaves the string empty).
// The keys that encoding/json matches otherwise than by plain comparison are left to it:
// keys that are escaped or not ASCII, repeated, or that differ from a field's name in case
// only. The tests compare both ways on every shape they know and on fuzzed input.

// The JSON names of the fields of the structs the fast way stands in for, in their order.
var (
	completionFields = []string{"model", "choices", "usage", "error"}                        // completionJSON
	choiceFields     = []string{"index", "message", "delta", "text"}                         // choiceJSON
	messageFields    = []string{"role", "content", "refusal", "tool_calls", "function_call"} // chatMessageJSON
	toolCallFields   = []string{"index", "id", "type", "function", "custom"}                 // toolCallJSON
	functionFields   = []string{"name", "arguments"}                                         // functionCallJSON
	customFields     = []string{"name", "input"}                                             // toolCallJSON.Custom
	partFields       = []string{"type", "text", "refusal"}                                   // contentPartJSON
	detailsFields    = []string{"cached_tokens", "reasoning_tokens"}                         // detailsJSON
	usageFields      = []string{                                                             // usageJSON
		"prompt_tokens", "completion_tokens", "input_tokens", "output_tokens",
		"prompt_tokens_details", "input_tokens_details", "completion_tokens_details", "output_tokens_details",
	}
)

// completionFast holds the values of a completion, a chunk or an error body that the
// summaries read, as readCompletionFast found them; a field that is absent is nil.
type completionFast struct {
	model, choices, usage, err jsonValue
}

// readCompletionFast reads data the fast way; ok is false when it leaves data to
// encoding/json. The values share data's memory.
func readCompletionFast(data []byte) (c completionFast, ok bool) {
	// One pass checks the JSON and reads its members.
	obj, ok := parseJSONObject(data, fieldMatcher(completionFields, func(field string, v jsonValue) bool {
		switch field {
		case "model":
			c.model = v
		case "choices":
			c.choices = v
		case "usage":
			c.usage = v
		case "error":
			c.err = v
		}
		return true
	}))
	return c, ok && obj.isObject()
}

// usageJSON returns completionJSON.Usage.
func (c *completionFast) usageJSON() *usageJSON {
	if c.usage == nil || c.usage.isNull() {
		return nil
	}
	u := new(usageJSON) // encoding/json allocates it before it sees a value of another type
	if c.usage.isObject() && !readUsageFast(c.usage, u) {
		*u = usageJSON{}
		extract.DecodeLenient(c.usage, u)
	}
	return u
}

// readUsageFast reads a usage object into u as encoding/json decodes it, and reports whether
// it did.
func readUsageFast(v jsonValue, u *usageJSON) bool {
	return eachField(v, usageFields, func(field string, v jsonValue) bool {
		switch field {
		case "prompt_tokens":
			u.PromptTokens.UnmarshalJSON(v)
		case "completion_tokens":
			u.CompletionTokens.UnmarshalJSON(v)
		case "input_tokens":
			u.InputTokens.UnmarshalJSON(v)
		case "output_tokens":
			u.OutputTokens.UnmarshalJSON(v)
		case "prompt_tokens_details":
			return u.PromptTokensDetails.readFast(v)
		case "input_tokens_details":
			return u.InputTokensDetails.readFast(v)
		case "completion_tokens_details":
			return u.CompletionTokensDetails.readFast(v)
		case "output_tokens_details":
			return u.OutputTokensDetails.readFast(v)
		}
		return true
	})
}

// readFast reads token details as encoding/json decodes them, and reports whether it did.
func (d *detailsJSON) readFast(v jsonValue) bool {
	if !v.isObject() {
		return true // null, or a type mismatch: no details
	}
	return eachField(v, detailsFields, func(field string, v jsonValue) bool {
		if field == "cached_tokens" {
			d.CachedTokens.UnmarshalJSON(v)
		} else {
			d.ReasoningTokens.UnmarshalJSON(v)
		}
		return true
	})
}

// choiceFast holds the values of a choice the summaries read.
type choiceFast struct {
	index int
	text  jsonValue
	msg   jsonValue // the message of a completion, the delta of a chunk
}

// readChoiceFast reads a choice and keeps the value of msgField, "message" or "delta". A
// choice that is not an object is the zero choiceJSON that encoding/json makes of it.
func readChoiceFast(v jsonValue, msgField string) (ch choiceFast, ok bool) {
	if !v.isObject() {
		return ch, true
	}
	ok = eachField(v, choiceFields, func(field string, v jsonValue) bool {
		switch field {
		case "index":
			ch.index = intField(v)
		case "text":
			ch.text = v
		case msgField:
			ch.msg = v
		}
		return true
	})
	return ch, ok
}

// messageFast holds the values of a message or a delta the summaries read.
type messageFast struct {
	content, refusal, toolCalls, functionCall jsonValue
}

func readMessageFast(v jsonValue) (m messageFast, ok bool) {
	if !v.isObject() {
		return m, true
	}
	ok = eachField(v, messageFields, func(field string, v jsonValue) bool {
		switch field {
		case "content":
			m.content = v
		case "refusal":
			m.refusal = v
		case "tool_calls":
			m.toolCalls = v
		case "function_call":
			m.functionCall = v
		}
		return true
	})
	return m, ok
}

// readToolCallsFast returns chatMessageJSON.ToolCalls. The arguments share v's memory.
func readToolCallsFast(v jsonValue) (calls []toolCallJSON, ok bool) {
	if !v.isArray() {
		return nil, true
	}
	ok = eachElement(v, func(v jsonValue) bool {
		var tc toolCallJSON
		if v.isObject() && !readToolCallFast(v, &tc) { // else the zero toolCallJSON
			return false
		}
		calls = append(calls, tc)
		return true
	})
	return calls, ok
}

func readToolCallFast(v jsonValue, tc *toolCallJSON) bool {
	return eachField(v, toolCallFields, func(field string, v jsonValue) bool {
		switch field {
		case "index":
			if !v.isNull() {
				n := intField(v)
				tc.Index = &n
			}
		case "id":
			tc.ID = stringField(v)
		case "type":
			tc.Type = stringField(v)
		case "function":
			var ok bool
			tc.Function, ok = readFunctionFast(v)
			return ok
		case "custom":
			return !v.isObject() || eachField(v, customFields, func(field string, v jsonValue) bool {
				if field == "name" {
					tc.Custom.Name = stringField(v)
				} else {
					tc.Custom.Input = stringField(v)
				}
				return true
			})
		}
		return true
	})
}

// readFunctionFast returns a functionCallJSON. The arguments share v's memory.
func readFunctionFast(v jsonValue) (fc functionCallJSON, ok bool) {
	if !v.isObject() {
		return fc, true
	}
	ok = eachField(v, functionFields, func(field string, v jsonValue) bool {
		if field == "name" {
			fc.Name = stringField(v)
		} else {
			fc.Arguments = json.RawMessage(v)
		}
		return true
	})
	return fc, ok
}

// readFunctionCallFast returns chatMessageJSON.FunctionCall.
func readFunctionCallFast(v jsonValue) (*functionCallJSON, bool) {
	if v == nil || v.isNull() {
		return nil, true
	}
	fc, ok := readFunctionFast(v) // allocated before encoding/json sees a value of another type
	return &fc, ok
}

// summarizeCompletionFast is summarizeCompletion the fast way; ok is false when it leaves the
// body to encoding/json.
func summarizeCompletionFast(kind apiKind, body []byte) (s provider.Summary, ok bool) {
	c, ok := readCompletionFast(body)
	if !ok {
		return s, false
	}
	var first choiceFast // as firstChoice picks it: the first with index 0, else the first
	found, zeroth := false, false
	if c.choices.isArray() && (kind == chatAPI || kind == completionsAPI) {
		ok = eachElement(c.choices, func(v jsonValue) bool {
			ch, ok := readChoiceFast(v, "message")
			if ok && (!found || !zeroth && ch.index == 0) {
				first, found, zeroth = ch, true, ch.index == 0
			}
			return ok
		})
	}
	var (
		m     messageFast
		calls []toolCallJSON
		fc    *functionCallJSON
	)
	if ok && found && kind == chatAPI {
		m, ok = readMessageFast(first.msg)
		if ok {
			calls, ok = readToolCallsFast(m.toolCalls)
		}
		if ok {
			fc, ok = readFunctionCallFast(m.functionCall)
		}
	}
	if !ok {
		return s, false
	}

	s = provider.Summary{Model: stringField(c.model), Usage: c.usageJSON().usage(), Error: errorMessage(json.RawMessage(c.err))}
	switch {
	case !found:
	case kind == chatAPI:
		s.Content = textOf(json.RawMessage(m.content), "")
		if s.Content == "" {
			s.Content = stringField(m.refusal)
		}
		for _, tc := range calls {
			s.ToolCalls = append(s.ToolCalls, toolCallOf(tc))
		}
		if fc != nil {
			s.FunctionCall = &provider.FunctionCall{Name: fc.Name, Arguments: argumentsOf(fc.Arguments)}
		}
	case kind == completionsAPI:
		s.Content = stringField(first.text)
	}
	return s, true
}

// deltaFast is what addFast reads of a chunk's choice with index 0.
type deltaFast struct {
	content, text, refusal string
	calls                  []toolCallJSON
	fn                     *functionCallJSON
}

// addFast adds a chunk the fast way, and reports whether it did; when it did not, it has
// changed nothing.
func (st *completionStream) addFast(data []byte) bool {
	c, ok := readCompletionFast(data)
	if !ok {
		return false
	}
	// All the chunk is read before st changes: a key left to encoding/json may come last.
	st.deltas = st.deltas[:0]
	if c.choices.isArray() {
		ok = eachElement(c.choices, func(v jsonValue) bool {
			ch, ok := readChoiceFast(v, "delta")
			if !ok || ch.index != 0 {
				return ok
			}
			m, ok := readMessageFast(ch.msg)
			d := deltaFast{content: textOf(json.RawMessage(m.content), ""), text: stringField(ch.text), refusal: stringField(m.refusal)}
			if ok {
				d.calls, ok = readToolCallsFast(m.toolCalls)
			}
			if ok {
				d.fn, ok = readFunctionCallFast(m.functionCall)
			}
			st.deltas = append(st.deltas, d)
			return ok
		})
		if !ok {
			return false
		}
	}
	var model string
	if !st.hasModel {
		model = stringField(c.model)
	}
	st.addHead(model, c.usageJSON(), errorMessage(json.RawMessage(c.err)))
	for _, d := range st.deltas {
		st.addDelta(d.content, d.text, d.refusal, d.calls, d.fn)
	}
	clear(st.deltas) // their arguments share data, which the next event overwrites
	return true
}

// eachField calls fn, in order, with each key of obj that names one of fields, as that name,
// and its value. It returns false when fn does, and at a key that encoding/json might match
// otherwise than by plain comparison: a key that is escaped or not ASCII, that names a field
// twice, or that differs from a field's name in case only.
func eachField(obj jsonValue, fields []string, fn func(field string, v jsonValue) bool) bool {
	return eachMember(obj, fieldMatcher(fields, fn))
}

// fieldMatcher returns the function eachField calls with each member of an object.
func fieldMatcher(fields []string, fn func(field string, v jsonValue) bool) func(key []byte, v jsonValue) bool {
	var seen uint32
	return func(key []byte, v jsonValue) bool {
		for i, f := range fields {
			if string(key) == f {
				if seen&(1<<i) != 0 {
					return false
				}
				seen |= 1 << i
				return fn(f, v)
			}
		}
		for _, c := range key {
			if c == '\\' || c >= utf8.RuneSelf {
				return false
			}
		}
		for _, f := range fields {
			if len(key) == len(f) && strings.EqualFold(string(key), f) {
				return false
			}
		}
		return true
	}
}

// stringField returns what encoding/json stores in a string field for v: the string, or ""
// for null and for a value of another type.
func stringField(v jsonValue) string {
	if !v.isString() {
		return ""
	}
	in := v[1 : len(v)-1]
	if plainString(in) {
		return string(in)
	}
	return string(jsontext.AppendUnquoted(make([]byte, 0, len(in)), in))
}

// intField returns what encoding/json stores in an int field for v: the integer, or 0 for
// null, for a number that is not an integer or is too large, and for a value of another type.
func intField(v jsonValue) int {
	if len(v) == 1 && '0' <= v[0] && v[0] <= '9' {
		return int(v[0] - '0')
	}
	if len(v) == 0 || v[0] != '-' && (v[0] < '0' || '9' < v[0]) {
		return 0
	}
	n, err := strconv.ParseInt(string(v), 10, strconv.IntSize)
	if err != nil {
		return 0
	}
	return int(n)
}

// responseJSON is a Responses API response object, or an error body.
type responseJSON struct {
	Model  string           `json:"model"`
	Output []outputItemJSON `json:"output"`
	Usage  *usageJSON       `json:"usage"`
	Error  json.RawMessage  `json:"error"`
}

// outputItemJSON is an item of a response's output. Reasoning, web search and the other
// built-in tool items are not logged.
type outputItemJSON struct {
	Type      string            `json:"type"`
	Role      string            `json:"role"`
	Content   []contentPartJSON `json:"content"`
	CallID    string            `json:"call_id"`
	Name      string            `json:"name"`
	Arguments json.RawMessage   `json:"arguments"`
	Input     string            `json:"input"` // custom_tool_call
}

func summarizeResponsesObject(body []byte) provider.Summary {
	var r responseJSON
	if !extract.DecodeLenient(body, &r) {
		return provider.Summary{}
	}
	s := provider.Summary{Model: r.Model, Usage: r.Usage.usage(), Error: errorMessage(r.Error)}
	var content, refusal strings.Builder
	for _, it := range r.Output {
		switch it.Type {
		case "message":
			for _, p := range it.Content {
				switch p.Type {
				case "output_text":
					content.WriteString(p.Text)
				case "refusal":
					refusal.WriteString(p.Refusal)
				}
			}
		case "function_call", "custom_tool_call":
			s.ToolCalls = append(s.ToolCalls, outputToolCall(it))
		}
	}
	s.Content = content.String()
	if s.Content == "" {
		s.Content = refusal.String()
	}
	return s
}

func outputToolCall(it outputItemJSON) provider.ToolCall {
	tc := provider.ToolCall{ID: it.CallID, Type: "function",
		Function: provider.FunctionCall{Name: it.Name, Arguments: argumentsOf(it.Arguments)}}
	if it.Type == "custom_tool_call" {
		tc.Type, tc.Function.Arguments = "custom", it.Input
	}
	return tc
}

// responsesEventJSON is an event of a Responses API stream; the fields read depend on its
// type.
type responsesEventJSON struct {
	Type     string          `json:"type"`
	Response json.RawMessage `json:"response"` // response.created, .completed, ...
	Delta    string          `json:"delta"`    // response.output_text.delta, .refusal.delta
	Item     outputItemJSON  `json:"item"`     // response.output_item.done
	Message  string          `json:"message"`  // error
	Code     json.RawMessage `json:"code"`     // error: a string, or null
	Error    json.RawMessage `json:"error"`    // error, in the nested spelling
}

// summarizeResponsesStream summarizes the final response object that a complete stream ends
// with (response.completed, .incomplete or .failed). A stream cut before it is rebuilt from
// its deltas and finished output items.
//
// Each event is read by readResponsesEventFast when it can, else decoded whole; fast is false
// only in the tests that compare the two ways.
func summarizeResponsesStream(body []byte, fast bool) provider.Summary {
	var (
		final            json.RawMessage
		model, streamErr string
		content, refusal strings.Builder
		calls            []provider.ToolCall
	)
	eachSSEEvent(body, func(event string, data []byte) {
		var ev responsesEventJSON
		if !fast || !readResponsesEventFast(data, &ev) {
			ev = responsesEventJSON{}
			if !extract.DecodeLenient(data, &ev) {
				return
			}
		}
		typ := ev.Type
		if typ == "" {
			typ = event
		}
		switch typ {
		case "response.completed", "response.incomplete", "response.failed":
			final = ev.Response
		case "response.created", "response.in_progress", "response.queued":
			if model == "" {
				var r struct {
					Model string `json:"model"`
				}
				extract.DecodeLenient(ev.Response, &r)
				model = r.Model
			}
		case "response.output_text.delta":
			content.WriteString(ev.Delta)
		case "response.refusal.delta":
			refusal.WriteString(ev.Delta)
		case "response.output_item.done":
			if ev.Item.Type == "function_call" || ev.Item.Type == "custom_tool_call" {
				calls = append(calls, outputToolCall(ev.Item))
			}
		case "error":
			msg := ev.Message
			if msg == "" {
				msg = errorMessage(ev.Error)
			}
			if msg == "" {
				msg = textOf(ev.Code, "")
			}
			streamErr = msg
		}
	})
	fromDeltas := content.String()
	if fromDeltas == "" {
		fromDeltas = refusal.String()
	}
	if looksLikeJSONObject(final) {
		s := summarizeResponsesObject(final)
		if s.Model == "" {
			s.Model = model
		}
		if s.Error == "" {
			s.Error = streamErr
		}
		// Some compatible servers end with a response whose output is empty, the text
		// having gone out only as deltas.
		if s.Content == "" && s.ToolCalls == nil {
			s.Content, s.ToolCalls = fromDeltas, calls
		}
		return s
	}
	return provider.Summary{Model: model, Content: fromDeltas, ToolCalls: calls, Error: streamErr}
}

// responsesEventFields are the JSON names of responsesEventJSON's fields.
var responsesEventFields = []string{"type", "response", "delta", "item", "message", "code", "error"}

// readResponsesEventFast reads an event of a Responses API stream into ev the fast way, as
// encoding/json would decode it, and reports whether it did; it leaves an event whose keys it
// would match otherwise to encoding/json, as readCompletionFast does. Only a finished output
// item is decoded by encoding/json still.
func readResponsesEventFast(data []byte, ev *responsesEventJSON) bool {
	obj, ok := parseJSONObject(data, fieldMatcher(responsesEventFields, func(field string, v jsonValue) bool {
		switch field {
		case "type":
			ev.Type = stringField(v)
		case "response":
			ev.Response = json.RawMessage(bytes.Clone(v)) // kept past data, which the next event overwrites
		case "delta":
			ev.Delta = stringField(v)
		case "item":
			if v.isObject() { // else the zero outputItemJSON
				extract.DecodeLenient(v, &ev.Item)
			}
		case "message":
			ev.Message = stringField(v)
		case "code":
			ev.Code = json.RawMessage(v)
		case "error":
			ev.Error = json.RawMessage(v)
		}
		return true
	}))
	return ok && obj.isObject()
}

// utf8BOM may start a stream; the SSE standard says to skip it.
var utf8BOM = []byte("\xEF\xBB\xBF")

// eachSSEEvent calls fn with the event type and the data of each event of an SSE stream,
// following the WHATWG rules: lines end in "\n", "\r\n" or "\r"; a blank line ends an event;
// the values of several "data" lines are joined with "\n"; one space after the colon is
// dropped; comments and other fields are ignored. An event not ended by a blank line is still
// passed on, so that a stream cut short keeps its last complete JSON. data is reused between
// calls: fn must copy what it keeps.
func eachSSEEvent(body []byte, fn func(event string, data []byte)) {
	body = bytes.TrimPrefix(body, utf8BOM)
	var (
		event   string
		data    []byte
		hasData bool
	)
	dispatch := func() {
		if hasData {
			fn(event, data)
		}
		event, data, hasData = "", data[:0], false
	}
	lines := lineReader{b: body, nl: -1}
	for len(lines.b) > 0 {
		line := lines.next()
		if len(line) == 0 {
			dispatch()
			continue
		}
		name, value, found := bytes.Cut(line, []byte(":"))
		if len(name) == 0 {
			continue // a comment
		}
		if found {
			value = bytes.TrimPrefix(value, []byte(" "))
		}
		switch string(name) {
		case "event":
			event = string(value)
		case "data":
			if hasData {
				data = append(data, '\n')
			}
			data = append(data, value...)
			hasData = true
		}
	}
	dispatch()
}

// lineReader splits the lines off b, without their terminators.
type lineReader struct {
	b  []byte
	nl int // index in b of the next '\n', len(b) when there is none, -1 when not known
}

// next returns the next line. Each byte is looked at twice at most, even in a body of
// lines ended by "\r" alone.
func (r *lineReader) next() []byte {
	if r.nl < 0 {
		if r.nl = bytes.IndexByte(r.b, '\n'); r.nl < 0 {
			r.nl = len(r.b)
		}
	}
	end := r.nl
	if i := bytes.IndexByte(r.b[:end], '\r'); i >= 0 {
		end = i
	}
	line := r.b[:end]
	n := end + 1
	switch {
	case end == len(r.b):
		n = end
	case r.b[end] == '\r' && end+1 < len(r.b) && r.b[end+1] == '\n':
		n = end + 2
	}
	r.b = r.b[n:]
	r.nl -= n
	return line
}

// JSON reading for the fast way.

// maxJSONDepth is the deepest nesting of arrays and objects that encoding/json accepts.
const maxJSONDepth = 10000

// jsonValue is the text of a JSON value that parseJSON accepted, without the spaces around it.
type jsonValue []byte

func (v jsonValue) isObject() bool { return len(v) > 0 && v[0] == '{' }
func (v jsonValue) isArray() bool  { return len(v) > 0 && v[0] == '[' }
func (v jsonValue) isString() bool { return len(v) > 0 && v[0] == '"' }
func (v jsonValue) isNull() bool   { return len(v) > 0 && v[0] == 'n' }

// parseJSON returns data as a jsonValue when it is one JSON value that encoding/json accepts:
// the grammar of RFC 8259, with arrays and objects nested at most maxJSONDepth deep.
func parseJSON(data []byte) (jsonValue, bool) {
	return parseJSONObject(data, nil)
}

// parseJSONObject is parseJSON that also calls member, if not nil, as checkValue does with
// the members of the value, when it is an object. member may see members of JSON that turns
// out to be invalid further on.
func parseJSONObject(data []byte, member func(key []byte, v jsonValue) bool) (jsonValue, bool) {
	start := skipSpace(data, 0)
	end, ok := checkValue(data, start, 0, member)
	if !ok || skipSpace(data, end) != len(data) {
		return nil, false
	}
	return jsonValue(data[start:end]), true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// checkValue checks the value that starts at b[i], inside depth arrays and objects, and
// returns the index after it. When the value is an object and member is not nil, it also
// calls member with each key, as written, and value of the object, once the value is checked,
// and stops when member returns false.
func checkValue(b []byte, i, depth int, member func(key []byte, v jsonValue) bool) (int, bool) {
	if i >= len(b) {
		return i, false
	}
	switch c := b[i]; {
	case c == '{' || c == '[':
		if depth++; depth > maxJSONDepth {
			return i, false
		}
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == end {
			return i + 1, true
		}
		for {
			var (
				key   []byte
				start int
				ok    bool
			)
			if c == '{' {
				if i >= len(b) || b[i] != '"' {
					return i, false
				}
				start = i
				if i, ok = checkString(b, i); !ok {
					return i, false
				}
				key = b[start+1 : i-1]
				if i = skipSpace(b, i); i >= len(b) || b[i] != ':' {
					return i, false
				}
				i = skipSpace(b, i+1)
			}
			start = i
			if i, ok = checkValue(b, i, depth, nil); !ok {
				return i, false
			}
			if member != nil && c == '{' && !member(key, b[start:i]) {
				return i, false
			}
			switch i = skipSpace(b, i); {
			case i >= len(b):
				return i, false
			case b[i] == end:
				return i + 1, true
			case b[i] != ',':
				return i, false
			}
			i = skipSpace(b, i+1)
		}
	case c == '"':
		return checkString(b, i)
	case c == '-' || '0' <= c && c <= '9':
		return checkNumber(b, i)
	case c == 't':
		return checkLiteral(b, i, "true")
	case c == 'f':
		return checkLiteral(b, i, "false")
	case c == 'n':
		return checkLiteral(b, i, "null")
	}
	return i, false
}

// stringStops are the bytes a JSON string cannot hold as they are: control characters, the
// quote that ends it, and the backslash that starts an escape.
var stringStops = func() (t [256]bool) {
	for c := range ' ' {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

func checkString(b []byte, i int) (int, bool) {
	for i++; i < len(b); i++ {
		if !stringStops[b[i]] {
			continue
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, true
		case c < ' ':
			return i, false
		case c == '\\':
			if i++; i == len(b) {
				return i, false
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if jsontext.EscapedRune(b[i-1:]) < 0 {
					return i, false
				}
				i += 4
			default:
				return i, false
			}
		}
	}
	return i, false
}

func checkNumber(b []byte, i int) (int, bool) {
	digits := func(i int) int {
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		return i
	}
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = digits(i + 1)
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		j := digits(i + 1)
		if j == i+1 {
			return j, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(i)
		if j == i {
			return j, false
		}
		i = j
	}
	return i, true
}

func checkLiteral(b []byte, i int, lit string) (int, bool) {
	if !bytes.HasPrefix(b[i:], []byte(lit)) {
		return i, false
	}
	return i + len(lit), true
}

// eachMember calls fn with the key, as written, and the value of each member of obj, in
// order, while fn returns true, and returns what fn last did.
func eachMember(obj jsonValue, fn func(key []byte, v jsonValue) bool) bool {
	i := skipSpace(obj, 1)
	for obj[i] != '}' {
		end := skipString(obj, i)
		key := obj[i+1 : end-1]
		i = skipSpace(obj, skipSpace(obj, end)+1) // past the colon
		end = skipValue(obj, i)
		if !fn(key, obj[i:end]) {
			return false
		}
		if i = skipSpace(obj, end); obj[i] == ',' {
			i = skipSpace(obj, i+1)
		}
	}
	return true
}

// eachElement calls fn with each element of arr, in order, while fn returns true, and returns
// what fn last did.
func eachElement(arr jsonValue, fn func(v jsonValue) bool) bool {
	i := skipSpace(arr, 1)
	for arr[i] != ']' {
		end := skipValue(arr, i)
		if !fn(arr[i:end]) {
			return false
		}
		if i = skipSpace(arr, end); arr[i] == ',' {
			i = skipSpace(arr, i+1)
		}
	}
	return true
}

// skipValue returns the index after the value that starts at b[i], in JSON that parseJSON
// accepted.
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; ; i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
	}
	for i < len(b) && b[i] != ',' && b[i] != ']' && b[i] != '}' && b[i] != ' ' &&
		b[i] != '\t' && b[i] != '\n' && b[i] != '\r' {
		i++ // a number, true, false or null
	}
	return i
}

// skipString returns the index after the string that starts at b[i], in JSON that parseJSON
// accepted.
func skipString(b []byte, i int) int {
	for i++; b[i] != '"'; i++ {
		if b[i] == '\\' {
			i++ // the escaped byte, or the u of \uXXXX
		}
	}
	return i + 1
}
