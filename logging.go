package aiproxy

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/metrics"
	"github.com/aiproxy-go/aiproxy/provider"
	"github.com/aiproxy-go/aiproxy/tokens"
)

// newRecord starts a log row of the exchange, stamped now.
func (p *Proxy) newRecord(x *Exchange, direction string) *accesslog.Record {
	return &accesslog.Record{
		RequestID: x.ID,
		CreatedAt: time.Now().UTC(),
		Direction: direction,
		Provider:  x.Provider.Name(),
		Endpoint:  x.Request.Endpoint,
		Stream:    x.Request.Stream,
		Model:     x.Request.Model,
		User:      cmp.Or(x.Request.User, x.ClientKey),
		ClientKey: x.ClientKey,
	}
}

// requestRecord captures the client's request as it arrived: its body is set once read.
func (p *Proxy) requestRecord(x *Exchange) *accesslog.Record {
	rec := p.newRecord(x, accesslog.DirectionRequest)
	rec.CreatedAt = x.Received.UTC()
	rec.RawHeaders = maskHeaders(x.Incoming.Header)
	return rec
}

// responseRecord starts the row of an upstream response.
func (p *Proxy) responseRecord(x *Exchange, resp *http.Response, apiStart time.Time) *accesslog.Record {
	rec := p.newRecord(x, accesslog.DirectionResponse)
	rec.RawHeaders = maskHeaders(resp.Header)
	rec.UpstreamRequestID = firstHeader(resp.Header, "X-Request-Id", "Request-Id", "X-Amzn-Requestid")
	rec.RequestBody = x.Request.Body
	// Until finishRecord, RequestTimeAPI holds when the upstream call started, in seconds
	// into the exchange.
	rec.RequestTimeAPI = apiStart.Sub(x.Received).Seconds()
	return rec
}

// finishRecord stamps the end of an upstream response and hands the row to the writer.
func (p *Proxy) finishRecord(rec *accesslog.Record, x *Exchange) {
	now := time.Now()
	rec.CreatedAt = now.UTC()
	rec.RequestTime = now.Sub(x.Received).Seconds()
	if rec.RequestTimeAPI > 0 {
		rec.RequestTimeAPI = rec.RequestTime - rec.RequestTimeAPI
	}
	p.write(rec)
}

func firstHeader(h http.Header, names ...string) string {
	for _, n := range names {
		if v := h.Get(n); v != "" {
			return v
		}
	}
	return ""
}

// filterLog runs the log filters on a row. A log filter that panics fails closed: the
// row is stored without its texts and bodies, since the filter may have been there to
// keep something out of the log.
func (p *Proxy) filterLog(r *accesslog.Record) {
	for _, lf := range p.filters.Load().log {
		func() {
			defer func() {
				if v := recover(); v != nil {
					r.Content, r.FunctionCall, r.ToolCalls = "", "", ""
					r.RawBody, r.UpstreamBody, r.RawHeaders = nil, nil, nil
					p.logger.Error("log filter panicked; row stored without its texts",
						"request_id", r.RequestID, "filter", fmt.Sprintf("%T", lf), "panic", fmt.Sprint(v))
					if p.opts.Metrics != nil {
						p.opts.Metrics.ObserveFilterFailure(fmt.Sprintf("%T", lf), "panic")
					}
				}
			}()
			lf.FilterLog(r)
		}()
	}
}

// writeRequest hands the exchange's request row to the writer, with the client key that
// the filters found, once they ran.
func (p *Proxy) writeRequest(x *Exchange, rec *accesslog.Record) {
	if rec == nil {
		return
	}
	if x.ClientKey != "" {
		rec.ClientKey = x.ClientKey
		rec.User = cmp.Or(rec.User, x.ClientKey)
	}
	p.write(rec)
}

func (p *Proxy) write(rec *accesslog.Record) {
	if p.log != nil && rec != nil {
		p.log.Write(rec)
	}
}

// credentialHeaders are masked in every logged header set.
var credentialHeaders = map[string]bool{
	"Authorization": true, "Proxy-Authorization": true, "Api-Key": true, "X-Api-Key": true,
	"X-Goog-Api-Key": true, "Cookie": true, "Set-Cookie": true, "X-Amz-Security-Token": true,
	"Openai-Api-Key": true, "Anthropic-Api-Key": true,
}

// maskHeaders returns a copy of h with every credential masked: the scheme and the last
// four characters stay, so a key can be recognised but not used.
func maskHeaders(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for k, v := range h {
		if !credentialHeaders[k] {
			out[k] = v
			continue
		}
		masked := make([]string, len(v))
		for i, s := range v {
			masked[i] = maskValue(s)
		}
		out[k] = masked
	}
	return out
}

func maskValue(s string) string {
	scheme := ""
	if i := strings.IndexByte(s, ' '); i > 0 && i <= 16 {
		scheme, s = s[:i+1], s[i+1:]
	}
	if len(s) < 16 {
		return scheme + "***"
	}
	return scheme + "***" + s[len(s)-4:]
}

// enrich derives the parsed fields of a record from its captured bytes. It runs in the log
// writer's goroutine, never on the request path.
func (p *Proxy) enrich(r *accesslog.Record) {
	p.scrub(r)
	prov := p.byName[r.Provider]
	if prov == nil {
		return
	}
	switch r.Direction {
	case accesslog.DirectionRequest:
		s := prov.SummarizeRequest(r.Endpoint, r.RawBody)
		r.Content = s.Content
		r.Model = firstNonEmpty(r.Model, s.Model)
		r.User = firstNonEmpty(r.User, s.User)
		return
	}
	stream := r.Stream && !looksLikeJSON(r.RawBody)
	s := prov.SummarizeResponse(r.Endpoint, r.RawBody, stream)
	if lf, ok := prov.(provider.LogFormatter); ok {
		defer func() { r.RawBody = lf.LogBody(r.Endpoint, r.RawBody, stream) }()
	}
	if s.Model != "" {
		r.Model = s.Model
	}
	if r.Content == "" {
		if r.Direction == accesslog.DirectionError {
			r.Content = firstNonEmpty(s.Error, textOf(r.RawBody))
		} else {
			r.Content = s.Content
		}
	}
	if len(s.ToolCalls) > 0 {
		b, _ := json.Marshal(s.ToolCalls)
		r.ToolCalls = string(b)
	}
	if s.FunctionCall != nil {
		b, _ := json.Marshal(s.FunctionCall)
		r.FunctionCall = string(b)
	}
	if s.Usage != nil {
		r.PromptTokens, r.CompletionTokens = s.Usage.InputTokens, s.Usage.OutputTokens
		r.CachedTokens, r.ReasoningTokens = s.Usage.CachedTokens, s.Usage.ReasoningTokens
		return
	}
	if r.Direction != accesslog.DirectionResponse || r.StatusCode >= 400 {
		return
	}
	// No count from the provider: estimate, and say so.
	req := prov.SummarizeRequest(r.Endpoint, r.RequestBody)
	model := firstNonEmpty(r.Model, req.Model)
	if req.Text != "" {
		r.PromptTokens = tokens.Count(model, req.Text)
	}
	out := s.Content
	for _, tc := range s.ToolCalls {
		out += tc.Function.Name + tc.Function.Arguments
	}
	if out != "" {
		r.CompletionTokens = tokens.Count(model, out)
	}
	r.TokensEstimated = true
}

// scrub removes every configured secret from what the log stores, in case an upstream
// echoed one back.
func (p *Proxy) scrub(r *accesslog.Record) {
	for _, s := range p.secrets {
		for _, b := range []*[]byte{&r.RawBody, &r.UpstreamBody} {
			if bytes.Contains(*b, s) {
				*b = bytes.ReplaceAll(*b, s, []byte("[REDACTED]"))
			}
		}
		if strings.Contains(r.Content, string(s)) {
			r.Content = strings.ReplaceAll(r.Content, string(s), "[REDACTED]")
		}
	}
}

func looksLikeJSON(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && (b[0] == '{' || b[0] == '[')
}

// textOf returns a short printable excerpt of a non-JSON error body.
func textOf(b []byte) string {
	const max = 1000
	if len(b) > max {
		b = b[:max]
	}
	return strings.ToValidUTF8(string(bytes.TrimSpace(b)), "")
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// price sets the cost of a response or error row from its token counts, unless something
// before it already did. A model without a price keeps cost 0.
func (p *Proxy) price(r *accesslog.Record) {
	if r.Direction == accesslog.DirectionRequest || r.CostUSD != 0 {
		return
	}
	// The same function as `aiproxy reprice`, so that a repricing reproduces this.
	if usd, ok := p.prices.CostOfCounts(r.Provider, r.Model, r.PromptTokens, r.CompletionTokens, r.CachedTokens, r.ReasoningTokens); ok {
		r.CostUSD = usd
	}
}

// observe hands a finished exchange (a response or error row) to the metrics.
func (p *Proxy) observe(r *accesslog.Record) {
	if p.opts.Metrics == nil {
		return
	}
	if x, ok := metrics.ExchangeFromRecord(r); ok {
		p.opts.Metrics.ObserveExchange(x)
	}
}
