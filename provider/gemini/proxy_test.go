package gemini_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genai"

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/internal/fakegemini"
	"github.com/aiproxy-go/aiproxy/internal/fakeupstream"
	"github.com/aiproxy-go/aiproxy/internal/testproxy"
	"github.com/aiproxy-go/aiproxy/provider"
	"github.com/aiproxy-go/aiproxy/provider/gemini"
	"github.com/aiproxy-go/aiproxy/provider/openai"
)

// upstreamKey is the proxy's own Gemini key; it must never reach a log row.
const upstreamKey = "AIzaSy-upstream-SECRET-0123456789abcdef"

// clientKey is what the SDK sends; the proxy must replace it, and the log keeps it masked.
const clientKey = "AIzaSy-client-key-9876543210-abcdefXYZ"

// env is the proxy under test between the genai SDK and the fake Gemini API, with an OpenAI
// provider after it to check that the routes do not collide.
type env struct {
	t      *testing.T
	fake   *fakegemini.Server
	up     *httptest.Server
	openai *fakeupstream.OpenAI
	h      *testproxy.Harness
	ids    *idRecorder
	client *genai.Client
}

func newEnv(t *testing.T, opts ...func(*aiproxy.Options)) *env {
	t.Helper()
	e := &env{t: t, fake: fakegemini.New(fakegemini.Options{APIKey: upstreamKey}), ids: &idRecorder{}}
	e.up = httptest.NewServer(e.fake)
	t.Cleanup(e.up.Close)
	e.openai = fakeupstream.NewOpenAI(fakeupstream.OpenAIOptions{})
	oa := httptest.NewServer(e.openai)
	t.Cleanup(oa.Close)
	o := aiproxy.Options{
		Providers: []provider.Provider{
			gemini.New(gemini.Options{BaseURL: e.up.URL, APIKey: upstreamKey}),
			openai.New(openai.Options{BaseURL: oa.URL + "/v1", APIKey: "sk-openai-upstream"}),
		},
		Secrets: []string{upstreamKey},
	}
	for _, f := range opts {
		f(&o)
	}
	e.h = testproxy.New(t, o)
	e.client = e.newClient(e.h.URL()+"/", clientKey)
	return e
}

// newClient returns a genai client for the Gemini API at baseURL.
func (e *env) newClient(baseURL, key string) *genai.Client {
	e.t.Helper()
	c, err := genai.NewClient(context.Background(), &genai.ClientConfig{
		APIKey: key, Backend: genai.BackendGeminiAPI,
		HTTPOptions: genai.HTTPOptions{BaseURL: baseURL},
		HTTPClient:  &http.Client{Transport: e.ids, Timeout: 30 * time.Second},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// idRecorder is the SDK's transport: it keeps the x-aiproxy-request-id of every response.
type idRecorder struct {
	mu  sync.Mutex
	ids []string
}

func (r *idRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err == nil {
		r.mu.Lock()
		r.ids = append(r.ids, resp.Header.Get(aiproxy.HeaderRequestID))
		r.mu.Unlock()
	}
	return resp, err
}

// lastID returns the request id of the last response the SDK received.
func (e *env) lastID() string {
	e.t.Helper()
	e.ids.mu.Lock()
	defer e.ids.mu.Unlock()
	if len(e.ids.ids) == 0 || e.ids.ids[len(e.ids.ids)-1] == "" {
		e.t.Fatal("no request id received")
	}
	return e.ids.ids[len(e.ids.ids)-1]
}

// rows returns the request and the response (or error) rows of the last SDK call.
func (e *env) rows(direction string) (req, resp *accesslog.Record) {
	e.t.Helper()
	recs := e.h.Rows(e.lastID())
	return e.h.Row(recs, "request"), e.h.Row(recs, direction)
}

// do sends a raw request to the proxy and reads the whole answer.
func (e *env) do(method, path, body string, header ...string) (*http.Response, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.h.URL()+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("read body: %v", err)
	}
	return resp, b
}

func withHeaders(kv ...string) *genai.HTTPOptions {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return &genai.HTTPOptions{Headers: h}
}

// noSecrets fails when a row holds the client's key unmasked or the proxy's key at all.
func noSecrets(t *testing.T, recs ...*accesslog.Record) {
	t.Helper()
	for _, r := range recs {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{clientKey, upstreamKey} {
			if bytes.Contains(b, []byte(k)) {
				t.Fatalf("%s row holds a key: %s", r.Direction, b)
			}
		}
	}
}

func TestGenerateContent(t *testing.T) {
	e := newEnv(t)
	cfg := &genai.GenerateContentConfig{
		SystemInstruction: genai.NewContentFromText("be brief", ""),
		HTTPOptions:       withHeaders("x-fake-thoughts", "5", "x-fake-cached-tokens", "3"),
	}
	got, err := e.client.Models.GenerateContent(context.Background(), "gemini-2.5-flash", genai.Text("hello gemini"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got.Text() != "Hello! You said: hello gemini" {
		t.Fatalf("text %q", got.Text())
	}

	// The upstream saw the proxy's key in the header, the client's body as it was sent.
	reqs := e.fake.Requests()
	if len(reqs) != 1 || reqs[0].Header.Get("X-Goog-Api-Key") != upstreamKey || strings.Contains(reqs[0].RawQuery, "key") ||
		reqs[0].Path != "/v1beta/models/gemini-2.5-flash:generateContent" {
		t.Fatalf("upstream got %+v", reqs)
	}

	req, resp := e.rows("response")
	if req.Provider != "gemini" || req.Endpoint != "/v1beta/models/gemini-2.5-flash:generateContent" || req.Model != "gemini-2.5-flash" ||
		req.Content != "hello gemini" || req.Stream {
		t.Errorf("request row %+v", req)
	}
	if !bytes.Equal(req.RawBody, reqs[0].Body) || req.UpstreamBody != nil {
		t.Errorf("body not relayed as sent: row %s, upstream %s", req.RawBody, reqs[0].Body)
	}
	if k := req.RawHeaders.Get("X-Goog-Api-Key"); k != "***"+clientKey[len(clientKey)-4:] {
		t.Errorf("client key logged as %q", k)
	}
	u := got.UsageMetadata
	if resp.StatusCode != 200 || resp.Content != got.Text() || resp.Model != got.ModelVersion || resp.TokensEstimated ||
		resp.PromptTokens != int(u.PromptTokenCount) || resp.CompletionTokens != int(u.CandidatesTokenCount+u.ThoughtsTokenCount) ||
		resp.ReasoningTokens != 5 || resp.CachedTokens != 3 {
		t.Errorf("response row %+v, usage %+v", resp, u)
	}
	if resp.RequestTime <= 0 || resp.RequestTimeAPI <= 0 || resp.RequestTimeAPI > resp.RequestTime {
		t.Errorf("times %v/%v", resp.RequestTime, resp.RequestTimeAPI)
	}
	noSecrets(t, req, resp)
}

func TestGenerateContentStream(t *testing.T) {
	e := newEnv(t)
	cfg := &genai.GenerateContentConfig{
		ThinkingConfig: &genai.ThinkingConfig{IncludeThoughts: true},
		HTTPOptions:    withHeaders("x-fake-chunks", "6", "x-fake-thoughts", "7"),
	}
	var text strings.Builder
	var last *genai.GenerateContentResponse
	chunks := 0
	for chunk, err := range e.client.Models.GenerateContentStream(context.Background(), "gemini-2.5-flash", genai.Text("stream it"), cfg) {
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range chunk.Candidates[0].Content.Parts {
			if !p.Thought {
				text.WriteString(p.Text)
			}
		}
		last = chunk
		chunks++
	}
	if chunks != 6 || text.String() != "Hello! You said: stream it" {
		t.Fatalf("%d chunks, text %q", chunks, text.String())
	}
	if q := e.fake.Requests()[0].RawQuery; q != "alt=sse" {
		t.Errorf("upstream query %q", q)
	}
	req, resp := e.rows("response")
	if !req.Stream || req.Endpoint != "/v1beta/models/gemini-2.5-flash:streamGenerateContent" || req.Content != "stream it" {
		t.Errorf("request row %+v", req)
	}
	u := last.UsageMetadata
	if !resp.Stream || resp.Content != text.String() || resp.TokensEstimated || resp.PromptTokens != int(u.PromptTokenCount) ||
		resp.CompletionTokens != int(u.CandidatesTokenCount+u.ThoughtsTokenCount) || resp.ReasoningTokens != 7 {
		t.Errorf("response row content %q tokens %d/%d/%d, last usage %+v", resp.Content, resp.PromptTokens, resp.CompletionTokens, resp.ReasoningTokens, u)
	}
	if len(resp.ChunkTimes) != 6 || resp.TimeToFirstToken <= 0 || !bytes.Contains(resp.RawBody, []byte("}\r\n\r\ndata: {")) {
		t.Errorf("chunk_times %v ttft %v", resp.ChunkTimes, resp.TimeToFirstToken)
	}
	noSecrets(t, req, resp)
}

func weatherTools() []*genai.Tool {
	return []*genai.Tool{{FunctionDeclarations: []*genai.FunctionDeclaration{
		{Name: "get_weather", Parameters: &genai.Schema{Type: genai.TypeObject, Properties: map[string]*genai.Schema{"location": {Type: genai.TypeString}}}},
		{Name: "get_time", Parameters: &genai.Schema{Type: genai.TypeObject, Properties: map[string]*genai.Schema{"city": {Type: genai.TypeString}, "utc": {Type: genai.TypeBoolean}}}},
	}}}
}

// loggedCalls decodes a tool_calls column.
func loggedCalls(t *testing.T, col string) []provider.ToolCall {
	t.Helper()
	var calls []provider.ToolCall
	if err := json.Unmarshal([]byte(col), &calls); err != nil {
		t.Fatalf("tool_calls %q: %v", col, err)
	}
	return calls
}

// sameCalls fails unless the logged calls are the SDK's, arguments compared as JSON.
func sameCalls(t *testing.T, logged []provider.ToolCall, got []*genai.FunctionCall) {
	t.Helper()
	if len(logged) != len(got) {
		t.Fatalf("logged %d calls, client got %d", len(logged), len(got))
	}
	for i, c := range got {
		var args map[string]any
		if err := json.Unmarshal([]byte(logged[i].Function.Arguments), &args); err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(c.Args)
		have, _ := json.Marshal(args)
		if logged[i].Function.Name != c.Name || string(want) != string(have) || logged[i].Type != "function" {
			t.Errorf("call %d: logged %+v, client %s %s", i, logged[i], c.Name, want)
		}
	}
}

func TestFunctionCalling(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cfg := &genai.GenerateContentConfig{Tools: weatherTools()}
	contents := genai.Text("Paris: use tools")
	got, err := e.client.Models.GenerateContent(ctx, "gemini-2.5-flash", contents, cfg)
	if err != nil {
		t.Fatal(err)
	}
	calls := got.FunctionCalls()
	if len(calls) != 2 || calls[0].Name != "get_weather" || calls[0].Args["location"] != "Paris: use tools" {
		t.Fatalf("calls %+v", calls)
	}
	_, resp := e.rows("response")
	sameCalls(t, loggedCalls(t, resp.ToolCalls), calls)
	if resp.Content != "" || resp.CompletionTokens == 0 || resp.TokensEstimated {
		t.Errorf("row content %q tokens %d", resp.Content, resp.CompletionTokens)
	}

	// The second turn sends the function results back; the user's text is still the last.
	contents = append(contents, got.Candidates[0].Content,
		genai.NewContentFromFunctionResponse("get_weather", map[string]any{"temp": 21}, genai.RoleUser))
	if _, err := e.client.Models.GenerateContent(ctx, "gemini-2.5-flash", contents, &genai.GenerateContentConfig{Tools: weatherTools()}); err != nil {
		t.Fatal(err)
	}
	req, _ := e.rows("response")
	if req.Content != "Paris: use tools" {
		t.Errorf("second turn request content %q", req.Content)
	}

	// Streamed, three calls forced by the fake.
	cfg.HTTPOptions = withHeaders("x-fake-tool-calls", "3")
	var streamed []*genai.FunctionCall
	for chunk, err := range e.client.Models.GenerateContentStream(ctx, "gemini-2.5-flash", genai.Text("weather"), cfg) {
		if err != nil {
			t.Fatal(err)
		}
		streamed = append(streamed, chunk.FunctionCalls()...)
	}
	if len(streamed) != 3 {
		t.Fatalf("stream: %d calls", len(streamed))
	}
	_, resp = e.rows("response")
	sameCalls(t, loggedCalls(t, resp.ToolCalls), streamed)
}

func TestCountTokensEmbedAndModels(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ct, err := e.client.Models.CountTokens(ctx, "gemini-2.5-flash", genai.Text("how many tokens"), nil)
	if err != nil || ct.TotalTokens == 0 {
		t.Fatalf("count %+v %v", ct, err)
	}
	req, resp := e.rows("response")
	if req.Endpoint != "/v1beta/models/gemini-2.5-flash:countTokens" || req.Content != "how many tokens" || resp.StatusCode != 200 ||
		resp.PromptTokens != 0 || resp.CompletionTokens != 0 || resp.TokensEstimated {
		t.Errorf("countTokens rows %+v %+v", req, resp)
	}

	emb, err := e.client.Models.EmbedContent(ctx, "gemini-embedding-001",
		[]*genai.Content{genai.NewContentFromText("alpha", ""), genai.NewContentFromText("beta", "")}, nil)
	if err != nil || len(emb.Embeddings) != 2 || len(emb.Embeddings[0].Values) != 3072 {
		t.Fatalf("embed %v", err)
	}
	req, resp = e.rows("response")
	if req.Endpoint != "/v1beta/models/gemini-embedding-001:batchEmbedContents" || req.Model != "gemini-embedding-001" || req.Content != "alpha\nbeta" {
		t.Errorf("embed request row %+v", req)
	}
	// The API reports no usage for embeddings: the proxy estimates the input, and says so.
	if resp.PromptTokens == 0 || !resp.TokensEstimated || !bytes.Contains(resp.RawBody, []byte(`"embeddings"`)) {
		t.Errorf("embed response row tokens %d estimated %v", resp.PromptTokens, resp.TokensEstimated)
	}

	var names []string
	for m, err := range e.client.Models.All(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, m.Name)
	}
	if len(names) != 5 {
		t.Fatalf("models %v", names)
	}
	req, resp = e.rows("response")
	if req.Endpoint != "/v1beta/models" || resp.StatusCode != 200 || !bytes.Contains(resp.RawBody, []byte(names[0])) {
		t.Errorf("models rows %+v %+v", req, resp)
	}
}

func TestErrors(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, tc := range []struct {
		status int
		code   string
	}{{400, "INVALID_ARGUMENT"}, {429, "RESOURCE_EXHAUSTED"}, {500, "INTERNAL"}, {503, "UNAVAILABLE"}} {
		cfg := &genai.GenerateContentConfig{HTTPOptions: withHeaders("x-fake-status", itoa(tc.status))}
		_, err := e.client.Models.GenerateContent(ctx, "gemini-2.5-flash", genai.Text("x"), cfg)
		var apiErr genai.APIError
		if !errors.As(err, &apiErr) || apiErr.Code != tc.status || apiErr.Status != tc.code {
			t.Fatalf("%d: %#v", tc.status, err)
		}
		_, row := e.rows("error")
		if row.StatusCode != tc.status || row.Content != apiErr.Message {
			t.Errorf("%d: error row %d %q", tc.status, row.StatusCode, row.Content)
		}
	}

	// An invalid body is refused by the proxy itself, in the Gemini shape.
	hits := e.fake.Hits()
	resp, body := e.do("POST", "/v1beta/models/gemini-2.5-flash:generateContent", `{"contents": [`, "x-goog-api-key", clientKey)
	var ge struct{ Error genai.APIError }
	if resp.StatusCode != 400 || json.Unmarshal(body, &ge) != nil || ge.Error.Code != 400 || ge.Error.Status != "INVALID_ARGUMENT" || ge.Error.Message == "" {
		t.Fatalf("invalid json: %d %s", resp.StatusCode, body)
	}
	recs := e.h.Rows(e.h.RequestID(resp))
	if row := e.h.Row(recs, "error"); row.StatusCode != 400 || row.Content != ge.Error.Message {
		t.Errorf("error row %+v", row)
	}
	// For a JSON array stream the error is in an array, as the API sends it.
	resp, body = e.do("POST", "/v1beta/models/gemini-2.5-flash:streamGenerateContent", `nope`, "x-goog-api-key", clientKey)
	var arr []struct{ Error genai.APIError }
	if resp.StatusCode != 400 || json.Unmarshal(body, &arr) != nil || len(arr) != 1 || arr[0].Error.Status != "INVALID_ARGUMENT" {
		t.Fatalf("invalid json, array stream: %d %s", resp.StatusCode, body)
	}
	if e.fake.Hits() != hits {
		t.Errorf("invalid bodies reached the upstream")
	}

	// A wrong proxy key: the upstream's 400 API_KEY_INVALID comes back as it was.
	bad := newEnv(t, func(o *aiproxy.Options) {
		o.Providers = []provider.Provider{gemini.New(gemini.Options{BaseURL: e.up.URL, APIKey: "AIzaSy-wrong-key-000000000000"})}
	})
	_, err := bad.client.Models.GenerateContent(ctx, "gemini-2.5-flash", genai.Text("x"), nil)
	var apiErr genai.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != 400 || !strings.Contains(apiErr.Message, "API key not valid") || len(apiErr.Details) == 0 {
		t.Fatalf("wrong key: %#v", err)
	}
	if _, row := bad.rows("error"); row.Content != "API key not valid. Please pass a valid API key." {
		t.Errorf("error row content %q", row.Content)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestUpstreamCutsStream(t *testing.T) {
	e := newEnv(t)
	cfg := &genai.GenerateContentConfig{HTTPOptions: withHeaders("x-fake-chunks", "5", "x-fake-cut-after", "2")}
	var err error
	for _, err = range e.client.Models.GenerateContentStream(context.Background(), "gemini-2.5-flash", genai.Text("cut"), cfg) {
		if err != nil {
			break
		}
	}
	if err == nil {
		t.Fatal("a cut stream read as whole")
	}
	_, row := e.rows("error")
	if !strings.Contains(row.Content, "ended early") || len(row.ChunkTimes) != 2 {
		t.Errorf("error row %q chunks %v", row.Content, row.ChunkTimes)
	}
}

// blocked answers requests whose text says "block me" itself.
func blocked(o *aiproxy.Options) {
	o.RequestFilters = append(o.RequestFilters, aiproxy.RequestFilterFunc(func(ctx context.Context, x *aiproxy.Exchange) (*aiproxy.Reply, error) {
		if !bytes.Contains(x.Request.Body, []byte("block me")) {
			return nil, nil
		}
		return &aiproxy.Reply{Text: "this request was answered by a filter",
			ToolCalls: []provider.ToolCall{{ID: "f1", Type: "function", Function: provider.FunctionCall{Name: "notify", Arguments: `{"who":"admin"}`}}},
			Usage:     &provider.Usage{InputTokens: 3, OutputTokens: 4}}, nil
	}))
}

func TestFilterReplies(t *testing.T) {
	e := newEnv(t, blocked)
	ctx := context.Background()
	got, err := e.client.Models.GenerateContent(ctx, "gemini-2.5-flash", genai.Text("block me"), nil)
	if err != nil {
		t.Fatal(err)
	}
	parts := got.Candidates[0].Content.Parts
	if len(parts) != 2 || parts[0].Text != "this request was answered by a filter" || parts[1].FunctionCall.Name != "notify" ||
		parts[1].FunctionCall.Args["who"] != "admin" || got.ModelVersion != "gemini-2.5-flash" || got.UsageMetadata.TotalTokenCount != 7 {
		t.Fatalf("reply %+v", got)
	}
	_, resp := e.rows("response")
	if resp.Content != "this request was answered by a filter" || len(loggedCalls(t, resp.ToolCalls)) != 1 {
		t.Errorf("row %+v", resp)
	}

	var text string
	var calls []*genai.FunctionCall
	n := 0
	for chunk, err := range e.client.Models.GenerateContentStream(ctx, "gemini-2.5-flash", genai.Text("block me"), nil) {
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range chunk.Candidates[0].Content.Parts {
			text += p.Text
		}
		calls = append(calls, chunk.FunctionCalls()...)
		n++
	}
	if text != "this request was answered by a filter" || len(calls) != 1 || n != 2 {
		t.Fatalf("stream reply %q %d calls over %d chunks", text, len(calls), n)
	}

	// The JSON array form, for clients that stream without alt=sse.
	resp2, body := e.do("POST", "/v1beta/models/gemini-2.5-flash:streamGenerateContent", `{"contents":[{"parts":[{"text":"block me"}]}]}`, "x-goog-api-key", clientKey)
	var arr []genai.GenerateContentResponse
	if resp2.StatusCode != 200 || json.Unmarshal(body, &arr) != nil || len(arr) != 2 || arr[1].FunctionCalls()[0].Name != "notify" {
		t.Fatalf("array reply %d %s", resp2.StatusCode, body)
	}
	if e.fake.Hits() != 0 {
		t.Errorf("the upstream was called %d times", e.fake.Hits())
	}
}

// shout upper-cases the model's text when it contains "shout": a response filter that
// changes the body, and so holds streams.
func shout(o *aiproxy.Options) {
	o.ResponseFilters = append(o.ResponseFilters, aiproxy.ResponseFilterFunc(func(ctx context.Context, x *aiproxy.Exchange, resp *aiproxy.Response) error {
		var r genai.GenerateContentResponse
		if err := json.Unmarshal(resp.Body, &r); err != nil || len(r.Candidates) == 0 {
			return err
		}
		changed := false
		for _, p := range r.Candidates[0].Content.Parts {
			if strings.Contains(p.Text, "shout") {
				p.Text = strings.ToUpper(p.Text)
				changed = true
			}
		}
		if changed {
			b, err := json.Marshal(&r)
			resp.Body = b
			return err
		}
		return nil
	}))
}

func TestResponseFilter(t *testing.T) {
	e := newEnv(t, shout)
	ctx := context.Background()
	got, err := e.client.Models.GenerateContent(ctx, "gemini-2.5-flash", genai.Text("shout"), nil)
	if err != nil || got.Text() != "HELLO! YOU SAID: SHOUT" {
		t.Fatalf("%q %v", got.Text(), err)
	}
	var text strings.Builder
	for chunk, err := range e.client.Models.GenerateContentStream(ctx, "gemini-2.5-flash", genai.Text("shout"), nil) {
		if err != nil {
			t.Fatal(err)
		}
		text.WriteString(chunk.Text())
	}
	if text.String() != "HELLO! YOU SAID: SHOUT" {
		t.Fatalf("held stream %q", text.String())
	}
	_, row := e.rows("response")
	if row.Content != "HELLO! YOU SAID: SHOUT" || row.PromptTokens == 0 || row.TokensEstimated {
		t.Errorf("held stream row %q %d", row.Content, row.PromptTokens)
	}
	// Left unchanged, a held stream reaches the client exactly as the upstream sent it.
	resp, body := e.do("POST", "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", `{"contents":[{"parts":[{"text":"quiet"}]}]}`,
		"x-goog-api-key", clientKey, "x-fake-chunks", "4")
	if resp.StatusCode != 200 || bytes.Count(body, []byte("\r\n\r\n")) != 4 {
		t.Fatalf("unchanged held stream %q", body)
	}
	row = e.h.Row(e.h.Rows(e.h.RequestID(resp)), "response")
	if !bytes.Equal(row.RawBody, body) {
		t.Errorf("client got %q, upstream sent %q", body, row.RawBody)
	}
}

func TestReplay(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cfg := &genai.GenerateContentConfig{Tools: weatherTools(), HTTPOptions: withHeaders("x-fake-thoughts", "4")}
	orig, err := e.client.Models.GenerateContent(ctx, "gemini-2.5-flash", genai.Text("Tokyo: use tools"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	id := e.lastID()
	hits := e.fake.Hits()

	cfg.HTTPOptions = withHeaders("x-aiproxy-replay", id)
	got, err := e.client.Models.GenerateContent(ctx, "gemini-2.5-flash", genai.Text("anything"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if e.fake.Hits() != hits || e.lastID() == id {
		t.Fatal("replay called the upstream or reused the id")
	}
	oc, gc := orig.FunctionCalls(), got.FunctionCalls()
	if len(gc) != len(oc) || len(gc) != 2 {
		t.Fatalf("replayed %d calls, original %d", len(gc), len(oc))
	}
	for i := range oc {
		ob, _ := json.Marshal(oc[i].Args)
		gb, _ := json.Marshal(gc[i].Args)
		if oc[i].Name != gc[i].Name || string(ob) != string(gb) {
			t.Errorf("call %d: replayed %s %s, original %s %s", i, gc[i].Name, gb, oc[i].Name, ob)
		}
	}
	ou, gu := orig.UsageMetadata, got.UsageMetadata
	if gu.PromptTokenCount != ou.PromptTokenCount || gu.CandidatesTokenCount != ou.CandidatesTokenCount || gu.ThoughtsTokenCount != ou.ThoughtsTokenCount ||
		got.ModelVersion != orig.ModelVersion {
		t.Errorf("replayed usage %+v model %q, original %+v %q", gu, got.ModelVersion, ou, orig.ModelVersion)
	}

	// A text answer replayed to a streaming client.
	if _, err := e.client.Models.GenerateContent(ctx, "gemini-2.5-flash", genai.Text("remember me"), nil); err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	for chunk, err := range e.client.Models.GenerateContentStream(ctx, "gemini-2.5-flash", genai.Text("x"),
		&genai.GenerateContentConfig{HTTPOptions: withHeaders("x-aiproxy-replay", e.lastID())}) {
		if err != nil {
			t.Fatal(err)
		}
		text.WriteString(chunk.Text())
	}
	if text.String() != "Hello! You said: remember me" {
		t.Fatalf("stream replay %q", text.String())
	}

	_, err = e.client.Models.GenerateContent(ctx, "gemini-2.5-flash", genai.Text("x"), &genai.GenerateContentConfig{HTTPOptions: withHeaders("x-aiproxy-replay", "nope")})
	var apiErr genai.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != 404 || apiErr.Status != "NOT_FOUND" {
		t.Fatalf("unknown replay id: %#v", err)
	}
}

// Without alt=sse the stream is one JSON array, relayed byte for byte.
func TestJSONArrayStream(t *testing.T) {
	e := newEnv(t)
	resp, body := e.do("POST", "/v1beta/models/gemini-2.5-flash:streamGenerateContent", `{"contents":[{"parts":[{"text":"array please"}]}]}`,
		"x-goog-api-key", clientKey, "x-fake-chunks", "4")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var chunks []genai.GenerateContentResponse
	if err := json.Unmarshal(body, &chunks); err != nil || len(chunks) != 4 {
		t.Fatalf("%v: %q", err, body)
	}
	recs := e.h.Rows(e.h.RequestID(resp))
	row := e.h.Row(recs, "response")
	if !bytes.Equal(row.RawBody, body) || !bytes.HasPrefix(body, []byte("[{\n")) || !bytes.Contains(body, []byte("\n}\n,\r\n{\n")) {
		t.Fatalf("client got %q, upstream sent %q", body, row.RawBody)
	}
	if row.Content != "Hello! You said: array please" || row.TokensEstimated || row.PromptTokens == 0 || !row.Stream {
		t.Errorf("row %q tokens %d estimated %v", row.Content, row.PromptTokens, row.TokensEstimated)
	}
	// Four elements and the closing bracket.
	if len(row.ChunkTimes) != 5 {
		t.Errorf("chunk_times %v", row.ChunkTimes)
	}
}

// Each element of a JSON array stream reaches the client as soon as it is complete, while
// the upstream is still generating the next.
func TestJSONArrayStreamFlushesEachElement(t *testing.T) {
	const first = "[{\n  \"candidates\": [\n    {\n      \"content\": {\n        \"parts\": [\n          {\n            \"text\": \"Hel\"\n          }\n        ],\n        \"role\": \"model\"\n      },\n      \"index\": 0\n    }\n  ]\n}"
	const rest = "\n,\r\n{\n  \"candidates\": [\n    {\n      \"content\": {\n        \"parts\": [\n          {\n            \"text\": \"lo\"\n          }\n        ],\n        \"role\": \"model\"\n      },\n      \"finishReason\": \"STOP\",\n      \"index\": 0\n    }\n  ]\n}\n]"
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		_, _ = io.WriteString(w, first)
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, rest)
	}))
	defer up.Close()
	defer close(release)
	h := testproxy.New(t, aiproxy.Options{Providers: []provider.Provider{gemini.New(gemini.Options{BaseURL: up.URL})}})
	resp, err := http.Post(h.URL()+"/v1beta/models/gemini-2.5-flash:streamGenerateContent?key="+clientKey, "application/json",
		strings.NewReader(`{"contents":[{"parts":[{"text":"hi"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := make([]byte, len(first))
	done := make(chan error, 1)
	go func() { _, err := io.ReadFull(resp.Body, got); done <- err }()
	select {
	case err := <-done:
		if err != nil || string(got) != first {
			t.Fatalf("first element %q, %v", got, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the first element was held back until the upstream sent more")
	}
	release <- struct{}{}
	tail, err := io.ReadAll(resp.Body)
	if err != nil || string(tail) != rest {
		t.Fatalf("rest %q, %v", tail, err)
	}
}

func TestGoogleAIStudioPrefix(t *testing.T) {
	e := newEnv(t)
	c := e.newClient(e.h.URL()+"/googleaistudio/", clientKey)
	got, err := c.Models.GenerateContent(context.Background(), "gemini-2.5-flash", genai.Text("prefixed"), nil)
	if err != nil || got.Text() != "Hello! You said: prefixed" {
		t.Fatalf("%v %+v", err, got)
	}
	if p := e.fake.Requests()[0].Path; p != "/v1beta/models/gemini-2.5-flash:generateContent" {
		t.Errorf("upstream path %q", p)
	}
	req, _ := e.rows("response")
	if req.Endpoint != "/v1beta/models/gemini-2.5-flash:generateContent" || req.Provider != "gemini" {
		t.Errorf("request row %+v", req)
	}
	// The stable API version too.
	v1, err := genai.NewClient(context.Background(), &genai.ClientConfig{APIKey: clientKey, Backend: genai.BackendGeminiAPI,
		HTTPOptions: genai.HTTPOptions{BaseURL: e.h.URL() + "/", APIVersion: "v1"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v1.Models.GenerateContent(context.Background(), "gemini-2.5-flash", genai.Text("stable"), nil); err != nil {
		t.Fatal(err)
	}
	if p := e.fake.Requests()[1].Path; p != "/v1/models/gemini-2.5-flash:generateContent" {
		t.Errorf("upstream path %q", p)
	}
}

func TestKeyInQuery(t *testing.T) {
	e := newEnv(t)
	resp, body := e.do("POST", "/v1beta/models/gemini-2.5-flash:generateContent?key="+clientKey, `{"contents":[{"parts":[{"text":"query key"}]}]}`)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	up := e.fake.Requests()[0]
	if up.Header.Get("X-Goog-Api-Key") != upstreamKey || up.RawQuery != "" {
		t.Fatalf("upstream key %q query %q", up.Header.Get("X-Goog-Api-Key"), up.RawQuery)
	}
	recs := e.h.Rows(e.h.RequestID(resp))
	noSecrets(t, recs...)

	// Without a key of its own the proxy forwards the client's, in the header.
	fwdFake := fakegemini.New(fakegemini.Options{APIKey: clientKey})
	fwdUp := httptest.NewServer(fwdFake)
	defer fwdUp.Close()
	fwd := newEnv(t, func(o *aiproxy.Options) {
		o.Providers = []provider.Provider{gemini.New(gemini.Options{BaseURL: fwdUp.URL})}
		o.Secrets = nil
	})
	resp, body = fwd.do("POST", "/v1beta/models/gemini-2.5-flash:generateContent?alt=json&key="+clientKey, `{"contents":[{"parts":[{"text":"forward"}]}]}`)
	if resp.StatusCode != 200 {
		t.Fatalf("forwarded key: %d %s", resp.StatusCode, body)
	}
	got := fwdFake.Requests()[0]
	if got.Header.Get("X-Goog-Api-Key") != clientKey || got.RawQuery != "alt=json" {
		t.Fatalf("forwarded key %q query %q", got.Header.Get("X-Goog-Api-Key"), got.RawQuery)
	}
	noSecrets(t, fwd.h.Rows(fwd.h.RequestID(resp))...)
}

// The OpenAI provider, registered after Gemini, keeps /v1/models unless a Gemini key is sent.
func TestRoutesBesideOpenAI(t *testing.T) {
	e := newEnv(t)
	resp, body := e.do("GET", "/v1/models", "")
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`"object": "list"`)) && !bytes.Contains(body, []byte(`"object":"list"`)) {
		t.Fatalf("openai models: %d %s", resp.StatusCode, body)
	}
	if e.fake.Hits() != 0 {
		t.Fatal("gemini served the OpenAI model list")
	}
	resp, body = e.do("GET", "/v1/models", "", "x-goog-api-key", clientKey)
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`"models/gemini-2.5-flash"`)) {
		t.Fatalf("gemini models: %d %s", resp.StatusCode, body)
	}
	row := e.h.Row(e.h.Rows(e.h.RequestID(resp)), "request")
	if row.Provider != "gemini" || row.Endpoint != "/v1/models" {
		t.Errorf("row %s %s", row.Provider, row.Endpoint)
	}
}
