package fakeanthropic

import (
	"context"
	"errors"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
)

// The official SDK talks to the fake as to the real API.

func sdkClient(t *testing.T, opts ...option.RequestOption) (*Server, anthropic.Client) {
	t.Helper()
	s, srv := start(t, Options{APIKey: testKey})
	opts = append([]option.RequestOption{
		option.WithBaseURL(srv.URL + "/"),
		option.WithAPIKey(testKey),
		option.WithMaxRetries(0),
	}, opts...)
	return s, anthropic.NewClient(opts...)
}

func userMessage(text string) anthropic.MessageNewParams {
	return anthropic.MessageNewParams{
		Model:     "claude-sonnet-4-5",
		MaxTokens: 4096,
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(text))},
	}
}

func weatherTools() []anthropic.ToolUnionParam {
	return []anthropic.ToolUnionParam{
		{OfTool: &anthropic.ToolParam{Name: "get_weather", InputSchema: anthropic.ToolInputSchemaParam{Properties: map[string]any{"location": map[string]any{"type": "string"}}}}},
		{OfTool: &anthropic.ToolParam{Name: "get_time", InputSchema: anthropic.ToolInputSchemaParam{Properties: map[string]any{"location": map[string]any{"type": "string"}}}}},
	}
}

func TestSDKMessage(t *testing.T) {
	_, client := sdkClient(t, option.WithHeader(HeaderCacheReadTokens, "3"))
	m, err := client.Messages.New(context.Background(), userMessage("Hello SDK"))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Content) != 1 || m.Content[0].Text != "Hello! You said: Hello SDK" || m.StopReason != anthropic.StopReasonEndTurn {
		t.Errorf("message %s", m.RawJSON())
	}
	if m.Usage.InputTokens+m.Usage.CacheReadInputTokens != 9 || m.Usage.CacheReadInputTokens != 3 || m.Usage.OutputTokens != 5 {
		t.Errorf("usage %s", m.Usage.RawJSON())
	}
}

func TestSDKStreamToolsAndThinking(t *testing.T) {
	_, client := sdkClient(t, option.WithHeader(HeaderChunks, "4"), option.WithHeader(HeaderReply, "Let me check."))
	params := userMessage("Weather in Paris? use tools")
	params.Tools = weatherTools()
	params.Thinking = anthropic.ThinkingConfigParamOfEnabled(2048)
	stream := client.Messages.NewStreaming(context.Background(), params)
	var m anthropic.Message
	for stream.Next() {
		if err := m.Accumulate(stream.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if len(m.Content) != 4 {
		t.Fatalf("content %s", m.RawJSON())
	}
	th, text, w, tm := m.Content[0], m.Content[1], m.Content[2], m.Content[3]
	if th.Type != "thinking" || th.Thinking == "" || th.Signature == "" {
		t.Errorf("thinking block %+v", th)
	}
	if text.Type != "text" || text.Text != "Let me check." {
		t.Errorf("text block %+v", text)
	}
	if w.Type != "tool_use" || w.Name != "get_weather" || string(w.Input) != `{"location":"Paris"}` || tm.Name != "get_time" || string(tm.Input) != `{"location":"London"}` {
		t.Errorf("tool blocks %s / %s", w.RawJSON(), tm.RawJSON())
	}
	if m.StopReason != anthropic.StopReasonToolUse || m.Usage.OutputTokens == 0 || m.Usage.OutputTokensDetails.ThinkingTokens == 0 {
		t.Errorf("stop %q usage %s", m.StopReason, m.Usage.RawJSON())
	}
}

func TestSDKErrors(t *testing.T) {
	for _, tc := range []struct {
		status int
		typ    string
	}{{400, "invalid_request_error"}, {429, "rate_limit_error"}, {529, "overloaded_error"}} {
		_, client := sdkClient(t, option.WithHeader(HeaderStatus, itoa(tc.status)))
		_, err := client.Messages.New(context.Background(), userMessage("x"))
		var apiErr *anthropic.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != tc.status || string(apiErr.Type()) != tc.typ || apiErr.RequestID == "" {
			t.Errorf("%d: %v", tc.status, err)
		}
	}
	_, client := sdkClient(t, option.WithAPIKey("sk-ant-wrong"))
	_, err := client.Messages.New(context.Background(), userMessage("x"))
	var apiErr *anthropic.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 {
		t.Errorf("wrong key: %v", err)
	}
	// A stream that fails after the 200 ends in the SDK's error.
	_, client = sdkClient(t, option.WithHeader(HeaderStreamError, "3"))
	stream := client.Messages.NewStreaming(context.Background(), userMessage("x"))
	for stream.Next() {
	}
	if err := stream.Err(); err == nil || !errors.As(err, &apiErr) || string(apiErr.Type()) != "overloaded_error" {
		t.Errorf("stream error: %v", err)
	}
}

func TestSDKCountTokensAndModels(t *testing.T) {
	_, client := sdkClient(t)
	n, err := client.Messages.CountTokens(context.Background(), anthropic.MessageCountTokensParams{
		Model:    "claude-sonnet-4-5",
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("one two"))},
	})
	if err != nil || n.InputTokens != 9 {
		t.Fatalf("count %v %v", n, err)
	}
	page, err := client.Models.List(context.Background(), anthropic.ModelListParams{})
	if err != nil || len(page.Data) == 0 || page.Data[0].ID == "" {
		t.Fatalf("models %v %v", page, err)
	}
}
