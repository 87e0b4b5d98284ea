package bedrock

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"net/http"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/aiproxy-go/aiproxy/provider"
	"github.com/aiproxy-go/aiproxy/sse"
)

var (
	_ provider.StreamText          = (*stream)(nil)
	_ provider.StreamErrorRenderer = (*Provider)(nil)
)

// errNoText is returned by SetEventText for a frame that has no text to replace.
var errNoText = errors.New("stream frame carries no text")

// EventText returns the text of an event frame:
//
//   - ConverseStream: delta.text of a contentBlockDelta event (reasoning and tool input
//     deltas carry none);
//   - InvokeModelWithResponseStream: the text of the model's own event that a chunk carries,
//     base64-encoded, in "bytes": delta.text of an Anthropic content_block_delta with a
//     text_delta; "completion" (Claude v2 text completions); "outputText" (Titan);
//     "generation" (Llama); outputs[*].text concatenated (Mistral); choices[0].delta.content
//     (OpenAI-compatible models); "text" with "is_finished" (Cohere); and
//     contentBlockDelta.delta.text (Nova).
//
// Exception and error frames, and every other event, carry no text; an empty text counts
// as none. A frame that is not a well-formed event-stream frame carries none either.
func (s *stream) EventText(frame []byte) (string, bool) {
	f, ok := readEvent(frame)
	if !ok {
		return "", false
	}
	_, text, ok := f.slots()
	return text, ok && text != ""
}

// SetEventText returns the frame with its text replaced (with "" in the other text slots of
// a multi-output chunk) and its checksums recomputed. Its headers are kept byte for byte,
// and so is its payload outside the replaced JSON string; a chunk's "bytes" is the
// base64 of the model's event with only its text changed. A frame without a text slot is an
// error.
func (s *stream) SetEventText(frame []byte, text string) ([]byte, error) {
	f, ok := readEvent(frame)
	if !ok {
		return nil, errNoText
	}
	paths, _, ok := f.slots()
	if !ok {
		return nil, errNoText
	}
	inner, err := sjson.SetRawBytes(f.json, paths[0], sse.AppendJSONString(nil, text))
	if err != nil {
		return nil, err
	}
	for _, p := range paths[1:] {
		if inner, err = sjson.SetRawBytes(inner, p, []byte(`""`)); err != nil {
			return nil, err
		}
	}
	payload := inner
	if f.chunk {
		b64 := make([]byte, 0, base64.StdEncoding.EncodedLen(len(inner))+2)
		b64 = append(b64, '"')
		b64 = base64.StdEncoding.AppendEncode(b64, inner)
		b64 = append(b64, '"')
		if payload, err = sjson.SetRawBytes(f.payload, "bytes", b64); err != nil {
			return nil, err
		}
	}
	return withPayload(frame, payload)
}

// textEvent is an event frame read for its text.
type textEvent struct {
	payload []byte // the frame's payload
	chunk   bool   // an InvokeModelWithResponseStream chunk: json is the decoded "bytes"
	json    []byte // the JSON that holds the text
}

// readEvent reads an event frame whose lengths and checksums are right.
func readEvent(frame []byte) (textEvent, bool) {
	n, err := frameLength(frame)
	if err != nil || n != len(frame) || crc32.ChecksumIEEE(frame[:n-4]) != binary.BigEndian.Uint32(frame[n-4:]) {
		return textEvent{}, false
	}
	if mt, _ := headerValue(frame, ":message-type"); string(mt) != "event" {
		return textEvent{}, false
	}
	typ, _ := headerValue(frame, ":event-type")
	payload := payloadOf(frame)
	switch string(typ) {
	case "contentBlockDelta":
		return textEvent{payload: payload, json: payload}, true
	case "chunk":
		inner, ok := chunkBytes(payload)
		if !ok {
			return textEvent{}, false
		}
		return textEvent{payload: payload, chunk: true, json: inner}, true
	}
	return textEvent{}, false
}

// slots returns the paths of the JSON strings that hold the event's text, and the text.
func (f textEvent) slots() (paths []string, text string, ok bool) {
	data := f.json
	if len(data) == 0 || data[0] != '{' {
		return nil, "", false
	}
	one := func(path string) ([]string, string, bool) {
		v := gjson.GetBytes(data, path)
		if v.Type != gjson.String {
			return nil, "", false
		}
		return []string{path}, v.Str, true
	}
	if !f.chunk {
		return one("delta.text")
	}
	// The formats in the order summarizeStream tries them.
	switch t := gjson.GetBytes(data, "type"); {
	case t.Str == "content_block_delta":
		if gjson.GetBytes(data, "delta.type").Str != "text_delta" {
			return nil, "", false
		}
		return one("delta.text")
	case t.Exists() && t.Str != "":
		return nil, "", false
	}
	for _, path := range []string{"completion", "outputText", "generation"} {
		if paths, text, ok := one(path); ok {
			return paths, text, true
		}
	}
	if outs := gjson.GetBytes(data, "outputs"); outs.IsArray() && len(outs.Array()) > 0 {
		var b strings.Builder
		for i, o := range outs.Array() {
			if t := o.Get("text"); t.Type == gjson.String {
				paths = append(paths, "outputs."+strconv.Itoa(i)+".text")
				b.WriteString(t.Str)
			}
		}
		return paths, b.String(), len(paths) > 0
	}
	if c := gjson.GetBytes(data, "choices"); c.IsArray() && len(c.Array()) > 0 {
		return one("choices.0.delta.content")
	}
	if gjson.GetBytes(data, "is_finished").Exists() {
		return one("text")
	}
	return one("contentBlockDelta.delta.text")
}

// withPayload returns frame with another payload: the same headers, byte for byte, and new
// lengths and checksums.
func withPayload(frame, payload []byte) ([]byte, error) {
	hl := int(binary.BigEndian.Uint32(frame[4:8]))
	total := preludeLen + hl + len(payload) + 4
	if total > maxFrameLen {
		return nil, errors.New("stream frame with the new text is too long")
	}
	out := make([]byte, total)
	binary.BigEndian.PutUint32(out[0:4], uint32(total))
	binary.BigEndian.PutUint32(out[4:8], uint32(hl))
	binary.BigEndian.PutUint32(out[8:12], crc32.ChecksumIEEE(out[:8]))
	copy(out[preludeLen:], frame[preludeLen:preludeLen+hl])
	copy(out[preludeLen+hl:], payload)
	binary.BigEndian.PutUint32(out[total-4:], crc32.ChecksumIEEE(out[:total-4]))
	return out, nil
}

// streamExceptions are the exceptions that both ConverseStream and
// InvokeModelWithResponseStream declare in their event streams, so that the AWS SDKs
// return them as typed errors.
var streamExceptions = []string{
	"internalServerException", "modelStreamErrorException", "validationException",
	"throttlingException", "serviceUnavailableException",
}

// StreamError renders an error as the exception frame with which Bedrock ends a stream that
// failed after its 200: headers :message-type exception, :exception-type and
// :content-type application/json, and {"message":...} as the payload. The exception is e.Type
// when it names one of the stream's exceptions (ThrottlingException or throttlingException),
// else the one of e.Status: 429 throttlingException, 424 modelStreamErrorException, 502, 503
// and 504 serviceUnavailableException, other 5xx internalServerException, any other status
// validationException. The bedrockruntime SDK returns it from the stream's Err as
// *types.ThrottlingException, *types.ValidationException, ...
func (p *Provider) StreamError(req *provider.Request, e *provider.Error) []byte {
	typ := streamException(e)
	payload, _ := json.Marshal(struct {
		Message string `json:"message"`
	}{e.Message})
	var msg eventstream.Message
	msg.Headers.Set(":exception-type", eventstream.StringValue(typ))
	msg.Headers.Set(":content-type", eventstream.StringValue("application/json"))
	msg.Headers.Set(":message-type", eventstream.StringValue("exception"))
	msg.Payload = payload
	var b bytes.Buffer
	// Encoding into memory fails only for headers or a payload over the format's limits,
	// which a message of one string cannot reach short of 16 MiB.
	if err := eventstream.NewEncoder().Encode(&b, msg); err != nil {
		return nil
	}
	return b.Bytes()
}

// streamException returns the :exception-type of an error's exception frame.
func streamException(e *provider.Error) string {
	for _, t := range streamExceptions {
		if strings.EqualFold(e.Type, t) {
			return t
		}
	}
	switch {
	case e.Status == http.StatusTooManyRequests:
		return "throttlingException"
	case e.Status == http.StatusFailedDependency:
		return "modelStreamErrorException"
	case e.Status == http.StatusBadGateway, e.Status == http.StatusServiceUnavailable, e.Status == http.StatusGatewayTimeout:
		return "serviceUnavailableException"
	case e.Status >= 500:
		return "internalServerException"
	}
	return "validationException"
}
