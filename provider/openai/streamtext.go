package openai

import (
	"errors"
	"strconv"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/aiproxy-go/aiproxy/provider"
	"github.com/aiproxy-go/aiproxy/sse"
)

var (
	_ provider.StreamText          = (*stream)(nil)
	_ provider.StreamErrorRenderer = (*Provider)(nil)
	_ provider.StreamErrorRenderer = (*Azure)(nil)
)

// errNoText is returned by SetEventText for an event that has no text to replace.
var errNoText = errors.New("stream event carries no text")

// EventText returns the text delta of an event of any of the three streams the API sends:
//
//   - chat completions: choices[i].delta.content of the first choice whose content is a
//     non-empty string (with n > 1 each chunk usually carries one choice, whatever its
//     index);
//   - legacy completions: choices[i].text, chosen the same way;
//   - the Responses API: the delta of a response.output_text.delta event.
//
// Refusals, reasoning, tool-call arguments, usage and the [DONE] event carry no text. An
// empty text counts as none, so the role chunk ({"role":"assistant","content":""}) is not a
// text event.
func (s *stream) EventText(ev []byte) (string, bool) {
	_, text, ok := textSlot(sse.Data(ev))
	return text, ok && text != ""
}

// SetEventText replaces the text EventText reads, or, when the event's text is empty, the
// first empty text slot of the same kind (the content "" of a role chunk), so that a filter
// can also give text to such an event. Only the JSON string's bytes change: the rest of the
// event, its SSE fields and line ends included, is kept byte for byte. An event with no text
// slot at all is an error.
func (s *stream) SetEventText(ev []byte, text string) ([]byte, error) {
	out, err := sse.EditData(ev, func(data []byte) ([]byte, error) {
		slot, _, ok := textSlot(data)
		if !ok {
			return nil, errNoText
		}
		return sjson.SetRawBytes(data, slot.String(), sse.AppendJSONString(nil, text))
	})
	if errors.Is(err, sse.ErrNoData) {
		return nil, errNoText
	}
	return out, err
}

// textSlot finds the string that holds an event's text: the first non-empty one, else the
// first that exists. ok is false when the event has none.
func textSlot(data []byte) (slot textPath, text string, ok bool) {
	if len(data) == 0 || data[0] != '{' {
		return slot, "", false
	}
	if t := gjson.GetBytes(data, "type"); t.Type == gjson.String {
		if t.Str != "response.output_text.delta" {
			return slot, "", false
		}
		d := gjson.GetBytes(data, "delta")
		if d.Type != gjson.String {
			return slot, "", false
		}
		return textPath{choice: -1, field: "delta"}, d.Str, true
	}
	choices := gjson.GetBytes(data, "choices")
	if !choices.IsArray() {
		return slot, "", false
	}
	i := 0
	choices.ForEach(func(_, c gjson.Result) bool {
		var v gjson.Result
		var field string
		if d := c.Get("delta"); d.IsObject() {
			v, field = d.Get("content"), "delta.content"
		} else {
			v, field = c.Get("text"), "text"
		}
		if v.Type == gjson.String && (!ok || (text == "" && v.Str != "")) {
			slot, text, ok = textPath{choice: i, field: field}, v.Str, true
		}
		i++
		return !ok || text == ""
	})
	return slot, text, ok
}

// textPath is where textSlot found the text: a field of the event, or of one of its
// choices.
type textPath struct {
	choice int // index in choices, -1 for a top-level field
	field  string
}

// String returns the path in gjson and sjson syntax.
func (p textPath) String() string {
	if p.choice < 0 {
		return p.field
	}
	return "choices." + strconv.Itoa(p.choice) + "." + p.field
}

// StreamError renders an error as the SSE event with which the API ends a stream that
// failed after its 200: data: {"error":{"message","type","param","code"}}. openai-go and
// the Python SDK raise it as an error from the stream, for every endpoint.
func (p *Provider) StreamError(req *provider.Request, e *provider.Error) []byte {
	return errorEvent(p.Error(req, e).Body)
}

// StreamError renders an error as OpenAI's stream error event, with Azure's error body (a
// code always set, see Azure.Error).
func (a *Azure) StreamError(req *provider.Request, e *provider.Error) []byte {
	return errorEvent(a.Error(req, e).Body)
}

func errorEvent(body []byte) []byte {
	out := make([]byte, 0, len(body)+8)
	out = append(out, "data: "...)
	out = append(out, body...)
	return append(out, "\n\n"...)
}
