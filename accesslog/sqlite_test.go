package accesslog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var testColumns = []Column{
	{Name: "team", Type: Text},
	{Name: "score", Type: Integer},
	{Name: "ratio", Type: Real},
}

func openTestStore(t *testing.T, path string, cols ...Column) *SQLiteStore {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "aiproxy.db")
	}
	s, err := OpenSQLite(path, cols...)
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSQLiteRoundTrip(t *testing.T) {
	created := time.Date(2026, 11, 27, 9, 3, 4, 123456000, time.UTC)
	tokyo := time.FixedZone("JST", 9*3600)
	tests := []struct {
		name string
		in   *Record
		want *Record // what Records returns, ID aside
	}{
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
	}

	s := openTestStore(t, "", testColumns...)
	ctx := context.Background()
	var batch []*Record
	for _, tt := range tests {
		batch = append(batch, tt.in)
	}
	if err := s.Insert(ctx, batch); err != nil {
		t.Fatalf("Insert: %v", err)
	}
	for _, tt := range tests {
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
			if !reflect.DeepEqual(got[0], &want) {
				t.Errorf("round trip mismatch\n got: %+v\nwant: %+v", got[0], &want)
			}
		})
	}

	t.Run("stored as SQL", func(t *testing.T) {
		var (
			createdAt, rawType, streamType, chunks, headers string
			dateOK, nullFC, nullUB, nullStatus              bool
			chunkLen                                        int
		)
		err := s.DB().QueryRow(`SELECT CAST(created_at AS TEXT), typeof(raw_body), typeof(stream),
			chunk_times, raw_headers, datetime(created_at) = '2026-11-27 09:03:04', json_array_length(chunk_times)
			FROM accesslog WHERE request_id = 'req-full'`).
			Scan(&createdAt, &rawType, &streamType, &chunks, &headers, &dateOK, &chunkLen)
		if err != nil {
			t.Fatal(err)
		}
		if createdAt != "2026-11-27 09:03:04.123456" || rawType != "text" || streamType != "integer" ||
			chunks != "[300,350.5,1200.25]" || !dateOK || chunkLen != 3 {
			t.Errorf("created_at %q, typeof(raw_body) %s, typeof(stream) %s, chunk_times %s, date function ok %v, json length %d",
				createdAt, rawType, streamType, chunks, dateOK, chunkLen)
		}
		if want := `{"Accept":"text/event-stream, application/json","Authorization":"Bearer sk-...abcd","Content-Type":"application/json"}`; headers != want {
			t.Errorf("raw_headers = %s, want %s", headers, want)
		}
		err = s.DB().QueryRow(`SELECT function_call IS NULL, upstream_body IS NULL, status_code IS NULL
			FROM accesslog WHERE request_id = 'req-bare'`).Scan(&nullFC, &nullUB, &nullStatus)
		if err != nil {
			t.Fatal(err)
		}
		if !nullFC || !nullUB || !nullStatus {
			t.Errorf("bare row: function_call NULL %v, upstream_body NULL %v, status_code NULL %v", nullFC, nullUB, nullStatus)
		}
	})
}

func TestSQLiteRecordsDirection(t *testing.T) {
	s := openTestStore(t, "")
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
		t.Run("direction="+tt.direction, func(t *testing.T) {
			got, err := s.Records(ctx, "a", tt.direction)
			if err != nil {
				t.Fatal(err)
			}
			var contents []string
			for _, r := range got {
				contents = append(contents, r.Content)
			}
			if !reflect.DeepEqual(contents, tt.want) {
				t.Errorf("contents = %q, want %q", contents, tt.want)
			}
		})
	}
	got, err := s.Records(ctx, "missing", "")
	if err != nil || got != nil {
		t.Errorf("Records(missing) = %v, %v; want nil, nil", got, err)
	}
}

func TestSQLiteInsertBatchAndAtomicity(t *testing.T) {
	s := openTestStore(t, "", testColumns...)
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
}

func TestSQLiteCustomValueConversion(t *testing.T) {
	s := openTestStore(t, "", Column{Name: "meta"}, Column{Name: "n", Type: Integer})
	rec := &Record{RequestID: "conv", Extra: map[string]any{
		"meta": map[string]int{"a": 1}, // not bindable: stored as JSON
		"n":    uint8(3),
	}}
	if err := s.Insert(context.Background(), []*Record{rec}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Records(context.Background(), "conv", "")
	if err != nil || len(got) != 1 {
		t.Fatalf("Records = %v, %v", got, err)
	}
	if want := map[string]any{"meta": `{"a":1}`, "n": int64(3)}; !reflect.DeepEqual(got[0].Extra, want) {
		t.Errorf("Extra = %#v, want %#v", got[0].Extra, want)
	}
}

func TestSQLiteMigrationsTwice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "twice.db")
	ctx := context.Background()
	for i := range 2 {
		s, err := OpenSQLite(path)
		if err != nil {
			t.Fatalf("open %d: %v", i+1, err)
		}
		if err := s.Insert(ctx, []*Record{{RequestID: "r", Direction: DirectionRequest}}); err != nil {
			t.Fatalf("insert %d: %v", i+1, err)
		}
		var version int64
		var mode string
		if err := s.DB().QueryRow("SELECT MAX(version_id) FROM " + sqliteVersionTable).Scan(&version); err != nil {
			t.Fatal(err)
		}
		if err := s.DB().QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
			t.Fatal(err)
		}
		got, err := s.Records(ctx, "r", "")
		if err != nil {
			t.Fatal(err)
		}
		if version != 2 || mode != "wal" || len(got) != i+1 {
			t.Errorf("open %d: schema version %d, journal_mode %s, %d rows", i+1, version, mode, len(got))
		}
		if err := s.Close(); err != nil {
			t.Fatalf("close %d: %v", i+1, err)
		}
	}
}

// TestSQLiteAdoptsPythonDatabase opens a file written by the original Python AIProxy
// (SQLAlchemy's DDL for its AccessLog model) and finds its rows and the new columns.
func TestSQLiteAdoptsPythonDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "python.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Exec(`CREATE TABLE accesslog (
		id INTEGER NOT NULL, request_id VARCHAR, created_at DATETIME, direction VARCHAR,
		status_code INTEGER, content VARCHAR, function_call VARCHAR, tool_calls VARCHAR,
		raw_body VARCHAR, raw_headers VARCHAR, model VARCHAR, prompt_tokens INTEGER,
		completion_tokens INTEGER, request_time FLOAT, request_time_api FLOAT, PRIMARY KEY (id));
		INSERT INTO accesslog (request_id, created_at, direction, content, raw_body, raw_headers, model)
		VALUES ('py-1', '2024-01-02 03:04:05.678901', 'request', 'hi', '{"model":"gpt-4"}',
		'{"content-type": "application/json"}', 'gpt-4')`)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	s := openTestStore(t, path)
	got, err := s.Records(context.Background(), "py-1", "")
	if err != nil {
		t.Fatal(err)
	}
	want := &Record{
		ID: 1, RequestID: "py-1", CreatedAt: time.Date(2024, 1, 2, 3, 4, 5, 678901000, time.UTC),
		Direction: DirectionRequest, Content: "hi", RawBody: []byte(`{"model":"gpt-4"}`),
		RawHeaders: http.Header{"content-type": {"application/json"}}, Model: "gpt-4",
	}
	if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
		t.Errorf("Records = %+v, want %+v", got, want)
	}
	if err := s.Insert(context.Background(), []*Record{{RequestID: "go-1", Provider: "openai", Stream: true}}); err != nil {
		t.Errorf("insert into the adopted table: %v", err)
	}
}

func TestSQLiteCustomColumns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "custom.db")
	ctx := context.Background()

	// First start: the column is added and filled.
	s, err := OpenSQLite(path, Column{Name: "team"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Insert(ctx, []*Record{{RequestID: "one", Extra: map[string]any{"team": "red"}}}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// Restart with the column present and one more added.
	s, err = OpenSQLite(path, Column{Name: "team"}, Column{Name: "score", Type: Integer})
	if err != nil {
		t.Fatalf("reopen with the column present: %v", err)
	}
	if err := s.Insert(ctx, []*Record{{RequestID: "two", Extra: map[string]any{"team": "blue", "score": 3}}}); err != nil {
		t.Fatal(err)
	}
	cols := tableColumnTypes(t, s.DB())
	if cols["team"] != "TEXT" || cols["score"] != "INTEGER" {
		t.Errorf("table columns: team %q, score %q", cols["team"], cols["score"])
	}
	s.Close()

	// Without custom columns configured, their values are still read back.
	s = openTestStore(t, path)
	tests := []struct {
		id   string
		want map[string]any
	}{
		{"one", map[string]any{"team": "red"}},
		{"two", map[string]any{"team": "blue", "score": int64(3)}},
	}
	for _, tt := range tests {
		got, err := s.Records(ctx, tt.id, "")
		if err != nil || len(got) != 1 {
			t.Fatalf("Records(%s) = %v, %v", tt.id, got, err)
		}
		if !reflect.DeepEqual(got[0].Extra, tt.want) {
			t.Errorf("Records(%s).Extra = %v, want %v", tt.id, got[0].Extra, tt.want)
		}
	}
}

func tableColumnTypes(t *testing.T, db *sql.DB) map[string]string {
	t.Helper()
	rows, err := db.Query("SELECT name, type FROM pragma_table_info('accesslog')")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	m := make(map[string]string)
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			t.Fatal(err)
		}
		m[name] = typ
	}
	return m
}

func TestSQLiteRejectsBadColumns(t *testing.T) {
	tests := []struct {
		name string
		cols []Column
		want string
	}{
		{"empty name", []Column{{Name: ""}}, "a name is"},
		{"leading digit", []Column{{Name: "1team"}}, "a name is"},
		{"punctuation", []Column{{Name: "team-name"}}, "a name is"},
		{"injection", []Column{{Name: `x" TEXT; DROP TABLE accesslog; --`}}, "a name is"},
		{"too long", []Column{{Name: strings.Repeat("a", 64)}}, "a name is"},
		{"built-in", []Column{{Name: "user"}}, "built-in"},
		{"built-in other case", []Column{{Name: "Request_ID"}}, "built-in"},
		{"id", []Column{{Name: "ID"}}, "built-in"},
		{"twice", []Column{{Name: "team"}, {Name: "TEAM"}}, "declared twice"},
		{"bad type", []Column{{Name: "team", Type: "BLOB"}}, "unknown type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.db")
			s, err := OpenSQLite(path, tt.cols...)
			if err == nil {
				s.Close()
				t.Fatal("OpenSQLite accepted the columns")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
			if _, statErr := os.Stat(path); !errors.Is(statErr, os.ErrNotExist) {
				t.Errorf("a rejected configuration created the database file")
			}
		})
	}
	if _, err := validateColumns([]Column{{Name: "lower_type", Type: "integer"}}); err != nil {
		t.Errorf("lower-case type refused: %v", err)
	}
}

func TestSQLiteInsertAfterClose(t *testing.T) {
	s, err := OpenSQLite(filepath.Join(t.TempDir(), "closed.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := s.Insert(context.Background(), []*Record{{RequestID: "late"}}); err == nil {
		t.Error("Insert after Close succeeded")
	}
}

func TestSQLiteMemory(t *testing.T) {
	s := openTestStore(t, ":memory:")
	if err := s.Insert(context.Background(), []*Record{{RequestID: "m"}}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Records(context.Background(), "m", ""); err != nil || len(got) != 1 {
		t.Errorf("Records = %v, %v", got, err)
	}
}

func TestSQLitePath(t *testing.T) {
	tests := []struct {
		dsn, want, err string
	}{
		{dsn: "", want: "aiproxy.db"},
		{dsn: "logs/aiproxy.db", want: "logs/aiproxy.db"},
		{dsn: "/var/lib/aiproxy.db", want: "/var/lib/aiproxy.db"},
		{dsn: "file:aiproxy.db?cache=shared", want: "file:aiproxy.db?cache=shared"},
		{dsn: "sqlite:///aiproxy.db", want: "aiproxy.db"},
		{dsn: "sqlite:////var/lib/aiproxy.db", want: "/var/lib/aiproxy.db"},
		{dsn: "sqlite://aiproxy.db", want: "aiproxy.db"},
		{dsn: "SQLite:///aiproxy.db", want: "aiproxy.db"},
		{dsn: "sqlite://", want: ":memory:"},
		{dsn: "sqlite:///", want: ":memory:"},
		{dsn: "sqlite:///:memory:", want: ":memory:"},
		{dsn: "postgres://u:p@db/aiproxy", err: "postgresql storage is not available in this build yet"},
		{dsn: "postgresql://u:p@db/aiproxy?sslmode=disable", err: "postgresql storage is not available in this build yet"},
		{dsn: "mysql://u:p@db/aiproxy", err: `unsupported database url scheme "mysql"`},
	}
	for _, tt := range tests {
		t.Run(tt.dsn, func(t *testing.T) {
			got, err := sqlitePath(tt.dsn)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err && !strings.HasPrefix(err.Error(), tt.err) {
					t.Errorf("sqlitePath(%q) error = %v, want %q", tt.dsn, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("sqlitePath(%q) = %q, %v; want %q", tt.dsn, got, err, tt.want)
			}
		})
	}
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		dsn  string
		file string // created by Open
	}{
		{dsn: filepath.Join(dir, "plain.db"), file: "plain.db"},
		{dsn: "sqlite:///" + filepath.Join(dir, "alchemy.db"), file: "alchemy.db"}, // four slashes: absolute
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			s, err := Open(tt.dsn, Column{Name: "team"})
			if err != nil {
				t.Fatalf("Open(%q): %v", tt.dsn, err)
			}
			defer s.Close()
			if err := s.Insert(context.Background(), []*Record{{RequestID: "x", Extra: map[string]any{"team": "t"}}}); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(dir, tt.file)); err != nil {
				t.Errorf("database file: %v", err)
			}
		})
	}
	if _, err := Open("postgres://localhost/aiproxy"); err == nil || !strings.Contains(err.Error(), "postgresql") {
		t.Errorf("Open(postgres) error = %v", err)
	}
	if _, err := OpenSQLite(filepath.Join(dir, "what?.db")); err == nil {
		t.Error("OpenSQLite accepted a path with '?'")
	}
}

// TestSQLiteConcurrentReadsDuringWrites reads through the reader pool while batches commit.
func TestSQLiteConcurrentReadsDuringWrites(t *testing.T) {
	s := openTestStore(t, "")
	ctx := context.Background()
	errc := make(chan error, 1)
	go func() {
		for i := range 50 {
			batch := make([]*Record, 20)
			for j := range batch {
				batch[j] = &Record{RequestID: fmt.Sprintf("c-%d", i), Direction: DirectionRequest}
			}
			if err := s.Insert(ctx, batch); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	for done := false; !done; {
		select {
		case err := <-errc:
			if err != nil {
				t.Fatal(err)
			}
			done = true
		default:
			if _, err := s.Records(ctx, "c-1", ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	var n int
	if err := s.DB().QueryRow("SELECT COUNT(*) FROM accesslog").Scan(&n); err != nil || n != 1000 {
		t.Errorf("count = %d, %v; want 1000", n, err)
	}
}

func TestSQLitePragmas(t *testing.T) {
	s := openTestStore(t, "")
	pools := []struct {
		name string
		db   *sql.DB
	}{{"writer", s.writer}, {"reader", s.reader}}
	for _, p := range pools {
		t.Run(p.name, func(t *testing.T) {
			var mode string
			var busy, sync, fk int
			db := p.db
			for _, q := range []struct {
				pragma string
				dest   any
			}{{"journal_mode", &mode}, {"busy_timeout", &busy}, {"synchronous", &sync}, {"foreign_keys", &fk}} {
				if err := db.QueryRow("PRAGMA " + q.pragma).Scan(q.dest); err != nil {
					t.Fatalf("PRAGMA %s: %v", q.pragma, err)
				}
			}
			if mode != "wal" || busy != 5000 || sync != 1 || fk != 0 {
				t.Errorf("journal_mode %s, busy_timeout %d, synchronous %d, foreign_keys %d; want wal, 5000, 1 (NORMAL), 0",
					mode, busy, sync, fk)
			}
		})
	}
}
