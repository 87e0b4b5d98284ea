package fakeupstream

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/aiproxy-go/aiproxy/internal/fakefault"
)

// responsesRequest is what the fake reads of a Responses API request.
type responsesRequest struct {
	Model              string          `json:"model"`
	Input              json.RawMessage `json:"input"`
	Instructions       *string         `json:"instructions"`
	Stream             bool            `json:"stream"`
	StreamOptions      *streamOptions  `json:"stream_options"`
	Tools              json.RawMessage `json:"tools"`
	ToolChoice         json.RawMessage `json:"tool_choice"`
	Store              *bool           `json:"store"`
	Temperature        *float64        `json:"temperature"`
	TopP               *float64        `json:"top_p"`
	MaxOutputTokens    *int            `json:"max_output_tokens"`
	PreviousResponseID *string         `json:"previous_response_id"`
	ParallelToolCalls  *bool           `json:"parallel_tool_calls"`
	Metadata           json.RawMessage `json:"metadata"`
	User               *string         `json:"user"`
	Reasoning          *struct {
		Effort  *string `json:"effort"`
		Summary *string `json:"summary"`
	} `json:"reasoning"`
}

// inputItem is an item of a Responses API input array; only messages
// matter to the fake.
type inputItem struct {
	Type    string `json:"type"`
	Role    string `json:"role"`
	Content text   `json:"content"`
}

// response is the Responses API's response object, fields in the real
// API's order.
type response struct {
	ID                 string          `json:"id"`
	Object             string          `json:"object"`
	CreatedAt          int64           `json:"created_at"`
	Status             string          `json:"status"`
	Background         bool            `json:"background"`
	Error              *struct{}       `json:"error"`
	IncompleteDetails  *struct{}       `json:"incomplete_details"`
	Instructions       *string         `json:"instructions"`
	MaxOutputTokens    *int            `json:"max_output_tokens"`
	MaxToolCalls       *int            `json:"max_tool_calls"`
	Model              string          `json:"model"`
	Output             []outputItem    `json:"output"`
	ParallelToolCalls  bool            `json:"parallel_tool_calls"`
	PreviousResponseID *string         `json:"previous_response_id"`
	PromptCacheKey     *string         `json:"prompt_cache_key"`
	Reasoning          reasoningConfig `json:"reasoning"`
	SafetyIdentifier   *string         `json:"safety_identifier"`
	ServiceTier        string          `json:"service_tier"`
	Store              bool            `json:"store"`
	Temperature        float64         `json:"temperature"`
	Text               textConfig      `json:"text"`
	ToolChoice         json.RawMessage `json:"tool_choice"`
	Tools              json.RawMessage `json:"tools"`
	TopLogprobs        int             `json:"top_logprobs"`
	TopP               float64         `json:"top_p"`
	Truncation         string          `json:"truncation"`
	Usage              *responseUsage  `json:"usage"`
	User               *string         `json:"user"`
	Metadata           json.RawMessage `json:"metadata"`
}

// reasoningConfig is the reasoning configuration echoed in a response.
type reasoningConfig struct {
	Effort  *string `json:"effort"`
	Summary *string `json:"summary"`
}

// textConfig is the text configuration echoed in a response.
type textConfig struct {
	Format struct {
		Type string `json:"type"`
	} `json:"format"`
	Verbosity string `json:"verbosity"`
}

// outputItem is an item of a response's output: a message, a reasoning
// item or a function call, each with only its own fields.
type outputItem struct {
	ID        string         `json:"id"`
	Type      string         `json:"type"`
	Summary   *[]struct{}    `json:"summary,omitempty"`
	Status    string         `json:"status,omitempty"`
	Content   *[]contentPart `json:"content,omitempty"`
	Role      string         `json:"role,omitempty"`
	Arguments *string        `json:"arguments,omitempty"`
	CallID    string         `json:"call_id,omitempty"`
	Name      string         `json:"name,omitempty"`
}

// contentPart is a part of a message's content.
type contentPart struct {
	Type        string     `json:"type"`
	Annotations []struct{} `json:"annotations"`
	Logprobs    []struct{} `json:"logprobs"`
	Text        string     `json:"text"`
}

// outputText returns an output_text part.
func outputText(s string) contentPart {
	return contentPart{Type: "output_text", Annotations: []struct{}{}, Logprobs: []struct{}{}, Text: s}
}

// responses answers POST /responses.
func (x *exchange) responses() {
	var req responsesRequest
	if !x.readJSON(&req) || !x.requireModel(req.Model) {
		return
	}
	var texts []string
	last := ""
	input := bytes.TrimSpace(req.Input)
	switch {
	case len(input) > 0 && input[0] == '"':
		var s string
		if !x.readInput(input, &s) {
			return
		}
		texts, last = []string{s}, s
	case len(input) > 0 && input[0] == '[':
		var items []inputItem
		if !x.readInput(input, &items) {
			return
		}
		for _, it := range items {
			texts = append(texts, string(it.Content))
			if it.Role == "user" {
				last = string(it.Content)
			}
		}
	case req.PreviousResponseID == nil:
		x.writeError(http.StatusBadRequest, "Missing required parameter: 'input'.", "invalid_request_error", "input", "missing_required_parameter")
		return
	}
	if req.Instructions != nil {
		texts = append(texts, *req.Instructions)
	}
	var tools []tool
	if len(req.Tools) > 0 && req.Tools[0] == '[' {
		if !x.readInput(req.Tools, &tools) {
			return
		}
	}

	resp := response{
		ID:                 newID("resp_", 48, hexDigits),
		Object:             "response",
		CreatedAt:          time.Now().Unix(),
		Status:             "in_progress",
		Instructions:       req.Instructions,
		MaxOutputTokens:    req.MaxOutputTokens,
		Model:              req.Model,
		Output:             []outputItem{},
		ParallelToolCalls:  req.ParallelToolCalls == nil || *req.ParallelToolCalls,
		PreviousResponseID: req.PreviousResponseID,
		ServiceTier:        "auto",
		Store:              req.Store == nil || *req.Store,
		Temperature:        1,
		ToolChoice:         orRaw(req.ToolChoice, `"auto"`),
		Tools:              orRaw(req.Tools, `[]`),
		TopP:               1,
		Truncation:         "disabled",
		User:               req.User,
		Metadata:           orRaw(req.Metadata, `{}`),
	}
	resp.Text.Format.Type = "text"
	resp.Text.Verbosity = "medium"
	if req.Temperature != nil {
		resp.Temperature = *req.Temperature
	}
	if req.TopP != nil {
		resp.TopP = *req.TopP
	}
	reasoning := isReasoningModel(req.Model)
	if req.Reasoning != nil {
		resp.Reasoning = reasoningConfig{req.Reasoning.Effort, req.Reasoning.Summary}
	} else if reasoning {
		medium := "medium"
		resp.Reasoning.Effort = &medium
	}

	var (
		calls []toolCall
		reply string
	)
	if k := x.f.ToolCallCount(len(tools), last); k > 0 {
		calls = makeToolCalls(tools, k)
	} else {
		reply = x.f.ReplyText(replyPrefix + last)
	}
	u := x.f.newUsage(req.Model, promptTokens(texts, len(tools)), reply, calls)

	// The finished output, and alongside it the ids that the stream uses.
	var output []outputItem
	if reasoning {
		output = append(output, outputItem{ID: newID("rs_", 48, hexDigits), Type: "reasoning", Summary: &[]struct{}{}})
	}
	for _, c := range calls {
		args := c.Function.Arguments
		output = append(output, outputItem{ID: newID("fc_", 48, hexDigits), Type: "function_call", Status: "completed", Arguments: &args, CallID: c.ID, Name: c.Function.Name})
	}
	if len(calls) == 0 {
		output = append(output, outputItem{ID: newID("msg_", 48, hexDigits), Type: "message", Status: "completed", Content: &[]contentPart{outputText(reply)}, Role: "assistant"})
	}

	if req.Stream {
		x.streamResponse(&resp, output, reply, u, req.StreamOptions.obfuscate())
		return
	}
	resp.Status = "completed"
	resp.ServiceTier = "default"
	resp.Output = output
	resp.Usage = u.response()
	x.writeJSON(http.StatusOK, marshalIndent(&resp))
}

// readInput decodes part of the request, answering 400 when it has the
// wrong shape.
func (x *exchange) readInput(b []byte, v any) bool {
	if err := json.Unmarshal(b, v); err != nil {
		x.writeError(http.StatusBadRequest, "Invalid request body: "+err.Error(), "invalid_request_error", "", "")
		return false
	}
	return true
}

// orRaw returns b, or def when b is absent or null.
func orRaw(b json.RawMessage, def string) json.RawMessage {
	if len(b) == 0 || string(b) == "null" {
		return json.RawMessage(def)
	}
	return b
}

// streamResponse sends a response as the real API streams it: created,
// in_progress, then for each output item its added event, its deltas and
// its done events, then completed with the whole response. Every event has
// an "event:" line and a sequence_number; there is no [DONE].
func (x *exchange) streamResponse(resp *response, output []outputItem, reply string, u usage, obfuscate bool) {
	s := x.startStream()
	var (
		b  []byte // the data of the event being built
		sq int    // sequence number
	)
	// begin starts the data of an event of type typ.
	begin := func(typ string) {
		b = append(b[:0], `{"type":"`...)
		b = append(b, typ...)
		b = append(b, `","sequence_number":`...)
		b = strconv.AppendInt(b, int64(sq), 10)
	}
	// end sends the event begun by begin.
	end := func(typ string) error {
		b = append(b, '}')
		s.buf = append(s.buf[:0], "event: "...)
		s.buf = append(s.buf, typ...)
		s.buf = append(s.buf, "\ndata: "...)
		s.buf = append(s.buf, b...)
		s.buf = append(s.buf, "\n\n"...)
		sq++
		return s.send()
	}
	withResponse := func(typ string) error {
		begin(typ)
		b = append(b, `,"response":`...)
		b = append(b, marshal(resp)...)
		return end(typ)
	}
	withItem := func(typ string, idx int, it *outputItem) error {
		begin(typ)
		b = append(b, `,"output_index":`...)
		b = strconv.AppendInt(b, int64(idx), 10)
		b = append(b, `,"item":`...)
		b = append(b, marshal(it)...)
		return end(typ)
	}
	// inItem appends the fields that place an event inside an item.
	inItem := func(id string, idx int, content bool) {
		b = append(b, `,"item_id":"`...)
		b = append(b, id...)
		b = append(b, `","output_index":`...)
		b = strconv.AppendInt(b, int64(idx), 10)
		if content {
			b = append(b, `,"content_index":0`...)
		}
	}
	withPart := func(typ string, id string, idx int, p contentPart) error {
		begin(typ)
		inItem(id, idx, true)
		b = append(b, `,"part":`...)
		b = append(b, marshal(p)...)
		return end(typ)
	}

	if withResponse("response.created") != nil || withResponse("response.in_progress") != nil {
		return
	}
	for idx := range output {
		item := output[idx]
		switch item.Type {
		case "reasoning":
			if withItem("response.output_item.added", idx, &item) != nil ||
				withItem("response.output_item.done", idx, &item) != nil {
				return
			}
		case "function_call":
			args := *item.Arguments
			empty := ""
			added := item
			added.Status, added.Arguments = "in_progress", &empty
			if withItem("response.output_item.added", idx, &added) != nil {
				return
			}
			for _, frag := range fakefault.Split(args, x.f.Chunks) {
				begin("response.function_call_arguments.delta")
				inItem(item.ID, idx, false)
				b = append(b, `,"delta":`...)
				b = appendString(b, frag)
				if obfuscate {
					b = appendObfuscation(b, len(frag), sq)
				}
				if end("response.function_call_arguments.delta") != nil {
					return
				}
			}
			begin("response.function_call_arguments.done")
			inItem(item.ID, idx, false)
			b = append(b, `,"arguments":`...)
			b = appendString(b, args)
			if end("response.function_call_arguments.done") != nil ||
				withItem("response.output_item.done", idx, &item) != nil {
				return
			}
		case "message":
			added := item
			added.Status, added.Content = "in_progress", &[]contentPart{}
			if withItem("response.output_item.added", idx, &added) != nil ||
				withPart("response.content_part.added", item.ID, idx, outputText("")) != nil {
				return
			}
			for _, piece := range fakefault.Split(reply, x.f.Chunks) {
				begin("response.output_text.delta")
				inItem(item.ID, idx, true)
				b = append(b, `,"delta":`...)
				b = appendString(b, piece)
				b = append(b, `,"logprobs":[]`...)
				if obfuscate {
					b = appendObfuscation(b, len(piece), sq)
				}
				if end("response.output_text.delta") != nil {
					return
				}
			}
			begin("response.output_text.done")
			inItem(item.ID, idx, true)
			b = append(b, `,"text":`...)
			b = appendString(b, reply)
			b = append(b, `,"logprobs":[]`...)
			if end("response.output_text.done") != nil ||
				withPart("response.content_part.done", item.ID, idx, outputText(reply)) != nil ||
				withItem("response.output_item.done", idx, &item) != nil {
				return
			}
		}
	}
	resp.Status = "completed"
	resp.ServiceTier = "default"
	resp.Output = output
	resp.Usage = u.response()
	_ = withResponse("response.completed")
}
