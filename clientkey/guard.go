// Package clientkey makes the proxy require client keys: keys that the operator hands out,
// each with a name, the models it may use, rate limits and a daily budget.
//
// A Guard is the request filter that enforces them. It finds the client's credential where
// each SDK puts it (Authorization: Bearer, api-key, x-api-key, x-goog-api-key, Gemini's key
// query parameter, or an AWS SigV4 signature for Bedrock clients), names the key in the
// Exchange (and so in the log's client_key column), removes the credential before the
// request goes upstream, and refuses the request in the provider's own error shape when the
// key is missing or unknown (401), the model is not allowed (403), a rate limit is reached
// (429 with Retry-After) or the day's budget is spent (429 with Retry-After until UTC
// midnight).
//
// Rate limits are counted by a ratelimit.Limiter (in memory, or in Redis to share them
// between instances); budgets by a budget.Ledger in the log database. Both need the real
// usage of each request, which the Guard learns from its Settle method: call it with every
// response and error record after the log writer priced it.
package clientkey

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/budget"
	"github.com/aiproxy-go/aiproxy/pricing"
	"github.com/aiproxy-go/aiproxy/provider"
	"github.com/aiproxy-go/aiproxy/ratelimit"
)

// Options configures a Guard.
type Options struct {
	// Keys are the accepted client keys.
	Keys []Key
	// Limiter counts requests and tokens per minute; nil keeps the counters in memory
	// (ratelimit.NewMemory). A limiter that fails lets requests through (and logs it): a
	// rate-limit store that is down does not take the proxy down.
	Limiter ratelimit.Limiter
	// Budget keeps the daily spend; nil allows no key a budget. A ledger that fails
	// refuses the requests of keys with a budget (503): money is not spent blind.
	Budget *budget.Ledger
	// Prices estimate the cost of a request for its budget reservation; nil uses
	// pricing.Default(). Use the table the proxy prices its log with.
	Prices *pricing.Table
	// DefaultMaxOutputTokens is the output assumed for a request that sets no limit, for
	// its reservation; zero means DefaultMaxOutputTokens.
	DefaultMaxOutputTokens int
	// Logger receives the Guard's warnings; nil uses slog.Default().
	Logger *slog.Logger
	// Now is the clock; nil means time.Now. Tests set it.
	Now func() time.Time
}

// Guard is the request filter that checks client keys, rate limits and budgets. It is safe
// for concurrent use. Close it after the proxy, so that the last settlements are applied.
type Guard struct {
	keys    atomic.Pointer[keyset]
	limiter ratelimit.Limiter
	ledger  *budget.Ledger
	prices  *pricing.Table
	maxOut  int
	logger  *slog.Logger
	now     func() time.Time

	mu      sync.Mutex
	pending map[string]*usage // by request id: requests whose real usage is awaited

	settle   chan settlement
	stop     chan struct{}
	done     chan struct{}
	applying atomic.Int64 // settlements taken from the queue and not yet applied
	closeMu  sync.RWMutex // held to read closed and send to settle, locked to close
	closed   bool
	stopOnce sync.Once
}

var _ aiproxy.RequestFilter = (*Guard)(nil)

// usage is what a request reserved at admission.
type usage struct {
	key      string // the key's name
	tpmKey   string // its token counter, when it has a token limit
	tokens   int64  // prompt tokens charged to tpmKey at admission
	reserved bool   // it holds a budget reservation
	admitted time.Time
}

// settlement is a request's real usage, on its way to the counters.
type settlement struct {
	requestID string
	usage     *usage
	tokens    int64
	costUSD   float64
}

// settleQueue is how many settlements may wait for the background worker before Settle
// applies them itself.
const settleQueue = 4096

// pendingTTL is how long the Guard waits for a request's settlement before forgetting it
// (a proxy without an access log never settles); budget.Ledger releases the reservation on
// its own schedule.
const pendingTTL = 2 * time.Hour

// New returns a Guard accepting opts.Keys. It starts a goroutine that applies settlements
// and releases stale budget reservations; Close stops it.
func New(opts Options) (*Guard, error) {
	g := &Guard{
		limiter: opts.Limiter, ledger: opts.Budget, prices: opts.Prices,
		maxOut: opts.DefaultMaxOutputTokens, logger: opts.Logger, now: opts.Now,
		pending: map[string]*usage{},
		settle:  make(chan settlement, settleQueue),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	if g.limiter == nil {
		g.limiter = ratelimit.NewMemory(ratelimit.MemoryOptions{})
	}
	if g.prices == nil {
		g.prices = pricing.Default()
	}
	if g.maxOut <= 0 {
		g.maxOut = DefaultMaxOutputTokens
	}
	if g.logger == nil {
		g.logger = slog.Default()
	}
	if g.now == nil {
		g.now = time.Now
	}
	if err := g.Reload(opts.Keys); err != nil {
		return nil, err
	}
	go g.run()
	return g, nil
}

// Reload replaces the accepted keys, for a configuration reloaded on SIGHUP. Counters and
// spend are kept by key name: a key that keeps its name keeps its usage, whatever else
// changed. Requests in flight settle against the key they were admitted with. On error the
// keys stay as they were.
func (g *Guard) Reload(keys []Key) error {
	ks, err := newKeyset(keys, g.ledger != nil)
	if err != nil {
		return err
	}
	g.keys.Store(ks)
	return nil
}

// FilterRequest implements aiproxy.RequestFilter: it admits the request, setting
// x.ClientKey, or refuses it with a *provider.Error.
func (g *Guard) FilterRequest(ctx context.Context, x *aiproxy.Exchange) (*aiproxy.Reply, error) {
	e, err := g.authenticate(x)
	if err != nil {
		return nil, err
	}
	x.ClientKey = e.Name
	return nil, g.admit(ctx, x, e)
}

// Authenticate returns a request filter that only checks the client key and sets
// x.ClientKey; Admit returns one that applies that key's model list, rate limits and
// budget. Put Authenticate first and Admit after the filters that rewrite the model or the
// output limit, so that the limits see the request that goes upstream; FilterRequest does
// both at once.
func (g *Guard) Authenticate() aiproxy.RequestFilter { return authenticator{g} }

// Admit returns the request filter of the second half of FilterRequest; see Authenticate.
func (g *Guard) Admit() aiproxy.RequestFilter { return admitter{g} }

type authenticator struct{ g *Guard }

func (a authenticator) FilterRequest(ctx context.Context, x *aiproxy.Exchange) (*aiproxy.Reply, error) {
	e, err := a.g.authenticate(x)
	if err != nil {
		return nil, err
	}
	x.ClientKey = e.Name
	return nil, nil
}

type admitter struct{ g *Guard }

func (a admitter) FilterRequest(ctx context.Context, x *aiproxy.Exchange) (*aiproxy.Reply, error) {
	e := a.g.keys.Load().byName[x.ClientKey]
	if x.ClientKey == "" || e == nil {
		// No Authenticate before, or its key was removed by a reload meanwhile.
		return nil, unauthorized(x.Provider.Name() == "bedrock", "UnrecognizedClientException", "invalid client key")
	}
	return nil, a.g.admit(ctx, x, e)
}

// admit applies the key's model list, rate limits and budget to the request.
func (g *Guard) admit(ctx context.Context, x *aiproxy.Exchange, e *entry) error {
	if !e.allows(x.Request.Model) {
		return &provider.Error{Status: http.StatusForbidden, Type: "permission_error", Code: "model_not_allowed",
			Message: fmt.Sprintf("client key %q may not use model %q", e.Name, x.Request.Model)}
	}

	var u *usage
	var prompt int
	if e.TokensPerMinute > 0 || e.BudgetUSDPerDay > 0 {
		prompt = promptTokens(x)
	}
	charged := false // the limiter counted the request
	if e.RequestsPerMinute > 0 || e.TokensPerMinute > 0 {
		var limits [2]ratelimit.Limit
		ls := limits[:0]
		if e.RequestsPerMinute > 0 {
			ls = append(ls, ratelimit.Limit{Key: e.rpmKey, Max: e.RequestsPerMinute, Cost: 1})
		}
		if e.TokensPerMinute > 0 {
			ls = append(ls, ratelimit.Limit{Key: e.tpmKey, Max: e.TokensPerMinute, Cost: int64(prompt)})
		}
		d, err := g.limiter.Admit(ctx, ls...)
		switch {
		case err != nil:
			g.logger.Warn("rate limiter failed: request admitted", "client_key", e.Name, "request_id", x.ID, "err", err)
		case !d.Allowed:
			what := "requests"
			if ls[d.Refused].Key == e.tpmKey {
				what = "tokens"
			}
			return &provider.Error{Status: http.StatusTooManyRequests, Type: "rate_limit_error", Code: "rate_limit_exceeded",
				Message: fmt.Sprintf("client key %q reached its limit of %d %s per minute", e.Name, ls[d.Refused].Max, what),
				Header:  retryAfter(d.RetryAfter)}
		default:
			charged = true
			if e.TokensPerMinute > 0 {
				u = &usage{key: e.Name, tpmKey: e.tpmKey, tokens: int64(prompt)}
			}
		}
	}

	if e.BudgetUSDPerDay > 0 && g.ledger != nil {
		est := g.estimateUSD(x, prompt)
		ok, err := g.ledger.Reserve(ctx, x.ID, e.Name, e.BudgetUSDPerDay, est)
		if (err != nil || !ok) && charged {
			g.refund(e, u)
		}
		if err != nil {
			g.logger.Error("budget ledger failed: request refused", "client_key", e.Name, "request_id", x.ID, "err", err)
			return &provider.Error{Status: http.StatusServiceUnavailable, Type: "api_error",
				Message: "the proxy cannot check the budget of client key " + strconv.Quote(e.Name) + " now", Err: err}
		}
		if !ok {
			now := g.now()
			return &provider.Error{Status: http.StatusTooManyRequests, Type: "insufficient_quota", Code: "insufficient_quota",
				Message: fmt.Sprintf("client key %q exhausted its budget of $%g for today (UTC)", e.Name, e.BudgetUSDPerDay),
				Header:  retryAfter(budget.NextDay(now).Sub(now))}
		}
		if u == nil {
			u = &usage{key: e.Name}
		}
		u.reserved = true
	}
	if u != nil {
		u.admitted = g.now()
		g.mu.Lock()
		g.pending[x.ID] = u
		g.mu.Unlock()
	}
	return nil
}

// refund takes back what a request refused after the rate limiter admitted it was charged.
func (g *Guard) refund(e *entry, u *usage) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var err error
	if e.RequestsPerMinute > 0 {
		err = g.limiter.Add(ctx, e.rpmKey, -1)
	}
	if u != nil && u.tpmKey != "" && u.tokens > 0 {
		err = errors.Join(err, g.limiter.Add(ctx, u.tpmKey, -u.tokens))
	}
	if err != nil {
		g.logger.Warn("rate limiter failed to refund a refused request", "client_key", e.Name, "err", err)
	}
}

// estimateUSD is the most the request is expected to cost: its estimated prompt and its
// output limit at the model's prices. A model without a price is estimated at zero.
func (g *Guard) estimateUSD(x *aiproxy.Exchange, prompt int) float64 {
	usd, _ := g.prices.Cost(x.Provider.Name(), x.Request.Model,
		pricing.Usage{Input: prompt, Output: maxOutputTokens(x.Request.Body, g.maxOut)})
	return usd
}

// retryAfter is a Retry-After header for d, in whole seconds, at least one.
func retryAfter(d time.Duration) http.Header {
	s := max(int64(math.Ceil(d.Seconds())), 1)
	return http.Header{"Retry-After": {strconv.FormatInt(s, 10)}}
}

// authenticate finds the key of the request's credential and removes the credential from
// what goes upstream.
func (g *Guard) authenticate(x *aiproxy.Exchange) (*entry, error) {
	ks := g.keys.Load()
	r := x.Incoming
	bedrock := x.Provider.Name() == "bedrock"
	if a, ok, err := ParseSigV4(r.Header.Get("Authorization")); ok {
		if err != nil {
			return nil, unauthorized(bedrock, "InvalidSignatureException", "the request's aws signature is malformed: "+err.Error())
		}
		e := ks.byAccessKey[a.AccessKeyID]
		if e == nil {
			return nil, unauthorized(bedrock, "UnrecognizedClientException", "the aws access key id is not a client key of this proxy")
		}
		if err := VerifySigV4(r, a, x.ClientBody, e.AWSSecretAccessKey, g.now()); err != nil {
			return nil, unauthorized(bedrock, "InvalidSignatureException", "the request's aws signature is invalid: "+err.Error())
		}
		x.Request.Header.Del("Authorization")
		return e, nil
	}
	creds := presented(r)
	for _, c := range creds {
		if e := ks.lookup(c.value); e != nil {
			if c.header == "" {
				x.Request.RawQuery = removeQueryKey(x.Request.RawQuery)
			} else {
				x.Request.Header.Del(c.header)
			}
			return e, nil
		}
	}
	if len(creds) == 0 {
		return nil, unauthorized(bedrock, "UnrecognizedClientException", "missing client key: send the key this proxy issued as a bearer token or api key")
	}
	return nil, unauthorized(bedrock, "UnrecognizedClientException", "invalid client key")
}

func unauthorized(bedrock bool, awsType, msg string) error {
	typ := "authentication_error"
	if bedrock {
		typ = awsType
	}
	return &provider.Error{Status: http.StatusUnauthorized, Type: typ, Code: "invalid_api_key", Message: msg, Err: errNoCredential}
}

// Settle tells the Guard the real usage of a request it admitted: give it every response
// and error record once its tokens and cost are known (the log writer's Enrich hook, after
// pricing). The token counter is corrected with the real prompt and completion tokens and
// the budget reservation replaced by the real cost. Records of other requests, and request
// rows, are ignored. Settle does not wait for the counters: a background goroutine applies
// the settlements in batches; only when a large backlog builds up does Settle apply one
// itself.
func (g *Guard) Settle(rec *accesslog.Record) {
	if rec == nil || rec.Direction == accesslog.DirectionRequest {
		return
	}
	g.mu.Lock()
	u := g.pending[rec.RequestID]
	if u != nil {
		delete(g.pending, rec.RequestID)
		g.applying.Add(1)
	}
	g.mu.Unlock()
	if u == nil {
		return
	}
	s := settlement{requestID: rec.RequestID, usage: u,
		tokens: int64(rec.PromptTokens + rec.CompletionTokens), costUSD: rec.CostUSD}
	g.closeMu.RLock()
	queued := false
	if !g.closed {
		select {
		case g.settle <- s:
			queued = true
		default:
		}
	}
	g.closeMu.RUnlock()
	if !queued {
		g.apply([]settlement{s})
	}
}

// run applies settlements in batches and sweeps stale reservations until Close.
func (g *Guard) run() {
	defer close(g.done)
	sweep := time.NewTicker(time.Minute)
	defer sweep.Stop()
	batch := make([]settlement, 0, 128)
	for {
		select {
		case s := <-g.settle:
			batch = append(batch[:0], s)
		more:
			for len(batch) < cap(batch) {
				select {
				case s := <-g.settle:
					batch = append(batch, s)
				default:
					break more
				}
			}
			g.apply(batch)
		case <-sweep.C:
			g.sweep()
		case <-g.stop:
			for {
				select {
				case s := <-g.settle:
					g.apply([]settlement{s})
				default:
					return
				}
			}
		}
	}
}

// apply corrects the token counters and settles the budget reservations of a batch.
func (g *Guard) apply(batch []settlement) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var bills []budget.Settlement
	for _, s := range batch {
		u := s.usage
		if u.tpmKey != "" && s.tokens != u.tokens {
			if err := g.limiter.Add(ctx, u.tpmKey, s.tokens-u.tokens); err != nil {
				g.logger.Warn("rate limiter failed to count a request's tokens", "client_key", u.key, "request_id", s.requestID, "err", err)
			}
		}
		if u.reserved {
			bills = append(bills, budget.Settlement{RequestID: s.requestID, Key: u.key, CostUSD: s.costUSD})
		}
	}
	if len(bills) > 0 {
		if err := g.ledger.Settle(ctx, bills...); err != nil {
			// The reservations stay until the ledger's sweep releases them: the keys can
			// spend less, not more.
			g.logger.Error("budget ledger failed to settle requests", "requests", len(bills), "err", err)
		}
	}
	g.applying.Add(-int64(len(batch)))
}

// sweep forgets settlements that never came and releases stale budget reservations.
func (g *Guard) sweep() {
	cutoff := g.now().Add(-pendingTTL)
	g.mu.Lock()
	for id, u := range g.pending {
		if u.admitted.Before(cutoff) {
			delete(g.pending, id)
		}
	}
	g.mu.Unlock()
	if g.ledger == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if n, err := g.ledger.Sweep(ctx); err != nil {
		g.logger.Warn("budget ledger failed to release stale reservations", "err", err)
	} else if n > 0 {
		g.logger.Warn("released budget reservations of requests that never settled", "reservations", n)
	}
}

// Close applies the settlements still queued and stops the Guard's goroutine. Settlements
// that arrive later are applied by Settle itself. It returns ctx's error if the queue is
// not drained in time.
func (g *Guard) Close(ctx context.Context) error {
	g.stopOnce.Do(func() {
		g.closeMu.Lock()
		g.closed = true
		g.closeMu.Unlock()
		close(g.stop)
	})
	select {
	case <-g.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("clientkey: close: %w", ctx.Err())
	}
}
