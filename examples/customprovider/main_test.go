package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/internal/testproxy"
	"github.com/aiproxy-go/aiproxy/provider"
)

// fakeOllama streams three JSON lines, the last with the token counts, as Ollama does.
func fakeOllama(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/x-ndjson")
	for i, part := range []string{"Hel", "lo", ""} {
		c := chatChunk{Model: "llama3.2", Done: i == 2}
		c.Message.Role, c.Message.Content = "assistant", part
		if c.Done {
			c.PromptEvalCount, c.EvalCount = 11, 2
		}
		b, _ := json.Marshal(c)
		w.Write(append(b, '\n'))
		w.(http.Flusher).Flush()
	}
}

func TestCustomProvider(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(fakeOllama))
	defer up.Close()
	h := testproxy.New(t, aiproxy.Options{Providers: []provider.Provider{&Ollama{BaseURL: up.URL}}})

	resp, err := http.Post(h.URL()+"/ollama/api/chat", "application/json",
		strings.NewReader(`{"model":"llama3.2","messages":[{"role":"user","content":"say hello"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.Count(string(body), "\n") != 3 {
		t.Fatalf("status %d body %q", resp.StatusCode, body)
	}
	recs := h.Rows(h.RequestID(resp))
	req, row := h.Row(recs, "request"), h.Row(recs, "response")
	if req.Content != "say hello" || req.Provider != "ollama" {
		t.Errorf("request row %q %q", req.Content, req.Provider)
	}
	if row.Content != "Hello" || row.PromptTokens != 11 || row.CompletionTokens != 2 || len(row.ChunkTimes) != 3 {
		t.Errorf("response row %q %d/%d chunks %v", row.Content, row.PromptTokens, row.CompletionTokens, row.ChunkTimes)
	}
}
