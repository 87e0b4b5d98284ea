package aiproxy_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/filters"
	"github.com/aiproxy-go/aiproxy/internal/fakeupstream"
	"github.com/aiproxy-go/aiproxy/provider"
	provopenai "github.com/aiproxy-go/aiproxy/provider/openai"
)

// upstreamKey is the proxy's own OpenAI key; tests check it never reaches the log.
const upstreamKey = "sk-upstream-SECRET-0123456789abcdefXYZ"

// clientKey is what the SDKs send; the proxy must replace it.
const clientKey = "sk-client-key-9876543210"

// harness is the proxy under test, between an SDK client and the fake OpenAI upstream.
type harness struct {
	t      *testing.T
	fake   *fakeupstream.OpenAI
	up     *httptest.Server
	proxy  *aiproxy.Proxy
	srv    *httptest.Server
	store  *accesslog.SQLiteStore
	dbPath string
	client openai.Client
}

type harnessOption func(*aiproxy.Options)

func newHarness(t *testing.T, opts ...harnessOption) *harness {
	t.Helper()
	h := &harness{t: t}
	h.fake = fakeupstream.NewOpenAI(fakeupstream.OpenAIOptions{APIKey: upstreamKey})
	h.up = httptest.NewServer(h.fake)
	t.Cleanup(h.up.Close)
	h.dbPath = filepath.Join(t.TempDir(), "aiproxy.db")
	store, err := accesslog.OpenSQLite(h.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	h.store = store
	o := aiproxy.Options{
		Providers: []provider.Provider{provopenai.New(provopenai.Options{APIKey: upstreamKey, BaseURL: h.up.URL + "/v1"})},
		Store:     store,
		Secrets:   []string{upstreamKey},
		Writer:    accesslog.WriterOptions{FlushInterval: 5 * time.Millisecond},
	}
	for _, f := range opts {
		f(&o)
	}
	p, err := aiproxy.New(o)
	if err != nil {
		t.Fatal(err)
	}
	h.proxy = p
	if err := p.AddFilter(&filters.Replay{Source: p}); err != nil {
		t.Fatal(err)
	}
	h.srv = httptest.NewServer(p)
	t.Cleanup(func() {
		h.srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("drain log: %v", err)
		}
		store.Close()
	})
	h.client = openai.NewClient(
		option.WithBaseURL(h.srv.URL+"/v1/"),
		option.WithAPIKey(clientKey),
		option.WithMaxRetries(0),
	)
	return h
}

// rows returns the logged rows of one request id, waiting for the two rows (request and
// response or error) that every exchange has: a streamed response's row is written once
// the upstream closed, which may be just after the client read [DONE].
func (h *harness) rows(id string) []*accesslog.Record {
	h.t.Helper()
	return h.rowsEventually(id, 2)
}

// rowsNow returns the rows of one request id stored by now.
func (h *harness) rowsNow(id string) []*accesslog.Record {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.proxy.Log().Flush(ctx); err != nil {
		h.t.Fatal(err)
	}
	recs, err := h.store.Records(ctx, id, "")
	if err != nil {
		h.t.Fatal(err)
	}
	return recs
}

// rowsEventually waits for a request's rows until want of them are there: rows written
// after a client went away arrive after the client's call returned.
func (h *harness) rowsEventually(id string, want int) []*accesslog.Record {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		recs := h.rowsNow(id)
		if len(recs) >= want || time.Now().After(deadline) {
			return recs
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (h *harness) row(recs []*accesslog.Record, direction string) *accesslog.Record {
	h.t.Helper()
	for _, r := range recs {
		if r.Direction == direction {
			return r
		}
	}
	h.t.Fatalf("no %s row among %d rows", direction, len(recs))
	return nil
}

// post sends a raw request through the proxy.
func (h *harness) post(path, body string, header ...string) (*http.Response, string) {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.srv.URL+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+clientKey)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("read body: %v", err)
	}
	return resp, string(b)
}

func requestID(t *testing.T, resp *http.Response) string {
	t.Helper()
	if resp == nil {
		t.Fatal("no http response captured")
	}
	id := resp.Header.Get(aiproxy.HeaderRequestID)
	if len(id) != 32 {
		t.Fatalf("x-aiproxy-request-id = %q", id)
	}
	return id
}

func userParams(model, text string) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{
		Model:    model,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("be brief"), openai.UserMessage(text)},
	}
}
