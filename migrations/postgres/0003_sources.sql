-- PostgreSQL text of migration 3 (the SQLite text is ../0003_sources.sql). One numbered
-- history for every store backend: the same tables, columns and keys, in each
-- dialect (INTEGER → BIGINT, BLOB → BYTEA, REAL → DOUBLE PRECISION, no WITHOUT
-- ROWID). tests/it/migrations.rs applies both and compares the schemas.

-- Sources managed at run time (`sigflow sources add|pause|resume|remove`, the API) and
-- parser-drift quarantine. A row without a kind overrides a source of the config file
-- (its state, its quarantine); a row with one defines a source of its own.
CREATE TABLE source_defs (
    name       TEXT PRIMARY KEY,
    state      TEXT NOT NULL CHECK (state IN ('active', 'paused', 'removed')),
    kind       TEXT,
    options    TEXT,              -- JSON object
    quarantine TEXT,              -- why parsing is stopped; NULL while parsing
    updated_at BIGINT NOT NULL   -- µs since epoch
);
