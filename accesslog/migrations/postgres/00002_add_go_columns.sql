-- The columns AIProxy for Go logs beyond the original's fifteen. chunk_times is jsonb: it is
-- always a JSON array of numbers written by the store, and jsonb lets a query use it directly
-- (jsonb_array_length(chunk_times), chunk_times->0, jsonb_array_elements) where the text
-- columns the original had (function_call, tool_calls, raw_headers) need a ::jsonb cast.

-- +goose Up
ALTER TABLE accesslog
    ADD COLUMN IF NOT EXISTS provider            TEXT,
    ADD COLUMN IF NOT EXISTS endpoint            TEXT,
    ADD COLUMN IF NOT EXISTS stream              BOOLEAN,
    ADD COLUMN IF NOT EXISTS "user"              TEXT,
    ADD COLUMN IF NOT EXISTS client_key          TEXT,
    ADD COLUMN IF NOT EXISTS upstream_request_id TEXT,
    ADD COLUMN IF NOT EXISTS time_to_first_token DOUBLE PRECISION,
    ADD COLUMN IF NOT EXISTS cached_tokens       INTEGER,
    ADD COLUMN IF NOT EXISTS reasoning_tokens    INTEGER,
    ADD COLUMN IF NOT EXISTS tokens_estimated    BOOLEAN,
    ADD COLUMN IF NOT EXISTS cost_usd            DOUBLE PRECISION,
    ADD COLUMN IF NOT EXISTS chunk_times         JSONB,
    ADD COLUMN IF NOT EXISTS upstream_body       TEXT;
CREATE INDEX IF NOT EXISTS ix_accesslog_model_created_at ON accesslog (model, created_at);

-- +goose Down
DROP INDEX IF EXISTS ix_accesslog_model_created_at;
ALTER TABLE accesslog
    DROP COLUMN IF EXISTS upstream_body,
    DROP COLUMN IF EXISTS chunk_times,
    DROP COLUMN IF EXISTS cost_usd,
    DROP COLUMN IF EXISTS tokens_estimated,
    DROP COLUMN IF EXISTS reasoning_tokens,
    DROP COLUMN IF EXISTS cached_tokens,
    DROP COLUMN IF EXISTS time_to_first_token,
    DROP COLUMN IF EXISTS upstream_request_id,
    DROP COLUMN IF EXISTS client_key,
    DROP COLUMN IF EXISTS "user",
    DROP COLUMN IF EXISTS stream,
    DROP COLUMN IF EXISTS endpoint,
    DROP COLUMN IF EXISTS provider;
