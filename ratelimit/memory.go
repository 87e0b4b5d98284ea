package ratelimit

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Memory is a Limiter that keeps its counters in the process: it limits one proxy instance.
// Counters unused for two windows are dropped. The zero value is not usable; call NewMemory.
type Memory struct {
	window time.Duration
	now    func() time.Time

	mu       sync.Mutex
	counters map[string]*counter
	sweptAt  int64 // window index of the last sweep of idle counters
}

// counter is one key's counts: cur in window win, prev in the window before.
type counter struct {
	win       int64
	prev, cur int64
}

var _ Limiter = (*Memory)(nil)

// MemoryOptions configures a Memory limiter.
type MemoryOptions struct {
	// Window is the length of a window; zero means DefaultWindow.
	Window time.Duration
	// Now is the clock; nil means time.Now. Tests set it.
	Now func() time.Time
}

// NewMemory returns an in-memory limiter.
func NewMemory(opts MemoryOptions) *Memory {
	m := &Memory{window: opts.Window, now: opts.Now, counters: map[string]*counter{}}
	if m.window <= 0 {
		m.window = DefaultWindow
	}
	if m.now == nil {
		m.now = time.Now
	}
	return m
}

// clock returns the index of the current window and how far into it now is.
func (m *Memory) clock() (int64, time.Duration) {
	ns := m.now().UnixNano()
	w := int64(m.window)
	return ns / w, time.Duration(ns % w)
}

// roll returns key's counter brought forward to window win (not stored when new).
func (m *Memory) roll(key string, win int64) *counter {
	c := m.counters[key]
	if c == nil {
		return &counter{win: win}
	}
	switch c.win {
	case win:
	case win - 1:
		c.prev, c.cur, c.win = c.cur, 0, win
	default:
		c.prev, c.cur, c.win = 0, 0, win
	}
	return c
}

// Admit implements Limiter.
func (m *Memory) Admit(_ context.Context, limits ...Limit) (Decision, error) {
	for _, l := range limits {
		if l.Max <= 0 {
			return Decision{}, errors.New("ratelimit: a limit's max must be positive")
		}
	}
	win, elapsed := m.clock()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweep(win)
	// Counters are few per request (two at most in the proxy): a small array avoids an
	// allocation.
	var buf [4]*counter
	cs := buf[:0]
	for i, l := range limits {
		c := m.roll(l.Key, win)
		if usage(c.prev, c.cur, elapsed, m.window) >= float64(l.Max) {
			return Decision{Refused: i, RetryAfter: retryAfter(c.prev, c.cur, l.Max, elapsed, m.window)}, nil
		}
		cs = append(cs, c)
	}
	for i, l := range limits {
		c := cs[i]
		c.cur += l.Cost
		if _, ok := m.counters[l.Key]; !ok {
			m.counters[l.Key] = c
		}
	}
	return Decision{Allowed: true, Refused: -1}, nil
}

// Add implements Limiter.
func (m *Memory) Add(_ context.Context, key string, n int64) error {
	win, _ := m.clock()
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.roll(key, win)
	c.cur = max(c.cur+n, 0)
	if _, ok := m.counters[key]; !ok && c.cur > 0 {
		m.counters[key] = c
	}
	return nil
}

// sweep drops, at most once per window, the counters idle for two windows, whose estimate
// is zero. The caller holds m.mu.
func (m *Memory) sweep(win int64) {
	if win == m.sweptAt {
		return
	}
	m.sweptAt = win
	for k, c := range m.counters {
		if c.win < win-1 {
			delete(m.counters, k)
		}
	}
}
