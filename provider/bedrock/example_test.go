package bedrock_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/internal/fakebedrock"
	"github.com/aiproxy-go/aiproxy/provider"
	"github.com/aiproxy-go/aiproxy/provider/bedrock"
)

// The proxy between an AWS SDK and Bedrock. The client signs with any credentials; the proxy
// signs with its own. A fake stands in for bedrock-runtime.us-east-1.amazonaws.com here.
func ExampleNew() {
	upstream := httptest.NewServer(fakebedrock.New(fakebedrock.Options{AccessKeyID: "AKIAEXAMPLE", SecretAccessKey: "proxy-secret"}))
	defer upstream.Close()

	prov, err := bedrock.New(bedrock.Options{
		Region:          "us-east-1",
		AccessKeyID:     "AKIAEXAMPLE", // or leave empty for the AWS default credential chain
		SecretAccessKey: "proxy-secret",
		Endpoint:        upstream.URL, // empty: https://bedrock-runtime.us-east-1.amazonaws.com
	})
	if err != nil {
		panic(err)
	}
	dir, _ := os.MkdirTemp("", "aiproxy-example")
	defer os.RemoveAll(dir)
	store, err := accesslog.OpenSQLite(filepath.Join(dir, "aiproxy.db"))
	if err != nil {
		panic(err)
	}
	defer store.Close()
	p, err := aiproxy.New(aiproxy.Options{Providers: []provider.Provider{prov}, Store: store, Secrets: []string{"proxy-secret"}})
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(p)
	defer srv.Close()

	client := bedrockruntime.New(bedrockruntime.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL), // the proxy
		Credentials:  credentials.NewStaticCredentialsProvider("dummy", "dummy", ""),
	})
	out, err := client.Converse(context.Background(), &bedrockruntime.ConverseInput{
		ModelId: aws.String("anthropic.claude-3-5-sonnet-20240620-v1:0"),
		Messages: []types.Message{{Role: types.ConversationRoleUser,
			Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "hi"}}}},
	})
	if err != nil {
		panic(err)
	}
	msg := out.Output.(*types.ConverseOutputMemberMessage).Value
	fmt.Println(msg.Content[0].(*types.ContentBlockMemberText).Value)

	_ = p.Close(context.Background()) // drains the log
	var model string
	var tokens int
	_ = store.DB().QueryRow("SELECT model, prompt_tokens + completion_tokens FROM accesslog WHERE direction = 'response'").Scan(&model, &tokens)
	fmt.Println(model, tokens, "tokens")
	// Output:
	// Hello! You said: hi
	// anthropic.claude-3-5-sonnet-20240620-v1:0 12 tokens
}
