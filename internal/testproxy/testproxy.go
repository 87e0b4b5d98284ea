// Package testproxy runs an AIProxy with a SQLite access log for end-to-end tests: SDK
// client → proxy (this package) → fake upstream (internal/fake*), then the rows read back.
package testproxy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/filters"
)

// Harness is a running proxy with its log store.
type Harness struct {
	T      testing.TB
	Proxy  *aiproxy.Proxy
	Server *httptest.Server
	Store  *accesslog.SQLiteStore
	DBPath string
}

// New starts a proxy for opts (Store and a short writer flush interval are set here, and the
// replay filter is added after opts' filters) and stops it when the test ends.
func New(t testing.TB, opts aiproxy.Options) *Harness {
	t.Helper()
	h := &Harness{T: t, DBPath: filepath.Join(t.TempDir(), "aiproxy.db")}
	store, err := accesslog.OpenSQLite(h.DBPath, opts.Writer.Columns...)
	if err != nil {
		t.Fatal(err)
	}
	h.Store = store
	opts.Store = store
	if opts.Writer.FlushInterval == 0 {
		opts.Writer.FlushInterval = 5 * time.Millisecond
	}
	p, err := aiproxy.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	h.Proxy = p
	if err := p.AddFilter(&filters.Replay{Source: p}); err != nil {
		t.Fatal(err)
	}
	h.Server = httptest.NewServer(p)
	t.Cleanup(func() {
		h.Server.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("drain log: %v", err)
		}
		store.Close()
	})
	return h
}

// URL is the proxy's base URL, without a trailing slash.
func (h *Harness) URL() string { return h.Server.URL }

// Rows waits for the two rows every exchange has (request, and response or error) and
// returns all rows of the request id.
func (h *Harness) Rows(id string) []*accesslog.Record {
	h.T.Helper()
	return h.RowsN(id, 2)
}

// RowsN waits, up to 10 s, until the request id has at least n rows, and returns them.
func (h *Harness) RowsN(id string, n int) []*accesslog.Record {
	h.T.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := h.Proxy.Log().Flush(ctx); err != nil {
			cancel()
			h.T.Fatal(err)
		}
		recs, err := h.Store.Records(ctx, id, "")
		cancel()
		if err != nil {
			h.T.Fatal(err)
		}
		if len(recs) >= n || time.Now().After(deadline) {
			return recs
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Row returns the first row of the direction, failing the test when there is none.
func (h *Harness) Row(recs []*accesslog.Record, direction string) *accesslog.Record {
	h.T.Helper()
	for _, r := range recs {
		if r.Direction == direction {
			return r
		}
	}
	h.T.Fatalf("no %s row among %d rows", direction, len(recs))
	return nil
}

// RequestID returns the x-aiproxy-request-id of a response, failing when it is missing.
func (h *Harness) RequestID(resp *http.Response) string {
	h.T.Helper()
	if resp == nil {
		h.T.Fatal("no http response captured")
	}
	id := resp.Header.Get(aiproxy.HeaderRequestID)
	if id == "" {
		h.T.Fatal("response without x-aiproxy-request-id")
	}
	return id
}
