package bedrock

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/aiproxy-go/aiproxy/provider"
)

// Render renders a reply in the wire format of the request's operation: a Converse
// response, or for InvokeModel the response of the request body's own format (Anthropic
// messages, the completion of a Claude v2 prompt, Nova, Titan, Llama, Mistral). A streaming
// request gets a real event stream: ConverseStream events, or chunk events whose base64
// bytes hold the model's streaming events and, last, the invocation metrics.
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
	st := p.stateOf(req)
	rr := newReplyRender(r, req.Model)
	if isConverseOp(st.op) {
		if req.Stream {
			return rr.converseStream()
		}
		return rr.converse()
	}
	if req.Stream {
		return rr.invokeStream(st.format)
	}
	return rr.invoke(st.format)
}

// replyRender renders one reply.
type replyRender struct {
	r       *provider.Reply
	model   string
	in, out int // input tokens without the cached ones, output tokens
	cached  int
	frames  *frameEncoder
}

func newReplyRender(r *provider.Reply, model string) *replyRender {
	rr := &replyRender{r: r, model: model}
	if r.Model != "" {
		rr.model = r.Model
	}
	if u := r.Usage; u != nil {
		rr.cached = min(u.CachedTokens, u.InputTokens)
		rr.in, rr.out = u.InputTokens-rr.cached, u.OutputTokens
	}
	return rr
}

// hasText reports whether the reply has a text block: its text, or an empty one when it has
// nothing else.
func (rr *replyRender) hasText() bool { return rr.r.Text != "" || len(rr.r.ToolCalls) == 0 }

func (rr *replyRender) stopReason() string {
	if len(rr.r.ToolCalls) > 0 {
		return "tool_use"
	}
	return "end_turn"
}

func jsonResponse(body []byte, h http.Header) *provider.Response {
	if h == nil {
		h = http.Header{}
	}
	h.Set("Content-Type", "application/json")
	return &provider.Response{Status: http.StatusOK, Header: h, Body: body}
}

func mustMarshal(v any) []byte {
	b, _ := marshal(v)
	return b
}

// toolInput is a tool call's arguments as the JSON object Bedrock carries: the arguments
// themselves when they are an object, {} when empty, else the text under "arguments".
func toolInput(args string) json.RawMessage {
	t := strings.TrimSpace(args)
	if t == "" {
		return json.RawMessage("{}")
	}
	if strings.HasPrefix(t, "{") && json.Valid([]byte(t)) {
		return json.RawMessage(compactJSON(json.RawMessage(t)))
	}
	return mustMarshal(map[string]string{"arguments": args})
}

func toolID(id, prefix string) string {
	if id != "" {
		return id
	}
	return prefix + randomID()
}

func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return strings.TrimRight(base64.RawURLEncoding.EncodeToString(b[:]), "=")
}

// converseUsage is the Converse usage object.
func (rr *replyRender) converseUsage() map[string]any {
	u := map[string]any{"inputTokens": rr.in, "outputTokens": rr.out, "totalTokens": rr.in + rr.cached + rr.out}
	if rr.cached > 0 {
		u["cacheReadInputTokens"] = rr.cached
		u["cacheWriteInputTokens"] = 0
	}
	return u
}

// converseContent is the content of a Converse (and Nova) message.
func (rr *replyRender) converseContent() []any {
	var blocks []any
	if rr.hasText() {
		blocks = append(blocks, map[string]any{"text": rr.r.Text})
	}
	for _, tc := range rr.r.ToolCalls {
		blocks = append(blocks, map[string]any{"toolUse": map[string]any{
			"toolUseId": toolID(tc.ID, "tooluse_"), "name": tc.Function.Name, "input": toolInput(tc.Function.Arguments)}})
	}
	return blocks
}

func (rr *replyRender) converseBody() map[string]any {
	return map[string]any{
		"output":     map[string]any{"message": map[string]any{"role": "assistant", "content": rr.converseContent()}},
		"stopReason": rr.stopReason(),
		"usage":      rr.converseUsage(),
		"metrics":    map[string]any{"latencyMs": 0},
	}
}

func (rr *replyRender) converse() *provider.Response {
	return jsonResponse(mustMarshal(rr.converseBody()), nil)
}

// converseEvents are the ConverseStream events of the reply, in order, as (type, payload).
func (rr *replyRender) converseEvents(emit func(typ string, v map[string]any)) {
	emit("messageStart", map[string]any{"role": "assistant"})
	idx := 0
	if rr.hasText() {
		if rr.r.Text != "" {
			emit("contentBlockDelta", map[string]any{"contentBlockIndex": idx, "delta": map[string]any{"text": rr.r.Text}})
		}
		emit("contentBlockStop", map[string]any{"contentBlockIndex": idx})
		idx++
	}
	for _, tc := range rr.r.ToolCalls {
		emit("contentBlockStart", map[string]any{"contentBlockIndex": idx,
			"start": map[string]any{"toolUse": map[string]any{"toolUseId": toolID(tc.ID, "tooluse_"), "name": tc.Function.Name}}})
		emit("contentBlockDelta", map[string]any{"contentBlockIndex": idx,
			"delta": map[string]any{"toolUse": map[string]any{"input": string(toolInput(tc.Function.Arguments))}}})
		emit("contentBlockStop", map[string]any{"contentBlockIndex": idx})
		idx++
	}
	emit("messageStop", map[string]any{"stopReason": rr.stopReason()})
}

func (rr *replyRender) converseStream() *provider.Response {
	f := newFrameEncoder()
	rr.converseEvents(func(typ string, v map[string]any) { f.event(typ, v) })
	f.event("metadata", map[string]any{"usage": rr.converseUsage(), "metrics": map[string]any{"latencyMs": 0}})
	return f.response(nil)
}

// anthropicUsage is the usage object of the Anthropic messages format.
func (rr *replyRender) anthropicUsage() map[string]any {
	return map[string]any{"input_tokens": rr.in, "cache_creation_input_tokens": 0,
		"cache_read_input_tokens": rr.cached, "output_tokens": rr.out}
}

// metrics is the amazon-bedrock-invocationMetrics object of a stream's last chunk.
func (rr *replyRender) metrics() map[string]any {
	m := map[string]any{"inputTokenCount": rr.in, "outputTokenCount": rr.out, "invocationLatency": 0, "firstByteLatency": 0}
	if rr.cached > 0 {
		m["cacheReadInputTokenCount"] = rr.cached
		m["cacheWriteInputTokenCount"] = 0
	}
	return m
}

// tokenHeaders are the token counts InvokeModel reports in response headers.
func (rr *replyRender) tokenHeaders() http.Header {
	return http.Header{
		"X-Amzn-Bedrock-Input-Token-Count":  {strconv.Itoa(rr.in + rr.cached)},
		"X-Amzn-Bedrock-Output-Token-Count": {strconv.Itoa(rr.out)},
	}
}

const legacyStop = "\n\nHuman:"

func (rr *replyRender) invoke(format bodyFormat) *provider.Response {
	var body any
	switch format {
	case formatCompletion:
		body = map[string]any{"type": "completion", "completion": rr.r.Text, "stop_reason": "stop_sequence", "stop": legacyStop}
	case formatNova:
		b := rr.converseBody()
		delete(b, "metrics")
		body = b
	case formatTitan:
		body = map[string]any{"inputTextTokenCount": rr.in + rr.cached, "results": []any{map[string]any{
			"tokenCount": rr.out, "outputText": rr.r.Text, "completionReason": "FINISH"}}}
	case formatLlama:
		body = map[string]any{"generation": rr.r.Text, "prompt_token_count": rr.in + rr.cached,
			"generation_token_count": rr.out, "stop_reason": "stop"}
	case formatMistral:
		body = map[string]any{"outputs": []any{map[string]any{"text": rr.r.Text, "stop_reason": "stop"}}}
	default:
		var content []any
		if rr.hasText() {
			content = append(content, map[string]any{"type": "text", "text": rr.r.Text})
		}
		for _, tc := range rr.r.ToolCalls {
			content = append(content, map[string]any{"type": "tool_use", "id": toolID(tc.ID, "toolu_bdrk_"),
				"name": tc.Function.Name, "input": toolInput(tc.Function.Arguments)})
		}
		body = map[string]any{"id": "msg_bdrk_" + randomID(), "type": "message", "role": "assistant", "model": rr.model,
			"content": content, "stop_reason": rr.stopReason(), "stop_sequence": nil, "usage": rr.anthropicUsage()}
	}
	return jsonResponse(mustMarshal(body), rr.tokenHeaders())
}

func (rr *replyRender) invokeStream(format bodyFormat) *provider.Response {
	f := newFrameEncoder()
	chunk := func(v map[string]any) {
		f.event("chunk", map[string]any{"bytes": base64.StdEncoding.EncodeToString(mustMarshal(v))})
	}
	switch format {
	case formatCompletion:
		if rr.r.Text != "" {
			chunk(map[string]any{"completion": rr.r.Text, "stop_reason": nil, "stop": nil})
		}
		chunk(map[string]any{"completion": "", "stop_reason": "stop_sequence", "stop": legacyStop,
			"amazon-bedrock-invocationMetrics": rr.metrics()})
	case formatNova:
		rr.converseEvents(func(typ string, v map[string]any) { chunk(map[string]any{typ: v}) })
		chunk(map[string]any{"metadata": map[string]any{"usage": rr.converseUsage()}, "amazon-bedrock-invocationMetrics": rr.metrics()})
	case formatTitan:
		chunk(map[string]any{"outputText": rr.r.Text, "index": 0, "totalOutputTextTokenCount": rr.out,
			"completionReason": "FINISH", "inputTextTokenCount": rr.in + rr.cached, "amazon-bedrock-invocationMetrics": rr.metrics()})
	case formatLlama:
		chunk(map[string]any{"generation": rr.r.Text, "prompt_token_count": rr.in + rr.cached, "generation_token_count": rr.out,
			"stop_reason": "stop", "amazon-bedrock-invocationMetrics": rr.metrics()})
	case formatMistral:
		chunk(map[string]any{"outputs": []any{map[string]any{"text": rr.r.Text, "stop_reason": "stop"}},
			"amazon-bedrock-invocationMetrics": rr.metrics()})
	default:
		start := rr.anthropicUsage()
		start["output_tokens"] = 0
		chunk(map[string]any{"type": "message_start", "message": map[string]any{"id": "msg_bdrk_" + randomID(), "type": "message",
			"role": "assistant", "model": rr.model, "content": []any{}, "stop_reason": nil, "stop_sequence": nil, "usage": start}})
		idx := 0
		if rr.hasText() {
			chunk(map[string]any{"type": "content_block_start", "index": idx, "content_block": map[string]any{"type": "text", "text": ""}})
			if rr.r.Text != "" {
				chunk(map[string]any{"type": "content_block_delta", "index": idx, "delta": map[string]any{"type": "text_delta", "text": rr.r.Text}})
			}
			chunk(map[string]any{"type": "content_block_stop", "index": idx})
			idx++
		}
		for _, tc := range rr.r.ToolCalls {
			chunk(map[string]any{"type": "content_block_start", "index": idx, "content_block": map[string]any{"type": "tool_use",
				"id": toolID(tc.ID, "toolu_bdrk_"), "name": tc.Function.Name, "input": map[string]any{}}})
			chunk(map[string]any{"type": "content_block_delta", "index": idx, "delta": map[string]any{"type": "input_json_delta",
				"partial_json": string(toolInput(tc.Function.Arguments))}})
			chunk(map[string]any{"type": "content_block_stop", "index": idx})
			idx++
		}
		chunk(map[string]any{"type": "message_delta", "delta": map[string]any{"stop_reason": rr.stopReason(), "stop_sequence": nil},
			"usage": map[string]any{"output_tokens": rr.out}})
		chunk(map[string]any{"type": "message_stop", "amazon-bedrock-invocationMetrics": rr.metrics()})
	}
	return f.response(http.Header{"X-Amzn-Bedrock-Content-Type": {"application/json"}})
}

// frameEncoder builds an event stream with the AWS SDK's encoder (real checksums).
type frameEncoder struct {
	enc *eventstream.Encoder
	buf bytes.Buffer
}

func newFrameEncoder() *frameEncoder { return &frameEncoder{enc: eventstream.NewEncoder()} }

// event appends an event frame whose payload is v in JSON.
func (f *frameEncoder) event(typ string, v any) {
	var m eventstream.Message
	m.Headers.Set(":event-type", eventstream.StringValue(typ))
	m.Headers.Set(":content-type", eventstream.StringValue("application/json"))
	m.Headers.Set(":message-type", eventstream.StringValue("event"))
	m.Payload = mustMarshal(v)
	_ = f.enc.Encode(&f.buf, m)
}

func (f *frameEncoder) response(h http.Header) *provider.Response {
	if h == nil {
		h = http.Header{}
	}
	h.Set("Content-Type", contentTypeEventStream)
	return &provider.Response{Status: http.StatusOK, Header: h, Body: f.buf.Bytes()}
}

// errorNamespace follows the error type in x-amzn-errortype, as Bedrock sends it.
const errorNamespace = ":http://internal.amazon.com/coral/com.amazon.bedrock/"

// Error renders AWS's error shape: the type in the x-amzn-errortype header and
// {"message":...} as the body, so that an AWS SDK returns its typed error
// (ValidationException, AccessDeniedException, ThrottlingException, ...).
func (p *Provider) Error(req *provider.Request, e *provider.Error) *provider.Response {
	typ := e.Type
	if !strings.HasSuffix(typ, "Exception") {
		typ = errorType(e.Status)
	}
	body := mustMarshal(map[string]string{"message": e.Message})
	h := http.Header{
		"Content-Type":     {"application/json"},
		"X-Amzn-Errortype": {typ + errorNamespace},
	}
	return &provider.Response{Status: e.Status, Header: h, Body: body}
}

// errorType is the AWS error type of a status.
func errorType(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "UnrecognizedClientException"
	case http.StatusForbidden:
		return "AccessDeniedException"
	case http.StatusNotFound:
		return "ResourceNotFoundException"
	case http.StatusRequestTimeout:
		return "ModelTimeoutException"
	case http.StatusConflict:
		return "ConflictException"
	case http.StatusFailedDependency:
		return "ModelErrorException"
	case http.StatusTooManyRequests:
		return "ThrottlingException"
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return "ServiceUnavailableException"
	}
	if status >= 500 {
		return "InternalServerException"
	}
	return "ValidationException"
}
