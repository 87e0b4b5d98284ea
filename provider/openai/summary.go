package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/aiproxy-go/aiproxy/provider"
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

// decodeLenient decodes a JSON body into v and reports whether it was JSON at all. A type
// mismatch leaves that field empty: encoding/json keeps decoding the rest and reports only
// the first mismatch, which is ignored here. Invalid JSON is rejected before v is touched.
func decodeLenient(data []byte, v any) bool {
	err := json.Unmarshal(data, v)
	var typeErr *json.UnmarshalTypeError
	return err == nil || errors.As(err, &typeErr)
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
	if !decodeLenient(body, &req) {
		return provider.Summary{}
	}
	s := provider.Summary{Model: req.Model, User: req.User}
	if s.User == "" {
		s.User = req.SafetyIdentifier
	}
	if s.User == "" {
		s.User = req.Metadata.UserID
	}

	var text textJoiner
	switch apiKindOf(endpoint) {
	case chatAPI:
		for _, m := range req.Messages {
			t := textOf(m.Content, "\n")
			if m.Role == "user" {
				s.Content = t
			}
			text.add(t)
			text.add(m.Refusal)
			for _, tc := range m.ToolCalls {
				text.add(tc.Function.Name)
				text.add(argumentsOf(tc.Function.Arguments))
				text.add(tc.Custom.Name)
				text.add(tc.Custom.Input)
			}
			if fc := m.FunctionCall; fc != nil {
				text.add(fc.Name)
				text.add(argumentsOf(fc.Arguments))
			}
		}
		text.add(compactJSON(req.Tools))
		text.add(compactJSON(req.Functions))
	case completionsAPI:
		s.Content = textOf(req.Prompt, "\n")
		text.add(s.Content)
	case embeddingsAPI:
		s.Content = textOf(req.Input, "\n")
		text.add(s.Content)
	case responsesAPI:
		text.add(textOf(req.Instructions, "\n"))
		s.Content = responsesInputText(req.Input, &text)
		text.add(compactJSON(req.Tools))
	default:
		return s
	}
	s.Text = text.String()
	return s
}

// responsesInputText adds the text of a Responses API input to text and returns the text of
// its last user message. The input is a string (one user message) or an array of items.
func responsesInputText(input json.RawMessage, text *textJoiner) string {
	input = bytes.TrimSpace(input)
	if len(input) == 0 {
		return ""
	}
	if input[0] == '"' {
		t := textOf(input, "")
		text.add(t)
		return t
	}
	var items []inputItemJSON
	if input[0] != '[' || !decodeLenient(input, &items) {
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
			text.add(t)
		case "function_call":
			text.add(it.Name)
			text.add(argumentsOf(it.Arguments))
		case "custom_tool_call":
			text.add(it.Name)
			text.add(it.Input)
		case "function_call_output", "custom_tool_call_output":
			text.add(textOf(it.Output, "\n"))
		}
	}
	return last
}

// textJoiner joins the non-empty texts of a prompt with newlines, which tokenize like the
// separators the model sees between messages.
type textJoiner struct{ b strings.Builder }

func (j *textJoiner) add(t string) {
	if t == "" {
		return
	}
	if j.b.Len() > 0 {
		j.b.WriteByte('\n')
	}
	j.b.WriteString(t)
}

// String returns the joined text.
func (j *textJoiner) String() string { return j.b.String() }

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
		s, _ := stringValue(string(raw))
		return s
	case '[':
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			return ""
		}
		var b strings.Builder
		for _, it := range items {
			t := partText(it)
			if t == "" {
				continue
			}
			if b.Len() > 0 {
				b.WriteString(sep)
			}
			b.WriteString(t)
		}
		return b.String()
	}
	return ""
}

// stringValue decodes a JSON string, quotes included, as encoding/json does; ok is false when
// raw is not one. Most strings hold no escapes and are valid UTF-8: they are their own value,
// and need no decoder.
func stringValue(raw string) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	if in := raw[1 : len(raw)-1]; plainString(in) {
		return in, true
	}
	return decodeString(raw)
}

// decodeString is stringValue's way for escapes and for invalid UTF-8, which encoding/json
// replaces with U+FFFD. (Apart, so that stringValue's result does not escape.)
func decodeString(raw string) (string, bool) {
	var s string
	if json.Unmarshal([]byte(raw), &s) != nil {
		return "", false
	}
	return s, true
}

// plainString reports whether s is valid UTF-8 without quotes, backslashes or control
// characters: the inside of a JSON string that decodes to itself.
func plainString(s string) bool {
	ascii := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' || c == '"' || c < ' ' {
			return false
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	return ascii || utf8.ValidString(s)
}

func partText(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	switch raw[0] {
	case '"':
		return textOf(raw, "")
	case '{':
		var p contentPartJSON
		if !decodeLenient(raw, &p) {
			return ""
		}
		switch p.Type {
		case "text", "input_text", "output_text", "":
			return p.Text
		case "refusal":
			return p.Refusal
		}
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
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return ""
	}
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
		if !decodeLenient(raw, &e) {
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
			return summarizeResponsesStream(body)
		}
		return summarizeCompletionStream(body, true)
	}
	if kind == responsesAPI {
		return summarizeResponsesObject(body)
	}
	var c completionJSON
	if !decodeLenient(body, &c) {
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

	// The text addFast read of the current chunk, added once the whole chunk is read.
	fastContent, fastRefusal []byte
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
		if !decodeLenient(data, &c) {
			return // a truncated last event, a keep-alive, anything not JSON
		}
		st.add(&c)
	})
	return st.summary()
}

func (st *completionStream) add(c *completionJSON) {
	// Azure's first chunk (prompt filter results) has an empty model.
	if !st.hasModel && c.Model != "" {
		st.s.Model, st.hasModel = c.Model, true
	}
	if c.Usage != nil {
		st.s.Usage = c.Usage.usage()
	}
	if msg := errorMessage(c.Error); msg != "" {
		st.s.Error = msg
	}
	for i := range c.Choices {
		ch := &c.Choices[i]
		if ch.Index != 0 {
			continue
		}
		d := &ch.Delta
		st.content.WriteString(textOf(d.Content, ""))
		st.content.WriteString(ch.Text)
		st.refusal.WriteString(d.Refusal)
		for _, tc := range d.ToolCalls {
			st.toolDelta(tc)
		}
		if fc := d.FunctionCall; fc != nil {
			if st.fn == nil {
				st.fn = &toolCallBuilder{}
			}
			if fc.Name != "" {
				st.fn.name = fc.Name
			}
			st.fn.args.WriteString(argumentsOf(fc.Arguments))
		}
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

// maxFastChunk is the largest chunk addFast reads. Larger ones are rare and go to
// encoding/json, which also rejects JSON nested deeper than 10000 levels; a chunk of this size
// cannot be.
const maxFastChunk = 16 << 10

// The JSON names of the fields of completionJSON, choiceJSON and chatMessageJSON, in the
// order addFast numbers them. encoding/json matches them case-insensitively.
var (
	chunkFields  = []string{"model", "choices", "usage", "error"}
	choiceFields = []string{"index", "message", "delta", "text"}
	deltaFields  = []string{"role", "content", "refusal", "tool_calls", "function_call"}
)

// addFast adds a chunk of the shapes nearly every stream is made of: text deltas, the role,
// the finish reason, the usage, an error. It reads the few values the summary needs where
// they lie instead of decoding the chunk into completionJSON, and reports whether it did.
//
// It gives up, having changed nothing, on whatever it does not read exactly as
// encoding/json would: tool and function call deltas, content parts, values of an
// unexpected type, keys that are escaped, repeated or differ from a field's name in case
// only, invalid or very large chunks. add then reads the chunk as before.
func (st *completionStream) addFast(data []byte) bool {
	if len(data) > maxFastChunk || !gjson.ValidBytes(data) {
		return false
	}
	c := gjson.ParseBytes(data)
	if !c.IsObject() {
		return false
	}
	var (
		model, errMsg string
		usage         *usageJSON
		choices       gjson.Result
	)
	ok := eachField(c, chunkFields, func(field int, v gjson.Result) bool {
		var ok bool
		switch field {
		case 0: // model
			model, ok = optString(v)
		case 1: // choices
			choices, ok = v, v.IsArray() || v.Type == gjson.Null
		case 2: // usage
			switch {
			case v.IsObject():
				usage = new(usageJSON)
				ok = decodeLenient([]byte(v.Raw), usage)
			case v.Type == gjson.Null:
				ok = true
			}
		case 3: // error
			if v.Type != gjson.Null {
				errMsg = errorMessage(json.RawMessage(v.Raw))
			}
			ok = true
		}
		return ok
	})
	if !ok {
		return false
	}
	st.fastContent, st.fastRefusal = st.fastContent[:0], st.fastRefusal[:0]
	if choices.IsArray() {
		choices.ForEach(func(_, ch gjson.Result) bool {
			ok = st.fastChoice(ch)
			return ok
		})
		if !ok {
			return false
		}
	}

	if !st.hasModel && model != "" {
		st.s.Model, st.hasModel = strings.Clone(model), true
	}
	if usage != nil {
		st.s.Usage = usage.usage()
	}
	if errMsg != "" {
		st.s.Error = errMsg
	}
	st.content.Write(st.fastContent)
	st.refusal.Write(st.fastRefusal)
	return true
}

// fastChoice reads a choice of a chunk for addFast into fastContent and fastRefusal.
func (st *completionStream) fastChoice(ch gjson.Result) bool {
	if !ch.IsObject() {
		return false
	}
	var (
		index       int64
		text        string
		delta       gjson.Result
		content, r  string
		ok, isDelta bool
	)
	ok = eachField(ch, choiceFields, func(field int, v gjson.Result) bool {
		switch field {
		case 0: // index
			if v.Type == gjson.Null {
				return true
			}
			var err error
			index, err = strconv.ParseInt(v.Raw, 10, 64)
			return v.Type == gjson.Number && err == nil
		case 2: // delta
			delta, isDelta = v, v.IsObject()
			return isDelta || v.Type == gjson.Null
		case 3: // text
			var ok bool
			text, ok = optString(v)
			return ok
		}
		return true // message, which a chunk does not use
	})
	if !ok || index != 0 {
		return ok
	}
	if isDelta {
		ok = eachField(delta, deltaFields, func(field int, v gjson.Result) bool {
			var ok bool
			switch field {
			case 0: // role
				ok = true
			case 1: // content
				content, ok = optString(v)
			case 2: // refusal
				r, ok = optString(v)
			case 3: // tool_calls: some servers send an empty list with every delta
				ok = v.Type == gjson.Null || v.IsArray() && strings.TrimSpace(v.Raw[1:len(v.Raw)-1]) == ""
			case 4: // function_call
				ok = v.Type == gjson.Null
			}
			return ok
		})
		if !ok {
			return false
		}
	}
	st.fastContent = append(st.fastContent, content...)
	st.fastContent = append(st.fastContent, text...)
	st.fastRefusal = append(st.fastRefusal, r...)
	return true
}

// optString returns the value of a JSON string or null as encoding/json decodes it into a
// string field; ok is false for any other value.
func optString(v gjson.Result) (s string, ok bool) {
	switch v.Type {
	case gjson.Null:
		return "", true
	case gjson.String:
		return stringValue(v.Raw)
	}
	return "", false
}

// eachField calls fn with each key of obj that names one of fields, as its index there, and
// the value, in order. It returns false when fn does, and at a key that encoding/json might
// match otherwise than a plain comparison: one that is escaped or not ASCII, that names a
// field twice, or that differs from a field's name in case only.
func eachField(obj gjson.Result, fields []string, fn func(field int, v gjson.Result) bool) bool {
	ok := true
	var seen uint32
	obj.ForEach(func(k, v gjson.Result) bool {
		name := k.Raw[1 : len(k.Raw)-1]
		field := -1
		for i, f := range fields {
			if name == f {
				field = i
				break
			}
		}
		switch {
		case field >= 0:
			if seen&(1<<field) != 0 {
				ok = false
				break
			}
			seen |= 1 << field
			ok = fn(field, v)
		case !plainKey(name):
			ok = false
		default:
			for _, f := range fields {
				if len(name) == len(f) && strings.EqualFold(name, f) {
					ok = false
				}
			}
		}
		return ok
	})
	return ok
}

// plainKey reports whether an object key, as written, is ASCII without escapes: what
// encoding/json compares byte for byte, ignoring case.
func plainKey(k string) bool {
	for i := 0; i < len(k); i++ {
		if k[i] == '\\' || k[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
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
	if !decodeLenient(body, &r) {
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
func summarizeResponsesStream(body []byte) provider.Summary {
	var (
		final            json.RawMessage
		model, streamErr string
		content, refusal strings.Builder
		calls            []provider.ToolCall
	)
	eachSSEEvent(body, func(event string, data []byte) {
		var ev responsesEventJSON
		if !decodeLenient(data, &ev) {
			return
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
				decodeLenient(ev.Response, &r)
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
	for len(body) > 0 {
		var line []byte
		line, body = nextLine(body)
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

// nextLine splits off the first line of b, without its terminator.
func nextLine(b []byte) (line, rest []byte) {
	i := bytes.IndexAny(b, "\r\n")
	if i < 0 {
		return b, nil
	}
	if b[i] == '\r' && i+1 < len(b) && b[i+1] == '\n' {
		return b[:i], b[i+2:]
	}
	return b[:i], b[i+1:]
}
