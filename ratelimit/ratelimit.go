// Package ratelimit counts what each client uses per minute (requests, tokens) and decides
// whether one more request is admitted.
//
// Both limiters here, Memory (one process) and Redis (shared by every proxy instance that
// talks to the same Redis), implement the same sliding-window counter: usage is counted in
// fixed windows (one minute by default), and the usage "in the last minute" at a moment that
// lies a fraction f into the current window is estimated as
//
//	previous window × (1 − f) + current window
//
// which assumes the previous window's events were spread evenly over it. Unlike a plain fixed
// window, this does not let a client spend twice its limit across a window boundary, and it
// needs only two numbers per counter.
//
// A request is admitted when the estimated usage of every one of its limits is below the
// limit; it is then charged the cost of each (1 for a request limit, an estimate of tokens
// for a token limit). Refused requests are not charged. Add corrects a counter afterwards,
// for instance with a request's real token count once it is known.
package ratelimit

import (
	"context"
	"math"
	"time"
)

// DefaultWindow is the window of a limiter whose window is not set: one minute, for limits
// per minute.
const DefaultWindow = time.Minute

// Limit is one counter that a request is checked against.
type Limit struct {
	// Key names the counter, for instance "team-a:rpm". Limiters add their own prefix.
	Key string
	// Max is the usage per window below which a request is admitted. It must be positive.
	Max int64
	// Cost is what an admitted request adds to the counter.
	Cost int64
}

// Decision is a limiter's answer.
type Decision struct {
	// Allowed reports whether the request was admitted (and charged).
	Allowed bool
	// Refused is the index, among the limits passed, of the limit that refused the request;
	// -1 when allowed.
	Refused int
	// RetryAfter is how long the refused counter needs, with no further use, to fall below
	// its limit again. It is zero when allowed.
	RetryAfter time.Duration
}

// Limiter decides whether requests are admitted. Implementations are safe for concurrent
// use.
type Limiter interface {
	// Admit checks every limit and, only when each counter is below its Max, charges each
	// its Cost, atomically: concurrent calls (and, for a shared limiter, calls from other
	// processes) cannot together overshoot a limit by more than one request's cost.
	Admit(ctx context.Context, limits ...Limit) (Decision, error)
	// Add adds n, which may be negative, to the counter key in the current window. A
	// counter never goes below zero.
	Add(ctx context.Context, key string, n int64) error
}

// usage is a counter's sliding estimate at offset elapsed into the current window.
func usage(prev, cur int64, elapsed, window time.Duration) float64 {
	f := float64(elapsed) / float64(window)
	return float64(prev)*(1-f) + float64(cur)
}

// retryAfter is how long, from offset elapsed into the current window, until the estimate
// of a counter with the given previous and current counts falls below max, assuming no more
// use. It is never less than one millisecond.
func retryAfter(prev, cur, limit int64, elapsed, window time.Duration) time.Duration {
	w := float64(window)
	var d float64
	if cur >= limit {
		// The estimate stays at cur or above until this window ends; in the next one, cur
		// becomes the previous count and decays linearly.
		d = w - float64(elapsed) + w*(1-float64(limit)/float64(cur))
	} else {
		// prev·(1 − t/w) + cur < limit once t > w·(1 − (limit − cur)/prev).
		d = w*(1-float64(limit-cur)/float64(prev)) - float64(elapsed)
	}
	return max(time.Duration(math.Ceil(d)), time.Millisecond)
}
