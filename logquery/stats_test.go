package logquery_test

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/logquery"
)

// statsRecords are exchanges with known figures. Model "a" has 21 exchanges: request times
// 0.1 to 2.0 s and one without a time; two failed (a 429 response and an error row); the even
// ones are streams with times to first token 0.02 to 0.20 s, while the odd ones carry a time
// to first token although they are not streams, which Stats must ignore. Model "b" has three
// exchanges of 0.3, 0.1 and 0.2 s. Every exchange has a request row, with a request time that
// Stats must ignore too, and one exchange of "a" is three days old.
func statsRecords(now time.Time) (recs []*accesslog.Record, wantA logquery.Group) {
	exchange := func(resp *accesslog.Record) {
		resp.CreatedAt = now.Add(-time.Duration(len(recs)) * time.Second)
		resp.RequestID = "req-" + resp.Model + "-" + resp.CreatedAt.Format(time.RFC3339Nano)
		req := *resp
		req.Direction, req.StatusCode, req.RequestTime, req.CostUSD = accesslog.DirectionRequest, 0, 100, 0
		recs = append(recs, &req, resp)
	}
	wantA = logquery.Group{Key: "a", Requests: 21, Errors: 2,
		LatencyP50: 1.0, LatencyP95: 1.9, TTFTP50: 0.10, TTFTP95: 0.20}
	for i := 1; i <= 20; i++ {
		r := &accesslog.Record{Direction: accesslog.DirectionResponse, StatusCode: 200, Model: "a",
			Provider: "openai", User: "u1", ClientKey: "k1", RequestTime: 0.1 * float64(i),
			PromptTokens: 10 * i, CompletionTokens: i, CachedTokens: i % 3, CostUSD: 0.001 * float64(i),
			Stream: i%2 == 0, TimeToFirstToken: 0.01 * float64(i)}
		if i%2 == 1 {
			r.TimeToFirstToken = 9.9
		}
		switch i {
		case 19:
			r.StatusCode = 429
		case 20:
			r.Direction, r.StatusCode = accesslog.DirectionError, 502
		}
		wantA.InputTokens += int64(r.PromptTokens)
		wantA.OutputTokens += int64(r.CompletionTokens)
		wantA.CachedTokens += int64(r.CachedTokens)
		wantA.CostUSD += r.CostUSD
		exchange(r)
	}
	exchange(&accesslog.Record{Direction: accesslog.DirectionResponse, StatusCode: 200, Model: "a",
		Provider: "openai", User: "u1", ClientKey: "k1"})
	for _, rt := range []float64{0.3, 0.1, 0.2} {
		exchange(&accesslog.Record{Direction: accesslog.DirectionResponse, StatusCode: 200, Model: "b",
			Provider: "anthropic", User: "u2", RequestTime: rt, PromptTokens: 1, CompletionTokens: 1})
	}
	old := &accesslog.Record{Direction: accesslog.DirectionResponse, StatusCode: 500, Model: "a",
		Provider: "openai", User: "u1", ClientKey: "k1", RequestTime: 50, PromptTokens: 1000}
	exchange(old)
	old.CreatedAt = now.Add(-72 * time.Hour)
	// The order rows are written in must not matter.
	rand.Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
	return recs, wantA
}

func TestStatsFigures(t *testing.T) {
	forEachDB(t, func(t *testing.T, tdb testDB) {
		ctx := context.Background()
		now := time.Now()
		recs, wantA := statsRecords(now)
		tdb.insert(t, recs...)
		day := logquery.Filter{Since: now.Add(-24 * time.Hour)}

		groups, err := logquery.Stats(ctx, tdb.db, tdb.dialect, "model", day)
		if err != nil {
			t.Fatal(err)
		}
		wantB := logquery.Group{Key: "b", Requests: 3, InputTokens: 3, OutputTokens: 3, LatencyP50: 0.2, LatencyP95: 0.3}
		if len(groups) != 2 {
			t.Fatalf("groups %+v", groups)
		}
		checkGroup(t, groups[0], wantA)
		checkGroup(t, groups[1], wantB)

		for by, want := range map[string][]logquery.Group{
			"provider":   {{Key: "openai", Requests: 21}, {Key: "anthropic", Requests: 3}},
			"user":       {{Key: "u1", Requests: 21}, {Key: "u2", Requests: 3}},
			"client_key": {{Key: "k1", Requests: 21}, {Key: "", Requests: 3}},
		} {
			got, err := logquery.Stats(ctx, tdb.db, tdb.dialect, by, day)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 || got[0].Key != want[0].Key || got[0].Requests != want[0].Requests ||
				got[1].Key != want[1].Key || got[1].Requests != want[1].Requests || got[0].LatencyP95 != groups[0].LatencyP95 {
				t.Errorf("by %s: %+v", by, got)
			}
		}

		// Without Since, the old exchange counts: 21 request times, so the median is rank 11
		// (1.1 s), p95 rank 20 (2.0 s), and the slowest (50 s) is above both.
		got, err := logquery.Stats(ctx, tdb.db, tdb.dialect, "model", logquery.Filter{Model: "a"})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Requests != 22 || got[0].Errors != 3 || math.Abs(got[0].LatencyP95-2.0) > 1e-9 ||
			math.Abs(got[0].LatencyP50-1.1) > 1e-9 {
			t.Errorf("all time, model a: %+v", got)
		}
		if got, err := logquery.Stats(ctx, tdb.db, tdb.dialect, "model", logquery.Filter{Since: now.Add(time.Hour)}); err != nil || len(got) != 0 {
			t.Errorf("the future: %+v %v", got, err)
		}
		if _, err := logquery.Stats(ctx, tdb.db, tdb.dialect, "endpoint; DROP TABLE accesslog", day); err == nil {
			t.Error("an unknown grouping was accepted")
		}
	})
}

func checkGroup(t *testing.T, got, want logquery.Group) {
	t.Helper()
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	if got.Key != want.Key || got.Requests != want.Requests || got.Errors != want.Errors ||
		got.InputTokens != want.InputTokens || got.OutputTokens != want.OutputTokens ||
		got.CachedTokens != want.CachedTokens || !near(got.CostUSD, want.CostUSD) ||
		!near(got.LatencyP50, want.LatencyP50) || !near(got.LatencyP95, want.LatencyP95) ||
		!near(got.TTFTP50, want.TTFTP50) || !near(got.TTFTP95, want.TTFTP95) {
		t.Errorf("group %q:\n got %+v\nwant %+v", want.Key, got, want)
	}
}
