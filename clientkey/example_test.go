package clientkey_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/clientkey"
	"github.com/aiproxy-go/aiproxy/internal/fakeupstream"
	"github.com/aiproxy-go/aiproxy/provider"
	provopenai "github.com/aiproxy-go/aiproxy/provider/openai"
)

// A proxy that accepts one client key, for one model, two requests a minute.
func Example() {
	upstream := httptest.NewServer(fakeupstream.NewOpenAI(fakeupstream.OpenAIOptions{}))
	defer upstream.Close()

	guard, err := clientkey.New(clientkey.Options{Keys: []clientkey.Key{{
		Name: "team-a", Key: "sk-team-a-0123456789", Models: []string{"gpt-4o-mini"}, RequestsPerMinute: 2,
	}}})
	if err != nil {
		panic(err)
	}
	defer guard.Close(context.Background())
	opts := aiproxy.Options{
		Providers:      []provider.Provider{provopenai.New(provopenai.Options{APIKey: "sk-upstream", BaseURL: upstream.URL + "/v1"})},
		RequestFilters: []aiproxy.RequestFilter{guard},
	}
	// With an access log, the Guard learns each request's real tokens and cost:
	opts.Writer.Enrich = func(r *accesslog.Record) { guard.Settle(r) }
	p, err := aiproxy.New(opts)
	if err != nil {
		panic(err)
	}
	defer p.Close(context.Background())
	proxy := httptest.NewServer(p)
	defer proxy.Close()

	send := func(key, model string) {
		body := `{"model":"` + model + `","messages":[{"role":"user","content":"hi"}]}`
		req, _ := http.NewRequest("POST", proxy.URL+"/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode, resp.Header.Get("Retry-After") != "")
	}
	send("sk-wrong", "gpt-4o-mini")
	send("sk-team-a-0123456789", "gpt-4o")
	send("sk-team-a-0123456789", "gpt-4o-mini")
	send("sk-team-a-0123456789", "gpt-4o-mini")
	send("sk-team-a-0123456789", "gpt-4o-mini")
	// Output:
	// 401 false
	// 403 false
	// 200 false
	// 200 false
	// 429 true
}
