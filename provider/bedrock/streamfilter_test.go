package bedrock_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/aiproxy-go/aiproxy"
)

// streamPolicy is a response filter in observe or transform mode, for the stream-policy
// tests through the AWS SDK.
type streamPolicy struct {
	mode  aiproxy.StreamMode
	chunk func(c *aiproxy.Chunk) error
	seen  strings.Builder
}

func (f *streamPolicy) StreamMode() aiproxy.StreamMode { return f.mode }

func (f *streamPolicy) FilterChunk(ctx context.Context, x *aiproxy.Exchange, c *aiproxy.Chunk) error {
	if c.HasText {
		f.seen.WriteString(c.Text)
	}
	return f.chunk(c)
}

func (f *streamPolicy) FilterResponse(ctx context.Context, x *aiproxy.Exchange, r *aiproxy.Response) error {
	return nil
}

func withStreamPolicy(f *streamPolicy) envOption {
	return func(o *aiproxyOptions, _ *bedrockOptions, _ *fakeOptions) {
		o.ResponseFilters = append(o.ResponseFilters, f)
	}
}

// converseText reads a ConverseStream through the SDK: its text and the stream's error.
func converseText(t *testing.T, e *env, text string) (string, error) {
	t.Helper()
	out, err := e.client.ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{
		ModelId:  aws.String(sonnet),
		Messages: []types.Message{userMessage(text)},
	})
	if err != nil {
		return "", err
	}
	st := out.GetStream()
	defer st.Close()
	var sb strings.Builder
	for ev := range st.Events() {
		if d, ok := ev.(*types.ConverseStreamOutputMemberContentBlockDelta); ok {
			if td, ok := d.Value.Delta.(*types.ContentBlockDeltaMemberText); ok {
				sb.WriteString(td.Value)
			}
		}
	}
	return sb.String(), st.Err()
}

func TestStreamPolicies(t *testing.T) {
	t.Run("transform", func(t *testing.T) {
		f := &streamPolicy{mode: aiproxy.TransformStream, chunk: func(c *aiproxy.Chunk) error {
			c.Text = strings.ToUpper(c.Text)
			return nil
		}}
		e := newEnv(t, withStreamPolicy(f))
		got, err := converseText(t, e, "quiet please")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(got, "QUIET PLEASE") || got != strings.ToUpper(got) {
			t.Fatalf("client got %q", got)
		}
		_, row := e.rows()
		if row.Content != got || row.CompletionTokens == 0 {
			t.Fatalf("row content %q tokens %d", row.Content, row.CompletionTokens)
		}
	})
	t.Run("observe stops the stream", func(t *testing.T) {
		f := &streamPolicy{mode: aiproxy.ObserveStream}
		f.chunk = func(c *aiproxy.Chunk) error {
			if strings.Contains(f.seen.String(), "said") {
				return aiproxy.Errorf(http.StatusBadRequest, "the answer is not allowed")
			}
			return nil
		}
		e := newEnv(t, withStreamPolicy(f))
		got, err := converseText(t, e, "stop here")
		if err == nil || !strings.Contains(err.Error(), "the answer is not allowed") {
			t.Fatalf("SDK error %v, text %q", err, got)
		}
		if strings.Contains(got, "said") {
			t.Fatalf("the stopped text reached the client: %q", got)
		}
	})
}
