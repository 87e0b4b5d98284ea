package fakefault

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// ErrClientGone is what a [Stream] returns once the client went away.
var ErrClientGone = errors.New("client gone")

// Sleep waits for d, or until ctx is done; it reports whether the whole wait
// passed.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Abort flushes what was written and ends the handler so that the client
// sees the connection cut: net/http then closes an HTTP/1 connection without
// the last chunk, and resets an HTTP/2 stream. It panics with
// [http.ErrAbortHandler], so the handler must run under an [http.Server]
// (httptest.NewServer is fine), not be called with a ResponseRecorder.
func Abort(w http.ResponseWriter) {
	if fl, ok := w.(http.Flusher); ok {
		fl.Flush()
	}
	panic(http.ErrAbortHandler)
}

// Cuts reports whether x-fake-cut-after cuts a body of n bytes short.
func (f *Faults) Cuts(n int) bool {
	return f.CutAfter >= 0 && f.CutAfter < n
}

// WriteBody writes a body that is not a stream, after its status: the whole
// of it, or its first CutAfter bytes and then [Abort].
func (f *Faults) WriteBody(w http.ResponseWriter, body []byte) {
	if f.Cuts(len(body)) {
		_, _ = w.Write(body[:f.CutAfter])
		Abort(w)
	}
	_, _ = w.Write(body)
}

// Stream sends the events of a streamed reply one at a time, each flushed
// as soon as it is written, with the wait of x-fake-chunk-delay between two
// and the cut of x-fake-cut-after. The fake writes each event whole, in its
// provider's format.
type Stream struct {
	ctx  context.Context
	w    http.ResponseWriter
	fl   http.Flusher
	f    *Faults
	sent int
}

// StartStream sends the status 200 with the headers already set on w and
// flushes them, so that the client sees the stream begin, and returns the
// stream of its events. ctx is the request's context.
func (f *Faults) StartStream(ctx context.Context, w http.ResponseWriter) *Stream {
	w.WriteHeader(http.StatusOK)
	fl, _ := w.(http.Flusher)
	s := &Stream{ctx: ctx, w: w, fl: fl, f: f}
	s.Flush()
	return s
}

// Sent returns the number of events sent so far.
func (s *Stream) Sent() int {
	return s.sent
}

// Flush pushes what was written to the client.
func (s *Stream) Flush() {
	if s.fl != nil {
		s.fl.Flush()
	}
}

// Send writes one event and flushes it. It waits for x-fake-chunk-delay
// first, except before the first event, and aborts the connection instead
// once x-fake-cut-after events were sent, so a reply of that many events or
// fewer is whole. It returns [ErrClientGone] when the client went away.
func (s *Stream) Send(event []byte) error {
	return s.send(event, true)
}

// SendBuffered is Send without the flush: the event goes out with what is
// written after it, the end of the body when it is the last.
func (s *Stream) SendBuffered(event []byte) error {
	return s.send(event, false)
}

func (s *Stream) send(event []byte, flush bool) error {
	if s.sent > 0 && s.f.ChunkDelay > 0 && !Sleep(s.ctx, s.f.ChunkDelay) {
		return ErrClientGone
	}
	if s.sent == s.f.CutAfter {
		Abort(s.w)
	}
	if _, err := s.w.Write(event); err != nil {
		return ErrClientGone
	}
	if flush {
		s.Flush()
	}
	s.sent++
	return nil
}
