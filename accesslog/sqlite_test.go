package accesslog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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
		if version != latestMigration(t, sqliteMigrations, "sqlite") || mode != "wal" || len(got) != i+1 {
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
	var cache, checkpoint, vacuum int
	for _, q := range []struct {
		pragma string
		dest   *int
	}{{"cache_size", &cache}, {"wal_autocheckpoint", &checkpoint}, {"auto_vacuum", &vacuum}} {
		if err := s.writer.QueryRow("PRAGMA " + q.pragma).Scan(q.dest); err != nil {
			t.Fatalf("PRAGMA %s: %v", q.pragma, err)
		}
	}
	if cache != -32768 || checkpoint != 8192 || vacuum != 2 {
		t.Errorf("writer: cache_size %d, wal_autocheckpoint %d, auto_vacuum %d; want -32768, 8192, 2 (INCREMENTAL)", cache, checkpoint, vacuum)
	}
}
