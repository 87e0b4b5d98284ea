package accesslog

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// benchRecord is a realistic response row: a ~2 KB body, headers, tool calls, chunk times.
func benchRecord(i int) *Record {
	body := `{"id":"chatcmpl-` + fmt.Sprint(i) + `","object":"chat.completion","model":"gpt-4o-2024-08-06","choices":[{"index":0,"message":{"role":"assistant","content":"` +
		strings.Repeat("The quick brown fox jumps over the lazy dog. ", 42) + `"},"finish_reason":"stop"}],"usage":{"prompt_tokens":120,"completion_tokens":410}}`
	return &Record{
		RequestID:  fmt.Sprintf("req-%08d", i),
		CreatedAt:  time.Now(),
		Direction:  DirectionResponse,
		StatusCode: 200, Provider: "openai", Endpoint: "/chat/completions", Stream: true,
		Content:    strings.Repeat("The quick brown fox jumps over the lazy dog. ", 10),
		ToolCalls:  `[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Tokyo\"}"}}]`,
		RawBody:    []byte(body),
		RawHeaders: http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {"req_abc"}, "Openai-Processing-Ms": {"812"}},
		Model:      "gpt-4o-2024-08-06", User: "alice", ClientKey: "team-a", UpstreamRequestID: "req_abc",
		PromptTokens: 120, CompletionTokens: 410, CachedTokens: 64,
		CostUSD: 0.0044, RequestTime: 1.9, RequestTimeAPI: 1.85, TimeToFirstToken: 0.31,
		ChunkTimes: []float64{310, 332.5, 350.25, 371, 402.75, 430, 455.5, 480, 1890},
	}
}

// BenchmarkSQLiteInsert stores batches of 500 rows with ~2 KB bodies, one transaction each, and
// reports rows/s.
func BenchmarkSQLiteInsert(b *testing.B) {
	const batchSize = 500
	s, err := OpenSQLite(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	batch := make([]*Record, batchSize)
	for i := range batch {
		batch[i] = benchRecord(i)
	}
	ctx := context.Background()
	b.SetBytes(int64(len(batch[0].RawBody)) * batchSize)
	for b.Loop() {
		if err := s.Insert(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batchSize)/b.Elapsed().Seconds(), "rows/s")
}

// smallRecord is a short request row: a ~150-byte body, no headers.
func smallRecord(i int) *Record {
	return &Record{
		RequestID: fmt.Sprintf("req-%08d", i), CreatedAt: time.Now(), Direction: DirectionRequest,
		Provider: "openai", Endpoint: "/chat/completions", Model: "gpt-4o-mini", User: "alice",
		Content: "Hello there", PromptTokens: 12,
		RawBody: []byte(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello there"}],"stream":true,"stream_options":{"include_usage":true}}`),
	}
}

// benchBatches stores batches of 500 records made by mk through InsertBatch, each batch with
// fresh random request ids as the proxy's are (so that the request_id index takes them all
// over the tree), and reports rows/s and rows per CPU-second of the process, which the load of
// other programs on the machine disturbs less.
func benchBatches(b *testing.B, s IdempotentStore, mk func(int) *Record) {
	const batchSize = 500
	batch := make([]*Record, batchSize)
	for i := range batch {
		batch[i] = mk(i)
	}
	ctx := context.Background()
	b.SetBytes(int64(len(batch[0].RawBody)) * batchSize)
	cpu := processCPU()
	for b.Loop() {
		for _, r := range batch {
			r.RequestID = newBatchID()
		}
		if err := s.InsertBatch(ctx, newBatchID(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batchSize)/b.Elapsed().Seconds(), "rows/s")
	if used := processCPU() - cpu; used > 0 {
		b.ReportMetric(float64(b.N*batchSize)/used.Seconds(), "rows/cpu-s")
	}
}

// BenchmarkSQLiteInsertRandomIDs stores batches of ~2 KB rows with random request ids.
func BenchmarkSQLiteInsertRandomIDs(b *testing.B) {
	s, err := OpenSQLite(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	benchBatches(b, s, benchRecord)
}

// BenchmarkSQLiteInsertSmall stores batches of short request rows with random request ids.
func BenchmarkSQLiteInsertSmall(b *testing.B) {
	s, err := OpenSQLite(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	benchBatches(b, s, smallRecord)
}

// BenchmarkSQLiteInsertArgs measures what Insert does per row before SQLite sees it: the
// values of benchRecord's row bound to the prepared INSERT.
func BenchmarkSQLiteInsertArgs(b *testing.B) {
	r := benchRecord(1)
	var a rowArgs
	b.ReportAllocs()
	for b.Loop() {
		a.appendInsertArgs(r, nil)
	}
}
