package anthropic

import (
	"errors"

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
	out, err := sse.EditData(ev, func(data []byte) ([]byte, error) {
		if _, ok := textDelta(data); !ok {
			return nil, errNoText
		}
		return sjson.SetRawBytes(data, "delta.text", sse.AppendJSONString(nil, text))
	})
	if errors.Is(err, sse.ErrNoData) {
		return nil, errNoText
	}
	return out, err
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
