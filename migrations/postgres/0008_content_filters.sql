-- PostgreSQL text of migration 8 (the SQLite text is ../0008_content_filters.sql):
-- indexed filter columns and the commit-order sequence. PostgreSQL keeps large
-- documents out of line, so the columns are added, not the table rebuilt.
ALTER TABLE contents ADD COLUMN seq BIGINT;
ALTER TABLE contents ADD COLUMN fetched_by TEXT;
ALTER TABLE contents ADD COLUMN sentiment TEXT;
ALTER TABLE contents ADD COLUMN filtered BIGINT;
ALTER TABLE contents ADD COLUMN duplicate BIGINT;
ALTER TABLE contents ADD COLUMN language TEXT;
CREATE SEQUENCE contents_seq_numbers;
UPDATE contents c SET
    seq = n.rn,
    fetched_by = COALESCE(c.doc::jsonb #>> '{fetched_by}', c.source),
    sentiment = c.doc::jsonb #>> '{enrichments,sentiment,label}',
    filtered = COALESCE((c.doc::jsonb #>> '{enrichments,filter,filtered}')::boolean::int, 0),
    duplicate = CASE WHEN COALESCE(c.doc::jsonb #>> '{enrichments,dedup,kind}', 'unique') = 'unique' THEN 0 ELSE 1 END,
    language = c.doc::jsonb #>> '{enrichments,language,lang}'
FROM (SELECT id, row_number() OVER (ORDER BY stored_at, id) AS rn FROM contents) n
WHERE n.id = c.id;
SELECT setval('contents_seq_numbers', COALESCE((SELECT max(seq) FROM contents), 0) + 1, false);
ALTER TABLE contents ALTER COLUMN seq SET DEFAULT nextval('contents_seq_numbers');
ALTER TABLE contents ALTER COLUMN seq SET NOT NULL;
ALTER TABLE contents ALTER COLUMN fetched_by SET NOT NULL;
ALTER TABLE contents ALTER COLUMN filtered SET NOT NULL;
ALTER TABLE contents ALTER COLUMN duplicate SET NOT NULL;
CREATE UNIQUE INDEX contents_seq ON contents (seq);
CREATE INDEX contents_fetched_by_time ON contents (fetched_by, happened_at DESC, id DESC);
CREATE INDEX contents_author_time ON contents (author, happened_at DESC, id DESC);
CREATE INDEX contents_sentiment_time ON contents (sentiment, happened_at DESC, id DESC);
CREATE INDEX contents_filtered_time ON contents (filtered, happened_at DESC, id DESC);
CREATE INDEX contents_duplicate_time ON contents (duplicate, happened_at DESC, id DESC);
CREATE INDEX contents_language_time ON contents (language, happened_at DESC, id DESC);
