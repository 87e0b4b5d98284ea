package accesslog

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/pressly/goose/v3"

	"github.com/aiproxy-go/aiproxy/internal/testdb"
)

// postgresTestDSN returns the DSN of a schema of its own (internal/testdb), or skips.
func postgresTestDSN(tb testing.TB) string {
	tb.Helper()
	dsn, _ := testdb.Postgres(tb, "test")
	return dsn
}

func openTestPostgres(t *testing.T, dsn string, cols ...Column) *PostgresStore {
	t.Helper()
	s, err := OpenPostgres(context.Background(), dsn, cols...)
	if err != nil {
		t.Fatalf("OpenPostgres: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestPostgresStoredAsSQL(t *testing.T) {
	s := openTestPostgres(t, postgresTestDSN(t), testColumns...)
	created := time.Date(2026, 11, 27, 9, 3, 4, 123456000, time.UTC)
	recs := []*Record{
		{
			RequestID: "full", CreatedAt: created, Direction: DirectionResponse, StatusCode: 200, Stream: true,
			RawBody:    []byte(`{"ok":true}`),
			RawHeaders: http.Header{"Content-Type": {"application/json"}, "Accept": {"text/event-stream", "application/json"}, "X-Html": {"<&>"}},
			ChunkTimes: []float64{300, 350.5, 1200.25},
		},
		{RequestID: "bare", Direction: DirectionRequest},
	}
	if err := s.Insert(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	var (
		createdType, streamType, chunksType, headers, chunks, utc string
		chunkLen                                                  int
		stream                                                    bool
	)
	err := s.DB().QueryRow(`SELECT pg_typeof(created_at)::text, pg_typeof(stream)::text, pg_typeof(chunk_times)::text,
		raw_headers, chunk_times::text, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'),
		jsonb_array_length(chunk_times), stream
		FROM accesslog WHERE request_id = 'full'`).
		Scan(&createdType, &streamType, &chunksType, &headers, &chunks, &utc, &chunkLen, &stream)
	if err != nil {
		t.Fatal(err)
	}
	if createdType != "timestamp with time zone" || streamType != "boolean" || chunksType != "jsonb" ||
		chunks != "[300, 350.5, 1200.25]" || utc != "2026-11-27 09:03:04.123456" || chunkLen != 3 || !stream {
		t.Errorf("created_at %s %s, stream %s %v, chunk_times %s %s (length %d)",
			createdType, utc, streamType, stream, chunksType, chunks, chunkLen)
	}
	if want := `{"Accept":"text/event-stream, application/json","Content-Type":"application/json","X-Html":"<&>"}`; headers != want {
		t.Errorf("raw_headers = %s, want %s (the SQLite store's spelling)", headers, want)
	}
	// The bodies are compressed with lz4 where the server has it.
	var lz4, compression string
	err = s.DB().QueryRow(`SELECT COALESCE((SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'), false)::text,
		(SELECT attcompression::text FROM pg_attribute WHERE attrelid = 'accesslog'::regclass AND attname = 'raw_body')`).Scan(&lz4, &compression)
	if err != nil {
		t.Fatal(err)
	}
	if lz4 == "true" && compression != "l" {
		t.Errorf("raw_body compression %q, want l (lz4)", compression)
	}
	var nulls []bool
	row := s.DB().QueryRow(`SELECT created_at IS NULL, status_code IS NULL, content IS NULL, raw_body IS NULL,
		raw_headers IS NULL, request_time IS NULL, cost_usd IS NULL, chunk_times IS NULL, upstream_body IS NULL,
		team IS NULL, prompt_tokens = 0, stream = false, tokens_estimated = false
		FROM accesslog WHERE request_id = 'bare'`)
	nulls = make([]bool, 13)
	ptrs := make([]any, len(nulls))
	for i := range nulls {
		ptrs[i] = &nulls[i]
	}
	if err := row.Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	for i, ok := range nulls {
		if !ok {
			t.Errorf("bare row: condition %d false in %v", i, nulls)
		}
	}
}

// TestPostgresInvalidText stores what PostgreSQL text refuses (NUL, invalid UTF-8) without
// failing the batch: each such byte reads back as U+FFFD.
func TestPostgresInvalidText(t *testing.T) {
	dsn := postgresTestDSN(t)
	s := openTestPostgres(t, dsn, Column{Name: "team"})
	rec := &Record{
		RequestID: "bad\x00id", Direction: DirectionResponse,
		Content:    "nul\x00here",
		RawBody:    []byte("ok \xff\x00 end"),
		RawHeaders: http.Header{"X-Bin": {"a\x00\xffb"}},
		Model:      "m\xc3",
		Extra:      map[string]any{"team": []byte("t\x00")},
	}
	if err := s.Insert(context.Background(), []*Record{rec, {RequestID: "next"}}); err != nil {
		t.Fatalf("Insert: %v", err)
	}
	got, err := s.Records(context.Background(), "bad\uFFFDid", "")
	if err != nil || len(got) != 1 {
		t.Fatalf("Records = %v, %v", got, err)
	}
	r := got[0]
	// The headers are JSON, which escapes NUL and replaces invalid UTF-8 itself.
	if r.Content != "nul\uFFFDhere" || string(r.RawBody) != "ok \uFFFD\uFFFD end" || r.Model != "m\uFFFD" ||
		r.RawHeaders.Get("X-Bin") != "a\x00\uFFFDb" || r.Extra["team"] != "t\uFFFD" {
		t.Errorf("read back %+v", r)
	}
}

func TestPostgresMigrationsTwice(t *testing.T) {
	dsn := postgresTestDSN(t)
	ctx := context.Background()
	for i := range 2 {
		s, err := OpenPostgres(ctx, dsn)
		if err != nil {
			t.Fatalf("open %d: %v", i+1, err)
		}
		if err := s.Insert(ctx, []*Record{{RequestID: "r", Direction: DirectionRequest}}); err != nil {
			t.Fatalf("insert %d: %v", i+1, err)
		}
		var version, applied int64
		if err := s.DB().QueryRow("SELECT MAX(version_id), COUNT(*) FROM "+sqliteVersionTable+" WHERE version_id > 0").
			Scan(&version, &applied); err != nil {
			t.Fatal(err)
		}
		got, err := s.Records(ctx, "r", "")
		if err != nil {
			t.Fatal(err)
		}
		if version != latestMigration(t, postgresMigrations, "postgres") || applied != postgresMigrationCount(t) || len(got) != i+1 {
			t.Errorf("open %d: schema version %d (%d applied), %d rows", i+1, version, applied, len(got))
		}
		if err := s.Close(); err != nil {
			t.Fatalf("close %d: %v", i+1, err)
		}
	}
}

// postgresMigrationCount is the number of migrations.
func postgresMigrationCount(t *testing.T) int64 {
	files, err := fs.Glob(postgresMigrations, "migrations/postgres/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migrations: %v, %v", files, err)
	}
	return int64(len(files))
}

// latestMigration is the highest version among the migrations of a store; the numbers may
// have gaps.
func latestMigration(t *testing.T, fsys fs.FS, store string) int64 {
	t.Helper()
	files, err := fs.Glob(fsys, "migrations/"+store+"/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migrations: %v, %v", files, err)
	}
	var latest int64
	for _, f := range files {
		v, err := strconv.ParseInt(strings.SplitN(path.Base(f), "_", 2)[0], 10, 64)
		if err != nil {
			t.Fatalf("migration %s: %v", f, err)
		}
		latest = max(latest, v)
	}
	return latest
}

// TestPostgresMigrationsDownAndUp undoes every migration and applies them again, which checks
// the Down sections.
func TestPostgresMigrationsDownAndUp(t *testing.T) {
	s := openTestPostgres(t, postgresTestDSN(t))
	fsys, err := fs.Sub(postgresMigrations, "migrations/postgres")
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, s.DB(), fsys,
		goose.WithTableName(sqliteVersionTable), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := p.DownTo(ctx, 0); err != nil {
		t.Fatalf("down: %v", err)
	}
	var exists bool
	if err := s.DB().QueryRow("SELECT to_regclass('accesslog') IS NOT NULL").Scan(&exists); err != nil || exists {
		t.Fatalf("accesslog still exists after going down (%v)", err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("up again: %v", err)
	}
}

// TestPostgresInstancesStartAtOnce opens several stores on one new schema at the same moment,
// as a fleet of proxies started together does: the migrations and the custom column are
// applied once, and every instance opens.
func TestPostgresInstancesStartAtOnce(t *testing.T) {
	dsn := postgresTestDSN(t)
	const n = 6
	var wg sync.WaitGroup
	errs := make([]error, n)
	stores := make([]*PostgresStore, n)
	for i := range n {
		wg.Go(func() {
			stores[i], errs[i] = OpenPostgres(context.Background(), dsn, Column{Name: "team"}, Column{Name: "score", Type: Integer})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("instance %d: %v", i, err)
			continue
		}
		defer stores[i].Close()
	}
	if t.Failed() {
		return
	}
	var applied int64
	if err := stores[0].DB().QueryRow("SELECT COUNT(*) FROM " + sqliteVersionTable + " WHERE version_id > 0").Scan(&applied); err != nil {
		t.Fatal(err)
	}
	if want := postgresMigrationCount(t); applied != want {
		t.Errorf("%d migrations recorded, want %d", applied, want)
	}
	for i, s := range stores {
		if err := s.Insert(context.Background(), []*Record{{RequestID: fmt.Sprint(i), Extra: map[string]any{"team": "t", "score": i}}}); err != nil {
			t.Errorf("instance %d insert: %v", i, err)
		}
	}
}

// TestPostgresTwoInstances has two stores, as two proxy instances, insert concurrently into one
// table: every row is stored exactly once.
func TestPostgresTwoInstances(t *testing.T) {
	dsn := postgresTestDSN(t)
	a := openTestPostgres(t, dsn, Column{Name: "instance"})
	b := openTestPostgres(t, dsn, Column{Name: "instance"})
	const writers, batches, batchSize = 4, 20, 50
	ctx := context.Background()
	errc := make(chan error, 2*writers)
	var wg sync.WaitGroup
	for inst, s := range []*PostgresStore{a, b} {
		for w := range writers {
			wg.Go(func() {
				for i := range batches {
					batch := make([]*Record, batchSize)
					for j := range batch {
						batch[j] = &Record{
							RequestID: fmt.Sprintf("i%d-w%d-b%d-r%d", inst, w, i, j), Direction: DirectionRequest,
							Extra: map[string]any{"instance": inst},
						}
					}
					if err := s.Insert(ctx, batch); err != nil {
						errc <- err
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	var rows, distinct, fromA int
	err := a.DB().QueryRow(`SELECT COUNT(*), COUNT(DISTINCT request_id), COUNT(*) FILTER (WHERE instance = '0') FROM accesslog`).
		Scan(&rows, &distinct, &fromA)
	if err != nil {
		t.Fatal(err)
	}
	want := 2 * writers * batches * batchSize
	if rows != want || distinct != want || fromA != want/2 {
		t.Errorf("%d rows, %d distinct request ids, %d from instance a; want %d, %d, %d", rows, distinct, fromA, want, want, want/2)
	}
	got, err := b.Records(ctx, "i0-w1-b3-r7", "")
	if err != nil || len(got) != 1 || got[0].Extra["instance"] != "0" {
		t.Errorf("Records through the other instance = %+v, %v", got, err)
	}
}

func TestPostgresCustomColumns(t *testing.T) {
	dsn := postgresTestDSN(t)
	ctx := context.Background()

	// First start: the column is added and filled.
	s, err := OpenPostgres(ctx, dsn, Column{Name: "team"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Insert(ctx, []*Record{{RequestID: "one", Extra: map[string]any{"team": "red"}}}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// Restart with the column present, spelt in another case as SQLite allows, and two more.
	s, err = OpenPostgres(ctx, dsn, Column{Name: "Team"}, Column{Name: "score", Type: Integer}, Column{Name: "ratio", Type: Real})
	if err != nil {
		t.Fatalf("reopen with the column present: %v", err)
	}
	if err := s.Insert(ctx, []*Record{{RequestID: "two", Extra: map[string]any{"Team": "blue", "score": 3, "ratio": 0.1}}}); err != nil {
		t.Fatal(err)
	}
	types := map[string]string{}
	rows, err := s.DB().Query(`SELECT column_name, data_type FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = 'accesslog'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			t.Fatal(err)
		}
		types[name] = typ
	}
	rows.Close()
	if types["team"] != "text" || types["score"] != "bigint" || types["ratio"] != "double precision" || types["Team"] != "" {
		t.Errorf("table columns: team %q, score %q, ratio %q, Team %q", types["team"], types["score"], types["ratio"], types["Team"])
	}
	s.Close()

	// Without custom columns configured, their values are still read back.
	s = openTestPostgres(t, dsn)
	tests := []struct {
		id   string
		want map[string]any
	}{
		{"one", map[string]any{"team": "red"}},
		{"two", map[string]any{"team": "blue", "score": int64(3), "ratio": 0.1}},
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

// TestPostgresCustomValueConversion stores values of the wrong Go type: what the column's type
// can hold is converted, anything else is NULL, and the batch never fails.
func TestPostgresCustomValueConversion(t *testing.T) {
	dsn := postgresTestDSN(t)
	s := openTestPostgres(t, dsn, Column{Name: "meta"}, Column{Name: "n", Type: Integer}, Column{Name: "f", Type: Real})
	if _, err := s.DB().Exec(`ALTER TABLE accesslog ADD COLUMN small smallint, ADD COLUMN doc jsonb, ADD COLUMN flag boolean`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openTestPostgres(t, dsn, Column{Name: "meta"}, Column{Name: "n", Type: Integer}, Column{Name: "f", Type: Real},
		Column{Name: "small", Type: Integer}, Column{Name: "doc"}, Column{Name: "flag"})
	type extra = map[string]any
	tests := []struct {
		in, want extra
	}{
		{
			in:   extra{"meta": map[string]int{"a": 1}, "n": uint8(3), "f": float32(0.5), "small": 7, "doc": map[string]any{"k": []int{1}}, "flag": true},
			want: extra{"meta": `{"a":1}`, "n": int64(3), "f": 0.5, "small": int64(7), "doc": `{"k": [1]}`, "flag": "true"},
		},
		{
			in:   extra{"meta": 42, "n": "17", "f": "2.5", "small": 70000, "doc": `{"raw":"json"}`, "flag": 0},
			want: extra{"meta": "42", "n": int64(17), "f": 2.5, "doc": `{"raw": "json"}`, "flag": "false"},
		},
		{
			in:   extra{"meta": 1.5, "n": "many", "f": "x", "small": 2.6, "doc": "not json\x00", "flag": "maybe"},
			want: extra{"meta": "1.5", "small": int64(3), "doc": "\"not json\uFFFD\""},
		},
		{
			in:   extra{"meta": true, "n": 2.5, "f": true, "small": "-3", "doc": nil, "flag": "T"},
			want: extra{"meta": "true", "n": int64(3), "f": 1.0, "small": int64(-3), "flag": "true"},
		},
		{
			in:   extra{"meta": panickyValuer{}, "n": panickyValuer{}, "doc": panickyValuer{}},
			want: nil, // every value NULL
		},
	}
	var batch []*Record
	for i, tt := range tests {
		batch = append(batch, &Record{RequestID: fmt.Sprint("conv-", i), Extra: tt.in})
	}
	if err := s.Insert(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	for i, tt := range tests {
		got, err := s.Records(context.Background(), fmt.Sprint("conv-", i), "")
		if err != nil || len(got) != 1 {
			t.Fatalf("Records = %v, %v", got, err)
		}
		// database/sql reads jsonb as bytes and booleans as bools.
		for k, v := range got[0].Extra {
			switch x := v.(type) {
			case []byte:
				got[0].Extra[k] = string(x)
			case bool:
				got[0].Extra[k] = fmt.Sprint(x)
			}
		}
		if !reflect.DeepEqual(got[0].Extra, tt.want) {
			t.Errorf("case %d: Extra = %#v, want %#v", i, got[0].Extra, tt.want)
		}
	}
}

// panickyValuer is a custom column value whose methods panic.
type panickyValuer struct{}

func (panickyValuer) Value() (driver.Value, error) { panic("Value") }
func (panickyValuer) MarshalJSON() ([]byte, error) { panic("MarshalJSON") }

// TestPostgresInsertIsAtomic has the server refuse one row of a batch and finds none of the
// batch stored.
func TestPostgresInsertIsAtomic(t *testing.T) {
	s := openTestPostgres(t, postgresTestDSN(t))
	if _, err := s.DB().Exec(`ALTER TABLE accesslog ADD CONSTRAINT refuse CHECK (content IS DISTINCT FROM 'refuse me')`); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	batch := []*Record{
		{RequestID: "atomic", Content: "one"},
		{RequestID: "atomic", Content: "refuse me"},
		{RequestID: "atomic", Content: "three"},
	}
	if err := s.Insert(ctx, batch); err == nil || !strings.Contains(err.Error(), "refuse") {
		t.Fatalf("Insert of a refused row: %v", err)
	}
	if got, err := s.Records(ctx, "atomic", ""); err != nil || len(got) != 0 {
		t.Errorf("failed batch left %d rows (%v)", len(got), err)
	}
	// The pool's connections are still good.
	for range 3 {
		if err := s.Insert(ctx, []*Record{batch[0], batch[2]}); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.Records(ctx, "atomic", ""); err != nil || len(got) != 6 {
		t.Errorf("later batches: %d rows (%v)", len(got), err)
	}
}

// TestPostgresAdoptsPythonTable opens a schema where the original Python AIProxy created its
// table (SQLAlchemy's DDL for PostgreSQL) and finds its rows and the new columns.
func TestPostgresAdoptsPythonTable(t *testing.T) {
	dsn := postgresTestDSN(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Exec(`CREATE TABLE accesslog (
		id SERIAL NOT NULL, request_id VARCHAR, created_at TIMESTAMP WITHOUT TIME ZONE, direction VARCHAR,
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

	s := openTestPostgres(t, dsn)
	ctx := context.Background()
	got, err := s.Records(ctx, "py-1", "")
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

	// New rows keep the table's convention: created_at is UTC wall time.
	created := time.Date(2026, 5, 6, 16, 7, 8, 0, time.FixedZone("CEST", 2*3600))
	if err := s.Insert(ctx, []*Record{{RequestID: "go-1", CreatedAt: created, Provider: "openai", Stream: true, ChunkTimes: []float64{1}}}); err != nil {
		t.Fatalf("insert into the adopted table: %v", err)
	}
	var wall string
	if err := s.DB().QueryRow(`SELECT to_char(created_at, 'YYYY-MM-DD HH24:MI:SS') FROM accesslog WHERE request_id = 'go-1'`).Scan(&wall); err != nil {
		t.Fatal(err)
	}
	if wall != "2026-05-06 14:07:08" {
		t.Errorf("created_at stored as %s, want the UTC wall time 2026-05-06 14:07:08", wall)
	}
	got, err = s.Records(ctx, "go-1", "")
	if err != nil || len(got) != 1 || !got[0].CreatedAt.Equal(created) || !got[0].Stream || got[0].Provider != "openai" {
		t.Errorf("Records(go-1) = %+v, %v", got, err)
	}
}

func TestWriterWithPostgres(t *testing.T) {
	s := openTestPostgres(t, postgresTestDSN(t), Column{Name: "team"})
	w := NewWriter(s, WriterOptions{Columns: []Column{{Name: "team", Value: func(r *Record) any { return "red" }}}})
	for _, r := range testRecords("pg", 1200) {
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
	if st := w.Stats(); st.Written != 1200 || st.Failed != 0 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestOpenPostgresURL(t *testing.T) {
	dsn := postgresTestDSN(t)
	// Open reads the SQLAlchemy spelling the original's --connection_str took.
	alchemy := strings.Replace(strings.Replace(dsn, "postgresql://", "postgres://", 1), "postgres://", "postgresql+psycopg2://", 1)
	for _, d := range []string{dsn, alchemy} {
		s, err := Open(d, Column{Name: "team"})
		if err != nil {
			t.Fatalf("Open(%s): %v", RedactDSN(d), err)
		}
		if _, ok := s.(*PostgresStore); !ok {
			t.Errorf("Open(%s) = %T, want *PostgresStore", RedactDSN(d), s)
		}
		if err := s.Insert(context.Background(), []*Record{{RequestID: "x", Extra: map[string]any{"team": "t"}}}); err != nil {
			t.Error(err)
		}
		s.Close()
	}
}

// TestPostgresColumns checks that the Postgres store writes every built-in column.
func TestPostgresColumns(t *testing.T) {
	got, want := slices.Sorted(slices.Values(postgresColumns)), slices.Sorted(slices.Values(insertColumns))
	if !slices.Equal(got, want) {
		t.Errorf("postgresColumns = %q\nwant the names of insertColumns %q", got, want)
	}
	for _, c := range intColumns {
		if !slices.Contains(postgresColumns, c) {
			t.Errorf("integer column %q is not a built-in column", c)
		}
	}
}

func TestPostgresURL(t *testing.T) {
	tests := []struct {
		dsn, want string
		ok        bool
	}{
		{"postgres://u@h/db", "postgresql://u@h/db", true},
		{"postgresql://u@h/db?sslmode=disable", "postgresql://u@h/db?sslmode=disable", true},
		{"PostgreSQL://u@h/db", "postgresql://u@h/db", true},
		{"postgresql+psycopg2://u:p@h:5432/db", "postgresql://u:p@h:5432/db", true},
		{"postgres+asyncpg://u@h/db", "postgresql://u@h/db", true},
		{"sqlite:///aiproxy.db", "", false},
		{"aiproxy.db", "", false},
		{"postgresfoo://h", "", false},
		{"host=h dbname=db", "", false},
	}
	for _, tt := range tests {
		got, ok := postgresURL(tt.dsn)
		if got != tt.want || ok != tt.ok {
			t.Errorf("postgresURL(%q) = %q, %v; want %q, %v", tt.dsn, got, ok, tt.want, tt.ok)
		}
	}
}

func TestRedactDSN(t *testing.T) {
	tests := []struct{ dsn, want string }{
		{"postgres://aiproxy:s3cret@db:5432/logs?sslmode=require", "postgres://aiproxy:xxxxx@db:5432/logs?sslmode=require"},
		{"postgres://aiproxy@db/logs", "postgres://aiproxy@db/logs"},
		{"postgres://db/logs?user=a&password=s3cret&sslmode=disable", "postgres://db/logs?user=a&password=xxxxx&sslmode=disable"},
		{"postgres://aiproxy:s3%cret@db/logs", "postgres://xxxxx@db/logs"},           // does not parse
		{"postgres://aiproxy:12/s3cret@db/logs", "postgres://xxxxx@db/logs"},         // parses, wrongly
		{"postgres://aiproxy:p@ss@w0rd@db/logs", "postgres://aiproxy:xxxxx@db/logs"}, // the last @ ends it
		{"host=db user=aiproxy password=s3cret dbname=logs", "host=db user=aiproxy password=xxxxx dbname=logs"},
		{"host=db password = 's3 cret' dbname=logs", "host=db password = xxxxx dbname=logs"},
		{"aiproxy.db", "aiproxy.db"},
		{"sqlite:///var/lib/aiproxy.db", "sqlite:///var/lib/aiproxy.db"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := RedactDSN(tt.dsn); got != tt.want {
			t.Errorf("RedactDSN(%q) = %q, want %q", tt.dsn, got, tt.want)
		}
	}
}

// TestOpenPostgresErrorsHidePassword fails to open (nothing listens on port 1; a DSN that does
// not parse) and finds no password in the errors. It needs no PostgreSQL.
func TestOpenPostgresErrorsHidePassword(t *testing.T) {
	tests := []string{
		"postgres://aiproxy:s3cret-pw@127.0.0.1:1/logs?sslmode=disable&connect_timeout=5",
		"postgres://aiproxy:s3cret-pw%zz@127.0.0.1:1/logs",
		"postgres://aiproxy@127.0.0.1:1/logs?password=s3cret-pw&sslmode=disable",
		"host=127.0.0.1 port=1 user=aiproxy password=s3cret-pw dbname=logs sslmode=disable",
		"host=127.0.0.1 port=1 password='s3cret-pw' sslmode=bogus",
		"postgres://aiproxy:s3cret-pw@127.0.0.1:1/logs?sslmode=bogus",
	}
	for _, dsn := range tests {
		t.Run(RedactDSN(dsn), func(t *testing.T) {
			s, err := OpenPostgres(context.Background(), dsn)
			if err == nil {
				s.Close()
				t.Fatal("OpenPostgres succeeded")
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error shows the password: %v", err)
			}
			if !strings.Contains(err.Error(), "postgresql") {
				t.Errorf("error does not say what failed: %v", err)
			}
			if strings.Contains(dsn, "://") { // Open reads anything else as a SQLite path
				if _, err := Open(strings.Replace(dsn, "postgres://", "postgresql://", 1)); err == nil || strings.Contains(err.Error(), "s3cret") {
					t.Errorf("Open error: %v", err)
				}
			}
		})
	}
}

func TestPostgresRejectsBadColumns(t *testing.T) {
	// Refused before any connection is made: no database needed.
	if _, err := OpenPostgres(context.Background(), "postgres://127.0.0.1:1/x", Column{Name: "user"}); err == nil || !strings.Contains(err.Error(), "built-in") {
		t.Errorf("OpenPostgres(user column) error = %v", err)
	}
}

// TestPostgresReplayOfStoredBatch replays a batch that the database has already committed, as
// when a commit went through but its acknowledgement was lost: no row is stored twice.
func TestPostgresReplayOfStoredBatch(t *testing.T) {
	testReplayOfStoredBatch(t, openTestPostgres(t, postgresTestDSN(t)))
}
