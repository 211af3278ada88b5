-- sigflow schema, migration 11: prices, their tracking, outcomes, simulated predictions
-- (src/store/repos/{price_bars,price_tracking,outcomes,sim_predictions}.rs;
-- the arithmetic: crates/logic/src/markets/).

-- Daily bars: raw prices as traded and the day's split and dividend. A final bar
-- (fetched after its session closed) is never changed: the upsert skips it and the
-- trigger refuses anything else that tries.
CREATE TABLE price_bars (
    asset      TEXT NOT NULL,
    session    TEXT NOT NULL,      -- YYYY-MM-DD in the market's time zone
    market     TEXT NOT NULL,      -- nyse | crypto
    tz         TEXT NOT NULL,      -- IANA zone of the session date
    open       REAL NOT NULL,
    high       REAL NOT NULL,
    low        REAL NOT NULL,
    close      REAL NOT NULL,
    volume     REAL NOT NULL,
    split      REAL NOT NULL,      -- new shares per old, effective at this open (1 = none)
    dividend   REAL NOT NULL,      -- cash per share going ex this session
    final      INTEGER NOT NULL,
    provider   TEXT NOT NULL,
    fetched_at INTEGER NOT NULL,   -- µs
    PRIMARY KEY (asset, session)
);
CREATE TRIGGER price_bars_final_kept BEFORE UPDATE ON price_bars WHEN OLD.final = 1
BEGIN
    SELECT RAISE(ABORT, 'a final price bar is never changed');
END;

-- One row per asset an open prediction needs (or needed): what to fetch, when, and
-- how it went. A restart resumes from here.
CREATE TABLE price_tracking (
    asset        TEXT PRIMARY KEY,
    market       TEXT NOT NULL,
    state        TEXT NOT NULL,     -- active | done
    need_from    TEXT NOT NULL,     -- first session needed (backfill start)
    need_to      TEXT NOT NULL,     -- last exit session needed
    data_through TEXT,              -- last session the providers answered for
    next_at      INTEGER NOT NULL,  -- µs: the next fetch
    attempts     INTEGER NOT NULL,  -- failed fetches in a row
    provider     TEXT,
    last_error   TEXT,
    updated_at   INTEGER NOT NULL
);

-- Outcomes: one row per prediction and horizon, written once, when final. Namespace
-- 'live' is the ledger's; a backtest or the demo's history replay has its own.
-- The call's facts are copied in so track records need no join.
CREATE TABLE outcomes (
    namespace        TEXT NOT NULL,
    prediction_id    TEXT NOT NULL,
    horizon          INTEGER NOT NULL,  -- sessions (crypto: UTC days)
    status           TEXT NOT NULL,     -- scored | delisted | unscorable
    asset            TEXT NOT NULL,
    market           TEXT NOT NULL,
    direction        TEXT NOT NULL,
    confidence       REAL NOT NULL,
    source           TEXT NOT NULL,
    author           TEXT NOT NULL,
    analyzer         TEXT NOT NULL,
    version          TEXT NOT NULL,
    rules            TEXT NOT NULL,     -- '|a|b|'
    shadow           INTEGER NOT NULL,
    knowable_at      INTEGER NOT NULL,  -- µs
    entry_session    TEXT,
    entry_point      TEXT,              -- open | close
    entry_at         INTEGER,
    entry_price      REAL,
    exit_session     TEXT,
    exit_at          INTEGER,
    exit_price       REAL,
    split_factor     REAL,
    ret              REAL,
    signed_return    REAL,
    correct          INTEGER,
    pnl              REAL,
    benchmark        TEXT,
    benchmark_return REAL,
    excess           REAL,
    reason           TEXT,              -- why unscorable
    params           TEXT NOT NULL,     -- threshold, notional, costs as used
    computed_at      INTEGER NOT NULL,
    PRIMARY KEY (namespace, prediction_id, horizon)
);
CREATE INDEX outcomes_exit ON outcomes (namespace, exit_at, prediction_id);
CREATE INDEX outcomes_asset ON outcomes (namespace, asset, exit_at);
CREATE TRIGGER outcomes_no_update BEFORE UPDATE ON outcomes
BEGIN
    SELECT RAISE(ABORT, 'an outcome is written once and never changed');
END;
CREATE TRIGGER outcomes_live_kept BEFORE DELETE ON outcomes WHEN OLD.namespace = 'live'
BEGIN
    SELECT RAISE(ABORT, 'live outcomes are never deleted');
END;

-- Predictions of a backtest or history replay: never in the ledger.
CREATE TABLE sim_predictions (
    namespace   TEXT NOT NULL,
    id          TEXT NOT NULL,
    content_id  TEXT NOT NULL,
    asset       TEXT NOT NULL,
    direction   TEXT NOT NULL,
    confidence  REAL NOT NULL,
    source      TEXT NOT NULL,
    author      TEXT NOT NULL,
    analyzer    TEXT NOT NULL,
    version     TEXT NOT NULL,
    rules       TEXT NOT NULL,
    shadow      INTEGER NOT NULL,
    knowable_at INTEGER NOT NULL,
    body        TEXT NOT NULL,  -- the prediction as the ledger would have sealed it
    PRIMARY KEY (namespace, id)
);

-- What a namespace is: the run that made it.
CREATE TABLE sim_runs (
    namespace  TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    summary    TEXT NOT NULL     -- JSON: rules version, range, sources, counts
);
