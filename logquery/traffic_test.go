package logquery_test

import (
	"cmp"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/internal/fakeupstream"
	"github.com/aiproxy-go/aiproxy/logquery"
	"github.com/aiproxy-go/aiproxy/provider"
	provopenai "github.com/aiproxy-go/aiproxy/provider/openai"
)

const upstreamKey = "sk-upstream-logquery-0123456789"

// proxyTraffic sends three exchanges through a real proxy that logs into tdb, with the
// official OpenAI SDK: a chat completion, a streamed one and one the upstream fails with 500.
// It returns their request ids in that order, once every row is written.
func proxyTraffic(t *testing.T, tdb testDB) [3]string {
	t.Helper()
	up := httptest.NewServer(fakeupstream.NewOpenAI(fakeupstream.OpenAIOptions{APIKey: upstreamKey}))
	t.Cleanup(up.Close)
	p, err := aiproxy.New(aiproxy.Options{
		Providers: []provider.Provider{provopenai.New(provopenai.Options{APIKey: upstreamKey, BaseURL: up.URL + "/v1"})},
		Store:     tdb.store,
		Writer:    accesslog.WriterOptions{FlushInterval: 5 * time.Millisecond},
		Secrets:   []string{upstreamKey},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	client := openai.NewClient(option.WithBaseURL(srv.URL+"/v1/"), option.WithAPIKey("sk-client"), option.WithMaxRetries(0))
	ctx := context.Background()
	var ids [3]string
	params := func(model, text, user string) openai.ChatCompletionNewParams {
		p := openai.ChatCompletionNewParams{
			Model:    model,
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(text)},
		}
		if user != "" {
			p.User = openai.String(user)
		}
		return p
	}

	var resp *http.Response
	if _, err := client.Chat.Completions.New(ctx, params("gpt-4o", "first question", "alice"), option.WithResponseInto(&resp)); err != nil {
		t.Fatal(err)
	}
	ids[0] = resp.Header.Get(aiproxy.HeaderRequestID)

	// The stream is read to its end by hand: openai-go closes the body as soon as it has
	// [DONE], and the proxy may then log the exchange as 499 if the upstream's end had not
	// arrived yet.
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/v1/chat/completions", strings.NewReader(
		`{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"user":"bob",`+
			`"messages":[{"role":"user","content":"second question"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer sk-client")
	req.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || !strings.Contains(string(body), "[DONE]") {
		t.Fatalf("stream: %d %q %v", resp.StatusCode, body, err)
	}
	ids[1] = resp.Header.Get(aiproxy.HeaderRequestID)

	_, err = client.Chat.Completions.New(ctx, params("gpt-4o", "third question", ""),
		option.WithResponseInto(&resp), option.WithHeader(fakeupstream.HeaderStatus, "500"))
	if err == nil {
		t.Fatal("the failed call succeeded")
	}
	ids[2] = resp.Header.Get(aiproxy.HeaderRequestID)

	// The last rows are handed to the log writer as the handlers return, which can be after
	// the client has its answer: Close waits for the handlers, then the proxy drains its log.
	srv.Close()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := p.Close(cctx); err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		if id == "" {
			t.Fatalf("exchange %d has no request id", i)
		}
	}
	return ids
}

func TestQueriesOverProxiedTraffic(t *testing.T) {
	forEachDB(t, func(t *testing.T, tdb testDB) {
		ctx := context.Background()
		ids := proxyTraffic(t, tdb)

		list := func(f logquery.Filter) []logquery.Row {
			t.Helper()
			rows, err := logquery.List(ctx, tdb.db, tdb.dialect, f)
			if err != nil {
				t.Fatal(err)
			}
			return rows
		}
		dirs := func(rows []logquery.Row) string {
			var s []string
			for _, r := range rows {
				s = append(s, r.Direction)
			}
			return strings.Join(s, ",")
		}

		all := list(logquery.Filter{})
		if len(all) != 6 {
			t.Fatalf("%d rows, want 6", len(all))
		}
		if !slices.IsSortedFunc(all, func(a, b logquery.Row) int { return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(b.ID, a.ID)) }) {
			t.Error("rows are not newest first")
		}
		first := list(logquery.Filter{RequestID: ids[0]})
		if dirs(first) != "response,request" {
			t.Fatalf("rows of the first exchange: %s", dirs(first))
		}
		resp := first[0]
		if resp.Content != "Hello! You said: first question" || resp.Model == "" || resp.Provider != "openai" ||
			resp.User != "alice" || resp.StatusCode != 200 || resp.PromptTokens == 0 || resp.CompletionTokens == 0 ||
			resp.CostUSD <= 0 || resp.RequestTime <= 0 || resp.RawBody != "" || time.Since(resp.CreatedAt) > time.Minute {
			t.Errorf("response row %+v", resp)
		}

		if got := list(logquery.Filter{Model: "gpt-4o-mini", Direction: "response"}); len(got) != 1 || !got[0].Stream ||
			got[0].TimeToFirstToken <= 0 || got[0].RequestID != ids[1] {
			t.Errorf("streamed response: %+v", got)
		}
		if got := list(logquery.Filter{Text: "SECOND Question"}); len(got) != 2 || got[0].RequestID != ids[1] || got[1].RequestID != ids[1] {
			t.Errorf("text search found %+v", got)
		}
		if got := list(logquery.Filter{Text: "50%_off"}); len(got) != 0 {
			t.Errorf("LIKE wildcards in the text matched %d rows", len(got))
		}
		if got := list(logquery.Filter{Status: 500}); len(got) != 1 || got[0].RequestID != ids[2] {
			t.Errorf("status 500: %+v", got)
		}
		if got := list(logquery.Filter{User: "bob", Direction: "request"}); len(got) != 1 || got[0].RequestID != ids[1] {
			t.Errorf("user bob: %+v", got)
		}
		if got := list(logquery.Filter{Limit: 2}); len(got) != 2 || got[0].ID != all[0].ID || got[1].ID != all[1].ID {
			t.Errorf("limit 2: %+v", got)
		}
		if got := list(logquery.Filter{AfterID: all[2].ID}); len(got) != 2 {
			t.Errorf("after id %d: %d rows", all[2].ID, len(got))
		}
		if got := list(logquery.Filter{Since: time.Now().Add(time.Minute)}); len(got) != 0 {
			t.Errorf("since the future: %d rows", len(got))
		}
		if got := list(logquery.Filter{Since: time.Now().Add(-time.Minute), Until: time.Now().Add(time.Minute)}); len(got) != 6 {
			t.Errorf("since a minute ago: %d rows", len(got))
		}

		var exported []logquery.Row
		if err := logquery.Export(ctx, tdb.db, tdb.dialect, logquery.Filter{}, func(r logquery.Row) error {
			exported = append(exported, r)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(exported) != 6 || exported[0].ID != all[5].ID || exported[0].Direction != "request" ||
			!strings.Contains(exported[0].RawBody, "first question") || exported[0].RawHeaders == "" {
			t.Fatalf("export: %d rows, first %+v", len(exported), exported[0])
		}
		for _, r := range exported {
			if strings.Contains(r.RawHeaders+r.RawBody, upstreamKey) {
				t.Errorf("row %d shows the upstream key", r.ID)
			}
			if r.RequestID == ids[1] && r.Direction == "response" && (r.ChunkTimes == "" || !strings.Contains(r.RawBody, "data:")) {
				t.Errorf("streamed response exported without its chunks: %+v", r)
			}
		}

		groups, err := logquery.Stats(ctx, tdb.db, tdb.dialect, "model", logquery.Filter{Since: time.Now().Add(-time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		var mini logquery.Row
		for _, r := range all {
			if r.RequestID == ids[1] && r.Direction == "response" {
				mini = r
			}
		}
		if len(groups) != 2 {
			t.Fatalf("groups %+v", groups)
		}
		g4o, gmini := groups[0], groups[1]
		if !strings.HasPrefix(g4o.Key, "gpt-4o") || g4o.Requests != 2 || g4o.Errors != 1 || g4o.InputTokens < int64(resp.PromptTokens) || g4o.TTFTP50 != 0 {
			t.Errorf("gpt-4o: %+v", g4o)
		}
		if !strings.HasPrefix(gmini.Key, "gpt-4o-mini") || gmini.Requests != 1 || gmini.Errors != 0 ||
			gmini.InputTokens != int64(mini.PromptTokens) || gmini.OutputTokens != int64(mini.CompletionTokens) ||
			gmini.CostUSD != mini.CostUSD || gmini.LatencyP50 != mini.RequestTime || gmini.LatencyP95 != mini.RequestTime ||
			gmini.TTFTP50 != mini.TimeToFirstToken || gmini.TTFTP95 != mini.TimeToFirstToken {
			t.Errorf("gpt-4o-mini: %+v, row %+v", gmini, mini)
		}
		users, err := logquery.Stats(ctx, tdb.db, tdb.dialect, "user", logquery.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		byUser := map[string]int64{}
		for _, g := range users {
			byUser[g.Key] = g.Requests
		}
		if len(byUser) != 3 || byUser["alice"] != 1 || byUser["bob"] != 1 || byUser[""] != 1 {
			t.Errorf("by user: %+v", users)
		}
	})
}
