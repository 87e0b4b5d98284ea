-- The dashboard's overview aggregates the one row per exchange that carries its outcome (the
-- response or error row) over a range of created_at. This partial index holds exactly those
-- rows, ordered by created_at, with every column the overview reads, so that SQLite answers
-- from the index alone instead of reading the table's pages, which are mostly bodies. On a
-- million-row log it made a day's overview 2.5 times and a month's 1.9 times faster
-- (BenchmarkOverview in package dashboard). A query uses it when its WHERE has the same
-- direction term.

-- +goose Up
CREATE INDEX IF NOT EXISTS ix_accesslog_exchanges ON accesslog (
    created_at, direction, status_code, model, provider, "user", client_key,
    prompt_tokens, completion_tokens, cost_usd, request_time, request_time_api, time_to_first_token
) WHERE direction IN ('response', 'error');

-- +goose Down
DROP INDEX IF EXISTS ix_accesslog_exchanges;
