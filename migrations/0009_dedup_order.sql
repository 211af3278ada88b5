-- Dedup that gives the same answer in any processing order (src/enrich/state.rs,
-- `decide`): an item's original is the earliest item it repeats, so an item that
-- arrives late can become the original of items stored before it. Each row now keeps
-- its original's time (first_at, to compare originals without a lookup) and the items
-- it revised (revised: their ids, comma-separated), so a replay repeats the revision.
-- From this version every item's bands are stored (features once per text), not only first
-- occurrences': any item can be another's original. Rows written before keep their
-- verdicts (first_at NULL reads as their own time).
ALTER TABLE dedup_fingerprints ADD COLUMN first_at INTEGER;
ALTER TABLE dedup_fingerprints ADD COLUMN revised TEXT NOT NULL DEFAULT '';
-- Band rows carry their item's exact hash: a band lookup yields distinct texts without
-- reading a fingerprint per row (a hot story is many rows of one text).
ALTER TABLE dedup_bands ADD COLUMN exact_hash INTEGER;
UPDATE dedup_bands SET exact_hash = (
    SELECT f.exact_hash FROM dedup_fingerprints f
    WHERE f.seen_at = dedup_bands.seen_at AND f.content_id = dedup_bands.content_id);
-- Texts that are near duplicates of each other (Jaccard ≥ the threshold when found),
-- both ways. An item whose text already has a banded item within half a window reads
-- its text's links instead of searching the bands (state.rs, `band_neighbourhood`).
CREATE TABLE dedup_links (
    text       INTEGER NOT NULL,     -- exact hash of one text
    other      INTEGER NOT NULL,     -- exact hash of a text near it
    similarity REAL NOT NULL,
    PRIMARY KEY (text, other)
) WITHOUT ROWID;
-- The banded items of a text (those that keep features and bands): "is one near this
-- item?" is one seek, however many copies of the text there are.
CREATE INDEX dedup_banded ON dedup_fingerprints (exact_hash, seen_at) WHERE length(features) > 0;
