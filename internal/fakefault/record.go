package fakefault

import (
	"bytes"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
)

// Recorded is one request as a fake received it.
type Recorded struct {
	// Method is the HTTP method.
	Method string
	// Path is the URL path.
	Path string
	// RawQuery is the URL query without the "?".
	RawQuery string
	// Header is a copy of the request headers.
	Header http.Header
	// Body is the whole request body.
	Body []byte
}

// NewRecorded returns the record of r, whose body was read as body.
func NewRecorded(r *http.Request, body []byte) Recorded {
	return Recorded{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: body}
}

// Recorder keeps the requests that a fake received, as records of type T,
// and counts them. A fake embeds it, which gives the fake its Requests, Hits
// and Reset methods. The zero value is ready; it is safe for concurrent use
// and must not be copied.
type Recorder[T any] struct {
	hits atomic.Int64

	mu   sync.Mutex
	reqs []T
}

// Hit counts one request, however it will be answered.
func (rc *Recorder[T]) Hit() {
	rc.hits.Add(1)
}

// Record keeps the record of one request.
func (rc *Recorder[T]) Record(req T) {
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, req)
	rc.mu.Unlock()
}

// Requests returns a copy of the requests recorded since the fake was made
// or last reset, in order of arrival; nil when there are none.
func (rc *Recorder[T]) Requests() []T {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.reqs) == 0 {
		return nil
	}
	out := make([]T, len(rc.reqs))
	copy(out, rc.reqs)
	return out
}

// Hits returns the number of requests received since the fake was made or
// last reset, however they were answered.
func (rc *Recorder[T]) Hits() int {
	return int(rc.hits.Load())
}

// Reset forgets the recorded requests and the hit count.
func (rc *Recorder[T]) Reset() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.reqs = nil
	rc.hits.Store(0)
}

// Notify calls fn, when it is set, with r, whose body it first replaces with
// a reader of body: the fake has read the body already, and fn can read it
// again.
func Notify(fn func(*http.Request), r *http.Request, body []byte) {
	if fn == nil {
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	fn(r)
}
