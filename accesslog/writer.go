package accesslog

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"runtime/debug"
	"strconv"
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
	// QueueSize is how many records wait for the writer before Write spills them (or, without
	// SpillDir, waits for room); default 16384.
	QueueSize int
	// BatchSize is the most records stored in one Insert; default 500.
	BatchSize int
	// FlushInterval is the longest a record waits for its batch to fill before the batch is
	// stored anyway; default 100ms.
	FlushInterval time.Duration
	// SpillDir, when set, is a local directory (created when missing) where records go instead
	// of waiting or being lost: those that find the queue full, and the batches that the store
	// keeps refusing. The writer stores them once the store answers again, and a spill left by
	// an earlier process (a crash, or a Close deadline) when it starts. One process at a time
	// may use a directory. Without SpillDir, Write waits for room in a full queue and a batch
	// that the store keeps refusing is counted as failed.
	//
	// The directory holds segment-NNNNNNNNNNNNNNNNNNNN.jsonl files, one JSON object per record
	// with its batch id (bodies in base64), removed once stored; and rejected.jsonl, in the
	// same format, with the records that the store refused one by one while it took others
	// (counted as failed and logged), which are not replayed. Both hold request bodies: the
	// directory is created readable by its owner only.
	SpillDir string
	// Enrich, when set, fills a record's derived fields (content, tool calls, token counts,
	// cost) from its captured bytes. It runs off the request path, in the writer goroutine or
	// in the one that replays the spill, one record at a time, before the custom columns are
	// computed. A record whose Enrich panics is stored with its raw fields.
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
	Queued  int    // accepted and not yet stored, spilled or failed: in the queue or in the batch being stored
	Written uint64 // stored, the records replayed from the spill included
	Failed  uint64 // lost: the store kept failing without a spill, the spill could not be written, or Write was called after Close
	Blocked uint64 // Write calls that found the queue full and waited for room (no spill)
	Spilled uint64 // records written to the spill: the queue was full or the store was failing

	// SpillPending is how many records the spill holds that are not stored yet, those left by
	// an earlier process included.
	SpillPending int
}

// IdempotentStore is a Store that can store a batch at most once. The Writer gives every
// batch an id and, with a store that implements this interface, stores batches with
// InsertBatch: a batch stored again (a retry after an error whose outcome was unknown, or a
// replay of the spill) is then never stored twice. With a plain Store, such a batch may be.
// SQLiteStore and PostgresStore implement it.
type IdempotentStore interface {
	Store
	// InsertBatch stores recs in one transaction under batchID, unless a batch with that id
	// was stored before, in which case it stores nothing and returns nil.
	InsertBatch(ctx context.Context, batchID string, recs []*Record) error
}

var (
	_ IdempotentStore = (*SQLiteStore)(nil)
	_ IdempotentStore = (*PostgresStore)(nil)
)

// batchChecker is a store that tells whether a batch id was stored: the writer asks before it
// stores the records of a refused batch one by one, under ids of their own.
type batchChecker interface {
	batchStored(ctx context.Context, batchID string) (bool, error)
}

// retryPolicy is how a failing Insert is retried: delays double from base up to max. A batch
// is tried at most attempts times in all without a spill, spillAttempts times with one before
// it goes to the spill; the spill's replay retries without limit.
type retryPolicy struct {
	base, max     time.Duration
	attempts      int
	spillAttempts int
	// isolateAfter is how many times in a row a replayed batch fails before its records are
	// tried one by one, to set aside a record that the store refuses while it takes others.
	isolateAfter int
}

var defaultRetry = retryPolicy{base: 50 * time.Millisecond, max: 5 * time.Second, attempts: 8, spillAttempts: 3, isolateAfter: 5}

// insertTimeout bounds one Insert, so that a database that stopped answering without closing
// the connection sends the batch to the spill instead of holding the writer.
const insertTimeout = time.Minute

// item is one element of the queue: a record, or a Flush marker.
type item struct {
	rec     *Record
	flushed chan struct{} // set on a marker; closed once everything before it is stored
}

// Writer stores records off the request path: Write hands a record to a bounded queue, and one
// goroutine enriches the records and stores them in batches, one transaction each.
//
// A Writer never drops a record it accepted. With WriterOptions.SpillDir, a record that finds
// the queue full is appended to a local spill file, and a batch that the store still refuses
// after a short retry goes there too; the store is then probed with backoff (50ms doubling to
// 5s), and once it answers, the spill is replayed in batches, each stored exactly once with an
// IdempotentStore, and new batches go to the store again. Close drains the queue into the
// store, or into the spill when the store is down or the deadline passes, and the next Writer
// on the directory replays what is left. Without a spill, Write waits for room in a full
// queue and a batch that the store keeps refusing is counted as failed.
//
// A Writer is safe for concurrent use.
type Writer struct {
	store Store
	opts  WriterOptions
	retry retryPolicy
	log   *slog.Logger
	spill *spill // nil without SpillDir

	// mu is held for reading while a record or a marker is sent and for writing by Close when it
	// closes the queue, so that no send can happen on the closed channel.
	mu     sync.RWMutex
	closed bool
	queue  chan item

	// enrichMu makes Enrich and the columns run one record at a time, in the writer goroutine
	// or in the replay goroutine.
	enrichMu sync.Mutex

	// ctx is what Insert runs under; it ends when a Close deadline passes, which stops the
	// retries and sends the remaining records to the spill, or fails them without one.
	ctx       context.Context
	abort     context.CancelFunc
	closeOnce sync.Once
	done      chan struct{} // closed when the writer goroutine has handled everything and returned
	wake      chan struct{} // asks the replay goroutine to replay the spill
	stop      chan struct{} // closed, after closing is set, when the writer goroutine has returned
	closing   atomic.Bool
	finished  chan struct{} // closed when both goroutines have returned and the spill is closed

	pending                           atomic.Int64
	written, failed, blocked, spilled atomic.Uint64
	overflowErrLogged                 atomic.Bool
	overflowed                        atomic.Bool // Write spilled a record since the last wake
}

// NewWriter returns a Writer that stores into store, and starts its goroutines. Close it to
// store what is still queued.
//
// When opts.SpillDir cannot be opened, the error is logged and the Writer runs without a spill.
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
		store:    store,
		opts:     opts,
		retry:    retry,
		log:      opts.Logger.With("component", "accesslog.Writer"),
		queue:    make(chan item, opts.QueueSize),
		done:     make(chan struct{}),
		wake:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		finished: make(chan struct{}),
	}
	w.ctx, w.abort = context.WithCancel(context.Background())
	if opts.SpillDir != "" {
		sp, err := openSpill(opts.SpillDir, opts.BatchSize, w.log)
		if err != nil {
			w.log.Error("access log spill unavailable, running without it", "dir", opts.SpillDir, "error", err)
		} else {
			w.spill = sp
			if n := sp.pending.Load(); n > 0 {
				w.log.Info("access log spill left by an earlier run, replaying it", "dir", opts.SpillDir, "records", n)
				w.wakeReplay()
			}
		}
	}
	go w.run()
	replayDone := make(chan struct{})
	if w.spill != nil {
		go w.replayLoop(replayDone)
	} else {
		close(replayDone)
	}
	go func() {
		<-w.done
		w.closing.Store(true)
		close(w.stop)
		<-replayDone
		if w.spill != nil {
			if err := w.spill.close(); err != nil {
				w.log.Error("access log spill not closed cleanly", "error", err)
			}
		}
		w.abort()
		close(w.finished)
	}()
	return w
}

// Write queues rec to be stored. It returns at once: when the queue is full, rec goes to the
// spill, or, without one, Write waits for room. A zero CreatedAt is set to the current time.
// The caller must not change rec afterwards. After Close, Write stores nothing and counts the
// record as failed.
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
		return
	default:
	}
	if w.spill != nil {
		err := w.spill.appendOverflow(rec)
		if err == nil {
			w.pending.Add(-1)
			w.spilled.Add(1)
			w.overflowed.Store(true)
			w.wakeReplay()
			return
		}
		if !w.overflowErrLogged.Swap(true) {
			w.log.Error("access log spill not writable, waiting for room in the queue", "error", err)
		}
	}
	w.blocked.Add(1)
	w.queue <- it
}

// Flush returns once every record written before the call has been stored, spilled or has
// failed, or with ctx's error when ctx ends first.
func (w *Writer) Flush(ctx context.Context) error {
	flushed := make(chan struct{})
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		// Close drains the queue: everything written before is handled once the goroutine ends.
		return w.waitDone(ctx)
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

// Close stops accepting records, stores everything queued and waits for the goroutines to end.
// When the store answers, Close also replays what the spill holds; when it does not, or when
// ctx ends, what the spill holds is replayed by the next Writer on the directory.
//
// When ctx ends first, the retries of a failing store stop and Close returns ctx's error: with
// a spill, after what remains has been written to the spill (the store is given up a little
// before ctx's deadline for that); without one, at once, the remaining records being counted
// as failed. Close may be called more than once.
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
	select {
	case <-w.finished:
		return nil
	default:
	}
	if deadline, ok := ctx.Deadline(); ok && w.spill != nil {
		// Stop trying the store a little before the deadline, so that what remains reaches
		// the spill in time.
		margin := min(time.Until(deadline)/10, time.Second)
		t := time.AfterFunc(time.Until(deadline)-margin, w.abort)
		defer t.Stop()
	}
	select {
	case <-w.finished:
		return nil
	case <-ctx.Done():
		w.abort()
		if w.spill != nil {
			// Inserts end at once now, and what remains goes to the local disk.
			<-w.finished
		}
		return ctx.Err()
	}
}

// waitDone waits for the writer goroutine to have handled everything queued.
func (w *Writer) waitDone(ctx context.Context) error {
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
	st := WriterStats{
		Queued:  int(w.pending.Load()),
		Written: w.written.Load(),
		Failed:  w.failed.Load(),
		Blocked: w.blocked.Load(),
		Spilled: w.spilled.Load(),
	}
	if w.spill != nil {
		st.SpillPending = int(w.spill.pending.Load())
	}
	return st
}

// run is the writer goroutine: it gathers batches and stores them until the queue is closed
// and empty.
func (w *Writer) run() {
	defer close(w.done)

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

// commit enriches a batch and stores it, retrying with backoff, or spills it, and counts the
// outcome.
func (w *Writer) commit(batch []*Record) {
	w.prepare(batch)
	n := len(batch)
	id := newBatchID()
	if w.spill != nil {
		// While the store is failing, batches go to the spill behind the ones already there;
		// the replay goroutine probes the store.
		spilled, err := w.spill.appendIfDown(id, batch)
		if spilled && err == nil {
			w.spilled.Add(uint64(n))
			w.pending.Add(-int64(n))
			return
		}
		if err != nil {
			w.log.Error("access log spill not writable, trying the store", "records", n, "error", err)
		}
	}
	attempts := w.retry.attempts
	if w.spill != nil {
		attempts = w.retry.spillAttempts
	}
	delay := w.retry.base
	for attempt := 1; ; attempt++ {
		err := w.insert(w.ctx, id, batch)
		if err == nil {
			w.written.Add(uint64(n))
			w.pending.Add(-int64(n))
			return
		}
		if attempt >= attempts || w.ctx.Err() != nil {
			w.giveUp(id, batch, attempt, err)
			return
		}
		w.log.Warn("access log insert failed, retrying", "records", n, "attempt", attempt, "retry_in", delay, "error", err)
		if !sleep(w.ctx, nil, delay) {
			continue // the Close deadline passed: one last attempt ends at once
		}
		delay = min(2*delay, w.retry.max)
	}
}

// giveUp sends a batch that the store refused to the spill, or counts it as failed.
func (w *Writer) giveUp(id string, batch []*Record, attempts int, err error) {
	n := len(batch)
	w.pending.Add(-int64(n))
	if w.spill != nil {
		serr := w.spill.appendDown(id, batch)
		if serr == nil {
			w.spilled.Add(uint64(n))
			w.log.Warn("access log store failing, batch spilled to disk", "records", n, "attempts", attempts, "error", err)
			w.wakeReplay()
			return
		}
		err = errors.Join(err, serr)
	}
	w.failed.Add(uint64(n))
	w.log.Error("access log batch not stored", "records", n, "attempts", attempts, "error", err)
}

var errNoStore = errors.New("writer has no store")

// insert stores a batch under its id, once only when the store can tell.
func (w *Writer) insert(ctx context.Context, id string, batch []*Record) error {
	if w.store == nil {
		return errNoStore
	}
	ctx, cancel := context.WithTimeout(ctx, insertTimeout)
	defer cancel()
	if s, ok := w.store.(IdempotentStore); ok {
		return s.InsertBatch(ctx, id, batch)
	}
	return w.store.Insert(ctx, batch)
}

// sleep waits for d, and reports false when ctx ends or stop is closed first.
func sleep(ctx context.Context, stop <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-stop:
		return false
	}
}

// prepare runs Enrich and computes the custom columns of each record.
func (w *Writer) prepare(batch []*Record) {
	w.enrichMu.Lock()
	defer w.enrichMu.Unlock()
	for _, rec := range batch {
		w.enrich(rec)
		w.columns(rec)
	}
}

// wakeReplay asks the replay goroutine to replay the spill.
func (w *Writer) wakeReplay() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// replayLoop is the replay goroutine: it replays the spill whenever records go there. When the
// writer closes, it replays what the spill holds while the store answers, and returns.
func (w *Writer) replayLoop(done chan<- struct{}) {
	defer close(done)
	for {
		select {
		case <-w.wake:
			if w.overflowed.Swap(false) && !w.spill.isDown() {
				// Records that overflow the queue: let them gather into batches first.
				sleep(w.ctx, w.stop, min(w.opts.FlushInterval, DefaultFlushInterval))
			}
		case <-w.stop:
			if w.spill.pending.Load() > 0 {
				w.replay()
			}
			return
		}
		if !w.replay() {
			return
		}
	}
}

// replay stores the spill's segments, oldest first, until the spill is empty; it reports
// false when the writer is closing.
func (w *Writer) replay() bool {
	for {
		seg, ok, err := w.spill.next()
		if err != nil {
			w.log.Error("access log spill segment not closed", "error", err)
		}
		if !ok {
			return true
		}
		chunks, err := w.spill.read(seg)
		if err != nil {
			w.log.Error("access log spill unreadable, retrying", "segment", seg.path, "error", err)
			if !sleep(w.ctx, w.stop, w.retry.max) {
				return false
			}
			continue
		}
		for i, c := range chunks {
			if !w.replayChunk(c) {
				if err := w.spill.done(seg, chunks[i:]); err != nil {
					w.log.Error("access log spill segment not rewritten; it is replayed whole next time", "segment", seg.path, "error", err)
				}
				return false
			}
		}
		if err := w.spill.done(seg, nil); err != nil {
			w.log.Error("access log spill segment not removed", "segment", seg.path, "error", err)
			if !sleep(w.ctx, w.stop, w.retry.max) {
				return false
			}
		}
	}
}

// replayChunk stores one batch of the spill, retrying with backoff until it is stored; it
// reports false when it fails while the writer is closing.
func (w *Writer) replayChunk(c *spillChunk) bool {
	if !c.enriched {
		w.prepare(c.recs)
		c.enriched = true
	}
	n := len(c.recs)
	delay := w.retry.base
	for failures := 0; ; {
		err := w.insert(w.ctx, c.id, c.recs)
		if err == nil {
			w.written.Add(uint64(n))
			w.spill.stored(n)
			return true
		}
		if w.ctx.Err() != nil || w.closing.Load() {
			return false
		}
		failures++
		if w.retry.isolateAfter > 0 && failures%w.retry.isolateAfter == 0 && w.isolate(c) {
			return true
		}
		w.log.Warn("access log store still failing, spill kept", "records", n, "pending", w.spill.pending.Load(), "retry_in", delay, "error", err)
		// Woken by Close, the loop tries once more: Close stores the spill if the store is back.
		if !sleep(w.ctx, w.stop, delay) && w.ctx.Err() != nil {
			return false
		}
		delay = min(2*delay, w.retry.max)
	}
}

// isolate stores the records of a batch that keeps failing one by one. When the store takes
// some of them, it is up and refuses the others, which go to the spill's rejected file and are
// counted as failed; isolate then reports true. When it takes none, the store is down, and the
// batch stays whole.
func (w *Writer) isolate(c *spillChunk) bool {
	if bc, ok := w.store.(batchChecker); ok {
		stored, err := bc.batchStored(w.ctx, c.id)
		if err != nil {
			return false
		}
		if stored {
			w.written.Add(uint64(len(c.recs)))
			w.spill.stored(len(c.recs))
			return true
		}
	}
	var refused []*Record
	var lastErr error
	for i, r := range c.recs {
		if err := w.insert(w.ctx, c.id+"-"+strconv.Itoa(i), []*Record{r}); err != nil {
			refused = append(refused, r)
			lastErr = err
		}
	}
	if len(refused) == len(c.recs) {
		return false
	}
	ok := len(c.recs) - len(refused)
	w.written.Add(uint64(ok))
	w.spill.stored(ok)
	w.failed.Add(uint64(len(refused)))
	if err := w.spill.reject(c.id, true, refused); err != nil {
		w.spill.stored(len(refused))
		w.log.Error("access log records refused by the store and lost", "records", len(refused), "error", errors.Join(lastErr, err))
		return true
	}
	w.log.Error("access log records refused by the store, kept in the spill's rejected file",
		"records", len(refused), "file", filepath.Join(w.opts.SpillDir, rejectedFile), "error", lastErr)
	return true
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
