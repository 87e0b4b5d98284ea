package ratelimit_test

import (
	"context"
	"fmt"
	"time"

	"github.com/aiproxy-go/aiproxy/ratelimit"
)

func ExampleMemory() {
	// A fixed clock keeps the example inside one window; a proxy leaves Now unset.
	now := time.Date(2026, 11, 20, 10, 0, 30, 0, time.UTC)
	l := ratelimit.NewMemory(ratelimit.MemoryOptions{Now: func() time.Time { return now }})
	// Two requests per minute.
	for i := range 3 {
		d, _ := l.Admit(context.Background(), ratelimit.Limit{Key: "team-a:rpm", Max: 2, Cost: 1})
		fmt.Println(i, d.Allowed, d.RetryAfter > 0)
	}
	// Output:
	// 0 true false
	// 1 true false
	// 2 false true
}
