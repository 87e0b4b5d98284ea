package clientkey_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"

	"github.com/aiproxy-go/aiproxy/budget"
	"github.com/aiproxy-go/aiproxy/clientkey"
)

// The limits reach Anthropic and Bedrock clients in their own error shapes, streamed and
// not: a rate limit as a 429 with Retry-After, a spent budget as a 429 the SDK reports.
func TestLimitsThroughAnthropicAndBedrockSDKs(t *testing.T) {
	e0 := newEnv(t, clientkey.Options{Keys: []clientkey.Key{{Name: "x", Key: "sk-unused-000000000000"}}})
	ledger, err := budget.Open(context.Background(), e0.h.Store.DB(), budget.Options{Table: "budget_sdks"})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, clientkey.Options{Budget: ledger, Keys: []clientkey.Key{
		{Name: "anthropic-rpm", Key: teamAKey, RequestsPerMinute: 2},
		{Name: "bedrock-budget", AWSAccessKeyID: awsClientID, AWSSecretAccessKey: awsClientKey, BudgetUSDPerDay: 1e-9},
	}})

	t.Run("anthropic rate limit", func(t *testing.T) {
		c := anthropic.NewClient(aoption.WithBaseURL(e.h.URL()+"/anthropic/"), aoption.WithAPIKey(teamAKey), aoption.WithMaxRetries(0))
		params := anthropic.MessageNewParams{Model: "claude-sonnet-4-5", MaxTokens: 50,
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hello"))}}
		if _, err := c.Messages.New(context.Background(), params); err != nil {
			t.Fatal(err)
		}
		stream := c.Messages.NewStreaming(context.Background(), params)
		for stream.Next() {
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		_, err := c.Messages.New(context.Background(), params)
		var ae *anthropic.Error
		if !errors.As(err, &ae) || ae.StatusCode != http.StatusTooManyRequests || ae.Response.Header.Get("Retry-After") == "" {
			t.Fatalf("third request of two a minute: %v", err)
		}
		if !strings.Contains(ae.RawJSON(), `"rate_limit_error"`) || !strings.Contains(ae.RawJSON(), `"type":"error"`) {
			t.Errorf("not in anthropic's shape: %s", ae.RawJSON())
		}
	})

	t.Run("bedrock budget", func(t *testing.T) {
		in := &bedrockruntime.ConverseStreamInput{
			ModelId:         aws.String("anthropic.claude-3-5-sonnet-20240620-v1:0"),
			Messages:        []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "hello"}}}},
			InferenceConfig: &types.InferenceConfiguration{MaxTokens: aws.Int32(100)},
		}
		_, err := e.bedrockClient(awsClientID, awsClientKey, nil).ConverseStream(context.Background(), in)
		var api smithy.APIError
		if !errors.As(err, &api) || api.ErrorCode() != "ThrottlingException" || !strings.Contains(api.ErrorMessage(), "budget") {
			t.Fatalf("over budget: %v", err)
		}
		var re interface{ HTTPStatusCode() int }
		if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusTooManyRequests {
			t.Errorf("status: %v", err)
		}
	})
}
