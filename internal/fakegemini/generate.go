package fakegemini

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strings"

	"github.com/aiproxy-go/aiproxy/internal/fakefault"
)

// replyPrefix starts every text answer.
const replyPrefix = "Hello! You said: "

// generateRequest is a GenerateContentRequest. The API reads both camelCase and snake_case
// field names, and so does the fake.
type generateRequest struct {
	Contents               []content         `json:"contents"`
	SystemInstruction      *content          `json:"systemInstruction"`
	SystemInstructionSnake *content          `json:"system_instruction"`
	Tools                  []tool            `json:"tools"`
	ToolConfig             *toolConfig       `json:"toolConfig"`
	ToolConfigSnake        *toolConfig       `json:"tool_config"`
	GenerationConfig       *generationConfig `json:"generationConfig"`
	GenerationConfigSnake  *generationConfig `json:"generation_config"`
}

type content struct {
	Role  string `json:"role"`
	Parts []part `json:"parts"`
}

type part struct {
	Text    *string `json:"text"`
	Thought bool    `json:"thought"`
}

type tool struct {
	FunctionDeclarations      []functionDecl `json:"functionDeclarations"`
	FunctionDeclarationsSnake []functionDecl `json:"function_declarations"`
}

type functionDecl struct {
	Name                      string  `json:"name"`
	Parameters                *schema `json:"parameters"`
	ParametersJSONSchema      *schema `json:"parametersJsonSchema"`
	ParametersJSONSchemaSnake *schema `json:"parameters_json_schema"`
}

type schema struct {
	Type       json.RawMessage    `json:"type"` // "STRING", "string" or ["string", "null"]
	Properties map[string]*schema `json:"properties"`
}

type toolConfig struct {
	FunctionCallingConfig      *functionCallingConfig `json:"functionCallingConfig"`
	FunctionCallingConfigSnake *functionCallingConfig `json:"function_calling_config"`
}

type functionCallingConfig struct {
	Mode                      string   `json:"mode"`
	AllowedFunctionNames      []string `json:"allowedFunctionNames"`
	AllowedFunctionNamesSnake []string `json:"allowed_function_names"`
}

type generationConfig struct {
	ThinkingConfig      *thinkingConfig `json:"thinkingConfig"`
	ThinkingConfigSnake *thinkingConfig `json:"thinking_config"`
}

type thinkingConfig struct {
	IncludeThoughts      bool `json:"includeThoughts"`
	IncludeThoughtsSnake bool `json:"include_thoughts"`
}

// decodeRequest reads a JSON body into v, answering 400 as the API does when it cannot.
func (x *exchange) decodeRequest(v any) bool {
	if len(bytes.TrimSpace(x.body)) == 0 {
		return true
	}
	err := json.Unmarshal(x.body, v)
	if err == nil {
		return true
	}
	msg := "Invalid JSON payload received. Unexpected token."
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		msg = "Invalid JSON payload received. Invalid value at '" + typeErr.Field + "' (" + typeErr.Value + ")."
	}
	x.writeError(http.StatusBadRequest, msg, "INVALID_ARGUMENT", []any{map[string]any{
		"@type":           "type.googleapis.com/google.rpc.BadRequest",
		"fieldViolations": []any{map[string]string{"description": msg}},
	}})
	return false
}

func (c *content) text() string {
	var b strings.Builder
	for _, p := range c.Parts {
		if p.Text == nil || p.Thought {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(*p.Text)
	}
	return b.String()
}

func (r *generateRequest) system() *content {
	if r.SystemInstruction != nil {
		return r.SystemInstruction
	}
	return r.SystemInstructionSnake
}

func (r *generateRequest) declarations() []functionDecl {
	var out []functionDecl
	for _, t := range r.Tools {
		out = append(out, t.FunctionDeclarations...)
		out = append(out, t.FunctionDeclarationsSnake...)
	}
	return out
}

func (r *generateRequest) callingConfig() *functionCallingConfig {
	tc := r.ToolConfig
	if tc == nil {
		tc = r.ToolConfigSnake
	}
	if tc == nil {
		return nil
	}
	if tc.FunctionCallingConfig != nil {
		return tc.FunctionCallingConfig
	}
	return tc.FunctionCallingConfigSnake
}

func (r *generateRequest) includeThoughts() bool {
	g := r.GenerationConfig
	if g == nil {
		g = r.GenerationConfigSnake
	}
	if g == nil {
		return false
	}
	t := g.ThinkingConfig
	if t == nil {
		t = g.ThinkingConfigSnake
	}
	return t != nil && (t.IncludeThoughts || t.IncludeThoughtsSnake)
}

// lastUserText is the text of the last user turn that has any.
func (r *generateRequest) lastUserText() string {
	last := ""
	for i := range r.Contents {
		c := &r.Contents[i]
		if c.Role != "" && c.Role != "user" {
			continue
		}
		if t := c.text(); t != "" {
			last = t
		}
	}
	return last
}

// promptTokens counts the prompt as the fake's usage reports it.
func (r *generateRequest) promptTokens() int {
	n := 0
	for i := range r.Contents {
		n += 4 + words(r.Contents[i].text())
	}
	if s := r.system(); s != nil {
		n += words(s.text())
	}
	n += 20 * len(r.declarations())
	return max(n, 1)
}

// call is one function call of an answer.
type call struct {
	name string
	args json.RawMessage
}

// answer is what the model says to one request.
type answer struct {
	thought string
	text    string
	calls   []call
	prompt  int
	output  int // candidatesTokenCount
	cached  int
	thinks  int // thoughtsTokenCount
}

// answerTo computes the model's answer to a request, as the x-fake-* headers shape it.
func (x *exchange) answerTo(req *generateRequest) *answer {
	a := &answer{prompt: req.promptTokens(), thinks: x.f.thoughts}
	a.cached = min(x.f.cachedTokens, a.prompt)
	user := req.lastUserText()
	if a.thinks > 0 && req.includeThoughts() {
		a.thought = "**Thinking it over**\n\nThe user said: " + user
	}
	decls := req.declarations()
	n := x.f.ToolCalls
	if n < 0 {
		n = 0
		cfg := req.callingConfig()
		if len(decls) > 0 && (strings.Contains(strings.ToLower(user), "use tools") || (cfg != nil && strings.EqualFold(cfg.Mode, "ANY"))) {
			n = len(decls)
			if cfg != nil {
				allowed := append(cfg.AllowedFunctionNames, cfg.AllowedFunctionNamesSnake...)
				if len(allowed) > 0 {
					decls = filterDecls(decls, allowed)
					n = len(decls)
				}
			}
		}
	}
	for i := range n {
		c := call{name: "fake_function", args: json.RawMessage("{}")}
		if len(decls) > 0 {
			d := &decls[i%len(decls)]
			c = call{name: d.Name, args: argsFor(d, user)}
		}
		a.calls = append(a.calls, c)
		a.output += 8 + (len(c.name)+len(c.args))/4
	}
	if len(a.calls) == 0 {
		a.text = replyPrefix + user
		if user == "" {
			a.text = "Hello!"
		}
		if x.f.HasReply {
			a.text = x.f.Reply
		}
		a.output = max(words(a.text), 1)
	}
	return a
}

func filterDecls(decls []functionDecl, allowed []string) []functionDecl {
	var out []functionDecl
	for _, d := range decls {
		for _, name := range allowed {
			if d.Name == name {
				out = append(out, d)
				break
			}
		}
	}
	return out
}

// argsFor makes the arguments of a call from the function's parameters: strings get the
// user's text, numbers 1, booleans true, arrays and objects empty values.
func argsFor(d *functionDecl, user string) json.RawMessage {
	s := d.Parameters
	if s == nil {
		s = d.ParametersJSONSchema
	}
	if s == nil {
		s = d.ParametersJSONSchemaSnake
	}
	args := map[string]any{}
	if s != nil {
		names := make([]string, 0, len(s.Properties))
		for name := range s.Properties {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			switch schemaType(s.Properties[name]) {
			case "number", "integer":
				args[name] = 1
			case "boolean":
				args[name] = true
			case "array":
				args[name] = []any{}
			case "object":
				args[name] = map[string]any{}
			default:
				args[name] = user
			}
		}
	}
	b, _ := json.Marshal(args)
	return b
}

func schemaType(s *schema) string {
	if s == nil {
		return ""
	}
	raw := bytes.TrimSpace(s.Type)
	var t string
	if json.Unmarshal(raw, &t) == nil {
		return strings.ToLower(t)
	}
	var ts []string
	if json.Unmarshal(raw, &ts) == nil {
		for _, t := range ts {
			if !strings.EqualFold(t, "null") {
				return strings.ToLower(t)
			}
		}
	}
	return ""
}

// The response types, fields in the order the API writes them.

type response struct {
	Candidates    []candidate    `json:"candidates"`
	UsageMetadata *usageMetadata `json:"usageMetadata,omitempty"`
	ModelVersion  string         `json:"modelVersion"`
	ResponseID    string         `json:"responseId"`
}

type candidate struct {
	Content       respContent `json:"content"`
	FinishReason  string      `json:"finishReason,omitempty"`
	Index         int         `json:"index"`
	FinishMessage string      `json:"finishMessage,omitempty"`
}

type respContent struct {
	Parts []respPart `json:"parts,omitempty"`
	Role  string     `json:"role"`
}

type respPart struct {
	Text             *string   `json:"text,omitempty"`
	Thought          bool      `json:"thought,omitempty"`
	FunctionCall     *respCall `json:"functionCall,omitempty"`
	ThoughtSignature string    `json:"thoughtSignature,omitempty"`
}

type respCall struct {
	Name string          `json:"name"`
	Args json.RawMessage `json:"args"`
}

type usageMetadata struct {
	PromptTokenCount        int             `json:"promptTokenCount"`
	CandidatesTokenCount    int             `json:"candidatesTokenCount,omitempty"`
	TotalTokenCount         int             `json:"totalTokenCount"`
	CachedContentTokenCount int             `json:"cachedContentTokenCount,omitempty"`
	PromptTokensDetails     []modalityCount `json:"promptTokensDetails"`
	CacheTokensDetails      []modalityCount `json:"cacheTokensDetails,omitempty"`
	ThoughtsTokenCount      int             `json:"thoughtsTokenCount,omitempty"`
}

type modalityCount struct {
	Modality   string `json:"modality"`
	TokenCount int    `json:"tokenCount"`
}

// usage returns the usage of the answer with output candidates tokens so far.
func (a *answer) usage(output int) *usageMetadata {
	u := &usageMetadata{
		PromptTokenCount:     a.prompt,
		CandidatesTokenCount: output,
		TotalTokenCount:      a.prompt + output + a.thinks,
		PromptTokensDetails:  []modalityCount{{"TEXT", a.prompt}},
		ThoughtsTokenCount:   a.thinks,
	}
	if a.cached > 0 {
		u.CachedContentTokenCount = a.cached
		u.CacheTokensDetails = []modalityCount{{"TEXT", a.cached}}
	}
	return u
}

// signature is a thought signature, an opaque base64 value the API attaches to the first
// function call part of a thinking model's answer.
const signature = "CikBcsjafFK168IbtVtoxVV0Tsn8O+eU45rzJahzwuKGmMbdMdfpmNpgBwplAXLI2nyA"

func (a *answer) callParts() []respPart {
	parts := make([]respPart, 0, len(a.calls))
	for i, c := range a.calls {
		p := respPart{FunctionCall: &respCall{Name: c.name, Args: c.args}}
		if i == 0 && a.thinks > 0 {
			p.ThoughtSignature = signature
		}
		parts = append(parts, p)
	}
	return parts
}

func (a *answer) thoughtPart() []respPart {
	if a.thought == "" {
		return nil
	}
	t := a.thought
	return []respPart{{Text: &t, Thought: true}}
}

// generateContent answers generateContent and streamGenerateContent.
func (x *exchange) generateContent() {
	var req generateRequest
	if !x.decodeRequest(&req) {
		return
	}
	if len(req.Contents) == 0 {
		x.writeError(http.StatusBadRequest, "* GenerateContentRequest.contents: contents is not specified\n", "INVALID_ARGUMENT", nil)
		return
	}
	a := x.answerTo(&req)
	id := newID(23)
	if x.method == "streamGenerateContent" {
		x.stream(a, id)
		return
	}
	parts := a.thoughtPart()
	c := candidate{FinishReason: "STOP"}
	if len(a.calls) > 0 {
		parts = append(parts, a.callParts()...)
		c.FinishMessage = "Model generated function call(s)."
	} else {
		t := a.text
		parts = append(parts, respPart{Text: &t})
	}
	c.Content = respContent{Parts: parts, Role: "model"}
	x.writeJSON(http.StatusOK, response{Candidates: []candidate{c}, UsageMetadata: a.usage(a.output), ModelVersion: x.model, ResponseID: id})
}

// stream sends the answer as chunks: the text cut into x-fake-chunks pieces, or the
// function calls in one chunk; every chunk has the usage so far, the last the finish
// reason.
func (x *exchange) stream(a *answer, id string) {
	var chunks []response
	if len(a.calls) > 0 {
		c := candidate{Content: respContent{Parts: append(a.thoughtPart(), a.callParts()...), Role: "model"},
			FinishReason: "STOP", FinishMessage: "Model generated function call(s)."}
		chunks = append(chunks, response{Candidates: []candidate{c}, UsageMetadata: a.usage(a.output)})
	} else {
		pieces := fakefault.Split(fakefault.Pad(a.text, x.f.Chunks), x.f.Chunks)
		for i, p := range pieces {
			parts := []respPart{{Text: &p}}
			if i == 0 {
				parts = append(a.thoughtPart(), parts...)
			}
			c := candidate{Content: respContent{Parts: parts, Role: "model"}}
			if i == len(pieces)-1 {
				c.FinishReason = "STOP"
			}
			chunks = append(chunks, response{Candidates: []candidate{c}, UsageMetadata: a.usage(a.output * (i + 1) / len(pieces))})
		}
	}
	for i := range chunks {
		chunks[i].ModelVersion, chunks[i].ResponseID = x.model, id
	}
	s := x.startStream()
	for i, c := range chunks {
		var ev []byte
		switch {
		case x.sse:
			ev = append(append([]byte("data: "), line(c)...), "\r\n\r\n"...)
		case i == 0:
			ev = append([]byte("["), indent(c)...)
		default:
			ev = append([]byte("\n,\r\n"), indent(c)...)
		}
		if !s.send(ev) {
			return
		}
	}
	if !x.sse {
		s.end([]byte("\n]"))
	}
}

// streamWriter sends the chunks of a stream, each flushed as soon as it is written, with the
// delays and the cut the request asks for.
type streamWriter struct {
	*fakefault.Stream
	x *exchange
}

func (x *exchange) startStream() *streamWriter {
	if x.sse {
		x.setHeaders("text/event-stream")
		x.w.Header()["Content-Disposition"] = []string{"attachment"}
	} else {
		x.setHeaders("application/json; charset=UTF-8")
	}
	return &streamWriter{Stream: x.f.StartStream(x.r.Context(), x.w), x: x}
}

// send writes one chunk, after x-fake-chunk-delay for every chunk but the first; it aborts
// the connection instead once x-fake-cut-after chunks were sent, and reports false when the
// client went away.
func (s *streamWriter) send(b []byte) bool {
	return s.Send(b) == nil
}

// end writes the bytes that close a stream; a stream of x-fake-cut-after chunks is whole.
func (s *streamWriter) end(b []byte) {
	_, _ = s.x.w.Write(b)
	s.Flush()
}
