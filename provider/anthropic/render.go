package anthropic

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/aiproxy-go/aiproxy/provider"
	"github.com/aiproxy-go/aiproxy/sse"
)

// wireUsage is the usage of a Message. The neutral Usage folds cache reads into
// InputTokens; rendering takes them out again, so a logged exchange replays with the
// counts it was logged with. Cache writes are not told apart in the neutral Usage and
// render as plain input tokens.
type wireUsage struct {
	InputTokens              int                  `json:"input_tokens"`
	CacheCreationInputTokens int                  `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int                  `json:"cache_read_input_tokens"`
	OutputTokens             int                  `json:"output_tokens"`
	OutputTokensDetails      *outputTokensDetails `json:"output_tokens_details,omitempty"`
}

type outputTokensDetails struct {
	ThinkingTokens int `json:"thinking_tokens"`
}

func toWireUsage(u *provider.Usage) wireUsage {
	var w wireUsage
	if u == nil {
		return w
	}
	w.CacheReadInputTokens = max(u.CachedTokens, 0)
	w.InputTokens = max(u.InputTokens-w.CacheReadInputTokens, 0)
	w.OutputTokens = u.OutputTokens
	if u.ReasoningTokens > 0 {
		w.OutputTokensDetails = &outputTokensDetails{ThinkingTokens: u.ReasoningTokens}
	}
	return w
}

// wireBlock is a content block of a Message: text or tool_use.
type wireBlock struct {
	Type  string          `json:"type"`
	Text  *string         `json:"text,omitempty"`
	ID    string          `json:"id,omitempty"`
	Name  string          `json:"name,omitempty"`
	Input json.RawMessage `json:"input,omitempty"`
}

type wireMessage struct {
	ID           string      `json:"id"`
	Type         string      `json:"type"`
	Role         string      `json:"role"`
	Model        string      `json:"model"`
	Content      []wireBlock `json:"content"`
	StopReason   *string     `json:"stop_reason"`
	StopSequence *string     `json:"stop_sequence"`
	Usage        wireUsage   `json:"usage"`
}

// Render renders a reply as a Message object, or as the event stream of one (message_start,
// content_block_start/delta/stop for each block, message_delta with the stop reason and
// usage, message_stop) when the client streams. A reply to count_tokens renders as
// {"input_tokens": N} with the reply's input tokens. A Reply with a Body is sent as it is.
//
// Tool calls become tool_use blocks whose input is the call's arguments; arguments that
// are not a JSON object (a call cut short) render as an empty input {}.
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
			h.Set("Content-Type", "application/json")
		}
		return &provider.Response{Status: status, Header: h, Body: r.Body}
	}
	if strings.HasSuffix(req.Endpoint, "/count_tokens") {
		n := 0
		if r.Usage != nil {
			n = r.Usage.InputTokens
		}
		body, _ := json.Marshal(struct {
			InputTokens int `json:"input_tokens"`
		}{n})
		return &provider.Response{Status: http.StatusOK, Header: jsonHeader(), Body: body}
	}
	model := r.Model
	if model == "" {
		model = req.Model
	}
	msg := wireMessage{ID: "msg_aiproxy_" + randomHex(12), Type: "message", Role: "assistant", Model: model,
		Content: []wireBlock{}, Usage: toWireUsage(r.Usage)}
	if r.Text != "" || len(r.ToolCalls) == 0 {
		text := r.Text
		msg.Content = append(msg.Content, wireBlock{Type: "text", Text: &text})
	}
	for _, tc := range r.ToolCalls {
		id := tc.ID
		if id == "" {
			id = "toolu_aiproxy_" + randomHex(12)
		}
		msg.Content = append(msg.Content, wireBlock{Type: "tool_use", ID: id, Name: tc.Function.Name, Input: toolInput(tc.Function.Arguments)})
	}
	stop := "end_turn"
	if len(r.ToolCalls) > 0 {
		stop = "tool_use"
	}
	if !req.Stream {
		msg.StopReason = &stop
		body, _ := marshal(msg)
		return &provider.Response{Status: http.StatusOK, Header: jsonHeader(), Body: body}
	}
	return &provider.Response{Status: http.StatusOK, Header: streamHeader(), Body: renderStream(msg, stop)}
}

// renderStream renders msg as the events that stream it.
func renderStream(msg wireMessage, stop string) []byte {
	var out []byte
	emit := func(event string, v any) {
		b, _ := marshal(v)
		out = sse.AppendEvent(out, event, b)
	}
	start := msg
	start.Content = []wireBlock{}
	start.Usage.OutputTokens = 0
	start.Usage.OutputTokensDetails = nil
	emit("message_start", struct {
		Type    string      `json:"type"`
		Message wireMessage `json:"message"`
	}{"message_start", start})
	type delta struct {
		Type        string  `json:"type"`
		Text        *string `json:"text,omitempty"`
		PartialJSON *string `json:"partial_json,omitempty"`
	}
	for i, b := range msg.Content {
		first, d := b, delta{}
		switch b.Type {
		case "text":
			empty := ""
			first.Text = &empty
			d = delta{Type: "text_delta", Text: b.Text}
		case "tool_use":
			first.Input = json.RawMessage(`{}`)
			partial := string(b.Input)
			d = delta{Type: "input_json_delta", PartialJSON: &partial}
		}
		emit("content_block_start", struct {
			Type         string    `json:"type"`
			Index        int       `json:"index"`
			ContentBlock wireBlock `json:"content_block"`
		}{"content_block_start", i, first})
		if (d.Text != nil && *d.Text != "") || d.PartialJSON != nil {
			emit("content_block_delta", struct {
				Type  string `json:"type"`
				Index int    `json:"index"`
				Delta delta  `json:"delta"`
			}{"content_block_delta", i, d})
		}
		emit("content_block_stop", struct {
			Type  string `json:"type"`
			Index int    `json:"index"`
		}{"content_block_stop", i})
	}
	type messageDelta struct {
		StopReason   string  `json:"stop_reason"`
		StopSequence *string `json:"stop_sequence"`
	}
	emit("message_delta", struct {
		Type  string       `json:"type"`
		Delta messageDelta `json:"delta"`
		Usage wireUsage    `json:"usage"`
	}{"message_delta", messageDelta{StopReason: stop}, msg.Usage})
	emit("message_stop", struct {
		Type string `json:"type"`
	}{"message_stop"})
	return out
}

// toolInput returns the input of a tool_use block for a call's arguments: the arguments
// when they are a JSON object, else {}.
func toolInput(args string) json.RawMessage {
	b := bytes.TrimSpace([]byte(args))
	if len(b) == 0 || b[0] != '{' || !json.Valid(b) {
		return json.RawMessage(`{}`)
	}
	var c bytes.Buffer
	if json.Compact(&c, b) != nil {
		return json.RawMessage(`{}`)
	}
	return c.Bytes()
}

// marshal encodes v without escaping <, > and &, as the API does.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func jsonHeader() http.Header {
	return http.Header{"Content-Type": {"application/json"}}
}

func streamHeader() http.Header {
	return http.Header{"Content-Type": {"text/event-stream; charset=utf-8"}, "Cache-Control": {"no-cache"}}
}

// errorTypes are the error types of the API; an Error with another type (the proxy's own
// "server_error", say) is given the type of its status.
var errorTypes = map[string]bool{
	"invalid_request_error": true, "authentication_error": true, "billing_error": true,
	"permission_error": true, "not_found_error": true, "request_too_large": true,
	"rate_limit_error": true, "api_error": true, "timeout_error": true, "overloaded_error": true,
	"conflict_error": true,
}

// Error renders Anthropic's error shape,
// {"type":"error","error":{"type":...,"message":...},"request_id":...}, with the status of
// e. The request id, which the API sends in the body and in the request-id header, is one
// the proxy makes up: the client's SDK reports it as the API's.
func (p *Provider) Error(req *provider.Request, e *provider.Error) *provider.Response {
	// The proxy's own errors carry OpenAI's types; invalid_request_error is Anthropic's
	// too, but the API uses it only where the status has no type of its own.
	typ := e.Type
	if !errorTypes[typ] || typ == "invalid_request_error" {
		typ = errorType(e.Status)
	}
	id := req.ID
	if id == "" {
		id = "req_aiproxy_" + randomHex(12)
	}
	type errorObject struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	}
	body, _ := marshal(struct {
		Type      string      `json:"type"`
		Error     errorObject `json:"error"`
		RequestID string      `json:"request_id"`
	}{"error", errorObject{typ, e.Message}, id})
	h := jsonHeader()
	h.Set("Request-Id", id)
	return &provider.Response{Status: e.Status, Header: h, Body: body}
}

// statusOf returns the status the API answers an error type with.
func statusOf(typ string) int {
	switch typ {
	case "invalid_request_error":
		return http.StatusBadRequest
	case "authentication_error":
		return http.StatusUnauthorized
	case "billing_error":
		return http.StatusPaymentRequired
	case "permission_error":
		return http.StatusForbidden
	case "not_found_error":
		return http.StatusNotFound
	case "conflict_error":
		return http.StatusConflict
	case "request_too_large":
		return http.StatusRequestEntityTooLarge
	case "rate_limit_error":
		return http.StatusTooManyRequests
	case "timeout_error":
		return http.StatusGatewayTimeout
	case "overloaded_error":
		return 529
	}
	return http.StatusInternalServerError
}

// errorType returns the API's error type for a status.
func errorType(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusPaymentRequired:
		return "billing_error"
	case http.StatusForbidden:
		return "permission_error"
	case http.StatusNotFound:
		return "not_found_error"
	case http.StatusConflict:
		return "conflict_error"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusTooManyRequests:
		return "rate_limit_error"
	case http.StatusGatewayTimeout:
		return "timeout_error"
	case 529:
		return "overloaded_error"
	}
	if status >= 500 {
		return "api_error"
	}
	return "invalid_request_error"
}
