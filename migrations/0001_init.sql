-- sigflow schema, migration 1. One numbered history for every store backend.
-- Times are INTEGER microseconds since the Unix epoch (UTC).

-- Embedded event log: used when `log = "embedded"`, so that log appends, stage
-- results and consumer offsets commit in one SQLite transaction.
CREATE TABLE log_topics (
    name         TEXT PRIMARY KEY,
    id           INTEGER NOT NULL UNIQUE,  -- small number packed into record positions
    partitions   INTEGER NOT NULL,
    retention_us INTEGER NOT NULL,
    created_at   INTEGER NOT NULL
);

-- Next offset to hand out per partition. Kept apart from the records so that
-- retention can delete records without ever reusing an offset.
CREATE TABLE log_heads (
    topic       TEXT NOT NULL,
    partition   INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition)
);

-- One row per record. `pos` packs (topic id << 52 | partition << 40 | offset), so the
-- table's own b-tree is the index: a partition is one contiguous key range, appends go
-- to its end, and no secondary index has to be maintained on the hot path.
CREATE TABLE log_records (
    pos   INTEGER PRIMARY KEY,
    ts    INTEGER NOT NULL,             -- append time; non-decreasing within a partition
    key   BLOB,
    value BLOB NOT NULL
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
    partition   INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (grp, topic, partition)
);

-- Source cursors (since_id, after, last file, …), committed with the raw events they led to.
CREATE TABLE source_cursors (
    source     TEXT PRIMARY KEY,
    cursor     TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE contents (
    id           TEXT PRIMARY KEY,
    source       TEXT NOT NULL,
    source_id    TEXT NOT NULL,
    author       TEXT,
    content_type TEXT NOT NULL,
    happened_at  INTEGER NOT NULL,
    disclosed_at INTEGER,
    observed_at  INTEGER NOT NULL,   -- first observation; re-harvests keep the earliest
    harvested_at INTEGER NOT NULL,   -- observation time of the harvest `doc` comes from (the latest)
    stored_at    INTEGER NOT NULL,   -- first commit; the end of ingest->stored latency
    updated_at   INTEGER NOT NULL,   -- last commit that changed `doc`
    lake_key     TEXT NOT NULL,
    doc          TEXT NOT NULL       -- the full enriched Content as JSON
);
CREATE INDEX contents_time ON contents (happened_at DESC, id DESC);
CREATE INDEX contents_source_time ON contents (source, happened_at DESC, id DESC);

CREATE TABLE content_tickers (
    ticker      TEXT NOT NULL,
    content_id  TEXT NOT NULL,
    happened_at INTEGER NOT NULL,
    PRIMARY KEY (ticker, happened_at, content_id)
);

-- Dead letters. The id is derived from (stage, topic, partition, offset, item), so
-- re-processing the same input never adds a second row for the same failure.
CREATE TABLE dlq (
    id           TEXT PRIMARY KEY,
    stage        TEXT NOT NULL,
    topic        TEXT NOT NULL,
    partition    INTEGER NOT NULL,
    "offset"     INTEGER NOT NULL,
    item_index   INTEGER,
    key          BLOB,
    payload      BLOB NOT NULL,      -- the input record, replayable as is
    detail       TEXT,               -- the offending item, when one item of a payload failed
    error        TEXT NOT NULL,
    error_class  TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    replayed_at  INTEGER,
    replay_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX dlq_created ON dlq (created_at DESC);
