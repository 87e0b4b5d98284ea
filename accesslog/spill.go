package accesslog

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"database/sql/driver"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The spill directory holds segment files named segmentPrefix, a 20-digit sequence number and
// segmentSuffix, replayed in that order, and rejectedFile.
const (
	segmentPrefix = "segment-"
	segmentSuffix = ".jsonl"
	// rejectedFile keeps the records that the store refused one by one while it stored others:
	// they are not replayed again, and an operator can read them.
	rejectedFile = "rejected.jsonl"
	// maxSegmentBytes is the size past which a new segment starts, so that replaying one
	// segment, which is read whole, holds a bounded amount of memory.
	maxSegmentBytes = 16 << 20
)

// spill is a Writer's local spill: a directory of append-only JSON Lines segments holding the
// records that the store could not take (it was failing) or that arrived when the queue was
// full. Each line is one record with the id of its batch, and whether it went through the
// writer's Enrich hook already. The lines of a batch are in one segment; a segment is removed
// once every batch in it has been stored.
//
// One process at a time may use a spill directory.
type spill struct {
	dir       string
	batchSize int
	log       *slog.Logger

	pending atomic.Int64 // rows in the spill not yet stored or rejected

	mu          sync.Mutex
	down        bool           // the store is failing: new batches come here
	closed      []spillSegment // complete segments, oldest first
	active      *os.File       // segment being appended to; nil until the next append
	activeName  string
	activeRows  int
	activeBytes int64
	unsynced    bool // the active segment has writes not yet synced
	seq         uint64
	overflowID  string // batch id of the records Write spills, until batchSize of them
	overflowN   int
	buf         bytes.Buffer
}

// spillSegment is a complete segment file and the number of records in it.
type spillSegment struct {
	path string
	rows int
}

// spillChunk is one batch read back from a segment.
type spillChunk struct {
	id       string
	enriched bool
	recs     []*Record
}

// openSpill opens (creating it when missing) the spill directory dir and finds the segments
// that an earlier process left.
func openSpill(dir string, batchSize int, log *slog.Logger) (*spill, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open spill directory: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("open spill directory: %w", err)
	}
	s := &spill{dir: dir, batchSize: batchSize, log: log}
	for _, e := range entries {
		seq, ok := segmentSeq(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		path := filepath.Join(dir, e.Name())
		rows, err := countLines(path)
		if err != nil {
			return nil, fmt.Errorf("open spill: %w", err)
		}
		if rows == 0 {
			os.Remove(path)
			continue
		}
		s.closed = append(s.closed, spillSegment{path: path, rows: rows})
		s.pending.Add(int64(rows))
		s.seq = max(s.seq, seq+1)
	}
	slices.SortFunc(s.closed, func(a, b spillSegment) int { return strings.Compare(a.path, b.path) })
	return s, nil
}

// segmentSeq returns the sequence number of a segment's file name.
func segmentSeq(name string) (uint64, bool) {
	digits, ok := strings.CutPrefix(name, segmentPrefix)
	if !ok {
		return 0, false
	}
	if digits, ok = strings.CutSuffix(digits, segmentSuffix); !ok || len(digits) != 20 {
		return 0, false
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	return n, err == nil
}

// countLines counts the complete lines of a file.
func countLines(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n := 0
	buf := make([]byte, 256<<10)
	for {
		k, err := f.Read(buf)
		n += bytes.Count(buf[:k], []byte{'\n'})
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// newBatchID returns a random batch id.
func newBatchID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails
	return hex.EncodeToString(b[:])
}

// appendBatch appends a batch and syncs it to disk.
func (s *spill) appendBatch(id string, recs []*Record, enriched bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.appendBatchLocked(id, recs, enriched)
}

// appendIfDown appends the batch when the store is marked failing, and reports whether it did.
func (s *spill) appendIfDown(id string, recs []*Record) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.down {
		return false, nil
	}
	return true, s.appendBatchLocked(id, recs, true)
}

// appendDown appends a batch that the store failed to take, and marks the store failing so
// that the next batches come here directly until the spill has been replayed.
func (s *spill) appendDown(id string, recs []*Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = true
	return s.appendBatchLocked(id, recs, true)
}

// isDown reports whether the store is marked failing.
func (s *spill) isDown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.down
}

func (s *spill) appendBatchLocked(id string, recs []*Record, enriched bool) error {
	if s.active != nil && s.activeBytes >= maxSegmentBytes {
		if err := s.rotateLocked(); err != nil {
			return err
		}
	}
	if err := s.writeLocked(id, enriched, recs...); err != nil {
		return err
	}
	return s.syncLocked()
}

// appendOverflow appends one record that found the writer's queue full. It is written at once
// but synced only with the next batch, rotation or close: it was in memory only, before.
func (s *spill) appendOverflow(rec *Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.overflowN == 0 || s.overflowN >= s.batchSize {
		if s.active != nil && s.activeBytes >= maxSegmentBytes {
			if err := s.rotateLocked(); err != nil {
				return err
			}
		}
		s.overflowID, s.overflowN = newBatchID(), 0
	}
	if err := s.writeLocked(s.overflowID, false, rec); err != nil {
		return err
	}
	s.overflowN++
	return nil
}

// writeLocked appends the lines of recs, opening a new active segment when there is none.
func (s *spill) writeLocked(id string, enriched bool, recs ...*Record) error {
	if s.active == nil {
		name := filepath.Join(s.dir, fmt.Sprintf("%s%020d%s", segmentPrefix, s.seq, segmentSuffix))
		f, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("spill: %w", err)
		}
		s.seq++
		s.active, s.activeName, s.activeRows, s.activeBytes = f, name, 0, 0
		// A batch of Write's overflow never spans two segments.
		s.overflowN = 0
	}
	s.buf.Reset()
	enc := json.NewEncoder(&s.buf)
	enc.SetEscapeHTML(false)
	for _, r := range recs {
		line := spillLine{Batch: id, Enriched: enriched, Record: toSpillRecord(r, enriched)}
		if err := enc.Encode(&line); err != nil {
			return fmt.Errorf("spill: encode record %s: %w", r.RequestID, err)
		}
	}
	n, err := s.active.Write(s.buf.Bytes())
	s.activeBytes += int64(n)
	s.unsynced = true
	if err != nil {
		// The segment may end in a partial line now, which replay ignores; the next lines go
		// to a new segment.
		s.closeActiveLocked()
		return fmt.Errorf("spill: %w", err)
	}
	s.activeRows += len(recs)
	s.pending.Add(int64(len(recs)))
	return nil
}

func (s *spill) syncLocked() error {
	if s.active == nil || !s.unsynced {
		return nil
	}
	if err := s.active.Sync(); err != nil {
		return fmt.Errorf("spill: sync: %w", err)
	}
	s.unsynced = false
	return nil
}

// rotateLocked syncs and closes the active segment, which joins the complete ones.
func (s *spill) rotateLocked() error {
	err := s.syncLocked()
	s.closeActiveLocked()
	return err
}

// closeActiveLocked closes the active segment, which joins the complete ones when it holds
// records (after a failed write too: what it holds is replayed).
func (s *spill) closeActiveLocked() {
	if s.active == nil {
		return
	}
	if err := s.active.Close(); err != nil {
		s.log.Error("access log spill segment not closed", "segment", s.activeName, "error", err)
	}
	if s.activeRows > 0 {
		s.closed = append(s.closed, spillSegment{path: s.activeName, rows: s.activeRows})
	} else {
		os.Remove(s.activeName)
	}
	s.active, s.activeName, s.activeRows, s.activeBytes, s.unsynced = nil, "", 0, 0, false
}

// next returns the oldest complete segment, closing the active one first when it is the only
// one with records. When the spill is empty it clears the failing mark, so that the writer
// stores new batches again, and returns false.
func (s *spill) next() (spillSegment, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.closed) == 0 && s.active != nil && s.activeRows > 0 {
		if err := s.rotateLocked(); err != nil {
			return spillSegment{}, false, err
		}
	}
	if len(s.closed) == 0 {
		s.down = false
		return spillSegment{}, false, nil
	}
	return s.closed[0], true, nil
}

// read returns the batches of a complete segment in the order they were written. A partial
// last line, from a write cut short, is ignored.
func (s *spill) read(seg spillSegment) ([]*spillChunk, error) {
	data, err := os.ReadFile(seg.path)
	if err != nil {
		return nil, fmt.Errorf("read spill segment: %w", err)
	}
	var chunks []*spillChunk
	byID := make(map[string]*spillChunk)
	rows := 0
	for len(data) > 0 {
		line, rest, complete := bytes.Cut(data, []byte{'\n'})
		data = rest
		if !complete {
			s.log.Warn("access log spill segment ends in a partial line, ignored", "segment", seg.path, "bytes", len(line))
			break
		}
		var l spillLine
		if err := json.Unmarshal(line, &l); err != nil {
			s.log.Error("access log spill line unreadable, skipped", "segment", seg.path, "error", err)
			continue
		}
		c := byID[l.Batch]
		if c == nil {
			c = &spillChunk{id: l.Batch, enriched: l.Enriched}
			byID[l.Batch] = c
			chunks = append(chunks, c)
		}
		c.recs = append(c.recs, l.Record.record())
		rows++
	}
	// The lines counted at start-up or written may differ from those read back when some
	// were cut short or unreadable: those are gone.
	s.pending.Add(int64(rows - seg.rows))
	return chunks, nil
}

// done removes a segment whose batches have all been stored, and puts back those of rest,
// which were not, into the active segment.
func (s *spill) done(seg spillSegment, rest []*spillChunk) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range rest {
		if err := s.writeLocked(c.id, c.enriched, c.recs...); err != nil {
			return err
		}
		// They were counted already: writeLocked counts them again.
		s.pending.Add(-int64(len(c.recs)))
	}
	if err := s.syncLocked(); err != nil {
		return err
	}
	if err := os.Remove(seg.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove spill segment: %w", err)
	}
	s.closed = slices.DeleteFunc(s.closed, func(c spillSegment) bool { return c.path == seg.path })
	return nil
}

// stored counts n rows of the spill as stored.
func (s *spill) stored(n int) { s.pending.Add(-int64(n)) }

// reject appends records that the store refused to the rejected file, where they stay.
func (s *spill) reject(id string, enriched bool, recs []*Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := os.OpenFile(filepath.Join(s.dir, rejectedFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("spill: %w", err)
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, r := range recs {
		if err := enc.Encode(&spillLine{Batch: id, Enriched: enriched, Record: toSpillRecord(r, enriched)}); err != nil {
			f.Close()
			return fmt.Errorf("spill: encode record %s: %w", r.RequestID, err)
		}
	}
	err = errors.Join(w.Flush(), f.Sync(), f.Close())
	if err != nil {
		return fmt.Errorf("spill: %w", err)
	}
	s.pending.Add(-int64(len(recs)))
	return nil
}

// close syncs and closes the active segment; what the spill holds is replayed by the next
// writer on the directory.
func (s *spill) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rotateLocked()
}

// spillLine is one line of a segment.
type spillLine struct {
	Batch    string      `json:"batch"`
	Enriched bool        `json:"enriched,omitempty"`
	Record   spillRecord `json:"record"`
}

// spillRecord is a Record as a spill line holds it: every field, the bodies in base64, the
// custom columns' values with their types, and non-finite numbers (which JSON cannot spell)
// as the zero that every store writes in their place.
type spillRecord struct {
	RequestID         string                `json:"request_id"`
	CreatedAt         time.Time             `json:"created_at"`
	Direction         string                `json:"direction,omitempty"`
	StatusCode        int                   `json:"status_code,omitempty"`
	Provider          string                `json:"provider,omitempty"`
	Endpoint          string                `json:"endpoint,omitempty"`
	Stream            bool                  `json:"stream,omitempty"`
	Content           string                `json:"content,omitempty"`
	FunctionCall      string                `json:"function_call,omitempty"`
	ToolCalls         string                `json:"tool_calls,omitempty"`
	RawBody           []byte                `json:"raw_body,omitempty"`
	RawHeaders        http.Header           `json:"raw_headers,omitempty"`
	UpstreamBody      []byte                `json:"upstream_body,omitempty"`
	Model             string                `json:"model,omitempty"`
	User              string                `json:"user,omitempty"`
	ClientKey         string                `json:"client_key,omitempty"`
	UpstreamRequestID string                `json:"upstream_request_id,omitempty"`
	PromptTokens      int                   `json:"prompt_tokens,omitempty"`
	CompletionTokens  int                   `json:"completion_tokens,omitempty"`
	CachedTokens      int                   `json:"cached_tokens,omitempty"`
	ReasoningTokens   int                   `json:"reasoning_tokens,omitempty"`
	TokensEstimated   bool                  `json:"tokens_estimated,omitempty"`
	CostUSD           float64               `json:"cost_usd,omitempty"`
	RequestTime       float64               `json:"request_time,omitempty"`
	RequestTimeAPI    float64               `json:"request_time_api,omitempty"`
	TimeToFirstToken  float64               `json:"time_to_first_token,omitempty"`
	ChunkTimes        []*float64            `json:"chunk_times,omitempty"` // null: not finite
	RequestBody       []byte                `json:"request_body,omitempty"`
	Extra             map[string]spillValue `json:"extra,omitempty"`
}

// spillValue is a custom column's value as database/sql would bind it, with its type: one
// field is set, or none for NULL.
type spillValue struct {
	Int    *int64     `json:"i,omitempty"`
	Float  string     `json:"f,omitempty"` // strconv's spelling, NaN and ±Inf included
	Bool   *bool      `json:"b,omitempty"`
	String *string    `json:"s,omitempty"`
	Bytes  []byte     `json:"y,omitempty"`
	Time   *time.Time `json:"t,omitempty"`
}

func finite(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}

// toSpillRecord converts r; the body sent upstream is kept only for a record not yet
// enriched, since only the Enrich hook reads it.
func toSpillRecord(r *Record, enriched bool) spillRecord {
	sr := spillRecord{
		RequestID: r.RequestID, CreatedAt: r.CreatedAt, Direction: r.Direction,
		StatusCode: r.StatusCode, Provider: r.Provider, Endpoint: r.Endpoint, Stream: r.Stream,
		Content: r.Content, FunctionCall: r.FunctionCall, ToolCalls: r.ToolCalls,
		RawBody: r.RawBody, RawHeaders: r.RawHeaders, UpstreamBody: r.UpstreamBody,
		Model: r.Model, User: r.User, ClientKey: r.ClientKey, UpstreamRequestID: r.UpstreamRequestID,
		PromptTokens: r.PromptTokens, CompletionTokens: r.CompletionTokens,
		CachedTokens: r.CachedTokens, ReasoningTokens: r.ReasoningTokens,
		TokensEstimated: r.TokensEstimated, CostUSD: finite(r.CostUSD),
		RequestTime: finite(r.RequestTime), RequestTimeAPI: finite(r.RequestTimeAPI),
		TimeToFirstToken: finite(r.TimeToFirstToken),
	}
	if len(r.ChunkTimes) > 0 {
		sr.ChunkTimes = make([]*float64, len(r.ChunkTimes))
		for i, t := range r.ChunkTimes {
			if !math.IsNaN(t) && !math.IsInf(t, 0) {
				sr.ChunkTimes[i] = &t
			}
		}
	}
	if !enriched {
		sr.RequestBody = r.RequestBody
	}
	for k, v := range r.Extra {
		sv, ok := toSpillValue(v)
		if !ok {
			continue
		}
		if sr.Extra == nil {
			sr.Extra = make(map[string]spillValue, len(r.Extra))
		}
		sr.Extra[k] = sv
	}
	return sr
}

// toSpillValue converts a custom column's value the way the stores bind it: database/sql's
// conversions, or the JSON of a value they cannot bind. It reports false for NULL.
func toSpillValue(v any) (sv spillValue, ok bool) {
	if v == nil {
		return sv, false
	}
	defer func() {
		if recover() != nil { // a Value or MarshalJSON method that panics: NULL, as the stores do
			sv, ok = spillValue{}, false
		}
	}()
	dv, err := driver.DefaultParameterConverter.ConvertValue(v)
	if err != nil {
		b, err := json.Marshal(v)
		if err != nil {
			str := fmt.Sprint(v)
			return spillValue{String: &str}, true
		}
		str := string(b)
		return spillValue{String: &str}, true
	}
	switch x := dv.(type) {
	case nil:
		return sv, false
	case int64:
		sv.Int = &x
	case float64:
		sv.Float = strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		sv.Bool = &x
	case string:
		sv.String = &x
	case []byte:
		if x == nil {
			x = []byte{}
		}
		sv.Bytes = x
	case time.Time:
		sv.Time = &x
	default:
		str := fmt.Sprint(x)
		sv.String = &str
	}
	return sv, true
}

func (sv spillValue) value() any {
	switch {
	case sv.Int != nil:
		return *sv.Int
	case sv.Float != "":
		f, _ := strconv.ParseFloat(sv.Float, 64)
		return f
	case sv.Bool != nil:
		return *sv.Bool
	case sv.String != nil:
		return *sv.String
	case sv.Bytes != nil:
		return sv.Bytes
	case sv.Time != nil:
		return *sv.Time
	}
	return nil
}

func (sr *spillRecord) record() *Record {
	r := &Record{
		RequestID: sr.RequestID, CreatedAt: sr.CreatedAt, Direction: sr.Direction,
		StatusCode: sr.StatusCode, Provider: sr.Provider, Endpoint: sr.Endpoint, Stream: sr.Stream,
		Content: sr.Content, FunctionCall: sr.FunctionCall, ToolCalls: sr.ToolCalls,
		RawBody: sr.RawBody, RawHeaders: sr.RawHeaders, UpstreamBody: sr.UpstreamBody,
		Model: sr.Model, User: sr.User, ClientKey: sr.ClientKey, UpstreamRequestID: sr.UpstreamRequestID,
		PromptTokens: sr.PromptTokens, CompletionTokens: sr.CompletionTokens,
		CachedTokens: sr.CachedTokens, ReasoningTokens: sr.ReasoningTokens,
		TokensEstimated: sr.TokensEstimated, CostUSD: sr.CostUSD,
		RequestTime: sr.RequestTime, RequestTimeAPI: sr.RequestTimeAPI,
		TimeToFirstToken: sr.TimeToFirstToken, RequestBody: sr.RequestBody,
	}
	if len(sr.ChunkTimes) > 0 {
		r.ChunkTimes = make([]float64, len(sr.ChunkTimes))
		for i, t := range sr.ChunkTimes {
			if t == nil {
				r.ChunkTimes[i] = math.NaN()
			} else {
				r.ChunkTimes[i] = *t
			}
		}
	}
	for k, sv := range sr.Extra {
		if v := sv.value(); v != nil {
			if r.Extra == nil {
				r.Extra = make(map[string]any, len(sr.Extra))
			}
			r.Extra[k] = v
		}
	}
	return r
}
