package bedrock_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/document"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/internal/fakebedrock"
)

const messagesBody = `{"anthropic_version":"bedrock-2023-05-31","max_tokens":256,"system":"be brief",` +
	`"messages":[{"role":"user","content":"first"},{"role":"assistant","content":"ok"},{"role":"user","content":[{"type":"text","text":"hello bedrock"}]}],` +
	`"metadata":{"user_id":"alice"}}`

func TestInvokeModelMessages(t *testing.T) {
	e := newEnv(t)
	out, err := e.client.InvokeModel(context.Background(), &bedrockruntime.InvokeModelInput{
		ModelId: aws.String(sonnet), Body: []byte(messagesBody), ContentType: aws.String("application/json"), Accept: aws.String("application/json")})
	if err != nil {
		t.Fatal(err)
	}
	var msg struct {
		Model   string
		Content []struct{ Type, Text string }
		Usage   struct {
			InputTokens  int `json:"input_tokens"`
			OutputTokens int `json:"output_tokens"`
		}
	}
	if err := json.Unmarshal(out.Body, &msg); err != nil {
		t.Fatal(err)
	}
	if len(msg.Content) != 1 || msg.Content[0].Text != "Hello! You said: hello bedrock" {
		t.Fatalf("body %s", out.Body)
	}
	up := e.upstream()
	if up.Path != "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke" || up.ModelID != sonnet {
		t.Errorf("upstream path %q model %q", up.Path, up.ModelID)
	}
	if string(up.Body) != messagesBody {
		t.Errorf("upstream body changed: %s", up.Body)
	}
	if up.Header.Get("X-Amz-Security-Token") != "" {
		t.Errorf("a security token went upstream")
	}

	req, resp := e.rows()
	if req.Provider != "bedrock" || req.Model != sonnet || req.Content != "hello bedrock" || req.User != "alice" || req.Stream ||
		req.Endpoint != "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke" {
		t.Errorf("request row %+v", req)
	}
	if a := req.RawHeaders.Get("Authorization"); strings.Contains(a, clientKeyID) || !strings.Contains(a, "***") {
		t.Errorf("client Authorization not masked: %q", a)
	}
	if resp.Direction != accesslog.DirectionResponse || resp.StatusCode != 200 || resp.Content != msg.Content[0].Text || resp.Model != msg.Model {
		t.Errorf("response row %+v", resp)
	}
	if resp.PromptTokens != msg.Usage.InputTokens || resp.CompletionTokens != msg.Usage.OutputTokens || resp.TokensEstimated || resp.PromptTokens == 0 {
		t.Errorf("tokens %d/%d estimated %v, body says %d/%d", resp.PromptTokens, resp.CompletionTokens, resp.TokensEstimated, msg.Usage.InputTokens, msg.Usage.OutputTokens)
	}
	if resp.UpstreamRequestID == "" {
		t.Errorf("no upstream request id")
	}
	if !bytes.Equal(resp.RawBody, out.Body) {
		t.Errorf("raw_body %s, client got %s", resp.RawBody, out.Body)
	}
}

// The original AIProxy's README called Claude v2 through boto3 with this body.
func TestInvokeModelClaudeV2Prompt(t *testing.T) {
	e := newEnv(t)
	body := `{"prompt": "Human: What is the difference between eel and conger eel?\nAssistant: ", "max_tokens_to_sample": 100}`
	out, err := e.client.InvokeModel(context.Background(), &bedrockruntime.InvokeModelInput{ModelId: aws.String("anthropic.claude-v2"), Body: []byte(body)})
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ Completion, StopReason string }
	if err := json.Unmarshal(out.Body, &got); err != nil {
		t.Fatal(err)
	}
	want := " Hello! You said: What is the difference between eel and conger eel?"
	if got.Completion != want {
		t.Fatalf("completion %q", got.Completion)
	}
	e.upstream()
	req, resp := e.rows()
	if req.Content != "What is the difference between eel and conger eel?" || req.Model != "anthropic.claude-v2" {
		t.Errorf("request row content %q model %q", req.Content, req.Model)
	}
	// The completions format reports no usage in its body: the log estimates it, and says so.
	if resp.Content != want || !resp.TokensEstimated || resp.PromptTokens == 0 || resp.CompletionTokens == 0 {
		t.Errorf("response row content %q tokens %d/%d estimated %v", resp.Content, resp.PromptTokens, resp.CompletionTokens, resp.TokensEstimated)
	}
}

func TestInvokeModelWithResponseStream(t *testing.T) {
	e := newEnv(t)
	out, err := e.client.InvokeModelWithResponseStream(context.Background(), &bedrockruntime.InvokeModelWithResponseStreamInput{
		ModelId: aws.String(sonnet), Body: []byte(messagesBody), ContentType: aws.String("application/json")}, header("x-fake-chunks", "6"))
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	chunks := 0
	var metrics map[string]int
	for ev := range out.GetStream().Events() {
		c, ok := ev.(*types.ResponseStreamMemberChunk)
		if !ok {
			t.Fatalf("event %T", ev)
		}
		chunks++
		var inner struct {
			Type  string
			Delta struct{ Text string }
			M     map[string]int `json:"amazon-bedrock-invocationMetrics"`
		}
		if err := json.Unmarshal(c.Value.Bytes, &inner); err != nil {
			t.Fatal(err)
		}
		text.WriteString(inner.Delta.Text)
		if inner.M != nil {
			metrics = inner.M
		}
	}
	if err := out.GetStream().Err(); err != nil {
		t.Fatal(err)
	}
	if text.String() != "Hello! You said: hello bedrock" || metrics == nil {
		t.Fatalf("text %q metrics %v", text.String(), metrics)
	}
	e.upstream()
	req, resp := e.rows()
	if !req.Stream || req.Endpoint != "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke-with-response-stream" {
		t.Errorf("request row stream %v endpoint %q", req.Stream, req.Endpoint)
	}
	if resp.Content != text.String() || resp.PromptTokens != metrics["inputTokenCount"] || resp.CompletionTokens != metrics["outputTokenCount"] || resp.TokensEstimated {
		t.Errorf("response row content %q tokens %d/%d, metrics %v", resp.Content, resp.PromptTokens, resp.CompletionTokens, metrics)
	}
	if resp.Model != "claude-3-5-sonnet-20240620" || len(resp.ChunkTimes) != chunks || resp.TimeToFirstToken <= 0 {
		t.Errorf("model %q chunk_times %d (client saw %d chunks) ttft %v", resp.Model, len(resp.ChunkTimes), chunks, resp.TimeToFirstToken)
	}
	lines := logLines(t, resp.RawBody)
	if len(lines) != chunks {
		t.Fatalf("%d raw_body lines for %d chunks", len(lines), chunks)
	}
	first := lines[0]
	hdr, _ := first["headers"].(map[string]any)
	payload, _ := first["payload"].(map[string]any)
	inner, _ := payload["bytes"].(map[string]any)
	if hdr[":event-type"] != "chunk" || hdr[":message-type"] != "event" || inner["type"] != "message_start" {
		t.Errorf("first line %v", first)
	}
}

func TestConverse(t *testing.T) {
	e := newEnv(t)
	out, err := e.client.Converse(context.Background(), &bedrockruntime.ConverseInput{
		ModelId:         aws.String(sonnet),
		System:          []types.SystemContentBlock{&types.SystemContentBlockMemberText{Value: "be brief"}},
		Messages:        []types.Message{userMessage("hello converse")},
		InferenceConfig: &types.InferenceConfiguration{MaxTokens: aws.Int32(100)},
	}, header("x-fake-cached-tokens", "3"))
	if err != nil {
		t.Fatal(err)
	}
	text := out.Output.(*types.ConverseOutputMemberMessage).Value.Content[0].(*types.ContentBlockMemberText).Value
	e.upstream()
	req, resp := e.rows()
	if req.Content != "hello converse" || req.Model != sonnet || req.Endpoint != "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse" {
		t.Errorf("request row %+v", req)
	}
	u := out.Usage
	if resp.Content != text || resp.PromptTokens != int(*u.InputTokens+*u.CacheReadInputTokens) || resp.CachedTokens != 3 ||
		resp.CompletionTokens != int(*u.OutputTokens) || resp.TokensEstimated {
		t.Errorf("response row %q %d/%d cached %d; client %q %d+%d/%d", resp.Content, resp.PromptTokens, resp.CompletionTokens, resp.CachedTokens,
			text, *u.InputTokens, *u.CacheReadInputTokens, *u.OutputTokens)
	}
}

func weatherTools() *types.ToolConfiguration {
	tool := func(name string) types.Tool {
		return &types.ToolMemberToolSpec{Value: types.ToolSpecification{Name: aws.String(name),
			InputSchema: &types.ToolInputSchemaMemberJson{Value: document.NewLazyDocument(map[string]any{"type": "object"})}}}
	}
	return &types.ToolConfiguration{Tools: []types.Tool{tool("get_weather"), tool("get_time")}}
}

func TestConverseStream(t *testing.T) {
	e := newEnv(t)
	out, err := e.client.ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{
		ModelId: aws.String(sonnet), Messages: []types.Message{userMessage("stream please")}}, header("x-fake-chunks", "7"))
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	var usage *types.TokenUsage
	events := 0
	for ev := range out.GetStream().Events() {
		events++
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
	e.upstream()
	_, resp := e.rows()
	if resp.Content != "Hello! You said: stream please" || resp.Content != text.String() || usage == nil ||
		resp.PromptTokens != int(*usage.InputTokens) || resp.CompletionTokens != int(*usage.OutputTokens) || resp.TokensEstimated {
		t.Errorf("row %q %d/%d, client %q %+v", resp.Content, resp.PromptTokens, resp.CompletionTokens, text.String(), usage)
	}
	lines := logLines(t, resp.RawBody)
	if len(lines) != events || len(resp.ChunkTimes) != events {
		t.Fatalf("%d lines, %d chunk times, %d events", len(lines), len(resp.ChunkTimes), events)
	}
	last := lines[len(lines)-1]
	if last["headers"].(map[string]any)[":event-type"] != "metadata" {
		t.Errorf("last line %v", last)
	}
	delta := lines[1]["payload"].(map[string]any)["delta"].(map[string]any)
	if _, ok := delta["text"].(string); !ok {
		t.Errorf("second line %v", lines[1])
	}
}

func TestConverseStreamToolUse(t *testing.T) {
	e := newEnv(t)
	out, err := e.client.ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{
		ModelId: aws.String(profile), Messages: []types.Message{userMessage("weather and time")}, ToolConfig: weatherTools()},
		header("x-fake-tool-calls", "2"))
	if err != nil {
		t.Fatal(err)
	}
	type call struct{ id, name, input string }
	var calls []*call
	byIndex := map[int32]*call{}
	for ev := range out.GetStream().Events() {
		switch v := ev.(type) {
		case *types.ConverseStreamOutputMemberContentBlockStart:
			tu := v.Value.Start.(*types.ContentBlockStartMemberToolUse).Value
			c := &call{id: *tu.ToolUseId, name: *tu.Name}
			calls = append(calls, c)
			byIndex[*v.Value.ContentBlockIndex] = c
		case *types.ConverseStreamOutputMemberContentBlockDelta:
			if d, ok := v.Value.Delta.(*types.ContentBlockDeltaMemberToolUse); ok {
				byIndex[*v.Value.ContentBlockIndex].input += *d.Value.Input
			}
		}
	}
	if err := out.GetStream().Err(); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 2 {
		t.Fatalf("client got %d tool calls", len(calls))
	}
	_, resp := e.rows()
	logged := loggedCalls(t, resp.ToolCalls)
	if len(logged) != 2 {
		t.Fatalf("logged %s", resp.ToolCalls)
	}
	for i, c := range calls {
		l := logged[i]
		if l.ID != c.id || l.Type != "function" || l.Function.Name != c.name || l.Function.Arguments != c.input {
			t.Errorf("call %d logged %+v, client %+v", i, l, *c)
		}
	}
	if resp.Model != profile || resp.Content != "" {
		t.Errorf("row model %q content %q", resp.Model, resp.Content)
	}
}

func TestConverseToolUse(t *testing.T) {
	e := newEnv(t)
	out, err := e.client.Converse(context.Background(), &bedrockruntime.ConverseInput{
		ModelId: aws.String(sonnet), Messages: []types.Message{userMessage("please use tools")}, ToolConfig: weatherTools()})
	if err != nil {
		t.Fatal(err)
	}
	content := out.Output.(*types.ConverseOutputMemberMessage).Value.Content
	_, resp := e.rows()
	logged := loggedCalls(t, resp.ToolCalls)
	if len(content) != 2 || len(logged) != 2 {
		t.Fatalf("client %d blocks, logged %s", len(content), resp.ToolCalls)
	}
	for i, b := range content {
		tu := b.(*types.ContentBlockMemberToolUse).Value
		var input map[string]any
		if err := tu.Input.UnmarshalSmithyDocument(&input); err != nil {
			t.Fatal(err)
		}
		args, _ := json.Marshal(input)
		if logged[i].ID != *tu.ToolUseId || logged[i].Function.Name != *tu.Name || logged[i].Function.Arguments != string(args) {
			t.Errorf("call %d logged %+v, client %s %s %s", i, logged[i], *tu.ToolUseId, *tu.Name, args)
		}
	}
}

// Model ids with ':' and escaped inference-profile ARNs reach the upstream escaped as the SDK
// sent them, at the root and under /bedrock/, and are signed as AWS checks them.
func TestModelIDs(t *testing.T) {
	e := newEnv(t)
	for _, prefix := range []string{"", "/bedrock"} {
		client := e.newClient(e.h.URL() + prefix)
		for _, id := range []string{sonnet, profile, arn} {
			t.Run(prefix+" "+id, func(t *testing.T) {
				e.fake.Reset()
				_, err := client.Converse(context.Background(), &bedrockruntime.ConverseInput{ModelId: aws.String(id), Messages: []types.Message{userMessage("hi")}})
				if err != nil {
					t.Fatal(err)
				}
				up := e.upstream()
				escaped := strings.NewReplacer(":", "%3A", "/", "%2F").Replace(id)
				if up.ModelID != id || up.Path != "/model/"+escaped+"/converse" {
					t.Errorf("upstream path %q model %q", up.Path, up.ModelID)
				}
				req, resp := e.rows()
				if req.Model != id || req.Endpoint != "/model/"+escaped+"/converse" || resp.StatusCode != 200 {
					t.Errorf("rows model %q endpoint %q status %d", req.Model, req.Endpoint, resp.StatusCode)
				}
			})
		}
	}
}

func TestErrors(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()

	t.Run("invalid json is the proxy's ValidationException", func(t *testing.T) {
		e.fake.Reset()
		_, err := e.client.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(sonnet), Body: []byte(`{"messages":`), ContentType: aws.String("application/json")})
		var ve *types.ValidationException
		if !errors.As(err, &ve) || !strings.Contains(ve.ErrorMessage(), "not valid json") {
			t.Fatalf("got %v", err)
		}
		if e.fake.Hits() != 0 {
			t.Errorf("a malformed body went upstream")
		}
		_, row := e.rows()
		if row.Direction != accesslog.DirectionError || row.StatusCode != 400 || !strings.Contains(row.Content, "not valid json") {
			t.Errorf("error row %+v", row)
		}
	})

	upstream := []struct {
		status int
		check  func(error) bool
	}{
		{429, func(err error) bool { var x *types.ThrottlingException; return errors.As(err, &x) }},
		{403, func(err error) bool { var x *types.AccessDeniedException; return errors.As(err, &x) }},
		{404, func(err error) bool { var x *types.ResourceNotFoundException; return errors.As(err, &x) }},
		{500, func(err error) bool { var x *types.InternalServerException; return errors.As(err, &x) }},
		{503, func(err error) bool { var x *types.ServiceUnavailableException; return errors.As(err, &x) }},
	}
	for _, tc := range upstream {
		t.Run(fmt.Sprintf("upstream %d relayed", tc.status), func(t *testing.T) {
			e.fake.Reset()
			_, err := e.client.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(sonnet), Messages: []types.Message{userMessage("x")}},
				header("x-fake-status", fmt.Sprint(tc.status)))
			if !tc.check(err) {
				t.Fatalf("got %v", err)
			}
			var api smithy.APIError
			errors.As(err, &api)
			_, row := e.rows()
			if row.Direction != accesslog.DirectionError || row.StatusCode != tc.status || row.Content != api.ErrorMessage() {
				t.Errorf("error row status %d content %q, client message %q", row.StatusCode, row.Content, api.ErrorMessage())
			}
		})
	}

	t.Run("stream request answered with an error", func(t *testing.T) {
		_, err := e.client.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String(sonnet), Messages: []types.Message{userMessage("x")}},
			header("x-fake-status", "429"))
		var x *types.ThrottlingException
		if !errors.As(err, &x) {
			t.Fatalf("got %v", err)
		}
	})
}

// An exception frame mid-stream reaches the client as AWS sent it, so its SDK returns the
// typed exception after the events before it.
func TestStreamExceptionMidStream(t *testing.T) {
	e := newEnv(t)
	out, err := e.client.ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{
		ModelId: aws.String(sonnet), Messages: []types.Message{userMessage("x")}},
		header("x-fake-stream-exception", "throttlingException"), header("x-fake-exception-after", "3"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for range out.GetStream().Events() {
		n++
	}
	var te *types.ThrottlingException
	if err := out.GetStream().Err(); !errors.As(err, &te) || n != 3 {
		t.Fatalf("client got %d events then %v; want 3 and a ThrottlingException", n, err)
	}
	_, row := e.rows()
	lines := logLines(t, row.RawBody)
	last := lines[len(lines)-1]
	if len(lines) != 4 || last["headers"].(map[string]any)[":message-type"] != "exception" ||
		last["payload"].(map[string]any)["message"] != te.ErrorMessage() {
		t.Errorf("raw_body lines %v", lines)
	}

	out2, err := e.client.InvokeModelWithResponseStream(context.Background(), &bedrockruntime.InvokeModelWithResponseStreamInput{
		ModelId: aws.String(sonnet), Body: []byte(messagesBody)}, header("x-fake-stream-exception", "modelStreamErrorException"))
	if err != nil {
		t.Fatal(err)
	}
	for range out2.GetStream().Events() {
	}
	var mse *types.ModelStreamErrorException
	if err := out2.GetStream().Err(); !errors.As(err, &mse) || mse.OriginalStatusCode == nil {
		t.Fatalf("got %v, want a ModelStreamErrorException", err)
	}
}

// The exchange of a stream that ended with an exception frame is logged as an error row,
// with the status the exception has outside a stream.
//
// The client's SDK stops at the exception frame and hangs up. When the upstream's end of
// the body comes later than that ("the client hangs up first", forced with
// x-fake-end-delay), the proxy must still log the exception, not 499: the core change for
// that is described in the message below.
func TestStreamExceptionIsErrorRow(t *testing.T) {
	held := func(o *aiproxyOptions, _ *bedrockOptions, _ *fakeOptions) {
		o.ResponseFilters = append(o.ResponseFilters, aiproxy.ResponseFilterFunc(func(context.Context, *aiproxy.Exchange, *aiproxy.Response) error { return nil }))
	}
	for _, tc := range []struct {
		name     string
		opts     []envOption
		endDelay string
	}{
		{name: "relayed"},
		{name: "relayed, the client hangs up first", endDelay: "300ms"},
		{name: "held by a response filter", opts: []envOption{held}},
		{name: "held, the client hangs up first", opts: []envOption{held}, endDelay: "300ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.opts...)
			opts := []func(*bedrockruntime.Options){header("x-fake-stream-exception", "throttlingException")}
			if tc.endDelay != "" {
				opts = append(opts, header(fakebedrock.HeaderEndDelay, tc.endDelay))
			}
			out, err := e.client.ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{
				ModelId: aws.String(sonnet), Messages: []types.Message{userMessage("x")}}, opts...)
			if err != nil {
				t.Fatal(err)
			}
			for range out.GetStream().Events() {
			}
			var te *types.ThrottlingException
			if err := out.GetStream().Err(); !errors.As(err, &te) {
				t.Errorf("client got %v, want the ThrottlingException", err)
			}
			_, row := e.rows()
			if row.Direction != accesslog.DirectionError || row.StatusCode != 429 || !strings.Contains(row.Content, "throttlingException: Too many tokens") {
				t.Fatalf("stream ended by a throttlingException frame logged as %s %d %q; want an error row with status 429. "+
					"Core change pending when the client hung up first: relay.go's finishStream decides 499 because the client left "+
					"(the upstream read failed with the canceled context) before checking provider.StreamFailure; it must check "+
					"Failure() first, since the client got the stream's terminal exception frame and hanging up after it is normal",
					row.Direction, row.StatusCode, row.Content)
			}
		})
	}
}

// A stream the upstream cut after three frames is logged as an error row with those frames,
// and the client's SDK gets the three events. (The Go SDK takes the unexpected EOF of the cut
// for the end of the stream; TestStreamCutRaw shows that the proxy does cut the client's
// stream.)
func TestStreamCut(t *testing.T) {
	e := newEnv(t)
	out, err := e.client.ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{
		ModelId: aws.String(sonnet), Messages: []types.Message{userMessage("x")}}, header("x-fake-cut-after", "3"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for ev := range out.GetStream().Events() {
		switch v := ev.(type) {
		case *types.ConverseStreamOutputMemberMessageStart:
			got = append(got, "messageStart")
		case *types.ConverseStreamOutputMemberContentBlockDelta:
			got = append(got, "delta "+v.Value.Delta.(*types.ContentBlockDeltaMemberText).Value)
		default:
			got = append(got, fmt.Sprintf("%T", ev))
		}
	}
	if err := out.GetStream().Err(); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("the stream ended with %v", err)
	}
	// "Hello! You said: x" in five deltas: the first two came before the cut.
	if want := []string{"messageStart", "delta Hel", "delta lo! "}; !slices.Equal(got, want) {
		t.Errorf("client got %q; want the three events before the cut, %q", got, want)
	}
	_, row := e.rows()
	if row.Direction != accesslog.DirectionError || !strings.Contains(row.Content, "ended early") || len(logLines(t, row.RawBody)) != 3 {
		t.Errorf("row %s %d %q", row.Direction, row.StatusCode, row.Content)
	}
}

// The proxy relays the frames that came before an upstream cut and then cuts the client's
// stream too, so that a client cannot take the partial stream for a whole one. A raw client
// reads until the connection ends.
func TestStreamCutRaw(t *testing.T) {
	e := newEnv(t)
	req, err := http.NewRequest(http.MethodPost, e.h.URL()+"/model/"+url.PathEscape(sonnet)+"/converse-stream",
		strings.NewReader(`{"messages":[{"role":"user","content":[{"text":"x"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(fakebedrock.HeaderCutAfter, "3")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("status %d, body ended with %v; want 200 and an unexpected EOF", resp.StatusCode, err)
	}
	var events []string
	r := bytes.NewReader(body)
	for r.Len() > 0 {
		m, err := eventstream.NewDecoder().Decode(r, nil)
		if err != nil {
			t.Fatalf("frame %d of %d bytes: %v", len(events)+1, len(body), err)
		}
		events = append(events, m.Headers.Get(":event-type").String())
	}
	if strings.Join(events, " ") != "messageStart contentBlockDelta contentBlockDelta" {
		t.Fatalf("client got the frames %v; want the three before the cut", events)
	}
	row := e.h.Row(e.h.Rows(e.h.RequestID(resp)), accesslog.DirectionError)
	if !strings.Contains(row.Content, "upstream stream ended early") || len(logLines(t, row.RawBody)) != 3 {
		t.Errorf("error row %d %q with %d raw_body lines", row.StatusCode, row.Content, len(logLines(t, row.RawBody)))
	}
}

func TestSessionTokenAndClientToken(t *testing.T) {
	e := newEnv(t, func(_ *aiproxyOptions, b *bedrockOptions, f *fakeOptions) {
		b.SessionToken, f.SessionToken = "proxy-session-token", "proxy-session-token"
	})
	client := bedrockruntime.New(bedrockruntime.Options{Region: "eu-west-1", BaseEndpoint: aws.String(e.h.URL()),
		Credentials: staticCreds(clientKeyID, clientSecret, "client-session-token"), Retryer: aws.NopRetryer{},
		HTTPClient: sdkHTTPClient(nil)})
	if _, err := client.Converse(context.Background(), &bedrockruntime.ConverseInput{ModelId: aws.String(sonnet), Messages: []types.Message{userMessage("x")}}); err != nil {
		t.Fatal(err)
	}
	if got := e.upstream().Header.Get("X-Amz-Security-Token"); got != "proxy-session-token" {
		t.Fatalf("upstream security token %q", got)
	}
}

func TestSecretsStayOutOfTheLog(t *testing.T) {
	e := newEnv(t)
	if _, err := e.client.Converse(context.Background(), &bedrockruntime.ConverseInput{ModelId: aws.String(sonnet), Messages: []types.Message{userMessage("x")}}); err != nil {
		t.Fatal(err)
	}
	sig := e.upstream().Header.Get("Authorization")
	e.rows()
	db := e.dbBytes()
	for _, s := range []string{upstreamSecret, clientSecret, sig[strings.LastIndex(sig, "=")+1:]} {
		if bytes.Contains(db, []byte(s)) {
			t.Errorf("the database holds %q", s)
		}
	}
	if !bytes.Contains(db, []byte("Hello! You said: x")) {
		t.Fatal("the database does not hold the exchange; the check above proves nothing")
	}
}

// A chunk's base64 must decode; checks the helper the tests above rely on.
func TestLogLinesDecodeChunkBytes(t *testing.T) {
	e := newEnv(t)
	out, err := e.client.InvokeModelWithResponseStream(context.Background(), &bedrockruntime.InvokeModelWithResponseStreamInput{
		ModelId: aws.String("anthropic.claude-v2"), Body: []byte(`{"prompt":"\n\nHuman: hi <b>&</b>\n\nAssistant:","max_tokens_to_sample":10}`)})
	if err != nil {
		t.Fatal(err)
	}
	var sdk strings.Builder
	for ev := range out.GetStream().Events() {
		var c struct{ Completion string }
		_ = json.Unmarshal(ev.(*types.ResponseStreamMemberChunk).Value.Bytes, &c)
		sdk.WriteString(c.Completion)
	}
	if err := out.GetStream().Err(); err != nil {
		t.Fatal(err)
	}
	_, row := e.rows()
	if row.Content != sdk.String() || !strings.Contains(row.Content, "<b>&</b>") {
		t.Fatalf("row content %q, client %q", row.Content, sdk.String())
	}
	var logged strings.Builder
	for _, l := range logLines(t, row.RawBody) {
		b := l["payload"].(map[string]any)["bytes"].(map[string]any)
		logged.WriteString(b["completion"].(string))
	}
	if logged.String() != sdk.String() {
		t.Errorf("logged %q", logged.String())
	}
	if bytes.Contains(row.RawBody, []byte(base64.StdEncoding.EncodeToString([]byte(`{"completion"`))[:12])) {
		t.Errorf("raw_body still holds base64 chunks")
	}
}
