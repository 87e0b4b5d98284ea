package gemini_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"

	"google.golang.org/genai"

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/internal/fakegemini"
	"github.com/aiproxy-go/aiproxy/provider"
	"github.com/aiproxy-go/aiproxy/provider/gemini"
)

// The proxy between a Gemini client and the API, logging into SQLite. A fake upstream stands
// in for generativelanguage.googleapis.com here; in production leave BaseURL empty and set
// APIKey from GEMINI_API_KEY.
func ExampleNew() {
	upstream := httptest.NewServer(fakegemini.New(fakegemini.Options{APIKey: "AIza-proxy-key"}))
	defer upstream.Close()
	dir, _ := os.MkdirTemp("", "aiproxy-example")
	defer os.RemoveAll(dir)
	store, err := accesslog.OpenSQLite(filepath.Join(dir, "aiproxy.db"))
	if err != nil {
		panic(err)
	}
	defer store.Close()

	p, err := aiproxy.New(aiproxy.Options{
		Providers: []provider.Provider{gemini.New(gemini.Options{APIKey: "AIza-proxy-key", BaseURL: upstream.URL})},
		Store:     store,
	})
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(p)
	defer srv.Close()

	// The client's key is replaced by the proxy's.
	client, err := genai.NewClient(context.Background(), &genai.ClientConfig{
		APIKey: "anything", Backend: genai.BackendGeminiAPI,
		HTTPOptions: genai.HTTPOptions{BaseURL: srv.URL + "/"},
	})
	if err != nil {
		panic(err)
	}
	resp, err := client.Models.GenerateContent(context.Background(), "gemini-2.5-flash", genai.Text("hi"), nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(resp.Text())

	_ = p.Close(context.Background()) // drains the log
	var endpoint string
	var tokens int
	_ = store.DB().QueryRow("SELECT endpoint, prompt_tokens + completion_tokens FROM accesslog WHERE direction = 'response'").Scan(&endpoint, &tokens)
	fmt.Println(endpoint, tokens, "tokens")
	// Output:
	// Hello! You said: hi
	// /v1beta/models/gemini-2.5-flash:generateContent 9 tokens
}
