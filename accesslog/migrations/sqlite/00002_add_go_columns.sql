-- The columns AIProxy for Go logs beyond the original's fifteen.

-- +goose Up
ALTER TABLE accesslog ADD COLUMN provider TEXT;
ALTER TABLE accesslog ADD COLUMN endpoint TEXT;
ALTER TABLE accesslog ADD COLUMN stream BOOLEAN;
ALTER TABLE accesslog ADD COLUMN "user" TEXT;
ALTER TABLE accesslog ADD COLUMN client_key TEXT;
ALTER TABLE accesslog ADD COLUMN upstream_request_id TEXT;
ALTER TABLE accesslog ADD COLUMN time_to_first_token REAL;
ALTER TABLE accesslog ADD COLUMN cached_tokens INTEGER;
ALTER TABLE accesslog ADD COLUMN reasoning_tokens INTEGER;
ALTER TABLE accesslog ADD COLUMN tokens_estimated BOOLEAN;
ALTER TABLE accesslog ADD COLUMN cost_usd REAL;
ALTER TABLE accesslog ADD COLUMN chunk_times TEXT;
ALTER TABLE accesslog ADD COLUMN upstream_body TEXT;
CREATE INDEX IF NOT EXISTS ix_accesslog_model_created_at ON accesslog (model, created_at);

-- +goose Down
DROP INDEX IF EXISTS ix_accesslog_model_created_at;
ALTER TABLE accesslog DROP COLUMN upstream_body;
ALTER TABLE accesslog DROP COLUMN chunk_times;
ALTER TABLE accesslog DROP COLUMN cost_usd;
ALTER TABLE accesslog DROP COLUMN tokens_estimated;
ALTER TABLE accesslog DROP COLUMN reasoning_tokens;
ALTER TABLE accesslog DROP COLUMN cached_tokens;
ALTER TABLE accesslog DROP COLUMN time_to_first_token;
ALTER TABLE accesslog DROP COLUMN upstream_request_id;
ALTER TABLE accesslog DROP COLUMN client_key;
ALTER TABLE accesslog DROP COLUMN "user";
ALTER TABLE accesslog DROP COLUMN stream;
ALTER TABLE accesslog DROP COLUMN endpoint;
ALTER TABLE accesslog DROP COLUMN provider;
