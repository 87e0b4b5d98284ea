package filters_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"go.yaml.in/yaml/v3"

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/filters"
	"github.com/aiproxy-go/aiproxy/internal/fakeupstream"
	"github.com/aiproxy-go/aiproxy/provider"
	provopenai "github.com/aiproxy-go/aiproxy/provider/openai"
)

// New builds a filter from one entry of a configuration file, decoding its options
// strictly.
func ExampleNew() {
	var entry map[string]yaml.Node
	_ = yaml.Unmarshal([]byte(`max_tokens: {limit: 2048, reject: true}`), &entry)
	node := entry["max_tokens"]
	f, err := filters.New("max_tokens", func(opts any) error {
		b, _ := yaml.Marshal(&node)
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		return dec.Decode(opts)
	}, filters.Env{})
	fmt.Printf("%T %+v %v\n", f, *f.(*filters.MaxTokens), err)

	_, err = filters.New("ban_user", nil, filters.Env{})
	fmt.Println(err)
	// Output:
	// *filters.MaxTokens {Limit:2048 Reject:true} <nil>
	// unknown filter "ban_user" (known: ban_users, block_patterns, max_tokens, models, redact, replay, require_user)
}

// A program adds built-in filters with AddFilter, as the configuration file does.
func ExampleBanUsers() {
	upstream := httptest.NewServer(fakeupstream.NewOpenAI(fakeupstream.OpenAIOptions{}))
	defer upstream.Close()
	p, _ := aiproxy.New(aiproxy.Options{Providers: []provider.Provider{
		provopenai.New(provopenai.Options{APIKey: "sk-...", BaseURL: upstream.URL + "/v1"})}})
	defer p.Close(context.Background())
	_ = p.AddFilter(&filters.BanUsers{Users: []string{"uezo"}, Message: "you can't use this service"})
	srv := httptest.NewServer(p)
	defer srv.Close()

	client := openai.NewClient(option.WithBaseURL(srv.URL+"/v1/"), option.WithAPIKey("anything"), option.WithMaxRetries(0))
	_, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model: "gpt-4o-mini", User: openai.String("uezo"),
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	})
	var apiErr *openai.Error
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.StatusCode, apiErr.Message)
	}
	// Output:
	// 403 you can't use this service
}

// Redact masks personal data before the request goes upstream; MaxTokens bounds the
// answer's length.
func ExampleRedact() {
	fake := fakeupstream.NewOpenAI(fakeupstream.OpenAIOptions{})
	upstream := httptest.NewServer(fake)
	defer upstream.Close()
	p, _ := aiproxy.New(aiproxy.Options{Providers: []provider.Provider{
		provopenai.New(provopenai.Options{APIKey: "sk-...", BaseURL: upstream.URL + "/v1"})}})
	defer p.Close(context.Background())
	_ = p.AddFilter(&filters.Redact{Kinds: []string{filters.KindEmail, filters.KindPhone}})
	_ = p.AddFilter(&filters.MaxTokens{Limit: 256})
	srv := httptest.NewServer(p)
	defer srv.Close()

	client := openai.NewClient(option.WithBaseURL(srv.URL+"/v1/"), option.WithAPIKey("anything"))
	_, _ = client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:    "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("I am bob@example.com, call me on +1 555 123 4567")},
	})
	var sent struct {
		Messages            []struct{ Content string }
		MaxCompletionTokens int `json:"max_completion_tokens"`
	}
	_ = json.Unmarshal(fake.Requests()[0].Body, &sent)
	fmt.Println(sent.Messages[0].Content)
	fmt.Println(sent.MaxCompletionTokens)
	// Output:
	// I am [REDACTED_EMAIL], call me on [REDACTED_PHONE]
	// 256
}
