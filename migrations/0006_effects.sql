-- sigflow schema, migration 6: the side-effect journal (src/store/repos/effects.rs).
-- A stage that calls the outside world (a webhook delivery, later an LLM answer or an
-- alert) commits the call's result here, keyed deterministically, before it uses it:
-- a retry or a restart finds the result instead of calling again.
CREATE TABLE effects (
    scope      TEXT NOT NULL,     -- who performed it: the stage (e.g. `forward`)
    key        TEXT NOT NULL,     -- what it was: deterministic from the input
    result     BLOB NOT NULL,     -- what came back, as the stage stores it
    call_ms    INTEGER NOT NULL,  -- how long the call took
    created_at INTEGER NOT NULL,  -- µs since epoch
    PRIMARY KEY (scope, key)
);
-- Pruned by age (twice the log's retention) from the retention service.
CREATE INDEX effects_created ON effects (created_at);
