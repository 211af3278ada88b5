-- PostgreSQL text of migration 10 (the SQLite text is ../0010_ledger.sql): the sealed
-- prediction ledger and the LLM budget. UPDATE, DELETE and TRUNCATE are refused by
-- triggers.
CREATE TABLE predictions (
    id          TEXT PRIMARY KEY,
    chain       TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    content_id  TEXT NOT NULL,
    analyzer    TEXT NOT NULL,
    version     TEXT NOT NULL,
    asset       TEXT NOT NULL,
    direction   TEXT NOT NULL,
    confidence  DOUBLE PRECISION NOT NULL,
    shadow      BIGINT NOT NULL,
    source      TEXT NOT NULL,
    rules       TEXT NOT NULL,
    sealed_at   BIGINT NOT NULL,
    knowable_at BIGINT NOT NULL,
    supersedes  TEXT,
    body        TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    row_hash    TEXT NOT NULL,
    UNIQUE (chain, seq)
);
CREATE INDEX predictions_sealed ON predictions (sealed_at, id);
CREATE INDEX predictions_asset ON predictions (asset, sealed_at, id);
CREATE INDEX predictions_content ON predictions (content_id, asset, shadow);
CREATE FUNCTION sigflow_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    RAISE EXCEPTION 'the prediction ledger is append-only: % refused', TG_OP;
END
$fn$;
CREATE TRIGGER predictions_no_change BEFORE UPDATE OR DELETE ON predictions
    FOR EACH ROW EXECUTE FUNCTION sigflow_ledger_append_only();
CREATE TRIGGER predictions_no_truncate BEFORE TRUNCATE ON predictions
    FOR EACH STATEMENT EXECUTE FUNCTION sigflow_ledger_append_only();

CREATE TABLE llm_usage (
    day      TEXT PRIMARY KEY,
    requests BIGINT NOT NULL,
    tokens   BIGINT NOT NULL
);
