package gemini

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/genai"

	"github.com/aiproxy-go/aiproxy/provider"
)

func TestMatch(t *testing.T) {
	p := New(Options{})
	tests := []struct {
		method, target string
		header         string // an x-goog-api-key value
		want           string // "" when not matched
	}{
		{"POST", "/v1beta/models/gemini-2.5-flash:generateContent", "", "/v1beta/models/gemini-2.5-flash:generateContent"},
		{"POST", "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", "", "/v1beta/models/gemini-2.5-flash:streamGenerateContent"},
		{"GET", "/v1beta/models", "", "/v1beta/models"},
		{"POST", "/v1alpha/models/m:generateContent", "", "/v1alpha/models/m:generateContent"},
		{"POST", "/upload/v1beta/files", "", "/upload/v1beta/files"},
		{"POST", "/googleaistudio/v1beta/models/m:countTokens", "", "/v1beta/models/m:countTokens"},
		{"POST", "/gemini/v1/models/m:embedContent", "", "/v1/models/m:embedContent"},
		{"POST", "/v1/models/gemini-2.5-flash:generateContent", "", "/v1/models/gemini-2.5-flash:generateContent"},
		{"POST", "/v1/models/m:someNewMethod", "", "/v1/models/m:someNewMethod"},
		{"GET", "/v1/tunedModels/abc", "", "/v1/tunedModels/abc"},
		// OpenAI's, unless the request carries a Gemini key.
		{"GET", "/v1/models", "", ""},
		{"GET", "/v1/models", "AIzaKey", "/v1/models"},
		{"GET", "/v1/models?key=AIzaKey", "", "/v1/models"},
		{"GET", "/v1/models/gemini-2.5-flash?key=AIzaKey", "", "/v1/models/gemini-2.5-flash"},
		{"GET", "/v1/models/ft:gpt-4o-mini:org::abc123", "", ""},
		{"DELETE", "/v1/models/ft:gpt-4o-mini:org:custom:abc123", "", ""},
		{"POST", "/v1/chat/completions", "", ""},
		{"GET", "/v1/models?monkey=1", "", ""},
		{"POST", "/v1beta", "", ""},
		{"POST", "/v1beta/", "", ""},
		{"POST", "/googleaistudio", "", ""},
		{"POST", "/", "", ""},
	}
	for _, tc := range tests {
		r := httptest.NewRequest(tc.method, tc.target, nil)
		if tc.header != "" {
			r.Header.Set("x-goog-api-key", tc.header)
		}
		got, ok := p.Match(r)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("%s %s: %q %v, want %q", tc.method, tc.target, got, ok, tc.want)
		}
	}

	named := New(Options{Name: "gemini-eu"})
	if got, ok := named.Match(httptest.NewRequest("POST", "/gemini-eu/v1beta/models/m:generateContent", nil)); !ok || got != "/v1beta/models/m:generateContent" {
		t.Errorf("named provider: %q %v", got, ok)
	}
	for _, path := range []string{"/v1beta/models/m:generateContent", "/googleaistudio/v1beta/models/m:generateContent"} {
		if _, ok := named.Match(httptest.NewRequest("POST", path, nil)); ok {
			t.Errorf("a named provider claimed %s", path)
		}
	}
}

func TestStripKey(t *testing.T) {
	tests := []struct{ in, rest, key string }{
		{"", "", ""},
		{"alt=sse", "alt=sse", ""},
		{"key=abc", "", "abc"},
		{"alt=sse&key=a%2Bb&monkey=1", "alt=sse&monkey=1", "a+b"},
		{"key=first&key=second&x=%zz", "x=%zz", "first"},
		{"k%65y=enc", "", "enc"},
	}
	for _, tc := range tests {
		rest, key := stripKey(tc.in)
		if rest != tc.rest || key != tc.key {
			t.Errorf("stripKey(%q) = %q %q, want %q %q", tc.in, rest, key, tc.rest, tc.key)
		}
	}
}

func TestParse(t *testing.T) {
	p := New(Options{})
	req := &provider.Request{Method: "POST", Endpoint: "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
		RawQuery: "key=client-key&alt=sse", Header: http.Header{"Content-Type": {"application/json"}},
		Body: []byte(`{"contents":[]}`)}
	if err := p.Parse(req); err != nil {
		t.Fatal(err)
	}
	if req.Model != "gemini-2.5-flash" || !req.Stream || req.RawQuery != "alt=sse" || req.Header.Get("X-Goog-Api-Key") != "client-key" {
		t.Fatalf("parsed %+v", req)
	}
	// Parsing again (a filter's SetBody) keeps the key where Parse put it.
	if err := p.Parse(req); err != nil || req.Header.Get("X-Goog-Api-Key") != "client-key" || req.RawQuery != "alt=sse" {
		t.Fatalf("second parse %v %+v", err, req)
	}

	bad := &provider.Request{Method: "POST", Endpoint: "/v1beta/models/m:generateContent", Header: http.Header{}, Body: []byte(`{"contents": [`)}
	err := p.Parse(bad)
	var pe *provider.Error
	if !errors.As(err, &pe) || pe.Status != 400 || pe.Type != "INVALID_ARGUMENT" || !strings.HasPrefix(pe.Message, "invalid json payload received") {
		t.Fatalf("invalid json: %#v", err)
	}
	body := &provider.Request{Method: "POST", Endpoint: "/v1beta/cachedContents", Header: http.Header{}, Body: []byte(`{"model":"models/gemini-2.5-pro"}`)}
	if err := p.Parse(body); err != nil || body.Model != "gemini-2.5-pro" || body.Stream {
		t.Fatalf("model from body: %v %+v", err, body)
	}
}

func TestPrepare(t *testing.T) {
	tests := []struct {
		name, apiKey, query string
		header              http.Header
		wantURL, wantKey    string
		wantAuth            string
	}{
		{"proxy key replaces the header", "proxy-key", "alt=sse", http.Header{"X-Goog-Api-Key": {"client"}, "Authorization": {"Bearer ya29.client"}},
			"http://up.example/base/v1beta/models/m:streamGenerateContent?alt=sse", "proxy-key", ""},
		{"proxy key replaces the query", "proxy-key", "alt=sse&key=client", http.Header{},
			"http://up.example/base/v1beta/models/m:streamGenerateContent?alt=sse", "proxy-key", ""},
		{"client key moves to the header", "", "key=client&alt=sse", http.Header{"Authorization": {"Bearer ya29.client"}},
			"http://up.example/base/v1beta/models/m:streamGenerateContent?alt=sse", "client", "Bearer ya29.client"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := New(Options{APIKey: tc.apiKey, BaseURL: "http://up.example/base/"})
			req := &provider.Request{Method: "POST", Endpoint: "/v1beta/models/m:streamGenerateContent", RawQuery: tc.query,
				Header: tc.header, Body: []byte(`{"contents":[{"parts":[{"text":"x"}]}]}`)}
			if err := p.Parse(req); err != nil {
				t.Fatal(err)
			}
			up, err := p.Prepare(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if up.URL.String() != tc.wantURL || up.Header.Get("X-Goog-Api-Key") != tc.wantKey || up.Header.Get("Authorization") != tc.wantAuth {
				t.Fatalf("upstream %s key %q auth %q", up.URL, up.Header.Get("X-Goog-Api-Key"), up.Header.Get("Authorization"))
			}
			if strings.Contains(up.URL.String(), "client") {
				t.Fatalf("client key in the url %s", up.URL)
			}
			if b, _ := io.ReadAll(up.Body); string(b) != string(req.Body) {
				t.Fatalf("body changed: %s", b)
			}
		})
	}
	p := New(Options{BaseURL: "::not a url"})
	if _, err := p.Prepare(context.Background(), &provider.Request{Method: "GET", Endpoint: "/v1beta/models", Header: http.Header{}}); err == nil {
		t.Fatal("a bad base url built a request")
	}
}

func TestRender(t *testing.T) {
	p := New(Options{})
	reply := &provider.Reply{Text: "hi <there>", ToolCalls: []provider.ToolCall{
		{ID: "c1", Type: "function", Function: provider.FunctionCall{Name: "get_weather", Arguments: `{"location":"Paris"}`}},
		{Type: "function", Function: provider.FunctionCall{Name: "raw", Arguments: `not json`}},
	}, Usage: &provider.Usage{InputTokens: 10, OutputTokens: 7, CachedTokens: 2, ReasoningTokens: 3}}
	check := func(t *testing.T, chunks []genai.GenerateContentResponse) {
		t.Helper()
		var text string
		var calls []*genai.FunctionCall
		var last genai.GenerateContentResponse
		for _, c := range chunks {
			for _, part := range c.Candidates[0].Content.Parts {
				text += part.Text
			}
			calls = append(calls, c.FunctionCalls()...)
			last = c
		}
		u := last.UsageMetadata
		if text != "hi <there>" || len(calls) != 2 || calls[0].ID != "c1" || calls[0].Args["location"] != "Paris" || calls[1].Args["arguments"] != "not json" {
			t.Fatalf("text %q calls %+v", text, calls)
		}
		if u == nil || u.PromptTokenCount != 10 || u.CandidatesTokenCount != 4 || u.ThoughtsTokenCount != 3 || u.CachedContentTokenCount != 2 || u.TotalTokenCount != 17 {
			t.Fatalf("usage %+v", u)
		}
		if last.ModelVersion != "gemini-2.5-flash" || last.Candidates[0].FinishReason != genai.FinishReasonStop || last.Candidates[0].Content.Role != "model" {
			t.Fatalf("last chunk %+v", last)
		}
	}
	t.Run("body", func(t *testing.T) {
		req := &provider.Request{Endpoint: "/v1beta/models/gemini-2.5-flash:generateContent", Model: "gemini-2.5-flash"}
		resp := p.Render(req, reply)
		var r genai.GenerateContentResponse
		if err := json.Unmarshal(resp.Body, &r); err != nil {
			t.Fatal(err)
		}
		check(t, []genai.GenerateContentResponse{r})
		if resp.Status != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("%d %v", resp.Status, resp.Header)
		}
		// The round trip through the log's summary gives back what was rendered.
		s := summarizeResponse(req.Endpoint, resp.Body, false)
		if s.Content != reply.Text || *s.Usage != *reply.Usage || len(s.ToolCalls) != 2 || s.ToolCalls[0].ID != "c1" {
			t.Fatalf("summary of the rendered reply %+v", s)
		}
	})
	t.Run("sse", func(t *testing.T) {
		req := &provider.Request{Endpoint: "/v1beta/models/gemini-2.5-flash:streamGenerateContent", RawQuery: "alt=sse", Model: "gemini-2.5-flash", Stream: true}
		resp := p.Render(req, reply)
		if resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("content type %q", resp.Header.Get("Content-Type"))
		}
		var chunks []genai.GenerateContentResponse
		for _, ev := range feed(t, sseStream{}.Split, resp.Body, len(resp.Body)) {
			data, ok := strings.CutPrefix(string(ev), "data: ")
			if !ok || !strings.HasSuffix(data, "\r\n\r\n") {
				t.Fatalf("event %q", ev)
			}
			var r genai.GenerateContentResponse
			if err := json.Unmarshal([]byte(data), &r); err != nil {
				t.Fatal(err)
			}
			chunks = append(chunks, r)
		}
		check(t, chunks)
	})
	t.Run("json array", func(t *testing.T) {
		req := &provider.Request{Endpoint: "/v1beta/models/gemini-2.5-flash:streamGenerateContent", Model: "gemini-2.5-flash", Stream: true}
		resp := p.Render(req, reply)
		var chunks []genai.GenerateContentResponse
		if err := json.Unmarshal(resp.Body, &chunks); err != nil || len(chunks) != 2 {
			t.Fatalf("%v: %s", err, resp.Body)
		}
		check(t, chunks)
		if toks := feed(t, arrayStream{}.Split, resp.Body, 5); len(toks) != 3 {
			t.Fatalf("%d events", len(toks))
		}
	})
	t.Run("empty reply", func(t *testing.T) {
		resp := p.Render(&provider.Request{Endpoint: "/v1beta/models/m:generateContent", Model: "m"}, &provider.Reply{})
		var r genai.GenerateContentResponse
		if err := json.Unmarshal(resp.Body, &r); err != nil || r.Text() != "" || len(r.Candidates[0].Content.Parts) != 1 || r.ModelVersion != "m" {
			t.Fatalf("%v %s", err, resp.Body)
		}
	})
	t.Run("full body", func(t *testing.T) {
		resp := p.Render(&provider.Request{}, &provider.Reply{Body: []byte(`{}`), Status: 201})
		if resp.Status != 201 || string(resp.Body) != `{}` || resp.Header.Get("Content-Type") == "" {
			t.Fatalf("%+v", resp)
		}
	})
}

func TestError(t *testing.T) {
	p := New(Options{})
	tests := []struct {
		e      provider.Error
		status string
	}{
		{provider.Error{Status: 400, Type: "invalid_request_error", Message: "bad"}, "INVALID_ARGUMENT"},
		{provider.Error{Status: 401, Message: "who"}, "UNAUTHENTICATED"},
		{provider.Error{Status: 403, Message: "no"}, "PERMISSION_DENIED"},
		{provider.Error{Status: 404, Code: "replay_not_found", Message: "gone"}, "NOT_FOUND"},
		{provider.Error{Status: 413, Message: "big"}, "INVALID_ARGUMENT"},
		{provider.Error{Status: 429, Message: "slow"}, "RESOURCE_EXHAUSTED"},
		{provider.Error{Status: 500, Message: "oops"}, "INTERNAL"},
		{provider.Error{Status: 502, Message: "upstream unreachable"}, "UNAVAILABLE"},
		{provider.Error{Status: 503, Message: "busy"}, "UNAVAILABLE"},
		{provider.Error{Status: 504, Message: "late"}, "DEADLINE_EXCEEDED"},
		{provider.Error{Status: 400, Type: "FAILED_PRECONDITION", Message: "region"}, "FAILED_PRECONDITION"},
	}
	req := &provider.Request{Endpoint: "/v1beta/models/m:generateContent"}
	for _, tc := range tests {
		resp := p.Error(req, &tc.e)
		var body struct{ Error genai.APIError }
		if err := json.Unmarshal(resp.Body, &body); err != nil {
			t.Fatal(err)
		}
		if resp.Status != tc.e.Status || body.Error.Code != tc.e.Status || body.Error.Status != tc.status || body.Error.Message != tc.e.Message {
			t.Errorf("%d: %s", tc.e.Status, resp.Body)
		}
	}
	// A JSON array stream gets its error in an array, as the API sends it.
	resp := p.Error(&provider.Request{Endpoint: "/v1beta/models/m:streamGenerateContent"}, &provider.Error{Status: 400, Message: "bad"})
	var arr []struct{ Error genai.APIError }
	if err := json.Unmarshal(resp.Body, &arr); err != nil || len(arr) != 1 || arr[0].Error.Code != 400 {
		t.Fatalf("%v %s", err, resp.Body)
	}
	resp = p.Error(&provider.Request{Endpoint: "/v1beta/models/m:streamGenerateContent", RawQuery: "alt=sse"}, &provider.Error{Status: 400, Message: "bad"})
	if resp.Body[0] != '{' {
		t.Fatalf("sse request got %s", resp.Body)
	}
}

func TestNewStream(t *testing.T) {
	p := New(Options{})
	stream := &provider.Request{Endpoint: "/v1beta/models/m:streamGenerateContent"}
	generate := &provider.Request{Endpoint: "/v1beta/models/m:generateContent"}
	tests := []struct {
		req  *provider.Request
		ct   string
		want any
	}{
		{stream, "text/event-stream", sseStream{}},
		{stream, "application/json; charset=UTF-8", arrayStream{}},
		{generate, "application/json; charset=UTF-8", nil},
		{generate, "text/event-stream", sseStream{}},
		{stream, "text/html", nil},
	}
	for _, tc := range tests {
		st, ok := p.NewStream(tc.req, &http.Response{Header: http.Header{"Content-Type": {tc.ct}}})
		if ok != (tc.want != nil) || (ok && st != tc.want) {
			t.Errorf("%s %s: %T %v", tc.req.Endpoint, tc.ct, st, ok)
		}
	}
}
