package aiproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/provider"
)

// HeaderRequestID is the response header that carries the request id of every exchange.
const HeaderRequestID = "X-Aiproxy-Request-Id"

// StatusClientClosedRequest is logged when the client went away before the response was
// complete (nginx's and Caddy's 499).
const StatusClientClosedRequest = 499

// ServeHTTP proxies one request.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !p.serving.Load() {
		p.serving.Store(true)
	}
	received := time.Now()
	if r.URL.Path == "/metrics" && p.opts.Metrics != nil && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		p.opts.Metrics.Handler().ServeHTTP(w, r)
		return
	}
	if r.URL.Path == "/healthz" {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`)
		return
	}
	id := newRequestID()
	w.Header().Set(HeaderRequestID, id)

	prov, endpoint := p.route(r)
	if prov == nil {
		writeJSONError(w, http.StatusNotFound, "not_found_error",
			fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path))
		return
	}
	req := &provider.Request{
		ID:       id,
		Method:   r.Method,
		Endpoint: endpoint,
		RawQuery: r.URL.RawQuery,
		Header:   upstreamHeader(r.Header),
	}
	x := &Exchange{ID: id, Provider: prov, Request: req, Incoming: r, Received: received}
	reqRec := p.requestRecord(x)

	body, err := readBody(w, r, p.opts.MaxBodySize)
	if err != nil {
		p.fail(w, x, reqRec, err)
		return
	}
	req.Body, x.ClientBody, reqRec.RawBody = body, body, body
	if err := prov.Parse(req); err != nil {
		p.fail(w, x, reqRec, err)
		return
	}
	reqRec.Stream, reqRec.Model, reqRec.User = req.Stream, req.Model, req.User

	ctx := r.Context()
	fs := p.filters.Load()
	x.filters = fs
	for _, e := range fs.req {
		reply, err := callFilter(ctx, x, e.name, e.pol, e.f.FilterRequest)
		if err != nil {
			if p.filterFailed(x, e.name, e.pol, err) {
				continue
			}
			p.fail(w, x, reqRec, err)
			return
		}
		if reply != nil {
			p.reply(w, x, reqRec, reply)
			return
		}
	}

	upCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	up, err := prov.Prepare(upCtx, req)
	if err != nil {
		p.fail(w, x, reqRec, err)
		return
	}
	if !bytes.Equal(req.Body, body) {
		reqRec.UpstreamBody = req.Body
	}
	p.writeRequest(x, reqRec)
	reqRec = nil

	apiStart := time.Now()
	resp, err := p.roundTrip(upCtx, up)
	if err != nil {
		p.fail(w, x, nil, p.upstreamError(r, err))
		return
	}
	defer resp.Body.Close()
	idle := newIdleTimer(p.opts.StreamIdleTimeout, cancel)
	defer idle.stop()

	rec := p.responseRecord(x, resp, apiStart)
	if resp.StatusCode >= 400 {
		p.relayError(w, x, resp, rec, idle)
		return
	}
	if st, ok := prov.NewStream(req, resp); ok {
		if fs.hold {
			p.holdStream(w, x, resp, st, rec, idle)
		} else {
			p.relayStream(w, x, resp, st, rec, idle)
		}
		return
	}
	p.relayBody(w, x, resp, rec, idle)
}

// route finds the provider serving r.
func (p *Proxy) route(r *http.Request) (provider.Provider, string) {
	for _, pr := range p.providers {
		if ep, ok := pr.Match(r); ok {
			return pr, ep
		}
	}
	return nil, ""
}

// readBody reads the whole request body, up to max bytes. Reading it before anything is
// written also keeps Go's HTTP/1 server from closing the body once the response starts.
func readBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	buf := bytes.NewBuffer(make([]byte, 0, bodyCap(r.ContentLength, max)))
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, &provider.Error{Status: http.StatusRequestEntityTooLarge, Type: "invalid_request_error",
				Message: fmt.Sprintf("request body is larger than the limit of %d bytes", max), Err: err}
		}
		if r.Context().Err() != nil {
			return nil, &provider.Error{Status: StatusClientClosedRequest, Message: "client closed the request", Err: err}
		}
		return nil, &provider.Error{Status: http.StatusBadRequest, Type: "invalid_request_error",
			Message: "could not read the request body", Err: err}
	}
	if buf.Len() == 0 {
		return nil, nil
	}
	return buf.Bytes(), nil
}

func bodyCap(contentLength, max int64) int64 {
	switch {
	case contentLength <= 0:
		return 4096
	case contentLength > max:
		return max + 1
	default:
		return contentLength + 1 // +1 lets ReadFrom see EOF without growing
	}
}

// filterFailed logs and counts a filter that panicked or timed out, and reports whether
// the request goes on without it (the filter fails open). Any other error is the filter's
// own refusal and is not a failure.
func (p *Proxy) filterFailed(x *Exchange, name string, pol FilterPolicy, err error) bool {
	var ff *filterFailure
	if !errors.As(err, &ff) {
		return false
	}
	attrs := []any{"request_id", x.ID, "filter", name, "reason", ff.reason(), "fail_open", pol.FailOpen}
	if ff.timeout == 0 {
		attrs = append(attrs, "panic", fmt.Sprint(ff.value), "stack", string(ff.stack))
	}
	p.logger.Error("filter failed", attrs...)
	if p.opts.Metrics != nil {
		p.opts.Metrics.ObserveFilterFailure(name, ff.reason())
	}
	return pol.FailOpen
}

// reply sends a filter's reply in the provider's format and logs it as the response.
func (p *Proxy) reply(w http.ResponseWriter, x *Exchange, reqRec *accesslog.Record, reply *Reply) {
	p.writeRequest(x, reqRec)
	resp := x.Provider.Render(x.Request, reply)
	writeResponse(w, resp)
	rec := p.newRecord(x, accesslog.DirectionResponse)
	rec.StatusCode = resp.Status
	rec.RawBody = resp.Body
	rec.RawHeaders = maskHeaders(resp.Header)
	rec.RequestBody = x.Request.Body
	rec.Model = reply.Model
	rec.RequestTime = time.Since(x.Received).Seconds()
	p.write(rec)
}

// fail answers err in the provider's error shape and logs the request (when reqRec is
// still unwritten) and an error row.
func (p *Proxy) fail(w http.ResponseWriter, x *Exchange, reqRec *accesslog.Record, err error) {
	p.writeRequest(x, reqRec)
	e := p.toError(err)
	rec := p.newRecord(x, accesslog.DirectionError)
	rec.StatusCode = e.Status
	rec.Content = e.Message
	rec.RequestTime = time.Since(x.Received).Seconds()
	if e.Status != StatusClientClosedRequest {
		resp := x.Provider.Error(x.Request, e)
		for k, v := range e.Header {
			if resp.Header == nil {
				resp.Header = http.Header{}
			}
			resp.Header[k] = v
		}
		writeResponse(w, resp)
		rec.RawBody = resp.Body
	}
	p.write(rec)
}

// toError maps any error to the *provider.Error the client receives.
func (p *Proxy) toError(err error) *provider.Error {
	var pe *provider.Error
	if errors.As(err, &pe) {
		e := *pe
		if e.Status == 0 {
			e.Status = http.StatusInternalServerError
		}
		if e.Message == "" {
			e.Message = http.StatusText(e.Status)
		}
		return &e
	}
	var ff *filterFailure
	if errors.As(err, &ff) {
		msg := "a filter of the proxy failed"
		if ff.timeout > 0 {
			msg = "a filter of the proxy did not finish in time"
		}
		return &provider.Error{Status: ff.status(), Type: "server_error", Message: msg, Err: err}
	}
	return &provider.Error{Status: http.StatusInternalServerError, Type: "server_error", Message: err.Error(), Err: err}
}

func writeResponse(w http.ResponseWriter, resp *provider.Response) {
	h := w.Header()
	for k, v := range resp.Header {
		h[k] = v
	}
	h.Del("Content-Length")
	w.WriteHeader(resp.Status)
	_, _ = w.Write(resp.Body)
}

// writeJSONError answers requests that no provider serves, in OpenAI's error shape, the
// most widely understood one.
func writeJSONError(w http.ResponseWriter, status int, typ, msg string) {
	body, _ := json.Marshal(map[string]map[string]any{"error": {"message": msg, "type": typ, "param": nil, "code": nil}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
