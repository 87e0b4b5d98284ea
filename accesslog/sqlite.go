package accesslog

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

//go:embed migrations/sqlite/*.sql
var sqliteMigrations embed.FS

// sqliteVersionTable is goose's bookkeeping table. It has its own name so that a program that
// embeds the proxy and keeps its own goose migrations in the same database is not confused.
const sqliteVersionTable = "accesslog_schema_version"

// sqliteParams are the connection settings modernc.org/sqlite applies to every new connection,
// busy_timeout first so that the others wait for a lock instead of failing. The writer's
// connection adds writerParams.
var sqliteParams = url.Values{
	"_pragma":       {"busy_timeout(5000)"},
	"_foreign_keys": {"0"},
	"_journal_mode": {"WAL"},
	"_synchronous":  {"NORMAL"},
}

// writerParams are the settings of the writer's connection beyond sqliteParams.
//
// A page cache of 32 MiB holds a whole batch of ~2 KB rows (about 1.7 MB) with the index pages
// it touches, so that SQLite does not spill dirty pages to the WAL in the middle of the
// transaction; and a checkpoint every 8192 pages (32 MiB of WAL, against SQLite's default of
// 1000) writes each index page modified by several batches once, and syncs less often.
// Together they cut the CPU time per row by about 40% in BenchmarkSQLiteInsertRandomIDs.
//
// auto_vacuum=INCREMENTAL takes effect in a new database, where the driver applies it before
// anything else creates the file's first page: the pages that Prune frees can then be given
// back to the file system (see Vacuum for older files). Only the writer sets it, since setting
// it takes a write lock.
//
// BEGIN IMMEDIATE (_txlock) takes the write lock at the start of each transaction, so a
// transaction never fails half-way when another process holds the lock: it waits busy_timeout
// instead.
var writerParams = url.Values{
	"_pragma":      {"cache_size(-32768)", "wal_autocheckpoint(8192)"},
	"_auto_vacuum": {"INCREMENTAL"},
	"_txlock":      {"immediate"},
}

// SQLiteStore is the Store kept in one SQLite file, the embedded default.
//
// It holds two pools on the same file: a single connection that performs every write, since
// SQLite serialises writers anyway and one connection avoids lock contention between them, and
// a pool of readers, which WAL mode lets run beside the writer.
type SQLiteStore struct {
	writer *sql.DB
	reader *sql.DB
	cols   []Column // custom columns written by Insert

	// insert is prepared on the writer's connection outside any transaction, since that
	// connection is taken while a transaction runs; Insert rebinds it to each transaction.
	insert *sql.Stmt

	selectSQL  string   // SELECT of every column of the table, built-in ones first
	extraNames []string // the non-built-in columns of the table, as selected after the built-ins

	closeOnce sync.Once
	closeErr  error
}

var _ Store = (*SQLiteStore)(nil)

// OpenSQLite opens (creating it when missing) the SQLite database at path, brings its schema up
// to date and adds each custom column the accesslog table lacks.
//
// path is a file name, ":memory:" for a private in-memory database (tests), or a "file:" URI.
// The database runs in WAL mode with synchronous=NORMAL and a busy timeout of five seconds. A
// new database is created in incremental auto-vacuum mode, so that Prune gives the space of
// deleted rows back to the file system; an older one of up to 64 MiB is switched to it with a
// VACUUM at open, a larger one by Vacuum. A database written by the original Python AIProxy
// is adopted: its rows stay and the columns added since are appended to its table.
func OpenSQLite(path string, cols ...Column) (*SQLiteStore, error) {
	cols, err := validateColumns(cols)
	if err != nil {
		return nil, err
	}
	dsn, err := sqliteDSN(path)
	if err != nil {
		return nil, err
	}
	ctx := context.Background()

	s := &SQLiteStore{cols: cols}
	s.writer, err = sql.Open("sqlite", dsn+"&"+writerParams.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite %q: %w", path, err)
	}
	s.writer.SetMaxOpenConns(1)
	s.writer.SetMaxIdleConns(1)
	s.writer.SetConnMaxIdleTime(0)
	s.writer.SetConnMaxLifetime(0)
	if err := s.writer.PingContext(ctx); err != nil {
		s.writer.Close()
		return nil, fmt.Errorf("open sqlite %q: %w", path, err)
	}

	if err := s.migrate(ctx); err != nil {
		s.writer.Close()
		return nil, err
	}
	if !isMemoryPath(path) {
		s.adoptAutoVacuum(ctx)
	}

	if isMemoryPath(path) {
		// Each connection to a memory database is a database of its own: readers must share
		// the writer.
		s.reader = s.writer
	} else {
		s.reader, err = sql.Open("sqlite", dsn)
		if err != nil {
			s.writer.Close()
			return nil, fmt.Errorf("open sqlite %q: %w", path, err)
		}
		n := max(4, runtime.GOMAXPROCS(0))
		s.reader.SetMaxOpenConns(n)
		s.reader.SetMaxIdleConns(n)
	}
	if s.insert, err = s.writer.PrepareContext(ctx, insertSQL(s.cols)); err != nil {
		s.Close()
		return nil, fmt.Errorf("prepare insert: %w", err)
	}
	return s, nil
}

// adoptMaxBytes is the largest database without auto-vacuum that OpenSQLite converts, with a
// VACUUM that takes about a second at this size; a larger one waits for an explicit Vacuum
// (aiproxy prune --vacuum).
const adoptMaxBytes = 64 << 20

// adoptAutoVacuum switches a small database created without auto-vacuum (by an older version,
// or the original Python AIProxy) to incremental auto-vacuum. It is best effort: when another
// process holds the database, the next start tries again.
func (s *SQLiteStore) adoptAutoVacuum(ctx context.Context) {
	var mode, pages, size int64
	if err := s.writer.QueryRowContext(ctx, "PRAGMA auto_vacuum").Scan(&mode); err != nil || mode != 0 {
		return
	}
	if err := s.writer.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		return
	}
	if err := s.writer.QueryRowContext(ctx, "PRAGMA page_size").Scan(&size); err != nil || pages*size > adoptMaxBytes {
		return
	}
	s.Vacuum(ctx)
}

func isMemoryPath(path string) bool {
	return path == ":memory:" || strings.HasPrefix(path, "file::memory:") ||
		strings.HasPrefix(path, "file:") && strings.Contains(path, "mode=memory")
}

// sqliteDSN turns a path into a modernc.org/sqlite data source name carrying the pragmas.
func sqliteDSN(path string) (string, error) {
	if path == "" {
		return "", errors.New("sqlite: empty database path")
	}
	q := sqliteParams.Encode()
	switch {
	case strings.HasPrefix(path, "file:"):
		if strings.Contains(path, "?") {
			return path + "&" + q, nil
		}
		return path + "?" + q, nil
	case strings.Contains(path, "?"):
		// The driver cuts a plain path at its first '?'.
		return "", fmt.Errorf("sqlite: path %q contains '?': use a file: URI", path)
	default:
		return path + "?" + q, nil
	}
}

// migrate runs the embedded migrations and adds the missing custom columns.
func (s *SQLiteStore) migrate(ctx context.Context) error {
	fsys, err := fs.Sub(sqliteMigrations, "migrations/sqlite")
	if err != nil {
		return fmt.Errorf("sqlite migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, s.writer, fsys,
		goose.WithTableName(sqliteVersionTable),
		goose.WithDisableGlobalRegistry(true),
		// The migrations are independent of each other: a database that has a later one
		// already (from a development build) still gets an earlier one it lacks.
		goose.WithAllowOutofOrder(true),
	)
	if err != nil {
		return fmt.Errorf("sqlite migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("sqlite migrations: %w", err)
	}

	have, err := s.tableColumns(ctx)
	if err != nil {
		return err
	}
	for _, c := range s.cols {
		if have[strings.ToLower(c.Name)] {
			continue
		}
		stmt := fmt.Sprintf("ALTER TABLE accesslog ADD COLUMN %s %s", quoteIdent(c.Name), c.Type)
		if _, err := s.writer.ExecContext(ctx, stmt); err != nil {
			// Another process opening the same file may have added it in the meantime.
			again, err2 := s.tableColumns(ctx)
			if err2 != nil || !again[strings.ToLower(c.Name)] {
				return fmt.Errorf("add custom column %q: %w", c.Name, err)
			}
		}
	}

	// Every column of the table is read back, custom columns of earlier configurations too.
	rows, err := s.writer.QueryContext(ctx, "SELECT name FROM pragma_table_info('accesslog') ORDER BY cid")
	if err != nil {
		return fmt.Errorf("read accesslog columns: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return fmt.Errorf("read accesslog columns: %w", err)
		}
		if name != "id" && !isBuiltinColumn(name) {
			s.extraNames = append(s.extraNames, name)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read accesslog columns: %w", err)
	}
	s.selectSQL = selectSQL(s.extraNames)
	return nil
}

// tableColumns returns the lower-cased names of the accesslog table's columns.
func (s *SQLiteStore) tableColumns(ctx context.Context) (map[string]bool, error) {
	rows, err := s.writer.QueryContext(ctx, "SELECT name FROM pragma_table_info('accesslog')")
	if err != nil {
		return nil, fmt.Errorf("read accesslog columns: %w", err)
	}
	defer rows.Close()
	have := make(map[string]bool)
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("read accesslog columns: %w", err)
		}
		have[strings.ToLower(name)] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read accesslog columns: %w", err)
	}
	return have, nil
}

// DB returns the pool of read connections, for queries of the log (tests, dashboards, reports).
// Writes through it work but contend with the store's own writer for the file's lock.
func (s *SQLiteStore) DB() *sql.DB { return s.reader }

// Insert stores the records in one transaction: all of them or, on error, none.
func (s *SQLiteStore) Insert(ctx context.Context, recs []*Record) error {
	return s.insertBatch(ctx, "", recs)
}

// InsertBatch stores the records in one transaction under batchID, unless a batch with that
// id was stored before: then it stores nothing and returns nil.
func (s *SQLiteStore) InsertBatch(ctx context.Context, batchID string, recs []*Record) error {
	if batchID == "" {
		return errors.New("sqlite insert: empty batch id")
	}
	return s.insertBatch(ctx, batchID, recs)
}

func (s *SQLiteStore) insertBatch(ctx context.Context, batchID string, recs []*Record) error {
	if len(recs) == 0 {
		return nil
	}
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite insert: begin: %w", err)
	}
	if batchID != "" {
		res, err := tx.ExecContext(ctx, `INSERT INTO accesslog_batches (batch_id, created_at, row_count)
			VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, batchID, timeArg(time.Now()), len(recs))
		if err == nil {
			var n int64
			if n, err = res.RowsAffected(); err == nil && n == 0 {
				// Stored before: by an attempt whose commit went through unseen.
				return tx.Rollback()
			}
		}
		if err != nil {
			tx.Rollback()
			return fmt.Errorf("sqlite insert: batch id: %w", err)
		}
	}
	if err := s.insertRows(ctx, tx, recs); err != nil {
		tx.Rollback()
		return fmt.Errorf("sqlite insert: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite insert: commit: %w", err)
	}
	return nil
}

// batchStored reports whether a batch with the id was stored.
func (s *SQLiteStore) batchStored(ctx context.Context, batchID string) (bool, error) {
	var n int
	err := s.writer.QueryRowContext(ctx, "SELECT COUNT(*) FROM accesslog_batches WHERE batch_id = ?", batchID).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("sqlite batch lookup: %w", err)
	}
	return n > 0, nil
}

// insertRows executes the INSERT prepared at open once per record. BenchmarkSQLiteInsert found
// multi-row INSERT statements (16 to 256 rows each) no faster: the time goes to SQLite's page
// writes, the commit and the WAL checkpoints, not to the statement calls.
func (s *SQLiteStore) insertRows(ctx context.Context, tx *sql.Tx, recs []*Record) error {
	stmt := tx.StmtContext(ctx, s.insert)
	a := rowArgs{args: make([]any, 0, len(insertColumns)+len(s.cols))}
	for _, r := range recs {
		if _, err := stmt.ExecContext(ctx, a.appendInsertArgs(r, s.cols)...); err != nil {
			return err
		}
	}
	return nil
}

// Records returns the rows of one exchange in id order; direction "" selects all of them.
func (s *SQLiteStore) Records(ctx context.Context, requestID, direction string) ([]*Record, error) {
	q := s.selectSQL + " WHERE request_id = ?"
	args := []any{requestID}
	if direction != "" {
		q += " AND direction = ?"
		args = append(args, direction)
	}
	q += " ORDER BY id"
	rows, err := s.reader.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite records: %w", err)
	}
	defer rows.Close()
	var recs []*Record
	for rows.Next() {
		r, err := scanRecord(rows, s.extraNames)
		if err != nil {
			return nil, fmt.Errorf("sqlite records: %w", err)
		}
		recs = append(recs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite records: %w", err)
	}
	return recs, nil
}

// Close releases the store's connections. It is safe to call more than once.
func (s *SQLiteStore) Close() error {
	s.closeOnce.Do(func() {
		if s.insert != nil {
			s.insert.Close()
		}
		// Keeps the query planner's statistics fresh, as SQLite recommends before closing.
		s.writer.Exec("PRAGMA optimize")
		var errs []error
		if s.reader != nil && s.reader != s.writer {
			errs = append(errs, s.reader.Close())
		}
		errs = append(errs, s.writer.Close())
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("close sqlite: %w", err)
		}
	})
	return s.closeErr
}
