package gemini

import (
	"bytes"
	"encoding/json"
	"errors"
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
	out, err := sse.EditData(ev, func(data []byte) ([]byte, error) { return setParts(data, text) })
	if errors.Is(err, sse.ErrNoData) {
		return nil, errNoText
	}
	return out, err
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
	out, err := sjson.SetRawBytes(data, paths[0], sse.AppendJSONString(nil, text))
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
