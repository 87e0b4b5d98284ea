package fakegemini_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/genai"

	"github.com/aiproxy-go/aiproxy/internal/fakegemini"
)

const key = "AIzaFakeKey0123456789abcdefghijklmnopq"

// newFake serves a fake that accepts key, and a genai client for it.
func newFake(t *testing.T, headers ...string) (*fakegemini.Server, *httptest.Server, *genai.Client) {
	t.Helper()
	fake := fakegemini.New(fakegemini.Options{APIKey: key})
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	h := http.Header{}
	for i := 0; i+1 < len(headers); i += 2 {
		h.Set(headers[i], headers[i+1])
	}
	client, err := genai.NewClient(context.Background(), &genai.ClientConfig{
		APIKey: key, Backend: genai.BackendGeminiAPI,
		HTTPOptions: genai.HTTPOptions{BaseURL: srv.URL + "/", Headers: h},
	})
	if err != nil {
		t.Fatal(err)
	}
	return fake, srv, client
}

func TestGenerateContent(t *testing.T) {
	fake, _, client := newFake(t, "x-fake-cached-tokens", "2")
	resp, err := client.Models.GenerateContent(context.Background(), "gemini-2.5-flash", genai.Text("hi there"),
		&genai.GenerateContentConfig{SystemInstruction: genai.NewContentFromText("be brief", "")})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Text() != "Hello! You said: hi there" || resp.ModelVersion != "gemini-2.5-flash" || resp.ResponseID == "" {
		t.Fatalf("response %q model %q id %q", resp.Text(), resp.ModelVersion, resp.ResponseID)
	}
	u := resp.UsageMetadata
	// 4 + 2 words of the turn, 2 of the system instruction; 5 words answered.
	if u.PromptTokenCount != 8 || u.CandidatesTokenCount != 5 || u.TotalTokenCount != 13 || u.CachedContentTokenCount != 2 {
		t.Errorf("usage %+v", u)
	}
	if c := resp.Candidates[0]; c.FinishReason != genai.FinishReasonStop || c.Content.Role != "model" {
		t.Errorf("candidate %+v", c)
	}
	reqs := fake.Requests()
	if len(reqs) != 1 || reqs[0].Path != "/v1beta/models/gemini-2.5-flash:generateContent" || reqs[0].Header.Get("X-Goog-Api-Key") != key {
		t.Fatalf("requests %+v", reqs)
	}
}

func TestStreamSSE(t *testing.T) {
	fake, _, client := newFake(t, "x-fake-chunks", "4")
	var text strings.Builder
	var last *genai.GenerateContentResponse
	n := 0
	for resp, err := range client.Models.GenerateContentStream(context.Background(), "gemini-2.5-flash", genai.Text("stream me"), nil) {
		if err != nil {
			t.Fatal(err)
		}
		text.WriteString(resp.Text())
		last = resp
		n++
	}
	if n != 4 || text.String() != "Hello! You said: stream me" {
		t.Fatalf("%d chunks, text %q", n, text.String())
	}
	if last.Candidates[0].FinishReason != genai.FinishReasonStop || last.UsageMetadata.CandidatesTokenCount != 5 {
		t.Errorf("last chunk %+v usage %+v", last.Candidates[0], last.UsageMetadata)
	}
	if q := fake.Requests()[0].RawQuery; q != "alt=sse" {
		t.Errorf("query %q", q)
	}
}

// post sends a raw request to the fake.
func post(t *testing.T, url, body string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestStreamFramings(t *testing.T) {
	_, srv, _ := newFake(t)
	url := srv.URL + "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
	body := `{"contents":[{"parts":[{"text":"frame me"}]}]}`

	resp, sseBody := post(t, url+"?alt=sse", body, "x-goog-api-key", key, "x-fake-chunks", "2")
	if resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Errorf("content type %q", resp.Header.Get("Content-Type"))
	}
	events := strings.Split(sseBody, "\r\n\r\n")
	if len(events) != 3 || events[2] != "" || !strings.HasPrefix(events[0], `data: {"candidates": [{"content": {"parts": [{"text": "`) {
		t.Fatalf("sse body %q", sseBody)
	}

	resp, arr := post(t, url, body, "x-goog-api-key", key, "x-fake-chunks", "2")
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("content type %q", resp.Header.Get("Content-Type"))
	}
	if !strings.HasPrefix(arr, "[{\n  \"candidates\": [\n") || !strings.Contains(arr, "\n}\n,\r\n{\n") || !strings.HasSuffix(arr, "\n}\n]") {
		t.Fatalf("array body %q", arr)
	}
	var chunks []genai.GenerateContentResponse
	if err := json.Unmarshal([]byte(arr), &chunks); err != nil || len(chunks) != 2 {
		t.Fatalf("array: %d chunks, %v", len(chunks), err)
	}
	if got := chunks[0].Text() + chunks[1].Text(); got != "Hello! You said: frame me" {
		t.Errorf("array text %q", got)
	}

	// A cut stream stops after the chunks asked for.
	_, cut := post(t, url, body, "x-goog-api-key", key, "x-fake-chunks", "3", "x-fake-cut-after", "1")
	if strings.Contains(cut, ",\r\n") || strings.HasSuffix(cut, "]") {
		t.Errorf("cut stream %q", cut)
	}
}

func TestChunkDelay(t *testing.T) {
	_, srv, _ := newFake(t)
	start := time.Now()
	post(t, srv.URL+"/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", `{"contents":[{"parts":[{"text":"x"}]}]}`,
		"x-goog-api-key", key, "x-fake-chunks", "3", "x-fake-chunk-delay", "50ms")
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("3 chunks 50ms apart took %v", d)
	}
}

func weatherTool() []*genai.Tool {
	return []*genai.Tool{{FunctionDeclarations: []*genai.FunctionDeclaration{
		{Name: "get_weather", Parameters: &genai.Schema{Type: genai.TypeObject, Properties: map[string]*genai.Schema{
			"location": {Type: genai.TypeString}, "days": {Type: genai.TypeInteger}}}},
		{Name: "get_time", Parameters: &genai.Schema{Type: genai.TypeObject, Properties: map[string]*genai.Schema{"city": {Type: genai.TypeString}}}},
	}}}
}

func TestFunctionCalls(t *testing.T) {
	_, _, client := newFake(t)
	cfg := &genai.GenerateContentConfig{Tools: weatherTool()}
	resp, err := client.Models.GenerateContent(context.Background(), "gemini-2.5-flash", genai.Text("Paris: use tools"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	calls := resp.FunctionCalls()
	if len(calls) != 2 || calls[0].Name != "get_weather" || calls[0].Args["location"] != "Paris: use tools" || calls[0].Args["days"] != float64(1) || calls[1].Name != "get_time" {
		t.Fatalf("calls %+v", calls)
	}
	// Without "use tools" the model answers in text; x-fake-tool-calls forces calls.
	resp, err = client.Models.GenerateContent(context.Background(), "gemini-2.5-flash", genai.Text("hello"), cfg)
	if err != nil || len(resp.FunctionCalls()) != 0 {
		t.Fatalf("%v %+v", err, resp)
	}
	cfg.HTTPOptions = &genai.HTTPOptions{Headers: http.Header{"X-Fake-Tool-Calls": {"3"}}}
	n := 0
	for chunk, err := range client.Models.GenerateContentStream(context.Background(), "gemini-2.5-flash", genai.Text("hello"), cfg) {
		if err != nil {
			t.Fatal(err)
		}
		n += len(chunk.FunctionCalls())
	}
	if n != 3 {
		t.Fatalf("stream: %d calls", n)
	}
}

func TestThoughts(t *testing.T) {
	_, _, client := newFake(t, "x-fake-thoughts", "40")
	resp, err := client.Models.GenerateContent(context.Background(), "gemini-2.5-flash", genai.Text("think"),
		&genai.GenerateContentConfig{ThinkingConfig: &genai.ThinkingConfig{IncludeThoughts: true}})
	if err != nil {
		t.Fatal(err)
	}
	parts := resp.Candidates[0].Content.Parts
	if len(parts) != 2 || !parts[0].Thought || parts[1].Thought || resp.UsageMetadata.ThoughtsTokenCount != 40 {
		t.Fatalf("parts %+v usage %+v", parts, resp.UsageMetadata)
	}
	if resp.Text() != "Hello! You said: think" {
		t.Errorf("text %q", resp.Text())
	}
}

func TestCountEmbedList(t *testing.T) {
	_, _, client := newFake(t)
	ctx := context.Background()
	ct, err := client.Models.CountTokens(ctx, "gemini-2.5-flash", genai.Text("one two three"), nil)
	if err != nil || ct.TotalTokens != 7 {
		t.Fatalf("count %+v %v", ct, err)
	}
	emb, err := client.Models.EmbedContent(ctx, "gemini-embedding-001", []*genai.Content{genai.NewContentFromText("a", ""), genai.NewContentFromText("b", "")},
		&genai.EmbedContentConfig{OutputDimensionality: genai.Ptr[int32](8)})
	if err != nil || len(emb.Embeddings) != 2 || len(emb.Embeddings[0].Values) != 8 {
		t.Fatalf("embed %+v %v", emb, err)
	}
	var names []string
	for m, err := range client.Models.All(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, m.Name)
	}
	if len(names) != 5 || names[0] != "models/gemini-2.5-flash" {
		t.Fatalf("models %v", names)
	}
	m, err := client.Models.Get(ctx, "gemini-2.5-pro", nil)
	if err != nil || m.DisplayName != "Gemini 2.5 Pro" {
		t.Fatalf("get %+v %v", m, err)
	}
	// An embedding model does not generate.
	_, err = client.Models.GenerateContent(ctx, "text-embedding-004", genai.Text("x"), nil)
	if code := apiCode(t, err); code != 404 {
		t.Fatalf("generate with an embedding model: %d", code)
	}
}

func apiCode(t *testing.T, err error) int {
	t.Helper()
	var e genai.APIError
	if !errors.As(err, &e) {
		t.Fatalf("not an APIError: %v", err)
	}
	return e.Code
}

func TestErrors(t *testing.T) {
	_, srv, client := newFake(t)
	ctx := context.Background()
	for _, status := range []int{400, 403, 429, 500, 503} {
		cfg := &genai.GenerateContentConfig{HTTPOptions: &genai.HTTPOptions{Headers: http.Header{"X-Fake-Status": {itoa(status)}}}}
		_, err := client.Models.GenerateContent(ctx, "gemini-2.5-flash", genai.Text("x"), cfg)
		var e genai.APIError
		if !errors.As(err, &e) || e.Code != status || e.Status == "" || e.Message == "" {
			t.Errorf("status %d: %#v", status, err)
		}
	}

	bad, err := genai.NewClient(ctx, &genai.ClientConfig{APIKey: "AIzaWrong", Backend: genai.BackendGeminiAPI, HTTPOptions: genai.HTTPOptions{BaseURL: srv.URL + "/"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.Models.GenerateContent(ctx, "gemini-2.5-flash", genai.Text("x"), nil)
	var e genai.APIError
	if !errors.As(err, &e) || e.Code != 400 || e.Status != "INVALID_ARGUMENT" || !strings.Contains(e.Message, "API key not valid") {
		t.Fatalf("wrong key: %#v", err)
	}

	url := srv.URL + "/v1beta/models/gemini-2.5-flash:generateContent"
	tests := []struct {
		name, url, body string
		header          []string
		status          int
		prefix          string
	}{
		{"no key", url, `{"contents":[{"parts":[{"text":"x"}]}]}`, nil, 403, `{`},
		{"key in query", url + "?key=" + key, `{"contents":[{"parts":[{"text":"x"}]}]}`, nil, 200, `{`},
		{"invalid json", url, `{"contents": [`, []string{"x-goog-api-key", key}, 400, `{`},
		{"no contents", url, `{}`, []string{"x-goog-api-key", key}, 400, `{`},
		{"unknown model", srv.URL + "/v1beta/models/gpt-4o:generateContent", `{}`, []string{"x-goog-api-key", key}, 404, `{`},
		{"array stream error", srv.URL + "/v1beta/models/gemini-2.5-flash:streamGenerateContent", `{}`, []string{"x-goog-api-key", key}, 400, `[{`},
		{"unknown path", srv.URL + "/v1beta/nothing", `{}`, []string{"x-goog-api-key", key}, 404, `<!DOCTYPE html>`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := post(t, tc.url, tc.body, tc.header...)
			if resp.StatusCode != tc.status || !strings.HasPrefix(body, tc.prefix) {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
		})
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestRequestsRecorded(t *testing.T) {
	fake, _, client := newFake(t)
	if _, err := client.Models.GenerateContent(context.Background(), "gemini-2.5-flash", genai.Text("x"), nil); err != nil {
		t.Fatal(err)
	}
	if fake.Hits() != 1 || !strings.Contains(string(fake.Requests()[0].Body), `"text":"x"`) {
		t.Fatalf("hits %d requests %+v", fake.Hits(), fake.Requests())
	}
	fake.Reset()
	if fake.Hits() != 0 || fake.Requests() != nil {
		t.Fatal("reset kept state")
	}
}
