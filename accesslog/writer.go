package accesslog

import (
	"context"
	"errors"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of WriterOptions.
const (
	DefaultQueueSize     = 16384
	DefaultBatchSize     = 500
	DefaultFlushInterval = 100 * time.Millisecond
)

// WriterOptions configures a Writer. The zero value gives the defaults.
type WriterOptions struct {
	// QueueSize is how many records wait for the writer before Write blocks; default 16384.
	QueueSize int
	// BatchSize is the most records stored in one Insert; default 500.
	BatchSize int
	// FlushInterval is the longest a record waits for its batch to fill before the batch is
	// stored anyway; default 100ms.
	FlushInterval time.Duration
	// Enrich, when set, fills a record's derived fields (content, tool calls, token counts,
	// cost) from its captured bytes. It runs in the writer goroutine, before the custom
	// columns are computed. A record whose Enrich panics is stored with its raw fields.
	Enrich func(*Record)
	// Columns are the custom columns: the Value of each, when set, is computed after Enrich
	// and kept in the record's Extra under the column's name. A Value that panics stores NULL.
	Columns []Column
	// Logger receives the writer's errors; default slog.Default(). Record bodies and headers
	// are never logged.
	Logger *slog.Logger
}

// WriterStats are counts of a Writer's records since it started.
type WriterStats struct {
	Queued  int    // accepted and not yet stored or failed: in the queue or in the batch being stored
	Written uint64 // stored
	Failed  uint64 // given up on: Insert kept failing, or Write was called after Close
	Blocked uint64 // Write calls that found the queue full and waited for room
}

// retryPolicy is how a failing Insert is retried: delays double from base up to max, over at
// most attempts tries in all.
type retryPolicy struct {
	base, max time.Duration
	attempts  int
}

var defaultRetry = retryPolicy{base: 50 * time.Millisecond, max: 5 * time.Second, attempts: 8}

// item is one element of the queue: a record, or a Flush marker.
type item struct {
	rec     *Record
	flushed chan struct{} // set on a marker; closed once everything before it is stored
}

// Writer stores records off the request path: Write hands a record to a bounded queue, and one
// goroutine enriches the records and stores them in batches, one transaction each.
//
// A Writer never drops a record it accepted: when the queue is full, Write waits for room. A
// Writer is safe for concurrent use.
type Writer struct {
	store Store
	opts  WriterOptions
	retry retryPolicy
	log   *slog.Logger

	// mu is held for reading while a record or a marker is sent and for writing by Close when it
	// closes the queue, so that no send can happen on the closed channel.
	mu     sync.RWMutex
	closed bool
	queue  chan item

	// ctx is what Insert runs under; it ends when a Close deadline passes, which stops the
	// retries and fails the remaining records quickly.
	ctx       context.Context
	abort     context.CancelFunc
	closeOnce sync.Once
	done      chan struct{} // closed when the goroutine has stored everything and returned

	pending                  atomic.Int64
	written, failed, blocked atomic.Uint64
}

// NewWriter returns a Writer that stores into store, and starts its goroutine. Close it to
// store what is still queued.
func NewWriter(store Store, opts WriterOptions) *Writer {
	return newWriter(store, opts, defaultRetry)
}

func newWriter(store Store, opts WriterOptions, retry retryPolicy) *Writer {
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = DefaultFlushInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	opts.Columns = append([]Column(nil), opts.Columns...)
	w := &Writer{
		store: store,
		opts:  opts,
		retry: retry,
		log:   opts.Logger.With("component", "accesslog.Writer"),
		queue: make(chan item, opts.QueueSize),
		done:  make(chan struct{}),
	}
	w.ctx, w.abort = context.WithCancel(context.Background())
	go w.run()
	return w
}

// Write queues rec to be stored. It returns at once unless the queue is full, in which case it
// waits for room. A zero CreatedAt is set to the current time. The caller must not change rec
// afterwards. After Close, Write stores nothing and counts the record as failed.
func (w *Writer) Write(rec *Record) {
	if rec == nil {
		return
	}
	if rec.CreatedAt.IsZero() {
		rec.CreatedAt = time.Now().UTC()
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		w.failed.Add(1)
		return
	}
	w.pending.Add(1)
	it := item{rec: rec}
	select {
	case w.queue <- it:
	default:
		w.blocked.Add(1)
		w.queue <- it
	}
}

// Flush returns once every record written before the call has been stored or has failed, or
// with ctx's error when ctx ends first.
func (w *Writer) Flush(ctx context.Context) error {
	flushed := make(chan struct{})
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		// Close drains the queue: everything written before is stored once the goroutine ends.
		return w.wait(ctx)
	}
	select {
	case w.queue <- item{flushed: flushed}:
		w.mu.RUnlock()
	case <-ctx.Done():
		w.mu.RUnlock()
		return ctx.Err()
	}
	select {
	case <-flushed:
		return nil
	case <-ctx.Done():
		select {
		case <-flushed:
			return nil
		default:
			return ctx.Err()
		}
	}
}

// Close stops accepting records, stores everything queued and waits for the goroutine to end.
// When ctx ends first, the retries of a failing store stop, what remains is counted as failed
// without waiting further, and Close returns ctx's error. Close may be called more than once.
func (w *Writer) Close(ctx context.Context) error {
	w.closeOnce.Do(func() {
		// Taking the lock waits for Writes blocked on a full queue; the goroutine keeps
		// draining meanwhile, so this ends, but Close must be able to stop waiting first.
		go func() {
			w.mu.Lock()
			w.closed = true
			close(w.queue)
			w.mu.Unlock()
		}()
	})
	err := w.wait(ctx)
	if err != nil {
		w.abort()
	}
	return err
}

func (w *Writer) wait(ctx context.Context) error {
	select {
	case <-w.done:
		return nil
	default:
	}
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stats returns the writer's current counts.
func (w *Writer) Stats() WriterStats {
	return WriterStats{
		Queued:  int(w.pending.Load()),
		Written: w.written.Load(),
		Failed:  w.failed.Load(),
		Blocked: w.blocked.Load(),
	}
}

// run is the writer goroutine: it gathers batches and stores them until the queue is closed
// and empty.
func (w *Writer) run() {
	defer close(w.done)
	defer w.abort()

	batch := make([]*Record, 0, w.opts.BatchSize)
	var flushes []chan struct{}
	timer := time.NewTimer(time.Hour)
	timer.Stop()

	for open := true; open; {
		it, ok := <-w.queue
		if !ok {
			return
		}
		if it.flushed != nil {
			close(it.flushed)
			continue
		}
		batch = append(batch, it.rec)
		// The interval counts from the batch's first record, so no record waits longer.
		timer.Reset(w.opts.FlushInterval)
	gather:
		for len(batch) < w.opts.BatchSize {
			select {
			case it, ok := <-w.queue:
				switch {
				case !ok:
					open = false
					break gather
				case it.flushed != nil:
					flushes = append(flushes, it.flushed)
					break gather
				default:
					batch = append(batch, it.rec)
				}
			case <-timer.C:
				break gather
			}
		}
		timer.Stop()

		w.commit(batch)
		for _, f := range flushes {
			close(f)
		}
		clear(batch) // lets the stored records be collected
		batch = batch[:0]
		flushes = flushes[:0]
	}
}

// commit enriches a batch and stores it, retrying with backoff, and counts the outcome.
func (w *Writer) commit(batch []*Record) {
	for _, rec := range batch {
		w.enrich(rec)
		w.columns(rec)
	}
	n := len(batch)
	delay := w.retry.base
	for attempt := 1; ; attempt++ {
		err := w.insert(batch)
		if err == nil {
			w.written.Add(uint64(n))
			w.pending.Add(-int64(n))
			return
		}
		if attempt >= w.retry.attempts || w.ctx.Err() != nil {
			w.failed.Add(uint64(n))
			w.pending.Add(-int64(n))
			w.log.Error("access log batch not stored", "records", n, "attempts", attempt, "error", err)
			return
		}
		w.log.Warn("access log insert failed, retrying", "records", n, "attempt", attempt, "retry_in", delay, "error", err)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-w.ctx.Done():
			t.Stop()
		}
		delay = min(2*delay, w.retry.max)
	}
}

var errNoStore = errors.New("writer has no store")

func (w *Writer) insert(batch []*Record) error {
	if w.store == nil {
		return errNoStore
	}
	return w.store.Insert(w.ctx, batch)
}

// enrich runs the Enrich hook. On a panic the record gets its fields back as they were before,
// so that a half-done enrichment is not stored.
func (w *Writer) enrich(rec *Record) {
	if w.opts.Enrich == nil {
		return
	}
	saved := *rec
	defer func() {
		if v := recover(); v != nil {
			*rec = saved
			w.log.Error("access log enrich panicked, storing the raw record",
				"request_id", rec.RequestID, "direction", rec.Direction,
				"panic", v, "stack", string(debug.Stack()))
		}
	}()
	w.opts.Enrich(rec)
}

// columns computes the custom columns' values into rec.Extra.
func (w *Writer) columns(rec *Record) {
	for _, c := range w.opts.Columns {
		if c.Value == nil {
			continue
		}
		v := w.columnValue(rec, c)
		if rec.Extra == nil {
			if v == nil {
				continue
			}
			rec.Extra = make(map[string]any, len(w.opts.Columns))
		}
		rec.Extra[c.Name] = v
	}
}

func (w *Writer) columnValue(rec *Record, c Column) (v any) {
	defer func() {
		if p := recover(); p != nil {
			v = nil
			w.log.Error("access log column value panicked, storing NULL",
				"column", c.Name, "request_id", rec.RequestID, "direction", rec.Direction,
				"panic", p, "stack", string(debug.Stack()))
		}
	}()
	return c.Value(rec)
}
