package clientkey_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/clientkey"
	"github.com/aiproxy-go/aiproxy/provider"
	provopenai "github.com/aiproxy-go/aiproxy/provider/openai"
	"github.com/aiproxy-go/aiproxy/ratelimit"
)

// benchGuard measures FilterRequest alone for one chat request. Each iteration builds a
// fresh Exchange (the Guard removes the credential from its header), which the figures
// include.
func benchGuard(b *testing.B, key clientkey.Key, lim ratelimit.Limiter) {
	g, err := clientkey.New(clientkey.Options{Keys: []clientkey.Key{key}, Limiter: lim})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { g.Close(context.Background()) })
	prov := provopenai.New(provopenai.Options{APIKey: "sk-up"})
	body := []byte(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"` + strings.Repeat("hello world ", 40) + `"}]}`)
	in, _ := http.NewRequest("POST", "http://127.0.0.1/v1/chat/completions", nil)
	in.Header.Set("Authorization", "Bearer "+key.Key)
	in.Header.Set("Content-Type", "application/json")
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		x := &aiproxy.Exchange{ID: fmt.Sprint(i), Provider: prov, Incoming: in, ClientBody: body,
			Request: &provider.Request{Endpoint: "/chat/completions", Header: in.Header.Clone(), Body: body, Model: "gpt-4o-mini"}}
		if _, err := g.FilterRequest(ctx, x); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFilterRequest(b *testing.B) {
	const huge = 1 << 40
	b.Run("key only", func(b *testing.B) {
		benchGuard(b, clientkey.Key{Name: "k", Key: teamAKey}, nil)
	})
	b.Run("memory rpm", func(b *testing.B) {
		benchGuard(b, clientkey.Key{Name: "k", Key: teamAKey, RequestsPerMinute: huge}, nil)
	})
	b.Run("memory rpm+tpm", func(b *testing.B) {
		benchGuard(b, clientkey.Key{Name: "k", Key: teamAKey, RequestsPerMinute: huge, TokensPerMinute: huge}, nil)
	})
	b.Run("redis rpm", func(b *testing.B) {
		lim := ratelimit.NewRedis(redisClient(b), ratelimit.RedisOptions{Prefix: fmt.Sprintf("aiproxy-bench:%d:", time.Now().UnixNano())})
		benchGuard(b, clientkey.Key{Name: "k", Key: teamAKey, RequestsPerMinute: huge}, lim)
	})
	b.Run("redis rpm+tpm", func(b *testing.B) {
		lim := ratelimit.NewRedis(redisClient(b), ratelimit.RedisOptions{Prefix: fmt.Sprintf("aiproxy-bench:%d:", time.Now().UnixNano())})
		benchGuard(b, clientkey.Key{Name: "k", Key: teamAKey, RequestsPerMinute: huge, TokensPerMinute: huge}, lim)
	})
}
