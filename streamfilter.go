package aiproxy

import (
	"context"
	"net/http"
	"time"

	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/provider"
)

// chunkFilters runs the observe and transform filters of a request on each event of its
// stream.
type chunkFilters struct {
	p     *Proxy
	x     *Exchange
	text  provider.StreamText // nil when the provider cannot expose its events' text
	index int
	// changed is set once a transform changed or dropped an event: the log then keeps what
	// the client received rather than what the upstream sent.
	changed bool
}

func newChunkFilters(p *Proxy, x *Exchange, st provider.Stream) *chunkFilters {
	if !x.filters.chunk {
		return nil
	}
	cf := &chunkFilters{p: p, x: x}
	cf.text, _ = st.(provider.StreamText)
	return cf
}

// filter passes one event, as Relay made it for the client, through the filters. It
// returns what the client receives (nil: nothing) and whether a transform changed it. An
// error ends the stream.
func (cf *chunkFilters) filter(ctx context.Context, out []byte) ([]byte, bool, error) {
	c := &Chunk{Index: cf.index, Raw: out}
	if cf.text != nil {
		c.Text, c.HasText = cf.text.EventText(out)
	}
	changed := false
	for _, e := range cf.x.filters.resp {
		if e.sf == nil {
			continue
		}
		observe := e.sf.StreamMode() == ObserveStream
		before := c.Text
		work := c
		if observe || e.pol.Timeout > 0 {
			cc := *c
			work = &cc
		}
		_, err := callFilter(ctx, cf.x, e.name, e.pol, func(ctx context.Context, x *Exchange) (struct{}, error) {
			return struct{}{}, e.sf.FilterChunk(ctx, x, work)
		})
		if err != nil {
			if cf.p.filterFailed(cf.x, e.name, e.pol, err) {
				continue
			}
			return nil, false, err
		}
		if observe {
			continue
		}
		if work.Raw == nil {
			cf.changed = true
			return nil, true, nil
		}
		if c.HasText && work.Text != before && cf.text != nil {
			raw, err := cf.text.SetEventText(work.Raw, work.Text)
			if err != nil {
				return nil, false, &provider.Error{Status: http.StatusInternalServerError, Type: "server_error",
					Message: "a filter's change to the stream could not be encoded", Err: err}
			}
			work.Raw = raw
			work.HasText = true
			changed = true
		}
		*c = *work
	}
	cf.index++
	if changed {
		cf.changed = true
	}
	return c.Raw, changed, nil
}

// stopStream ends a stream that a filter stopped after the client had part of it: the
// provider's in-stream error event when it has one, then the end of the response. The log
// gets an error row with what the client received.
func (p *Proxy) stopStream(w http.ResponseWriter, x *Exchange, rec *accesslog.Record, capt *streamCapture, err error) {
	e := p.toError(err)
	if r, ok := x.Provider.(provider.StreamErrorRenderer); ok {
		if ev := r.StreamError(x.Request, e); len(ev) > 0 {
			_, _ = w.Write(ev)
			capt.add(ev)
		}
	}
	_ = http.NewResponseController(w).Flush()
	rec.Direction = accesslog.DirectionError
	rec.StatusCode, rec.Content = e.Status, e.Message
	rec.RawBody = capt.body
	rec.ChunkTimes = capt.chunkTimes
	rec.TimeToFirstToken = capt.firstSent.Seconds()
	p.finishRecord(rec, x)
}

// sinceStart is the time from receiving the request, for the stream's first chunk.
func sinceStart(x *Exchange) time.Duration { return time.Since(x.Received) }
