-- PostgreSQL text of migration 6 (the SQLite text is ../0006_effects.sql): the
-- side-effect journal. Same tables in the PostgreSQL dialect (INTEGER → BIGINT,
-- BLOB → BYTEA).
CREATE TABLE effects (
    scope      TEXT NOT NULL,
    key        TEXT NOT NULL,
    result     BYTEA NOT NULL,
    call_ms    BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX effects_created ON effects (created_at);
