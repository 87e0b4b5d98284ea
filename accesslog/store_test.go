package accesslog

import (
	"bytes"
	"context"
	"math"
	"net/http"
	"reflect"
	"testing"
	"time"
)

// The tests here run one body against every Store: what a row holds must not depend on the
// database it went to.

// storesUnderTest open a fresh store of each kind, with the given custom columns. A kind whose
// database is not available is skipped.
var storesUnderTest = []struct {
	name string
	open func(t *testing.T, cols ...Column) Store
	// adjust turns what the SQLite store reads back into what this store reads back.
	adjust func(want *Record)
}{
	{
		name: "sqlite",
		open: func(t *testing.T, cols ...Column) Store { return openTestStore(t, "", cols...) },
	},
	{
		name: "postgres",
		open: func(t *testing.T, cols ...Column) Store { return openTestPostgres(t, postgresTestDSN(t), cols...) },
		// PostgreSQL text holds UTF-8 only: each invalid byte reads back as U+FFFD.
		adjust: func(want *Record) {
			want.RawBody = bytes.ReplaceAll(want.RawBody, []byte("\xff\xfe"), []byte("\uFFFD\uFFFD"))
		},
	},
}

type roundTripCase struct {
	name string
	in   *Record
	want *Record // what Records returns, ID aside
}

func roundTripCases() []roundTripCase {
	created := time.Date(2026, 11, 27, 9, 3, 4, 123456000, time.UTC)
	tokyo := time.FixedZone("JST", 9*3600)
	return []roundTripCase{
		{
			name: "every field",
			in: &Record{
				RequestID: "req-full", CreatedAt: created, Direction: DirectionResponse,
				StatusCode: 200, Provider: "openai", Endpoint: "/chat/completions", Stream: true,
				Content:      "Hello, 世界",
				FunctionCall: `{"name":"f","arguments":"{}"}`,
				ToolCalls:    `[{"id":"call_1","type":"function"}]`,
				RawBody:      []byte("data: {\"x\":1}\n\n\xff\xfe not UTF-8 <&>"),
				RawHeaders: http.Header{
					"Content-Type":  {"application/json"},
					"Accept":        {"text/event-stream", "application/json"},
					"Authorization": {"Bearer sk-...abcd"},
				},
				UpstreamBody: []byte(`{"model":"gpt-4o","stream":true}`),
				Model:        "gpt-4o-2024-08-06", User: "alice", ClientKey: "team-a", UpstreamRequestID: "req_abc",
				PromptTokens: 12, CompletionTokens: 34, CachedTokens: 5, ReasoningTokens: 6, TokensEstimated: true,
				CostUSD: 0.00123, RequestTime: 1.5, RequestTimeAPI: 1.25, TimeToFirstToken: 0.3,
				ChunkTimes:  []float64{300, 350.5, 1200.25},
				RequestBody: []byte("used by Enrich only, never stored"),
				Extra:       map[string]any{"team": "red", "score": 7, "ratio": 0.5},
			},
			want: &Record{
				RequestID: "req-full", CreatedAt: created, Direction: DirectionResponse,
				StatusCode: 200, Provider: "openai", Endpoint: "/chat/completions", Stream: true,
				Content:      "Hello, 世界",
				FunctionCall: `{"name":"f","arguments":"{}"}`,
				ToolCalls:    `[{"id":"call_1","type":"function"}]`,
				RawBody:      []byte("data: {\"x\":1}\n\n\xff\xfe not UTF-8 <&>"),
				RawHeaders: http.Header{
					"Content-Type":  {"application/json"},
					"Accept":        {"text/event-stream, application/json"},
					"Authorization": {"Bearer sk-...abcd"},
				},
				UpstreamBody: []byte(`{"model":"gpt-4o","stream":true}`),
				Model:        "gpt-4o-2024-08-06", User: "alice", ClientKey: "team-a", UpstreamRequestID: "req_abc",
				PromptTokens: 12, CompletionTokens: 34, CachedTokens: 5, ReasoningTokens: 6, TokensEstimated: true,
				CostUSD: 0.00123, RequestTime: 1.5, RequestTimeAPI: 1.25, TimeToFirstToken: 0.3,
				ChunkTimes: []float64{300, 350.5, 1200.25},
				Extra:      map[string]any{"team": "red", "score": int64(7), "ratio": 0.5},
			},
		},
		{
			name: "bare request row",
			in:   &Record{RequestID: "req-bare", CreatedAt: created, Direction: DirectionRequest},
			want: &Record{RequestID: "req-bare", CreatedAt: created, Direction: DirectionRequest},
		},
		{
			name: "local time truncated to microseconds",
			in: &Record{
				RequestID: "req-time", CreatedAt: time.Date(2026, 11, 27, 18, 3, 4, 123456789, tokyo),
				Direction: DirectionError, StatusCode: 502, Content: "upstream unreachable",
			},
			want: &Record{
				RequestID: "req-time", CreatedAt: created, Direction: DirectionError,
				StatusCode: 502, Content: "upstream unreachable",
			},
		},
		{
			name: "empty non-nil values read back as nil",
			in: &Record{
				RequestID: "req-empty", CreatedAt: created, Direction: DirectionResponse,
				RawBody: []byte{}, RawHeaders: http.Header{}, ChunkTimes: []float64{}, Extra: map[string]any{},
			},
			want: &Record{RequestID: "req-empty", CreatedAt: created, Direction: DirectionResponse},
		},
		{
			name: "non-finite chunk time",
			in: &Record{
				RequestID: "req-nan", CreatedAt: created, Direction: DirectionResponse,
				ChunkTimes: []float64{1, math.NaN(), 3},
			},
			want: &Record{
				RequestID: "req-nan", CreatedAt: created, Direction: DirectionResponse,
				ChunkTimes: []float64{1, 0, 3},
			},
		},
		{
			name: "zero token counts are counts",
			in: &Record{
				RequestID: "req-zero", Direction: DirectionResponse, StatusCode: 200,
				Model: "m", TokensEstimated: true, Extra: map[string]any{"score": 0, "ratio": 0.0, "team": ""},
			},
			want: &Record{
				RequestID: "req-zero", Direction: DirectionResponse, StatusCode: 200,
				Model: "m", TokensEstimated: true, Extra: map[string]any{"score": int64(0), "ratio": 0.0, "team": ""},
			},
		},
	}
}

func TestStoreRoundTrip(t *testing.T) {
	for _, st := range storesUnderTest {
		t.Run(st.name, func(t *testing.T) {
			s := st.open(t, testColumns...)
			ctx := context.Background()
			cases := roundTripCases()
			var batch []*Record
			for _, tt := range cases {
				batch = append(batch, tt.in)
			}
			if err := s.Insert(ctx, batch); err != nil {
				t.Fatalf("Insert: %v", err)
			}
			for _, tt := range cases {
				t.Run(tt.name, func(t *testing.T) {
					got, err := s.Records(ctx, tt.in.RequestID, "")
					if err != nil {
						t.Fatalf("Records: %v", err)
					}
					if len(got) != 1 {
						t.Fatalf("Records returned %d rows, want 1", len(got))
					}
					if got[0].ID == 0 {
						t.Errorf("ID not set")
					}
					want := *tt.want
					want.ID = got[0].ID
					if st.adjust != nil {
						st.adjust(&want)
					}
					if !reflect.DeepEqual(got[0], &want) {
						t.Errorf("round trip mismatch\n got: %+v\nwant: %+v", got[0], &want)
					}
				})
			}
		})
	}
}

func TestStoreRecordsDirection(t *testing.T) {
	for _, st := range storesUnderTest {
		t.Run(st.name, func(t *testing.T) {
			s := st.open(t)
			ctx := context.Background()
			recs := []*Record{
				{RequestID: "a", Direction: DirectionRequest, Content: "q"},
				{RequestID: "b", Direction: DirectionRequest},
				{RequestID: "a", Direction: DirectionResponse, Content: "r"},
				{RequestID: "a", Direction: DirectionError, Content: "e"},
			}
			if err := s.Insert(ctx, recs); err != nil {
				t.Fatal(err)
			}
			tests := []struct {
				direction string
				want      []string // Content in id order
			}{
				{"", []string{"q", "r", "e"}},
				{DirectionRequest, []string{"q"}},
				{DirectionResponse, []string{"r"}},
				{DirectionError, []string{"e"}},
			}
			for _, tt := range tests {
				got, err := s.Records(ctx, "a", tt.direction)
				if err != nil {
					t.Fatal(err)
				}
				var contents []string
				for _, r := range got {
					contents = append(contents, r.Content)
				}
				if !reflect.DeepEqual(contents, tt.want) {
					t.Errorf("direction %q: contents = %q, want %q", tt.direction, contents, tt.want)
				}
			}
			got, err := s.Records(ctx, "missing", "")
			if err != nil || got != nil {
				t.Errorf("Records(missing) = %v, %v; want nil, nil", got, err)
			}
		})
	}
}

func TestStoreInsertBatchAndCancel(t *testing.T) {
	for _, st := range storesUnderTest {
		t.Run(st.name, func(t *testing.T) {
			s := st.open(t, testColumns...)
			ctx := context.Background()
			n := 1234
			batch := make([]*Record, n)
			for i := range batch {
				batch[i] = &Record{RequestID: "big", Direction: DirectionRequest, PromptTokens: i, Extra: map[string]any{"score": i}}
			}
			if err := s.Insert(ctx, batch); err != nil {
				t.Fatal(err)
			}
			got, err := s.Records(ctx, "big", "")
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != n {
				t.Fatalf("stored %d rows, want %d", len(got), n)
			}
			for i, r := range got {
				if r.PromptTokens != i || r.Extra["score"] != int64(i) {
					t.Fatalf("row %d: prompt_tokens %d, score %v", i, r.PromptTokens, r.Extra["score"])
				}
			}

			canceled, cancel := context.WithCancel(ctx)
			cancel()
			if err := s.Insert(canceled, []*Record{{RequestID: "canceled"}}); err == nil {
				t.Error("Insert with a canceled context succeeded")
			}
			if got, _ := s.Records(ctx, "canceled", ""); len(got) != 0 {
				t.Errorf("canceled insert stored %d rows", len(got))
			}
		})
	}
}

func TestStoreInsertAfterClose(t *testing.T) {
	for _, st := range storesUnderTest {
		t.Run(st.name, func(t *testing.T) {
			s := st.open(t)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			if err := s.Insert(context.Background(), []*Record{{RequestID: "late"}}); err == nil {
				t.Error("Insert after Close succeeded")
			}
		})
	}
}
