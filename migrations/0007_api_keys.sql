-- sigflow schema, migration 7: API keys (src/store/repos/api_keys.rs). Only the
-- SHA-256 of a key is kept; the id is the key's public part (`sfk_<id>…`).
CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    scope       TEXT NOT NULL,      -- read | write | admin
    hash        TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,   -- µs since epoch
    revoked_at  INTEGER             -- NULL while the key works
);
