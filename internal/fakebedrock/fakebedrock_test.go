package fakebedrock_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/aiproxy-go/aiproxy/internal/fakebedrock"
)

const (
	keyID  = "AKIATESTFAKEKEY00001"
	secret = "test/secret/0123456789abcdefghijklmnopqrstu"
	model  = "anthropic.claude-3-5-sonnet-20240620-v1:0"
)

// newClient returns an SDK client for the fake at url, signing with the given secret. Its
// transport is SDKTransport: without it the SDK's own transport sometimes closes the
// connection under a stream (see TestSDKTransport).
func newClient(url, key, sec string) *bedrockruntime.Client {
	return bedrockruntime.New(bedrockruntime.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider(key, sec, ""),
		Retryer:      aws.NopRetryer{},
		HTTPClient:   &http.Client{Transport: fakebedrock.SDKTransport(nil)},
	})
}

func withHeader(k, v string) func(*bedrockruntime.Options) {
	return func(o *bedrockruntime.Options) {
		o.APIOptions = append(o.APIOptions, smithyhttp.AddHeaderValue(k, v))
	}
}

func start(t *testing.T) (*fakebedrock.Bedrock, string) {
	t.Helper()
	fake := fakebedrock.New(fakebedrock.Options{AccessKeyID: keyID, SecretAccessKey: secret})
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return fake, srv.URL
}

func userMessage(text string) types.Message {
	return types.Message{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: text}}}
}

func TestSignatureChecked(t *testing.T) {
	fake, url := start(t)
	ctx := context.Background()
	in := &bedrockruntime.ConverseInput{ModelId: aws.String(model), Messages: []types.Message{userMessage("hi")}}

	if _, err := newClient(url, keyID, secret).Converse(ctx, in); err != nil {
		t.Fatalf("the right credentials were refused: %v", err)
	}
	_, err := newClient(url, keyID, "wrong-secret").Converse(ctx, in)
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "InvalidSignatureException" {
		t.Fatalf("a wrong secret gave %v, want InvalidSignatureException", err)
	}
	if !strings.Contains(api.ErrorMessage(), "Canonical String") {
		t.Errorf("the message does not show the canonical request: %q", api.ErrorMessage())
	}
	_, err = newClient(url, "AKIAOTHER", secret).Converse(ctx, in)
	if !errors.As(err, &api) || api.ErrorCode() != "UnrecognizedClientException" {
		t.Fatalf("an unknown key gave %v, want UnrecognizedClientException", err)
	}
	if reqs := fake.Requests(); len(reqs) != 3 || reqs[0].SignatureError != "" || reqs[1].SignatureError == "" {
		t.Fatalf("recorded %+v", reqs)
	}
}

func TestSignatureCoversBodyAndTime(t *testing.T) {
	fake := fakebedrock.New(fakebedrock.Options{AccessKeyID: keyID, SecretAccessKey: secret,
		Now: func() time.Time { return time.Now().Add(20 * time.Minute) }})
	srv := httptest.NewServer(fake)
	defer srv.Close()
	_, err := newClient(srv.URL, keyID, secret).Converse(context.Background(),
		&bedrockruntime.ConverseInput{ModelId: aws.String(model), Messages: []types.Message{userMessage("hi")}})
	var api smithy.APIError
	if !errors.As(err, &api) || !strings.HasPrefix(api.ErrorMessage(), "Signature expired") {
		t.Fatalf("a stale signature gave %v", err)
	}

	// A body changed after signing is refused.
	fake2, url := start(t)
	client := bedrockruntime.New(bedrockruntime.Options{Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider(keyID, secret, ""), Retryer: aws.NopRetryer{},
		HTTPClient: &http.Client{Transport: tamper{}}})
	_, err = client.Converse(context.Background(), &bedrockruntime.ConverseInput{ModelId: aws.String(model), Messages: []types.Message{userMessage("hi")}})
	if !errors.As(err, &api) || api.ErrorCode() != "InvalidSignatureException" {
		t.Fatalf("a tampered body gave %v", err)
	}
	if fake2.Hits() != 1 {
		t.Fatalf("hits %d", fake2.Hits())
	}
}

// tamper changes the body after the SDK signed it.
type tamper struct{}

func (tamper) RoundTrip(r *http.Request) (*http.Response, error) {
	body := `{"messages":[{"role":"user","content":[{"text":"HI"}]}]}`
	r = r.Clone(r.Context())
	r.Body = io.NopCloser(strings.NewReader(body))
	r.ContentLength = int64(len(body))
	return http.DefaultTransport.RoundTrip(r)
}

func TestConverseAndStream(t *testing.T) {
	_, url := start(t)
	client := newClient(url, keyID, secret)
	ctx := context.Background()
	out, err := client.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(model), Messages: []types.Message{userMessage("hello there")}})
	if err != nil {
		t.Fatal(err)
	}
	msg := out.Output.(*types.ConverseOutputMemberMessage).Value
	if got := msg.Content[0].(*types.ContentBlockMemberText).Value; got != "Hello! You said: hello there" {
		t.Fatalf("text %q", got)
	}
	if *out.Usage.InputTokens != 3+4+2 || *out.Usage.OutputTokens != 5 {
		t.Fatalf("usage %d/%d", *out.Usage.InputTokens, *out.Usage.OutputTokens)
	}

	st, err := client.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String(model),
		Messages: []types.Message{userMessage("stream me")}}, withHeader("x-fake-chunks", "4"))
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	deltas := 0
	var usage *types.TokenUsage
	for ev := range st.GetStream().Events() {
		switch v := ev.(type) {
		case *types.ConverseStreamOutputMemberContentBlockDelta:
			text.WriteString(v.Value.Delta.(*types.ContentBlockDeltaMemberText).Value)
			deltas++
		case *types.ConverseStreamOutputMemberMetadata:
			usage = v.Value.Usage
		}
	}
	if err := st.GetStream().Err(); err != nil {
		t.Fatal(err)
	}
	if text.String() != "Hello! You said: stream me" || deltas != 4 || usage == nil || *usage.OutputTokens != 5 {
		t.Fatalf("stream %q in %d deltas, usage %+v", text.String(), deltas, usage)
	}
}

func TestStreamException(t *testing.T) {
	_, url := start(t)
	st, err := newClient(url, keyID, secret).ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{
		ModelId: aws.String(model), Messages: []types.Message{userMessage("x")}}, withHeader("x-fake-stream-exception", "throttlingException"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for range st.GetStream().Events() {
		n++
	}
	var te *types.ThrottlingException
	if err := st.GetStream().Err(); !errors.As(err, &te) || n != 2 {
		t.Fatalf("after %d events: %v, want a ThrottlingException after 2", n, err)
	}
}

// With x-fake-end-delay the exception frame comes at once and the end of the body later:
// the SDK stops at the exception without waiting for the end, and its hanging up ends the
// wait.
func TestStreamExceptionBeforeEnd(t *testing.T) {
	_, url := start(t)
	begin := time.Now()
	st, err := newClient(url, keyID, secret).ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{
		ModelId: aws.String(model), Messages: []types.Message{userMessage("x")}},
		withHeader("x-fake-stream-exception", "throttlingException"), withHeader("x-fake-end-delay", "30s"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for range st.GetStream().Events() {
		n++
	}
	var te *types.ThrottlingException
	if err := st.GetStream().Err(); !errors.As(err, &te) || n != 2 {
		t.Fatalf("after %d events: %v, want a ThrottlingException after 2", n, err)
	}
	if d := time.Since(begin); d > 20*time.Second {
		t.Fatalf("the exception came after %v: it waited for the end of the body", d)
	}
}

func TestInvokeModelStream(t *testing.T) {
	_, url := start(t)
	body := `{"anthropic_version":"bedrock-2023-05-31","max_tokens":100,"messages":[{"role":"user","content":"use tools"}],"tools":[{"name":"get_weather","input_schema":{"type":"object"}}]}`
	out, err := newClient(url, keyID, secret).InvokeModelWithResponseStream(context.Background(), &bedrockruntime.InvokeModelWithResponseStreamInput{
		ModelId: aws.String("us." + model), Body: []byte(body), ContentType: aws.String("application/json")})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	var args strings.Builder
	for ev := range out.GetStream().Events() {
		c := ev.(*types.ResponseStreamMemberChunk)
		var e struct {
			Type  string
			Delta struct {
				PartialJSON string `json:"partial_json"`
			}
			Metrics map[string]int `json:"amazon-bedrock-invocationMetrics"`
		}
		if err := json.Unmarshal(c.Value.Bytes, &e); err != nil {
			t.Fatalf("chunk %s: %v", c.Value.Bytes, err)
		}
		kinds = append(kinds, e.Type)
		args.WriteString(e.Delta.PartialJSON)
		if e.Type == "message_stop" && e.Metrics["outputTokenCount"] == 0 {
			t.Errorf("no metrics in %s", c.Value.Bytes)
		}
	}
	if err := out.GetStream().Err(); err != nil {
		t.Fatal(err)
	}
	want := "message_start content_block_start" + strings.Repeat(" content_block_delta", 5) +
		" content_block_stop message_delta message_stop"
	if args.String() != `{"location":"Paris"}` || strings.Join(kinds, " ") != want {
		t.Fatalf("events %v args %q", kinds, args.String())
	}
}

func TestUnknownModelAndRoute(t *testing.T) {
	_, url := start(t)
	_, err := newClient(url, keyID, secret).Converse(context.Background(), &bedrockruntime.ConverseInput{
		ModelId: aws.String("meta.llama3-8b-instruct-v1:0"), Messages: []types.Message{userMessage("x")}})
	var ve *types.ValidationException
	if !errors.As(err, &ve) {
		t.Fatalf("unknown model gave %v", err)
	}
}
