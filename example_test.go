package aiproxy_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/internal/fakeupstream"
	"github.com/aiproxy-go/aiproxy/provider"
	provopenai "github.com/aiproxy-go/aiproxy/provider/openai"
)

// The proxy between an OpenAI client and the API, logging into SQLite. A fake upstream
// stands in for api.openai.com here.
func ExampleNew() {
	upstream := httptest.NewServer(fakeupstream.NewOpenAI(fakeupstream.OpenAIOptions{}))
	defer upstream.Close()
	dir, _ := os.MkdirTemp("", "aiproxy-example")
	defer os.RemoveAll(dir)

	store, err := accesslog.OpenSQLite(filepath.Join(dir, "aiproxy.db"))
	if err != nil {
		panic(err)
	}
	defer store.Close()
	p, err := aiproxy.New(aiproxy.Options{
		Providers: []provider.Provider{provopenai.New(provopenai.Options{APIKey: "sk-...", BaseURL: upstream.URL + "/v1"})},
		Store:     store,
	})
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(p)
	defer srv.Close()

	client := openai.NewClient(option.WithBaseURL(srv.URL+"/v1/"), option.WithAPIKey("anything"))
	resp, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:    "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(resp.Choices[0].Message.Content)

	_ = p.Close(context.Background()) // drains the log
	var rows int
	_ = store.DB().QueryRow("SELECT COUNT(*) FROM accesslog").Scan(&rows)
	fmt.Println(rows, "rows logged")
	// Output:
	// Hello! You said: hi
	// 2 rows logged
}

// A request filter that answers banned users itself: the client receives a normal
// chat.completion whose text is the filter's.
func ExampleRequestFilterFunc() {
	banned := aiproxy.RequestFilterFunc(func(ctx context.Context, x *aiproxy.Exchange) (*aiproxy.Reply, error) {
		if x.User() == "uezo" {
			return &aiproxy.Reply{Text: "you can't use this service"}, nil
		}
		return nil, nil // let the request go on
	})
	p, _ := aiproxy.New(aiproxy.Options{
		Providers:      []provider.Provider{provopenai.New(provopenai.Options{APIKey: "sk-..."})},
		RequestFilters: []aiproxy.RequestFilter{banned},
	})
	srv := httptest.NewServer(p)
	defer srv.Close()

	client := openai.NewClient(option.WithBaseURL(srv.URL+"/v1/"), option.WithAPIKey("anything"))
	resp, _ := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:    "gpt-4o-mini",
		User:     openai.String("uezo"),
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	})
	fmt.Println(resp.Choices[0].Message.Content)
	// Output: you can't use this service
}
