package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/internal/fakeupstream"
)

func TestCustomEntrypoint(t *testing.T) {
	fake := fakeupstream.NewOpenAI(fakeupstream.OpenAIOptions{APIKey: "sk-real"})
	up := httptest.NewServer(fake)
	defer up.Close()
	store, err := accesslog.OpenSQLite(filepath.Join(t.TempDir(), "aiproxy.db"), appUser)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	p, err := newProxy(store, "sk-real", up.URL+"/v1")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	defer srv.Close()
	client := openai.NewClient(option.WithBaseURL(srv.URL+"/"), option.WithAPIKey("anything"), option.WithMaxRetries(0))
	ask := func(user string, opts ...option.RequestOption) (*openai.ChatCompletion, string) {
		var resp *http.Response
		params := openai.ChatCompletionNewParams{Model: "gpt-4o", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")}}
		if user != "" {
			params.User = openai.String(user)
		}
		c, err := client.Chat.Completions.New(context.Background(), params, append(opts, option.WithResponseInto(&resp))...)
		if err != nil {
			t.Fatal(err)
		}
		return c, resp.Header.Get(aiproxy.HeaderRequestID)
	}

	if c, _ := ask("uezo"); c.Choices[0].Message.Content != "you can't use this service" {
		t.Errorf("banned user got %q", c.Choices[0].Message.Content)
	}
	if c, _ := ask(""); c.Choices[0].Message.Content != "user is required" {
		t.Errorf("no user got %q", c.Choices[0].Message.Content)
	}
	c, id := ask("alice", option.WithHeader("X-User-Id", "u-42"))
	if c.Model != "gpt-4o-mini" {
		t.Errorf("model not overwritten: %q", c.Model)
	}
	if r, _ := ask("alice", option.WithHeader("x-aiproxy-replay", id)); r.Choices[0].Message.Content != c.Choices[0].Message.Content {
		t.Errorf("replay %q, original %q", r.Choices[0].Message.Content, c.Choices[0].Message.Content)
	}
	if fake.Hits() != 1 {
		t.Errorf("upstream hit %d times, want 1", fake.Hits())
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	var user string
	if err := store.DB().QueryRow(`SELECT app_user FROM accesslog WHERE request_id = ? AND direction = 'request'`, id).Scan(&user); err != nil {
		t.Fatal(err)
	}
	if user != "u-42" {
		t.Errorf("app_user column = %q", user)
	}
}
