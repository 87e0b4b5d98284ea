package anthropic_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"

	sdk "github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/internal/fakeanthropic"
	"github.com/aiproxy-go/aiproxy/provider"
	"github.com/aiproxy-go/aiproxy/provider/anthropic"
	"github.com/aiproxy-go/aiproxy/provider/openai"
)

// The proxy between the Anthropic SDK and the API, logging into SQLite. The Anthropic
// provider comes before the OpenAI one, which serves the rest of /v1/. A fake stands in
// for api.anthropic.com here; in production BaseURL is left empty.
func ExampleNew() {
	upstream := httptest.NewServer(fakeanthropic.New(fakeanthropic.Options{APIKey: "sk-ant-upstream"}))
	defer upstream.Close()
	dir, _ := os.MkdirTemp("", "aiproxy-example")
	defer os.RemoveAll(dir)
	store, err := accesslog.OpenSQLite(filepath.Join(dir, "aiproxy.db"))
	if err != nil {
		panic(err)
	}
	defer store.Close()

	p, err := aiproxy.New(aiproxy.Options{
		Providers: []provider.Provider{
			anthropic.New(anthropic.Options{APIKey: "sk-ant-upstream", BaseURL: upstream.URL}),
			openai.New(openai.Options{APIKey: "sk-..."}),
		},
		Store:   store,
		Secrets: []string{"sk-ant-upstream"},
	})
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(p)
	defer srv.Close()

	// The client's own key is replaced by the proxy's.
	client := sdk.NewClient(option.WithBaseURL(srv.URL+"/"), option.WithAPIKey("anything"))
	msg, err := client.Messages.New(context.Background(), sdk.MessageNewParams{
		Model:     "claude-sonnet-4-5",
		MaxTokens: 1024,
		Messages:  []sdk.MessageParam{sdk.NewUserMessage(sdk.NewTextBlock("hi"))},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(msg.Content[0].Text)

	_ = p.Close(context.Background()) // drains the log
	var prov, content string
	var tokens int
	_ = store.DB().QueryRow("SELECT provider, content, prompt_tokens FROM accesslog WHERE direction = 'response'").Scan(&prov, &content, &tokens)
	fmt.Println(prov, content, tokens)
	// Output:
	// Hello! You said: hi
	// anthropic Hello! You said: hi 8
}

// A request filter's reply reaches the Anthropic SDK as a real Message: here a tool call,
// without calling the API.
func ExampleProvider_Render() {
	weather := aiproxy.RequestFilterFunc(func(ctx context.Context, x *aiproxy.Exchange) (*aiproxy.Reply, error) {
		return &aiproxy.Reply{ToolCalls: []provider.ToolCall{{ID: "toolu_1", Type: "function",
			Function: provider.FunctionCall{Name: "get_weather", Arguments: `{"location":"Oslo"}`}}}}, nil
	})
	p, _ := aiproxy.New(aiproxy.Options{
		Providers:      []provider.Provider{anthropic.New(anthropic.Options{APIKey: "sk-ant-..."})},
		RequestFilters: []aiproxy.RequestFilter{weather},
	})
	srv := httptest.NewServer(p)
	defer srv.Close()

	client := sdk.NewClient(option.WithBaseURL(srv.URL+"/anthropic/"), option.WithAPIKey("anything"))
	msg, _ := client.Messages.New(context.Background(), sdk.MessageNewParams{
		Model:     "claude-sonnet-4-5",
		MaxTokens: 1024,
		Messages:  []sdk.MessageParam{sdk.NewUserMessage(sdk.NewTextBlock("weather in Oslo?"))},
	})
	fmt.Println(msg.StopReason, msg.Content[0].Name, string(msg.Content[0].Input))
	// Output: tool_use get_weather {"location":"Oslo"}
}
