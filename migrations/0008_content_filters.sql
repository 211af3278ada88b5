-- sigflow schema, migration 8: every filter of GET /api/v1/contents is answered from
-- an index (src/store/repos/contents.rs), and `seq` numbers items in commit order so
-- a poller (`order=ingested`) never misses one that arrived late with an old time.
--
-- The filter columns are written by the upsert from the item itself (no JSON parsing
-- on the write path). The table is rebuilt so they sit before `doc`: a row check then
-- reads the row's first page, never the document's overflow pages.
CREATE TABLE contents_new (
    id           TEXT PRIMARY KEY,
    seq          INTEGER NOT NULL,   -- commit order, 1, 2, 3, … (never reused)
    source       TEXT NOT NULL,
    fetched_by   TEXT NOT NULL,      -- the configured source's name
    source_id    TEXT NOT NULL,
    author       TEXT,
    content_type TEXT NOT NULL,
    sentiment    TEXT,               -- enrichments.sentiment.label
    filtered     INTEGER NOT NULL,   -- enrichments.filter.filtered (0/1)
    duplicate    INTEGER NOT NULL,   -- 1 when enrichments.dedup.kind is not unique
    language     TEXT,               -- enrichments.language.lang
    happened_at  INTEGER NOT NULL,
    disclosed_at INTEGER,
    observed_at  INTEGER NOT NULL,
    harvested_at INTEGER NOT NULL,
    stored_at    INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    lake_key     TEXT NOT NULL,
    doc          TEXT NOT NULL
);
INSERT INTO contents_new
SELECT id,
       row_number() OVER (ORDER BY stored_at, id),
       source,
       coalesce(json_extract(doc, '$.fetched_by'), source),
       source_id, author, content_type,
       json_extract(doc, '$.enrichments.sentiment.label'),
       coalesce(json_extract(doc, '$.enrichments.filter.filtered'), 0),
       CASE WHEN coalesce(json_extract(doc, '$.enrichments.dedup.kind'), 'unique') = 'unique' THEN 0 ELSE 1 END,
       json_extract(doc, '$.enrichments.language.lang'),
       happened_at, disclosed_at, observed_at, harvested_at, stored_at, updated_at, lake_key, doc
FROM contents;
DROP TABLE contents;
ALTER TABLE contents_new RENAME TO contents;
CREATE INDEX contents_time ON contents (happened_at DESC, id DESC);
CREATE INDEX contents_source_time ON contents (source, happened_at DESC, id DESC);
CREATE UNIQUE INDEX contents_seq ON contents (seq);
-- One full index per filter, each in the order pages are read, so every filter and
-- every combination is an index range with no sort and no statistics needed. Paid on
-- every insert (the store's write limit fell from 57k to 22k rows/s in `sigflow bench`);
-- narrow and partial indexes measured 42k rows/s but let the planner pick a walk for
-- combined or skewed filters (up to 1.1 s at 1M items): see docs/performance.md.
CREATE INDEX contents_fetched_by_time ON contents (fetched_by, happened_at DESC, id DESC);
CREATE INDEX contents_author_time ON contents (author, happened_at DESC, id DESC);
CREATE INDEX contents_sentiment_time ON contents (sentiment, happened_at DESC, id DESC);
CREATE INDEX contents_filtered_time ON contents (filtered, happened_at DESC, id DESC);
CREATE INDEX contents_duplicate_time ON contents (duplicate, happened_at DESC, id DESC);
CREATE INDEX contents_language_time ON contents (language, happened_at DESC, id DESC);
