package bedrock

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// LogBody returns what the log keeps of a body: a complete body as it is; a captured event
// stream as JSON lines, one per frame, with the frame's headers and its payload decoded:
//
//	{"headers":{":content-type":"application/json",":event-type":"contentBlockDelta",":message-type":"event"},"payload":{"contentBlockIndex":0,"delta":{"text":"Hello"}}}
//
// The base64 "bytes" of an InvokeModelWithResponseStream chunk are decoded too, into the
// model's own JSON event. Bytes that do not decode as frames end the lines with one that
// says why and holds them in base64.
func (p *Provider) LogBody(endpoint string, body []byte, stream bool) []byte {
	if !stream || len(body) == 0 {
		return body
	}
	out := make([]byte, 0, len(body)+len(body)/2)
	off, err := eachMessage(body, func(m eventstream.Message) {
		out = appendJSONLine(out, logLine{Headers: logHeaders(m.Headers), Payload: logPayload(m)})
	})
	if err != nil {
		out = appendJSONLine(out, struct {
			Error string `json:"error"`
			Rest  string `json:"rest_base64"`
		}{"undecodable event-stream bytes: " + err.Error(), base64.StdEncoding.EncodeToString(body[off:])})
	}
	return out
}

type logLine struct {
	Headers map[string]any  `json:"headers"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// logHeaders renders header values as JSON values: strings, numbers, booleans, times;
// bytes in base64.
func logHeaders(hs eventstream.Headers) map[string]any {
	m := make(map[string]any, len(hs))
	for _, h := range hs {
		switch v := h.Value.(type) {
		case eventstream.StringValue:
			m[h.Name] = string(v)
		case eventstream.BytesValue:
			m[h.Name] = base64.StdEncoding.EncodeToString(v)
		case eventstream.UUIDValue, eventstream.TimestampValue:
			m[h.Name] = v.String()
		default:
			m[h.Name] = v.Get()
		}
	}
	return m
}

// logPayload is the payload as JSON: itself when it is JSON (a chunk's bytes decoded in
// place), else a JSON string of its text, or of its base64 when it is not text.
func logPayload(m eventstream.Message) json.RawMessage {
	p := bytes.TrimSpace(m.Payload)
	if len(p) == 0 {
		return nil
	}
	if json.Valid(p) {
		if eventHeader(m, ":event-type") == "chunk" {
			if decoded := decodeChunk(p); decoded != nil {
				return decoded
			}
		}
		var b bytes.Buffer
		if json.Compact(&b, p) == nil {
			return b.Bytes()
		}
		return p
	}
	var s string
	if utf8.Valid(m.Payload) {
		s = string(m.Payload)
	} else {
		s = base64.StdEncoding.EncodeToString(m.Payload)
	}
	raw, _ := marshal(s)
	return raw
}

// decodeChunk returns a chunk's payload with "bytes" replaced by the JSON it encodes (or
// its text when it is not JSON); nil when the payload has no such bytes.
func decodeChunk(payload []byte) json.RawMessage {
	var fields map[string]json.RawMessage
	if json.Unmarshal(payload, &fields) != nil {
		return nil
	}
	inner, ok := chunkBytes(payload)
	if !ok {
		return nil
	}
	if json.Valid(inner) {
		var b bytes.Buffer
		if json.Compact(&b, inner) != nil {
			return nil
		}
		fields["bytes"] = b.Bytes()
	} else if utf8.Valid(inner) {
		fields["bytes"], _ = marshal(string(inner))
	} else {
		return nil
	}
	out, err := marshal(fields)
	if err != nil {
		return nil
	}
	return out
}

// marshal encodes v as compact JSON without escaping <, > and &, which are common in model
// text and harmless in a log.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// appendJSONLine appends v as one line of JSON.
func appendJSONLine(out []byte, v any) []byte {
	line, err := marshal(v)
	if err != nil {
		return out
	}
	out = append(out, line...)
	return append(out, '\n')
}
