package filters_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/filters"
	"github.com/aiproxy-go/aiproxy/provider"
	"github.com/aiproxy-go/aiproxy/provider/anthropic"
	"github.com/aiproxy-go/aiproxy/provider/bedrock"
	"github.com/aiproxy-go/aiproxy/provider/gemini"
	provopenai "github.com/aiproxy-go/aiproxy/provider/openai"
)

// exchange returns an exchange of a POST to the provider's endpoint, parsed as the proxy
// parses it.
func exchange(t *testing.T, p provider.Provider, endpoint, rawQuery, body string) *aiproxy.Exchange {
	t.Helper()
	req := &provider.Request{Method: http.MethodPost, Endpoint: endpoint, RawQuery: rawQuery,
		Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(body)}
	if err := p.Parse(req); err != nil {
		t.Fatalf("parse %s: %v", body, err)
	}
	return &aiproxy.Exchange{Provider: p, Request: req, ClientBody: []byte(body)}
}

func TestMaxTokensFields(t *testing.T) {
	br, err := bedrock.New(bedrock.Options{Region: "us-east-1", AccessKeyID: "AKIAX", SecretAccessKey: "s"})
	if err != nil {
		t.Fatal(err)
	}
	oa := provopenai.New(provopenai.Options{APIKey: "k"})
	compat := provopenai.New(provopenai.Options{Name: "groq", APIKey: "k"})
	az := provopenai.NewAzure(provopenai.AzureOptions{Endpoint: "https://x.openai.azure.com", APIKey: "k"})
	an := anthropic.New(anthropic.Options{APIKey: "k"})
	ge := gemini.New(gemini.Options{APIKey: "k"})
	tests := []struct {
		name       string
		p          provider.Provider
		ep, query  string
		body, want string // want "" means unchanged
	}{
		{"chat clamp", oa, "/chat/completions", "", `{"model":"m","max_tokens":9000}`, `{"model":"m","max_tokens":100}`},
		{"chat keep", oa, "/chat/completions", "", `{"model":"m","max_completion_tokens":50}`, ``},
		{"chat both", oa, "/chat/completions", "", `{"max_tokens":500,"max_completion_tokens":400}`, `{"max_tokens":100,"max_completion_tokens":100}`},
		{"chat absent", oa, "/chat/completions", "", `{"model":"m","messages":[]}`, `{"model":"m","messages":[],"max_completion_tokens":100}`},
		{"chat empty object", oa, "/chat/completions", "", ` { } `, ` { "max_completion_tokens":100} `},
		{"chat null", oa, "/chat/completions", "", `{"max_tokens":null}`, `{"max_tokens":100}`},
		{"chat duplicate key", oa, "/chat/completions", "", `{"max_tokens":10,"max_tokens":99999}`, `{"max_tokens":10,"max_tokens":100}`},
		{"chat float", oa, "/chat/completions", "", `{"max_tokens":1e9}`, `{"max_tokens":100}`},
		{"compatible absent", compat, "/chat/completions", "", `{"model":"m"}`, `{"model":"m","max_tokens":100}`},
		{"legacy completions", oa, "/completions", "", `{"model":"m","prompt":"p"}`, `{"model":"m","prompt":"p","max_tokens":100}`},
		{"responses", oa, "/responses", "", `{"model":"m","input":"hi","max_output_tokens":4096}`, `{"model":"m","input":"hi","max_output_tokens":100}`},
		{"embeddings", oa, "/embeddings", "", `{"model":"m","input":"hi"}`, ``},
		{"azure new", az, "/openai/deployments/d/chat/completions", "api-version=2024-10-21", `{"messages":[]}`, `{"messages":[],"max_completion_tokens":100}`},
		{"azure old", az, "/openai/deployments/d/chat/completions", "api-version=2024-02-01", `{"messages":[]}`, `{"messages":[],"max_tokens":100}`},
		{"anthropic", an, "/v1/messages", "", `{"model":"c","max_tokens":1024,"messages":[]}`, `{"model":"c","max_tokens":100,"messages":[]}`},
		{"anthropic count tokens", an, "/v1/messages/count_tokens", "", `{"model":"c","messages":[]}`, ``},
		{"converse absent", br, "/model/anthropic.claude-3-haiku-20240307-v1:0/converse", "", `{"messages":[]}`, `{"messages":[],"inferenceConfig":{"maxTokens":100}}`},
		{"converse clamp", br, "/model/m/converse-stream", "", `{"inferenceConfig":{"temperature":0.5,"maxTokens":2000}}`, `{"inferenceConfig":{"temperature":0.5,"maxTokens":100}}`},
		{"converse config without", br, "/model/m/converse", "", `{"inferenceConfig":{"temperature":0.5}}`, `{"inferenceConfig":{"temperature":0.5,"maxTokens":100}}`},
		{"invoke anthropic", br, "/model/anthropic.claude-3-haiku-20240307-v1:0/invoke", "", `{"anthropic_version":"bedrock-2023-05-31","max_tokens":5000,"messages":[]}`, `{"anthropic_version":"bedrock-2023-05-31","max_tokens":100,"messages":[]}`},
		{"invoke claude v2", br, "/model/anthropic.claude-v2/invoke", "", `{"prompt":"\n\nHuman: hi\n\nAssistant:"}`, `{"prompt":"\n\nHuman: hi\n\nAssistant:","max_tokens_to_sample":100}`},
		{"invoke titan", br, "/model/amazon.titan-text-express-v1/invoke", "", `{"inputText":"hi"}`, `{"inputText":"hi","textGenerationConfig":{"maxTokenCount":100}}`},
		{"invoke nova", br, "/model/amazon.nova-lite-v1:0/invoke", "", `{"schemaVersion":"messages-v1","messages":[],"inferenceConfig":{"max_new_tokens":900}}`, `{"schemaVersion":"messages-v1","messages":[],"inferenceConfig":{"max_new_tokens":100}}`},
		{"invoke llama", br, "/model/meta.llama3-8b-instruct-v1:0/invoke", "", `{"prompt":"hi","max_gen_len":512}`, `{"prompt":"hi","max_gen_len":100}`},
		{"invoke mistral", br, "/model/mistral.mistral-7b-instruct-v0:2/invoke-with-response-stream", "", `{"prompt":"hi"}`, `{"prompt":"hi","max_tokens":100}`},
		{"gemini absent", ge, "/v1beta/models/gemini-2.0-flash:generateContent", "", `{"contents":[]}`, `{"contents":[],"generationConfig":{"maxOutputTokens":100}}`},
		{"gemini snake", ge, "/v1beta/models/gemini-2.0-flash:streamGenerateContent", "alt=sse", `{"generation_config":{"max_output_tokens":800}}`, `{"generation_config":{"max_output_tokens":100}}`},
		{"gemini count", ge, "/v1beta/models/gemini-2.0-flash:countTokens", "", `{"contents":[]}`, ``},
	}
	f := &filters.MaxTokens{Limit: 100}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x := exchange(t, tc.p, tc.ep, tc.query, tc.body)
			if _, err := f.FilterRequest(context.Background(), x); err != nil {
				t.Fatal(err)
			}
			want := tc.want
			if want == "" {
				want = tc.body
			}
			if got := string(x.Request.Body); got != want {
				t.Errorf("body\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestMaxTokensReject(t *testing.T) {
	f := &filters.MaxTokens{Limit: 100, Reject: true}
	oa := provopenai.New(provopenai.Options{APIKey: "k"})
	x := exchange(t, oa, "/chat/completions", "", `{"model":"m","max_tokens":50,"max_completion_tokens":4096}`)
	_, err := f.FilterRequest(context.Background(), x)
	var e *aiproxy.Error
	if !errors.As(err, &e) || e.Status != 400 || e.Message != "the request asks for up to 4096 output tokens; this proxy allows at most 100" {
		t.Fatalf("err %v", err)
	}
	x = exchange(t, oa, "/chat/completions", "", `{"model":"m","max_tokens":50}`)
	if _, err := f.FilterRequest(context.Background(), x); err != nil || string(x.Request.Body) != `{"model":"m","max_tokens":50}` {
		t.Fatalf("within the limit: %v %s", err, x.Request.Body)
	}
	x = exchange(t, oa, "/chat/completions", "", `{"model":"m"}`)
	if _, err := f.FilterRequest(context.Background(), x); err != nil || string(x.Request.Body) != `{"model":"m","max_completion_tokens":100}` {
		t.Fatalf("absent: %v %s", err, x.Request.Body)
	}
}
