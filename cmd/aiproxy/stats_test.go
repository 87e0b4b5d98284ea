package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/internal/testdb"
	"github.com/aiproxy-go/aiproxy/logquery"
	"github.com/aiproxy-go/aiproxy/pricing"
)

// forEachLogDB runs body with the DSN of a new SQLite file and, when AIPROXY_TEST_POSTGRES is
// set, of a new schema of that PostgreSQL database, dropped at the end.
func forEachLogDB(t *testing.T, body func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) { body(t, filepath.Join(t.TempDir(), "aiproxy.db")) })
	t.Run("postgres", func(t *testing.T) {
		dsn, _ := testdb.Postgres(t, "cmdlogs")
		body(t, dsn)
	})
}

// insertLog writes records into the log at dsn.
func insertLog(t *testing.T, dsn string, recs []*accesslog.Record, cols ...accesslog.Column) {
	t.Helper()
	store, err := accesslog.Open(dsn, cols...)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.Insert(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
}

// exchange returns the request and response rows of one exchange.
func exchange(id string, at time.Time, model, user string, status, prompt, completion int, seconds, cost float64) []*accesslog.Record {
	return []*accesslog.Record{
		{RequestID: id, CreatedAt: at, Direction: "request", Provider: "openai", Model: model, User: user, Content: "question " + id,
			RawBody: []byte(`{"model":"` + model + `","messages":[{"role":"user","content":"question, with \"quotes\"\nand lines"}]}`)},
		{RequestID: id, CreatedAt: at.Add(time.Duration(seconds * float64(time.Second))), Direction: "response", StatusCode: status,
			Provider: "openai", Model: model, User: user, PromptTokens: prompt, CompletionTokens: completion,
			RequestTime: seconds, CostUSD: cost, Content: "answer " + id},
	}
}

func runCommand(t *testing.T, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := run(context.Background(), args, &out, &errOut); err != nil {
		t.Fatalf("aiproxy %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String()
}

func TestStatsCommand(t *testing.T) {
	forEachLogDB(t, func(t *testing.T, dsn string) {
		now := time.Now()
		var recs []*accesslog.Record
		for i, rt := range []float64{0.4, 0.1, 0.3, 0.2} {
			status := 200
			if i == 3 {
				status = 503
			}
			recs = append(recs, exchange(fmt.Sprint("a", i), now.Add(-time.Hour), "gpt-4o", "ann", status, 100, 10, rt, 0.25)...)
		}
		recs = append(recs, exchange("b", now.Add(-time.Hour), "gpt-4o-mini", "", 200, 7, 3, 1.5, 0.5)...)
		recs = append(recs, exchange("old", now.Add(-72*time.Hour), "gpt-4o-mini", "ann", 200, 7, 3, 9, 1)...)
		insertLog(t, dsn, recs)

		out := runCommand(t, "stats", "--db", dsn)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 4 {
			t.Fatalf("stats:\n%s", out)
		}
		for i, want := range [][]string{
			{"MODEL", "REQUESTS", "ERRORS", "INPUT TOKENS", "COST USD", "P50 S", "P95 S", "TTFT P50 S"},
			{"gpt-4o", " 4 ", " 1 ", " 400 ", " 40 ", "1.000000", "0.200", "0.400", " - "},
			{"gpt-4o-mini", " 1 ", " 0 ", " 7 ", "0.500000", "1.500"},
			{"TOTAL", " 5 ", " 1 ", " 407 ", " 43 ", "1.500000"},
		} {
			for _, w := range want {
				if !strings.Contains(lines[i], w) {
					t.Errorf("line %d %q lacks %q", i, lines[i], w)
				}
			}
		}

		var groups []logquery.Group
		out = runCommand(t, "stats", "--db", dsn, "--by", "user", "--since", "7d", "--json")
		if err := json.Unmarshal([]byte(out), &groups); err != nil {
			t.Fatalf("%v in %s", err, out)
		}
		if len(groups) != 2 || groups[0].Key != "ann" || groups[0].Requests != 5 || groups[0].LatencyP95 != 9 ||
			groups[1].Key != "" || groups[1].Requests != 1 {
			t.Errorf("by user over 7 days: %+v", groups)
		}
		out = runCommand(t, "stats", "--db", dsn, "--since", "1m", "--json")
		if strings.TrimSpace(out) != "[]" {
			t.Errorf("nothing in the last minute: %s", out)
		}
		if err := run(context.Background(), []string{"stats", "--db", dsn, "--by", "endpoint"}, io.Discard, io.Discard); err == nil {
			t.Error("stats --by endpoint succeeded")
		}
	})
}

func TestExportCommand(t *testing.T) {
	forEachLogDB(t, func(t *testing.T, dsn string) {
		now := time.Now().Truncate(time.Microsecond)
		team := accesslog.Column{Name: "team", Type: accesslog.Text, Value: func(r *accesslog.Record) any { return r.Extra["team"] }}
		recs := exchange("e1", now.Add(-time.Hour), "gpt-4o", "ann", 200, 5, 6, 0.5, 0.125)
		recs = append(recs, exchange("e2", now.Add(-30*time.Minute), "claude-x", "bob", 200, 1, 2, 0.25, 0)...)
		recs = append(recs, exchange("e0", now.Add(-48*time.Hour), "gpt-4o", "ann", 200, 5, 6, 0.5, 0.125)...)
		for _, r := range recs {
			r.Extra = map[string]any{"team": "team-" + r.User}
		}
		insertLog(t, dsn, recs, team)

		out := runCommand(t, "export", "--db", dsn, "--since", "1d")
		var rows []logquery.Row
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var r logquery.Row
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("%v in %s", err, line)
			}
			rows = append(rows, r)
		}
		if len(rows) != 4 || rows[0].RequestID != "e1" || rows[0].Direction != "request" || rows[3].RequestID != "e2" {
			t.Fatalf("jsonl rows: %+v", rows)
		}
		if rows[0].RawBody != string(recs[0].RawBody) || !rows[0].CreatedAt.Equal(now.Add(-time.Hour)) ||
			rows[1].CostUSD != 0.125 || rows[1].RequestTime != 0.5 || rows[0].Extra["team"] != "team-ann" {
			t.Errorf("first exchange exported as %+v and %+v", rows[0], rows[1])
		}

		file := filepath.Join(t.TempDir(), "log.csv")
		runCommand(t, "export", "--db", dsn, "--format", "csv", "--model", "gpt-4o", "--output", file)
		info, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("export file mode %v", info.Mode().Perm())
		}
		f, _ := os.Open(file)
		defer f.Close()
		records, err := csv.NewReader(f).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(records) != 5 || len(records[0]) != len(logquery.Columns)+1 || records[0][len(records[0])-1] != "team" {
			t.Fatalf("csv: %d records, header %v", len(records), records[0])
		}
		col := map[string]int{}
		for i, name := range records[0] {
			col[name] = i
		}
		first, resp := records[1], records[4]
		if first[col["request_id"]] != "e0" || first[col["raw_body"]] != string(recs[4].RawBody) || first[col["team"]] != "team-ann" ||
			resp[col["request_id"]] != "e1" || resp[col["cost_usd"]] != "0.125" || resp[col["completion_tokens"]] != "6" ||
			resp[col["created_at"]] != now.Add(-time.Hour+500*time.Millisecond).UTC().Format(time.RFC3339Nano) {
			t.Errorf("csv records:\n%v\n%v", first, resp)
		}

		if err := run(context.Background(), []string{"export", "--db", dsn, "--format", "xml"}, io.Discard, io.Discard); err == nil {
			t.Error("export --format xml succeeded")
		}
	})
}

func TestRepriceCommand(t *testing.T) {
	forEachLogDB(t, func(t *testing.T, dsn string) {
		now := time.Now()
		before, _ := pricing.Default().CostOfCounts("openai", "gpt-4o", 1000, 100, 0, 0)
		recs := exchange("new", now.Add(-time.Hour), "gpt-4o", "", 200, 1000, 100, 1, before)
		recs = append(recs, exchange("old", now.Add(-60*24*time.Hour), "gpt-4o", "", 200, 1000, 100, 1, before)...)
		insertLog(t, dsn, recs)
		prices := filepath.Join(t.TempDir(), "prices.yaml")
		if err := os.WriteFile(prices, []byte("openai:\n  models:\n    gpt-4o: {input: 3, output: 30}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cost := func(id string) float64 {
			t.Helper()
			store, err := accesslog.Open(dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			recs, err := store.Records(context.Background(), id, "response")
			if err != nil || len(recs) != 1 {
				t.Fatalf("%s: %d rows, %v", id, len(recs), err)
			}
			return recs[0].CostUSD
		}

		out := runCommand(t, "reprice", "--db", dsn, "--since", "30d", "--prices", prices, "--dry-run")
		if !strings.Contains(out, "1 response and error rows") || !strings.Contains(out, "1 would change") ||
			!strings.Contains(out, fmt.Sprintf("%.6f USD at the new prices", 0.006)) || cost("new") != before {
			t.Errorf("dry run: %s, cost %v", out, cost("new"))
		}
		out = runCommand(t, "reprice", "--db", dsn, "--since", "30d", "--prices", prices)
		if !strings.Contains(out, "1 changed") || math.Abs(cost("new")-0.006) > 1e-12 || cost("old") != before {
			t.Errorf("reprice: %s, costs %v and %v", out, cost("new"), cost("old"))
		}
		if err := run(context.Background(), []string{"reprice", "--db", dsn}, io.Discard, io.Discard); err == nil {
			t.Error("reprice without --since succeeded")
		}
		if err := run(context.Background(), []string{"reprice", "--db", dsn, "--since", "1d", "--prices", prices + ".missing"}, io.Discard, io.Discard); err == nil {
			t.Error("reprice with a missing price file succeeded")
		}
	})
}

// lockedBuffer is a bytes.Buffer that a command writes while a test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor waits, up to ten seconds, until cond holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestLogsFollow(t *testing.T) {
	for _, asJSON := range []bool{false, true} {
		t.Run(fmt.Sprint("json=", asJSON), func(t *testing.T) {
			forEachLogDB(t, func(t *testing.T, dsn string) {
				now := time.Now()
				insertLog(t, dsn, append(exchange("first", now.Add(-2*time.Minute), "gpt-4o", "", 200, 1, 1, 1, 0),
					exchange("second", now.Add(-time.Minute), "gpt-4o", "", 200, 1, 1, 1, 0)...))
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				var out lockedBuffer
				done := make(chan error, 1)
				args := []string{"logs", "--db", dsn, "--follow", "--poll", "10ms", "--limit", "3", "--model", "gpt-4o"}
				if asJSON {
					args = append(args, "--json")
				}
				go func() { done <- run(ctx, args, &out, io.Discard) }()

				// The three newest rows come first, oldest of them first.
				waitFor(t, "the newest rows", func() bool { return strings.Contains(out.String(), "answer second") })
				if s := out.String(); strings.Contains(s, "question first") ||
					!(strings.Index(s, "answer first") < strings.Index(s, "question second") &&
						strings.Index(s, "question second") < strings.Index(s, "answer second")) {
					t.Fatalf("before following:\n%s", s)
				}
				insertLog(t, dsn, append(exchange("live", time.Now(), "gpt-4o", "", 200, 1, 1, 1, 0),
					exchange("other-model", time.Now(), "gpt-x", "", 200, 1, 1, 1, 0)...))
				waitFor(t, "the new rows", func() bool { return strings.Contains(out.String(), "answer live") })
				cancel()
				if err := <-done; err != nil {
					t.Fatalf("logs --follow ended with %v", err)
				}
				s := out.String()
				if strings.Contains(s, "other-model") || strings.Index(s, "question live") > strings.Index(s, "answer live") ||
					strings.Index(s, "answer second") > strings.Index(s, "question live") {
					t.Errorf("followed:\n%s", s)
				}
				if asJSON {
					for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
						var r logRow
						if err := json.Unmarshal([]byte(line), &r); err != nil || r.Model != "gpt-4o" {
							t.Errorf("line %q: %+v %v", line, r, err)
						}
					}
				} else if !strings.HasPrefix(s, "CREATED (UTC)") {
					t.Errorf("no header:\n%s", s)
				}
			})
		})
	}
}
