package accesslog

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
)

//go:embed migrations/postgres/*.sql
var postgresMigrations embed.FS

// postgresConnectTimeout bounds each new connection when the DSN sets no connect_timeout, so
// that an unreachable server fails a start-up or a batch instead of hanging on the network.
const postgresConnectTimeout = 10 * time.Second

// PostgresStore is the Store kept in a PostgreSQL database, the one that several proxy
// instances share.
//
// Insert sends each batch with the COPY protocol (pgx's CopyFrom) as one statement, which
// PostgreSQL runs as one transaction: all rows are stored or none is. The rows of concurrent
// batches, from this instance or others, interleave freely; ids come from one sequence.
//
// Text columns hold UTF-8 text, which PostgreSQL checks: an invalid UTF-8 byte or a NUL byte in
// any text value (bodies included) is stored as U+FFFD, where SQLite keeps the bytes as they
// are. A custom column's value that the column's type cannot hold is stored as NULL. Neither
// ever fails a batch.
type PostgresStore struct {
	db *sql.DB

	table    pgx.Identifier // accesslog, resolved through the connection's search_path
	copyCols []string       // postgresColumns, then the custom columns' names in the table
	cols     []Column       // custom columns written by Insert: Extra's keys; copyCols has the table's names
	colKinds []pgKind       // the table's type of each of cols
	intKinds []pgKind       // the table's type of each built-in integer column, see intColumns

	selectSQL  string   // SELECT of every column of the table, built-in ones first
	extraNames []string // the non-built-in columns of the table, as selected after the built-ins

	closeOnce sync.Once
	closeErr  error
}

var _ Store = (*PostgresStore)(nil)

// OpenPostgres connects to the PostgreSQL database that dsn names, brings its schema up to
// date and adds each custom column the accesslog table lacks.
//
// dsn is a URL (postgres://user:password@host:5432/dbname?sslmode=disable) or a keyword/value
// string (host=... dbname=...), with pgx's parameters and any run-time parameter of the server
// (search_path=... puts the table in another schema). Without connect_timeout each connection
// attempt is limited to ten seconds. ctx bounds the connection and the migrations, including
// the wait for another instance that is migrating the same schema.
//
// Migrations run under a session advisory lock keyed by the schema, so any number of instances
// may start at once; they need a session-pooled connection (not a PgBouncer transaction pool)
// for that. A table written by the original Python AIProxy is adopted: its rows stay and the
// columns added since are appended to it. Errors never show the password.
func OpenPostgres(ctx context.Context, dsn string, cols ...Column) (*PostgresStore, error) {
	cols, err := validateColumns(cols)
	if err != nil {
		return nil, err
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgresql %s: %w", RedactDSN(dsn), scrubError(err, dsn))
	}
	if cfg.ConnectTimeout == 0 && !strings.Contains(dsn, "connect_timeout") {
		cfg.ConnectTimeout = postgresConnectTimeout
	}

	s := &PostgresStore{db: stdlib.OpenDB(*cfg), table: pgx.Identifier{"accesslog"}}
	// Bounded so that a fleet of instances does not exhaust the server's max_connections: the
	// writer uses one connection at a time, the rest serve reads and migrations.
	n := max(4, runtime.GOMAXPROCS(0))
	s.db.SetMaxOpenConns(n)
	s.db.SetMaxIdleConns(n)
	s.db.SetConnMaxIdleTime(5 * time.Minute)
	// Connections are renewed now and then so that a fleet rebalances after a failover.
	s.db.SetConnMaxLifetime(time.Hour)

	if err := s.db.PingContext(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("open postgresql %s: %w", RedactDSN(dsn), scrubError(err, dsn))
	}
	if err := s.migrate(ctx, cols); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("open postgresql %s: %w", RedactDSN(dsn), scrubError(err, dsn))
	}
	return s, nil
}

// migrate runs the embedded migrations, adds the missing custom columns and learns the table's
// columns, all under an advisory lock that serialises the instances starting on one schema.
func (s *PostgresStore) migrate(ctx context.Context, cols []Column) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var schema string
	if err := conn.QueryRowContext(ctx, "SELECT COALESCE(current_schema(), '')").Scan(&schema); err != nil {
		return fmt.Errorf("read current schema: %w", err)
	}
	if schema == "" {
		return errors.New("no schema of the search_path exists to create the accesslog table in")
	}
	// A blocking lock rather than goose's polling session locker: an instance waits exactly as
	// long as the one migrating, and the lock also covers the custom columns' ALTER TABLEs.
	// Advisory locks are per database, hence the schema in the key.
	key := migrationLockKey(schema)
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
		return fmt.Errorf("lock migrations: %w", err)
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, uerr := conn.ExecContext(uctx, "SELECT pg_advisory_unlock($1)", key); uerr != nil {
			// Ending the session is what releases its locks, then.
			conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()

	fsys, err := fs.Sub(postgresMigrations, "migrations/postgres")
	if err != nil {
		return fmt.Errorf("postgresql migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, s.db, fsys,
		goose.WithTableName(sqliteVersionTable), // one name for both stores
		goose.WithDisableGlobalRegistry(true),
		// The migrations are independent of each other: a database that has a later one
		// already (from a development build) still gets an earlier one it lacks.
		goose.WithAllowOutofOrder(true),
	)
	if err != nil {
		return fmt.Errorf("postgresql migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("postgresql migrations: %w", err)
	}

	have, err := s.tableColumns(ctx, conn)
	if err != nil {
		return err
	}
	added := false
	for _, c := range cols {
		if _, ok := findColumn(have, c.Name); ok {
			continue
		}
		stmt := fmt.Sprintf("ALTER TABLE accesslog ADD COLUMN IF NOT EXISTS %s %s", quoteIdent(c.Name), postgresType(c.Type))
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("add custom column %q: %w", c.Name, err)
		}
		added = true
	}
	if added {
		if have, err = s.tableColumns(ctx, conn); err != nil {
			return err
		}
	}

	for _, c := range have {
		if c.name != "id" && !isBuiltinColumn(c.name) {
			s.extraNames = append(s.extraNames, c.name)
		}
	}
	s.selectSQL = selectSQL(s.extraNames)

	// PostgreSQL names are case-sensitive once quoted; like SQLite, a custom column matches the
	// table's column of the same name in any case, and is copied under the table's spelling.
	s.copyCols = append([]string(nil), postgresColumns...)
	s.cols = cols
	for _, c := range cols {
		tc, _ := findColumn(have, c.Name)
		s.colKinds = append(s.colKinds, tc.kind)
		s.copyCols = append(s.copyCols, tc.name)
	}
	for _, name := range intColumns {
		tc, _ := findColumn(have, name)
		s.intKinds = append(s.intKinds, tc.kind)
	}
	return nil
}

// migrationLockKey is the advisory lock key of the migrations of the accesslog table in schema.
func migrationLockKey(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("aiproxy accesslog migrations\x00"))
	h.Write([]byte(schema))
	return int64(h.Sum64())
}

// tableColumn is one column of the accesslog table as the catalog describes it.
type tableColumn struct {
	name string
	kind pgKind
}

func findColumn(cols []tableColumn, name string) (tableColumn, bool) {
	for _, c := range cols {
		if c.name == name {
			return c, true
		}
	}
	for _, c := range cols {
		if strings.EqualFold(c.name, name) {
			return c, true
		}
	}
	return tableColumn{}, false
}

// tableColumns returns the columns of the accesslog table that the search_path finds, the
// one Insert and Records use, in table order.
func (s *PostgresStore) tableColumns(ctx context.Context, conn *sql.Conn) ([]tableColumn, error) {
	rows, err := conn.QueryContext(ctx, `SELECT a.attname, t.typname
		FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
		WHERE a.attrelid = 'accesslog'::regclass AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY a.attnum`)
	if err != nil {
		return nil, fmt.Errorf("read accesslog columns: %w", err)
	}
	defer rows.Close()
	var cols []tableColumn
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return nil, fmt.Errorf("read accesslog columns: %w", err)
		}
		cols = append(cols, tableColumn{name: name, kind: kindOf(typ)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read accesslog columns: %w", err)
	}
	return cols, nil
}

// postgresType is the PostgreSQL type of a custom column: REAL would be single precision there,
// and custom integers get 64 bits like Go's.
func postgresType(t ColumnType) string {
	switch t {
	case Integer:
		return "BIGINT"
	case Real:
		return "DOUBLE PRECISION"
	}
	return "TEXT"
}

// pgKind is what a column's type can hold, as far as Insert needs to know.
type pgKind uint8

const (
	kindOther pgKind = iota
	kindText
	kindInt16
	kindInt32
	kindInt64
	kindFloat
	kindBool
	kindJSON
	kindTime
)

func kindOf(typname string) pgKind {
	switch typname {
	case "text", "varchar", "bpchar", "name", "citext":
		return kindText
	case "int2":
		return kindInt16
	case "int4":
		return kindInt32
	case "int8":
		return kindInt64
	case "float4", "float8", "numeric":
		return kindFloat
	case "bool":
		return kindBool
	case "json", "jsonb":
		return kindJSON
	case "timestamptz", "timestamp", "date":
		return kindTime
	}
	return kindOther
}

// intColumns are the built-in integer columns, in postgresColumns order. They are INTEGER in
// PostgreSQL, so a value beyond 32 bits is stored as NULL rather than failing the batch.
var intColumns = []string{"status_code", "prompt_tokens", "completion_tokens", "cached_tokens", "reasoning_tokens"}

// DB returns the connection pool, for queries of the log (tests, dashboards, reports).
func (s *PostgresStore) DB() *sql.DB { return s.db }

// Insert stores the records with one COPY: all of them or, on error, none.
func (s *PostgresStore) Insert(ctx context.Context, recs []*Record) error {
	return s.insertBatch(ctx, "", recs)
}

// InsertBatch stores the records under batchID, with one COPY in a transaction that also
// records the id, unless a batch with that id was stored before: then it stores nothing and
// returns nil. Two instances storing the same id at once store it once: the second waits for
// the first's transaction and then finds the id.
func (s *PostgresStore) InsertBatch(ctx context.Context, batchID string, recs []*Record) error {
	if batchID == "" {
		return errors.New("postgresql insert: empty batch id")
	}
	return s.insertBatch(ctx, batchID, recs)
}

func (s *PostgresStore) insertBatch(ctx context.Context, batchID string, recs []*Record) error {
	if len(recs) == 0 {
		return nil
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("postgresql insert: %w", err)
	}
	defer conn.Close()
	src := &copySource{s: s, recs: recs, i: -1, row: make([]any, len(s.copyCols))}
	err = conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("unexpected driver connection %T", dc)
		}
		if batchID == "" {
			// COPY alone is a transaction of its own.
			return s.copy(ctx, c.Conn(), src)
		}
		tx, err := c.Conn().Begin(ctx)
		if err != nil {
			return err
		}
		defer func() {
			// A no-op after Commit; after an error it ends the transaction, or fails on a
			// broken connection, which database/sql then discards.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			tx.Rollback(rctx)
		}()
		tag, err := tx.Exec(ctx, `INSERT INTO accesslog_batches (batch_id, row_count) VALUES ($1, $2)
			ON CONFLICT DO NOTHING`, batchID, len(recs))
		if err != nil {
			return fmt.Errorf("batch id: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return nil // stored before, by an attempt whose commit went through unseen
		}
		if err := s.copy(ctx, tx, src); err != nil {
			return err
		}
		return tx.Commit(ctx)
	})
	if err != nil {
		return fmt.Errorf("postgresql insert: %w", err)
	}
	return nil
}

// copier is what COPY runs on: a connection, or a transaction.
type copier interface {
	CopyFrom(ctx context.Context, table pgx.Identifier, cols []string, src pgx.CopyFromSource) (int64, error)
}

func (s *PostgresStore) copy(ctx context.Context, c copier, src *copySource) error {
	n, err := c.CopyFrom(ctx, s.table, s.copyCols, src)
	if err == nil && n != int64(len(src.recs)) {
		err = fmt.Errorf("copied %d rows of %d", n, len(src.recs))
	}
	return err
}

// batchStored reports whether a batch with the id was stored.
func (s *PostgresStore) batchStored(ctx context.Context, batchID string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM accesslog_batches WHERE batch_id = $1", batchID).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("postgresql batch lookup: %w", err)
	}
	return n > 0, nil
}

// copySource feeds the records to CopyFrom, which encodes each row before asking for the
// next: one row slice, and the scratch space of its JSON values, serve them all.
type copySource struct {
	s       *PostgresStore
	recs    []*Record
	i       int
	row     []any
	scratch rowScratch
}

// rowScratch is reused from row to row for the values rowValues builds.
type rowScratch struct {
	keys          []string
	hdrBuf, tsBuf []byte
}

func (c *copySource) Next() bool { c.i++; return c.i < len(c.recs) }
func (c *copySource) Err() error { return nil }

func (c *copySource) Values() ([]any, error) {
	c.s.rowValues(c.row, c.recs[c.i], &c.scratch)
	return c.row, nil
}

// postgresColumns are the built-in columns in the order rowValues fills them: every column of
// insertColumns, listed here so that the two lists can change independently (a test checks
// that they hold the same names).
var postgresColumns = []string{
	"request_id", "created_at", "direction", "status_code", "content", "function_call",
	"tool_calls", "raw_body", "raw_headers", "model", "prompt_tokens", "completion_tokens",
	"request_time", "request_time_api",
	"provider", "endpoint", "stream", "user", "client_key", "upstream_request_id",
	"time_to_first_token", "cached_tokens", "reasoning_tokens", "tokens_estimated", "cost_usd",
	"chunk_times", "upstream_body",
}

// rowValues fills row with the values of r in copyCols order, by the same rules as SQLite's
// Insert: zero values that mean "none" or "unknown" are NULL (empty strings and bodies, a zero
// status, zero times and cost, no chunk times); token counts are stored as they are, since
// zero is a count. The JSON values are built in sc, valid until the next call.
func (s *PostgresStore) rowValues(row []any, r *Record, sc *rowScratch) {
	row[0] = pgText(r.RequestID) // NOT NULL: "" stays ""
	row[1] = pgTime(r.CreatedAt)
	row[2] = pgNullText(r.Direction)
	row[3] = pgNullInt(r.StatusCode, s.intKinds[0])
	row[4] = pgNullText(r.Content)
	row[5] = pgNullText(r.FunctionCall)
	row[6] = pgNullText(r.ToolCalls)
	row[7] = pgNullBytes(r.RawBody)
	row[8] = sc.headers(r.RawHeaders)
	row[9] = pgNullText(r.Model)
	row[10] = pgInt(int64(r.PromptTokens), s.intKinds[1])
	row[11] = pgInt(int64(r.CompletionTokens), s.intKinds[2])
	row[12] = nullFloat(r.RequestTime)
	row[13] = nullFloat(r.RequestTimeAPI)
	row[14] = pgNullText(r.Provider)
	row[15] = pgNullText(r.Endpoint)
	row[16] = r.Stream
	row[17] = pgNullText(r.User)
	row[18] = pgNullText(r.ClientKey)
	row[19] = pgNullText(r.UpstreamRequestID)
	row[20] = nullFloat(r.TimeToFirstToken)
	row[21] = pgInt(int64(r.CachedTokens), s.intKinds[3])
	row[22] = pgInt(int64(r.ReasoningTokens), s.intKinds[4])
	row[23] = r.TokensEstimated
	row[24] = nullFloat(r.CostUSD)
	row[25] = sc.chunkTimes(r.ChunkTimes)
	row[26] = pgNullBytes(r.UpstreamBody)
	for i, c := range s.cols {
		row[len(postgresColumns)+i] = pgCustom(r.Extra[c.Name], s.colKinds[i])
	}
}

// pgText makes s storable in a PostgreSQL text value: each byte of an invalid UTF-8 sequence
// and each NUL byte, which the server refuses, becomes U+FFFD.
func pgText(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == 0 || r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func pgNullText(s string) any {
	if s == "" {
		return nil
	}
	return pgText(s)
}

// pgNullBytes binds a body as text.
func pgNullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	if utf8.Valid(b) && bytes.IndexByte(b, 0) < 0 {
		return b // the text codec sends the bytes as they are
	}
	return pgText(string(b))
}

// pgTime is created_at in UTC, which both a timestamptz and an adopted table's timestamp
// without time zone store as the same instant; PostgreSQL keeps microseconds, truncated.
func pgTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

func pgNullInt(n int, k pgKind) any {
	if n == 0 {
		return nil
	}
	return pgInt(int64(n), k)
}

// pgInt is n when a column of kind k holds it, else NULL.
func pgInt(n int64, k pgKind) any {
	switch k {
	case kindInt16:
		if n < math.MinInt16 || n > math.MaxInt16 {
			return nil
		}
	case kindInt32:
		if n < math.MinInt32 || n > math.MaxInt32 {
			return nil
		}
	case kindFloat:
		return float64(n)
	case kindText:
		return strconv.FormatInt(n, 10)
	}
	return n
}

// headers encodes h as SQLite's store spells it (appendHeadersJSON). JSON escapes NUL and
// replaces invalid UTF-8 itself, so the text is always storable.
func (sc *rowScratch) headers(h http.Header) any {
	if len(h) == 0 {
		return nil
	}
	sc.hdrBuf, sc.keys = appendHeadersJSON(sc.hdrBuf[:0], sc.keys[:0], h)
	return sc.hdrBuf
}

// chunkTimes encodes chunk offsets as a JSON array of milliseconds for the jsonb column; a
// non-finite value, which JSON cannot spell, becomes null.
func (sc *rowScratch) chunkTimes(ts []float64) any {
	if len(ts) == 0 {
		return nil
	}
	b := append(sc.tsBuf[:0], '[')
	for i, t := range ts {
		if i > 0 {
			b = append(b, ',')
		}
		if math.IsNaN(t) || math.IsInf(t, 0) {
			b = append(b, "null"...)
			continue
		}
		b = strconv.AppendFloat(b, t, 'f', -1, 64)
	}
	b = append(b, ']')
	sc.tsBuf = b
	return b // raw JSON to pgx's json codec
}

// pgCustom makes a custom column's value storable in a column of kind k: numbers, booleans and
// numeric strings convert between themselves, anything else becomes text (JSON for a map, a
// struct or a slice) in a text column, and what the column cannot hold is NULL, so that one
// odd value never fails a whole batch. A value whose Value or MarshalJSON method panics is
// NULL too: pgx asks for the rows in a goroutine of its own, where a panic would end the
// program.
func pgCustom(v any, k pgKind) (out any) {
	if v == nil {
		return nil
	}
	defer func() {
		if recover() != nil {
			out = nil
		}
	}()
	if k == kindJSON {
		return pgJSON(v)
	}
	dv, err := driver.DefaultParameterConverter.ConvertValue(v)
	if err != nil {
		if k != kindText && k != kindOther {
			return nil
		}
		b, err := json.Marshal(v)
		if err != nil {
			return pgText(fmt.Sprint(v))
		}
		return pgText(string(b))
	}
	switch x := dv.(type) {
	case int64:
		if k == kindBool {
			return x != 0
		}
		if k == kindTime {
			return nil
		}
		return pgInt(x, k)
	case float64:
		switch k {
		case kindInt16, kindInt32, kindInt64:
			// PostgreSQL's own cast rounds to the nearest integer.
			if r := math.Round(x); !math.IsNaN(r) && r >= math.MinInt64 && r < math.MaxInt64 {
				return pgInt(int64(r), k)
			}
			return nil
		case kindText:
			return strconv.FormatFloat(x, 'g', -1, 64)
		case kindBool:
			return x != 0
		case kindTime:
			return nil
		}
		return x
	case bool:
		switch k {
		case kindInt16, kindInt32, kindInt64:
			if x {
				return int64(1)
			}
			return int64(0)
		case kindFloat:
			if x {
				return 1.0
			}
			return 0.0
		case kindText:
			return strconv.FormatBool(x)
		case kindTime:
			return nil
		}
		return x
	case string:
		return pgCustomString(x, k)
	case []byte:
		return pgCustomString(string(x), k)
	case time.Time:
		switch k {
		case kindTime, kindOther:
			return x.UTC()
		case kindText:
			return x.UTC().Format(TimeLayout)
		}
		return nil
	}
	return nil
}

func pgCustomString(s string, k pgKind) any {
	t := strings.TrimSpace(s)
	switch k {
	case kindInt16, kindInt32, kindInt64:
		if n, err := strconv.ParseInt(t, 10, 64); err == nil {
			return pgInt(n, k)
		}
		if f, err := strconv.ParseFloat(t, 64); err == nil {
			return pgCustom(f, k)
		}
		return nil
	case kindFloat:
		if f, err := strconv.ParseFloat(t, 64); err == nil {
			return f
		}
		return nil
	case kindBool:
		if b, err := strconv.ParseBool(t); err == nil {
			return b
		}
		return nil
	case kindTime:
		if ts := asTime(t); !ts.IsZero() {
			return ts
		}
		return nil
	}
	return pgText(s)
}

// pgJSON is a value for a json or jsonb column: a string or []byte that is JSON already goes
// as it is, anything else is encoded. jsonb refuses \u0000, which becomes \ufffd.
func pgJSON(v any) any {
	var b []byte
	switch x := v.(type) {
	case json.RawMessage:
		b = x
	case []byte:
		b = x
	case string:
		b = []byte(x)
	}
	if b == nil || !json.Valid(b) {
		var err error
		if b, err = json.Marshal(v); err != nil {
			return nil
		}
	}
	return bytes.ReplaceAll(b, []byte(`\u0000`), []byte(`\ufffd`))
}

// Records returns the rows of one exchange in id order; direction "" selects all of them.
func (s *PostgresStore) Records(ctx context.Context, requestID, direction string) ([]*Record, error) {
	q := s.selectSQL + " WHERE request_id = $1"
	args := []any{requestID}
	if direction != "" {
		q += " AND direction = $2"
		args = append(args, direction)
	}
	q += " ORDER BY id"
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("postgresql records: %w", err)
	}
	defer rows.Close()
	var recs []*Record
	for rows.Next() {
		r, err := scanRecord(rows, s.extraNames)
		if err != nil {
			return nil, fmt.Errorf("postgresql records: %w", err)
		}
		recs = append(recs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgresql records: %w", err)
	}
	return recs, nil
}

// Close releases the store's connections. It is safe to call more than once.
func (s *PostgresStore) Close() error {
	s.closeOnce.Do(func() {
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("close postgresql: %w", err)
		}
	})
	return s.closeErr
}

// postgresURL reports whether dsn is a PostgreSQL URL, and returns it in the spelling pgx
// reads: postgres:// and postgresql:// in any case, and SQLAlchemy's postgresql+driver://
// (the original's --connection_str, e.g. postgresql+psycopg2://) too.
func postgresURL(dsn string) (string, bool) {
	scheme, rest, ok := strings.Cut(dsn, "://")
	if !ok {
		return "", false
	}
	base, _, _ := strings.Cut(strings.ToLower(scheme), "+")
	if base != "postgres" && base != "postgresql" {
		return "", false
	}
	return "postgresql://" + rest, true
}

var (
	kvPassword    = regexp.MustCompile(`(?i)(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S*)`)
	queryPassword = regexp.MustCompile(`(?i)([?&]password=)([^&#]*)`)
)

// RedactDSN returns dsn with any password replaced by "xxxxx", for logs and error messages: the
// password of a URL's user information or of its password parameter, or the password keyword
// of a keyword/value string. When a URL does not parse as a URL with a password, everything
// between "://" and its last "@" goes. A SQLite path is returned as it is.
func RedactDSN(dsn string) string {
	scheme, rest, isURL := strings.Cut(dsn, "://")
	if !isURL {
		return kvPassword.ReplaceAllString(dsn, "${1}xxxxx")
	}
	out := dsn
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		u, err := url.Parse(dsn)
		hasPassword := false
		if err == nil {
			_, hasPassword = u.User.Password() // nil-safe
		}
		if hasPassword && !strings.Contains(u.Host+u.Path, "@") {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
			out = u.String()
		} else if err != nil || strings.ContainsRune(rest[:at], ':') {
			out = scheme + "://xxxxx" + rest[at:]
		}
	}
	return queryPassword.ReplaceAllString(out, "${1}xxxxx")
}

// scrubError returns err with every spelling of the DSN's password removed from its message,
// for the errors of a connection that may quote the DSN (pgx's parse errors quote a URL's
// parse error, which quotes the URL). errors.Is and errors.As still see err.
func scrubError(err error, dsn string) error {
	msg := err.Error()
	scrubbed := msg
	for _, p := range dsnPasswords(dsn) {
		scrubbed = strings.ReplaceAll(scrubbed, p, "xxxxx")
	}
	if scrubbed == msg {
		return err
	}
	return &redactedError{msg: scrubbed, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// dsnPasswords returns the passwords a DSN may carry, raw and decoded, the longest first so
// that a password containing another is replaced whole.
func dsnPasswords(dsn string) []string {
	var ps []string
	add := func(p string) {
		if p == "" {
			return
		}
		ps = append(ps, p)
		if d, err := url.PathUnescape(p); err == nil && d != p {
			ps = append(ps, d)
		}
		if d, err := url.QueryUnescape(p); err == nil && d != p {
			ps = append(ps, d)
		}
	}
	if _, rest, isURL := strings.Cut(dsn, "://"); isURL {
		if at := strings.LastIndexByte(rest, '@'); at >= 0 {
			if _, p, ok := strings.Cut(rest[:at], ":"); ok {
				add(p)
			}
		}
		if u, err := url.Parse(dsn); err == nil {
			if p, ok := u.User.Password(); ok {
				add(p)
			}
		}
		for _, m := range queryPassword.FindAllStringSubmatch(dsn, -1) {
			add(m[2])
		}
	} else {
		for _, m := range kvPassword.FindAllStringSubmatch(dsn, -1) {
			add(m[2])
			if len(m[2]) >= 2 && m[2][0] == '\'' {
				add(strings.ReplaceAll(m[2][1:len(m[2])-1], `\'`, "'"))
			}
		}
	}
	slices.SortStableFunc(ps, func(a, b string) int { return len(b) - len(a) })
	return ps
}
