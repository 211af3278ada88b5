-- PostgreSQL text of migration 9 (the SQLite text is ../0009_dedup_order.sql).
-- Dedup that gives the same answer in any processing order: each row keeps its
-- original's time and the items it revised; every item's features and bands are
-- stored from this version on.
ALTER TABLE dedup_fingerprints ADD COLUMN first_at BIGINT;
ALTER TABLE dedup_fingerprints ADD COLUMN revised TEXT NOT NULL DEFAULT '';
-- Band rows carry their item's exact hash (distinct texts per band without a
-- fingerprint read per row).
ALTER TABLE dedup_bands ADD COLUMN exact_hash BIGINT;
UPDATE dedup_bands SET exact_hash = (
    SELECT f.exact_hash FROM dedup_fingerprints f
    WHERE f.seen_at = dedup_bands.seen_at AND f.content_id = dedup_bands.content_id);
-- Texts that are near duplicates of each other, both ways (see the SQLite text).
CREATE TABLE dedup_links (
    text       BIGINT NOT NULL,
    other      BIGINT NOT NULL,
    similarity DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (text, other)
);
-- The banded items of a text: "is one near this item?" is one seek.
CREATE INDEX dedup_banded ON dedup_fingerprints (exact_hash, seen_at) WHERE octet_length(features) > 0;
