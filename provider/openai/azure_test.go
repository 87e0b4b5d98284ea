package openai

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aiproxy-go/aiproxy/provider"
)

func TestAzureMatch(t *testing.T) {
	a := NewAzure(AzureOptions{Endpoint: "https://res.openai.azure.com"})
	tests := []struct {
		path, query string
		header      []string
		want        string // "" for not matched
	}{
		{path: "/openai/deployments/gpt-4o/chat/completions", query: "api-version=2024-10-21", want: "/openai/deployments/gpt-4o/chat/completions"},
		{path: "/openai/deployments/gpt-4o/embeddings", want: "/openai/deployments/gpt-4o/embeddings"},
		{path: "/openai/deployments/my.dep_1/audio/transcriptions", header: []string{"Authorization", "Bearer entra"}, want: "/openai/deployments/my.dep_1/audio/transcriptions"},
		{path: "/azure/openai/v1/chat/completions", header: []string{"Authorization", "Bearer k"}, want: "/openai/v1/chat/completions"},
		{path: "/azure/openai/deployments/d/completions", want: "/openai/deployments/d/completions"},
		{path: "/openai/v1/chat/completions", header: []string{"Api-Key", "k"}, want: "/openai/v1/chat/completions"},
		{path: "/openai/responses", query: "api-version=2025-04-01-preview", header: []string{"Authorization", "Bearer entra"}, want: "/openai/responses"},
		{path: "/openai/files", query: "x=1&api-version=2024-10-21", want: "/openai/files"},
		// Left to the OpenAI provider: an OpenAI client's call.
		{path: "/openai/v1/chat/completions", header: []string{"Authorization", "Bearer sk-openai"}},
		{path: "/openai/v1/chat/completions", query: "api-versionx=1"},
		{path: "/openai/models"},
		{path: "/v1/chat/completions", header: []string{"Api-Key", "k"}},
		{path: "/chat/completions", query: "api-version=2024-10-21"},
		{path: "/openai/deployments/", header: []string{"Api-Key", "k"}, want: "/openai/deployments/"},
		{path: "/openai/deployments//chat/completions"},
		{path: "/openai/"},
		{path: "/azure/openai/"},
		{path: "/azure/openai"},
		{path: "/azurex/openai/v1/chat/completions"},
		// Dot segments would reach other paths of the resource with the proxy's key.
		{path: "/openai/deployments/../../admin", header: []string{"Api-Key", "k"}},
		{path: "/azure/openai/v1/./x"},
	}
	for _, tc := range tests {
		r, err := http.NewRequest("POST", "http://proxy"+tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		r.URL.RawQuery = tc.query
		for i := 0; i+1 < len(tc.header); i += 2 {
			r.Header.Set(tc.header[i], tc.header[i+1])
		}
		got, ok := a.Match(r)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("Match(%s?%s %v) = %q %v, want %q", tc.path, tc.query, tc.header, got, ok, tc.want)
		}
	}

	// Another Azure provider serves only its own prefix.
	eu := NewAzure(AzureOptions{Name: "azure-eu"})
	for path, want := range map[string]string{
		"/azure-eu/openai/deployments/d/chat/completions": "/openai/deployments/d/chat/completions",
		"/openai/deployments/d/chat/completions":          "",
		"/azure/openai/v1/chat/completions":               "",
	} {
		r, _ := http.NewRequest("POST", "http://proxy"+path, nil)
		r.Header.Set("Api-Key", "k")
		if got, ok := eu.Match(r); got != want || ok != (want != "") {
			t.Errorf("azure-eu Match(%s) = %q %v, want %q", path, got, ok, want)
		}
	}
	if eu.Name() != "azure-eu" || a.Name() != "azure" {
		t.Errorf("names %q %q", eu.Name(), a.Name())
	}
}

// prepare runs Parse and Prepare as the proxy does.
func prepare(t *testing.T, a *Azure, method, endpoint, query, body string, header http.Header) (*provider.Request, *http.Request) {
	t.Helper()
	if header == nil {
		header = http.Header{}
	}
	req := &provider.Request{Method: method, Endpoint: endpoint, RawQuery: query, Header: header}
	if body != "" {
		req.Body = []byte(body)
	}
	if err := a.Parse(req); err != nil {
		t.Fatal(err)
	}
	up, err := a.Prepare(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return req, up
}

func TestAzurePrepareCredentials(t *testing.T) {
	a := NewAzure(AzureOptions{Endpoint: "https://res.openai.azure.com/openai/", APIKey: "proxy-key",
		Deployments: map[string]AzureDeployment{
			"eu-gpt":   {Endpoint: "https://eu.openai.azure.com", APIKey: "eu-key"},
			"same-key": {Endpoint: "https://other.openai.azure.com/"},
		}})
	tests := []struct {
		name, endpoint, query, body string
		header                      http.Header
		url, key                    string
	}{
		{name: "api-key replaced", endpoint: "/openai/deployments/gpt-4o/chat/completions", query: "api-version=2024-10-21",
			header: http.Header{"Api-Key": {"client-key"}}, url: "https://res.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21", key: "proxy-key"},
		{name: "bearer removed", endpoint: "/openai/deployments/gpt-4o/embeddings", query: "api-version=2024-02-01",
			header: http.Header{"Authorization": {"Bearer client-key"}}, url: "https://res.openai.azure.com/openai/deployments/gpt-4o/embeddings?api-version=2024-02-01", key: "proxy-key"},
		{name: "deployment override", endpoint: "/openai/deployments/eu-gpt/chat/completions", query: "api-version=2024-10-21",
			header: http.Header{"Api-Key": {"client-key"}}, url: "https://eu.openai.azure.com/openai/deployments/eu-gpt/chat/completions?api-version=2024-10-21", key: "eu-key"},
		{name: "override keeps the default key", endpoint: "/openai/deployments/same-key/completions", query: "api-version=2024-10-21",
			url: "https://other.openai.azure.com/openai/deployments/same-key/completions?api-version=2024-10-21", key: "proxy-key"},
		{name: "v1 override by model", endpoint: "/openai/v1/chat/completions", body: `{"model":"eu-gpt","messages":[]}`,
			header: http.Header{"Authorization": {"Bearer client-key"}}, url: "https://eu.openai.azure.com/openai/v1/chat/completions", key: "eu-key"},
		{name: "v1 default", endpoint: "/openai/v1/embeddings", body: `{"model":"text-embedding-3-small","input":"x"}`,
			url: "https://res.openai.azure.com/openai/v1/embeddings", key: "proxy-key"},
		{name: "escaped path", endpoint: "/openai/deployments/my dep/chat/completions", query: "api-version=2024-10-21",
			url: "https://res.openai.azure.com/openai/deployments/my%20dep/chat/completions?api-version=2024-10-21", key: "proxy-key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.header == nil {
				tc.header = http.Header{}
			}
			tc.header.Set("X-Keep", "yes")
			_, up := prepare(t, a, "POST", tc.endpoint, tc.query, tc.body, tc.header)
			if up.URL.String() != tc.url {
				t.Errorf("url %s, want %s", up.URL, tc.url)
			}
			if got := up.Header.Values("Api-Key"); len(got) != 1 || got[0] != tc.key {
				t.Errorf("api-key %q, want %q", got, tc.key)
			}
			if up.Header.Get("Authorization") != "" || up.Header.Get("X-Keep") != "yes" {
				t.Errorf("headers %v", up.Header)
			}
		})
	}
}

func TestAzurePrepareWithoutKey(t *testing.T) {
	a := NewAzure(AzureOptions{Endpoint: "https://res.openai.azure.com"})
	_, up := prepare(t, a, "POST", "/openai/deployments/d/chat/completions", "api-version=2024-10-21", `{"messages":[]}`,
		http.Header{"Api-Key": {"client-key"}})
	if up.Header.Get("Api-Key") != "client-key" {
		t.Errorf("client's api-key not forwarded: %v", up.Header)
	}
	_, up = prepare(t, a, "GET", "/openai/v1/models", "", "", http.Header{"Authorization": {"Bearer entra-token"}})
	if up.Header.Get("Authorization") != "Bearer entra-token" || up.Header.Get("Api-Key") != "" || up.Body != nil {
		t.Errorf("entra token not forwarded as it is: %v", up.Header)
	}

	none := NewAzure(AzureOptions{Deployments: map[string]AzureDeployment{"d": {Endpoint: "https://d.openai.azure.com", APIKey: "k"}}})
	if _, up := prepare(t, none, "POST", "/openai/deployments/d/chat/completions", "api-version=2024-10-21", `{}`, nil); up.URL.Host != "d.openai.azure.com" {
		t.Errorf("deployment endpoint without a default: %s", up.URL)
	}
	req := &provider.Request{Method: "POST", Endpoint: "/openai/deployments/x/chat/completions", Header: http.Header{}}
	_, err := none.Prepare(context.Background(), req)
	var pe *provider.Error
	if !errors.As(err, &pe) || pe.Status != http.StatusInternalServerError {
		t.Fatalf("no endpoint: %v", err)
	}
	bad := NewAzure(AzureOptions{Endpoint: "res.openai.azure.com"})
	if _, err := bad.Prepare(context.Background(), req); !errors.As(err, &pe) || pe.Status != http.StatusInternalServerError {
		t.Fatalf("endpoint without scheme: %v", err)
	}
}

func TestAzurePrepareStreamUsage(t *testing.T) {
	a := NewAzure(AzureOptions{Endpoint: "https://res.openai.azure.com", APIKey: "k"})
	streamBody := `{"stream":true,"messages":[{"role":"user","content":"hi"}]}`
	tests := []struct {
		name, endpoint, query, body string
		added                       bool
	}{
		{"ga version", "/openai/deployments/d/chat/completions", "api-version=2024-10-21", streamBody, true},
		{"first preview", "/openai/deployments/d/chat/completions", "api-version=2024-09-01-preview", streamBody, true},
		{"newer preview", "/openai/deployments/d/completions", "api-version=2025-04-01-preview", `{"prompt":"x","stream":true}`, true},
		{"undated version", "/openai/deployments/d/chat/completions", "api-version=preview", streamBody, true},
		{"v1", "/openai/v1/chat/completions", "", `{"model":"d","stream":true,"messages":[]}`, true},
		{"older version", "/openai/deployments/d/chat/completions", "api-version=2024-08-01-preview", streamBody, false},
		{"old ga", "/openai/deployments/d/chat/completions", "api-version=2024-06-01", streamBody, false},
		{"no version", "/openai/deployments/d/chat/completions", "", streamBody, false},
		{"client asked", "/openai/deployments/d/chat/completions", "api-version=2024-10-21", `{"stream":true,"stream_options":{"include_usage":true},"messages":[]}`, false},
		{"not a stream", "/openai/deployments/d/chat/completions", "api-version=2024-10-21", `{"messages":[]}`, false},
		{"responses", "/openai/v1/responses", "", `{"model":"d","stream":true,"input":"x"}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, up := prepare(t, a, "POST", tc.endpoint, tc.query, tc.body, nil)
			sent, _ := io.ReadAll(up.Body)
			if got := strings.Contains(string(sent), `"include_usage":true`); got != (tc.added || strings.Contains(tc.body, "include_usage")) {
				t.Errorf("upstream body %s", sent)
			}
			st, _ := req.State.(*streamState)
			if added := st != nil && st.addedUsage; added != tc.added {
				t.Errorf("addedUsage = %v, want %v", added, tc.added)
			}
			if tc.added && !json.Valid(sent) {
				t.Errorf("invalid json upstream: %s", sent)
			}
			resp := &http.Response{Header: http.Header{"Content-Type": {"text/event-stream"}}}
			s, ok := a.NewStream(req, resp)
			if !ok || s.(*stream).addedUsage != tc.added {
				t.Errorf("stream %v %+v", ok, s)
			}
		})
	}
}

// An Azure stream with the usage the proxy asked for: the client gets Azure's stream as
// it would have without usage, prompt and content filter results included.
func TestAzureRelay(t *testing.T) {
	a := NewAzure(AzureOptions{Endpoint: "https://res.openai.azure.com", APIKey: "k"})
	req, _ := prepare(t, a, "POST", "/openai/deployments/d/chat/completions", "api-version=2024-10-21", `{"stream":true,"messages":[]}`, nil)
	s, ok := a.NewStream(req, &http.Response{Header: http.Header{"Content-Type": {"text/event-stream; charset=utf-8"}}})
	if !ok {
		t.Fatal("not a stream")
	}
	events := []struct{ in, out string }{
		{`data: {"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{}}]}`,
			`data: {"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{}}]}`},
		{`data: {"choices":[{"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}},"delta":{"content":"Hi"},"finish_reason":null,"index":0}],"created":1,"id":"c","model":"gpt-4o","object":"chat.completion.chunk","usage":null}`,
			`data: {"choices":[{"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}},"delta":{"content":"Hi"},"finish_reason":null,"index":0}],"created":1,"id":"c","model":"gpt-4o","object":"chat.completion.chunk"}`},
		{`data: {"choices":[],"created":1,"id":"c","model":"gpt-4o","object":"chat.completion.chunk","usage":{"completion_tokens":1,"prompt_tokens":2,"total_tokens":3}}`, ""},
		{`data: [DONE]`, `data: [DONE]`},
	}
	for _, ev := range events {
		got := s.Relay([]byte(ev.in + "\n\n"))
		want := ev.out + "\n\n"
		if ev.out == "" {
			want = ""
		}
		if string(got) != want {
			t.Errorf("Relay(%s) = %q, want %q", ev.in, got, want)
		}
	}
}

func TestAzureParseModel(t *testing.T) {
	a := NewAzure(AzureOptions{})
	for _, tc := range []struct{ endpoint, body, want string }{
		{"/openai/deployments/gpt-4o/chat/completions", `{"messages":[]}`, "gpt-4o"},
		{"/openai/deployments/gpt-4o/chat/completions", `{"model":"gpt-4o-mini","messages":[]}`, "gpt-4o-mini"},
		{"/openai/v1/chat/completions", `{"model":"dep","messages":[]}`, "dep"},
		{"/openai/v1/chat/completions", `{"messages":[]}`, ""},
	} {
		req := &provider.Request{Method: "POST", Endpoint: tc.endpoint, Header: http.Header{}, Body: []byte(tc.body)}
		if err := a.Parse(req); err != nil || req.Model != tc.want {
			t.Errorf("Parse(%s %s): model %q err %v, want %q", tc.endpoint, tc.body, req.Model, err, tc.want)
		}
		if s := a.SummarizeRequest(tc.endpoint, []byte(tc.body)); s.Model != tc.want {
			t.Errorf("SummarizeRequest(%s %s): model %q, want %q", tc.endpoint, tc.body, s.Model, tc.want)
		}
	}
	req := &provider.Request{Method: "POST", Endpoint: "/openai/deployments/d/chat/completions", Header: http.Header{}, Body: []byte(`{"model":`)}
	var pe *provider.Error
	if err := a.Parse(req); !errors.As(err, &pe) || pe.Status != http.StatusBadRequest {
		t.Errorf("malformed body: %v", err)
	}
}

func TestAzureSummarizeStream(t *testing.T) {
	a := NewAzure(AzureOptions{})
	body := readTestdata(t, "chat_stream_azure.sse")
	s := a.SummarizeResponse("/openai/deployments/gpt4o/chat/completions", body, true)
	if s.Model != "gpt-4o-2024-11-20" || s.Content != "Azure says hi." {
		t.Errorf("summary %+v", s)
	}
	e := a.SummarizeResponse("/openai/deployments/gpt4o/chat/completions",
		[]byte(`{"error":{"code":"DeploymentNotFound","message":"The API deployment for this resource does not exist."}}`), false)
	if e.Error != "The API deployment for this resource does not exist." {
		t.Errorf("error summary %+v", e)
	}
}

func TestAzureRenderAndError(t *testing.T) {
	a := NewAzure(AzureOptions{})
	req := &provider.Request{Method: "POST", Endpoint: "/openai/deployments/gpt-4o/chat/completions", Header: http.Header{}, Body: []byte(`{"messages":[]}`)}
	if err := a.Parse(req); err != nil {
		t.Fatal(err)
	}
	resp := a.Render(req, &provider.Reply{Text: "canned"})
	var c struct {
		Object, Model string
		Choices       []struct{ Message struct{ Content string } }
	}
	if err := json.Unmarshal(resp.Body, &c); err != nil || c.Object != "chat.completion" || c.Model != "gpt-4o" || c.Choices[0].Message.Content != "canned" {
		t.Errorf("rendered %s", resp.Body)
	}
	if req.Endpoint != "/openai/deployments/gpt-4o/chat/completions" {
		t.Errorf("Render changed the request's endpoint to %s", req.Endpoint)
	}
	r2 := &provider.Request{Method: "POST", Endpoint: "/openai/v1/responses", Header: http.Header{}, Body: []byte(`{"model":"d","input":"x"}`)}
	if err := a.Parse(r2); err != nil {
		t.Fatal(err)
	}
	if resp := a.Render(r2, &provider.Reply{Text: "r"}); !strings.Contains(string(resp.Body), `"object":"response"`) {
		t.Errorf("responses rendered %s", resp.Body)
	}

	for _, tc := range []struct {
		e    provider.Error
		code string
	}{
		{provider.Error{Status: 404, Message: "no route"}, "404"},
		{provider.Error{Status: 400, Code: "content_filter", Message: "filtered"}, "content_filter"},
	} {
		resp := a.Error(req, &tc.e)
		var e struct {
			Error struct{ Code, Message, Type string }
		}
		if err := json.Unmarshal(resp.Body, &e); err != nil || resp.Status != tc.e.Status || e.Error.Code != tc.code || e.Error.Message != tc.e.Message || e.Error.Type == "" {
			t.Errorf("Error(%+v) = %d %s", tc.e, resp.Status, resp.Body)
		}
	}
}

func TestOperationOf(t *testing.T) {
	for in, want := range map[string]string{
		"/openai/deployments/d/chat/completions": "/chat/completions",
		"/openai/deployments/d":                  "/",
		"/openai/v1/responses":                   "/responses",
		"/openai/files":                          "/files",
		"/other":                                 "/other",
	} {
		if got := operationOf(in); got != want {
			t.Errorf("operationOf(%s) = %s, want %s", in, got, want)
		}
	}
}
