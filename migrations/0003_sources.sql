-- Sources managed at run time (`sigflow sources add|pause|resume|remove`, the API) and
-- parser-drift quarantine. A row without a kind overrides a source of the config file
-- (its state, its quarantine); a row with one defines a source of its own.
CREATE TABLE source_defs (
    name       TEXT PRIMARY KEY,
    state      TEXT NOT NULL CHECK (state IN ('active', 'paused', 'removed')),
    kind       TEXT,
    options    TEXT,              -- JSON object
    quarantine TEXT,              -- why parsing is stopped; NULL while parsing
    updated_at INTEGER NOT NULL   -- µs since epoch
);
