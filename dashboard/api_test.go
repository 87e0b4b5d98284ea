package dashboard_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aiproxy-go/aiproxy/dashboard"
)

// getJSON fetches a dashboard API path into v and returns the status.
func (e *env) getJSON(path string, v any, header ...string) int {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.dashURL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
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
		e.t.Fatal(err)
	}
	if resp.StatusCode == http.StatusOK && v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			e.t.Fatalf("%s: %v in %s", path, err, b)
		}
	}
	return resp.StatusCode
}

func rangeQuery(since, until time.Time) string {
	return "since=" + url.QueryEscape(since.Format(time.RFC3339Nano)) + "&until=" + url.QueryEscape(until.Format(time.RFC3339Nano))
}

func TestAPISQLite(t *testing.T) {
	e := newSQLiteEnv(t, dashboard.Options{DatabaseLabel: "aiproxy.db", Retention: 30 * 24 * time.Hour})
	e.fill()
	testAPI(t, e)
}

func TestAPIPostgres(t *testing.T) {
	e := newPostgresEnv(t, dashboard.Options{DatabaseLabel: "postgres://test", Retention: 30 * 24 * time.Hour})
	e.fill()
	testAPI(t, e)
}

func testAPI(t *testing.T, e *env) {
	rows := e.exchangeRows()
	if len(rows) != len(traffic) {
		t.Fatalf("%d exchange rows for %d calls", len(rows), len(traffic))
	}
	since, until := rows[0].created.Add(-time.Hour), rows[len(rows)-1].created.Add(time.Hour)
	rq := rangeQuery(since, until)

	t.Run("overview", func(t *testing.T) {
		x := expect(rows)
		for _, by := range []string{"model", "provider", "user", "client_key"} {
			var o dashboard.Overview
			if st := e.getJSON("/api/overview?by="+by+"&"+rq, &o); st != http.StatusOK {
				t.Fatalf("by %s: status %d", by, st)
			}
			checkFigures(t, "totals", o.Totals, x, true)
			if o.Bucket != "hour" || len(o.Series) < 3 || len(o.Series) > 4 {
				t.Errorf("bucket %s with %d points", o.Bucket, len(o.Series))
			}
			var sum dashboard.Figures
			for _, p := range o.Series {
				sum.Requests += p.Requests
				sum.InputTokens += p.InputTokens
				sum.ServerErrors += p.ServerErrors
			}
			if sum.Requests != x.requests || sum.InputTokens != x.in || sum.ServerErrors != x.c5 {
				t.Errorf("series adds up to %+v", sum)
			}
			groups := map[string][]row{}
			for _, r := range rows {
				groups[keyOf(r, by)] = append(groups[keyOf(r, by)], r)
			}
			if len(o.Breakdown) != len(groups) {
				t.Errorf("by %s: %d groups, want %d", by, len(o.Breakdown), len(groups))
			}
			for i, g := range o.Breakdown {
				if i > 0 && g.Requests > o.Breakdown[i-1].Requests {
					t.Errorf("by %s: breakdown not largest first", by)
				}
				checkFigures(t, by+"="+g.Key, g.Figures, expect(groups[g.Key]), false)
			}
			for _, ks := range o.BySeries {
				var n int64
				for _, c := range ks.Requests {
					n += c
				}
				if n != int64(len(groups[ks.Key])) {
					t.Errorf("by %s: series of %q counts %d, want %d", by, ks.Key, n, len(groups[ks.Key]))
				}
			}
		}
		// With more rows per bucket and group than allowed, the breakdown is read first.
		restore := dashboard.SetMaxSeriesRows(1)
		var top dashboard.Overview
		e.getJSON("/api/overview?by=user&"+rq, &top)
		restore()
		checkFigures(t, "top groups", top.Totals, x, true)
		if len(top.Breakdown) != 3 || len(top.BySeries) != 3 || top.Breakdown[0].Key != "bob" {
			t.Errorf("top groups: breakdown %+v", top.Breakdown)
		}
		// A filter narrows every figure.
		var o dashboard.Overview
		e.getJSON("/api/overview?model=gpt-4o-mini&"+rq, &o)
		var mini []row
		for _, r := range rows {
			if r.model == "gpt-4o-mini" {
				mini = append(mini, r)
			}
		}
		checkFigures(t, "model=gpt-4o-mini", o.Totals, expect(mini), true)
		// A range without traffic is all zeros, with every bucket present.
		e.getJSON("/api/overview?"+rangeQuery(since.Add(-48*time.Hour), since.Add(-24*time.Hour)), &o)
		if o.Totals.Requests != 0 || len(o.Series) < 24 || len(o.Series) > 25 || len(o.Breakdown) != 0 {
			t.Errorf("empty range: %+v, %d points", o.Totals, len(o.Series))
		}
		// A long range is shown by the day.
		e.getJSON("/api/overview?"+rangeQuery(until.Add(-30*24*time.Hour), until), &o)
		if o.Bucket != "day" || o.Totals.Requests != x.requests {
			t.Errorf("30 days: bucket %s, %d requests", o.Bucket, o.Totals.Requests)
		}
		for _, bad := range []string{"by=color", "since=yesterday", "since=" + url.QueryEscape(until.Format(time.RFC3339)) + "&until=" + url.QueryEscape(since.Format(time.RFC3339))} {
			if st := e.getJSON("/api/overview?"+bad, nil); st != http.StatusBadRequest {
				t.Errorf("%s: status %d, want 400", bad, st)
			}
		}
	})

	t.Run("logs", func(t *testing.T) {
		var page dashboard.LogPage
		e.getJSON("/api/logs", &page)
		if len(page.Rows) != len(traffic) {
			t.Fatalf("%d rows, want %d", len(page.Rows), len(traffic))
		}
		for i, r := range page.Rows {
			if r.RequestID != e.ids[len(e.ids)-1-i] || r.Direction == "request" {
				t.Errorf("row %d: %s %s, want the exchanges newest first", i, r.RequestID, r.Direction)
			}
		}
		cases := []struct {
			query string
			want  func(r row) bool
		}{
			{"model=o4-mini", func(r row) bool { return r.model == "o4-mini" }},
			{"user=bob&status=error", func(r row) bool { return r.user == "bob" && r.status >= 400 }},
			{"client_key=team-a&status=ok", func(r row) bool { return r.key == "team-a" && r.status < 400 }},
			{"status=4xx", func(r row) bool { return r.status >= 400 && r.status < 500 }},
			{"status=500", func(r row) bool { return r.status == 500 }},
			{"provider=openai&direction=error", func(r row) bool { return r.direction == "error" }},
		}
		for _, c := range cases {
			want := 0
			for _, r := range rows {
				if c.want(r) {
					want++
				}
			}
			e.getJSON("/api/logs?"+c.query, &page)
			if len(page.Rows) != want || want == 0 {
				t.Errorf("%s: %d rows, want %d", c.query, len(page.Rows), want)
			}
		}
		// Text is searched in the prompts, case-insensitively, and taken as a request id.
		e.getJSON("/api/logs?q=TWO+WORDS", &page)
		if len(page.Rows) != 1 || page.Rows[0].RequestID != e.ids[1] {
			t.Errorf("q=TWO WORDS: %+v", page.Rows)
		}
		e.getJSON("/api/logs?direction=all&q="+e.ids[2], &page)
		if len(page.Rows) != 2 {
			t.Errorf("q=<request id>: %d rows, want 2", len(page.Rows))
		}
		e.getJSON("/api/logs?q=100%25", &page)
		if len(page.Rows) != 0 {
			t.Errorf("q=100%%: %d rows, want 0 (%% is not a wildcard)", len(page.Rows))
		}
		// Pages follow each other without a gap or an overlap.
		var seen []string
		before := ""
		for range 10 {
			var page dashboard.LogPage
			e.getJSON("/api/logs?direction=all&limit=3"+before, &page)
			for _, r := range page.Rows {
				seen = append(seen, r.RequestID+r.Direction)
			}
			if page.NextBefore == 0 {
				break
			}
			before = "&before_id=" + strconv.FormatInt(page.NextBefore, 10)
		}
		if len(seen) != 2*len(traffic) {
			t.Errorf("paged through %d rows, want %d", len(seen), 2*len(traffic))
		}
		if st := e.getJSON("/api/logs?status=teapot", nil); st != http.StatusBadRequest {
			t.Errorf("status=teapot: %d", st)
		}
	})

	t.Run("detail", func(t *testing.T) {
		var d dashboard.Detail
		e.getJSON("/api/logs/"+e.ids[3], &d)
		if len(d.Rows) != 2 || d.Rows[0].Direction != "request" || d.Rows[1].Direction != "response" {
			t.Fatalf("rows %+v", d.Rows)
		}
		req, resp := d.Rows[0], d.Rows[1]
		if !resp.Stream || len(resp.ChunkTimes) < 6 || resp.TimeToFirstToken <= 0 || resp.CompletionTokens == 0 {
			t.Errorf("stream response: %d chunk times, ttft %v, %d tokens", len(resp.ChunkTimes), resp.TimeToFirstToken, resp.CompletionTokens)
		}
		if got := req.RawHeaders["Authorization"]; len(got) != 1 || strings.Contains(got[0], "0123456789") {
			t.Errorf("request headers not masked: %v", got)
		}
		if !strings.Contains(d.Replay, e.ids[3]) || !strings.Contains(d.Replay, "/v1/chat/completions") {
			t.Errorf("replay command %q", d.Replay)
		}
		e.getJSON("/api/logs/"+e.ids[4], &d)
		if !strings.Contains(d.Rows[1].ToolCalls, "get_weather") {
			t.Errorf("tool calls %q", d.Rows[1].ToolCalls)
		}
		if st := e.getJSON("/api/logs/no-such-id", nil); st != http.StatusNotFound {
			t.Errorf("unknown id: status %d", st)
		}
		// The replay command, sent as it says, is answered with the logged response.
		e.getJSON("/api/logs/"+e.ids[0], &d)
		replayed, replayID := runReplay(t, d.Replay)
		e.settle(replayID)
		if !strings.Contains(replayed, d.Rows[1].Content) || d.Rows[1].Content == "" {
			t.Errorf("replay answered %s, logged %q", replayed, d.Rows[1].Content)
		}
	})

	t.Run("storage", func(t *testing.T) {
		var s dashboard.Storage
		e.getJSON("/api/storage", &s)
		var n int64
		e.db.QueryRow("SELECT COUNT(*) FROM accesslog").Scan(&n)
		x := expect(e.exchangeRows())
		if s.Rows != n || s.Responses+s.Errors != x.requests || s.Requests != n-x.requests || s.DatabaseBytes <= 0 {
			t.Errorf("storage %+v, %d rows", s, n)
		}
		if s.RetentionSeconds != 30*24*3600 || s.ContentRetentionSeconds != 0 || s.Database == "" || s.Oldest == "" {
			t.Errorf("storage settings %+v", s)
		}
		if (s.Dialect == "postgres") != e.pg {
			t.Errorf("dialect %s", s.Dialect)
		}
	})

	t.Run("tail", func(t *testing.T) {
		var maxID int64
		e.db.QueryRow("SELECT MAX(id) FROM accesslog").Scan(&maxID)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.dashURL+"/api/tail?after_id="+strconv.FormatInt(maxID-3, 10), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
			t.Fatalf("content type %q", ct)
		}
		events := readEvents(resp.Body)
		var got []dashboard.LogRow
		for len(got) < 3 {
			got = append(got, <-events)
		}
		if got[0].ID != maxID-2 || got[2].ID != maxID {
			t.Errorf("backlog ids %d..%d, want %d..%d", got[0].ID, got[2].ID, maxID-2, maxID)
		}
		// A new exchange shows up as it is logged: its request row, then its response row.
		id := e.send(traffic[0])
		e.settle(id)
		for _, dir := range []string{"request", "response"} {
			r, ok := <-events
			if !ok || r.RequestID != id || r.Direction != dir {
				t.Fatalf("tail sent %+v (open %v), want the %s of %s", r, ok, dir, id)
			}
		}
	})
}

// checkFigures compares the overview's figures with those computed from the rows.
func checkFigures(t *testing.T, name string, got dashboard.Figures, x expected, percentiles bool) {
	t.Helper()
	if got.Requests != x.requests || got.Success != x.success || got.ClientErrors != x.c4 || got.ServerErrors != x.c5 ||
		got.InputTokens != x.in || got.OutputTokens != x.out {
		t.Errorf("%s: counts %+v, want %+v", name, got, x)
	}
	if !closeTo(got.CostUSD, x.cost, 1e-9) || !closeTo(got.AvgLatency, x.avgRT, 1e-9) ||
		!closeTo(got.AvgUpstreamLatency, x.avgAPI, 1e-9) || !closeTo(got.AvgTTFT, x.avgTTFT, 1e-9) {
		t.Errorf("%s: cost %v latency %v/%v ttft %v, want %v %v/%v %v", name, got.CostUSD, got.AvgLatency,
			got.AvgUpstreamLatency, got.AvgTTFT, x.cost, x.avgRT, x.avgAPI, x.avgTTFT)
	}
	if !percentiles {
		return
	}
	// The histogram's bins are 5% wide: a percentile is in the bin of the row it falls on.
	for _, p := range []struct {
		got, want float64
		what      string
	}{
		{got.P50Latency, nearestRank(x.rts, 0.5), "p50 latency"},
		{got.P95Latency, nearestRank(x.rts, 0.95), "p95 latency"},
		{got.P50TTFT, nearestRank(x.ttfts, 0.5), "p50 ttft"},
		{got.P95TTFT, nearestRank(x.ttfts, 0.95), "p95 ttft"},
	} {
		if !closeTo(p.got, p.want, 0.052) {
			t.Errorf("%s: %s %v, want %v", name, p.what, p.got, p.want)
		}
	}
}

// readEvents parses the "row" events of a tail until the body ends.
func readEvents(body io.Reader) <-chan dashboard.LogRow {
	ch := make(chan dashboard.LogRow)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(body)
		sc.Buffer(nil, 1<<20)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && event == "row":
				var r dashboard.LogRow
				if json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &r) == nil {
					ch <- r
				}
			case line == "":
				event = ""
			}
		}
	}()
	return ch
}

// runReplay sends the request a replay command describes: curl URL, -H headers, -d body, each
// argument in single quotes.
func runReplay(t *testing.T, cmd string) (body, requestID string) {
	t.Helper()
	args := shellWords(t, cmd)
	if len(args) < 2 || args[0] != "curl" {
		t.Fatalf("replay command %q", cmd)
	}
	req, err := http.NewRequest(http.MethodPost, args[1], nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 2; i+1 < len(args); i += 2 {
		switch args[i] {
		case "-H":
			k, v, _ := strings.Cut(args[i+1], ":")
			req.Header.Set(k, strings.TrimSpace(v))
		case "-d":
			req.Body = io.NopCloser(strings.NewReader(args[i+1]))
			req.ContentLength = int64(len(args[i+1]))
		default:
			t.Fatalf("replay command has %q", args[i])
		}
	}
	req.Header.Set("Authorization", "Bearer sk-client-0123456789")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("replay: status %d: %s", resp.StatusCode, b)
	}
	return string(b), resp.Header.Get("X-Aiproxy-Request-Id")
}

// shellWords splits a command of bare words and single-quoted words, with \ line breaks.
func shellWords(t *testing.T, s string) []string {
	var out []string
	var cur strings.Builder
	in, have := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case in && c == '\'':
			in = false
		case in:
			cur.WriteByte(c)
		case c == '\'':
			in, have = true, true
		case c == '\\' && i+1 < len(s) && s[i+1] == '\n':
			i++
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			have = true
		case c == ' ' || c == '\n':
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteByte(c)
			have = true
		}
	}
	if in {
		t.Fatalf("unterminated quote in %q", s)
	}
	if have {
		out = append(out, cur.String())
	}
	return out
}
