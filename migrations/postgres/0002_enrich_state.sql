-- PostgreSQL text of migration 2 (the SQLite text is ../0002_enrich_state.sql). One numbered
-- history for every store backend: the same tables, columns and keys, in each
-- dialect (INTEGER → BIGINT, BLOB → BYTEA, REAL → DOUBLE PRECISION, no WITHOUT
-- ROWID). tests/it/migrations.rs applies both and compares the schemas.

-- State of the stateful enrichers, shared by every worker (see src/enrich/state.rs).

-- Dedup: one fingerprint per item. `first_id` is the first occurrence it repeats
-- (itself when unique); `features` are the sorted u64 feature hashes (little-endian)
-- for the exact Jaccard check, kept for first occurrences only (duplicates are never
-- candidates); dedup_bands holds the MinHash LSH band keys.
-- Keyed by (seen_at, content_id): items arrive roughly in time order, so inserts land
-- on the right edge of the tree instead of on a random page each (a random key per
-- item per table multiplied the pages every item wrote). seen_at is the item's own
-- happened_at, so a replay finds its row by the same key.
CREATE TABLE dedup_fingerprints (
    seen_at    BIGINT NOT NULL,     -- the item's happened_at, unix ms
    content_id TEXT NOT NULL,
    exact_hash BIGINT NOT NULL,
    features   BYTEA NOT NULL,
    first_id   TEXT NOT NULL,
    kind       TEXT NOT NULL,        -- unique | exact | near
    similarity DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (seen_at, content_id)
);
CREATE INDEX dedup_exact ON dedup_fingerprints (exact_hash, seen_at);

-- Only first occurrences are indexed: a duplicate's own near duplicates are found
-- through the item it repeats, and a hot story stays one row per band.
CREATE TABLE dedup_bands (
    band       BIGINT NOT NULL,
    seen_at    BIGINT NOT NULL,
    content_id TEXT NOT NULL,
    PRIMARY KEY (band, seen_at, content_id)
);

-- Engagement counts each time an item was seen (Reddit refresh, X metrics), with the
-- previous observation as it stood when this one was recorded (prev_at NULL = none),
-- so a replay computes the same velocity.
CREATE TABLE engagement_observations (
    content_id    TEXT NOT NULL,
    observed_at   BIGINT NOT NULL,  -- unix ms
    score         BIGINT,
    comments      BIGINT,
    prev_at       BIGINT,
    prev_score    BIGINT,
    prev_comments BIGINT,
    PRIMARY KEY (content_id, observed_at)
);

-- Which items mention which ticker, by hour: mention velocity and its baseline. The
-- statistics as first computed are kept with the row, so a replay reads them back
-- instead of counting mentions that arrived later.
CREATE TABLE ticker_mentions (
    ticker     TEXT NOT NULL,
    hour       BIGINT NOT NULL,     -- unix seconds / 3600 of the item's happened_at
    content_id TEXT NOT NULL,
    this_hour  BIGINT NOT NULL,
    mean       DOUBLE PRECISION NOT NULL,
    std        DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (ticker, hour, content_id)
);

-- Running count per ticker and hour (the baseline reads at most one row per hour).
CREATE TABLE ticker_mention_hours (
    ticker TEXT NOT NULL,
    hour   BIGINT NOT NULL,
    count  BIGINT NOT NULL,
    PRIMARY KEY (ticker, hour)
);
