package fakebedrock

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/aiproxy-go/aiproxy/internal/fakefault"
)

// anthropicVersion is the only anthropic_version Bedrock accepts in a messages body.
const anthropicVersion = "bedrock-2023-05-31"

// invokeRequest is what the fake reads of an InvokeModel body for an Anthropic model: the
// messages format, or the text completions format of Claude v2.
type invokeRequest struct {
	AnthropicVersion *string                 `json:"anthropic_version"`
	MaxTokens        *int                    `json:"max_tokens"`
	System           json.RawMessage         `json:"system"`
	Messages         []invokeMessage         `json:"messages"`
	Tools            []struct{ Name string } `json:"tools"`

	Prompt            *string `json:"prompt"`
	MaxTokensToSample *int    `json:"max_tokens_to_sample"`
}

type invokeMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// textOf reads Anthropic content: a string, or blocks of which the text ones count.
func textOf(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	if raw[0] == '"' {
		var s string
		_ = json.Unmarshal(raw, &s)
		return s
	}
	var blocks []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	_ = json.Unmarshal(raw, &blocks)
	var parts []string
	for _, b := range blocks {
		if b.Type == "text" {
			parts = append(parts, b.Text)
		}
	}
	return strings.Join(parts, "\n")
}

func malformed(detail string) string {
	return "Malformed input request: " + detail + ", please reformat your input and try again."
}

// invoke answers InvokeModel and InvokeModelWithResponseStream.
func (x *exchange) invoke() {
	var req invokeRequest
	if err := json.Unmarshal(x.body, &req); err != nil {
		x.writeError(http.StatusBadRequest, "ValidationException", malformed("expected type: JSONObject"))
		return
	}
	if req.Prompt != nil {
		x.complete(&req)
		return
	}
	switch {
	case req.AnthropicVersion == nil:
		x.writeError(http.StatusBadRequest, "ValidationException", malformed("#: required key [anthropic_version] not found"))
		return
	case *req.AnthropicVersion != anthropicVersion:
		x.writeError(http.StatusBadRequest, "ValidationException", "Invalid API version: "+*req.AnthropicVersion)
		return
	case req.MaxTokens == nil:
		x.writeError(http.StatusBadRequest, "ValidationException", malformed("#: required key [max_tokens] not found"))
		return
	case len(req.Messages) == 0:
		x.writeError(http.StatusBadRequest, "ValidationException", malformed("#/messages: expected minimum item count: 1, found: 0"))
		return
	}
	var texts []string
	if s := textOf(req.System); s != "" {
		texts = append(texts, s)
	}
	last := ""
	for _, m := range req.Messages {
		t := textOf(m.Content)
		texts = append(texts, t)
		if m.Role == "user" {
			last = t
		}
	}
	tools := make([]string, len(req.Tools))
	for i, t := range req.Tools {
		tools[i] = t.Name
	}
	text, calls, u, stop := x.f.chat(texts, last, tools, "toolu_bdrk_01")
	id := newID("msg_bdrk_01", 22, alnum)
	model := answerModel(x.modelID)
	if x.op == OpInvokeStream {
		x.messagesStream(id, model, text, calls, u, stop)
		return
	}
	content := []map[string]any{}
	if text != "" {
		content = append(content, map[string]any{"type": "text", "text": text})
	}
	for _, c := range calls {
		content = append(content, map[string]any{"type": "tool_use", "id": c.id, "name": c.name, "input": json.RawMessage(c.input)})
	}
	body, _ := json.Marshal(map[string]any{
		"id": id, "type": "message", "role": "assistant", "model": model, "content": content,
		"stop_reason": stop, "stop_sequence": nil, "usage": u.anthropic(),
	})
	x.writeJSON(body, u.headers(x))
}

// anthropic is the usage object of the messages format; input_tokens leaves out cached ones.
func (u usage) anthropic() map[string]any {
	return map[string]any{"input_tokens": u.input - u.cached, "cache_creation_input_tokens": 0,
		"cache_read_input_tokens": u.cached, "output_tokens": u.output}
}

// headers are the token counts InvokeModel reports in response headers.
func (u usage) headers(x *exchange) map[string]string {
	return map[string]string{
		"X-Amzn-Bedrock-Input-Token-Count":  strconv.Itoa(u.input),
		"X-Amzn-Bedrock-Output-Token-Count": strconv.Itoa(u.output),
		"X-Amzn-Bedrock-Invocation-Latency": strconv.FormatInt(latency(x.start), 10),
	}
}

// metrics is the amazon-bedrock-invocationMetrics object of a stream's last chunk.
func (u usage) metrics(x *exchange) map[string]any {
	l := latency(x.start)
	m := map[string]any{"inputTokenCount": u.input, "outputTokenCount": u.output,
		"invocationLatency": l, "firstByteLatency": max(l/2, 1)}
	if u.cached > 0 {
		m["cacheReadInputTokenCount"] = u.cached
		m["cacheWriteInputTokenCount"] = 0
	}
	return m
}

// chunk sends one chunk event: the model's own event, base64-encoded in "bytes".
func chunk(s *frameWriter, v any) bool {
	raw, _ := json.Marshal(v)
	return s.event("chunk", map[string]string{"bytes": base64.StdEncoding.EncodeToString(raw), "p": padding()}) == nil
}

func streamHeaders() map[string]string {
	return map[string]string{"X-Amzn-Bedrock-Content-Type": "application/json"}
}

// messagesStream sends Anthropic's streaming events as chunks.
func (x *exchange) messagesStream(id, model, text string, calls []call, u usage, stop string) {
	s := x.startStream(streamHeaders())
	defer s.finish()
	start := u.anthropic()
	start["output_tokens"] = 1
	if !chunk(s, map[string]any{"type": "message_start", "message": map[string]any{
		"id": id, "type": "message", "role": "assistant", "model": model, "content": []any{},
		"stop_reason": nil, "stop_sequence": nil, "usage": start}}) {
		return
	}
	idx := 0
	if text != "" {
		if !chunk(s, map[string]any{"type": "content_block_start", "index": idx, "content_block": map[string]any{"type": "text", "text": ""}}) {
			return
		}
		for _, piece := range fakefault.Split(text, x.f.Chunks) {
			if !chunk(s, map[string]any{"type": "content_block_delta", "index": idx, "delta": map[string]any{"type": "text_delta", "text": piece}}) {
				return
			}
		}
		if !chunk(s, map[string]any{"type": "content_block_stop", "index": idx}) {
			return
		}
		idx++
	}
	for _, c := range calls {
		if !chunk(s, map[string]any{"type": "content_block_start", "index": idx,
			"content_block": map[string]any{"type": "tool_use", "id": c.id, "name": c.name, "input": map[string]any{}}}) {
			return
		}
		for _, piece := range fakefault.Split(c.input, x.f.Chunks) {
			if !chunk(s, map[string]any{"type": "content_block_delta", "index": idx,
				"delta": map[string]any{"type": "input_json_delta", "partial_json": piece}}) {
				return
			}
		}
		if !chunk(s, map[string]any{"type": "content_block_stop", "index": idx}) {
			return
		}
		idx++
	}
	if !chunk(s, map[string]any{"type": "message_delta", "delta": map[string]any{"stop_reason": stop, "stop_sequence": nil},
		"usage": map[string]any{"output_tokens": u.output}}) {
		return
	}
	chunk(s, map[string]any{"type": "message_stop", "amazon-bedrock-invocationMetrics": u.metrics(x)})
}

// legacyStop is the stop sequence of the text completions format.
const legacyStop = "\n\nHuman:"

// complete answers the text completions format of Claude v2: a prompt of "Human:" and
// "Assistant:" turns.
func (x *exchange) complete(req *invokeRequest) {
	if req.MaxTokensToSample == nil {
		x.writeError(http.StatusBadRequest, "ValidationException", malformed("#: required key [max_tokens_to_sample] not found"))
		return
	}
	prompt := *req.Prompt
	if !strings.Contains(prompt, "Human:") {
		x.writeError(http.StatusBadRequest, "ValidationException", `Invalid prompt: prompt must start with "\n\nHuman:" turn after an optional system prompt`)
		return
	}
	last := lastHumanTurn(prompt)
	text := " " + x.f.ReplyText(replyPrefix+last)
	u := x.f.newUsage(promptTokens([]string{prompt}, 0), text, nil)
	if x.op == OpInvokeStream {
		s := x.startStream(streamHeaders())
		defer s.finish()
		for _, piece := range fakefault.Split(text, x.f.Chunks) {
			if !chunk(s, map[string]any{"completion": piece, "stop_reason": nil, "stop": nil}) {
				return
			}
		}
		chunk(s, map[string]any{"completion": "", "stop_reason": "stop_sequence", "stop": legacyStop,
			"amazon-bedrock-invocationMetrics": u.metrics(x)})
		return
	}
	body, _ := json.Marshal(map[string]any{"type": "completion", "completion": text, "stop_reason": "stop_sequence", "stop": legacyStop})
	x.writeJSON(body, u.headers(x))
}

// lastHumanTurn is the text of the prompt's last "Human:" turn.
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
