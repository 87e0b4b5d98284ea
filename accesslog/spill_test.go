package accesslog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// onceStore is an IdempotentStore over a fakeStore: a batch id is stored once. While down is
// set every call fails; the first lost successful calls store the batch and then report an
// error, as a commit whose acknowledgement the connection lost; a record that refuse accepts
// fails its whole batch.
type onceStore struct {
	*fakeStore
	down   atomic.Bool
	idsMu  sync.Mutex
	ids    map[string]bool
	lost   int
	refuse func(*Record) bool
}

func newOnceStore() *onceStore {
	return &onceStore{fakeStore: newFakeStore(), ids: make(map[string]bool)}
}

var errDown = errors.New("connection refused")

func (o *onceStore) InsertBatch(ctx context.Context, id string, recs []*Record) error {
	if o.down.Load() {
		return errDown
	}
	o.idsMu.Lock()
	seen := o.ids[id]
	o.idsMu.Unlock()
	if seen {
		return nil
	}
	for _, r := range recs {
		if o.refuse != nil && o.refuse(r) {
			return fmt.Errorf("record %s refused", r.RequestID)
		}
	}
	if err := o.fakeStore.Insert(ctx, recs); err != nil {
		return err
	}
	o.idsMu.Lock()
	o.ids[id] = true
	lost := o.lost > 0
	if lost {
		o.lost--
	}
	o.idsMu.Unlock()
	if lost {
		return errors.New("connection reset after commit")
	}
	return nil
}

func (o *onceStore) batchStored(_ context.Context, id string) (bool, error) {
	if o.down.Load() {
		return false, errDown
	}
	o.idsMu.Lock()
	defer o.idsMu.Unlock()
	return o.ids[id], nil
}

var _ IdempotentStore = (*onceStore)(nil)

// checkStoredOnce fails the test unless every id of recs was stored exactly once.
func checkStoredOnce(t *testing.T, fs *fakeStore, recs []*Record) {
	t.Helper()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for _, r := range recs {
		if n := fs.stored[r.RequestID]; n != 1 {
			t.Errorf("%s stored %d times, want once", r.RequestID, n)
		}
	}
	if len(fs.records) != len(recs) {
		t.Errorf("%d rows stored, want %d", len(fs.records), len(recs))
	}
}

func segments(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, segmentPrefix+"*"+segmentSuffix))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestWriterSpillsWhileStoreDown(t *testing.T) {
	dir := t.TempDir()
	st := newOnceStore()
	st.down.Store(true)
	w := newWriter(st, WriterOptions{BatchSize: 10, FlushInterval: time.Millisecond, SpillDir: dir}, fastRetry)
	defer closeWriter(t, w)

	recs := testRecords("down", 95)
	for _, r := range recs[:50] {
		w.Write(r)
	}
	waitFor(t, "the first records to be spilled", func() bool { return w.Stats().SpillPending == 50 })
	for _, r := range recs[50:] {
		w.Write(r)
	}
	waitFor(t, "every record to be spilled", func() bool {
		s := w.Stats()
		return s.SpillPending == 95 && s.Spilled == 95 && s.Queued == 0
	})
	if got := w.Stats(); got.Spilled != 95 || got.Written != 0 || got.Failed != 0 || got.Queued != 0 {
		t.Fatalf("with the store down, Stats = %+v", got)
	}
	if len(segments(t, dir)) == 0 {
		t.Fatal("no spill segment on disk")
	}

	st.down.Store(false)
	waitFor(t, "the spill to be replayed", func() bool { return w.Stats().SpillPending == 0 && !w.spill.isDown() })
	if got := w.Stats(); got.Written != 95 || got.Failed != 0 {
		t.Errorf("after the store came back, Stats = %+v", got)
	}
	checkStoredOnce(t, st.fakeStore, recs)

	// The store is up again: the next batch goes to it directly.
	w.Write(&Record{RequestID: "after"})
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := w.Stats(); got.Written != 96 || got.Spilled != 95 {
		t.Errorf("after recovery, Stats = %+v", got)
	}
	closeWriter(t, w)
	if s := segments(t, dir); len(s) != 0 {
		t.Errorf("segments left after the replay: %v", s)
	}
}

// TestWriterSpillLostCommit stores batches whose commit succeeds but reports an error: their
// retry and their replay from the spill store nothing twice.
func TestWriterSpillLostCommit(t *testing.T) {
	st := newOnceStore()
	st.lost = 1000 // every first successful attempt looks failed
	w := newWriter(st, WriterOptions{BatchSize: 7, FlushInterval: time.Millisecond, SpillDir: t.TempDir()}, fastRetry)
	recs := testRecords("lost", 50)
	for _, r := range recs {
		w.Write(r)
	}
	waitFor(t, "the spill to be replayed", func() bool {
		s := w.Stats()
		return s.Written == 50 && s.SpillPending == 0
	})
	closeWriter(t, w)
	checkStoredOnce(t, st.fakeStore, recs)
	if got := w.Stats(); got.Failed != 0 {
		t.Errorf("Stats = %+v", got)
	}
}

// TestWriterSpillWhenQueueFull checks that Write never waits when a spill is set: what finds
// the queue full goes to disk, and is enriched and stored once the store answers.
func TestWriterSpillWhenQueueFull(t *testing.T) {
	st := newOnceStore()
	st.gate = make(chan struct{})
	w := newWriter(st, WriterOptions{
		QueueSize: 2, BatchSize: 1, FlushInterval: time.Hour, SpillDir: t.TempDir(),
		Enrich:  func(r *Record) { r.Content = "enriched " + r.RequestID },
		Columns: []Column{{Name: "tag", Value: func(r *Record) any { return "t-" + r.RequestID }}},
	}, fastRetry)

	recs := testRecords("full", 40)
	for _, r := range recs {
		w.Write(r) // returns with the store stuck
	}
	if got := w.Stats(); got.Blocked != 0 || got.Spilled < 30 {
		t.Fatalf("Stats = %+v, want no blocked Write and most records spilled", got)
	}
	st.mu.Lock()
	close(st.gate)
	st.gate = nil
	st.mu.Unlock()
	waitFor(t, "every record to be stored", func() bool { return w.Stats().Written == 40 })
	closeWriter(t, w)
	checkStoredOnce(t, st.fakeStore, recs)
	for _, r := range st.records {
		if r.Content != "enriched "+r.RequestID || r.Extra["tag"] != "t-"+r.RequestID {
			t.Errorf("%s stored with content %q, extra %v", r.RequestID, r.Content, r.Extra)
		}
	}
}

// TestWriterCloseLeavesSpill closes a writer whose store is down with a deadline: the records
// stay in the spill, and a new writer on the directory stores them, each once, as they were.
func TestWriterCloseLeavesSpill(t *testing.T) {
	dir := t.TempDir()
	cols := []Column{
		{Name: "n", Type: Integer, Value: func(r *Record) any { return int64(len(r.RequestID)) * 1_000_000_007 }},
		{Name: "f", Type: Real, Value: func(r *Record) any { return 0.1 }},
		{Name: "s", Type: Text, Value: func(r *Record) any { return map[string]int{"a": 1} }},
		{Name: "b", Type: Integer, Value: func(r *Record) any { return true }},
		{Name: "y", Type: Text, Value: func(r *Record) any { return []byte{0xff, 0} }},
		{Name: "t", Type: Text, Value: func(r *Record) any { return time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC) }},
		{Name: "none", Type: Text, Value: func(r *Record) any { return nil }},
	}
	down := newOnceStore()
	down.down.Store(true)
	w1 := newWriter(down, WriterOptions{BatchSize: 4, FlushInterval: time.Hour, SpillDir: dir, Columns: cols}, defaultRetry)
	recs := testRecords("left", 10)
	for i, r := range recs {
		r.CreatedAt = time.Date(2026, 11, 27, 10, 0, i, 123456789, time.UTC)
		r.RawBody = []byte("body \xff\x00 of " + r.RequestID)
		r.UpstreamBody = []byte("upstream")
		r.RawHeaders = http.Header{"Content-Type": {"application/json"}, "X-Two": {"a", "b"}}
		r.ChunkTimes = []float64{1.5, math.NaN(), 3}
		r.PromptTokens, r.CostUSD, r.Stream = i, 0.25, true
		w1.Write(r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	w1.Close(ctx) // the deadline, or the store marked down, sends what is left to the spill
	if got := w1.Stats(); got.Failed != 0 || got.Written != 0 || got.SpillPending != 10 || got.Queued != 0 {
		t.Fatalf("after Close, Stats = %+v, want 10 records pending in the spill", got)
	}
	if len(segments(t, dir)) == 0 {
		t.Fatal("no segment left on disk")
	}

	up := newOnceStore()
	w2 := newWriter(up, WriterOptions{BatchSize: 4, FlushInterval: time.Hour, SpillDir: dir, Columns: cols}, fastRetry)
	waitFor(t, "the spill to be replayed", func() bool { return w2.Stats().Written == 10 })
	closeWriter(t, w2)
	checkStoredOnce(t, up.fakeStore, recs)
	if s := segments(t, dir); len(s) != 0 {
		t.Errorf("segments left: %v", s)
	}
	byID := make(map[string]*Record)
	for _, r := range up.records {
		byID[r.RequestID] = r
	}
	for i, want := range recs {
		got := byID[want.RequestID]
		if got == nil {
			continue
		}
		if !got.CreatedAt.Equal(want.CreatedAt) || !bytes.Equal(got.RawBody, want.RawBody) ||
			string(got.UpstreamBody) != "upstream" || !reflect.DeepEqual(got.RawHeaders, want.RawHeaders) ||
			got.PromptTokens != i || got.CostUSD != 0.25 || !got.Stream ||
			len(got.ChunkTimes) != 3 || got.ChunkTimes[0] != 1.5 || !math.IsNaN(got.ChunkTimes[1]) {
			t.Errorf("%s replayed as %+v", want.RequestID, got)
		}
		wantExtra := map[string]any{
			"n": int64(len(want.RequestID)) * 1_000_000_007, "f": 0.1, "s": `{"a":1}`, "b": true,
			"y": []byte{0xff, 0}, "t": time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
		}
		if !reflect.DeepEqual(got.Extra, wantExtra) {
			t.Errorf("%s extra = %#v, want %#v", want.RequestID, got.Extra, wantExtra)
		}
	}
}

// TestWriterSpillRejectsRefusedRecord sets aside the one record that the store refuses while
// it takes the others, instead of holding the spill forever.
func TestWriterSpillRejectsRefusedRecord(t *testing.T) {
	dir := t.TempDir()
	var logs bytes.Buffer
	st := newOnceStore()
	st.refuse = func(r *Record) bool { return r.RequestID == "bad-3" }
	w := newWriter(st, WriterOptions{
		BatchSize: 10, FlushInterval: time.Hour, SpillDir: dir,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	}, fastRetry)
	recs := testRecords("bad", 10)
	for _, r := range recs {
		w.Write(r)
	}
	waitFor(t, "the spill to be handled", func() bool {
		s := w.Stats()
		return s.Spilled == 10 && s.SpillPending == 0
	})
	closeWriter(t, w)
	if got := w.Stats(); got.Written != 9 || got.Failed != 1 {
		t.Errorf("Stats = %+v, want 9 written, 1 failed", got)
	}
	checkStoredOnce(t, st.fakeStore, append(recs[:3:3], recs[4:]...))
	rejected, err := os.ReadFile(filepath.Join(dir, rejectedFile))
	if err != nil || !strings.Contains(string(rejected), `"request_id":"bad-3"`) || strings.Count(string(rejected), "\n") != 1 {
		t.Errorf("rejected file = %q, %v", rejected, err)
	}
	if !strings.Contains(logs.String(), "rejected") {
		t.Errorf("the rejection is not logged:\n%s", logs.String())
	}
}

// TestWriterSpillPartialLine replays a segment cut short in its last line, as a crash during a
// write leaves it: the complete lines are stored.
func TestWriterSpillPartialLine(t *testing.T) {
	dir := t.TempDir()
	sp, err := openSpill(dir, 10, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	recs := testRecords("cut", 3)
	if err := sp.appendBatch("batch-1", recs, true); err != nil {
		t.Fatal(err)
	}
	if err := sp.close(); err != nil {
		t.Fatal(err)
	}
	seg := segments(t, dir)
	if len(seg) != 1 {
		t.Fatalf("segments = %v", seg)
	}
	f, err := os.OpenFile(seg[0], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"batch":"batch-2","record":{"request_id":"cut-`)
	f.Close()

	st := newOnceStore()
	w := newWriter(st, WriterOptions{SpillDir: dir}, fastRetry)
	waitFor(t, "the spill to be replayed", func() bool { return w.Stats().Written == 3 })
	closeWriter(t, w)
	checkStoredOnce(t, st.fakeStore, recs)
	if got := w.Stats(); got.SpillPending != 0 {
		t.Errorf("Stats = %+v", got)
	}
}

// TestWriterSpillUnwritable falls back to waiting for room when the spill directory cannot be
// written, and loses nothing.
func TestWriterSpillUnwritable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spill")
	st := newOnceStore()
	st.gate = make(chan struct{})
	var logs bytes.Buffer
	w := newWriter(st, WriterOptions{QueueSize: 2, BatchSize: 1, FlushInterval: time.Hour, SpillDir: dir,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}, fastRetry)
	// A file where the next segment would go makes every append fail.
	if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s%020d%s", segmentPrefix, 0, segmentSuffix)), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, r := range testRecords("nospace", 6) {
		wg.Go(func() { w.Write(r) })
	}
	waitFor(t, "a blocked Write", func() bool { return w.Stats().Blocked > 0 })
	st.mu.Lock()
	close(st.gate)
	st.gate = nil
	st.mu.Unlock()
	wg.Wait()
	closeWriter(t, w)
	if got := w.Stats(); got.Written != 6 || got.Failed != 0 || got.Spilled != 0 {
		t.Errorf("Stats = %+v", got)
	}
	if !strings.Contains(logs.String(), "spill not writable") {
		t.Errorf("log:\n%s", logs.String())
	}
}

// TestSQLiteReplayOfStoredBatch replays a batch that the database has already committed, as
// when a commit went through but its acknowledgement was lost: no row is stored twice.
func TestSQLiteReplayOfStoredBatch(t *testing.T) {
	testReplayOfStoredBatch(t, openTestStore(t, ""))
}

func testReplayOfStoredBatch(t *testing.T, s IdempotentStore) {
	dir := t.TempDir()
	ctx := context.Background()
	recs := testRecords("stored-"+newBatchID()[:8], 5)
	if err := s.InsertBatch(ctx, "batch-a", recs); err != nil {
		t.Fatal(err)
	}
	sp, err := openSpill(dir, 10, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	more := testRecords("more-"+newBatchID()[:8], 3)
	if err := sp.appendBatch("batch-a", recs, true); err != nil {
		t.Fatal(err)
	}
	if err := sp.appendBatch("batch-b", more, true); err != nil {
		t.Fatal(err)
	}
	sp.close()

	w := newWriter(s, WriterOptions{SpillDir: dir}, fastRetry)
	waitFor(t, "the spill to be replayed", func() bool { return w.Stats().SpillPending == 0 })
	closeWriter(t, w)
	for _, r := range append(recs, more...) {
		got, err := s.Records(ctx, r.RequestID, "")
		if err != nil || len(got) != 1 {
			t.Errorf("%s: %d rows, %v; want 1", r.RequestID, len(got), err)
		}
	}
	// Stored again directly, under the same id: nothing happens either.
	if err := s.InsertBatch(ctx, "batch-b", more); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Records(ctx, more[0].RequestID, ""); len(got) != 1 {
		t.Errorf("%d rows after a second InsertBatch", len(got))
	}
}

// TestWriterCloseReplaysWhenStoreUp closes a writer whose spill holds records while the store
// answers again: Close stores them rather than leaving them for the next start.
func TestWriterCloseReplaysWhenStoreUp(t *testing.T) {
	dir := t.TempDir()
	st := newOnceStore()
	st.down.Store(true)
	slow := fastRetry
	slow.base, slow.max = time.Hour, time.Hour // the replay waits for Close to wake it
	slow.spillAttempts = 1                     // and a failed batch is spilled at once
	w := newWriter(st, WriterOptions{BatchSize: 5, FlushInterval: time.Millisecond, SpillDir: dir}, slow)
	recs := testRecords("closing", 12)
	for _, r := range recs {
		w.Write(r)
	}
	waitFor(t, "the records to be spilled", func() bool { return w.Stats().Spilled == 12 })
	st.down.Store(false)
	closeWriter(t, w)
	if got := w.Stats(); got.Written != 12 || got.SpillPending != 0 {
		t.Errorf("after Close, Stats = %+v", got)
	}
	checkStoredOnce(t, st.fakeStore, recs)
	if s := segments(t, dir); len(s) != 0 {
		t.Errorf("segments left: %v", s)
	}
}
