package fakebedrock

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/aiproxy-go/aiproxy/internal/fakefault"
)

// converseRequest is what the fake reads of a Converse request.
type converseRequest struct {
	Messages []struct {
		Role    string          `json:"role"`
		Content []converseBlock `json:"content"`
	} `json:"messages"`
	System []struct {
		Text string `json:"text"`
	} `json:"system"`
	ToolConfig *struct {
		Tools []struct {
			ToolSpec *struct {
				Name string `json:"name"`
			} `json:"toolSpec"`
		} `json:"tools"`
	} `json:"toolConfig"`
}

type converseBlock struct {
	Text    *string         `json:"text"`
	ToolUse json.RawMessage `json:"toolUse"`
}

// converse answers Converse and ConverseStream.
func (x *exchange) converse() {
	var req converseRequest
	if err := json.Unmarshal(x.body, &req); err != nil {
		x.writeError(http.StatusBadRequest, "ValidationException", "Malformed input request, please reformat your input and try again.")
		return
	}
	if len(req.Messages) == 0 {
		x.writeError(http.StatusBadRequest, "ValidationException", "A conversation must start with a user message. Try again with a conversation that starts with a user message.")
		return
	}
	var texts []string
	for _, s := range req.System {
		texts = append(texts, s.Text)
	}
	last := ""
	for _, m := range req.Messages {
		var parts []string
		for _, c := range m.Content {
			if c.Text != nil {
				parts = append(parts, *c.Text)
			}
		}
		t := strings.Join(parts, "\n")
		texts = append(texts, t)
		if m.Role == "user" {
			last = t
		}
	}
	var tools []string
	if req.ToolConfig != nil {
		for _, t := range req.ToolConfig.Tools {
			if t.ToolSpec != nil {
				tools = append(tools, t.ToolSpec.Name)
			}
		}
	}
	text, calls, u, stop := x.f.chat(texts, last, tools, "tooluse_")
	if x.op == OpConverseStream {
		x.converseStream(text, calls, u, stop)
		return
	}
	var content []map[string]any
	if text != "" {
		content = append(content, map[string]any{"text": text})
	}
	for _, c := range calls {
		content = append(content, map[string]any{"toolUse": map[string]any{
			"toolUseId": c.id, "name": c.name, "input": json.RawMessage(c.input)}})
	}
	body, _ := json.Marshal(map[string]any{
		"metrics":    map[string]any{"latencyMs": latency(x.start)},
		"output":     map[string]any{"message": map[string]any{"content": content, "role": "assistant"}},
		"stopReason": stop,
		"usage":      u.converse(),
	})
	x.writeJSON(body, nil)
}

// converse is the Converse usage object; inputTokens leaves out the cached tokens.
func (u usage) converse() map[string]any {
	m := map[string]any{"inputTokens": u.input - u.cached, "outputTokens": u.output, "totalTokens": u.input + u.output}
	if u.cached > 0 {
		m["cacheReadInputTokens"] = u.cached
		m["cacheWriteInputTokens"] = 0
	}
	return m
}

func latency(start time.Time) int64 { return max(time.Since(start).Milliseconds(), 1) }

// converseStream sends a ConverseStream: messageStart, a text block, a block per tool call,
// messageStop and metadata.
func (x *exchange) converseStream(text string, calls []call, u usage, stop string) {
	s := x.startStream(nil)
	defer s.finish()
	send := func(typ string, v map[string]any) bool {
		v["p"] = padding()
		return s.event(typ, v) == nil
	}
	if !send("messageStart", map[string]any{"role": "assistant"}) {
		return
	}
	idx := 0
	if text != "" {
		for _, piece := range fakefault.Split(text, x.f.Chunks) {
			if !send("contentBlockDelta", map[string]any{"contentBlockIndex": idx, "delta": map[string]any{"text": piece}}) {
				return
			}
		}
		if !send("contentBlockStop", map[string]any{"contentBlockIndex": idx}) {
			return
		}
		idx++
	}
	for _, c := range calls {
		if !send("contentBlockStart", map[string]any{"contentBlockIndex": idx,
			"start": map[string]any{"toolUse": map[string]any{"name": c.name, "toolUseId": c.id}}}) {
			return
		}
		for _, piece := range fakefault.Split(c.input, x.f.Chunks) {
			if !send("contentBlockDelta", map[string]any{"contentBlockIndex": idx,
				"delta": map[string]any{"toolUse": map[string]any{"input": piece}}}) {
				return
			}
		}
		if !send("contentBlockStop", map[string]any{"contentBlockIndex": idx}) {
			return
		}
		idx++
	}
	if !send("messageStop", map[string]any{"stopReason": stop}) {
		return
	}
	send("metadata", map[string]any{"metrics": map[string]any{"latencyMs": latency(x.start)}, "usage": u.converse()})
}
