package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultRedisPrefix starts the name of every Redis key a Redis limiter writes.
const DefaultRedisPrefix = "aiproxy:ratelimit:"

// Redis is a Limiter whose counters live in Redis, so that every proxy instance using the
// same Redis (and prefix) enforces one limit together. Each counter is one hash holding its
// window index and the counts of that window and the one before; a Lua script reads, checks
// and charges all the counters of a request in one atomic step, on Redis's clock, so the
// instances' clocks do not matter. Keys expire two windows after their last use.
//
// In Redis Cluster the counters of one request must hash to one slot: give their keys a
// common hash tag, like "{team-a}:rpm" and "{team-a}:tpm".
type Redis struct {
	client redis.UniversalClient
	owned  bool // Close closes client
	prefix string
	window time.Duration
}

var _ Limiter = (*Redis)(nil)

// RedisOptions configures a Redis limiter.
type RedisOptions struct {
	// Prefix starts every key; empty means DefaultRedisPrefix. Separate proxies (or tests)
	// sharing one Redis keep separate counters with separate prefixes.
	Prefix string
	// Window is the length of a window; zero means DefaultWindow. Every instance sharing
	// counters must use the same window.
	Window time.Duration
}

// NewRedis returns a limiter keeping its counters in client, which the caller keeps
// ownership of.
func NewRedis(client redis.UniversalClient, opts RedisOptions) *Redis {
	r := &Redis{client: client, prefix: opts.Prefix, window: opts.Window}
	if r.prefix == "" {
		r.prefix = DefaultRedisPrefix
	}
	if r.window <= 0 {
		r.window = DefaultWindow
	}
	return r
}

// OpenRedis connects to the Redis at url (redis://[user:password@]host:port/db, or rediss://
// for TLS) and returns a limiter over it; Close closes the connection. It checks that Redis
// answers.
func OpenRedis(ctx context.Context, url string, opts RedisOptions) (*Redis, error) {
	o, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("ratelimit: redis url: %w", err)
	}
	client := redis.NewClient(o)
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		return nil, fmt.Errorf("ratelimit: redis %s: %w", o.Addr, err)
	}
	r := NewRedis(client, opts)
	r.owned = true
	return r, nil
}

// Close closes the Redis connection when OpenRedis made it.
func (r *Redis) Close() error {
	if r.owned {
		return r.client.Close()
	}
	return nil
}

// rollLua brings the counter KEYS[i] to the current window: c and p are its current and
// previous counts. The window and the clock are in microseconds.
const rollLua = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local w = tonumber(ARGV[1])
local idx = math.floor(now / w)
local elapsed = now - idx * w
local function roll(key)
  local v = redis.call('HMGET', key, 'w', 'c', 'p')
  local win, c, p = tonumber(v[1]), tonumber(v[2]) or 0, tonumber(v[3]) or 0
  if win == idx - 1 then
    p, c = c, 0
  elseif win ~= idx then
    p, c = 0, 0
  end
  return c, p
end
local function store(key, c, p)
  redis.call('HSET', key, 'w', idx, 'c', c, 'p', p)
  redis.call('PEXPIRE', key, math.ceil(2 * w / 1000))
end
`

// admitScript: ARGV[1] the window, then max and cost of each key. It returns
// {1} when admitted, or {0, index (1-based), previous, current, elapsed} of the counter
// that refused.
var admitScript = redis.NewScript(rollLua + `
local cs, ps = {}, {}
for i, key in ipairs(KEYS) do
  local c, p = roll(key)
  local max = tonumber(ARGV[2 * i])
  if p * (1 - elapsed / w) + c >= max then
    return {0, i, p, c, elapsed}
  end
  cs[i], ps[i] = c, p
end
for i, key in ipairs(KEYS) do
  store(key, cs[i] + tonumber(ARGV[2 * i + 1]), ps[i])
end
return {1}
`)

// addScript: ARGV[1] the window, ARGV[2] the amount.
var addScript = redis.NewScript(rollLua + `
local c, p = roll(KEYS[1])
c = c + tonumber(ARGV[2])
if c < 0 then c = 0 end
store(KEYS[1], c, p)
return c
`)

// Admit implements Limiter.
func (r *Redis) Admit(ctx context.Context, limits ...Limit) (Decision, error) {
	keys := make([]string, len(limits))
	args := make([]any, 1+2*len(limits))
	args[0] = r.window.Microseconds()
	for i, l := range limits {
		if l.Max <= 0 {
			return Decision{}, errors.New("ratelimit: a limit's max must be positive")
		}
		keys[i] = r.prefix + l.Key
		args[1+2*i], args[2+2*i] = l.Max, l.Cost
	}
	res, err := admitScript.Run(ctx, r.client, keys, args...).Int64Slice()
	if err != nil {
		return Decision{}, fmt.Errorf("ratelimit: redis admit: %w", err)
	}
	if len(res) == 1 && res[0] == 1 {
		return Decision{Allowed: true, Refused: -1}, nil
	}
	if len(res) != 5 || res[1] < 1 || int(res[1]) > len(limits) {
		return Decision{}, fmt.Errorf("ratelimit: redis admit: unexpected reply %v", res)
	}
	i := int(res[1]) - 1
	prev, cur, elapsed := res[2], res[3], time.Duration(res[4])*time.Microsecond
	return Decision{Refused: i, RetryAfter: retryAfter(prev, cur, limits[i].Max, elapsed, r.window)}, nil
}

// Add implements Limiter.
func (r *Redis) Add(ctx context.Context, key string, n int64) error {
	err := addScript.Run(ctx, r.client, []string{r.prefix + key}, r.window.Microseconds(), strconv.FormatInt(n, 10)).Err()
	if err != nil {
		return fmt.Errorf("ratelimit: redis add: %w", err)
	}
	return nil
}
