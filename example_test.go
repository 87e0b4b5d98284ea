package aiproxy_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

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

// capitals is a response filter that transforms streams chunk by chunk: the client's stream
// keeps its pace, and each text delta reaches it in capitals.
type capitals struct{}

func (capitals) StreamMode() aiproxy.StreamMode { return aiproxy.TransformStream }

func (capitals) FilterChunk(ctx context.Context, x *aiproxy.Exchange, c *aiproxy.Chunk) error {
	c.Text = strings.ToUpper(c.Text)
	return nil
}

// FilterResponse handles non-streamed responses (here: left as they are).
func (capitals) FilterResponse(ctx context.Context, x *aiproxy.Exchange, r *aiproxy.Response) error {
	return nil
}

// A response filter that declares a stream mode sees each chunk instead of holding the
// stream; WithPolicy gives it a time limit and lets requests go on should it fail.
func ExampleStreamFilter() {
	upstream := httptest.NewServer(fakeupstream.NewOpenAI(fakeupstream.OpenAIOptions{}))
	defer upstream.Close()
	p, _ := aiproxy.New(aiproxy.Options{
		Providers: []provider.Provider{provopenai.New(provopenai.Options{APIKey: "sk-...", BaseURL: upstream.URL + "/v1"})},
	})
	_ = p.AddFilter(aiproxy.WithPolicy(capitals{}, aiproxy.FilterPolicy{Timeout: 100 * time.Millisecond, FailOpen: true}))
	srv := httptest.NewServer(p)
	defer srv.Close()

	client := openai.NewClient(option.WithBaseURL(srv.URL+"/v1/"), option.WithAPIKey("anything"))
	stream := client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model:    "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	})
	var text strings.Builder
	for stream.Next() {
		if ch := stream.Current(); len(ch.Choices) > 0 {
			text.WriteString(ch.Choices[0].Delta.Content)
		}
	}
	fmt.Println(text.String(), stream.Err())
	// Output: HELLO! YOU SAID: HI <nil>
}
