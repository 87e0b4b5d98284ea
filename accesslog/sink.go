package accesslog

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
)

// Sink receives batches of records, for shipping the access log anywhere (a file, a queue,
// a collector) beside the database. The writer calls it from its own goroutine, after
// enrichment; a Sink must not keep recs past the call.
type Sink interface {
	WriteBatch(ctx context.Context, recs []*Record) error
}

// Tee returns a Store that inserts into store and then hands every stored batch to each
// sink. A sink's failure is returned (so the writer retries the batch) only when the store
// itself failed too; otherwise it is reported through onSinkError, and the database, the
// source of truth, keeps the batch once.
func Tee(store Store, onSinkError func(error), sinks ...Sink) Store {
	return &teeStore{Store: store, sinks: sinks, onErr: onSinkError}
}

type teeStore struct {
	Store
	sinks []Sink
	onErr func(error)
}

// InsertBatch stores a batch exactly once when the store can (IdempotentStore), then hands
// it to the sinks: a replayed batch the store already had does not reach them twice only
// when the store reports it stored; sinks must accept a repeat after a lost acknowledgement.
func (t *teeStore) InsertBatch(ctx context.Context, id string, recs []*Record) error {
	is, ok := t.Store.(IdempotentStore)
	if !ok {
		return t.Insert(ctx, recs)
	}
	if err := is.InsertBatch(ctx, id, recs); err != nil {
		return err
	}
	t.toSinks(ctx, recs)
	return nil
}

// batchStored asks the store whether a batch id was stored.
func (t *teeStore) batchStored(ctx context.Context, id string) (bool, error) {
	if bc, ok := t.Store.(batchChecker); ok {
		return bc.batchStored(ctx, id)
	}
	return false, nil
}

func (t *teeStore) toSinks(ctx context.Context, recs []*Record) {
	for _, s := range t.sinks {
		if err := s.WriteBatch(ctx, recs); err != nil && t.onErr != nil {
			t.onErr(fmt.Errorf("access log sink %T: %w", s, err))
		}
	}
}

func (t *teeStore) Insert(ctx context.Context, recs []*Record) error {
	if err := t.Store.Insert(ctx, recs); err != nil {
		return err
	}
	t.toSinks(ctx, recs)
	return nil
}

// JSONLSink appends each record as one JSON object per line to a file. The object has the
// access log's column names as keys; bodies are strings.
type JSONLSink struct {
	mu sync.Mutex
	f  *os.File
	w  *bufio.Writer
}

var _ Sink = (*JSONLSink)(nil)

// OpenJSONL opens (creating or appending to) a JSON Lines file.
func OpenJSONL(path string) (*JSONLSink, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open jsonl sink: %w", err)
	}
	return &JSONLSink{f: f, w: bufio.NewWriterSize(f, 64<<10)}, nil
}

// jsonlRecord is the line written for one record.
type jsonlRecord struct {
	RequestID         string            `json:"request_id"`
	CreatedAt         string            `json:"created_at"`
	Direction         string            `json:"direction"`
	StatusCode        int               `json:"status_code,omitempty"`
	Provider          string            `json:"provider,omitempty"`
	Endpoint          string            `json:"endpoint,omitempty"`
	Stream            bool              `json:"stream"`
	Model             string            `json:"model,omitempty"`
	User              string            `json:"user,omitempty"`
	ClientKey         string            `json:"client_key,omitempty"`
	Content           string            `json:"content,omitempty"`
	FunctionCall      json.RawMessage   `json:"function_call,omitempty"`
	ToolCalls         json.RawMessage   `json:"tool_calls,omitempty"`
	RawBody           string            `json:"raw_body,omitempty"`
	RawHeaders        map[string]string `json:"raw_headers,omitempty"`
	UpstreamBody      string            `json:"upstream_body,omitempty"`
	UpstreamRequestID string            `json:"upstream_request_id,omitempty"`
	PromptTokens      int               `json:"prompt_tokens"`
	CompletionTokens  int               `json:"completion_tokens"`
	CachedTokens      int               `json:"cached_tokens"`
	ReasoningTokens   int               `json:"reasoning_tokens"`
	TokensEstimated   bool              `json:"tokens_estimated"`
	CostUSD           float64           `json:"cost_usd"`
	RequestTime       float64           `json:"request_time,omitempty"`
	RequestTimeAPI    float64           `json:"request_time_api,omitempty"`
	TimeToFirstToken  float64           `json:"time_to_first_token,omitempty"`
	ChunkTimes        []float64         `json:"chunk_times,omitempty"`
	Extra             map[string]any    `json:"extra,omitempty"`
}

func validJSON(s string) json.RawMessage {
	if s == "" || !json.Valid([]byte(s)) {
		return nil
	}
	return json.RawMessage(s)
}

func flatHeaders(h http.Header) map[string]string {
	if len(h) == 0 {
		return nil
	}
	m := make(map[string]string, len(h))
	for k, v := range h {
		m[k] = strings.Join(v, ", ")
	}
	return m
}

// WriteBatch appends the records and flushes them to the file.
func (s *JSONLSink) WriteBatch(ctx context.Context, recs []*Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return errors.New("jsonl sink is closed")
	}
	enc := json.NewEncoder(s.w)
	enc.SetEscapeHTML(false)
	for _, r := range recs {
		line := jsonlRecord{
			RequestID: r.RequestID, CreatedAt: r.CreatedAt.UTC().Format(TimeLayout), Direction: r.Direction,
			StatusCode: r.StatusCode, Provider: r.Provider, Endpoint: r.Endpoint, Stream: r.Stream,
			Model: r.Model, User: r.User, ClientKey: r.ClientKey, Content: r.Content,
			FunctionCall: validJSON(r.FunctionCall), ToolCalls: validJSON(r.ToolCalls),
			RawBody: string(r.RawBody), RawHeaders: flatHeaders(r.RawHeaders), UpstreamBody: string(r.UpstreamBody),
			UpstreamRequestID: r.UpstreamRequestID, PromptTokens: r.PromptTokens, CompletionTokens: r.CompletionTokens,
			CachedTokens: r.CachedTokens, ReasoningTokens: r.ReasoningTokens, TokensEstimated: r.TokensEstimated,
			CostUSD: r.CostUSD, RequestTime: r.RequestTime, RequestTimeAPI: r.RequestTimeAPI,
			TimeToFirstToken: r.TimeToFirstToken, ChunkTimes: r.ChunkTimes, Extra: r.Extra,
		}
		if err := enc.Encode(&line); err != nil {
			return fmt.Errorf("jsonl sink: %w", err)
		}
	}
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("jsonl sink: %w", err)
	}
	return nil
}

// Close flushes and closes the file.
func (s *JSONLSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := errors.Join(s.w.Flush(), s.f.Close())
	s.f = nil
	return err
}
