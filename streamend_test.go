package aiproxy_test

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/internal/testproxy"
	"github.com/aiproxy-go/aiproxy/provider"
	provopenai "github.com/aiproxy-go/aiproxy/provider/openai"
)

// A client that hangs up as soon as it has data: [DONE], before the upstream closed its
// end, had the whole answer: its exchange is a 200, not a 499. A client that hangs up
// before the end mark is a 499.
func TestClientLeavingAfterStreamEnd(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i, ev := range []string{
			`{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","content":"hi"},"finish_reason":null}]}`,
			`{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`,
			`[DONE]`,
		} {
			if r.Header.Get("X-Stop-Before") == fmt.Sprint(i) {
				break
			}
			fmt.Fprintf(w, "data: %s\n\n", ev)
		}
		w.(http.Flusher).Flush()
		select { // the upstream keeps its end open a while after [DONE]
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer up.Close()
	defer close(release)
	h := testproxy.New(t, aiproxy.Options{Providers: []provider.Provider{provopenai.New(provopenai.Options{APIKey: "sk-up", BaseURL: up.URL + "/v1"})}})

	for _, tc := range []struct {
		stopBefore string
		readUntil  string
		want       int
	}{
		{"", "data: [DONE]", http.StatusOK},
		{"2", `"finish_reason":"stop"`, aiproxy.StatusClientClosedRequest},
	} {
		req, _ := http.NewRequest(http.MethodPost, h.URL()+"/v1/chat/completions",
			strings.NewReader(`{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("X-Stop-Before", tc.stopBefore)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() && !strings.Contains(sc.Text(), tc.readUntil) {
		}
		resp.Body.Close() // as openai-go does once it has [DONE]
		row := h.Row(h.RowsN(h.RequestID(resp), 2), "response")
		if row.StatusCode != tc.want || row.Content != "hi" {
			t.Errorf("read until %s: status %d content %q, want %d", tc.readUntil, row.StatusCode, row.Content, tc.want)
		}
	}
}
