package accesslog

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Pruner is implemented by the stores that can remove old rows.
type Pruner interface {
	// Prune deletes the rows created before cutoff and returns how many went.
	Prune(ctx context.Context, cutoff time.Time) (int64, error)
	// PruneContent blanks the bodies, headers and texts of rows created before cutoff,
	// keeping their counts, tokens, times and cost, and returns how many rows changed.
	PruneContent(ctx context.Context, cutoff time.Time) (int64, error)
}

var (
	_ Pruner = (*SQLiteStore)(nil)
	_ Pruner = (*PostgresStore)(nil)
)

// pruneBatch bounds one statement, so a large prune never holds the database for long and
// inserts go on between batches.
const pruneBatch = 5000

const (
	pruneSQL = `DELETE FROM accesslog WHERE id IN (SELECT id FROM accesslog WHERE created_at < %s LIMIT %d)`
	blankSQL = `UPDATE accesslog SET content = NULL, raw_body = NULL, raw_headers = NULL, upstream_body = NULL,
function_call = NULL, tool_calls = NULL WHERE id IN (SELECT id FROM accesslog WHERE created_at < %s
AND (content IS NOT NULL OR raw_body IS NOT NULL OR raw_headers IS NOT NULL OR upstream_body IS NOT NULL
OR function_call IS NOT NULL OR tool_calls IS NOT NULL) LIMIT %d)`
)

// Prune deletes the rows created before cutoff, with the ids of the batches stored before
// it, and gives the freed pages back to the file system when the file is in incremental
// auto-vacuum mode, as every database this store creates is (see Vacuum for older files).
func (s *SQLiteStore) Prune(ctx context.Context, cutoff time.Time) (int64, error) {
	at := cutoff.UTC().Format(TimeLayout)
	n, err := inBatches(ctx, s.writer, fmt.Sprintf(pruneSQL, "?", pruneBatch), at)
	if err != nil {
		return n, err
	}
	if _, err := s.writer.ExecContext(ctx, `DELETE FROM accesslog_batches WHERE created_at < ?`, at); err != nil {
		return n, fmt.Errorf("prune access log batch ids: %w", err)
	}
	return n, s.releasePages(ctx)
}

// PruneContent blanks the bodies and texts of rows created before cutoff, and gives the freed
// pages back to the file system as Prune does.
func (s *SQLiteStore) PruneContent(ctx context.Context, cutoff time.Time) (int64, error) {
	n, err := inBatches(ctx, s.writer, fmt.Sprintf(blankSQL, "?", pruneBatch), cutoff.UTC().Format(TimeLayout))
	if err != nil {
		return n, err
	}
	return n, s.releasePages(ctx)
}

// Vacuumer is implemented by the stores whose file can be compacted after a prune.
type Vacuumer interface {
	// Vacuum rebuilds the database so that the space of deleted rows goes back to the file
	// system. It may take long on a large database and blocks writers meanwhile.
	Vacuum(ctx context.Context) error
}

var _ Vacuumer = (*SQLiteStore)(nil)

// releaseStep bounds one incremental_vacuum statement, so that inserts go on between steps.
const releaseStep = 2048

// releasePages moves the free pages of an incremental auto-vacuum database to the end of the
// file and truncates it; in any other mode it changes nothing. The truncation reaches the
// file at the WAL checkpoint that ends it.
func (s *SQLiteStore) releasePages(ctx context.Context) error {
	var mode int
	if err := s.writer.QueryRowContext(ctx, "PRAGMA auto_vacuum").Scan(&mode); err != nil {
		return fmt.Errorf("sqlite auto_vacuum mode: %w", err)
	}
	if mode != 2 { // 2 is INCREMENTAL
		return nil
	}
	for {
		var free int64
		if err := s.writer.QueryRowContext(ctx, "PRAGMA freelist_count").Scan(&free); err != nil {
			return fmt.Errorf("sqlite freelist: %w", err)
		}
		if free == 0 {
			break
		}
		if _, err := s.writer.ExecContext(ctx, fmt.Sprintf("PRAGMA incremental_vacuum(%d)", releaseStep)); err != nil {
			return fmt.Errorf("sqlite incremental vacuum: %w", err)
		}
	}
	return s.checkpoint(ctx)
}

// checkpoint copies the WAL into the database file and empties it; readers that are still
// busy leave it partly done, which is no error.
func (s *SQLiteStore) checkpoint(ctx context.Context) error {
	if _, err := s.writer.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return fmt.Errorf("sqlite checkpoint: %w", err)
	}
	return nil
}

// Vacuum rebuilds the database file without the space of deleted rows, and switches a file
// that an older version or the original Python AIProxy created to incremental auto-vacuum, so
// that later prunes give space back by themselves. It needs as much free disk space as the
// database takes, and no other process may write meanwhile.
func (s *SQLiteStore) Vacuum(ctx context.Context) error {
	if _, err := s.writer.ExecContext(ctx, "PRAGMA auto_vacuum = INCREMENTAL"); err != nil {
		return fmt.Errorf("sqlite vacuum: %w", err)
	}
	if _, err := s.writer.ExecContext(ctx, "VACUUM"); err != nil {
		return fmt.Errorf("sqlite vacuum: %w", err)
	}
	return s.checkpoint(ctx)
}

// Prune deletes the rows created before cutoff, with the ids of the batches stored before it.
func (s *PostgresStore) Prune(ctx context.Context, cutoff time.Time) (int64, error) {
	n, err := inBatches(ctx, s.db, fmt.Sprintf(pruneSQL, "$1", pruneBatch), cutoff.UTC())
	if err != nil {
		return n, err
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM accesslog_batches WHERE created_at < $1`, cutoff.UTC()); err != nil {
		return n, fmt.Errorf("prune access log batch ids: %w", err)
	}
	return n, nil
}

// PruneContent blanks the bodies and texts of rows created before cutoff.
func (s *PostgresStore) PruneContent(ctx context.Context, cutoff time.Time) (int64, error) {
	return inBatches(ctx, s.db, fmt.Sprintf(blankSQL, "$1", pruneBatch), cutoff.UTC())
}

// inBatches runs query until it affects no more rows.
func inBatches(ctx context.Context, db *sql.DB, query string, arg any) (int64, error) {
	var total int64
	for {
		res, err := db.ExecContext(ctx, query, arg)
		if err != nil {
			return total, fmt.Errorf("prune access log: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("prune access log: %w", err)
		}
		total += n
		if n == 0 {
			return total, nil
		}
	}
}
