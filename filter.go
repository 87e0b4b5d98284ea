package aiproxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/provider"
)

// Reply is an answer a request filter gives instead of the upstream. Set Text (and
// optionally ToolCalls and Usage) to have the provider render it in its own wire format,
// streamed when the client asked for a stream; or set Body (and Status) to send a complete
// body as it is.
type Reply = provider.Reply

// Response is a complete, non-streamed response. Response filters may change its Status,
// Header and Body.
type Response = provider.Response

// Error is an error with an HTTP status, rendered in the provider's own error shape. Return
// one from a filter to fail the request with that status.
type Error = provider.Error

// Errorf returns an *Error with the status and a formatted message, for filters that refuse
// a request (for example 403 for a banned user).
func Errorf(status int, format string, args ...any) error {
	return &provider.Error{Status: status, Message: fmt.Sprintf(format, args...)}
}

// RequestFilter sees each request before it goes upstream. It may change the request through
// the Exchange (SetBody, SetJSON, SetModel, Request.Header), answer it with a non-nil *Reply
// (the upstream is not called), or fail it with an error: an *Error keeps its status, any
// other error becomes a 500. Returning (nil, nil) lets the request go on.
type RequestFilter interface {
	FilterRequest(ctx context.Context, x *Exchange) (*Reply, error)
}

// ResponseFilter sees each successful upstream response before the client does and may
// change it in place or fail it with an error.
//
// What a response filter does with a stream it declares by implementing StreamFilter. A
// filter that declares nothing holds the stream: the proxy reads the whole stream, hands
// the filter the response rebuilt as one complete body in the provider's non-streamed
// format, and sends the client the original stream when the filter left the body as it
// was, or the changed response rendered as a stream in the provider's own format. A stream
// never bypasses a response filter.
type ResponseFilter interface {
	FilterResponse(ctx context.Context, x *Exchange, resp *Response) error
}

// StreamMode is what a response filter does with a streamed response.
type StreamMode int

const (
	// HoldStream reads the whole stream before the client gets any of it and gives the
	// filter the complete response (FilterResponse). It is the mode of every response
	// filter that does not implement StreamFilter.
	HoldStream StreamMode = iota
	// ObserveStream shows the filter each chunk just before the client gets it
	// (FilterChunk); the filter cannot change the chunk but can end the stream with an
	// error. The client's stream keeps its pace.
	ObserveStream
	// TransformStream lets the filter change each chunk's text, or drop the chunk, before
	// the client gets it.
	TransformStream
)

// String returns the mode's name: hold, observe or transform.
func (m StreamMode) String() string {
	switch m {
	case HoldStream:
		return "hold"
	case ObserveStream:
		return "observe"
	case TransformStream:
		return "transform"
	}
	return fmt.Sprintf("StreamMode(%d)", int(m))
}

// StreamFilter is a ResponseFilter that handles streams chunk by chunk instead of holding
// them. For a streamed response in ObserveStream or TransformStream mode the proxy calls
// FilterChunk for each chunk, in order, and not FilterResponse; a non-streamed response
// still goes to FilterResponse.
//
// An error from FilterChunk ends the stream: when the client has received nothing yet it
// gets the error as a normal error response, otherwise the provider's own in-stream error
// event (an SSE error event, an AWS exception frame) and the end of the stream. The log
// keeps an error row with the error's status.
type StreamFilter interface {
	ResponseFilter
	StreamMode() StreamMode
	FilterChunk(ctx context.Context, x *Exchange, c *Chunk) error
}

// Chunk is one event of a streamed response on its way to the client.
type Chunk struct {
	// Index counts the chunks the client was to receive, from 0.
	Index int
	// Raw is the event as the client will receive it, in the provider's wire format (an SSE
	// event, an AWS event-stream frame). It must not be modified or kept; set it to nil to
	// drop the event in TransformStream mode.
	Raw []byte
	// Text is the generated text the event carries (a content delta); HasText is false for
	// events that carry none (role, tool-call, usage, stop events) and for providers that
	// cannot expose their events' text. In TransformStream mode, changing Text rewrites
	// the event in the provider's format.
	Text    string
	HasText bool
}

// LogFilter changes what the access log stores, never what the client gets. FilterLog is
// called in the log writer's goroutine for every row (request, response and error), after
// the row's content, tool calls, token counts and cost were computed and before it is
// stored; it may change the record's text fields, for example to mask personal data.
type LogFilter interface {
	FilterLog(rec *accesslog.Record)
}

// FilterPolicy is how the proxy treats one filter that panics or runs past its time limit.
// The zero policy fails closed and sets no time limit.
type FilterPolicy struct {
	// Timeout bounds each call of the filter; 0 sets no limit. A filter that exceeds it is
	// abandoned: its changes to the exchange are discarded.
	Timeout time.Duration
	// FailOpen lets the request go on as if the filter had passed when it panics or times
	// out. By default (fail closed) the request fails: 500 on a panic, 504 on a timeout.
	// Errors the filter returns itself are refusals, never failures, and always apply.
	FailOpen bool
	// Name names the filter in logs and metrics; default its Go type.
	Name string
}

// WithPolicy returns f, a filter of any kind, to be added with AddFilter or SetFilters
// under the policy pol.
func WithPolicy(f any, pol FilterPolicy) any {
	return &policyFilter{f: f, pol: pol}
}

type policyFilter struct {
	f   any
	pol FilterPolicy
}

// RequestFilterFunc adapts a function to a RequestFilter.
type RequestFilterFunc func(ctx context.Context, x *Exchange) (*Reply, error)

// FilterRequest calls f.
func (f RequestFilterFunc) FilterRequest(ctx context.Context, x *Exchange) (*Reply, error) {
	return f(ctx, x)
}

// ResponseFilterFunc adapts a function to a ResponseFilter.
type ResponseFilterFunc func(ctx context.Context, x *Exchange, resp *Response) error

// FilterResponse calls f.
func (f ResponseFilterFunc) FilterResponse(ctx context.Context, x *Exchange, resp *Response) error {
	return f(ctx, x, resp)
}

// filterSet is the proxy's filters at one moment; a request uses the set it started with.
type filterSet struct {
	req   []reqEntry
	resp  []respEntry
	log   []LogFilter
	chunk bool // some response filter handles streams by chunk
	hold  bool // some response filter holds streams
}

type reqEntry struct {
	f    RequestFilter
	pol  FilterPolicy
	name string
}

type respEntry struct {
	f    ResponseFilter
	sf   StreamFilter // non-nil when f handles streams by chunk
	pol  FilterPolicy
	name string
}

// add adds one filter to the set, or fails when it is no filter at all.
func (s *filterSet) add(f any) error {
	pol := FilterPolicy{}
	if pf, ok := f.(*policyFilter); ok {
		f, pol = pf.f, pf.pol
	}
	if f == nil {
		return errors.New("aiproxy: nil filter")
	}
	name := pol.Name
	if name == "" {
		name = fmt.Sprintf("%T", f)
	}
	rf, isReq := f.(RequestFilter)
	sf, isResp := f.(ResponseFilter)
	lf, isLog := f.(LogFilter)
	if !isReq && !isResp && !isLog {
		return fmt.Errorf("aiproxy: %T is neither a RequestFilter, a ResponseFilter nor a LogFilter", f)
	}
	if isReq {
		s.req = append(s.req, reqEntry{f: rf, pol: pol, name: name})
	}
	if isResp {
		e, err := newRespEntry(sf, pol, name)
		if err != nil {
			return err
		}
		s.addResp(e)
	}
	if isLog {
		s.log = append(s.log, lf)
	}
	return nil
}

func newRespEntry(f ResponseFilter, pol FilterPolicy, name string) (respEntry, error) {
	e := respEntry{f: f, pol: pol, name: name}
	if st, ok := f.(StreamFilter); ok {
		switch m := st.StreamMode(); m {
		case ObserveStream, TransformStream:
			e.sf = st
		case HoldStream:
		default:
			return e, fmt.Errorf("aiproxy: filter %s declares unknown %v", name, m)
		}
	}
	return e, nil
}

func (s *filterSet) addResp(e respEntry) {
	if e.sf != nil {
		s.chunk = true
	} else {
		s.hold = true
	}
	s.resp = append(s.resp, e)
}

func (s *filterSet) clone() *filterSet {
	return &filterSet{
		req:   append([]reqEntry(nil), s.req...),
		resp:  append([]respEntry(nil), s.resp...),
		log:   append([]LogFilter(nil), s.log...),
		chunk: s.chunk,
		hold:  s.hold,
	}
}

// filterFailure is a filter that panicked or ran out of time.
type filterFailure struct {
	filter  string
	timeout time.Duration // set for a timeout
	value   any           // the panic value
	stack   []byte
}

func (e *filterFailure) Error() string {
	if e.timeout > 0 {
		return fmt.Sprintf("filter %s did not finish within %v", e.filter, e.timeout)
	}
	return fmt.Sprintf("filter %s panicked: %v", e.filter, e.value)
}

func (e *filterFailure) reason() string {
	if e.timeout > 0 {
		return "timeout"
	}
	return "panic"
}

// status is what the client gets when the filter fails closed.
func (e *filterFailure) status() int {
	if e.timeout > 0 {
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

// callFilter runs one call of a filter under its policy. Without a time limit the call runs
// on the exchange itself; with one it runs on a copy in its own goroutine, and the copy's
// changes are taken over only when the call returns in time, so an abandoned filter can
// never change the exchange under the request.
func callFilter[T any](ctx context.Context, x *Exchange, name string, pol FilterPolicy, call func(context.Context, *Exchange) (T, error)) (T, error) {
	if pol.Timeout <= 0 {
		return safeCall(ctx, x, name, call)
	}
	ctx, cancel := context.WithTimeout(ctx, pol.Timeout)
	defer cancel()
	xc := x.fork()
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := safeCall(ctx, xc, name, call)
		done <- result{v, err}
	}()
	t := time.NewTimer(pol.Timeout)
	defer t.Stop()
	select {
	case r := <-done:
		if r.err == nil {
			x.adopt(xc)
		}
		return r.v, r.err
	case <-t.C:
		var zero T
		return zero, &filterFailure{filter: name, timeout: pol.Timeout}
	}
}

func safeCall[T any](ctx context.Context, x *Exchange, name string, call func(context.Context, *Exchange) (T, error)) (v T, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &filterFailure{filter: name, value: r, stack: stack()}
		}
	}()
	return call(ctx, x)
}

func stack() []byte { return debug.Stack() }
