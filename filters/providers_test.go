package filters_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	sdk "github.com/anthropics/anthropic-sdk-go/v2"
	sdkoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/filters"
	"github.com/aiproxy-go/aiproxy/internal/fakeanthropic"
	"github.com/aiproxy-go/aiproxy/internal/fakebedrock"
	"github.com/aiproxy-go/aiproxy/internal/testproxy"
	"github.com/aiproxy-go/aiproxy/provider"
	"github.com/aiproxy-go/aiproxy/provider/anthropic"
	"github.com/aiproxy-go/aiproxy/provider/bedrock"
)

// maskedText is secretText as the redact filter leaves it.
const maskedText = "mail [REDACTED_EMAIL], card [REDACTED_CREDIT_CARD], call [REDACTED_PHONE], key [REDACTED_API_KEY]"

// addFilters adds the filters to the harness's proxy.
func addFilters(t *testing.T, h *testproxy.Harness, fs ...any) {
	t.Helper()
	for _, f := range fs {
		if err := h.Proxy.AddFilter(f); err != nil {
			t.Fatal(err)
		}
	}
}

// noSecrets fails the test when the database holds any secret.
func noSecrets(t *testing.T, h *testproxy.Harness) {
	t.Helper()
	db := dbBytes(t, h)
	for _, s := range secrets {
		if bytes.Contains(db, []byte(s)) {
			t.Errorf("%q found in the database", s)
		}
	}
}

func TestAnthropicFilters(t *testing.T) {
	fake := fakeanthropic.New(fakeanthropic.Options{APIKey: "sk-ant-upstream"})
	up := httptest.NewServer(fake)
	t.Cleanup(up.Close)
	h := testproxy.New(t, aiproxy.Options{
		Providers: []provider.Provider{anthropic.New(anthropic.Options{BaseURL: up.URL, APIKey: "sk-ant-upstream"})},
	})
	addFilters(t, h, &filters.BanUsers{Users: []string{"uezo"}}, &filters.MaxTokens{Limit: 100}, &filters.Redact{})
	client := sdk.NewClient(sdkoption.WithBaseURL(h.URL()+"/"), sdkoption.WithAPIKey("client-key"), sdkoption.WithMaxRetries(0))
	ctx := context.Background()
	params := func(user, text string) sdk.MessageNewParams {
		return sdk.MessageNewParams{
			Model:     "claude-sonnet-4-5",
			MaxTokens: 4096,
			Messages:  []sdk.MessageParam{sdk.NewUserMessage(sdk.NewTextBlock(text))},
			Metadata:  sdk.MetadataParam{UserID: sdk.String(user)},
		}
	}

	for _, stream := range []bool{false, true} {
		var err error
		if stream {
			s := client.Messages.NewStreaming(ctx, params("uezo", "hi"))
			for s.Next() {
			}
			err = s.Err()
		} else {
			_, err = client.Messages.New(ctx, params("uezo", "hi"))
		}
		var ae *sdk.Error
		if !errors.As(err, &ae) || ae.StatusCode != 403 || ae.Type() != "permission_error" || ae.Message != filters.DefaultBanMessage {
			t.Fatalf("banned user (stream %v): %v", stream, err)
		}
	}
	if fake.Hits() != 0 {
		t.Fatalf("upstream called %d times for a banned user", fake.Hits())
	}

	var resp *http.Response
	m, err := client.Messages.New(ctx, params("alice", secretText), sdkoption.WithResponseInto(&resp))
	if err != nil {
		t.Fatal(err)
	}
	if m.Content[0].Text != "Hello! You said: "+maskedText {
		t.Errorf("reply %q", m.Content[0].Text)
	}
	var got struct {
		MaxTokens int `json:"max_tokens"`
		Messages  []struct {
			Content []struct{ Text string }
		}
	}
	if err := json.Unmarshal(fake.Requests()[0].Body, &got); err != nil {
		t.Fatal(err)
	}
	if got.MaxTokens != 100 || got.Messages[0].Content[0].Text != maskedText {
		t.Errorf("upstream max_tokens %d text %q", got.MaxTokens, got.Messages[0].Content[0].Text)
	}
	req, _ := rows(t, h, h.RequestID(resp))
	if req.Content != maskedText || req.User != "alice" {
		t.Errorf("request row content %q user %q", req.Content, req.User)
	}

	s := client.Messages.NewStreaming(ctx, params("alice", secretText))
	var text bytes.Buffer
	for s.Next() {
		if ev := s.Current(); ev.Type == "content_block_delta" {
			text.WriteString(ev.Delta.Text)
		}
	}
	if err := s.Err(); err != nil || text.String() != "Hello! You said: "+maskedText {
		t.Fatalf("stream %q %v", text.String(), err)
	}
	noSecrets(t, h)
}

// bedrockEnv is a proxy serving Bedrock between the AWS SDK and the fake.
type bedrockEnv struct {
	h      *testproxy.Harness
	fake   *fakebedrock.Bedrock
	client *bedrockruntime.Client
	last   *lastHeader
}

// lastHeader keeps the headers of the last response an SDK client received.
type lastHeader struct {
	mu sync.Mutex
	h  http.Header
}

func (l *lastHeader) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if resp != nil {
		l.mu.Lock()
		l.h = resp.Header.Clone()
		l.mu.Unlock()
	}
	return resp, err
}

func (l *lastHeader) id(t *testing.T) string {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.h == nil || l.h.Get(aiproxy.HeaderRequestID) == "" {
		t.Fatal("no response with a request id")
	}
	return l.h.Get(aiproxy.HeaderRequestID)
}

func newBedrockEnv(t *testing.T) *bedrockEnv {
	t.Helper()
	const keyID, secret = "AKIAPROXYUPSTREAM001", "proxy-upstream-secret"
	fake := fakebedrock.New(fakebedrock.Options{AccessKeyID: keyID, SecretAccessKey: secret})
	up := httptest.NewServer(fake)
	t.Cleanup(up.Close)
	prov, err := bedrock.New(bedrock.Options{Region: "us-east-1", AccessKeyID: keyID, SecretAccessKey: secret, Endpoint: up.URL})
	if err != nil {
		t.Fatal(err)
	}
	e := &bedrockEnv{fake: fake, last: &lastHeader{}}
	e.h = testproxy.New(t, aiproxy.Options{Providers: []provider.Provider{prov}, Secrets: []string{secret}})
	e.client = bedrockruntime.New(bedrockruntime.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(e.h.URL()),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIACLIENTDUMMY00001", "client-secret", ""),
		Retryer:      aws.NopRetryer{},
		HTTPClient:   &http.Client{Transport: fakebedrock.SDKTransport(e.last)},
	})
	return e
}

const haiku = "anthropic.claude-3-haiku-20240307-v1:0"

func TestBedrockFilters(t *testing.T) {
	e := newBedrockEnv(t)
	addFilters(t, e.h, &filters.BanUsers{Users: []string{"uezo"}}, &filters.MaxTokens{Limit: 100}, &filters.Redact{})
	ctx := context.Background()
	user := func(text string) []types.Message {
		return []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: text}}}}
	}

	t.Run("banned user", func(t *testing.T) {
		_, err := e.client.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(haiku), ContentType: aws.String("application/json"),
			Body: []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"metadata":{"user_id":"uezo"},"messages":[{"role":"user","content":"hi"}]}`)})
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" || ae.ErrorMessage() != filters.DefaultBanMessage {
			t.Fatalf("got %v", err)
		}
		if e.fake.Hits() != 0 {
			t.Fatalf("upstream called %d times", e.fake.Hits())
		}
		_, row := rows(t, e.h, e.last.id(t))
		if row.Direction != accesslog.DirectionError || row.StatusCode != 403 {
			t.Errorf("row %s %d", row.Direction, row.StatusCode)
		}
	})

	t.Run("converse limit and redact", func(t *testing.T) {
		e.fake.Reset()
		out, err := e.client.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(haiku), Messages: user(secretText),
			InferenceConfig: &types.InferenceConfiguration{MaxTokens: aws.Int32(5000)}})
		if err != nil {
			t.Fatal(err)
		}
		if got := out.Output.(*types.ConverseOutputMemberMessage).Value.Content[0].(*types.ContentBlockMemberText).Value; got != "Hello! You said: "+maskedText {
			t.Errorf("reply %q", got)
		}
		reqs := e.fake.Requests()
		if len(reqs) != 1 || reqs[0].SignatureError != "" {
			t.Fatalf("upstream requests %d", len(reqs))
		}
		var body struct {
			InferenceConfig struct{ MaxTokens int } `json:"inferenceConfig"`
		}
		if err := json.Unmarshal(reqs[0].Body, &body); err != nil || body.InferenceConfig.MaxTokens != 100 || !bytes.Contains(reqs[0].Body, []byte(maskedText)) {
			t.Errorf("upstream body %s", reqs[0].Body)
		}
	})

	t.Run("converse stream without a limit", func(t *testing.T) {
		e.fake.Reset()
		out, err := e.client.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String(haiku), Messages: user(secretText)})
		if err != nil {
			t.Fatal(err)
		}
		var text bytes.Buffer
		for ev := range out.GetStream().Events() {
			if d, ok := ev.(*types.ConverseStreamOutputMemberContentBlockDelta); ok {
				if tx, ok := d.Value.Delta.(*types.ContentBlockDeltaMemberText); ok {
					text.WriteString(tx.Value)
				}
			}
		}
		if err := out.GetStream().Err(); err != nil || text.String() != "Hello! You said: "+maskedText {
			t.Fatalf("stream %q %v", text.String(), err)
		}
		if b := e.fake.Requests()[0].Body; !bytes.Contains(b, []byte(`"inferenceConfig":{"maxTokens":100}`)) {
			t.Errorf("upstream body %s", b)
		}
	})
	noSecrets(t, e.h)
}

// TestBedrockRedactLogStream masks only the log of an AWS event-stream, whose raw_body the
// provider logs as JSON lines, with the secrets cut across the stream's deltas.
func TestBedrockRedactLogStream(t *testing.T) {
	e := newBedrockEnv(t)
	addFilters(t, e.h, &filters.Redact{In: []string{filters.RedactLog}})
	out, err := e.client.ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{ModelId: aws.String(haiku),
		Messages: []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: secretText}}}}},
		func(o *bedrockruntime.Options) {
			o.APIOptions = append(o.APIOptions, smithyhttp.AddHeaderValue(fakebedrock.HeaderChunks, "12"))
		})
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	for ev := range out.GetStream().Events() {
		if d, ok := ev.(*types.ConverseStreamOutputMemberContentBlockDelta); ok {
			if tx, ok := d.Value.Delta.(*types.ContentBlockDeltaMemberText); ok {
				text.WriteString(tx.Value)
			}
		}
	}
	if err := out.GetStream().Err(); err != nil || text.String() != "Hello! You said: "+secretText {
		t.Fatalf("stream %q %v", text.String(), err)
	}
	_, row := rows(t, e.h, e.last.id(t))
	if row.Content != "Hello! You said: "+maskedText {
		t.Errorf("content %q", row.Content)
	}
	for _, line := range bytes.Split(bytes.TrimSpace(row.RawBody), []byte("\n")) {
		if !json.Valid(line) {
			t.Errorf("raw_body line %s is not JSON", line)
		}
	}
	db := dbBytes(t, e.h)
	for _, s := range append(secrets, "example.com", "1111", "555 1", "DEF1234567890") {
		if bytes.Contains(db, []byte(s)) {
			t.Errorf("%q found in the database", s)
		}
	}
}
