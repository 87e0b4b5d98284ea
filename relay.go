package aiproxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/provider"
)

// maxEventSize bounds one stream event; a larger one ends the stream as an error.
const maxEventSize = 64 << 20

// frameReader reads one event at a time with a provider's split function. Unlike
// bufio.Scanner it tells its caller, through onWait, just before it blocks on the network,
// so that events that arrived together are flushed to the client together, and none waits.
type frameReader struct {
	r          io.Reader
	split      bufio.SplitFunc
	buf        []byte
	start, end int
	err        error
	onWait     func() error
}

// frameBufSize is the initial read buffer of a stream; a larger event grows it.
const frameBufSize = 16 << 10

var frameBufs = sync.Pool{New: func() any { b := make([]byte, frameBufSize); return &b }}

func newFrameReader(r io.Reader, split bufio.SplitFunc, onWait func() error) *frameReader {
	return &frameReader{r: r, split: split, buf: *frameBufs.Get().(*[]byte), onWait: onWait}
}

// release returns the read buffer for reuse. Events returned by next are invalid after it;
// the relay has copied each into its capture already.
func (f *frameReader) release() {
	if len(f.buf) == frameBufSize {
		b := f.buf
		frameBufs.Put(&b)
	}
	f.buf = nil
}

// next returns the next complete event, valid until the following call. At the end it
// returns io.EOF, or the read error that cut the stream; an incomplete event before the
// end is returned first.
func (f *frameReader) next() ([]byte, error) {
	for {
		if f.end > f.start || f.err != nil {
			adv, tok, err := f.split(f.buf[f.start:f.end], f.err != nil)
			if err != nil {
				return nil, err
			}
			f.start += adv
			if tok != nil {
				return tok, nil
			}
		}
		if f.err != nil {
			return nil, f.err
		}
		if f.start == f.end {
			f.start, f.end = 0, 0
		} else if f.end == len(f.buf) {
			if f.start > 0 {
				f.end = copy(f.buf, f.buf[f.start:f.end])
				f.start = 0
			} else {
				if len(f.buf) >= maxEventSize {
					return nil, fmt.Errorf("stream event larger than %d bytes", maxEventSize)
				}
				nb := make([]byte, 2*len(f.buf))
				f.end = copy(nb, f.buf[f.start:f.end])
				f.start, f.buf = 0, nb
			}
		}
		if f.onWait != nil {
			if err := f.onWait(); err != nil {
				return nil, err
			}
		}
		n, err := f.r.Read(f.buf[f.end:])
		f.end += n
		if err != nil {
			f.err = err
		}
	}
}

// errClientGone ends a relay whose client stopped reading.
var errClientGone = errors.New("client went away")

// streamCapture collects what the log needs of a stream as it passes.
type streamCapture struct {
	received   time.Time
	body       []byte
	chunkTimes []float64
	firstSent  time.Duration
}

func (c *streamCapture) add(ev []byte) {
	c.body = append(c.body, ev...)
	c.chunkTimes = append(c.chunkTimes, msSince(c.received))
}

func msSince(t time.Time) float64 {
	return float64(time.Since(t).Microseconds()) / 1000
}

// relayStream relays a stream event by event, flushing as soon as no further complete
// event is buffered, while capturing it for the log. Observe and transform filters see
// each event on its way; with such filters the status line waits for the first event, so
// that a filter stopping the stream at once still gives the client a plain error response.
func (p *Proxy) relayStream(w http.ResponseWriter, x *Exchange, resp *http.Response, st provider.Stream, rec *accesslog.Record, idle *idleTimer) {
	cf := newChunkFilters(p, x, st)
	started := false
	start := func() {
		started = true
		h := w.Header()
		copyResponseHeader(h, resp.Header)
		h.Del("Content-Length")
		w.WriteHeader(resp.StatusCode)
	}
	if cf == nil {
		start()
	}
	rc := http.NewResponseController(w)
	dirty := true
	flush := func() error {
		if !dirty || !started {
			return nil
		}
		dirty = false
		if err := rc.Flush(); err != nil {
			return errClientGone
		}
		return nil
	}
	capt := &streamCapture{received: x.Received, body: make([]byte, 0, 8<<10)}
	fr := newFrameReader(resp.Body, st.Split, flush)
	defer fr.release()
	ctx := x.Incoming.Context()
	var err error
	for {
		var ev []byte
		ev, err = fr.next()
		if err != nil {
			break
		}
		idle.reset()
		out := st.Relay(ev)
		if cf != nil && len(out) > 0 {
			var changed bool
			var ferr error
			out, changed, ferr = cf.filter(ctx, out)
			if ferr != nil {
				if !started {
					p.fail(w, x, nil, ferr)
					return
				}
				p.stopStream(w, x, rec, capt, ferr)
				return
			}
			if changed {
				ev = out
			}
		}
		if len(ev) > 0 {
			capt.add(ev)
		}
		if len(out) == 0 {
			continue
		}
		if !started {
			start()
		}
		if capt.firstSent == 0 {
			capt.firstSent = sinceStart(x)
		}
		if _, werr := w.Write(out); werr != nil {
			err = errClientGone
			break
		}
		dirty = true
	}
	if !started {
		start()
	}
	if err == io.EOF {
		err = flush()
	}
	p.finishStream(w, x, resp, st, rec, capt, err)
}

// finishStream logs a relayed stream: a response row when it ended well (499 when the
// client left), an error row when the upstream cut it. A cut upstream stream is cut for the
// client too, so its SDK reports the failure instead of taking a partial answer as whole.
func (p *Proxy) finishStream(w http.ResponseWriter, x *Exchange, resp *http.Response, st provider.Stream, rec *accesslog.Record, capt *streamCapture, err error) {
	rec.RawBody = capt.body
	rec.ChunkTimes = capt.chunkTimes
	rec.TimeToFirstToken = capt.firstSent.Seconds()
	rec.StatusCode = resp.StatusCode
	clientGone := errors.Is(err, errClientGone) || (err != nil && x.Incoming.Context().Err() != nil)
	var failed *provider.Error
	if sf, ok := st.(provider.StreamFailure); ok {
		failed = sf.Failure()
	}
	cut := false
	switch {
	case failed != nil:
		// The stream carried its own terminal error (an AWS exception frame). A client may
		// hang up as soon as it has it, before the upstream's end arrives: the exchange is
		// that error however the relay ended.
		rec.Direction = accesslog.DirectionError
		rec.StatusCode, rec.Content = failed.Status, failed.Message
	case err == nil || err == io.EOF:
	case clientGone && streamComplete(st):
		// The client hung up once it had the stream's end mark, as SDKs do: it has the
		// whole answer.
	case clientGone:
		rec.StatusCode = StatusClientClosedRequest
	default:
		rec.Direction = accesslog.DirectionError
		e := p.upstreamError(x.Incoming, streamCause(resp, err))
		rec.StatusCode = p.toError(e).Status
		rec.Content = "upstream stream ended early: " + p.toError(e).Message
		cut = true
	}
	p.finishRecord(rec, x)
	if cut {
		// What was relayed before the cut reaches the client before the cut does.
		_ = http.NewResponseController(w).Flush()
		panic(http.ErrAbortHandler)
	}
}

func streamComplete(st provider.Stream) bool {
	sc, ok := st.(provider.StreamCompletion)
	return ok && sc.Complete()
}

// streamCause prefers the cancel cause (the idle timeout) over the bare read error.
func streamCause(resp *http.Response, err error) error {
	if resp.Request != nil {
		if cause := context.Cause(resp.Request.Context()); cause != nil && !errors.Is(cause, context.Canceled) {
			return cause
		}
	}
	return err
}

// holdStream reads the whole stream before the client gets anything, so response filters
// see the complete response. Unchanged, the client receives the stream as relayed;
// changed, the filtered response rendered as a stream by the provider.
func (p *Proxy) holdStream(w http.ResponseWriter, x *Exchange, resp *http.Response, st provider.Stream, rec *accesslog.Record, idle *idleTimer) {
	capt := &streamCapture{received: x.Received, body: make([]byte, 0, 8<<10)}
	var relayed []byte
	fr := newFrameReader(resp.Body, st.Split, nil)
	defer fr.release()
	cf := newChunkFilters(p, x, st)
	ctx := x.Incoming.Context()
	var err error
	for {
		var ev []byte
		if ev, err = fr.next(); err != nil {
			break
		}
		idle.reset()
		out := st.Relay(ev)
		if cf != nil && len(out) > 0 {
			var changed bool
			var ferr error
			if out, changed, ferr = cf.filter(ctx, out); ferr != nil {
				p.fail(w, x, nil, ferr)
				return
			}
			if changed {
				ev = out
			}
		}
		if len(ev) > 0 {
			capt.add(ev)
		}
		relayed = append(relayed, out...)
	}
	// A stream that failed (a cut, or an exception frame) is not a response to filter: the
	// client gets it as it came.
	sf, _ := st.(provider.StreamFailure)
	if err != io.EOF || (sf != nil && sf.Failure() != nil) {
		h := w.Header()
		copyResponseHeader(h, resp.Header)
		h.Del("Content-Length")
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(relayed)
		p.finishStream(w, x, resp, st, rec, capt, err)
		return
	}
	prov := x.Provider
	sum := prov.SummarizeResponse(x.Request.Endpoint, capt.body, true)
	if cf != nil && cf.changed {
		// The held filters see the text the transforms left, with the upstream's usage.
		sum.Content = prov.SummarizeResponse(x.Request.Endpoint, relayed, true).Content
	}
	whole := *x.Request
	whole.Stream = false
	rendered := prov.Render(&whole, &provider.Reply{Text: sum.Content, ToolCalls: sum.ToolCalls, Usage: sum.Usage, Model: sum.Model})
	out := &Response{Status: resp.StatusCode, Header: resp.Header.Clone(), Body: rendered.Body}
	out.Header.Set("Content-Type", rendered.Header.Get("Content-Type"))
	original := bytes.Clone(out.Body)
	if err := p.filterResponse(x, out, true); err != nil {
		p.fail(w, x, nil, err)
		return
	}
	capt.firstSent = time.Since(x.Received)
	rec.ChunkTimes, rec.TimeToFirstToken = capt.chunkTimes, capt.firstSent.Seconds()
	rec.StatusCode = resp.StatusCode
	h := w.Header()
	if bytes.Equal(out.Body, original) {
		copyResponseHeader(h, resp.Header)
		h.Del("Content-Length")
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(relayed)
		rec.RawBody = capt.body
	} else {
		// The log keeps the filtered response whole: it is what the client was given,
		// with the usage the upstream reported.
		changed := prov.SummarizeResponse(x.Request.Endpoint, out.Body, false)
		stream := prov.Render(x.Request, &provider.Reply{Text: changed.Content, ToolCalls: changed.ToolCalls, Usage: changed.Usage, Model: changed.Model})
		writeResponse(w, &Response{Status: out.Status, Header: mergeHeader(out.Header, stream.Header), Body: stream.Body})
		rec.StatusCode = out.Status
		rec.RawBody = out.Body
	}
	p.finishRecord(rec, x)
}

func mergeHeader(base, over http.Header) http.Header {
	h := base.Clone()
	removeHopHeaders(h)
	for k, v := range over {
		h[k] = v
	}
	return h
}

// filterResponse runs the response filters in order on a complete response. For a held
// stream (stream set), the filters that handle streams by chunk have seen it already.
func (p *Proxy) filterResponse(x *Exchange, resp *Response, stream bool) error {
	ctx := x.Incoming.Context()
	for _, e := range x.filters.resp {
		if stream && e.sf != nil {
			continue
		}
		work := resp
		if e.pol.Timeout > 0 {
			c := *resp
			c.Header = resp.Header.Clone()
			work = &c
		}
		_, err := callFilter(ctx, x, e.name, e.pol, func(ctx context.Context, x *Exchange) (struct{}, error) {
			return struct{}{}, e.f.FilterResponse(ctx, x, work)
		})
		if err != nil {
			if p.filterFailed(x, e.name, e.pol, err) {
				continue
			}
			return err
		}
		*resp = *work
	}
	return nil
}

// maxLoggedBody bounds what the log keeps of one non-streamed body; the client always gets
// all of it.
const maxLoggedBody = 16 << 20

// relayBody relays a complete response. Without response filters the body is copied as it
// arrives (a chunked body, such as generated speech, keeps its pace); with them it is read
// whole, filtered and then sent.
func (p *Proxy) relayBody(w http.ResponseWriter, x *Exchange, resp *http.Response, rec *accesslog.Record, idle *idleTimer) {
	if len(x.filters.resp) == 0 {
		p.copyBody(w, x, resp, rec, idle)
		return
	}
	body, err := readAllIdle(resp, idle)
	if err != nil {
		p.bodyFailed(w, x, resp, rec, body, err, false)
		return
	}
	out := &Response{Status: resp.StatusCode, Header: resp.Header.Clone(), Body: body}
	if err := p.filterResponse(x, out, false); err != nil {
		p.fail(w, x, nil, err)
		return
	}
	h := w.Header()
	copyResponseHeader(h, out.Header)
	h.Set("Content-Length", strconv.Itoa(len(out.Body)))
	w.WriteHeader(out.Status)
	_, werr := w.Write(out.Body)
	rec.StatusCode, rec.RawBody = out.Status, out.Body
	if werr != nil && x.Incoming.Context().Err() != nil {
		rec.StatusCode = StatusClientClosedRequest
	}
	p.finishRecord(rec, x)
}

// copyBody copies an unfiltered body to the client as it arrives, keeping a copy of a
// textual body for the log.
func (p *Proxy) copyBody(w http.ResponseWriter, x *Exchange, resp *http.Response, rec *accesslog.Record, idle *idleTimer) {
	h := w.Header()
	copyResponseHeader(h, resp.Header)
	w.WriteHeader(resp.StatusCode)
	rec.StatusCode = resp.StatusCode
	keep := loggable(resp.Header.Get("Content-Type"))
	flush := resp.ContentLength < 0
	rc := http.NewResponseController(w)
	n := resp.ContentLength
	if n < 0 || n > 64<<10 {
		n = 8 << 10
	}
	var logged []byte
	buf := make([]byte, 32<<10)
	if keep {
		logged = make([]byte, 0, n)
	}
	for {
		m, err := resp.Body.Read(buf)
		if m > 0 {
			idle.reset()
			if keep && len(logged)+m <= maxLoggedBody {
				logged = append(logged, buf[:m]...)
			}
			if _, werr := w.Write(buf[:m]); werr != nil {
				err = errClientGone
			} else if flush {
				_ = rc.Flush()
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			p.bodyFailed(w, x, resp, rec, logged, err, true)
			return
		}
	}
	rec.RawBody = logged
	p.finishRecord(rec, x)
}

// bodyFailed logs a body that could not be read or relayed whole: 499 when the client
// left, else an error row. When the status line already went out, the client's connection
// is cut so it cannot take the partial body for a whole one.
func (p *Proxy) bodyFailed(w http.ResponseWriter, x *Exchange, resp *http.Response, rec *accesslog.Record, body []byte, err error, started bool) {
	rec.RawBody = body
	if errors.Is(err, errClientGone) || x.Incoming.Context().Err() != nil {
		rec.StatusCode = StatusClientClosedRequest
		p.finishRecord(rec, x)
		return
	}
	e := p.toError(p.upstreamError(x.Incoming, streamCause(resp, err)))
	rec.Direction = accesslog.DirectionError
	rec.StatusCode, rec.Content = e.Status, "upstream body ended early: "+e.Message
	p.finishRecord(rec, x)
	if started {
		// Flush what arrived so the client sees a body cut short, not a lost request.
		_ = http.NewResponseController(w).Flush()
		panic(http.ErrAbortHandler)
	}
	writeResponse(w, x.Provider.Error(x.Request, e))
}

// loggable reports whether a body of this content type is text the log should keep;
// audio, images and other binary bodies are relayed but not stored.
func loggable(contentType string) bool {
	ct := strings.ToLower(contentType)
	return ct == "" || strings.HasPrefix(ct, "text/") || strings.Contains(ct, "json") || strings.Contains(ct, "xml")
}

// relayError relays an upstream error as it came, status and body, and logs an error row.
func (p *Proxy) relayError(w http.ResponseWriter, x *Exchange, resp *http.Response, rec *accesslog.Record, idle *idleTimer) {
	body, _ := readAllIdle(resp, idle)
	h := w.Header()
	copyResponseHeader(h, resp.Header)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
	rec.Direction = accesslog.DirectionError
	rec.StatusCode = resp.StatusCode
	rec.RawBody = body
	p.finishRecord(rec, x)
}

// readAllIdle reads a whole body, resetting the idle timer as bytes arrive.
func readAllIdle(resp *http.Response, idle *idleTimer) ([]byte, error) {
	n := resp.ContentLength
	if n < 0 || n > 64<<20 {
		n = 8 << 10
	}
	buf := make([]byte, 0, n+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		m, err := resp.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if m > 0 {
			idle.reset()
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}
