package bedrock_test

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/provider"
)

// replyFilter answers every request that carries x-test-reply itself.
func replyFilter(o *aiproxyOptions, _ *bedrockOptions, _ *fakeOptions) {
	o.RequestFilters = append(o.RequestFilters, aiproxy.RequestFilterFunc(func(ctx context.Context, x *aiproxy.Exchange) (*aiproxy.Reply, error) {
		switch x.Header().Get("X-Test-Reply") {
		case "":
			return nil, nil
		case "tools":
			return &aiproxy.Reply{ToolCalls: []provider.ToolCall{
				{ID: "tooluse_filter1", Type: "function", Function: provider.FunctionCall{Name: "get_weather", Arguments: `{"location":"Oslo"}`}},
				{ID: "tooluse_filter2", Type: "function", Function: provider.FunctionCall{Name: "get_time", Arguments: `{"zone":"CET"}`}},
			}, Usage: &provider.Usage{InputTokens: 11, OutputTokens: 7}}, nil
		}
		return &aiproxy.Reply{Text: "filtered <answer>", Usage: &provider.Usage{InputTokens: 11, OutputTokens: 7}}, nil
	}))
}

func TestFilterReplies(t *testing.T) {
	e := newEnv(t, replyFilter)
	ctx := context.Background()
	reply := header("x-test-reply", "text")
	const want = "filtered <answer>"
	// checkRow checks the response row; stream says whether its raw_body holds JSON lines.
	checkRow := func(t *testing.T, stream bool) {
		t.Helper()
		_, row := e.rows()
		if row.Content != want || row.StatusCode != 200 {
			t.Errorf("row %q status %d", row.Content, row.StatusCode)
		}
		// The completions format carries no usage in its body (only in headers, which the
		// log does not read): there the log estimates.
		if row.TokensEstimated != (t.Name() == "TestFilterReplies/invoke_claude_v2_prompt") {
			t.Errorf("tokens estimated %v", row.TokensEstimated)
		} else if !row.TokensEstimated && (row.PromptTokens != 11 || row.CompletionTokens != 7) {
			t.Errorf("row %q %d/%d status %d", row.Content, row.PromptTokens, row.CompletionTokens, row.StatusCode)
		}
		if stream {
			logLines(t, row.RawBody)
		}
	}

	t.Run("invoke messages", func(t *testing.T) {
		out, err := e.client.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(sonnet), Body: []byte(messagesBody)}, reply)
		if err != nil {
			t.Fatal(err)
		}
		var m struct {
			Type    string
			Content []struct{ Type, Text string }
		}
		if err := json.Unmarshal(out.Body, &m); err != nil || m.Type != "message" || len(m.Content) != 1 || m.Content[0].Text != want {
			t.Fatalf("body %s", out.Body)
		}
		checkRow(t, false)
	})
	t.Run("invoke claude v2 prompt", func(t *testing.T) {
		out, err := e.client.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String("anthropic.claude-v2"),
			Body: []byte(`{"prompt":"\n\nHuman: hi\n\nAssistant:","max_tokens_to_sample":50}`)}, reply)
		if err != nil {
			t.Fatal(err)
		}
		var c struct{ Completion string }
		if err := json.Unmarshal(out.Body, &c); err != nil || c.Completion != want {
			t.Fatalf("body %s", out.Body)
		}
		checkRow(t, false)
	})
	t.Run("invoke stream", func(t *testing.T) {
		out, err := e.client.InvokeModelWithResponseStream(ctx, &bedrockruntime.InvokeModelWithResponseStreamInput{ModelId: aws.String(sonnet), Body: []byte(messagesBody)}, reply)
		if err != nil {
			t.Fatal(err)
		}
		var text strings.Builder
		var kinds []string
		for ev := range out.GetStream().Events() {
			var c struct {
				Type  string
				Delta struct{ Text string }
			}
			if err := json.Unmarshal(ev.(*types.ResponseStreamMemberChunk).Value.Bytes, &c); err != nil {
				t.Fatal(err)
			}
			kinds = append(kinds, c.Type)
			text.WriteString(c.Delta.Text)
		}
		if err := out.GetStream().Err(); err != nil {
			t.Fatal(err)
		}
		if text.String() != want || strings.Join(kinds, ",") != "message_start,content_block_start,content_block_delta,content_block_stop,message_delta,message_stop" {
			t.Fatalf("text %q events %v", text.String(), kinds)
		}
		checkRow(t, true)
	})
	t.Run("converse", func(t *testing.T) {
		out, err := e.client.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(sonnet), Messages: []types.Message{userMessage("x")}}, reply)
		if err != nil {
			t.Fatal(err)
		}
		text := out.Output.(*types.ConverseOutputMemberMessage).Value.Content[0].(*types.ContentBlockMemberText).Value
		if text != want || *out.Usage.InputTokens != 11 || *out.Usage.OutputTokens != 7 || out.StopReason != types.StopReasonEndTurn {
			t.Fatalf("text %q usage %+v stop %s", text, out.Usage, out.StopReason)
		}
		checkRow(t, false)
	})
	t.Run("converse stream", func(t *testing.T) {
		out, err := e.client.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String(sonnet), Messages: []types.Message{userMessage("x")}}, reply)
		if err != nil {
			t.Fatal(err)
		}
		var text strings.Builder
		var usage *types.TokenUsage
		for ev := range out.GetStream().Events() {
			switch v := ev.(type) {
			case *types.ConverseStreamOutputMemberContentBlockDelta:
				text.WriteString(v.Value.Delta.(*types.ContentBlockDeltaMemberText).Value)
			case *types.ConverseStreamOutputMemberMetadata:
				usage = v.Value.Usage
			}
		}
		if err := out.GetStream().Err(); err != nil {
			t.Fatal(err)
		}
		if text.String() != want || usage == nil || *usage.OutputTokens != 7 {
			t.Fatalf("text %q usage %+v", text.String(), usage)
		}
		checkRow(t, true)
	})
	t.Run("converse stream tool use", func(t *testing.T) {
		out, err := e.client.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String(sonnet), Messages: []types.Message{userMessage("x")}},
			header("x-test-reply", "tools"))
		if err != nil {
			t.Fatal(err)
		}
		var names, inputs []string
		var stop types.StopReason
		for ev := range out.GetStream().Events() {
			switch v := ev.(type) {
			case *types.ConverseStreamOutputMemberContentBlockStart:
				names = append(names, *v.Value.Start.(*types.ContentBlockStartMemberToolUse).Value.Name)
			case *types.ConverseStreamOutputMemberContentBlockDelta:
				inputs = append(inputs, *v.Value.Delta.(*types.ContentBlockDeltaMemberToolUse).Value.Input)
			case *types.ConverseStreamOutputMemberMessageStop:
				stop = v.Value.StopReason
			}
		}
		if err := out.GetStream().Err(); err != nil {
			t.Fatal(err)
		}
		if strings.Join(names, ",") != "get_weather,get_time" || strings.Join(inputs, ",") != `{"location":"Oslo"},{"zone":"CET"}` || stop != types.StopReasonToolUse {
			t.Fatalf("names %v inputs %v stop %s", names, inputs, stop)
		}
		_, row := e.rows()
		if calls := loggedCalls(t, row.ToolCalls); len(calls) != 2 || calls[0].ID != "tooluse_filter1" || calls[1].Function.Arguments != `{"zone":"CET"}` {
			t.Errorf("logged %s", row.ToolCalls)
		}
	})
	if e.fake.Hits() != 0 {
		t.Errorf("filter replies went upstream %d times", e.fake.Hits())
	}
}

func TestReplay(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, err := e.client.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(sonnet), Messages: []types.Message{userMessage("use tools")}, ToolConfig: weatherTools()})
	if err != nil {
		t.Fatal(err)
	}
	_, orig := e.rows()
	origCalls := loggedCalls(t, orig.ToolCalls)
	replay := header("x-aiproxy-replay", e.id())

	// The same answer, streamed.
	out, err := e.client.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String(sonnet), Messages: []types.Message{userMessage("use tools")}}, replay)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for ev := range out.GetStream().Events() {
		if v, ok := ev.(*types.ConverseStreamOutputMemberContentBlockStart); ok {
			ids = append(ids, *v.Value.Start.(*types.ContentBlockStartMemberToolUse).Value.ToolUseId)
		}
	}
	if err := out.GetStream().Err(); err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 || ids[0] != origCalls[0].ID || ids[1] != origCalls[1].ID {
		t.Fatalf("replayed ids %v, logged %+v", ids, origCalls)
	}
	_, row := e.rows()
	if row.ToolCalls != orig.ToolCalls || row.PromptTokens != orig.PromptTokens || row.CompletionTokens != orig.CompletionTokens {
		t.Errorf("replay row %s %d/%d, original %s %d/%d", row.ToolCalls, row.PromptTokens, row.CompletionTokens, orig.ToolCalls, orig.PromptTokens, orig.CompletionTokens)
	}

	// And through InvokeModel, in the Anthropic messages format.
	inv, err := e.client.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(sonnet), Body: []byte(messagesBody)}, replay)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Content []struct {
			Type, ID, Name string
			Input          json.RawMessage
		}
		StopReason string `json:"stop_reason"`
	}
	if err := json.Unmarshal(inv.Body, &m); err != nil || len(m.Content) != 2 || m.Content[1].Type != "tool_use" ||
		m.Content[1].ID != origCalls[1].ID || string(m.Content[1].Input) != origCalls[1].Function.Arguments || m.StopReason != "tool_use" {
		t.Fatalf("replayed body %s", inv.Body)
	}
	if e.fake.Hits() != 1 {
		t.Errorf("upstream hit %d times, want only the original", e.fake.Hits())
	}
}

// A response filter holds a stream: left unchanged, the client gets the frames as they came;
// changed, the changed response rendered as a stream.
func TestResponseFilterHoldsStream(t *testing.T) {
	e := newEnv(t, func(o *aiproxyOptions, _ *bedrockOptions, _ *fakeOptions) {
		o.ResponseFilters = append(o.ResponseFilters, aiproxy.ResponseFilterFunc(func(ctx context.Context, x *aiproxy.Exchange, resp *aiproxy.Response) error {
			if x.Header().Get("X-Test-Rewrite") != "" {
				resp.Body = bytes.ReplaceAll(resp.Body, []byte("Hello!"), []byte("Howdy!"))
			}
			return nil
		}))
	})
	ctx := context.Background()
	for _, rewrite := range []bool{false, true} {
		opts := []func(*bedrockruntime.Options){header("x-fake-chunks", "4")}
		want := "Hello! You said: filter me"
		if rewrite {
			opts = append(opts, header("x-test-rewrite", "1"))
			want = "Howdy! You said: filter me"
		}
		out, err := e.client.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String(sonnet), Messages: []types.Message{userMessage("filter me")}}, opts...)
		if err != nil {
			t.Fatal(err)
		}
		var text strings.Builder
		deltas := 0
		for ev := range out.GetStream().Events() {
			if v, ok := ev.(*types.ConverseStreamOutputMemberContentBlockDelta); ok {
				text.WriteString(v.Value.Delta.(*types.ContentBlockDeltaMemberText).Value)
				deltas++
			}
		}
		if err := out.GetStream().Err(); err != nil {
			t.Fatal(err)
		}
		if text.String() != want || (!rewrite && deltas != 4) || (rewrite && deltas != 1) {
			t.Errorf("rewrite %v: %q in %d deltas", rewrite, text.String(), deltas)
		}
		_, row := e.rows()
		if row.Content != want || row.PromptTokens == 0 || row.TokensEstimated {
			t.Errorf("rewrite %v: row %q %d/%d estimated %v", rewrite, row.Content, row.PromptTokens, row.CompletionTokens, row.TokensEstimated)
		}
	}
}

// A request filter that changes the body: the upstream gets the new body signed, and the log
// keeps both.
func TestFilterChangesBody(t *testing.T) {
	e := newEnv(t, func(o *aiproxyOptions, _ *bedrockOptions, _ *fakeOptions) {
		o.RequestFilters = append(o.RequestFilters, aiproxy.RequestFilterFunc(func(ctx context.Context, x *aiproxy.Exchange) (*aiproxy.Reply, error) {
			body := bytes.Replace(x.Request.Body, []byte("secret plan"), []byte("[redacted]"), 1)
			return nil, x.SetBody(body)
		}))
	})
	out, err := e.client.Converse(context.Background(), &bedrockruntime.ConverseInput{ModelId: aws.String(sonnet), Messages: []types.Message{userMessage("my secret plan")}})
	if err != nil {
		t.Fatal(err)
	}
	if text := out.Output.(*types.ConverseOutputMemberMessage).Value.Content[0].(*types.ContentBlockMemberText).Value; text != "Hello! You said: my [redacted]" {
		t.Fatalf("text %q", text)
	}
	up := e.upstream()
	if !bytes.Contains(up.Body, []byte("[redacted]")) {
		t.Fatalf("upstream body %s", up.Body)
	}
	req, _ := e.rows()
	if !bytes.Contains(req.RawBody, []byte("secret plan")) || !bytes.Equal(req.UpstreamBody, up.Body) {
		t.Errorf("raw %s upstream %s", req.RawBody, req.UpstreamBody)
	}
}

// Without static credentials the proxy takes the AWS default chain, here the environment.
func TestDefaultCredentialChain(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("AWS_ACCESS_KEY_ID", upstreamKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", upstreamSecret)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_REGION", "us-east-1")
	e := newEnv(t, func(_ *aiproxyOptions, b *bedrockOptions, _ *fakeOptions) {
		b.Region, b.AccessKeyID, b.SecretAccessKey = "", "", ""
	})
	if _, err := e.client.Converse(context.Background(), &bedrockruntime.ConverseInput{ModelId: aws.String(sonnet), Messages: []types.Message{userMessage("x")}}); err != nil {
		t.Fatal(err)
	}
	e.upstream()
}
