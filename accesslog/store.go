package accesslog

import "context"

// Store persists batches of records and answers the few queries the proxy itself needs.
// Implementations must be safe for concurrent use.
type Store interface {
	// Insert stores the records in one transaction. Either all are stored or none is.
	Insert(ctx context.Context, recs []*Record) error
	// Records returns the rows of one exchange in id order, with the given direction
	// ("" for all of them).
	Records(ctx context.Context, requestID, direction string) ([]*Record, error)
	// Close releases the store.
	Close() error
}

// ColumnType is the SQL type of a custom column.
type ColumnType string

// Column types usable for custom columns on every store.
const (
	Text    ColumnType = "TEXT"
	Integer ColumnType = "INTEGER"
	Real    ColumnType = "REAL"
)

// Column is an extra column of the access log, computed from each record by the writer.
// The column is added to the table at start-up when it is missing.
type Column struct {
	Name  string
	Type  ColumnType
	Value func(r *Record) any // nil result stores NULL
}
