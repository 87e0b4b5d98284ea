package aiproxy_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/provider"
)

// bannedUsers is the original README's BannedUserFilter.
func bannedUsers(o *aiproxy.Options) {
	o.RequestFilters = append(o.RequestFilters, aiproxy.RequestFilterFunc(func(ctx context.Context, x *aiproxy.Exchange) (*aiproxy.Reply, error) {
		switch x.User() {
		case "":
			return &aiproxy.Reply{Text: "user is required"}, nil
		case "uezo":
			return &aiproxy.Reply{Text: "you can't use this service"}, nil
		case "mallory":
			return nil, aiproxy.Errorf(http.StatusForbidden, "mallory is banned")
		case "panic":
			panic("broken filter")
		}
		return nil, nil
	}))
}

func TestRequestFilterReply(t *testing.T) {
	h := newHarness(t, bannedUsers)
	params := userParams("gpt-4o-mini", "hi")
	params.User = openai.String("uezo")
	var httpResp *http.Response
	got, err := h.client.Chat.Completions.New(context.Background(), params, option.WithResponseInto(&httpResp))
	if err != nil {
		t.Fatal(err)
	}
	if got.Choices[0].Message.Content != "you can't use this service" || got.Object != "chat.completion" || got.Model != "gpt-4o-mini" {
		t.Fatalf("reply = %+v", got)
	}
	if h.fake.Hits() != 0 {
		t.Fatal("upstream called though a filter replied")
	}
	recs := h.Rows(requestID(t, httpResp))
	if len(recs) != 2 || h.Row(recs, "response").Content != "you can't use this service" {
		t.Fatalf("rows %+v", recs)
	}

	// The same reply as a stream the SDK reads.
	stream := h.client.Chat.Completions.NewStreaming(context.Background(), params)
	acc := openai.ChatCompletionAccumulator{}
	n := 0
	for stream.Next() {
		acc.AddChunk(stream.Current())
		n++
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if acc.Choices[0].Message.Content != "you can't use this service" || n < 2 || acc.Choices[0].FinishReason != "stop" {
		t.Fatalf("stream reply %q over %d chunks, finish %q", acc.Choices[0].Message.Content, n, acc.Choices[0].FinishReason)
	}
}

func TestRequestFilterError(t *testing.T) {
	h := newHarness(t, bannedUsers)
	params := userParams("gpt-4o-mini", "hi")
	params.User = openai.String("mallory")
	var httpResp *http.Response
	_, err := h.client.Chat.Completions.New(context.Background(), params, option.WithResponseInto(&httpResp))
	apiErr := apiError(t, err)
	if apiErr.StatusCode != 403 || apiErr.Message != "mallory is banned" {
		t.Fatalf("error %d %q", apiErr.StatusCode, apiErr.Message)
	}
	recs := h.Rows(requestID(t, httpResp))
	if e := h.Row(recs, "error"); e.StatusCode != 403 || e.Content != "mallory is banned" {
		t.Fatalf("error row %+v", e)
	}

	// A panicking filter fails its request, not the proxy.
	params.User = openai.String("panic")
	_, err = h.client.Chat.Completions.New(context.Background(), params)
	if apiError(t, err).StatusCode != 500 {
		t.Fatalf("panic: %v", err)
	}
	params.User = openai.String("bob")
	if _, err := h.client.Chat.Completions.New(context.Background(), params); err != nil {
		t.Fatalf("proxy broken after a filter panic: %v", err)
	}
}

// modelOverwrite is the original README's ModelOverwriteFilter.
func modelOverwrite(o *aiproxy.Options) {
	o.RequestFilters = append(o.RequestFilters, aiproxy.RequestFilterFunc(func(ctx context.Context, x *aiproxy.Exchange) (*aiproxy.Reply, error) {
		if strings.HasPrefix(x.Model(), "gpt-3.5") {
			return nil, nil
		}
		body, err := x.JSON()
		if err != nil {
			return nil, err
		}
		body["model"] = "gpt-3.5-turbo"
		return nil, x.SetJSON(body)
	}))
}

func TestRequestFilterRewrite(t *testing.T) {
	h := newHarness(t, modelOverwrite)
	var httpResp *http.Response
	got, err := h.client.Chat.Completions.New(context.Background(), userParams("gpt-4o", "hi"), option.WithResponseInto(&httpResp))
	if err != nil {
		t.Fatal(err)
	}
	if got.Model != "gpt-3.5-turbo" {
		t.Fatalf("answered by %q", got.Model)
	}
	var up struct{ Model string }
	if err := json.Unmarshal(h.fake.Requests()[0].Body, &up); err != nil || up.Model != "gpt-3.5-turbo" {
		t.Fatalf("upstream model %q (%v)", up.Model, err)
	}
	req := h.Row(h.Rows(requestID(t, httpResp)), "request")
	if req.Model != "gpt-4o" || !strings.Contains(string(req.UpstreamBody), "gpt-3.5-turbo") || strings.Contains(string(req.RawBody), "gpt-3.5") {
		t.Errorf("request row model %q raw %s upstream %s", req.Model, req.RawBody, req.UpstreamBody)
	}
}

// shout upper-cases the assistant's answer: a response filter that changes the body.
func shout(o *aiproxy.Options) {
	o.ResponseFilters = append(o.ResponseFilters, aiproxy.ResponseFilterFunc(func(ctx context.Context, x *aiproxy.Exchange, resp *aiproxy.Response) error {
		var c map[string]any
		if err := json.Unmarshal(resp.Body, &c); err != nil {
			return err
		}
		msg := c["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)
		s, _ := msg["content"].(string)
		if !strings.Contains(s, "shout") {
			return nil
		}
		msg["content"] = strings.ToUpper(s)
		b, err := json.Marshal(c)
		resp.Body = b
		return err
	}))
}

func TestResponseFilter(t *testing.T) {
	h := newHarness(t, shout)
	got, err := h.client.Chat.Completions.New(context.Background(), userParams("gpt-4o-mini", "shout"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Choices[0].Message.Content != "HELLO! YOU SAID: SHOUT" {
		t.Fatalf("non-stream content %q", got.Choices[0].Message.Content)
	}

	// A stream does not bypass the filter: it is held, filtered and sent as a stream.
	var httpResp *http.Response
	stream := h.client.Chat.Completions.NewStreaming(context.Background(), userParams("gpt-4o-mini", "shout"), option.WithResponseInto(&httpResp))
	acc := openai.ChatCompletionAccumulator{}
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if acc.Choices[0].Message.Content != "HELLO! YOU SAID: SHOUT" {
		t.Fatalf("stream content %q", acc.Choices[0].Message.Content)
	}
	row := h.Row(h.Rows(requestID(t, httpResp)), "response")
	if row.Content != "HELLO! YOU SAID: SHOUT" || row.PromptTokens == 0 || row.TokensEstimated {
		t.Errorf("held stream row %q tokens %d estimated %v", row.Content, row.PromptTokens, row.TokensEstimated)
	}

	// Left unchanged, a held stream reaches the client exactly as relayed.
	resp, body := h.post("/v1/chat/completions", `{"model":"m","stream":true,"messages":[{"role":"user","content":"quiet"}]}`, "x-fake-chunks", "4")
	if resp.StatusCode != 200 || strings.Contains(body, "usage") || strings.Count(body, "data: ") != 7 {
		t.Errorf("unchanged held stream:\n%s", body)
	}
}

func TestReplay(t *testing.T) {
	h := newHarness(t)
	params := userParams("gpt-4o", "weather in Paris and Tokyo")
	params.Tools = weatherTools()
	var first *http.Response
	orig, err := h.client.Chat.Completions.New(context.Background(), params, option.WithResponseInto(&first), option.WithHeader("x-fake-tool-calls", "2"))
	if err != nil {
		t.Fatal(err)
	}
	id := requestID(t, first)

	var second *http.Response
	got, err := h.client.Chat.Completions.New(context.Background(), params, option.WithHeader("x-aiproxy-replay", id), option.WithResponseInto(&second))
	if err != nil {
		t.Fatal(err)
	}
	if h.fake.Hits() != 1 {
		t.Fatalf("replay called the upstream (%d hits)", h.fake.Hits())
	}
	if len(got.Choices[0].Message.ToolCalls) != 2 || got.Choices[0].Message.ToolCalls[1].ID != orig.Choices[0].Message.ToolCalls[1].ID ||
		got.Choices[0].Message.ToolCalls[0].Function.Arguments != orig.Choices[0].Message.ToolCalls[0].Function.Arguments {
		t.Fatalf("replayed tool calls %+v, original %+v", got.Choices[0].Message.ToolCalls, orig.Choices[0].Message.ToolCalls)
	}
	if got.Usage.PromptTokens != orig.Usage.PromptTokens || got.Usage.CompletionTokens != orig.Usage.CompletionTokens {
		t.Fatalf("replayed usage %+v, original %+v", got.Usage, orig.Usage)
	}
	if requestID(t, second) == id {
		t.Fatal("replay reused the request id")
	}

	// A text answer replayed to a streaming client.
	var third *http.Response
	if _, err := h.client.Chat.Completions.New(context.Background(), userParams("gpt-4o-mini", "remember me"), option.WithResponseInto(&third)); err != nil {
		t.Fatal(err)
	}
	stream := h.client.Chat.Completions.NewStreaming(context.Background(), userParams("gpt-4o-mini", "x"), option.WithHeader("x-aiproxy-replay", requestID(t, third)))
	acc := openai.ChatCompletionAccumulator{}
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil || acc.Choices[0].Message.Content != "Hello! You said: remember me" {
		t.Fatalf("stream replay %q, %v", acc.Choices[0].Message.Content, err)
	}

	_, err = h.client.Chat.Completions.New(context.Background(), params, option.WithHeader("x-aiproxy-replay", "nope"))
	if e := apiError(t, err); e.StatusCode != 404 {
		t.Fatalf("unknown replay id: %d", e.StatusCode)
	}
}

var _ provider.Reply

func TestSetModelKeepsTheRestOfTheBody(t *testing.T) {
	h := newHarness(t, func(o *aiproxy.Options) {
		o.RequestFilters = append(o.RequestFilters, aiproxy.RequestFilterFunc(func(ctx context.Context, x *aiproxy.Exchange) (*aiproxy.Reply, error) {
			return nil, x.SetModel("gpt-4o-mini")
		}))
	})
	body := `{"model":"gpt-4o",  "messages":[{"role":"user","content":"hi"}],"user":"u1"}`
	resp, out := h.post("/v1/chat/completions", body)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, out)
	}
	sent := string(h.fake.Requests()[0].Body)
	if want := strings.Replace(body, `"gpt-4o"`, `"gpt-4o-mini"`, 1); sent != want {
		t.Fatalf("upstream got %s, want %s", sent, want)
	}
	req := h.Row(h.RowsN(requestID(t, resp), 2), "request")
	if req.Model != "gpt-4o" || string(req.UpstreamBody) != sent || req.User != "u1" {
		t.Fatalf("request row model %q user %q upstream_body %s", req.Model, req.User, req.UpstreamBody)
	}
}
