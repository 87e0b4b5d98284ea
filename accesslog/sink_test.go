package accesslog

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

type failingSink struct{ calls int }

func (f *failingSink) WriteBatch(ctx context.Context, recs []*Record) error {
	f.calls++
	return errors.New("collector down")
}

func TestTeeToJSONL(t *testing.T) {
	dir := t.TempDir()
	store, err := OpenSQLite(filepath.Join(dir, "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	sink, err := OpenJSONL(filepath.Join(dir, "log.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	bad := &failingSink{}
	var sinkErrs []error
	tee := Tee(store, func(err error) { sinkErrs = append(sinkErrs, err) }, sink, bad)

	w := NewWriter(tee, WriterOptions{FlushInterval: time.Millisecond})
	w.Write(&Record{RequestID: "r1", Direction: DirectionRequest, Content: "hi <there>", RawBody: []byte(`{"a":1}`),
		RawHeaders: http.Header{"Authorization": {"Bearer ***abcd"}}, Model: "m"})
	w.Write(&Record{RequestID: "r1", Direction: DirectionResponse, StatusCode: 200, ToolCalls: `[{"id":"c1"}]`,
		PromptTokens: 3, CompletionTokens: 4, ChunkTimes: []float64{1.5, 2}})
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}

	recs, err := store.Records(context.Background(), "r1", "")
	if err != nil || len(recs) != 2 {
		t.Fatalf("store has %d rows (%v): a failing sink must not cost the database its batch", len(recs), err)
	}
	if bad.calls == 0 || len(sinkErrs) == 0 {
		t.Fatalf("failing sink called %d times, %d errors reported", bad.calls, len(sinkErrs))
	}

	f, err := os.Open(filepath.Join(dir, "log.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}
	if lines[0]["content"] != "hi <there>" || lines[0]["raw_body"] != `{"a":1}` || lines[0]["request_id"] != "r1" ||
		lines[0]["raw_headers"].(map[string]any)["Authorization"] != "Bearer ***abcd" {
		t.Errorf("request line %v", lines[0])
	}
	calls, _ := lines[1]["tool_calls"].([]any)
	if lines[1]["completion_tokens"] != 4.0 || len(calls) != 1 || len(lines[1]["chunk_times"].([]any)) != 2 {
		t.Errorf("response line %v", lines[1])
	}
	if err := sink.WriteBatch(context.Background(), nil); err == nil {
		t.Error("write after close succeeded")
	}
}
