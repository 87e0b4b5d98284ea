package ratelimit_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/aiproxy-go/aiproxy/ratelimit"
)

// clock is a settable clock for the memory limiter.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// windowStart is a window boundary of one-minute windows.
var windowStart = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

func admit(t *testing.T, l ratelimit.Limiter, limits ...ratelimit.Limit) ratelimit.Decision {
	t.Helper()
	d, err := l.Admit(context.Background(), limits...)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestMemorySlidingWindow(t *testing.T) {
	c := &clock{t: windowStart.Add(30 * time.Second)}
	m := ratelimit.NewMemory(ratelimit.MemoryOptions{Now: c.Now})
	rpm := ratelimit.Limit{Key: "a:rpm", Max: 4, Cost: 1}
	for i := range 4 {
		if d := admit(t, m, rpm); !d.Allowed || d.Refused != -1 {
			t.Fatalf("request %d refused: %+v", i, d)
		}
	}
	d := admit(t, m, rpm)
	if d.Allowed || d.Refused != 0 {
		t.Fatalf("fifth request: %+v", d)
	}
	// 4 this window: the estimate stays 4 until the window ends in 30 s, then decays as
	// 4·(1 − t/60 s), below 4 at once.
	if d.RetryAfter < 30*time.Second || d.RetryAfter > 30*time.Second+time.Millisecond {
		t.Errorf("retry after %v, want 30s", d.RetryAfter)
	}
	// Another key is not affected.
	if d := admit(t, m, ratelimit.Limit{Key: "b:rpm", Max: 4, Cost: 1}); !d.Allowed {
		t.Fatal("another key refused")
	}

	// 15 s into the next window the previous 4 weigh 3: one more fits, not two.
	c.Add(45 * time.Second)
	if d := admit(t, m, rpm); !d.Allowed {
		t.Fatalf("refused at 3/4: %+v", d)
	}
	d = admit(t, m, rpm)
	if d.Allowed {
		t.Fatal("admitted at 4/4")
	}
	// 4·(1 − t/60) + 1 < 4 once t > 15 s: right now, in theory; at least a millisecond.
	if d.RetryAfter > time.Millisecond {
		t.Errorf("retry after %v at the edge", d.RetryAfter)
	}
	c.Add(15 * time.Second) // 30 s in: 4·0.5 + 1 = 3
	if d := admit(t, m, rpm); !d.Allowed {
		t.Fatalf("refused at 3/4: %+v", d)
	}
	// Two windows later everything is forgotten.
	c.Add(2 * time.Minute)
	for i := range 4 {
		if d := admit(t, m, rpm); !d.Allowed {
			t.Fatalf("request %d refused after idle windows", i)
		}
	}
}

func TestMemoryRetryAfterFromPreviousWindow(t *testing.T) {
	c := &clock{t: windowStart.Add(59 * time.Second)}
	m := ratelimit.NewMemory(ratelimit.MemoryOptions{Now: c.Now})
	l := ratelimit.Limit{Key: "k", Max: 10, Cost: 10}
	admit(t, m, l)
	c.Add(time.Second + 6*time.Second) // 6 s into the next window: 10·0.9 = 9 < 10
	if d := admit(t, m, ratelimit.Limit{Key: "k", Max: 10, Cost: 2}); !d.Allowed {
		t.Fatalf("refused at 9/10: %+v", d)
	}
	// Now 10·(1 − t/60) + 2 < 10 once t > 12 s: 6 s from now.
	d := admit(t, m, l)
	if d.Allowed || d.RetryAfter < 6*time.Second || d.RetryAfter > 6*time.Second+time.Millisecond {
		t.Fatalf("decision %+v, want a refusal for 6s", d)
	}
}

// testLimiter is behaviour both limiters share, run with a clock inside one window.
func testLimiter(t *testing.T, l ratelimit.Limiter, prefix string) {
	ctx := context.Background()
	rpm := ratelimit.Limit{Key: prefix + "{a}:rpm", Max: 3, Cost: 1}
	tpm := ratelimit.Limit{Key: prefix + "{a}:tpm", Max: 100, Cost: 60}

	t.Run("refused requests are not charged", func(t *testing.T) {
		if d := admit(t, l, rpm, tpm); !d.Allowed {
			t.Fatalf("first: %+v", d)
		}
		if d := admit(t, l, rpm, tpm); !d.Allowed { // tokens 60 < 100: admitted, now 120
			t.Fatalf("second: %+v", d)
		}
		d := admit(t, l, rpm, tpm)
		if d.Allowed || d.Refused != 1 || d.RetryAfter <= 0 {
			t.Fatalf("third, over the token limit: %+v", d)
		}
		// The refusal charged no request: one is still left under rpm.
		if err := l.Add(ctx, tpm.Key, -100); err != nil { // the real usage was lower
			t.Fatal(err)
		}
		if d := admit(t, l, rpm, tpm); !d.Allowed {
			t.Fatalf("after the correction: %+v", d)
		}
		if d := admit(t, l, rpm, tpm); d.Allowed || d.Refused != 0 {
			t.Fatalf("fourth request: %+v", d)
		}
	})

	t.Run("counters never go negative", func(t *testing.T) {
		key := prefix + "{b}:tpm"
		if err := l.Add(ctx, key, -1000); err != nil {
			t.Fatal(err)
		}
		if err := l.Add(ctx, key, 10); err != nil {
			t.Fatal(err)
		}
		if d := admit(t, l, ratelimit.Limit{Key: key, Max: 10, Cost: 1}); d.Allowed {
			t.Fatal("a negative balance was kept")
		}
	})

	t.Run("concurrent admissions stop at the limit", func(t *testing.T) {
		lim := ratelimit.Limit{Key: prefix + "{c}:rpm", Max: 25, Cost: 1}
		var admitted atomic.Int64
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() {
				d, err := l.Admit(ctx, lim)
				if err != nil {
					t.Error(err)
				}
				if d.Allowed {
					admitted.Add(1)
				}
			})
		}
		wg.Wait()
		if n := admitted.Load(); n != 25 {
			t.Fatalf("admitted %d of 100, want 25", n)
		}
	})

	t.Run("max must be positive", func(t *testing.T) {
		if _, err := l.Admit(ctx, ratelimit.Limit{Key: prefix + "z", Max: 0, Cost: 1}); err == nil {
			t.Fatal("accepted max 0")
		}
	})
}

func TestMemory(t *testing.T) {
	c := &clock{t: windowStart.Add(time.Second)}
	testLimiter(t, ratelimit.NewMemory(ratelimit.MemoryOptions{Now: c.Now}), "")
}

// redisClient returns a client of the test Redis, or skips.
func redisClient(t testing.TB) *redis.Client {
	url := os.Getenv("AIPROXY_TEST_REDIS")
	if url == "" {
		t.Skip("AIPROXY_TEST_REDIS is not set")
	}
	o, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(o)
	t.Cleanup(func() { c.Close() })
	return c
}

// uniquePrefix keeps each test's keys apart from other tests and processes.
func uniquePrefix(t testing.TB) string {
	return fmt.Sprintf("aiproxy-test:%s:%d:%d:", t.Name(), os.Getpid(), time.Now().UnixNano())
}

// awayFromBoundary waits, when the current window of Redis's clock ends within margin,
// until the next window starts, so that a test's counts fall in one window.
func awayFromBoundary(t testing.TB, c *redis.Client, window, margin time.Duration) {
	for {
		now, err := c.Time(context.Background()).Result()
		if err != nil {
			t.Fatal(err)
		}
		left := window - time.Duration(now.UnixNano()%int64(window))
		if left > margin {
			return
		}
		time.Sleep(left)
	}
}

func TestRedis(t *testing.T) {
	c := redisClient(t)
	const window = time.Hour
	awayFromBoundary(t, c, window, 10*time.Second)
	testLimiter(t, ratelimit.NewRedis(c, ratelimit.RedisOptions{Prefix: uniquePrefix(t), Window: window}), "")
}

// TestRedisSharedByInstances has two limiters, as two proxy instances would, share one
// counter.
func TestRedisSharedByInstances(t *testing.T) {
	const window = time.Hour
	prefix := uniquePrefix(t)
	a := ratelimit.NewRedis(redisClient(t), ratelimit.RedisOptions{Prefix: prefix, Window: window})
	cb := redisClient(t)
	b := ratelimit.NewRedis(cb, ratelimit.RedisOptions{Prefix: prefix, Window: window})
	awayFromBoundary(t, cb, window, 10*time.Second)
	lim := ratelimit.Limit{Key: "{k}:rpm", Max: 5, Cost: 1}
	allowed := 0
	for i := range 10 {
		l := ratelimit.Limiter(a)
		if i%2 == 1 {
			l = b
		}
		d := admit(t, l, lim)
		if d.Allowed {
			allowed++
		} else if d.RetryAfter <= 0 || d.RetryAfter > window {
			t.Fatalf("retry after %v", d.RetryAfter)
		}
	}
	if allowed != 5 {
		t.Fatalf("allowed %d, want 5", allowed)
	}
	// Keys expire: nothing is left behind for ever.
	ttl, err := cb.PTTL(context.Background(), prefix+"{k}:rpm").Result()
	if err != nil || ttl <= 0 || ttl > 2*window {
		t.Fatalf("ttl %v %v", ttl, err)
	}
}

func TestOpenRedis(t *testing.T) {
	url := os.Getenv("AIPROXY_TEST_REDIS")
	if url == "" {
		t.Skip("AIPROXY_TEST_REDIS is not set")
	}
	r, err := ratelimit.OpenRedis(context.Background(), url, ratelimit.RedisOptions{Prefix: uniquePrefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if d := admit(t, r, ratelimit.Limit{Key: "x", Max: 1, Cost: 1}); !d.Allowed {
		t.Fatal("refused")
	}
	if _, err := ratelimit.OpenRedis(context.Background(), "http://not-redis", ratelimit.RedisOptions{}); err == nil {
		t.Fatal("accepted a url that is not redis")
	}
}
