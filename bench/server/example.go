package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/budget"
	"github.com/aiproxy-go/aiproxy/clientkey"
	"github.com/aiproxy-go/aiproxy/filters"
)

// teamAKey is the client key "team-a" of the filters issue's example configuration; the
// load sends it with -filters example.
const teamAKey = "sk-team-a-0123456789"

// exampleFilterList is the filters: section of the filters issue's example configuration,
// in order, with each filter's options as JSON (the filters' fields carry json tags as well
// as yaml ones).
var exampleFilterList = []struct{ name, opts string }{
	{"ban_users", `{"users": ["uezo"], "message": "you can't use this service"}`},
	{"require_user", `{"message": "user is required"}`},
	{"models", `{"rewrite": {"gpt-4o": "gpt-4o-mini"}, "deny": ["o1*"]}`},
	{"max_tokens", `{"limit": 2048}`},
	{"block_patterns", `{"patterns": ["(?i)ignore previous instructions"], "message": "blocked"}`},
	{"redact", `{"kinds": ["email", "phone", "credit_card", "api_key"], "in": ["request", "log"]}`},
	{"replay", `{"header": "x-aiproxy-replay"}`},
}

// exampleGuard returns the Guard of the example's client keys, with the memory rate
// limiter and a budget ledger in the log database, as cmd/aiproxy builds it. The example
// allows team-a 60 requests and 100000 tokens a minute and 5 USD a day, which a benchmark
// exceeds in a second; here the limits are so high that no request is refused, while
// every request still goes through the same checks: a rate-limit count, a token count and
// a budget reservation (one UPDATE of the ledger's row).
func exampleGuard(store accesslog.Store, logger *slog.Logger) (*clientkey.Guard, error) {
	dbs, ok := store.(interface{ DB() *sql.DB })
	if !ok {
		return nil, errors.New("the access log store has no database for the budget ledger")
	}
	ledger, err := budget.Open(context.Background(), dbs.DB(), budget.Options{})
	if err != nil {
		return nil, fmt.Errorf("budget ledger: %w", err)
	}
	// A nil Limiter is the memory limiter, as the binary without redis.
	return clientkey.New(clientkey.Options{Budget: ledger, Logger: logger, Keys: []clientkey.Key{
		{
			Name: "team-a", Key: teamAKey, Models: []string{"gpt-4o-mini", "gpt-4.1-mini"},
			RequestsPerMinute: 1e9, TokensPerMinute: 1e12, BudgetUSDPerDay: 1e6,
		},
		{Name: "ci", KeySHA256: "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"},
	}})
}

// exampleFilters returns the example's filters in the order cmd/aiproxy installs them:
// the client key checked first, the configured filters, the key's models, rate limits and
// budget last.
func exampleFilters(p *aiproxy.Proxy, g *clientkey.Guard) ([]any, error) {
	list := []any{aiproxy.WithPolicy(g.Authenticate(), aiproxy.FilterPolicy{Name: "client_keys"})}
	for _, f := range exampleFilterList {
		decode := func(v any) error {
			d := json.NewDecoder(bytes.NewReader([]byte(f.opts)))
			d.DisallowUnknownFields()
			return d.Decode(v)
		}
		built, err := filters.New(f.name, decode, filters.Env{Source: p})
		if err != nil {
			return nil, err
		}
		list = append(list, aiproxy.WithPolicy(built, aiproxy.FilterPolicy{Name: f.name}))
	}
	return append(list, aiproxy.WithPolicy(g.Admit(), aiproxy.FilterPolicy{Name: "limits"})), nil
}
