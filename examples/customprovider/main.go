// Command customprovider adds a provider of its own to AIProxy without touching the library:
// Ollama's native chat API (/api/chat, streamed as JSON lines), served under /ollama/ and
// logged like every built-in provider.
//
//	go run ./examples/customprovider        # proxies http://127.0.0.1:11434 on 127.0.0.1:8080
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log"
	"net/http"
	"strings"
	"time"

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/provider"
)

// Ollama is a provider for Ollama's native API.
type Ollama struct {
	BaseURL string // e.g. http://127.0.0.1:11434
}

var _ provider.Provider = (*Ollama)(nil)

// Name is logged in the provider column.
func (o *Ollama) Name() string { return "ollama" }

// Match serves /ollama/api/...; the endpoint is the Ollama path, e.g. /api/chat.
func (o *Ollama) Match(r *http.Request) (string, bool) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/ollama")
	return rest, ok && strings.HasPrefix(rest, "/api/")
}

// Parse reads the model and whether the client streams (Ollama streams unless told not to).
func (o *Ollama) Parse(req *provider.Request) error {
	if len(req.Body) == 0 {
		return nil
	}
	var f struct {
		Model  string `json:"model"`
		Stream *bool  `json:"stream"`
	}
	if err := json.Unmarshal(req.Body, &f); err != nil {
		return &provider.Error{Status: http.StatusBadRequest, Message: "invalid json body: " + err.Error(), Err: err}
	}
	req.Model = f.Model
	req.Stream = req.Endpoint == "/api/chat" && (f.Stream == nil || *f.Stream)
	return nil
}

// Prepare points the request at the Ollama server; Ollama has no key.
func (o *Ollama) Prepare(ctx context.Context, req *provider.Request) (*http.Request, error) {
	up, err := http.NewRequestWithContext(ctx, req.Method, o.BaseURL+req.Endpoint, bytes.NewReader(req.Body))
	if err != nil {
		return nil, err
	}
	up.Header = req.Header.Clone()
	up.Header.Del("Authorization")
	return up, nil
}

// NewStream frames Ollama's JSON-lines stream, one line per event.
func (o *Ollama) NewStream(req *provider.Request, resp *http.Response) (provider.Stream, bool) {
	if !req.Stream || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/x-ndjson") {
		return nil, false
	}
	return lines{}, true
}

type lines struct{}

// Split returns one line, newline included, so the relayed bytes are the bytes received.
func (lines) Split(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		return i + 1, data[:i+1], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

func (lines) Relay(ev []byte) []byte { return ev }

type chatChunk struct {
	Model   string `json:"model"`
	Message struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"message"`
	Done            bool `json:"done"`
	PromptEvalCount int  `json:"prompt_eval_count,omitempty"`
	EvalCount       int  `json:"eval_count,omitempty"`
}

// Render answers a filter's reply as an Ollama chat response (one line when streaming).
func (o *Ollama) Render(req *provider.Request, r *provider.Reply) *provider.Response {
	if r.Body != nil {
		return &provider.Response{Status: max(r.Status, 200), Header: r.Header, Body: r.Body}
	}
	c := chatChunk{Model: req.Model, Done: true}
	c.Message.Role, c.Message.Content = "assistant", r.Text
	if r.Usage != nil {
		c.PromptEvalCount, c.EvalCount = r.Usage.InputTokens, r.Usage.OutputTokens
	}
	b, _ := json.Marshal(c)
	ct := "application/json"
	if req.Stream {
		ct, b = "application/x-ndjson", append(b, '\n')
	}
	return &provider.Response{Status: http.StatusOK, Header: http.Header{"Content-Type": {ct}}, Body: b}
}

// Error renders Ollama's error shape, {"error": "..."}.
func (o *Ollama) Error(req *provider.Request, e *provider.Error) *provider.Response {
	b, _ := json.Marshal(map[string]string{"error": e.Message})
	return &provider.Response{Status: e.Status, Header: http.Header{"Content-Type": {"application/json"}}, Body: b}
}

// SummarizeRequest logs the last user message.
func (o *Ollama) SummarizeRequest(endpoint string, body []byte) provider.Summary {
	var f struct {
		Model    string `json:"model"`
		Messages []struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"messages"`
	}
	_ = json.Unmarshal(body, &f)
	s := provider.Summary{Model: f.Model}
	for _, m := range f.Messages {
		s.Text += m.Content + "\n"
		if m.Role == "user" {
			s.Content = m.Content
		}
	}
	return s
}

// SummarizeResponse joins the streamed lines (or reads the one object) into text and usage.
func (o *Ollama) SummarizeResponse(endpoint string, body []byte, stream bool) provider.Summary {
	var s provider.Summary
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, len(body)+1)
	for sc.Scan() {
		var c chatChunk
		if json.Unmarshal(sc.Bytes(), &c) != nil {
			continue
		}
		s.Model = c.Model
		s.Content += c.Message.Content
		if c.Done {
			s.Usage = &provider.Usage{InputTokens: c.PromptEvalCount, OutputTokens: c.EvalCount}
		}
	}
	return s
}

func main() {
	store, err := accesslog.OpenSQLite("aiproxy.db")
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	p, err := aiproxy.New(aiproxy.Options{Providers: []provider.Provider{&Ollama{BaseURL: "http://127.0.0.1:11434"}}, Store: store})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close(context.Background())
	srv := &http.Server{Addr: "127.0.0.1:8080", Handler: p, ReadHeaderTimeout: 30 * time.Second}
	log.Print("proxying Ollama on http://127.0.0.1:8080/ollama/api/chat")
	log.Fatal(srv.ListenAndServe())
}
