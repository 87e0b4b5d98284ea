-- Hourly rollups of the exchange rows (the response and error rows) for the dashboard's
-- overview, which reads them for the complete hours of a long range instead of scanning every
-- row. The dashboard maintains both tables itself (package dashboard, rollup.go): it recomputes
-- whole hours from the accesslog rows, so a rollup row is a cache that can always be rebuilt,
-- and dropping both tables' rows only makes the next maintenance start over.
--
-- dims says which of the four key columns a row keeps, the others being '': 0 none (one row
-- per hour), 1 model, 2 provider, 4 user, 8 client_key, 15 all four. A key column holds ''
-- where accesslog holds NULL. The *_bins columns are the histograms of request_time and
-- time_to_first_token in the overview's bins, as "bin:count,bin:count" in bin order.
--
-- accesslog_rollup_state is one row: hours before covered_until ("YYYY-MM-DD HH", UTC) are
-- rolled up, and every exchange row of those hours with an id up to rolled_id is in the
-- rollups; seen_id and seen_at (Unix seconds) hold the largest id seen by a maintenance run,
-- which becomes rolled_id once every transaction that drew a smaller id has committed.

-- +goose Up
CREATE TABLE IF NOT EXISTS accesslog_rollup (
    dims                 INTEGER NOT NULL,
    hour                 TEXT    NOT NULL,
    model                TEXT    NOT NULL,
    provider             TEXT    NOT NULL,
    "user"               TEXT    NOT NULL,
    client_key           TEXT    NOT NULL,
    requests             INTEGER NOT NULL,
    client_4xx           INTEGER NOT NULL,
    server_5xx           INTEGER NOT NULL,
    input_tokens         INTEGER,
    output_tokens        INTEGER,
    cost_usd             REAL,
    request_time_sum     REAL,
    request_time_n       INTEGER NOT NULL,
    request_time_api_sum REAL,
    request_time_api_n   INTEGER NOT NULL,
    ttft_sum             REAL,
    ttft_n               INTEGER NOT NULL,
    request_time_bins    TEXT    NOT NULL,
    ttft_bins            TEXT    NOT NULL,
    PRIMARY KEY (dims, hour, model, provider, "user", client_key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS accesslog_rollup_state (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    covered_until TEXT    NOT NULL,
    rolled_id     INTEGER NOT NULL,
    seen_id       INTEGER NOT NULL,
    seen_at       INTEGER NOT NULL
);
INSERT INTO accesslog_rollup_state (id, covered_until, rolled_id, seen_id, seen_at)
    VALUES (1, '', 0, 0, 0) ON CONFLICT (id) DO NOTHING;

-- +goose Down
DROP TABLE IF EXISTS accesslog_rollup_state;
DROP TABLE IF EXISTS accesslog_rollup;
