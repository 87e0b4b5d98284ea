package aiproxy

import (
	"context"
	cryptorand "crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aiproxy-go/aiproxy/provider"
)

// errStreamIdle cancels an upstream call whose stream went quiet for too long.
var errStreamIdle = errors.New("upstream sent nothing within the stream idle timeout")

// roundTrip sends the request upstream, retrying 429, 5xx and connection errors up to
// MaxRetries times. It only runs before anything was written to the client, so a retry is
// never visible to it.
func (p *Proxy) roundTrip(ctx context.Context, up *http.Request) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		req := up
		if attempt > 0 {
			req = up.Clone(ctx)
			if up.GetBody != nil {
				body, err := up.GetBody()
				if err != nil {
					return nil, err
				}
				req.Body = body
			}
		}
		resp, err := p.client.Do(req)
		if attempt >= p.opts.MaxRetries || ctx.Err() != nil || !retryable(resp, err) {
			return resp, err
		}
		wait := backoff(attempt, resp)
		if resp != nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		}
		p.logger.Info("retrying upstream", "attempt", attempt+1, "wait", wait, "status", statusOf(resp))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, context.Cause(ctx)
		case <-t.C:
		}
	}
}

func statusOf(resp *http.Response) int {
	if resp == nil {
		return 0
	}
	return resp.StatusCode
}

func retryable(resp *http.Response, err error) bool {
	if err != nil {
		return true
	}
	return resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500
}

// backoff is exponential with jitter (0.5 s, 1 s, 2 s, ... up to 8 s), unless the upstream
// said when to come back: Retry-After (seconds or a date) or OpenAI's retry-after-ms.
func backoff(attempt int, resp *http.Response) time.Duration {
	const maxWait = 60 * time.Second
	if resp != nil {
		if ms, err := strconv.ParseFloat(resp.Header.Get("Retry-After-Ms"), 64); err == nil && ms >= 0 {
			return min(time.Duration(ms*float64(time.Millisecond)), maxWait)
		}
		if v := resp.Header.Get("Retry-After"); v != "" {
			if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
				return min(time.Duration(s*float64(time.Second)), maxWait)
			}
			if t, err := http.ParseTime(v); err == nil {
				return min(max(time.Until(t), 0), maxWait)
			}
		}
	}
	d := 500 * time.Millisecond << min(attempt, 4)
	return d/2 + rand.N(d/2+1)
}

// upstreamError maps a failed upstream call to what the client receives. The message
// names the failure without the upstream URL, whose query may hold a key.
func (p *Proxy) upstreamError(r *http.Request, err error) error {
	if r.Context().Err() != nil {
		return &provider.Error{Status: StatusClientClosedRequest, Message: "client closed the request", Err: err}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	if errors.Is(err, errStreamIdle) || errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return &provider.Error{Status: http.StatusGatewayTimeout, Type: "server_error",
			Message: "upstream timed out: " + err.Error(), Err: err}
	}
	var pe *provider.Error
	if errors.As(err, &pe) {
		return pe
	}
	return &provider.Error{Status: http.StatusBadGateway, Type: "server_error",
		Message: "upstream unreachable: " + err.Error(), Err: err}
}

// idleTimer cancels the upstream call when no byte arrived for d.
type idleTimer struct {
	d time.Duration
	t *time.Timer
}

func newIdleTimer(d time.Duration, cancel context.CancelCauseFunc) *idleTimer {
	return &idleTimer{d: d, t: time.AfterFunc(d, func() { cancel(errStreamIdle) })}
}

func (t *idleTimer) reset() { t.t.Reset(t.d) }
func (t *idleTimer) stop()  { t.t.Stop() }

// hopHeaders are removed in both directions (RFC 9110, 7.6.1). Accept-Encoding is removed
// upstream so bodies arrive as identity and the log can read them.
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// upstreamHeader copies the client's header without hop-by-hop headers.
func upstreamHeader(in http.Header) http.Header {
	h := in.Clone()
	removeHopHeaders(h)
	h.Del("Accept-Encoding")
	h.Del("Content-Length")
	h.Del("Host")
	return h
}

func removeHopHeaders(h http.Header) {
	for _, f := range h.Values("Connection") {
		for name := range strings.SplitSeq(f, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, k := range hopHeaders {
		h.Del(k)
	}
}

// copyResponseHeader copies an upstream response header to the client.
func copyResponseHeader(dst, src http.Header) {
	for k, v := range src {
		if _, own := dst[k]; own && k == HeaderRequestID {
			continue
		}
		dst[k] = v
	}
	removeHopHeaders(dst)
}

// newRequestID returns 32 random hex digits.
func newRequestID() string {
	var b [16]byte
	_, _ = cryptorand.Read(b[:])
	return hex.EncodeToString(b[:])
}
