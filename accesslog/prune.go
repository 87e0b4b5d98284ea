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

// Prune deletes the rows created before cutoff.
func (s *SQLiteStore) Prune(ctx context.Context, cutoff time.Time) (int64, error) {
	return inBatches(ctx, s.writer, fmt.Sprintf(pruneSQL, "?", pruneBatch), cutoff.UTC().Format(TimeLayout))
}

// PruneContent blanks the bodies and texts of rows created before cutoff.
func (s *SQLiteStore) PruneContent(ctx context.Context, cutoff time.Time) (int64, error) {
	return inBatches(ctx, s.writer, fmt.Sprintf(blankSQL, "?", pruneBatch), cutoff.UTC().Format(TimeLayout))
}

// Prune deletes the rows created before cutoff.
func (s *PostgresStore) Prune(ctx context.Context, cutoff time.Time) (int64, error) {
	return inBatches(ctx, s.db, fmt.Sprintf(pruneSQL, "$1", pruneBatch), cutoff.UTC())
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
