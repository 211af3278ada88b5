-- sigflow schema, migration 11 (PostgreSQL): see migrations/0011_markets.sql.
CREATE TABLE price_bars (
    asset      TEXT NOT NULL,
    session    TEXT NOT NULL,
    market     TEXT NOT NULL,
    tz         TEXT NOT NULL,
    open       DOUBLE PRECISION NOT NULL,
    high       DOUBLE PRECISION NOT NULL,
    low        DOUBLE PRECISION NOT NULL,
    close      DOUBLE PRECISION NOT NULL,
    volume     DOUBLE PRECISION NOT NULL,
    split      DOUBLE PRECISION NOT NULL,
    dividend   DOUBLE PRECISION NOT NULL,
    final      BIGINT NOT NULL,
    provider   TEXT NOT NULL,
    fetched_at BIGINT NOT NULL,
    PRIMARY KEY (asset, session)
);
CREATE FUNCTION sigflow_final_bar_kept() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF OLD.final = 1 THEN
        RAISE EXCEPTION 'a final price bar is never changed';
    END IF;
    RETURN NEW;
END
$fn$;
CREATE TRIGGER price_bars_final_kept BEFORE UPDATE ON price_bars
    FOR EACH ROW EXECUTE FUNCTION sigflow_final_bar_kept();

CREATE TABLE price_tracking (
    asset        TEXT PRIMARY KEY,
    market       TEXT NOT NULL,
    state        TEXT NOT NULL,
    need_from    TEXT NOT NULL,
    need_to      TEXT NOT NULL,
    data_through TEXT,
    next_at      BIGINT NOT NULL,
    attempts     BIGINT NOT NULL,
    provider     TEXT,
    last_error   TEXT,
    updated_at   BIGINT NOT NULL
);

CREATE TABLE outcomes (
    namespace        TEXT NOT NULL,
    prediction_id    TEXT NOT NULL,
    horizon          BIGINT NOT NULL,
    status           TEXT NOT NULL,
    asset            TEXT NOT NULL,
    market           TEXT NOT NULL,
    direction        TEXT NOT NULL,
    confidence       DOUBLE PRECISION NOT NULL,
    source           TEXT NOT NULL,
    author           TEXT NOT NULL,
    analyzer         TEXT NOT NULL,
    version          TEXT NOT NULL,
    rules            TEXT NOT NULL,
    shadow           BIGINT NOT NULL,
    knowable_at      BIGINT NOT NULL,
    entry_session    TEXT,
    entry_point      TEXT,
    entry_at         BIGINT,
    entry_price      DOUBLE PRECISION,
    exit_session     TEXT,
    exit_at          BIGINT,
    exit_price       DOUBLE PRECISION,
    split_factor     DOUBLE PRECISION,
    ret              DOUBLE PRECISION,
    signed_return    DOUBLE PRECISION,
    correct          BIGINT,
    pnl              DOUBLE PRECISION,
    benchmark        TEXT,
    benchmark_return DOUBLE PRECISION,
    excess           DOUBLE PRECISION,
    reason           TEXT,
    params           TEXT NOT NULL,
    computed_at      BIGINT NOT NULL,
    PRIMARY KEY (namespace, prediction_id, horizon)
);
CREATE INDEX outcomes_exit ON outcomes (namespace, exit_at, prediction_id);
CREATE INDEX outcomes_asset ON outcomes (namespace, asset, exit_at);
CREATE FUNCTION sigflow_outcome_kept() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        RAISE EXCEPTION 'an outcome is written once and never changed';
    END IF;
    IF OLD.namespace = 'live' THEN
        RAISE EXCEPTION 'live outcomes are never deleted';
    END IF;
    RETURN OLD;
END
$fn$;
CREATE TRIGGER outcomes_kept BEFORE UPDATE OR DELETE ON outcomes
    FOR EACH ROW EXECUTE FUNCTION sigflow_outcome_kept();

CREATE TABLE sim_predictions (
    namespace   TEXT NOT NULL,
    id          TEXT NOT NULL,
    content_id  TEXT NOT NULL,
    asset       TEXT NOT NULL,
    direction   TEXT NOT NULL,
    confidence  DOUBLE PRECISION NOT NULL,
    source      TEXT NOT NULL,
    author      TEXT NOT NULL,
    analyzer    TEXT NOT NULL,
    version     TEXT NOT NULL,
    rules       TEXT NOT NULL,
    shadow      BIGINT NOT NULL,
    knowable_at BIGINT NOT NULL,
    body        TEXT NOT NULL,  -- the prediction as the ledger would have sealed it
    PRIMARY KEY (namespace, id)
);

CREATE TABLE sim_runs (
    namespace  TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    summary    TEXT NOT NULL
);
