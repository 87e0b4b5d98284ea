package dashboard

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"os"
)

// Storage is the answer of /api/storage.
type Storage struct {
	Dialect  string `json:"dialect"` // "sqlite" or "postgres"
	Database string `json:"database,omitempty"`
	// DatabaseBytes is the size of the whole database: the SQLite database's pages (WALBytes
	// is the size of its write-ahead log file), or the PostgreSQL database. TableBytes is the accesslog table with its indexes and TOAST
	// (PostgreSQL only), IndexBytes its indexes alone.
	DatabaseBytes int64 `json:"database_bytes"`
	WALBytes      int64 `json:"wal_bytes,omitempty"`
	FreeBytes     int64 `json:"free_bytes,omitempty"` // SQLite pages free for reuse
	TableBytes    int64 `json:"table_bytes,omitempty"`
	IndexBytes    int64 `json:"index_bytes,omitempty"`

	Rows      int64  `json:"rows"`
	Responses int64  `json:"responses"`
	Errors    int64  `json:"errors"`
	Requests  int64  `json:"requests"` // the other rows: requests (and any without a direction)
	Oldest    string `json:"oldest,omitempty"`
	Newest    string `json:"newest,omitempty"`

	// Retention and ContentRetention are in seconds; 0 keeps rows or bodies forever.
	RetentionSeconds        int64 `json:"retention_seconds"`
	ContentRetentionSeconds int64 `json:"content_retention_seconds"`
}

// storage answers /api/storage.
func (h *Handler) storage(r *http.Request) (any, error) {
	ctx := r.Context()
	st := &Storage{
		Database:                h.opts.DatabaseLabel,
		RetentionSeconds:        int64(h.opts.Retention.Seconds()),
		ContentRetentionSeconds: int64(h.opts.ContentRetention.Seconds()),
	}
	if err := h.sizes(ctx, st); err != nil {
		return nil, err
	}
	var oldest, newest any
	err := h.db.QueryRowContext(ctx, "SELECT COUNT(*), MIN(created_at), MAX(created_at) FROM accesslog").
		Scan(&st.Rows, &oldest, &newest)
	if err != nil {
		return nil, fmt.Errorf("count rows: %w", err)
	}
	st.Oldest, st.Newest = timeText(oldest), timeText(newest)
	// Counted on the partial index of the exchange rows, not by reading the table.
	rows, err := h.db.QueryContext(ctx, "SELECT direction, COUNT(*) FROM accesslog WHERE "+exchangeRows+" GROUP BY direction")
	if err != nil {
		return nil, fmt.Errorf("count rows: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var dir string
		var n int64
		if err := rows.Scan(&dir, &n); err != nil {
			return nil, fmt.Errorf("count rows: %w", err)
		}
		if dir == "error" {
			st.Errors = n
		} else {
			st.Responses = n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count rows: %w", err)
	}
	st.Requests = st.Rows - st.Responses - st.Errors
	return st, nil
}

func (h *Handler) sizes(ctx context.Context, st *Storage) error {
	if h.d.pg {
		st.Dialect = "postgres"
		err := h.db.QueryRowContext(ctx, `SELECT pg_database_size(current_database()),
pg_total_relation_size('accesslog'), pg_indexes_size('accesslog')`).Scan(&st.DatabaseBytes, &st.TableBytes, &st.IndexBytes)
		if err != nil {
			return fmt.Errorf("database size: %w", err)
		}
		return nil
	}
	st.Dialect = "sqlite"
	var pages, pageSize, free int64
	err := h.db.QueryRowContext(ctx, "SELECT page_count, page_size, freelist_count FROM pragma_page_count(), pragma_page_size(), pragma_freelist_count()").
		Scan(&pages, &pageSize, &free)
	if err != nil {
		return fmt.Errorf("database size: %w", err)
	}
	st.DatabaseBytes, st.FreeBytes = pages*pageSize, free*pageSize
	var file sql.NullString
	if err := h.db.QueryRowContext(ctx, "SELECT file FROM pragma_database_list WHERE name = 'main'").Scan(&file); err != nil {
		return fmt.Errorf("database file: %w", err)
	}
	if file.String != "" {
		if fi, err := os.Stat(file.String + "-wal"); err == nil {
			st.WALBytes = fi.Size()
		}
	}
	return nil
}
