-- The ids of the batches stored so far, one row each, written in the batch's own transaction.
-- The log writer gives every batch an id and spills a batch it could not store to a local file;
-- when it stores the batch again (a retry, or a replay of the spill after the database is back
-- or after a restart), a batch whose id is here already is skipped. So a batch whose first
-- commit went through although the writer saw an error is never stored twice, and the rows of
-- the access log themselves need no unique key. Pruning removes the ids with the rows.

-- +goose Up
CREATE TABLE IF NOT EXISTS accesslog_batches (
    batch_id   TEXT PRIMARY KEY,
    created_at DATETIME NOT NULL,
    row_count  INTEGER NOT NULL
) WITHOUT ROWID;

-- +goose Down
DROP TABLE IF EXISTS accesslog_batches;
