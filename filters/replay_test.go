package filters_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/filters"
	"github.com/aiproxy-go/aiproxy/internal/fakeupstream"
	"github.com/aiproxy-go/aiproxy/provider"
	provopenai "github.com/aiproxy-go/aiproxy/provider/openai"
)

// Replay answers a request with the logged response of an earlier one, named by its
// x-aiproxy-request-id, without calling the upstream.
func ExampleReplay() {
	fake := fakeupstream.NewOpenAI(fakeupstream.OpenAIOptions{})
	upstream := httptest.NewServer(fake)
	defer upstream.Close()
	dir, _ := os.MkdirTemp("", "replay-example")
	defer os.RemoveAll(dir)
	store, _ := accesslog.OpenSQLite(filepath.Join(dir, "aiproxy.db"))
	defer store.Close()
	p, _ := aiproxy.New(aiproxy.Options{
		Providers: []provider.Provider{provopenai.New(provopenai.Options{APIKey: "sk-...", BaseURL: upstream.URL + "/v1"})},
		Store:     store,
	})
	defer p.Close(context.Background())
	_ = p.AddFilter(&filters.Replay{Source: p})
	srv := httptest.NewServer(p)
	defer srv.Close()

	client := openai.NewClient(option.WithBaseURL(srv.URL+"/v1/"), option.WithAPIKey("anything"))
	params := openai.ChatCompletionNewParams{Model: "gpt-4o-mini", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}
	var first *http.Response
	_, _ = client.Chat.Completions.New(context.Background(), params, option.WithResponseInto(&first))

	replayed, _ := client.Chat.Completions.New(context.Background(), params,
		option.WithHeader("x-aiproxy-replay", first.Header.Get(aiproxy.HeaderRequestID)))
	fmt.Println(replayed.Choices[0].Message.Content)
	fmt.Println("upstream calls:", fake.Hits())
	// Output:
	// Hello! You said: hi
	// upstream calls: 1
}
