package gemini

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/aiproxy-go/aiproxy/provider"
	"github.com/aiproxy-go/aiproxy/provider/internal/extract"
	"github.com/aiproxy-go/aiproxy/sse"
)

// This file extracts what the access log stores of Gemini bodies. It runs in the log writer,
// off the request path, on whatever bytes the client or upstream sent: it never fails and
// never panics, and a field it cannot read is left empty.
//
// The API reads both spellings of its JSON field names, camelCase and snake_case
// (systemInstruction and system_instruction, functionCall and function_call); the request
// side reads both. Responses are always camelCase.

// requestJSON holds what the log reads of a request of any method: generateContent and
// streamGenerateContent (contents, systemInstruction, tools), countTokens (contents or a
// whole generateContentRequest), embedContent (content) and batchEmbedContents (requests).
type requestJSON struct {
	Model                  string          `json:"model"`
	Contents               []contentJSON   `json:"contents"`
	SystemInstruction      *contentJSON    `json:"systemInstruction"`
	SystemInstructionSnake *contentJSON    `json:"system_instruction"`
	Tools                  json.RawMessage `json:"tools"`
	Content                *contentJSON    `json:"content"`
	Requests               []requestJSON   `json:"requests"`
	GenerateContentRequest *requestJSON    `json:"generateContentRequest"`
	GenerateContentSnake   *requestJSON    `json:"generate_content_request"`
}

// contentJSON is a Content: a turn of the conversation, or a candidate's answer.
type contentJSON struct {
	Role  string     `json:"role"`
	Parts []partJSON `json:"parts"`
}

// partJSON is a Part of a Content. Of its many kinds (inline data, files, executable code,
// ...) the log reads text and function calls and responses.
type partJSON struct {
	Text                  string            `json:"text"`
	Thought               bool              `json:"thought"`
	FunctionCall          *functionCallJSON `json:"functionCall"`
	FunctionCallSnake     *functionCallJSON `json:"function_call"`
	FunctionResponse      json.RawMessage   `json:"functionResponse"`
	FunctionResponseSnake json.RawMessage   `json:"function_response"`
}

func (p *partJSON) call() *functionCallJSON {
	if p.FunctionCall != nil {
		return p.FunctionCall
	}
	return p.FunctionCallSnake
}

type functionCallJSON struct {
	ID   string          `json:"id"`
	Name string          `json:"name"`
	Args json.RawMessage `json:"args"`
}

// summarizeRequest extracts the model (from the path, or the body for methods that name it
// there), the last user text (Content) and all the prompt text (Text, for token
// estimation) of a request body.
//
// Text holds the system instruction, then every turn's text, function calls and function
// responses in order, then the tool declarations as compact JSON, since upstream bills them
// as prompt too. For embeddings, whose input is the user's text as a whole, Content is
// every input text. Invalid JSON yields a Summary with the model only.
func summarizeRequest(endpoint string, body []byte) provider.Summary {
	model, method := endpointParts(endpoint)
	s := provider.Summary{Model: model}
	var req requestJSON
	if len(bytes.TrimSpace(body)) == 0 || !extract.DecodeLenient(body, &req) {
		return s
	}
	if s.Model == "" {
		s.Model = strings.TrimPrefix(req.Model, "models/")
	}
	var text extract.Joiner
	switch method {
	case "embedContent":
		if req.Content != nil {
			s.Content = req.Content.text("\n", false)
		}
		text.Add(s.Content)
	case "batchEmbedContents", "asyncBatchEmbedContent":
		var all extract.Joiner
		for _, r := range req.Requests {
			if r.Content != nil {
				all.Add(r.Content.text("\n", false))
			}
			if s.Model == "" {
				s.Model = strings.TrimPrefix(r.Model, "models/")
			}
		}
		s.Content = all.String()
		text.Add(s.Content)
	default:
		if method == "countTokens" && len(req.Contents) == 0 {
			inner := req.GenerateContentRequest
			if inner == nil {
				inner = req.GenerateContentSnake
			}
			if inner != nil {
				req = *inner
			}
		}
		s.Content = conversationText(&req, &text)
	}
	s.Text = text.String()
	return s
}

// conversationText adds the text of a generateContent request to text and returns the text
// of its last user turn that has any.
func conversationText(req *requestJSON, text *extract.Joiner) string {
	sys := req.SystemInstruction
	if sys == nil {
		sys = req.SystemInstructionSnake
	}
	if sys != nil {
		text.Add(sys.text("\n", false))
	}
	var last string
	for i := range req.Contents {
		c := &req.Contents[i]
		t := c.text("\n", false)
		if (c.Role == "" || c.Role == "user") && t != "" {
			last = t
		}
		text.Add(t)
		for j := range c.Parts {
			p := &c.Parts[j]
			if fc := p.call(); fc != nil {
				text.Add(fc.Name)
				text.Add(compactJSON(fc.Args))
			}
			text.Add(compactJSON(p.FunctionResponse))
			text.Add(compactJSON(p.FunctionResponseSnake))
		}
	}
	text.Add(compactJSON(req.Tools))
	return last
}

// text returns the text parts of a content joined with sep; thought parts are left out
// unless thoughts is set.
func (c *contentJSON) text(sep string, thoughts bool) string {
	var b strings.Builder
	n := 0
	for i := range c.Parts {
		p := &c.Parts[i]
		if p.Text == "" || (p.Thought && !thoughts) {
			continue
		}
		if n > 0 {
			b.WriteString(sep)
		}
		b.WriteString(p.Text)
		n++
	}
	return b.String()
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

// tokenCount is a token count that also accepts a float or a string spelling (the proto
// JSON mapping allows "12"); anything else reads as zero rather than failing the usage.
type tokenCount int

// UnmarshalJSON reads a number or a numeric string, and anything else as zero.
func (c *tokenCount) UnmarshalJSON(data []byte) error {
	s := strings.Trim(string(data), `"`)
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 1e15 {
		*c = 0
		return nil
	}
	*c = tokenCount(f)
	return nil
}

// usageJSON is a GenerateContentResponse's usageMetadata.
type usageJSON struct {
	PromptTokenCount        tokenCount `json:"promptTokenCount"`
	CandidatesTokenCount    tokenCount `json:"candidatesTokenCount"`
	CachedContentTokenCount tokenCount `json:"cachedContentTokenCount"`
	ThoughtsTokenCount      tokenCount `json:"thoughtsTokenCount"`
	ToolUsePromptTokenCount tokenCount `json:"toolUsePromptTokenCount"`
	TotalTokenCount         tokenCount `json:"totalTokenCount"`
}

// usage maps usageMetadata to the neutral Usage: the prompt (with the tool-use prompt that
// built-in tools such as search add) is input, the candidates and the thoughts are output,
// the thoughts are also reasoning, and cachedContentTokenCount, which is part of the
// prompt, is cached.
func (u *usageJSON) usage() *provider.Usage {
	return &provider.Usage{
		InputTokens:     int(u.PromptTokenCount + u.ToolUsePromptTokenCount),
		OutputTokens:    int(u.CandidatesTokenCount + u.ThoughtsTokenCount),
		CachedTokens:    int(u.CachedContentTokenCount),
		ReasoningTokens: int(u.ThoughtsTokenCount),
	}
}

// responseJSON is a GenerateContentResponse, one element or event of a stream of them, or
// an error body.
type responseJSON struct {
	Candidates    []candidateJSON `json:"candidates"`
	UsageMetadata *usageJSON      `json:"usageMetadata"`
	ModelVersion  string          `json:"modelVersion"`
	Error         json.RawMessage `json:"error"`
}

type candidateJSON struct {
	Index   int         `json:"index"`
	Content contentJSON `json:"content"`
}

// generative reports whether a method answers with GenerateContentResponses, and
// embedding whether it bills input tokens without reporting them: for both, a body without
// usage is left without, so that the proxy estimates it. Other methods (countTokens, the
// model list, files, ...) bill no tokens.
func generative(method string) bool {
	switch method {
	case "generateContent", "streamGenerateContent", "generateAnswer", "generateText", "generateMessage":
		return true
	}
	return false
}

func embedding(method string) bool {
	switch method {
	case "embedContent", "batchEmbedContents", "asyncBatchEmbedContent", "embedText", "batchEmbedText":
		return true
	}
	return false
}

// summarizeResponse extracts the model version, the text of the first candidate, its
// function calls and the usage of a response body, whatever its framing: one JSON object,
// the JSON array of a stream without alt=sse (whole or cut short) or the events of an SSE
// stream. A stream's text is the concatenation of its chunks', its function calls those of
// every chunk in order, and its usage that of the last chunk that has usageMetadata (each
// chunk's counts are totals so far).
//
// Thought parts (text with "thought": true, the model's thinking summaries) are not part of
// the content; their tokens are in Usage.ReasoningTokens. A function call becomes a
// ToolCall whose ID is the call's own id when the API sent one (the Gemini API usually does
// not, and the ID is then empty rather than invented), whose name is the function's and
// whose arguments are the compact JSON of its args ("{}" when it has none).
func summarizeResponse(endpoint string, body []byte, _ bool) provider.Summary {
	_, method := endpointParts(endpoint)
	var s provider.Summary
	var content strings.Builder
	var usage *usageJSON
	seen := false
	add := func(r *responseJSON) {
		seen = true
		if r.ModelVersion != "" {
			s.Model = strings.TrimPrefix(r.ModelVersion, "models/")
		}
		if r.UsageMetadata != nil {
			usage = r.UsageMetadata
		}
		if msg := errorMessage(r.Error); msg != "" && s.Error == "" {
			s.Error = msg
		}
		for i := range r.Candidates {
			c := &r.Candidates[i]
			if c.Index != 0 {
				continue
			}
			content.WriteString(c.Content.text("", false))
			for j := range c.Content.Parts {
				fc := c.Content.Parts[j].call()
				if fc == nil {
					continue
				}
				args := compactJSON(fc.Args)
				if args == "" {
					args = "{}"
				}
				s.ToolCalls = append(s.ToolCalls, provider.ToolCall{ID: fc.ID, Type: "function",
					Function: provider.FunctionCall{Name: fc.Name, Arguments: args}})
			}
			break
		}
	}
	eachResponse(body, add)
	s.Content = content.String()
	switch {
	case usage != nil:
		s.Usage = usage.usage()
	case !seen || generative(method) || embedding(method):
	default:
		s.Usage = &provider.Usage{}
	}
	return s
}

// eachResponse calls fn with every response object of a body: the body itself, the elements
// of a JSON array (up to where a cut stream ends) or the data of each SSE event.
func eachResponse(body []byte, fn func(*responseJSON)) {
	trimmed := bytes.TrimLeft(body, " \t\r\n\xef\xbb\xbf")
	if len(trimmed) == 0 {
		return
	}
	switch trimmed[0] {
	case '{':
		var r responseJSON
		if extract.DecodeLenient(trimmed, &r) {
			fn(&r)
		}
	case '[':
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		if _, err := dec.Token(); err != nil {
			return
		}
		for dec.More() {
			var r responseJSON
			err := dec.Decode(&r)
			var typeErr *json.UnmarshalTypeError
			if err != nil && !errors.As(err, &typeErr) {
				return
			}
			fn(&r)
		}
	default:
		for rest := body; len(rest) > 0; {
			adv, ev, _ := sse.Split(rest, true)
			if adv <= 0 {
				return
			}
			rest = rest[adv:]
			data := bytes.TrimSpace([]byte(sse.Parse(ev).Data))
			if len(data) == 0 || data[0] != '{' {
				continue
			}
			var r responseJSON
			if extract.DecodeLenient(data, &r) {
				fn(&r)
			}
		}
	}
}

// errorMessage returns the message of a Google error object, or its status when the
// message is empty.
func errorMessage(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		if len(raw) > 0 && raw[0] == '"' {
			return provider.JSONString(raw)
		}
		return ""
	}
	var e struct {
		Message string `json:"message"`
		Status  string `json:"status"`
	}
	if !extract.DecodeLenient(raw, &e) {
		return ""
	}
	if e.Message != "" {
		return e.Message
	}
	return e.Status
}
