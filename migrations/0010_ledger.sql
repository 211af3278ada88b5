-- sigflow schema, migration 10: the sealed prediction ledger and the LLM budget
-- (src/store/repos/predictions.rs, llm_usage.rs; the hash chain: analyze/ledger.rs).
-- A prediction is never changed or removed: the triggers below refuse it, whoever
-- asks. A correction is a new row naming the one it supersedes.
CREATE TABLE predictions (
    id          TEXT PRIMARY KEY,  -- UUIDv5 of (content, analyzer, version, asset, shadow)
    chain       TEXT NOT NULL,     -- the hash chain it belongs to (the stage's partition)
    seq         INTEGER NOT NULL,  -- its place in the chain, from 1
    content_id  TEXT NOT NULL,
    analyzer    TEXT NOT NULL,     -- rules | llm
    version     TEXT NOT NULL,     -- rule-set version, or model@prompt version
    asset       TEXT NOT NULL,     -- '' for an abstention
    direction   TEXT NOT NULL,     -- bullish | bearish | neutral | abstain
    confidence  REAL NOT NULL,
    shadow      INTEGER NOT NULL,
    source      TEXT NOT NULL,
    rules       TEXT NOT NULL,     -- '|a|b|': the matching rules, for the `rule` filter
    sealed_at   INTEGER NOT NULL,  -- µs since epoch
    knowable_at INTEGER NOT NULL,  -- µs: max(sealed_at, disclosed_at or happened_at)
    supersedes  TEXT,              -- the earlier prediction of the same item and asset
    body        TEXT NOT NULL,     -- the canonical JSON that is hashed
    prev_hash   TEXT NOT NULL,     -- the previous row's row_hash ('' for seq 1)
    row_hash    TEXT NOT NULL,
    UNIQUE (chain, seq)
);
CREATE INDEX predictions_sealed ON predictions (sealed_at, id);
CREATE INDEX predictions_asset ON predictions (asset, sealed_at, id);
CREATE INDEX predictions_content ON predictions (content_id, asset, shadow);
CREATE TRIGGER predictions_no_update BEFORE UPDATE ON predictions
BEGIN
    SELECT RAISE(ABORT, 'the prediction ledger is append-only: rows are never updated');
END;
CREATE TRIGGER predictions_no_delete BEFORE DELETE ON predictions
BEGIN
    SELECT RAISE(ABORT, 'the prediction ledger is append-only: rows are never deleted');
END;

-- What the LLM analyst spent per UTC day (budgets).
CREATE TABLE llm_usage (
    day      TEXT PRIMARY KEY,     -- YYYY-MM-DD (UTC)
    requests INTEGER NOT NULL,
    tokens   INTEGER NOT NULL
);
