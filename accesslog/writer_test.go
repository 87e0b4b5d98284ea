package accesslog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeStore records Insert calls. It fails the first fail calls, and while gate is set each
// Insert waits for the gate to be closed (or for its context).
type fakeStore struct {
	mu       sync.Mutex
	calls    int   // Insert calls, failed ones included
	sizes    []int // size of each successful batch
	stored   map[string]int
	records  []*Record
	fail     int
	gate     chan struct{}
	inserted chan struct{} // receives after each Insert call, when set
}

func newFakeStore() *fakeStore { return &fakeStore{stored: make(map[string]int)} }

func (f *fakeStore) Insert(ctx context.Context, recs []*Record) error {
	f.mu.Lock()
	gate := f.gate
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	defer func() {
		f.mu.Unlock()
		if f.inserted != nil {
			f.inserted <- struct{}{}
		}
	}()
	f.calls++
	if f.calls <= f.fail {
		return errors.New("database is down")
	}
	f.sizes = append(f.sizes, len(recs))
	for _, r := range recs {
		f.stored[r.RequestID]++
		f.records = append(f.records, r)
	}
	return nil
}

func (f *fakeStore) Records(context.Context, string, string) ([]*Record, error) { return nil, nil }
func (f *fakeStore) Close() error                                               { return nil }

func (f *fakeStore) snapshot() (calls int, sizes []int, stored int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls, append([]int(nil), f.sizes...), len(f.records)
}

var fastRetry = retryPolicy{base: time.Millisecond, max: 4 * time.Millisecond, attempts: 8, spillAttempts: 2, isolateAfter: 5}

// waitFor polls cond until it holds, failing the test after a generous deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func closeWriter(t *testing.T, w *Writer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func testRecords(prefix string, n int) []*Record {
	recs := make([]*Record, n)
	for i := range recs {
		recs[i] = &Record{RequestID: fmt.Sprintf("%s-%d", prefix, i), Direction: DirectionRequest}
	}
	return recs
}

func TestWriterBatches(t *testing.T) {
	tests := []struct {
		name      string
		n, batch  int
		wantSizes []int
	}{
		{"one partial batch", 7, 500, []int{7}},
		{"exact batches", 1000, 500, []int{500, 500}},
		{"full batches and a remainder", 1201, 500, []int{500, 500, 201}},
		{"batch of one", 3, 1, []int{1, 1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newFakeStore()
			// A long interval: only a full batch or the Flush marker ends a batch.
			w := newWriter(fs, WriterOptions{BatchSize: tt.batch, FlushInterval: time.Hour}, fastRetry)
			defer closeWriter(t, w)
			for _, r := range testRecords("b", tt.n) {
				w.Write(r)
			}
			if err := w.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			calls, sizes, stored := fs.snapshot()
			if stored != tt.n || calls != len(tt.wantSizes) || fmt.Sprint(sizes) != fmt.Sprint(tt.wantSizes) {
				t.Errorf("stored %d in %d calls %v, want %d in %v", stored, calls, sizes, tt.n, tt.wantSizes)
			}
			if st := w.Stats(); st.Written != uint64(tt.n) || st.Queued != 0 || st.Failed != 0 {
				t.Errorf("Stats = %+v", st)
			}
		})
	}
}

func TestWriterFlushInterval(t *testing.T) {
	fs := newFakeStore()
	fs.inserted = make(chan struct{}, 1)
	w := newWriter(fs, WriterOptions{BatchSize: 500, FlushInterval: 10 * time.Millisecond}, fastRetry)
	defer closeWriter(t, w)
	start := time.Now()
	w.Write(&Record{RequestID: "lonely"})
	select {
	case <-fs.inserted:
	case <-time.After(10 * time.Second):
		t.Fatal("a lone record was not stored after the flush interval")
	}
	if waited := time.Since(start); waited < 10*time.Millisecond {
		t.Errorf("stored after %v, before the flush interval", waited)
	}
}

func TestWriterCloseDrains(t *testing.T) {
	fs := newFakeStore()
	w := newWriter(fs, WriterOptions{BatchSize: 100, FlushInterval: time.Hour}, fastRetry)
	for _, r := range testRecords("d", 250) {
		w.Write(r)
	}
	closeWriter(t, w)
	if _, sizes, stored := fs.snapshot(); stored != 250 || fmt.Sprint(sizes) != "[100 100 50]" {
		t.Errorf("stored %d in batches %v, want 250 in [100 100 50]", stored, sizes)
	}
	if err := w.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := w.Flush(context.Background()); err != nil {
		t.Errorf("Flush after Close: %v", err)
	}
}

func TestWriterFlush(t *testing.T) {
	fs := newFakeStore()
	w := newWriter(fs, WriterOptions{BatchSize: 500, FlushInterval: time.Hour}, fastRetry)
	defer closeWriter(t, w)

	if err := w.Flush(context.Background()); err != nil {
		t.Fatalf("Flush of an idle writer: %v", err)
	}

	fs.mu.Lock()
	fs.gate = make(chan struct{})
	fs.mu.Unlock()
	for _, r := range testRecords("f", 3) {
		w.Write(r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := w.Flush(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Flush with the store stuck = %v, want DeadlineExceeded", err)
	}
	if _, _, stored := fs.snapshot(); stored != 0 {
		t.Fatalf("stored %d with the store stuck", stored)
	}

	fs.mu.Lock()
	close(fs.gate)
	fs.gate = nil
	fs.mu.Unlock()
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, _, stored := fs.snapshot(); stored != 3 {
		t.Errorf("after Flush, %d stored, want 3", stored)
	}
}

func TestWriterEnrichAndColumns(t *testing.T) {
	var logs bytes.Buffer
	fs := newFakeStore()
	w := newWriter(fs, WriterOptions{
		BatchSize:     10,
		FlushInterval: time.Hour,
		Logger:        slog.New(slog.NewTextHandler(&logs, nil)),
		Enrich: func(r *Record) {
			r.Content = "enriched"
			if r.RequestID == "enrich-panics" {
				panic("enrich bug")
			}
			r.Model = "gpt-4o"
		},
		Columns: []Column{
			{Name: "body_len", Type: Integer, Value: func(r *Record) any { return len(r.RawBody) }},
			{Name: "content_copy", Type: Text, Value: func(r *Record) any { return r.Content }},
			{Name: "boom", Type: Text, Value: func(r *Record) any {
				if r.RequestID == "column-panics" {
					panic("column bug")
				}
				return "ok"
			}},
			{Name: "from_enrich", Type: Text}, // no Value: left as Enrich put it
		},
	}, fastRetry)
	for _, id := range []string{"fine", "enrich-panics", "column-panics"} {
		w.Write(&Record{RequestID: id, RawBody: []byte("secret-body"), Model: "raw-model"})
	}
	closeWriter(t, w)

	byID := make(map[string]*Record)
	for _, r := range fs.records {
		byID[r.RequestID] = r
	}
	tests := []struct {
		id                   string
		content, model, boom string
	}{
		{"fine", "enriched", "gpt-4o", "ok"},
		{"enrich-panics", "", "raw-model", "ok"}, // the half-done enrichment is undone
		{"column-panics", "enriched", "gpt-4o", "<nil>"},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			r := byID[tt.id]
			if r == nil {
				t.Fatal("not stored")
			}
			if r.Content != tt.content || r.Model != tt.model || fmt.Sprint(r.Extra["boom"]) != tt.boom {
				t.Errorf("content %q model %q boom %v; want %q %q %s", r.Content, r.Model, r.Extra["boom"], tt.content, tt.model, tt.boom)
			}
			if r.Extra["body_len"] != 11 || r.Extra["content_copy"] != tt.content {
				t.Errorf("Extra = %v", r.Extra)
			}
			if _, ok := r.Extra["from_enrich"]; ok {
				t.Errorf("a column without Value got a value")
			}
		})
	}
	out := logs.String()
	for _, want := range []string{"enrich panicked", "enrich bug", "column value panicked", "column bug", "request_id=enrich-panics"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "secret-body") {
		t.Errorf("a record body reached the log:\n%s", out)
	}
}

func TestWriterRetries(t *testing.T) {
	tests := []struct {
		name        string
		fail        int
		wantWritten uint64
		wantFailed  uint64
	}{
		{"no failure", 0, 20, 0},
		{"fails three times", 3, 20, 0},
		{"succeeds on the last attempt", 7, 20, 0},
		{"fails every attempt", 8, 0, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			fs := newFakeStore()
			fs.fail = tt.fail
			w := newWriter(fs, WriterOptions{
				BatchSize: 500, FlushInterval: time.Hour,
				Logger: slog.New(slog.NewTextHandler(&logs, nil)),
			}, fastRetry)
			for _, r := range testRecords("r", 20) {
				r.RawBody = []byte("secret-body")
				w.Write(r)
			}
			closeWriter(t, w)

			calls, _, stored := fs.snapshot()
			if want := min(tt.fail+1, fastRetry.attempts); calls != want {
				t.Errorf("Insert called %d times, want %d", calls, want)
			}
			if st := w.Stats(); st.Written != tt.wantWritten || st.Failed != tt.wantFailed || st.Queued != 0 {
				t.Errorf("Stats = %+v, want %d written, %d failed", st, tt.wantWritten, tt.wantFailed)
			}
			if stored != int(tt.wantWritten) {
				t.Errorf("stored %d rows, want %d", stored, tt.wantWritten)
			}
			for id, n := range fs.stored {
				if n != 1 {
					t.Errorf("%s stored %d times", id, n)
				}
			}
			if tt.wantFailed > 0 && !strings.Contains(logs.String(), "database is down") {
				t.Errorf("the failure is not logged:\n%s", logs.String())
			}
			if strings.Contains(logs.String(), "secret-body") {
				t.Errorf("a record body reached the log")
			}
		})
	}
}

func TestWriterWriteAfterClose(t *testing.T) {
	fs := newFakeStore()
	w := newWriter(fs, WriterOptions{}, fastRetry)
	w.Write(&Record{RequestID: "before"})
	closeWriter(t, w)
	w.Write(&Record{RequestID: "after"})
	w.Write(&Record{RequestID: "after-2"})
	st := w.Stats()
	if st.Written != 1 || st.Failed != 2 || st.Queued != 0 {
		t.Errorf("Stats = %+v, want 1 written, 2 failed", st)
	}
	if fs.stored["after"] != 0 {
		t.Errorf("a record written after Close was stored")
	}
}

func TestWriterCloseDeadline(t *testing.T) {
	fs := newFakeStore()
	fs.gate = make(chan struct{}) // never opens: Insert returns only when its context ends
	w := newWriter(fs, WriterOptions{BatchSize: 2, FlushInterval: time.Hour}, defaultRetry)
	for _, r := range testRecords("stuck", 5) {
		w.Write(r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := w.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want DeadlineExceeded", err)
	}
	// The remaining batches fail at once instead of retrying for seconds.
	waitFor(t, "the stuck records to be failed", func() bool { return w.Stats().Failed == 5 })
	if err := w.Close(context.Background()); err != nil {
		t.Errorf("Close after the goroutine ended: %v", err)
	}
	if st := w.Stats(); st.Queued != 0 || st.Written != 0 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestWriterBlocksWhenFull(t *testing.T) {
	fs := newFakeStore()
	fs.gate = make(chan struct{})
	w := newWriter(fs, WriterOptions{QueueSize: 2, BatchSize: 1, FlushInterval: time.Hour}, fastRetry)

	const n = 10
	var wg sync.WaitGroup
	for _, r := range testRecords("full", n) {
		wg.Go(func() { w.Write(r) })
	}
	// One record in the stuck Insert, two in the queue: the others wait for room.
	waitFor(t, "a blocked Write", func() bool { return w.Stats().Blocked > 0 })
	fs.mu.Lock()
	close(fs.gate)
	fs.gate = nil
	fs.mu.Unlock()
	wg.Wait()
	closeWriter(t, w)
	if st := w.Stats(); st.Written != n || st.Failed != 0 {
		t.Errorf("Stats = %+v, want %d written", st, n)
	}
}

// TestWriterConcurrent runs writers, flushes and Close at once; run it with -race.
func TestWriterConcurrent(t *testing.T) {
	fs := newFakeStore()
	w := newWriter(fs, WriterOptions{QueueSize: 64, BatchSize: 50, FlushInterval: time.Millisecond}, fastRetry)

	const writers, each = 8, 500
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for i, r := range testRecords(fmt.Sprintf("g%d", g), each) {
				w.Write(r)
				if i%100 == 0 {
					w.Flush(context.Background())
				}
				if g == 0 && i == each/2 {
					// Close while the others are still writing.
					if err := w.Close(context.Background()); err != nil {
						t.Errorf("Close: %v", err)
					}
				}
				_ = w.Stats()
			}
		})
	}
	wg.Wait()
	closeWriter(t, w)

	st := w.Stats()
	_, _, stored := fs.snapshot()
	if st.Written+st.Failed != writers*each || st.Written != uint64(stored) || st.Queued != 0 {
		t.Errorf("Stats = %+v with %d stored, want written+failed = %d", st, stored, writers*each)
	}
	for id, n := range fs.stored {
		if n != 1 {
			t.Errorf("%s stored %d times", id, n)
		}
	}
}

func TestWriterSetsCreatedAt(t *testing.T) {
	fs := newFakeStore()
	w := newWriter(fs, WriterOptions{}, fastRetry)
	before := time.Now()
	w.Write(&Record{RequestID: "t"})
	closeWriter(t, w)
	if got := fs.records[0].CreatedAt; got.Before(before) || got.Location() != time.UTC {
		t.Errorf("CreatedAt = %v, want a UTC time after %v", got, before)
	}
}

func TestWriterWithSQLite(t *testing.T) {
	s := openTestStore(t, "", Column{Name: "team"})
	w := NewWriter(s, WriterOptions{Columns: []Column{{Name: "team", Value: func(r *Record) any { return "red" }}}})
	for _, r := range testRecords("sql", 1200) {
		w.Write(r)
	}
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.DB().QueryRow("SELECT COUNT(*) FROM accesslog WHERE team = 'red'").Scan(&n); err != nil || n != 1200 {
		t.Errorf("count = %d, %v; want 1200", n, err)
	}
	closeWriter(t, w)
}
