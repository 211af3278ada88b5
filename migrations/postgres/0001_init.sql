-- PostgreSQL text of migration 1 (the SQLite text is ../0001_init.sql). One numbered
-- history for every store backend: the same tables, columns and keys, in each
-- dialect (INTEGER → BIGINT, BLOB → BYTEA, REAL → DOUBLE PRECISION, no WITHOUT
-- ROWID). tests/it/migrations.rs applies both and compares the schemas.

-- sigflow schema, migration 1. One numbered history for every store backend.
-- Times are BIGINT microseconds since the Unix epoch (UTC).

-- Embedded event log: used when `log = "embedded"`, so that log appends, stage
-- results and consumer offsets commit in one SQLite transaction.
CREATE TABLE log_topics (
    name         TEXT PRIMARY KEY,
    id           BIGINT NOT NULL UNIQUE,  -- small number packed into record positions
    partitions   BIGINT NOT NULL,
    retention_us BIGINT NOT NULL,
    created_at   BIGINT NOT NULL
);

-- Next offset to hand out per partition. Kept apart from the records so that
-- retention can delete records without ever reusing an offset.
CREATE TABLE log_heads (
    topic       TEXT NOT NULL,
    partition   BIGINT NOT NULL,
    next_offset BIGINT NOT NULL,
    PRIMARY KEY (topic, partition)
);

-- One row per record. `pos` packs (topic id << 52 | partition << 40 | offset), so the
-- table's own b-tree is the index: a partition is one contiguous key range, appends go
-- to its end, and no secondary index has to be maintained on the hot path.
CREATE TABLE log_records (
    pos   BIGINT PRIMARY KEY,
    ts    BIGINT NOT NULL,             -- append time; non-decreasing within a partition
    key   BYTEA,
    value BYTEA NOT NULL
);

-- The same records with their position unpacked, for people and for tools.
CREATE VIEW log AS
SELECT t.name AS topic, (r.pos >> 40) & 4095 AS partition, r.pos & 1099511627775 AS "offset",
       r.ts, r.key, r.value
FROM log_records r JOIN log_topics t ON t.id = (r.pos >> 52);

-- Consumer offsets of every stage, for every log backend. They live in the store so
-- that a stage's results and its input position commit together.
CREATE TABLE consumer_offsets (
    grp         TEXT NOT NULL,
    topic       TEXT NOT NULL,
    partition   BIGINT NOT NULL,
    next_offset BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (grp, topic, partition)
);

-- Source cursors (since_id, after, last file, …), committed with the raw events they led to.
CREATE TABLE source_cursors (
    source     TEXT PRIMARY KEY,
    cursor     TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE contents (
    id           TEXT PRIMARY KEY,
    source       TEXT NOT NULL,
    source_id    TEXT NOT NULL,
    author       TEXT,
    content_type TEXT NOT NULL,
    happened_at  BIGINT NOT NULL,
    disclosed_at BIGINT,
    observed_at  BIGINT NOT NULL,   -- first observation; re-harvests keep the earliest
    harvested_at BIGINT NOT NULL,   -- observation time of the harvest `doc` comes from (the latest)
    stored_at    BIGINT NOT NULL,   -- first commit; the end of ingest->stored latency
    updated_at   BIGINT NOT NULL,   -- last commit that changed `doc`
    lake_key     TEXT NOT NULL,
    doc          TEXT NOT NULL       -- the full enriched Content as JSON
);
CREATE INDEX contents_time ON contents (happened_at DESC, id DESC);
CREATE INDEX contents_source_time ON contents (source, happened_at DESC, id DESC);

CREATE TABLE content_tickers (
    ticker      TEXT NOT NULL,
    content_id  TEXT NOT NULL,
    happened_at BIGINT NOT NULL,
    PRIMARY KEY (ticker, happened_at, content_id)
);

-- Dead letters. The id is derived from (stage, topic, partition, offset, item), so
-- re-processing the same input never adds a second row for the same failure.
CREATE TABLE dlq (
    id           TEXT PRIMARY KEY,
    stage        TEXT NOT NULL,
    topic        TEXT NOT NULL,
    partition    BIGINT NOT NULL,
    "offset"     BIGINT NOT NULL,
    item_index   BIGINT,
    key          BYTEA,
    payload      BYTEA NOT NULL,      -- the input record, replayable as is
    detail       TEXT,               -- the offending item, when one item of a payload failed
    error        TEXT NOT NULL,
    error_class  TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    replayed_at  BIGINT,
    replay_count BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX dlq_created ON dlq (created_at DESC);
