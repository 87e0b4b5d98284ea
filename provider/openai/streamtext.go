package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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
	return editData(ev, func(data []byte) ([]byte, error) {
		slot, _, ok := textSlot(data)
		if !ok {
			return nil, errNoText
		}
		return sjson.SetRawBytes(data, slot.String(), jsonString(text))
	})
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

// jsonString returns s as a JSON string, without escaping <, > and & as the API does not
// either. Invalid UTF-8 becomes U+FFFD.
func jsonString(s string) []byte {
	plain := true
	for i := 0; i < len(s) && plain; i++ {
		plain = s[i] >= 0x20 && s[i] < 0x80 && s[i] != '"' && s[i] != '\\'
	}
	if plain {
		// The common case, a delta of plain ASCII, needs no encoder.
		out := make([]byte, 0, len(s)+2)
		out = append(out, '"')
		out = append(out, s...)
		return append(out, '"')
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// editData returns ev with the JSON of its data replaced by edit's result. With one data
// line, as every API sends, only the value of that line changes. Data spread over several
// data lines is joined, edited, compacted to one line and written where the first data
// line was; the other data lines are dropped and every other line is kept.
func editData(ev []byte, edit func(data []byte) ([]byte, error)) ([]byte, error) {
	lines := dataLines(ev)
	switch len(lines) {
	case 0:
		return nil, errNoText
	case 1:
		v := lines[0]
		data, err := edit(ev[v[0]:v[1]])
		if err != nil {
			return nil, err
		}
		if bytes.ContainsAny(data, "\r\n") {
			return nil, errors.New("edited event data spans lines")
		}
		out := make([]byte, 0, len(ev)-(v[1]-v[0])+len(data))
		out = append(out, ev[:v[0]]...)
		out = append(out, data...)
		return append(out, ev[v[1]:]...), nil
	}
	data, err := edit(sse.Data(ev))
	if err != nil {
		return nil, err
	}
	var c bytes.Buffer
	if err := json.Compact(&c, data); err != nil {
		return nil, fmt.Errorf("edited event data: %w", err)
	}
	out := make([]byte, 0, len(ev)+c.Len())
	out = append(out, ev[:lines[0][0]]...)
	out = append(out, c.Bytes()...)
	prev := lines[0][1]
	for _, v := range lines[1:] {
		// Drop the whole data line: from the end of the previous kept text, through the
		// previous line's end, up to the end of this value.
		out = append(out, ev[prev:lineStart(ev, v[0])]...)
		prev = v[1]
		prev += eolLen(ev[prev:])
	}
	return append(out, ev[prev:]...), nil
}

// dataLines returns the bounds of the value of each data line of an event, up to the blank
// line that ends it.
func dataLines(ev []byte) [][2]int {
	var out [][2]int
	i := 0
	if bytes.HasPrefix(ev, []byte("\xEF\xBB\xBF")) {
		i = 3
	}
	for i < len(ev) {
		j := i
		for j < len(ev) && ev[j] != '\n' && ev[j] != '\r' {
			j++
		}
		if j == i {
			break // the blank line that ends the event
		}
		line := ev[i:j]
		if bytes.HasPrefix(line, []byte("data")) && (len(line) == 4 || line[4] == ':') {
			start := min(i+5, j)
			if start < j && ev[start] == ' ' {
				start++
			}
			out = append(out, [2]int{start, j})
		}
		i = j + eolLen(ev[j:])
	}
	return out
}

// lineStart returns where the line holding position i starts.
func lineStart(ev []byte, i int) int {
	for i > 0 && ev[i-1] != '\n' && ev[i-1] != '\r' {
		i--
	}
	return i
}

// eolLen returns the length of the line end at the start of b: 2 for "\r\n", 1 for "\r" or
// "\n", 0 at the end.
func eolLen(b []byte) int {
	switch {
	case len(b) == 0:
		return 0
	case b[0] == '\r' && len(b) > 1 && b[1] == '\n':
		return 2
	}
	return 1
}
