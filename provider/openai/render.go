package openai

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/aiproxy-go/aiproxy/provider"
	"github.com/aiproxy-go/aiproxy/sse"
)

type wireUsage struct {
	PromptTokens        int `json:"prompt_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	TotalTokens         int `json:"total_tokens"`
	PromptTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails struct {
		ReasoningTokens int `json:"reasoning_tokens"`
	} `json:"completion_tokens_details"`
}

func toWireUsage(u *provider.Usage) *wireUsage {
	w := &wireUsage{}
	if u != nil {
		w.PromptTokens, w.CompletionTokens = u.InputTokens, u.OutputTokens
		w.TotalTokens = u.InputTokens + u.OutputTokens
		w.PromptTokensDetails.CachedTokens = u.CachedTokens
		w.CompletionTokensDetails.ReasoningTokens = u.ReasoningTokens
	}
	return w
}

type wireMessage struct {
	Role      string              `json:"role"`
	Content   *string             `json:"content"`
	Refusal   *string             `json:"refusal"`
	ToolCalls []provider.ToolCall `json:"tool_calls,omitempty"`
}

type wireChoice struct {
	Index        int          `json:"index"`
	Message      *wireMessage `json:"message,omitempty"`
	Delta        *wireDelta   `json:"delta,omitempty"`
	Logprobs     *struct{}    `json:"logprobs"`
	FinishReason *string      `json:"finish_reason"`
}

type wireDelta struct {
	Role      string          `json:"role,omitempty"`
	Content   *string         `json:"content,omitempty"`
	ToolCalls []wireToolDelta `json:"tool_calls,omitempty"`
}

type wireToolDelta struct {
	Index    int                   `json:"index"`
	ID       string                `json:"id,omitempty"`
	Type     string                `json:"type,omitempty"`
	Function provider.FunctionCall `json:"function"`
}

type wireCompletion struct {
	ID                string       `json:"id"`
	Object            string       `json:"object"`
	Created           int64        `json:"created"`
	Model             string       `json:"model"`
	Choices           []wireChoice `json:"choices"`
	Usage             *wireUsage   `json:"usage,omitempty"`
	SystemFingerprint *string      `json:"system_fingerprint"`
}

// Render renders a reply as a chat.completion, or as a chat.completion.chunk stream ending
// in [DONE] when the client streams. The Responses API gets a response object.
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
	model := r.Model
	if model == "" {
		model = req.Model
	}
	if req.Endpoint == "/responses" {
		return renderResponses(req, r, model)
	}
	id := "chatcmpl-aiproxy-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	created := time.Now().Unix()
	finish := "stop"
	if len(r.ToolCalls) > 0 {
		finish = "tool_calls"
	}
	if !req.Stream {
		msg := &wireMessage{Role: "assistant", ToolCalls: r.ToolCalls}
		if r.Text != "" || len(r.ToolCalls) == 0 {
			msg.Content = &r.Text
		}
		body, _ := json.Marshal(wireCompletion{
			ID: id, Object: "chat.completion", Created: created, Model: model,
			Choices: []wireChoice{{Message: msg, FinishReason: &finish}},
			Usage:   toWireUsage(r.Usage),
		})
		return &provider.Response{Status: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}}, Body: body}
	}
	chunk := func(d *wireDelta, fin *string, u *wireUsage) []byte {
		c := wireCompletion{ID: id, Object: "chat.completion.chunk", Created: created, Model: model, Usage: u}
		if d != nil || fin != nil {
			if d == nil {
				d = &wireDelta{}
			}
			c.Choices = []wireChoice{{Delta: d, FinishReason: fin}}
		} else {
			c.Choices = []wireChoice{}
		}
		b, _ := json.Marshal(c)
		return b
	}
	empty := ""
	var out []byte
	out = sse.AppendEvent(out, "", chunk(&wireDelta{Role: "assistant", Content: &empty}, nil, nil))
	if r.Text != "" {
		out = sse.AppendEvent(out, "", chunk(&wireDelta{Content: &r.Text}, nil, nil))
	}
	for i, tc := range r.ToolCalls {
		d := &wireDelta{ToolCalls: []wireToolDelta{{Index: i, ID: tc.ID, Type: "function", Function: tc.Function}}}
		out = sse.AppendEvent(out, "", chunk(d, nil, nil))
	}
	out = sse.AppendEvent(out, "", chunk(nil, &finish, nil))
	if clientAskedUsage(req) {
		out = sse.AppendEvent(out, "", chunk(nil, nil, toWireUsage(r.Usage)))
	}
	out = sse.AppendEvent(out, "", []byte("[DONE]"))
	return &provider.Response{Status: http.StatusOK, Header: streamHeader(), Body: out}
}

// clientAskedUsage reports whether the client's own stream_options asked for usage.
func clientAskedUsage(req *provider.Request) bool {
	st, _ := req.State.(*streamState)
	return st != nil && st.clientUsage
}

func streamHeader() http.Header {
	return http.Header{"Content-Type": {"text/event-stream; charset=utf-8"}, "Cache-Control": {"no-cache"}}
}

type wireResponseUsage struct {
	InputTokens        int `json:"input_tokens"`
	InputTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokens        int `json:"output_tokens"`
	OutputTokensDetails struct {
		ReasoningTokens int `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
	TotalTokens int `json:"total_tokens"`
}

type wireOutputItem struct {
	Type      string           `json:"type"`
	ID        string           `json:"id"`
	Status    string           `json:"status"`
	Role      string           `json:"role,omitempty"`
	Content   []wireOutputText `json:"content,omitempty"`
	CallID    string           `json:"call_id,omitempty"`
	Name      string           `json:"name,omitempty"`
	Arguments string           `json:"arguments,omitempty"`
}

type wireOutputText struct {
	Type        string   `json:"type"`
	Text        string   `json:"text"`
	Annotations []string `json:"annotations"`
}

type wireResponse struct {
	ID        string             `json:"id"`
	Object    string             `json:"object"`
	CreatedAt int64              `json:"created_at"`
	Status    string             `json:"status"`
	Model     string             `json:"model"`
	Output    []wireOutputItem   `json:"output"`
	Usage     *wireResponseUsage `json:"usage"`
}

// renderResponses renders a reply as a Responses API response object, or as its event
// stream (created, deltas, completed) when the client streams.
func renderResponses(req *provider.Request, r *provider.Reply, model string) *provider.Response {
	id := "resp_aiproxy" + strconv.FormatInt(time.Now().UnixNano(), 36)
	u := &wireResponseUsage{}
	if r.Usage != nil {
		u.InputTokens, u.OutputTokens = r.Usage.InputTokens, r.Usage.OutputTokens
		u.InputTokensDetails.CachedTokens = r.Usage.CachedTokens
		u.OutputTokensDetails.ReasoningTokens = r.Usage.ReasoningTokens
		u.TotalTokens = u.InputTokens + u.OutputTokens
	}
	msg := wireOutputItem{Type: "message", ID: "msg_" + id, Status: "completed", Role: "assistant",
		Content: []wireOutputText{{Type: "output_text", Text: r.Text, Annotations: []string{}}}}
	done := wireResponse{ID: id, Object: "response", CreatedAt: time.Now().Unix(), Status: "completed", Model: model, Usage: u}
	if r.Text != "" || len(r.ToolCalls) == 0 {
		done.Output = append(done.Output, msg)
	}
	for i, tc := range r.ToolCalls {
		done.Output = append(done.Output, wireOutputItem{Type: "function_call", ID: "fc_" + id + strconv.Itoa(i),
			Status: "completed", CallID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments})
	}
	if !req.Stream {
		body, _ := json.Marshal(done)
		return &provider.Response{Status: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}}, Body: body}
	}
	seq := 0
	var out []byte
	emit := func(typ string, fields map[string]any) {
		fields["type"] = typ
		fields["sequence_number"] = seq
		seq++
		b, _ := json.Marshal(fields)
		out = sse.AppendEvent(out, typ, b)
	}
	started := done
	started.Status, started.Output, started.Usage = "in_progress", []wireOutputItem{}, nil
	emit("response.created", map[string]any{"response": started})
	emit("response.in_progress", map[string]any{"response": started})
	for i, item := range done.Output {
		emit("response.output_item.added", map[string]any{"output_index": i, "item": item})
		if item.Type == "message" {
			emit("response.output_text.delta", map[string]any{"item_id": item.ID, "output_index": i, "content_index": 0, "delta": r.Text})
			emit("response.output_text.done", map[string]any{"item_id": item.ID, "output_index": i, "content_index": 0, "text": r.Text})
		}
		emit("response.output_item.done", map[string]any{"output_index": i, "item": item})
	}
	emit("response.completed", map[string]any{"response": done})
	return &provider.Response{Status: http.StatusOK, Header: streamHeader(), Body: out}
}

// Error renders OpenAI's error shape: {"error":{"message","type","param","code"}}.
func (p *Provider) Error(req *provider.Request, e *provider.Error) *provider.Response {
	typ := e.Type
	if typ == "" {
		typ = errorType(e.Status)
	}
	var code *string
	if e.Code != "" {
		code = &e.Code
	}
	body, _ := json.Marshal(struct {
		Error struct {
			Message string  `json:"message"`
			Type    string  `json:"type"`
			Param   *string `json:"param"`
			Code    *string `json:"code"`
		} `json:"error"`
	}{Error: struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	}{Message: e.Message, Type: typ, Code: code}})
	return &provider.Response{Status: e.Status, Header: http.Header{"Content-Type": {"application/json"}}, Body: body}
}

func errorType(status int) string {
	switch {
	case status == http.StatusUnauthorized:
		return "authentication_error"
	case status == http.StatusForbidden:
		return "permission_error"
	case status == http.StatusNotFound:
		return "not_found_error"
	case status == http.StatusTooManyRequests:
		return "rate_limit_error"
	case status >= 500:
		return "server_error"
	default:
		return "invalid_request_error"
	}
}
