package accesslog_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/internal/fakeupstream"
	"github.com/aiproxy-go/aiproxy/internal/pgrelay"
	"github.com/aiproxy-go/aiproxy/internal/testdb"
	"github.com/aiproxy-go/aiproxy/provider"
	"github.com/aiproxy-go/aiproxy/provider/openai"
)

// outageDB is a schema of its own in the test database, reached directly (admin) and through
// a relay that the test takes down and up (dsn).
type outageDB struct {
	admin *sql.DB // search_path set to the schema, straight to the server
	relay *pgrelay.Relay
	dsn   string // through the relay
}

func newOutageDB(t *testing.T) *outageDB {
	t.Helper()
	base := os.Getenv("AIPROXY_TEST_POSTGRES")
	if base == "" {
		t.Skip("AIPROXY_TEST_POSTGRES is not set")
	}
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		t.Skip("AIPROXY_TEST_POSTGRES is not a postgres:// URL with a host")
	}
	dsn, _ := testdb.Postgres(t, "outage")
	if u, err = url.Parse(dsn); err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	admin, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })

	relay, err := pgrelay.Start(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { relay.Close() })
	u.Host = relay.Addr()
	q.Set("connect_timeout", "2")
	u.RawQuery = q.Encode()
	return &outageDB{admin: admin, relay: relay, dsn: u.String()}
}

// outageProxy is a proxy in front of the OpenAI fake that logs into PostgreSQL through the
// relay, with a spill directory.
type outageProxy struct {
	proxy  *aiproxy.Proxy
	server *httptest.Server
	store  *accesslog.PostgresStore
}

func startOutageProxy(t *testing.T, db *outageDB, upstream, spillDir string) *outageProxy {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, err := accesslog.OpenPostgres(ctx, db.dsn)
	if err != nil {
		t.Fatal(err)
	}
	p, err := aiproxy.New(aiproxy.Options{
		Providers: []provider.Provider{openai.New(openai.Options{BaseURL: upstream + "/v1", APIKey: "sk-outage-upstream-key"})},
		Store:     store,
		Writer:    accesslog.WriterOptions{SpillDir: spillDir, BatchSize: 50, FlushInterval: 5 * time.Millisecond},
	})
	if err != nil {
		store.Close()
		t.Fatal(err)
	}
	return &outageProxy{proxy: p, server: httptest.NewServer(p), store: store}
}

// stop closes the proxy's server and drains its log with a deadline, as on SIGTERM.
func (op *outageProxy) stop(t *testing.T, deadline time.Duration) accesslog.WriterStats {
	t.Helper()
	op.server.Close()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	op.proxy.Close(ctx) // a deadline error is expected when the database is down
	st := op.proxy.Log().Stats()
	op.store.Close()
	return st
}

// outageLoad sends n chat completions from a few clients, every other one streamed and every
// seventh answered with an upstream error, and returns the request ids the clients received.
// Each time a request finishes, progress is called with the number finished so far.
func outageLoad(t *testing.T, proxyURL string, n int, progress func(done int)) []string {
	t.Helper()
	const clients = 4
	var (
		next, done atomic.Int64
		mu         sync.Mutex
		ids        []string
		wg         sync.WaitGroup
	)
	client := &http.Client{Timeout: 30 * time.Second}
	for range clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				stream := i%2 == 0
				body := fmt.Sprintf(`{"model":"gpt-4o-mini","stream":%t,"messages":[{"role":"user","content":"outage request %d"}]}`, stream, i)
				req, err := http.NewRequest(http.MethodPost, proxyURL+"/v1/chat/completions", strings.NewReader(body))
				if err != nil {
					t.Error(err)
					return
				}
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer sk-client")
				wantStatus := http.StatusOK
				if i%7 == 3 {
					req.Header.Set(fakeupstream.HeaderStatus, "500")
					wantStatus = http.StatusInternalServerError
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Errorf("request %d: %v", i, err)
					return
				}
				raw, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != wantStatus {
					t.Errorf("request %d: status %d, %v: %.200s", i, resp.StatusCode, err, raw)
				}
				if stream && wantStatus == http.StatusOK && !strings.Contains(string(raw), "data: [DONE]") {
					t.Errorf("request %d: stream without its end: %.200s", i, raw)
				}
				id := resp.Header.Get(aiproxy.HeaderRequestID)
				if id == "" {
					t.Errorf("request %d: no request id", i)
					continue
				}
				mu.Lock()
				ids = append(ids, id)
				mu.Unlock()
				if progress != nil {
					progress(int(done.Add(1)))
				}
			}
		})
	}
	wg.Wait()
	return ids
}

// checkRowsOnce fails the test unless every id has exactly one request row and one response
// or error row, and no (request_id, direction) is stored twice.
func checkRowsOnce(t *testing.T, db *sql.DB, ids []string) {
	t.Helper()
	rows, err := db.Query(`SELECT request_id, direction, COUNT(*) FROM accesslog GROUP BY 1, 2`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	type key struct{ id, dir string }
	got := make(map[key]int)
	total := 0
	for rows.Next() {
		var k key
		var n int
		if err := rows.Scan(&k.id, &k.dir, &n); err != nil {
			t.Fatal(err)
		}
		got[k] = n
		total += n
		if n > 1 {
			t.Errorf("request %s: %d %s rows, want 1", k.id, n, k.dir)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	missing := 0
	for _, id := range ids {
		answers := got[key{id, accesslog.DirectionResponse}] + got[key{id, accesslog.DirectionError}]
		if got[key{id, accesslog.DirectionRequest}] != 1 || answers != 1 {
			missing++
			if missing <= 5 {
				t.Errorf("request %s: %d request rows and %d response or error rows, want 1 and 1",
					id, got[key{id, accesslog.DirectionRequest}], answers)
			}
		}
	}
	if missing > 0 || total != 2*len(ids) {
		t.Errorf("%d of %d requests lack rows; %d rows in all, want %d", missing, len(ids), total, 2*len(ids))
	}
}

// waitUntil polls cond until it holds, failing the test after a generous deadline.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPostgresOutageMidLoad takes PostgreSQL away in the middle of a load of streamed and
// non-streamed requests and gives it back: the requests go on unharmed, the log spills to disk
// and is replayed, and every request has its rows, none twice.
func TestPostgresOutageMidLoad(t *testing.T) {
	db := newOutageDB(t)
	upstream := httptest.NewServer(fakeupstream.NewOpenAI(fakeupstream.OpenAIOptions{DiscardRequests: true}))
	defer upstream.Close()
	spillDir := t.TempDir()
	op := startOutageProxy(t, db, upstream.URL, spillDir)

	const n = 400
	var downOnce, upOnce sync.Once
	downAt := make(chan struct{})
	ids := outageLoad(t, op.server.URL, n, func(done int) {
		switch {
		case done == n/4:
			downOnce.Do(func() {
				if err := db.relay.Down(); err != nil {
					t.Error(err)
				}
				close(downAt)
			})
		case done >= 3*n/4:
			// Back up once the writer has met the outage, with a quarter of the load to go.
			if op.proxy.Log().Stats().Spilled > 0 {
				upOnce.Do(func() {
					if err := db.relay.Up(); err != nil {
						t.Error(err)
					}
				})
			}
		}
	})
	<-downAt
	waitUntil(t, "the writer to meet the outage", func() bool { return op.proxy.Log().Stats().Spilled > 0 })
	upOnce.Do(func() { db.relay.Up() })
	waitUntil(t, "the spill to be replayed", func() bool {
		st := op.proxy.Log().Stats()
		return st.Queued == 0 && st.SpillPending == 0 && st.Written == 2*n
	})
	st := op.stop(t, 20*time.Second)
	t.Logf("writer: %+v", st)
	if st.Failed != 0 || st.Spilled == 0 || st.SpillPending != 0 {
		t.Errorf("Stats = %+v, want records spilled and none failed or pending", st)
	}
	if len(ids) != n {
		t.Fatalf("%d requests answered, want %d", len(ids), n)
	}
	checkRowsOnce(t, db.admin, ids)
}

// TestPostgresOutageAcrossRestart runs with PostgreSQL away from the first request, stops the
// proxy while it is still away (what was queued goes to the spill), then starts a new proxy on
// the same spill directory once the database is back: that proxy replays the spill while it
// serves, and every request of both has its rows, none twice.
func TestPostgresOutageAcrossRestart(t *testing.T) {
	db := newOutageDB(t)
	upstream := httptest.NewServer(fakeupstream.NewOpenAI(fakeupstream.OpenAIOptions{DiscardRequests: true}))
	defer upstream.Close()
	spillDir := t.TempDir()

	first := startOutageProxy(t, db, upstream.URL, spillDir) // migrates while the database is there
	if err := db.relay.Down(); err != nil {
		t.Fatal(err)
	}
	ids := outageLoad(t, first.server.URL, 100, nil)
	st := first.stop(t, 2*time.Second)
	t.Logf("first writer: %+v", st)
	if st.Failed != 0 || st.Written != 0 || st.SpillPending != 2*len(ids) {
		t.Fatalf("first writer Stats = %+v, want every row in the spill", st)
	}

	if err := db.relay.Up(); err != nil {
		t.Fatal(err)
	}
	second := startOutageProxy(t, db, upstream.URL, spillDir)
	ids = append(ids, outageLoad(t, second.server.URL, 100, nil)...)
	waitUntil(t, "the spill to be replayed", func() bool {
		st := second.proxy.Log().Stats()
		return st.Queued == 0 && st.SpillPending == 0 && st.Written == 2*200
	})
	st = second.stop(t, 20*time.Second)
	t.Logf("second writer: %+v", st)
	if st.Failed != 0 {
		t.Errorf("second writer Stats = %+v", st)
	}
	checkRowsOnce(t, db.admin, ids)
}
