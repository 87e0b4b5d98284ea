package fakeanthropic

import (
	"errors"

	"github.com/aiproxy-go/aiproxy/internal/fakefault"
)

// errStreamEnded stops a stream whose client went away or that ended with
// an injected error event.
var errStreamEnded = errors.New("stream ended")

// streamWriter sends the events of a stream one at a time, each flushed as
// soon as it is written, with the delays, cut and error that the request
// asks for.
type streamWriter struct {
	*fakefault.Stream
	x   *exchange
	buf []byte
}

// startStream sends the headers of a stream.
func (x *exchange) startStream() *streamWriter {
	x.setHeaders("text/event-stream; charset=utf-8")
	x.setRateLimitHeaders()
	x.w.Header()["Cache-Control"] = []string{"no-cache"}
	return &streamWriter{Stream: x.f.StartStream(x.r.Context(), x.w), x: x, buf: make([]byte, 0, 512)}
}

// send writes one event. It aborts the connection instead once
// x-fake-cut-after events have been sent, sends the error event of
// x-fake-stream-error and ends the stream, and returns an error when the
// stream must stop.
func (s *streamWriter) send(event string, data []byte) error {
	if s.Sent() == s.x.f.streamError {
		event, data = "error", errorBody("overloaded_error", "Overloaded", s.x.requestID)
	}
	s.buf = append(s.buf[:0], "event: "...)
	s.buf = append(s.buf, event...)
	s.buf = append(s.buf, "\ndata: "...)
	s.buf = append(s.buf, data...)
	s.buf = append(s.buf, "\n\n"...)
	if err := s.Send(s.buf); err != nil || event == "error" {
		return errStreamEnded
	}
	return nil
}
