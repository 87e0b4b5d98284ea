package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/aiproxy-go/aiproxy/provider"
	"github.com/aiproxy-go/aiproxy/sse"
)

var (
	_ provider.StreamText          = (*stream)(nil)
	_ provider.StreamErrorRenderer = (*Provider)(nil)
)

// errNoText is returned by SetEventText for an event that has no text to replace.
var errNoText = errors.New("stream event carries no text")

// EventText returns the text of a content_block_delta event whose delta is a text_delta.
// Thinking, signature, tool input (input_json_delta) and citation deltas carry no text, nor
// does any other event; an empty text counts as none.
func (s *stream) EventText(ev []byte) (string, bool) {
	text, ok := textDelta(sse.Data(ev))
	return text, ok && text != ""
}

// SetEventText replaces the text of a text_delta event, an empty one too. Only the JSON
// string's bytes change: the rest of the event, its event: line and line ends included, is
// kept byte for byte. Any other event is an error.
func (s *stream) SetEventText(ev []byte, text string) ([]byte, error) {
	return editData(ev, func(data []byte) ([]byte, error) {
		if _, ok := textDelta(data); !ok {
			return nil, errNoText
		}
		return sjson.SetRawBytes(data, "delta.text", jsonString(text))
	})
}

// textDelta returns delta.text of a content_block_delta event with a text_delta.
func textDelta(data []byte) (string, bool) {
	if len(data) == 0 || data[0] != '{' {
		return "", false
	}
	r := gjson.GetManyBytes(data, "type", "delta.type", "delta.text")
	if r[0].Str != "content_block_delta" || r[1].Str != "text_delta" || r[2].Type != gjson.String {
		return "", false
	}
	return r[2].Str, true
}

// StreamError renders an error as the event with which the API ends a stream that failed
// after its 200:
//
//	event: error
//	data: {"type":"error","error":{"type":"overloaded_error","message":"..."},"request_id":"..."}
//
// with the error type of Error. anthropic-sdk-go returns it from the stream's Err as an
// *anthropic.Error.
func (p *Provider) StreamError(req *provider.Request, e *provider.Error) []byte {
	body := p.Error(req, e).Body
	out := make([]byte, 0, len(body)+22)
	out = append(out, "event: error\ndata: "...)
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
