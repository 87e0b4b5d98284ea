-- The table of the original Python AIProxy, column for column, so that a database it wrote is
-- adopted as it is: IF NOT EXISTS leaves an existing table and its rows alone.

-- +goose Up
CREATE TABLE IF NOT EXISTS accesslog (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id        TEXT NOT NULL,
    created_at        DATETIME,
    direction         TEXT,
    status_code       INTEGER,
    content           TEXT,
    function_call     TEXT,
    tool_calls        TEXT,
    raw_body          TEXT,
    raw_headers       TEXT,
    model             TEXT,
    prompt_tokens     INTEGER,
    completion_tokens INTEGER,
    request_time      REAL,
    request_time_api  REAL
);
CREATE INDEX IF NOT EXISTS ix_accesslog_request_id ON accesslog (request_id);
CREATE INDEX IF NOT EXISTS ix_accesslog_created_at ON accesslog (created_at);

-- +goose Down
DROP INDEX IF EXISTS ix_accesslog_created_at;
DROP INDEX IF EXISTS ix_accesslog_request_id;
DROP TABLE IF EXISTS accesslog;
