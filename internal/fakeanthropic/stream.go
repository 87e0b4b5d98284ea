package fakeanthropic

import (
	"errors"
	"net/http"
)

// errStreamEnded stops a stream whose client went away or that ended with
// an injected error event.
var errStreamEnded = errors.New("stream ended")

// streamWriter sends the events of a stream one at a time, each flushed as
// soon as it is written, with the delays, cut and error that the request
// asks for.
type streamWriter struct {
	x    *exchange
	fl   http.Flusher
	sent int
	buf  []byte
}

// startStream sends the headers of a stream.
func (x *exchange) startStream() *streamWriter {
	x.setHeaders("text/event-stream; charset=utf-8")
	x.setRateLimitHeaders()
	x.w.Header()["Cache-Control"] = []string{"no-cache"}
	x.w.WriteHeader(http.StatusOK)
	fl, _ := x.w.(http.Flusher)
	s := &streamWriter{x: x, fl: fl, buf: make([]byte, 0, 512)}
	if fl != nil {
		fl.Flush()
	}
	return s
}

// send writes one event. It aborts the connection instead once
// x-fake-cut-after events have been sent, sends the error event of
// x-fake-stream-error and ends the stream, and returns an error when the
// stream must stop.
func (s *streamWriter) send(event string, data []byte) error {
	x := s.x
	if s.sent > 0 && x.f.chunkDelay > 0 && !sleep(x.r.Context(), x.f.chunkDelay) {
		return errStreamEnded
	}
	if s.sent == x.f.cutAfter {
		abort(x.w)
	}
	if s.sent == x.f.streamError {
		event, data = "error", errorBody("overloaded_error", "Overloaded", x.requestID)
	}
	s.buf = append(s.buf[:0], "event: "...)
	s.buf = append(s.buf, event...)
	s.buf = append(s.buf, "\ndata: "...)
	s.buf = append(s.buf, data...)
	s.buf = append(s.buf, "\n\n"...)
	if _, err := x.w.Write(s.buf); err != nil {
		return errStreamEnded
	}
	if s.fl != nil {
		s.fl.Flush()
	}
	s.sent++
	if event == "error" {
		return errStreamEnded
	}
	return nil
}
