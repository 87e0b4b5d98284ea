package bedrock

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/aiproxy-go/aiproxy/provider"
)

// frame encodes one message with the AWS SDK's encoder.
func frame(t testing.TB, headers map[string]string, payload string) []byte {
	t.Helper()
	var m eventstream.Message
	for _, k := range []string{":event-type", ":exception-type", ":error-code", ":error-message", ":content-type", ":message-type"} {
		if v, ok := headers[k]; ok {
			m.Headers.Set(k, eventstream.StringValue(v))
		}
	}
	m.Payload = []byte(payload)
	var b bytes.Buffer
	if err := eventstream.NewEncoder().Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func event(t testing.TB, typ, payload string) []byte {
	return frame(t, map[string]string{":event-type": typ, ":content-type": "application/json", ":message-type": "event"}, payload)
}

func exceptionFrame(t testing.TB, typ, msg string) []byte {
	return frame(t, map[string]string{":exception-type": typ, ":content-type": "application/json", ":message-type": "exception"}, `{"message":"`+msg+`"}`)
}

func chunkFrame(t testing.TB, inner string) []byte {
	return event(t, "chunk", `{"bytes":"`+base64.StdEncoding.EncodeToString([]byte(inner))+`","p":"abc"}`)
}

// splitAll feeds data to a stream's Split in pieces of n bytes, as a network would, and
// returns the frames and the error that ended the stream (nil at a clean end).
func splitAll(s *stream, data []byte, n int) ([][]byte, error) {
	var frames [][]byte
	var buf []byte
	for off := 0; ; {
		atEOF := off >= len(data)
		if !atEOF {
			end := min(off+n, len(data))
			buf = append(buf, data[off:end]...)
			off = end
			atEOF = off >= len(data)
		}
		for {
			adv, tok, err := s.Split(buf, atEOF)
			if err != nil {
				return frames, err
			}
			if tok == nil {
				break
			}
			frames = append(frames, bytes.Clone(s.Relay(tok)))
			buf = buf[adv:]
		}
		if atEOF {
			if len(buf) > 0 {
				return frames, errors.New("bytes left over")
			}
			return frames, nil
		}
	}
}

func TestSplitFrames(t *testing.T) {
	f1 := event(t, "messageStart", `{"role":"assistant"}`)
	f2 := event(t, "contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"héllo"}}`)
	f3 := event(t, "metadata", `{"usage":{"inputTokens":3,"outputTokens":1}}`)
	data := bytes.Join([][]byte{f1, f2, f3}, nil)
	for _, n := range []int{1, 3, 7, 12, 13, 100, len(data)} {
		s := &stream{}
		frames, err := splitAll(s, data, n)
		if err != nil {
			t.Fatalf("pieces of %d: %v", n, err)
		}
		if len(frames) != 3 || !bytes.Equal(frames[0], f1) || !bytes.Equal(frames[1], f2) || !bytes.Equal(frames[2], f3) {
			t.Fatalf("pieces of %d: frames not relayed unchanged", n)
		}
		if s.Failure() != nil {
			t.Fatalf("failure %v", s.Failure())
		}
	}
}

func TestSplitMalformed(t *testing.T) {
	good := event(t, "messageStart", `{"role":"assistant"}`)
	corrupt := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x40
		return b
	}
	tooLong := bytes.Clone(good)
	binary.BigEndian.PutUint32(tooLong[0:4], maxFrameLen+1)
	binary.BigEndian.PutUint32(tooLong[8:12], crc32.ChecksumIEEE(tooLong[:8]))
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"prelude checksum", corrupt(9), "prelude checksum mismatch"},
		{"length", corrupt(2), "prelude checksum mismatch"},
		{"payload checksum", corrupt(len(good) - 6), "message checksum mismatch"},
		{"impossible length", tooLong, "impossible frame length"},
		{"cut inside a frame", good[:len(good)-3], "ended inside a frame"},
		{"cut inside the prelude", good[:5], "ended inside a frame"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := splitAll(&stream{}, append(bytes.Clone(good), tc.data...), 4)
			var pe *provider.Error
			if !errors.As(err, &pe) || !strings.Contains(pe.Message, tc.want) || pe.Status != http.StatusBadGateway || !errors.Is(err, errMalformed) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestSplitException(t *testing.T) {
	data := bytes.Join([][]byte{
		event(t, "messageStart", `{"role":"assistant"}`),
		exceptionFrame(t, "throttlingException", "Too many tokens, please wait before trying again."),
	}, nil)
	s := &stream{}
	frames, err := splitAll(s, data, 5)
	if err != nil || len(frames) != 2 {
		t.Fatalf("%d frames, %v: an exception frame is relayed like any other", len(frames), err)
	}
	f := s.Failure()
	if f == nil || f.Status != http.StatusTooManyRequests || f.Type != "ThrottlingException" ||
		f.Message != "throttlingException: Too many tokens, please wait before trying again." {
		t.Fatalf("failure %+v", f)
	}

	s = &stream{}
	errFrame := frame(t, map[string]string{":message-type": "error", ":error-code": "InternalFailure", ":error-message": "boom"}, "")
	if _, err := splitAll(s, errFrame, 64); err != nil || s.Failure() == nil || s.Failure().Message != "InternalFailure: boom" || s.Failure().Status != http.StatusBadGateway {
		t.Fatalf("error frame: %v %+v", err, s.Failure())
	}
}

func TestHeaderValue(t *testing.T) {
	var m eventstream.Message
	m.Headers.Set("b", eventstream.BoolValue(true))
	m.Headers.Set("i8", eventstream.Int8Value(1))
	m.Headers.Set("i16", eventstream.Int16Value(2))
	m.Headers.Set("i32", eventstream.Int32Value(3))
	m.Headers.Set("i64", eventstream.Int64Value(4))
	m.Headers.Set("bytes", eventstream.BytesValue("xyz"))
	m.Headers.Set("uuid", eventstream.UUIDValue{1, 2})
	m.Headers.Set(":message-type", eventstream.StringValue("exception"))
	var b bytes.Buffer
	if err := eventstream.NewEncoder().Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	if v, ok := headerValue(b.Bytes(), ":message-type"); !ok || string(v) != "exception" {
		t.Fatalf("got %q %v", v, ok)
	}
	if _, ok := headerValue(b.Bytes(), "bytes"); ok {
		t.Fatal("a bytes header read as a string")
	}
}

// FuzzSplit feeds arbitrary bytes to Split: it must never panic, never return a token
// longer than its input or one that fails the checksums, and always make progress.
func FuzzSplit(f *testing.F) {
	f.Add(event(f, "messageStart", `{"role":"assistant"}`), 3)
	f.Add(append(chunkFrame(f, `{"type":"message_stop"}`), exceptionFrame(f, "throttlingException", "x")...), 16)
	f.Add([]byte{0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 1)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4}, 5)
	f.Fuzz(func(t *testing.T, data []byte, n int) {
		if n <= 0 || n > len(data)+1 {
			n = len(data) + 1
		}
		s := &stream{}
		frames, _ := splitAll(s, data, n)
		total := 0
		for _, fr := range frames {
			total += len(fr)
			if _, err := eachMessage(fr, func(eventstream.Message) {}); err != nil {
				t.Fatalf("Split returned a frame the decoder refuses: %v", err)
			}
		}
		if total > len(data) {
			t.Fatalf("frames total %d bytes of %d", total, len(data))
		}
		_ = s.Failure()
	})
}

// FuzzDecode runs what the log writer does with a captured stream on arbitrary bytes: the
// summaries and LogBody must never panic, and LogBody always returns JSON lines.
func FuzzDecode(f *testing.F) {
	f.Add(bytes.Join([][]byte{
		chunkFrame(f, `{"type":"message_start","message":{"model":"m","usage":{"input_tokens":3}}}`),
		chunkFrame(f, `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}}`),
		chunkFrame(f, `{"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":3,"outputTokenCount":1}}`),
	}, nil))
	f.Add(bytes.Join([][]byte{
		event(f, "contentBlockStart", `{"contentBlockIndex":1,"start":{"toolUse":{"toolUseId":"t","name":"n"}}}`),
		event(f, "contentBlockDelta", `{"contentBlockIndex":1,"delta":{"toolUse":{"input":"{}"}}}`),
		exceptionFrame(f, "modelStreamErrorException", "x"),
	}, nil))
	f.Add([]byte("\x00\x00\x00\x10\x00\x00\x00\x00"))
	p := &Provider{}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, ep := range []string{"/model/m/converse-stream", "/model/m/invoke-with-response-stream", ""} {
			_ = summarizeResponse(ep, data, true)
			_ = summarizeResponse(ep, data, false)
			_ = summarizeRequest(ep, data)
		}
		out := p.LogBody("/model/m/converse-stream", data, true)
		for _, line := range bytes.Split(bytes.TrimSuffix(out, []byte("\n")), []byte("\n")) {
			if len(data) > 0 && !json.Valid(line) {
				t.Fatalf("LogBody line %q is not JSON", line)
			}
		}
	})
}
