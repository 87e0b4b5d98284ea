package bedrock

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/aiproxy-go/aiproxy/provider"
)

// An AWS event-stream frame is: total length (4 bytes, big-endian), headers length (4),
// CRC32 of those 8 bytes (4), headers, payload, CRC32 of everything before it (4).
const (
	preludeLen    = 12
	minFrameLen   = preludeLen + 4
	maxFrameLen   = 24 << 20 // AWS caps a message at 16 MiB; some room above it
	maxHeadersLen = 128 << 10
)

// errMalformed is the cause of a stream whose framing cannot be read.
var errMalformed = errors.New("malformed event-stream frame")

func malformedFrame(detail string) *provider.Error {
	return &provider.Error{Status: http.StatusBadGateway, Type: "InternalServerException",
		Message: "upstream sent a malformed event-stream frame: " + detail, Err: errMalformed}
}

// frameLength reads the prelude at the start of data: the frame's total length, or 0 when
// fewer than the prelude's 12 bytes are there. A prelude with an impossible length or a
// wrong checksum is an error.
func frameLength(data []byte) (int, error) {
	if len(data) < preludeLen {
		return 0, nil
	}
	total := binary.BigEndian.Uint32(data[0:4])
	headers := binary.BigEndian.Uint32(data[4:8])
	if crc32.ChecksumIEEE(data[:8]) != binary.BigEndian.Uint32(data[8:12]) {
		return 0, malformedFrame("prelude checksum mismatch")
	}
	if total < minFrameLen || total > maxFrameLen {
		return 0, malformedFrame("impossible frame length")
	}
	if headers > maxHeadersLen || headers > total-minFrameLen {
		return 0, malformedFrame("impossible headers length")
	}
	return int(total), nil
}

// stream frames a Bedrock event stream. Frames are relayed unchanged, an exception frame
// too: AWS ends a stream with one, and the client's SDK turns it into its typed error.
var _ provider.StreamFailure = (*stream)(nil)

type stream struct {
	failed *provider.Error
}

// Split returns one complete frame at a time, after checking its lengths and checksums. A
// frame that cannot be read, or a stream that ends inside a frame, is an error: the
// exchange is logged as an error and the client's connection is cut.
func (s *stream) Split(data []byte, atEOF bool) (int, []byte, error) {
	if len(data) == 0 {
		return 0, nil, nil
	}
	n, err := frameLength(data)
	if err != nil {
		return 0, nil, err
	}
	if n == 0 || len(data) < n {
		if atEOF {
			return 0, nil, malformedFrame("the stream ended inside a frame")
		}
		return 0, nil, nil
	}
	frame := data[:n]
	if crc32.ChecksumIEEE(frame[:n-4]) != binary.BigEndian.Uint32(frame[n-4:]) {
		return 0, nil, malformedFrame("message checksum mismatch")
	}
	if s.failed == nil {
		s.failed = frameFailure(frame)
	}
	return n, frame, nil
}

// Failure returns the error of the first exception (or error) frame the stream carried,
// nil when it carried none: an AWS stream that ends with an exception is a failed exchange
// though its HTTP status was 200. The status is the one the same error has outside a
// stream (429 for throttlingException, 424 for modelStreamErrorException, ...).
func (s *stream) Failure() *provider.Error { return s.failed }

// Relay relays every frame as it came.
func (s *stream) Relay(frame []byte) []byte { return frame }

// frameFailure returns the error that an exception or error frame carries, nil for an
// event.
func frameFailure(frame []byte) *provider.Error {
	mt, _ := headerValue(frame, ":message-type")
	switch string(mt) { // no allocation: the conversion is only compared
	case "exception":
		typ, _ := headerValue(frame, ":exception-type")
		return streamError(string(typ), messageOf(payloadOf(frame)))
	case "error":
		code, _ := headerValue(frame, ":error-code")
		msg, _ := headerValue(frame, ":error-message")
		return streamError(string(code), string(msg))
	}
	return nil
}

// streamError is the error of an exception frame, with the status that the same error has
// outside a stream.
func streamError(typ, msg string) *provider.Error {
	if typ == "" {
		typ = "unknownException"
	}
	text := typ
	if msg != "" {
		text += ": " + msg
	}
	return &provider.Error{Status: exceptionStatus(typ), Type: upperFirst(typ), Message: text}
}

func exceptionStatus(typ string) int {
	switch strings.ToLower(typ) {
	case "throttlingexception":
		return http.StatusTooManyRequests
	case "modelstreamerrorexception", "modelerrorexception":
		return http.StatusFailedDependency
	case "validationexception":
		return http.StatusBadRequest
	case "accessdeniedexception":
		return http.StatusForbidden
	case "resourcenotfoundexception":
		return http.StatusNotFound
	case "modeltimeoutexception":
		return http.StatusRequestTimeout
	case "serviceunavailableexception":
		return http.StatusServiceUnavailable
	case "internalserverexception":
		return http.StatusInternalServerError
	}
	return http.StatusBadGateway
}

func upperFirst(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// messageOf reads the message of an AWS error payload: {"message":...} or {"Message":...}.
func messageOf(payload []byte) string {
	var m struct {
		Lower *string `json:"message"`
		Upper *string `json:"Message"`
	}
	if json.Unmarshal(payload, &m) != nil {
		return ""
	}
	switch {
	case m.Lower != nil:
		return *m.Lower
	case m.Upper != nil:
		return *m.Upper
	}
	return ""
}

// payloadOf returns the payload of a complete, checked frame.
func payloadOf(frame []byte) []byte {
	hl := int(binary.BigEndian.Uint32(frame[4:8]))
	return frame[preludeLen+hl : len(frame)-4]
}

// headerValue finds a string header of a complete frame whose lengths were checked and
// returns its value, a slice of frame. It walks the headers without allocating; a header it
// cannot read ends the walk.
func headerValue(frame []byte, name string) ([]byte, bool) {
	hl := int(binary.BigEndian.Uint32(frame[4:8]))
	h := frame[preludeLen : preludeLen+hl]
	for len(h) > 0 {
		nl := int(h[0])
		if len(h) < 2+nl {
			return nil, false
		}
		hname := h[1 : 1+nl]
		typ := h[1+nl]
		h = h[2+nl:]
		var size int
		switch typ {
		case 0, 1: // bool true, bool false
		case 2: // byte
			size = 1
		case 3: // int16
			size = 2
		case 4: // int32
			size = 4
		case 5, 8: // int64, timestamp
			size = 8
		case 6, 7: // bytes, string: 2-byte length
			if len(h) < 2 {
				return nil, false
			}
			n := int(binary.BigEndian.Uint16(h))
			if len(h) < 2+n {
				return nil, false
			}
			if typ == 7 && string(hname) == name {
				return h[2 : 2+n], true
			}
			h = h[2+n:]
			continue
		case 9: // uuid
			size = 16
		default:
			return nil, false
		}
		if len(h) < size {
			return nil, false
		}
		h = h[size:]
	}
	return nil, false
}

// eachMessage decodes the frames of a captured stream with the AWS SDK's decoder, which
// checks both checksums, and calls fn with each. It returns the offset where decoding
// stopped and why, nil when the whole body was read.
func eachMessage(body []byte, fn func(eventstream.Message)) (int, error) {
	dec := eventstream.NewDecoder()
	off := 0
	for off < len(body) {
		n, err := frameLength(body[off:])
		if err != nil {
			return off, err
		}
		if n == 0 || n > len(body)-off {
			return off, malformedFrame("the stream ended inside a frame")
		}
		// The decoder trusts the lengths it reads; it only ever sees this one frame.
		m, err := dec.Decode(bytes.NewReader(body[off:off+n]), nil)
		if err != nil {
			return off, err
		}
		fn(m)
		off += n
	}
	return off, nil
}

// eventHeader returns a string header of a decoded message.
func eventHeader(m eventstream.Message, name string) string {
	if v := m.Headers.Get(name); v != nil {
		if s, ok := v.(eventstream.StringValue); ok {
			return string(s)
		}
		return v.String()
	}
	return ""
}
