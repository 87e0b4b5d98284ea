package clientkey_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"
	"github.com/openai/openai-go/v3"

	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/budget"
	"github.com/aiproxy-go/aiproxy/clientkey"
	"github.com/aiproxy-go/aiproxy/ratelimit"
)

var keys = []clientkey.Key{
	{Name: "team-a", Key: teamAKey, Models: []string{"gpt-4o-mini", "gpt-4.1-*", "claude-*"}},
	{Name: "ci", KeySHA256: sha256Hex(ciKey)},
	{Name: "bedrock-app", AWSAccessKeyID: awsClientID, AWSSecretAccessKey: awsClientKey},
}

func TestOpenAIKeys(t *testing.T) {
	e := newEnv(t, clientkey.Options{Keys: keys})

	t.Run("missing key", func(t *testing.T) {
		_, err := chat(e.openai("", nil), "gpt-4o-mini", "hello", 0)
		ae := apiError(t, err, http.StatusUnauthorized)
		if ae.Type != "authentication_error" || !strings.Contains(ae.Message, "missing client key") {
			t.Errorf("error %s", ae.RawJSON())
		}
	})
	t.Run("unknown key", func(t *testing.T) {
		var resp *http.Response
		_, err := chat(e.openai("sk-not-a-key-000000000", &resp), "gpt-4o-mini", "hello", 0)
		ae := apiError(t, err, http.StatusUnauthorized)
		if strings.Contains(string(ae.RawJSON()), "sk-not-a-key") {
			t.Errorf("the presented key is echoed: %s", ae.RawJSON())
		}
		rows := e.h.Rows(e.h.RequestID(ae.Response))
		if er := e.h.Row(rows, accesslog.DirectionError); er.StatusCode != 401 || er.ClientKey != "" {
			t.Errorf("error row %d %q", er.StatusCode, er.ClientKey)
		}
	})
	t.Run("valid key", func(t *testing.T) {
		var resp *http.Response
		out, err := chat(e.openai(teamAKey, &resp), "gpt-4o-mini", "hello", 0)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.Choices[0].Message.Content, "hello") {
			t.Errorf("reply %q", out.Choices[0].Message.Content)
		}
		rows := e.h.Rows(e.h.RequestID(resp))
		for _, r := range rows {
			if r.ClientKey != "team-a" || r.User != "team-a" {
				t.Errorf("%s row: client_key %q user %q", r.Direction, r.ClientKey, r.User)
			}
		}
		// The upstream saw the proxy's key, not the client's.
		reqs := e.openaiFake.Requests()
		if got := reqs[len(reqs)-1].Header.Get("Authorization"); got != "Bearer "+openaiUpstreamKey {
			t.Errorf("upstream authorization %q", got)
		}
	})
	t.Run("key given by its sha256", func(t *testing.T) {
		var resp *http.Response
		if _, err := chat(e.openai(ciKey, &resp), "o3", "hi", 0); err != nil {
			t.Fatal(err)
		}
		if r := e.h.Row(e.h.Rows(e.h.RequestID(resp)), accesslog.DirectionResponse); r.ClientKey != "ci" {
			t.Errorf("client_key %q", r.ClientKey)
		}
	})
	t.Run("model not allowed", func(t *testing.T) {
		_, err := chat(e.openai(teamAKey, nil), "gpt-4o", "hello", 0)
		ae := apiError(t, err, http.StatusForbidden)
		if !strings.Contains(ae.Message, `"team-a"`) || !strings.Contains(ae.Message, `"gpt-4o"`) {
			t.Errorf("message %q", ae.Message)
		}
		if _, err := chat(e.openai(teamAKey, nil), "gpt-4.1-mini", "hello", 0); err != nil {
			t.Errorf("glob pattern refused: %v", err)
		}
	})
}

func TestAnthropicKeys(t *testing.T) {
	e := newEnv(t, clientkey.Options{Keys: keys})
	params := anthropic.MessageNewParams{Model: "claude-sonnet-4-5", MaxTokens: 100,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hello"))}}
	client := func(key string) anthropic.Client {
		return anthropic.NewClient(aoption.WithBaseURL(e.h.URL()+"/anthropic/"), aoption.WithAPIKey(key),
			aoption.WithMaxRetries(0))
	}

	wrong := client("sk-ant-wrong-key-0000")
	_, err := wrong.Messages.New(context.Background(), params)
	var ae *anthropic.Error
	if !errors.As(err, &ae) || ae.StatusCode != 401 {
		t.Fatalf("want 401, got %v", err)
	}
	var body struct {
		Type  string
		Error struct{ Type, Message string }
	}
	if err := json.Unmarshal([]byte(ae.RawJSON()), &body); err != nil || body.Type != "error" || body.Error.Type != "authentication_error" {
		t.Errorf("not in anthropic's shape: %s", ae.RawJSON())
	}

	var resp *http.Response
	valid := client(teamAKey)
	msg, err := valid.Messages.New(context.Background(), params, aoption.WithResponseInto(&resp))
	if err != nil {
		t.Fatal(err)
	}
	if len(msg.Content) == 0 {
		t.Fatal("empty reply")
	}
	if r := e.h.Row(e.h.Rows(e.h.RequestID(resp)), accesslog.DirectionResponse); r.ClientKey != "team-a" {
		t.Errorf("client_key %q", r.ClientKey)
	}
}

func TestBedrockSigV4(t *testing.T) {
	now := time.Now()
	var clockMu sync.Mutex
	e := newEnv(t, clientkey.Options{Keys: keys, Now: func() time.Time {
		clockMu.Lock()
		defer clockMu.Unlock()
		return now
	}})
	in := &bedrockruntime.ConverseInput{
		ModelId:         aws.String("anthropic.claude-3-5-sonnet-20240620-v1:0"),
		Messages:        []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "hello bedrock"}}}},
		InferenceConfig: &types.InferenceConfiguration{MaxTokens: aws.Int32(100)},
	}

	rec := &headerRecorder{}
	out, err := e.bedrockClient(awsClientID, awsClientKey, rec).Converse(context.Background(), in)
	if err != nil {
		t.Fatalf("valid signature: %v", err)
	}
	text := out.Output.(*types.ConverseOutputMemberMessage).Value.Content[0].(*types.ContentBlockMemberText).Value
	if !strings.Contains(text, "hello bedrock") {
		t.Errorf("reply %q", text)
	}
	if r := e.h.Row(e.h.Rows(rec.requestID(t)), accesslog.DirectionResponse); r.ClientKey != "bedrock-app" || r.StatusCode != 200 {
		t.Errorf("response row %d client_key %q", r.StatusCode, r.ClientKey)
	}

	for _, tc := range []struct {
		name, keyID, secret, code string
		skew                      time.Duration
	}{
		{"wrong secret", awsClientID, "not-the-secret", "InvalidSignatureException", 0},
		{"unknown access key", "AKIAUNKNOWN000000000", awsClientKey, "UnrecognizedClientException", 0},
		{"signed too long ago", awsClientID, awsClientKey, "InvalidSignatureException", 16 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clockMu.Lock()
			now = time.Now().Add(tc.skew)
			clockMu.Unlock()
			_, err := e.bedrockClient(tc.keyID, tc.secret, nil).Converse(context.Background(), in)
			var api smithy.APIError
			if !errors.As(err, &api) || api.ErrorCode() != tc.code {
				t.Fatalf("want %s, got %v", tc.code, err)
			}
			var re interface{ HTTPStatusCode() int }
			if !errors.As(err, &re) || re.HTTPStatusCode() != 401 {
				t.Errorf("status: %v", err)
			}
		})
	}
}

// headerRecorder is a transport that keeps the headers of the last response.
type headerRecorder struct {
	mu     sync.Mutex
	header http.Header
}

func (h *headerRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if resp != nil {
		h.mu.Lock()
		h.header = resp.Header.Clone()
		h.mu.Unlock()
	}
	return resp, err
}

func (h *headerRecorder) requestID(t *testing.T) string {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	id := h.header.Get("X-Aiproxy-Request-Id")
	if id == "" {
		t.Fatal("no request id")
	}
	return id
}

func TestRequestsPerMinute(t *testing.T) {
	e := newEnv(t, clientkey.Options{Keys: []clientkey.Key{{Name: "rpm", Key: teamAKey, RequestsPerMinute: 3}}})
	c := e.openai(teamAKey, nil)
	for i := range 3 {
		if _, err := chat(c, "gpt-4o-mini", "hello", 0); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	_, err := chat(c, "gpt-4o-mini", "hello", 0)
	ae := apiError(t, err, http.StatusTooManyRequests)
	if s, err := strconv.Atoi(ae.Response.Header.Get("Retry-After")); err != nil || s < 1 || s > 60 {
		t.Errorf("Retry-After %q", ae.Response.Header.Get("Retry-After"))
	}
	if !strings.Contains(ae.Message, "3 requests per minute") {
		t.Errorf("message %q", ae.Message)
	}
	rows := e.h.Rows(e.h.RequestID(ae.Response))
	if r := e.h.Row(rows, accesslog.DirectionError); r.StatusCode != 429 || r.ClientKey != "rpm" {
		t.Errorf("error row %d %q", r.StatusCode, r.ClientKey)
	}
}

func TestTokensPerMinute(t *testing.T) {
	e := newEnv(t, clientkey.Options{Keys: []clientkey.Key{{Name: "tpm", Key: teamAKey, TokensPerMinute: 40}}})
	c := e.openai(teamAKey, nil)
	// Admitted while the minute's tokens are below 40: the first uses about 30.
	text := strings.Repeat("word ", 12)
	if _, err := chat(c, "gpt-4o-mini", text, 0); err != nil {
		t.Fatal(err)
	}
	e.waitSettled()
	if _, err := chat(c, "gpt-4o-mini", text, 0); err != nil {
		t.Fatalf("second request, under the limit: %v", err)
	}
	e.waitSettled()
	_, err := chat(c, "gpt-4o-mini", text, 0)
	ae := apiError(t, err, http.StatusTooManyRequests)
	if ae.Response.Header.Get("Retry-After") == "" || !strings.Contains(ae.Message, "40 tokens per minute") {
		t.Errorf("refusal %q, Retry-After %q", ae.Message, ae.Response.Header.Get("Retry-After"))
	}
}

// TestRedisSharedLimit runs two proxies, as two instances behind a load balancer, whose
// Guards share one Redis: together they admit 5 requests per window, not 5 each.
func TestRedisSharedLimit(t *testing.T) {
	rc := redisClient(t)
	const window = time.Hour // a long window keeps the test inside one
	awayFromBoundary(t, rc, window, 10*time.Second)
	prefix := fmt.Sprintf("aiproxy-test:%s:%d:", t.Name(), time.Now().UnixNano())
	ks := []clientkey.Key{{Name: "shared", Key: teamAKey, RequestsPerMinute: 5}}
	var envs []*env
	for range 2 {
		lim := ratelimit.NewRedis(rc, ratelimit.RedisOptions{Prefix: prefix, Window: window})
		envs = append(envs, newEnv(t, clientkey.Options{Keys: ks, Limiter: lim}))
	}
	ok, refused := 0, 0
	for i := range 12 {
		_, err := chat(envs[i%2].openai(teamAKey, nil), "gpt-4o-mini", "hello", 0)
		if err == nil {
			ok++
			continue
		}
		ae := apiError(t, err, http.StatusTooManyRequests)
		if ae.Response.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
		refused++
	}
	if ok != 5 || refused != 7 {
		t.Fatalf("%d succeeded and %d refused, want 5 and 7", ok, refused)
	}
}

func TestReloadKeepsCounters(t *testing.T) {
	e := newEnv(t, clientkey.Options{Keys: []clientkey.Key{{Name: "k", Key: teamAKey, RequestsPerMinute: 2}}})
	for range 2 {
		if _, err := chat(e.openai(teamAKey, nil), "gpt-4o-mini", "hi", 0); err != nil {
			t.Fatal(err)
		}
	}
	// A new secret for the same name: the old one stops working, the count stays.
	if err := e.guard.Reload([]clientkey.Key{{Name: "k", Key: ciKey, RequestsPerMinute: 2}}); err != nil {
		t.Fatal(err)
	}
	_, err := chat(e.openai(teamAKey, nil), "gpt-4o-mini", "hi", 0)
	apiError(t, err, http.StatusUnauthorized)
	_, err = chat(e.openai(ciKey, nil), "gpt-4o-mini", "hi", 0)
	apiError(t, err, http.StatusTooManyRequests)
	// A bad configuration is refused and changes nothing.
	if err := e.guard.Reload([]clientkey.Key{{Name: "k"}}); err == nil {
		t.Fatal("accepted a key without a credential")
	}
	_, err = chat(e.openai(ciKey, nil), "gpt-4o-mini", "hi", 0)
	apiError(t, err, http.StatusTooManyRequests)
}

// TestBudgetUnderConcurrency sends 50 concurrent requests for a key whose daily budget fits
// a few: the successful ones never cost more than the budget, the ledger holds exactly what
// the log says they cost, and a restarted Guard on the same database keeps refusing.
func TestBudgetUnderConcurrency(t *testing.T) {
	const limit = 200e-6 // USD; each request reserves about 34e-6 and costs about 18e-6
	ks := []clientkey.Key{{Name: "budgeted", Key: teamAKey, BudgetUSDPerDay: limit}}

	// The ledger lives in a database of its own here; the proxy puts it in the log's.
	e0 := newEnv(t, clientkey.Options{Keys: []clientkey.Key{{Name: "x", Key: "sk-unused-000000000000"}}})
	db := e0.h.Store.DB()
	ledger, err := budget.Open(context.Background(), db, budget.Options{Table: "budget_concurrency"})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, clientkey.Options{Keys: ks, Budget: ledger})

	text := strings.Repeat("many words to count ", 5)
	type result struct {
		id     string
		status int
		retry  string
	}
	results := make(chan result, 50)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			var resp *http.Response
			_, err := chat(e.openai(teamAKey, &resp), "gpt-4o-mini", text, 50)
			var ae *openai.Error
			switch {
			case err == nil:
				results <- result{id: resp.Header.Get("X-Aiproxy-Request-Id"), status: 200}
			case errors.As(err, &ae):
				results <- result{id: ae.Response.Header.Get("X-Aiproxy-Request-Id"), status: ae.StatusCode,
					retry: ae.Response.Header.Get("Retry-After")}
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	close(results)
	e.waitSettled()

	var spent float64
	ok, refused := 0, 0
	for r := range results {
		switch r.status {
		case 200:
			ok++
			resp := e.h.Row(e.h.Rows(r.id), accesslog.DirectionResponse)
			if resp.CostUSD <= 0 {
				t.Fatalf("response without cost: %+v", resp)
			}
			spent += resp.CostUSD
		case 429:
			refused++
			if s, err := strconv.Atoi(r.retry); err != nil || s < 1 || s > 86400 {
				t.Errorf("Retry-After %q", r.retry)
			}
		default:
			t.Errorf("status %d", r.status)
		}
	}
	if ok == 0 || refused == 0 {
		t.Fatalf("%d succeeded, %d refused: the budget should admit some and refuse others", ok, refused)
	}
	if spent > limit {
		t.Fatalf("spent %.9f, over the budget of %.9f", spent, limit)
	}
	s, err := ledger.Spend(context.Background(), "budgeted", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if diff := s.SpentUSD - spent; diff > 1e-9*float64(ok) || -diff > 1e-9*float64(ok) || s.ReservedUSD != 0 {
		t.Fatalf("ledger %+v, log says %.9f spent by %d requests", s, spent, ok)
	}
	t.Logf("%d admitted, %d refused, spent $%.6f of $%.6f", ok, refused, spent, limit)

	// A restart: a new ledger and Guard over the same database.
	ledger2, err := budget.Open(context.Background(), db, budget.Options{Table: "budget_concurrency"})
	if err != nil {
		t.Fatal(err)
	}
	e2 := newEnv(t, clientkey.Options{Keys: ks, Budget: ledger2})
	if s2, _ := ledger2.Spend(context.Background(), "budgeted", time.Now()); s2.SpentUSD != s.SpentUSD {
		t.Fatalf("spend after restart %+v, before %+v", s2, s)
	}
	// It goes on from the spend it found: sequential requests stop when what is left is
	// spent, where a fresh budget would admit about ten.
	each := spent / float64(ok)
	left := int((limit-spent)/each) + 1
	admitted, stopped := 0, false
	for range 10 {
		_, err = chat(e2.openai(teamAKey, nil), "gpt-4o-mini", text, 50)
		if err != nil {
			ae := apiError(t, err, http.StatusTooManyRequests)
			if ae.Type != "insufficient_quota" || !strings.Contains(ae.Message, "budget") {
				t.Errorf("refusal %s", ae.RawJSON())
			}
			stopped = true
			break
		}
		admitted++
		e2.waitSettled()
	}
	if !stopped || admitted > left {
		t.Fatalf("the restarted guard admitted %d more requests (refused: %v), want at most %d", admitted, stopped, left)
	}
	if s3, _ := ledger2.Spend(context.Background(), "budgeted", time.Now()); s3.SpentUSD > limit {
		t.Fatalf("spent %.9f after restart, over %.9f", s3.SpentUSD, limit)
	}
}
