package gemini

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/aiproxy-go/aiproxy/provider"
)

// The wire types of the replies the proxy renders itself, in the field order the API uses.

type wireResponse struct {
	Candidates    []wireCandidate `json:"candidates"`
	UsageMetadata *wireUsage      `json:"usageMetadata,omitempty"`
	ModelVersion  string          `json:"modelVersion,omitempty"`
	ResponseID    string          `json:"responseId,omitempty"`
}

type wireCandidate struct {
	Content      wireContent `json:"content"`
	FinishReason string      `json:"finishReason,omitempty"`
	Index        int         `json:"index"`
}

type wireContent struct {
	Parts []wirePart `json:"parts,omitempty"`
	Role  string     `json:"role"`
}

type wirePart struct {
	Text         *string           `json:"text,omitempty"`
	FunctionCall *wireFunctionCall `json:"functionCall,omitempty"`
}

type wireFunctionCall struct {
	ID   string          `json:"id,omitempty"`
	Name string          `json:"name"`
	Args json.RawMessage `json:"args"`
}

type wireUsage struct {
	PromptTokenCount        int                  `json:"promptTokenCount"`
	CandidatesTokenCount    int                  `json:"candidatesTokenCount,omitempty"`
	TotalTokenCount         int                  `json:"totalTokenCount"`
	CachedContentTokenCount int                  `json:"cachedContentTokenCount,omitempty"`
	PromptTokensDetails     []wireModalityTokens `json:"promptTokensDetails,omitempty"`
	ThoughtsTokenCount      int                  `json:"thoughtsTokenCount,omitempty"`
}

type wireModalityTokens struct {
	Modality   string `json:"modality"`
	TokenCount int    `json:"tokenCount"`
}

// toWireUsage is the inverse of usageJSON.usage, so that a logged usage replays as it came.
func toWireUsage(u *provider.Usage) *wireUsage {
	w := &wireUsage{}
	if u == nil {
		return w
	}
	w.PromptTokenCount = u.InputTokens
	w.CandidatesTokenCount = max(u.OutputTokens-u.ReasoningTokens, 0)
	w.ThoughtsTokenCount = u.ReasoningTokens
	w.CachedContentTokenCount = u.CachedTokens
	w.TotalTokenCount = u.InputTokens + u.OutputTokens
	if u.InputTokens > 0 {
		w.PromptTokensDetails = []wireModalityTokens{{Modality: "TEXT", TokenCount: u.InputTokens}}
	}
	return w
}

// Render renders a reply as a GenerateContentResponse: one candidate whose content (role
// "model") has the text and a functionCall part per tool call, finishReason "STOP", the
// usage and the model as modelVersion. For a streamGenerateContent request it renders the
// stream the client asked for: SSE events with ?alt=sse, else the JSON array. A tool call's
// arguments that are not a JSON object are sent as {"arguments": "<the text>"}, since the
// API's args is an object.
func (p *Provider) Render(req *provider.Request, r *provider.Reply) *provider.Response {
	if r.Body != nil {
		status := r.Status
		if status == 0 {
			status = http.StatusOK
		}
		h := r.Header.Clone()
		if h == nil {
			h = http.Header{}
		}
		if h.Get("Content-Type") == "" {
			h.Set("Content-Type", "application/json; charset=UTF-8")
		}
		return &provider.Response{Status: status, Header: h, Body: r.Body}
	}
	model := r.Model
	if model == "" {
		model = req.Model
	}
	id := "aiproxy" + strconv.FormatInt(time.Now().UnixNano(), 36)
	var parts []wirePart
	if r.Text != "" || len(r.ToolCalls) == 0 {
		parts = append(parts, wirePart{Text: &r.Text})
	}
	var calls []wirePart
	for _, tc := range r.ToolCalls {
		calls = append(calls, wirePart{FunctionCall: &wireFunctionCall{ID: tc.ID, Name: tc.Function.Name, Args: argsObject(tc.Function.Arguments)}})
	}
	chunk := func(parts []wirePart, final bool) wireResponse {
		c := wireCandidate{Content: wireContent{Parts: parts, Role: "model"}}
		w := wireResponse{Candidates: []wireCandidate{c}, ModelVersion: model, ResponseID: id}
		if final {
			w.Candidates[0].FinishReason = "STOP"
			w.UsageMetadata = toWireUsage(r.Usage)
		}
		return w
	}
	if !req.Stream {
		body := indentJSON(chunk(append(parts, calls...), true))
		return &provider.Response{Status: http.StatusOK, Header: jsonHeader(), Body: body}
	}
	// A stream: the text, then the function calls, the last chunk with the finish reason
	// and the usage, as the API sends them.
	var chunks []wireResponse
	if len(parts) > 0 {
		chunks = append(chunks, chunk(parts, len(calls) == 0))
	}
	if len(calls) > 0 {
		chunks = append(chunks, chunk(calls, true))
	}
	var out []byte
	if wantsSSE(req.RawQuery) {
		for _, c := range chunks {
			out = append(out, "data: "...)
			out = append(out, marshalLine(c)...)
			out = append(out, "\r\n\r\n"...)
		}
		return &provider.Response{Status: http.StatusOK, Header: sseHeader(), Body: out}
	}
	out = append(out, '[')
	for i, c := range chunks {
		if i > 0 {
			out = append(out, "\n,\r\n"...)
		}
		out = append(out, indentJSON(c)...)
	}
	out = append(out, "\n]"...)
	return &provider.Response{Status: http.StatusOK, Header: jsonHeader(), Body: out}
}

// argsObject returns a tool call's arguments as the JSON object the API's args is.
func argsObject(arguments string) json.RawMessage {
	a := bytes.TrimSpace([]byte(arguments))
	if len(a) == 0 {
		return json.RawMessage("{}")
	}
	if a[0] == '{' && json.Valid(a) {
		return json.RawMessage(a)
	}
	b, _ := json.Marshal(map[string]string{"arguments": arguments})
	return b
}

// indentJSON encodes v as the API writes bodies and array elements: two-space indents.
func indentJSON(v any) []byte {
	b, _ := json.MarshalIndent(v, "", "  ")
	return b
}

// marshalLine encodes v as the API writes SSE data: on one line.
func marshalLine(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func jsonHeader() http.Header {
	return http.Header{"Content-Type": {"application/json; charset=UTF-8"}}
}

func sseHeader() http.Header {
	return http.Header{"Content-Type": {"text/event-stream"}, "Cache-Control": {"no-cache"}}
}

// Error renders Google's error shape, {"error":{"code","message","status"}}, with the
// canonical status of the HTTP status (400 INVALID_ARGUMENT, 401 UNAUTHENTICATED, 403
// PERMISSION_DENIED, 404 NOT_FOUND, 429 RESOURCE_EXHAUSTED, 499 CANCELLED, 500 INTERNAL,
// 503 UNAVAILABLE, 504 DEADLINE_EXCEEDED, ...), or e.Type or e.Code when either is
// already a canonical status such as "RESOURCE_EXHAUSTED". For a streamGenerateContent
// request without alt=sse the error object is wrapped in an array, as the API sends it.
func (p *Provider) Error(req *provider.Request, e *provider.Error) *provider.Response {
	status := e.Type
	if !isCanonical(status) {
		status = e.Code
	}
	if !isCanonical(status) {
		status = canonicalStatus(e.Status)
	}
	type errorBody struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
	}
	body := indentJSON(struct {
		Error errorBody `json:"error"`
	}{errorBody{Code: e.Status, Message: e.Message, Status: status}})
	if req != nil && isStreamMethod(req.Endpoint) && !wantsSSE(req.RawQuery) {
		body = append(append([]byte("["), body...), "\n]"...)
	}
	return &provider.Response{Status: e.Status, Header: jsonHeader(), Body: body}
}

// canonicalStatus maps an HTTP status to the google.rpc.Code name that Google APIs send
// with it.
func canonicalStatus(code int) string {
	switch code {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		return "INVALID_ARGUMENT"
	case http.StatusUnauthorized:
		return "UNAUTHENTICATED"
	case http.StatusForbidden:
		return "PERMISSION_DENIED"
	case http.StatusNotFound:
		return "NOT_FOUND"
	case http.StatusConflict:
		return "ABORTED"
	case http.StatusPreconditionFailed:
		return "FAILED_PRECONDITION"
	case http.StatusTooManyRequests:
		return "RESOURCE_EXHAUSTED"
	case 499:
		return "CANCELLED"
	case http.StatusNotImplemented:
		return "UNIMPLEMENTED"
	case http.StatusBadGateway, http.StatusServiceUnavailable:
		return "UNAVAILABLE"
	case http.StatusGatewayTimeout:
		return "DEADLINE_EXCEEDED"
	}
	switch {
	case code >= 500:
		return "INTERNAL"
	case code >= 400:
		return "FAILED_PRECONDITION"
	}
	return "UNKNOWN"
}

// canonical are the google.rpc.Code names.
var canonical = map[string]bool{
	"CANCELLED": true, "UNKNOWN": true, "INVALID_ARGUMENT": true, "DEADLINE_EXCEEDED": true,
	"NOT_FOUND": true, "ALREADY_EXISTS": true, "PERMISSION_DENIED": true, "RESOURCE_EXHAUSTED": true,
	"FAILED_PRECONDITION": true, "ABORTED": true, "OUT_OF_RANGE": true, "UNIMPLEMENTED": true,
	"INTERNAL": true, "UNAVAILABLE": true, "DATA_LOSS": true, "UNAUTHENTICATED": true,
}

func isCanonical(s string) bool { return canonical[s] }
