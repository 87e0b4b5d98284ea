package fakeupstream

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
	"github.com/openai/openai-go/v3/shared"
)

const sdkKey = "sk-fake-sdk-key-0123456789"

// sdkClient returns an official client pointed at a fake that wants sdkKey.
func sdkClient(t *testing.T, opts ...option.RequestOption) (*OpenAI, openai.Client) {
	t.Helper()
	o, srv := start(t, OpenAIOptions{APIKey: sdkKey})
	opts = append([]option.RequestOption{
		option.WithBaseURL(srv.URL + "/v1/"),
		option.WithAPIKey(sdkKey),
		option.WithMaxRetries(0),
	}, opts...)
	return o, openai.NewClient(opts...)
}

func TestSDKChatCompletion(t *testing.T) {
	_, client := sdkClient(t)
	c, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:    openai.ChatModelGPT4oMini,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage("Hello SDK")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Choices[0].Message.Content; got != "Hello! You said: Hello SDK" {
		t.Errorf("content = %q", got)
	}
	if c.Usage.PromptTokens == 0 || c.Usage.TotalTokens != c.Usage.PromptTokens+c.Usage.CompletionTokens ||
		!c.Usage.PromptTokensDetails.JSON.CachedTokens.Valid() || !c.Usage.CompletionTokensDetails.JSON.ReasoningTokens.Valid() {
		t.Errorf("usage = %s", c.Usage.RawJSON())
	}
}

func TestSDKChatStream(t *testing.T) {
	for _, withUsage := range []bool{false, true} {
		_, client := sdkClient(t, option.WithHeader(HeaderChunks, "7"))
		params := openai.ChatCompletionNewParams{
			Model:    "o4-mini",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Stream it")},
		}
		if withUsage {
			params.StreamOptions.IncludeUsage = openai.Bool(true)
		}
		stream := client.Chat.Completions.NewStreaming(context.Background(), params)
		var acc openai.ChatCompletionAccumulator
		chunks, nullUsage := 0, 0
		for stream.Next() {
			chunk := stream.Current()
			if !acc.AddChunk(chunk) {
				t.Fatalf("accumulator refused chunk %s", chunk.RawJSON())
			}
			chunks++
			if chunk.JSON.Usage.Raw() == "null" {
				nullUsage++
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if got := acc.Choices[0].Message.Content; got != "Hello! You said: Stream it" {
			t.Errorf("accumulated content = %q", got)
		}
		if withUsage {
			// role, 7 contents, finish, usage
			if chunks != 10 || nullUsage != 9 || acc.Usage.TotalTokens == 0 || acc.Usage.CompletionTokensDetails.ReasoningTokens == 0 {
				t.Errorf("%d chunks, %d with usage null, usage %+v", chunks, nullUsage, acc.Usage)
			}
		} else if chunks != 9 || nullUsage != 0 || acc.Usage.TotalTokens != 0 {
			t.Errorf("%d chunks, %d with usage null, usage %+v", chunks, nullUsage, acc.Usage)
		}
	}
}

func TestSDKParallelToolCalls(t *testing.T) {
	_, client := sdkClient(t, option.WithHeader(HeaderToolCalls, "3"))
	tool := func(name string) openai.ChatCompletionToolUnionParam {
		return openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
			Name:       name,
			Parameters: shared.FunctionParameters{"type": "object", "properties": map[string]any{"location": map[string]string{"type": "string"}}},
		})
	}
	stream := client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model:         openai.ChatModelGPT4o,
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Weather and time?")},
		Tools:         []openai.ChatCompletionToolUnionParam{tool("get_weather"), tool("get_time")},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	})
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		if !acc.AddChunk(stream.Current()) {
			t.Fatalf("accumulator refused chunk %s", stream.Current().RawJSON())
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	choice := acc.Choices[0]
	if choice.FinishReason != "tool_calls" || len(choice.Message.ToolCalls) != 3 {
		t.Fatalf("finish %q, %d tool calls", choice.FinishReason, len(choice.Message.ToolCalls))
	}
	wantNames := []string{"get_weather", "get_time", "get_weather"}
	wantCities := []string{"Paris", "London", "Tokyo"}
	for i, tc := range choice.Message.ToolCalls {
		var args struct{ Location string }
		if err := json.Unmarshal([]byte(tc.Function.Arguments), &args); err != nil {
			t.Fatalf("call %d arguments %q: %v", i, tc.Function.Arguments, err)
		}
		if tc.Function.Name != wantNames[i] || args.Location != wantCities[i] || tc.ID == "" {
			t.Errorf("call %d = %s %s %s", i, tc.ID, tc.Function.Name, tc.Function.Arguments)
		}
	}

	// The same without streaming.
	c, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:    openai.ChatModelGPT4o,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Weather?")},
		Tools:    []openai.ChatCompletionToolUnionParam{tool("get_weather")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if tcs := c.Choices[0].Message.ToolCalls; len(tcs) != 3 || tcs[2].Function.Arguments != `{"location":"Tokyo"}` {
		t.Errorf("tool calls = %+v", tcs)
	}
}

func TestSDKResponses(t *testing.T) {
	_, client := sdkClient(t, option.WithHeader(HeaderChunks, "4"))
	params := responses.ResponseNewParams{
		Model: "o3",
		Input: responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{
			responses.ResponseInputItemParamOfMessage("Responses here", responses.EasyInputMessageRoleUser),
		}},
	}
	stream := client.Responses.NewStreaming(context.Background(), params)
	var text string
	var done responses.Response
	var seq []int64
	for stream.Next() {
		ev := stream.Current()
		seq = append(seq, ev.SequenceNumber)
		switch ev.Type {
		case "response.output_text.delta":
			text += ev.Delta
		case "response.completed":
			done = ev.Response
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if text != "Hello! You said: Responses here" || done.OutputText() != text || done.Status != "completed" {
		t.Errorf("text %q, final %q, status %q", text, done.OutputText(), done.Status)
	}
	if done.Usage.OutputTokensDetails.ReasoningTokens == 0 || done.Usage.TotalTokens != done.Usage.InputTokens+done.Usage.OutputTokens {
		t.Errorf("usage = %s", done.Usage.RawJSON())
	}
	for i, s := range seq {
		if s != int64(i) {
			t.Fatalf("sequence numbers %v", seq)
		}
	}

	params.Input = responses.ResponseNewParamsInputUnion{OfString: openai.String("Plain")}
	params.Model = "gpt-4.1"
	resp, err := client.Responses.New(context.Background(), params)
	if err != nil {
		t.Fatal(err)
	}
	if resp.OutputText() != "Hello! You said: Plain" || resp.Usage.InputTokens == 0 {
		t.Errorf("response %q, usage %s", resp.OutputText(), resp.Usage.RawJSON())
	}
}

func TestSDKEmbeddings(t *testing.T) {
	_, client := sdkClient(t)
	e, err := client.Embeddings.New(context.Background(), openai.EmbeddingNewParams{
		Model: openai.EmbeddingModelTextEmbedding3Small,
		Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"one", "two words"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Data) != 2 || len(e.Data[1].Embedding) != embeddingDims || e.Data[1].Index != 1 || e.Usage.PromptTokens != 3 {
		t.Errorf("embeddings = %s", e.RawJSON())
	}
	m, err := client.Models.Get(context.Background(), "gpt-4o-mini")
	if err != nil || m.ID != "gpt-4o-mini" {
		t.Errorf("model %+v, %v", m, err)
	}
}

func TestSDKErrors(t *testing.T) {
	params := openai.ChatCompletionNewParams{
		Model:    openai.ChatModelGPT4o,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi")},
	}
	ctx := context.Background()

	_, client := sdkClient(t, option.WithAPIKey("sk-not-the-right-one-123"))
	_, err := client.Chat.Completions.New(ctx, params)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 || apiErr.Code != "invalid_api_key" {
		t.Errorf("wrong key: %v", err)
	}

	_, client = sdkClient(t, option.WithHeader(HeaderStatus, "400"))
	if _, err = client.Chat.Completions.New(ctx, params); !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Type != "invalid_request_error" {
		t.Errorf("400: %v", err)
	}

	_, client = sdkClient(t, option.WithHeader(HeaderTextError, "502"))
	if _, err = client.Chat.Completions.New(ctx, params); !errors.As(err, &apiErr) || apiErr.StatusCode != 502 {
		t.Errorf("text 502: %v", err)
	}

	// The SDK retries a 429 after retry-after-ms, and the flaky key then
	// succeeds.
	o, client := sdkClient(t, option.WithMaxRetries(2),
		option.WithHeader(HeaderStatus, "429"), option.WithHeader(HeaderRetryAfter, "0.01"),
		option.WithHeader(HeaderFailFirst, "2"), option.WithHeader(HeaderKey, t.Name()))
	c, err := client.Chat.Completions.New(ctx, params)
	if err != nil || c.Choices[0].Message.Content == "" || o.Hits() != 3 {
		t.Errorf("after two 429s: %v, %d hits", err, o.Hits())
	}
	if reqs := o.Requests(); len(reqs) != 3 || reqs[2].Header.Get("X-Stainless-Retry-Count") != "2" {
		t.Errorf("retries not seen as such: %d requests", len(reqs))
	}

	// A stream cut short is an error, not a silent end.
	_, client = sdkClient(t, option.WithHeader(HeaderCutAfter, "3"))
	stream := client.Chat.Completions.NewStreaming(ctx, params)
	n := 0
	for stream.Next() {
		n++
	}
	if err := stream.Err(); n != 3 || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("cut stream: %d chunks, err %v", n, err)
	}

	// An error before a stream starts is an error of the call.
	_, client = sdkClient(t, option.WithHeader(HeaderStatus, "503"))
	stream = client.Chat.Completions.NewStreaming(ctx, params)
	for stream.Next() {
		t.Error("a chunk from a 503")
	}
	if err := stream.Err(); !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("503 stream: %v", err)
	}
}
