package dashboard_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/dashboard"
	"github.com/aiproxy-go/aiproxy/filters"
	"github.com/aiproxy-go/aiproxy/internal/fakeupstream"
	"github.com/aiproxy-go/aiproxy/internal/testproxy"
	"github.com/aiproxy-go/aiproxy/provider"
	provopenai "github.com/aiproxy-go/aiproxy/provider/openai"
)

const upstreamKey = "sk-upstream-dashboard-SECRET-0123456789"

// clientHeader carries the client key's name; keyFilter logs it as the client key.
const clientHeader = "X-Test-Client"

// keyFilter stands for a client-key check: it names the key the request carries.
var keyFilter = aiproxy.RequestFilterFunc(func(_ context.Context, x *aiproxy.Exchange) (*aiproxy.Reply, error) {
	x.ClientKey = x.Header().Get(clientHeader)
	return nil, nil
})

// env is a proxy in front of the fake OpenAI, logging into a store, and the dashboard over
// that store.
type env struct {
	t        testing.TB
	store    accesslog.Store
	db       *sql.DB
	pg       bool
	proxy    *aiproxy.Proxy
	proxyURL string
	dash     *dashboard.Handler
	dashURL  string // base URL of the dashboard: server and prefix, no trailing slash
	client   openai.Client
	ids      []string // request ids of the exchanges sent
}

func proxyOptions(t testing.TB) aiproxy.Options {
	fake := fakeupstream.NewOpenAI(fakeupstream.OpenAIOptions{APIKey: upstreamKey})
	up := httptest.NewServer(fake)
	t.Cleanup(up.Close)
	return aiproxy.Options{
		Providers:      []provider.Provider{provopenai.New(provopenai.Options{APIKey: upstreamKey, BaseURL: up.URL + "/v1"})},
		Secrets:        []string{upstreamKey},
		RequestFilters: []aiproxy.RequestFilter{keyFilter},
		Writer:         accesslog.WriterOptions{FlushInterval: 5 * time.Millisecond},
	}
}

// newSQLiteEnv runs the proxy through the testproxy harness, with a SQLite log.
func newSQLiteEnv(t testing.TB, dopts dashboard.Options) *env {
	h := testproxy.New(t, proxyOptions(t))
	e := &env{t: t, store: h.Store, db: h.Store.DB(), proxy: h.Proxy, proxyURL: h.URL()}
	e.start(dopts)
	return e
}

// newPostgresEnv runs the proxy with a PostgreSQL log in a schema of its own, or skips the test
// when AIPROXY_TEST_POSTGRES is not set.
func newPostgresEnv(t testing.TB, dopts dashboard.Options) *env {
	dsn := postgresSchema(t)
	store, err := accesslog.OpenPostgres(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	opts := proxyOptions(t)
	opts.Store = store
	p, err := aiproxy.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AddFilter(&filters.Replay{Source: p}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("drain log: %v", err)
		}
		store.Close()
	})
	e := &env{t: t, store: store, db: store.DB(), pg: true, proxy: p, proxyURL: srv.URL}
	e.start(dopts)
	return e
}

// postgresSchema creates a schema of its own in AIPROXY_TEST_POSTGRES's database, dropped when
// the test ends, and returns a DSN whose search_path is that schema.
func postgresSchema(t testing.TB) string {
	base := os.Getenv("AIPROXY_TEST_POSTGRES")
	if base == "" {
		t.Skip("AIPROXY_TEST_POSTGRES is not set")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	schema := fmt.Sprintf("dashboard_test_%016x", rand.Uint64())
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("AIPROXY_TEST_POSTGRES is not a URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func (e *env) start(dopts dashboard.Options) {
	dopts.Store = e.store
	if dopts.ProxyURL == "" {
		dopts.ProxyURL = e.proxyURL
	}
	d, err := dashboard.New(dopts)
	if err != nil {
		e.t.Fatal(err)
	}
	e.dash = d
	e.t.Cleanup(func() { d.Close() })
	mux := http.NewServeMux()
	mux.Handle("/dashboard/", d)
	mux.Handle("/dashboard", d)
	srv := httptest.NewServer(mux)
	e.t.Cleanup(srv.Close)
	e.dashURL = srv.URL + "/dashboard"
	e.client = openai.NewClient(option.WithBaseURL(e.proxyURL+"/v1/"), option.WithAPIKey("sk-client-0123456789"), option.WithMaxRetries(0))
}

// call is one exchange of the traffic.
type call struct {
	user, key, model, text string
	stream                 bool
	header                 map[string]string
	tools                  bool
}

// traffic is what fill sends: non-streams, streams, tool calls, and errors of both classes.
var traffic = []call{
	{user: "alice", key: "team-a", model: "gpt-4o-mini", text: "Hello one"},
	{user: "alice", key: "team-a", model: "gpt-4o-mini", text: "Hello two words here"},
	{user: "bob", key: "team-b", model: "o4-mini", text: "Stream it please", stream: true, header: map[string]string{fakeupstream.HeaderChunks: "4"}},
	{user: "bob", key: "team-b", model: "o4-mini", text: "Stream another one", stream: true, header: map[string]string{fakeupstream.HeaderChunks: "6", fakeupstream.HeaderChunkDelay: "2ms"}},
	{user: "carol", model: "gpt-4.1", text: "What is the weather? use tools", tools: true},
	{user: "alice", key: "team-a", model: "gpt-4o-mini", text: "rate limited", header: map[string]string{fakeupstream.HeaderStatus: "429", fakeupstream.HeaderRetryAfter: "0"}},
	{user: "bob", key: "team-b", model: "gpt-4o-mini", text: "server trouble", header: map[string]string{fakeupstream.HeaderStatus: "500"}},
	{user: "bob", key: "team-b", model: "gpt-4.1", text: "bad request", header: map[string]string{fakeupstream.HeaderStatus: "400"}},
}

// fill sends the traffic through the proxy with the official SDK and waits until every row is
// stored.
func (e *env) fill() {
	e.t.Helper()
	for _, c := range traffic {
		e.ids = append(e.ids, e.send(c))
	}
	for _, id := range e.ids {
		e.settle(id)
	}
}

// settle waits until the exchange's request and its response or error row are stored. The
// proxy logs a response when its handler ends, which may be after the client has read it all.
func (e *env) settle(id string) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		e.flush()
		recs, err := e.store.Records(context.Background(), id, "")
		if err != nil {
			e.t.Fatal(err)
		}
		if len(recs) >= 2 {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("request %s: %d rows after 10s", id, len(recs))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (e *env) flush() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.proxy.Log().Flush(ctx); err != nil {
		e.t.Fatal(err)
	}
}

// send makes one call and returns its request id.
func (e *env) send(c call) string {
	e.t.Helper()
	var resp *http.Response
	opts := []option.RequestOption{option.WithResponseInto(&resp)}
	if c.key != "" {
		opts = append(opts, option.WithHeader(clientHeader, c.key))
	}
	for k, v := range c.header {
		opts = append(opts, option.WithHeader(k, v))
	}
	params := openai.ChatCompletionNewParams{
		Model:    c.model,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("be brief"), openai.UserMessage(c.text)},
		User:     openai.String(c.user),
	}
	if c.tools {
		params.Tools = []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{
			Name:       "get_weather",
			Parameters: openai.FunctionParameters{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}},
		})}
	}
	ctx := context.Background()
	var err error
	if c.stream {
		params.StreamOptions.IncludeUsage = openai.Bool(true)
		s := e.client.Chat.Completions.NewStreaming(ctx, params, opts...)
		for s.Next() {
		}
		err = s.Err()
	} else {
		_, err = e.client.Chat.Completions.New(ctx, params, opts...)
	}
	if wantErr := c.header[fakeupstream.HeaderStatus] != ""; (err != nil) != wantErr {
		e.t.Fatalf("call %q: error %v", c.text, err)
	}
	if resp == nil || resp.Header.Get(aiproxy.HeaderRequestID) == "" {
		e.t.Fatalf("call %q: no request id", c.text)
	}
	return resp.Header.Get(aiproxy.HeaderRequestID)
}

// row is one exchange row as the test reads it back, for computing the expected figures.
type row struct {
	created                               time.Time
	direction, model, provider, user, key string
	status                                int
	in, out                               int64
	cost, rt, api, ttft                   float64
}

// exchangeRows reads the response and error rows with a plain SELECT.
func (e *env) exchangeRows() []row {
	e.t.Helper()
	rs, err := e.db.Query(`SELECT created_at, direction, COALESCE(model, ''), COALESCE(provider, ''), COALESCE("user", ''),
COALESCE(client_key, ''), COALESCE(status_code, 0), prompt_tokens, completion_tokens, COALESCE(cost_usd, 0),
COALESCE(request_time, 0), COALESCE(request_time_api, 0), COALESCE(time_to_first_token, 0)
FROM accesslog WHERE direction <> 'request' ORDER BY id`)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rs.Close()
	var out []row
	for rs.Next() {
		var r row
		var created any
		if err := rs.Scan(&created, &r.direction, &r.model, &r.provider, &r.user, &r.key, &r.status, &r.in, &r.out,
			&r.cost, &r.rt, &r.api, &r.ttft); err != nil {
			e.t.Fatal(err)
		}
		switch c := created.(type) {
		case time.Time:
			r.created = c.UTC()
		case string:
			r.created, _ = time.Parse(accesslog.TimeLayout, c)
		}
		out = append(out, r)
	}
	if err := rs.Err(); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// expected is what the overview must show for rows.
type expected struct {
	requests, success, c4, c5, in, out int64
	cost, avgRT, avgAPI, avgTTFT       float64
	rts, ttfts                         []float64
}

func expect(rows []row) expected {
	var x expected
	var rtN, apiN, ttftN int
	for _, r := range rows {
		x.requests++
		switch {
		case r.status >= 500:
			x.c5++
		case r.status >= 400:
			x.c4++
		default:
			x.success++
		}
		x.in += r.in
		x.out += r.out
		x.cost += r.cost
		if r.rt > 0 {
			x.avgRT += r.rt
			rtN++
			x.rts = append(x.rts, r.rt)
		}
		if r.api > 0 {
			x.avgAPI += r.api
			apiN++
		}
		if r.ttft > 0 {
			x.avgTTFT += r.ttft
			ttftN++
			x.ttfts = append(x.ttfts, r.ttft)
		}
	}
	if rtN > 0 {
		x.avgRT /= float64(rtN)
	}
	if apiN > 0 {
		x.avgAPI /= float64(apiN)
	}
	if ttftN > 0 {
		x.avgTTFT /= float64(ttftN)
	}
	return x
}

// nearestRank is the q-quantile by the nearest-rank method.
func nearestRank(v []float64, q float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	i := int(float64(len(s))*q+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}

// closeTo reports whether got is within rel of want.
func closeTo(got, want, rel float64) bool {
	if want == 0 {
		return got == 0
	}
	d := got/want - 1
	return d < rel && d > -rel
}

// fieldsOf names each key of rows for a breakdown column.
func keyOf(r row, by string) string {
	switch by {
	case "provider":
		return r.provider
	case "user":
		return r.user
	case "client_key":
		return r.key
	}
	return r.model
}
