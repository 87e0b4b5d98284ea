package anthropic_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/provider/anthropic"
)

// streamPolicy is a response filter in observe or transform mode, for the stream-policy
// tests through the Anthropic SDK.
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
	return func(o *aiproxy.Options, _ *anthropic.Options) {
		o.ResponseFilters = append(o.ResponseFilters, f)
	}
}

func TestStreamPolicies(t *testing.T) {
	t.Run("transform", func(t *testing.T) {
		f := &streamPolicy{mode: aiproxy.TransformStream, chunk: func(c *aiproxy.Chunk) error {
			c.Text = strings.ReplaceAll(c.Text, "l", "L")
			return nil
		}}
		e := newEnv(t, withStreamPolicy(f))
		var httpResp *http.Response
		m, err := accumulate(t, e.client("/").Messages.NewStreaming(context.Background(), params("hello world"), option.WithResponseInto(&httpResp)))
		if err != nil {
			t.Fatal(err)
		}
		if got := textOf(m); got != "HeLLo! You said: heLLo worLd" || m.Usage.OutputTokens == 0 {
			t.Fatalf("client got %q, usage %d", got, m.Usage.OutputTokens)
		}
		row := e.h.Row(e.h.RowsN(e.h.RequestID(httpResp), 2), "response")
		if row.Content != textOf(m) || row.CompletionTokens != int(m.Usage.OutputTokens) {
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
		var httpResp *http.Response
		m, err := accumulate(t, e.client("/").Messages.NewStreaming(context.Background(), params("stop here"), option.WithResponseInto(&httpResp)))
		if err == nil || !strings.Contains(err.Error(), "the answer is not allowed") {
			t.Fatalf("SDK error %v, text %q", err, textOf(m))
		}
		if strings.Contains(textOf(m), "said") {
			t.Fatalf("the stopped text reached the client: %q", textOf(m))
		}
		row := e.h.Row(e.h.RowsN(e.h.RequestID(httpResp), 2), "error")
		if row == nil || row.StatusCode != http.StatusBadRequest {
			t.Fatalf("no error row with the filter's status: %+v", row)
		}
	})
	t.Run("non-streamed goes to FilterResponse", func(t *testing.T) {
		f := &streamPolicy{mode: aiproxy.ObserveStream, chunk: func(c *aiproxy.Chunk) error {
			t.Error("FilterChunk called for a non-streamed response")
			return nil
		}}
		e := newEnv(t, withStreamPolicy(f))
		m, err := e.client("/").Messages.New(context.Background(), params("whole"))
		if err != nil || textOf(*m) != "Hello! You said: whole" {
			t.Fatalf("%v %v", err, m)
		}
	})
}
