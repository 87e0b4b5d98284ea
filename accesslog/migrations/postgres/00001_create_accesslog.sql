-- The table of the original Python AIProxy, column for column, in the types SQLAlchemy gave it
-- on PostgreSQL, so that a database it wrote is adopted as it is: IF NOT EXISTS leaves an
-- existing table and its rows alone. Two choices differ from SQLAlchemy's for new tables: id is
-- a BIGSERIAL, since several instances may share the table for years, and created_at is a
-- timestamptz, an instant whatever the session's TimeZone. (An adopted table keeps its
-- "timestamp without time zone" holding UTC, which the store writes and reads as UTC too.)

-- +goose Up
CREATE TABLE IF NOT EXISTS accesslog (
    id                BIGSERIAL PRIMARY KEY,
    request_id        TEXT NOT NULL,
    created_at        TIMESTAMPTZ,
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
    request_time      DOUBLE PRECISION,
    request_time_api  DOUBLE PRECISION
);
CREATE INDEX IF NOT EXISTS ix_accesslog_request_id ON accesslog (request_id);
CREATE INDEX IF NOT EXISTS ix_accesslog_created_at ON accesslog (created_at);

-- +goose Down
DROP INDEX IF EXISTS ix_accesslog_created_at;
DROP INDEX IF EXISTS ix_accesslog_request_id;
DROP TABLE IF EXISTS accesslog;
