package fakeupstream

import "github.com/aiproxy-go/aiproxy/internal/fakefault"

// streamWriter sends the events of a stream one at a time, each flushed as
// soon as it is written, with the delays and cut that the request asks for.
type streamWriter struct {
	*fakefault.Stream
	buf []byte // the event being built, reused
}

// startStream sends the headers of a stream.
func (x *exchange) startStream() *streamWriter {
	x.setHeaders("text/event-stream; charset=utf-8")
	x.setRateLimitHeaders()
	return &streamWriter{Stream: x.f.StartStream(x.r.Context(), x.w), buf: make([]byte, 0, 1024)}
}

// send writes the event in s.buf, which must be a whole event with its
// blank line. It aborts the connection instead when x-fake-cut-after events
// have been sent, and returns an error when the client has gone.
func (s *streamWriter) send() error {
	return s.Send(s.buf)
}

// sendDone sends the "data: [DONE]" event that ends OpenAI's chat and
// completions streams.
func (s *streamWriter) sendDone() error {
	s.buf = append(s.buf[:0], "data: [DONE]\n\n"...)
	return s.send()
}

// obfuscation is the alphabet of the "obfuscation" field that the real API
// adds to stream events to hide the length of their content.
const obfuscation = "kSx18Gpkah38dLw0M5wAKbe8E2c6Xq1a8618FsxJD2gV"

// appendObfuscation appends the "obfuscation" field, whose length pads the
// event so that the content's length does not show.
func appendObfuscation(b []byte, content, seq int) []byte {
	n := 1 + (15-content%16+16)%16
	off := seq % (len(obfuscation) - 16)
	b = append(b, `,"obfuscation":"`...)
	b = append(b, obfuscation[off:off+n]...)
	return append(b, '"')
}
