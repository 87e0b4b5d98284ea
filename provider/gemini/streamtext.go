package gemini

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/aiproxy-go/aiproxy/provider"
	"github.com/aiproxy-go/aiproxy/sse"
)

var (
	_ provider.StreamText          = sseStream{}
	_ provider.StreamText          = arrayStream{}
	_ provider.StreamErrorRenderer = (*Provider)(nil)
)

// errNoText is returned by SetEventText for an event that has no text to replace.
var errNoText = errors.New("stream event carries no text")

// EventText returns the text of an alt=sse event: the text parts of the first candidate
// that has text, concatenated; thought parts ("thought": true), function calls and any
// other part are left out. An empty text counts as none.
func (sseStream) EventText(ev []byte) (string, bool) {
	_, text, ok := textParts(sse.Data(ev))
	return text, ok && text != ""
}

// SetEventText puts text in the first text part of the candidate EventText reads (or of the
// first candidate with a text part, when all are empty) and empties its other text parts.
// Only those JSON strings change: the rest of the event, its "\r\n\r\n" included, is kept
// byte for byte. An event without a text part is an error.
func (sseStream) SetEventText(ev []byte, text string) ([]byte, error) {
	return editData(ev, func(data []byte) ([]byte, error) { return setParts(data, text) })
}

// EventText returns the text of one element of a streamed JSON array, read as for alt=sse
// events. The separator before the element ("[" or "\n,\r\n") and the closing "]" carry no
// text.
func (arrayStream) EventText(ev []byte) (string, bool) {
	k := elementStart(ev)
	_, text, ok := textParts(ev[k:])
	return text, ok && text != ""
}

// SetEventText replaces the text of one element of a streamed JSON array as for alt=sse
// events, keeping the separator before it and the element's indentation.
func (arrayStream) SetEventText(ev []byte, text string) ([]byte, error) {
	k := elementStart(ev)
	if !json.Valid(ev[k:]) {
		return nil, errNoText
	}
	el, err := setParts(ev[k:], text)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, k+len(el))
	out = append(out, ev[:k]...)
	return append(out, el...), nil
}

// elementStart returns where the JSON value of an array stream event starts, after the
// "[" or "," and the white space before it.
func elementStart(ev []byte) int {
	k := 0
	for k < len(ev) {
		switch ev[k] {
		case '[', ',', ' ', '\t', '\r', '\n':
			k++
			continue
		}
		break
	}
	return k
}

// textParts returns the paths of the text parts of the first candidate with a non-empty
// text (else of the first candidate with a text part) and their text concatenated. ok is
// false when no candidate has a text part.
func textParts(data []byte) (paths []string, text string, ok bool) {
	if len(data) == 0 || data[0] != '{' {
		return nil, "", false
	}
	cands := gjson.GetBytes(data, "candidates")
	if !cands.IsArray() {
		return nil, "", false
	}
	ci := 0
	cands.ForEach(func(_, c gjson.Result) bool {
		var ps []string
		var b strings.Builder
		pi := 0
		c.Get("content.parts").ForEach(func(_, p gjson.Result) bool {
			t := p.Get("text")
			if t.Type == gjson.String && !p.Get("thought").Bool() {
				ps = append(ps, "candidates."+strconv.Itoa(ci)+".content.parts."+strconv.Itoa(pi)+".text")
				b.WriteString(t.Str)
			}
			pi++
			return true
		})
		if len(ps) > 0 && (!ok || (text == "" && b.Len() > 0)) {
			paths, text, ok = ps, b.String(), true
		}
		ci++
		return !ok || text == ""
	})
	return paths, text, ok
}

// setParts writes text into the first of the text parts textParts finds and empties the
// others.
func setParts(data []byte, text string) ([]byte, error) {
	paths, _, ok := textParts(data)
	if !ok {
		return nil, errNoText
	}
	out, err := sjson.SetRawBytes(data, paths[0], jsonString(text))
	if err != nil {
		return nil, err
	}
	for _, p := range paths[1:] {
		if out, err = sjson.SetRawBytes(out, p, []byte(`""`)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// StreamError renders an error as the end of a stream that is already under way, in the
// error shape of Error. For alt=sse it is one event,
// data: {"error":{"code":429,"message":"...","status":"RESOURCE_EXHAUSTED"}}, on one line as
// google.golang.org/genai requires; genai returns it from the stream as a genai.APIError.
// For the JSON array of streamGenerateContent without alt=sse it is the error object as one
// more element, then the closing bracket: "\n,\r\n{...}\n]". That assumes at least one element
// was sent; a stream stopped before its first element is better answered with Error.
func (p *Provider) StreamError(req *provider.Request, e *provider.Error) []byte {
	body := p.Error(nil, e).Body // nil: the bare error object, not wrapped in an array
	if req != nil && isStreamMethod(req.Endpoint) && !wantsSSE(req.RawQuery) {
		out := make([]byte, 0, len(body)+6)
		out = append(out, "\n,\r\n"...)
		out = append(out, body...)
		return append(out, "\n]"...)
	}
	var c bytes.Buffer
	_ = json.Compact(&c, body) // Error's body is valid JSON
	out := make([]byte, 0, c.Len()+10)
	out = append(out, "data: "...)
	out = append(out, c.Bytes()...)
	return append(out, "\r\n\r\n"...)
}

// jsonString returns s as a JSON string, without escaping <, > and &. Invalid UTF-8 becomes
// U+FFFD.
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
