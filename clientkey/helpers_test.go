package clientkey_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/redis/go-redis/v9"

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/clientkey"
	"github.com/aiproxy-go/aiproxy/internal/fakeanthropic"
	"github.com/aiproxy-go/aiproxy/internal/fakebedrock"
	"github.com/aiproxy-go/aiproxy/internal/fakeupstream"
	"github.com/aiproxy-go/aiproxy/internal/testproxy"
	"github.com/aiproxy-go/aiproxy/provider"
	provanthropic "github.com/aiproxy-go/aiproxy/provider/anthropic"
	"github.com/aiproxy-go/aiproxy/provider/bedrock"
	provopenai "github.com/aiproxy-go/aiproxy/provider/openai"
)

// The proxy's own upstream credentials.
const (
	openaiUpstreamKey    = "sk-upstream-openai-0123456789"
	anthropicUpstreamKey = "sk-ant-upstream-0123456789"
	awsUpstreamKeyID     = "AKIAPROXYUPSTREAM001"
	awsUpstreamSecret    = "proxy-UPSTREAM-secret-0123456789abcdef"
)

// The client keys the tests hand out.
const (
	teamAKey     = "sk-team-a-0123456789"
	ciKey        = "sk-ci-secret-key-9876543210"
	awsClientID  = "AKIACLIENTEXAMPLE"
	awsClientKey = "client-secret-access-key-0123456789"
)

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// env is a proxy guarded by a Guard in front of the OpenAI, Anthropic and Bedrock fakes.
type env struct {
	t          *testing.T
	h          *testproxy.Harness
	guard      *clientkey.Guard
	openaiFake *fakeupstream.OpenAI
}

// newEnv starts a proxy with a Guard built from opts; the Guard's Settle is the writer's
// Enrich hook, which runs after the proxy priced the record, as the lead wires it.
func newEnv(t *testing.T, opts clientkey.Options) *env {
	t.Helper()
	g, err := clientkey.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, guard: g}
	e.openaiFake = fakeupstream.NewOpenAI(fakeupstream.OpenAIOptions{APIKey: openaiUpstreamKey})
	oup := httptest.NewServer(e.openaiFake)
	t.Cleanup(oup.Close)
	aup := httptest.NewServer(fakeanthropic.New(fakeanthropic.Options{APIKey: anthropicUpstreamKey}))
	t.Cleanup(aup.Close)
	bup := httptest.NewServer(fakebedrock.New(fakebedrock.Options{AccessKeyID: awsUpstreamKeyID, SecretAccessKey: awsUpstreamSecret}))
	t.Cleanup(bup.Close)
	bp, err := bedrock.New(bedrock.Options{Region: "us-east-1", AccessKeyID: awsUpstreamKeyID,
		SecretAccessKey: awsUpstreamSecret, Endpoint: bup.URL})
	if err != nil {
		t.Fatal(err)
	}
	po := aiproxy.Options{
		Providers: []provider.Provider{
			bp,
			provanthropic.New(provanthropic.Options{APIKey: anthropicUpstreamKey, BaseURL: aup.URL}),
			provopenai.New(provopenai.Options{APIKey: openaiUpstreamKey, BaseURL: oup.URL + "/v1"}),
		},
		RequestFilters: []aiproxy.RequestFilter{g},
		Secrets:        []string{openaiUpstreamKey, anthropicUpstreamKey, awsUpstreamSecret, teamAKey, ciKey, awsClientKey},
	}
	po.Writer.Enrich = func(r *accesslog.Record) { g.Settle(r) }
	// Cleanups run last registered first: the Guard closes after the proxy drained its log.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := g.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	e.h = testproxy.New(t, po)
	return e
}

// openai returns an OpenAI SDK client of the proxy with key (none when empty), recording
// the last response in *last.
func (e *env) openai(key string, last **http.Response) openai.Client {
	opts := []option.RequestOption{
		option.WithBaseURL(e.h.URL() + "/v1/"),
		option.WithMaxRetries(0),
	}
	if key != "" {
		opts = append(opts, option.WithAPIKey(key))
	}
	if last != nil {
		opts = append(opts, option.WithResponseInto(last))
	}
	return openai.NewClient(opts...)
}

// chat sends one chat completion for model with the client.
func chat(c openai.Client, model, text string, maxTokens int64) (*openai.ChatCompletion, error) {
	p := openai.ChatCompletionNewParams{
		Model:    model,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(text)},
	}
	if maxTokens > 0 {
		p.MaxTokens = openai.Int(maxTokens)
	}
	return c.Chat.Completions.New(context.Background(), p)
}

// apiError returns err as an OpenAI SDK error, failing the test when it is not one.
func apiError(t *testing.T, err error, status int) *openai.Error {
	t.Helper()
	var ae *openai.Error
	if !errors.As(err, &ae) {
		t.Fatalf("want an api error %d, got %v", status, err)
	}
	if ae.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", ae.StatusCode, status, ae.RawJSON())
	}
	return ae
}

// bedrockClient returns a Bedrock runtime SDK client of the proxy signing with the pair.
// A non-nil rt sees every round trip.
func (e *env) bedrockClient(keyID, secret string, rt http.RoundTripper) *bedrockruntime.Client {
	return bedrockruntime.New(bedrockruntime.Options{
		Region:       "us-west-2",
		BaseEndpoint: aws.String(e.h.URL()),
		Credentials:  credentials.NewStaticCredentialsProvider(keyID, secret, ""),
		Retryer:      aws.NopRetryer{},
		HTTPClient:   &http.Client{Transport: fakebedrock.SDKTransport(rt)},
	})
}

// waitSettled waits until the Guard applied the settlement of every request it admitted.
func (e *env) waitSettled() {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for clientkey.Pending(e.guard) > 0 {
		if time.Now().After(deadline) {
			e.t.Fatalf("%d settlements still pending", clientkey.Pending(e.guard))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := e.h.Proxy.Log().Flush(ctx); err != nil {
			cancel()
			e.t.Fatal(err)
		}
		cancel()
		time.Sleep(2 * time.Millisecond)
	}
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

// awayFromBoundary waits, when the current window of Redis's clock ends within margin,
// until the next one starts, so that a test's counts fall in one window.
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
