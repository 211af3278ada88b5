-- sigflow schema, migration 5: the embedded log stores runs.
-- A row of `log_records` may hold the `n` consecutive records one commit appended to
-- one partition, compressed together (src/log/runs.rs): `pos` is the first record's
-- position, `key` is NULL and `value` the run's frames. Rows with n = 1 are single
-- records exactly as before.
ALTER TABLE log_records ADD COLUMN n INTEGER NOT NULL DEFAULT 1;

-- One row per record again, for people and for tools. The key and value of a record
-- inside a run are in its compressed frames, which SQL cannot open: NULL here
-- (`sigflow` reads them).
DROP VIEW log;
CREATE VIEW log AS
WITH RECURSIVE rec(pos, i, n) AS (
    SELECT pos, 0, n FROM log_records
    UNION ALL
    SELECT pos, i + 1, n FROM rec WHERE i + 1 < n
)
SELECT t.name AS topic, (rec.pos >> 40) & 4095 AS partition,
       (rec.pos & 1099511627775) + rec.i AS "offset", r.ts,
       CASE WHEN r.n = 1 THEN r.key END AS key, CASE WHEN r.n = 1 THEN r.value END AS value
FROM rec JOIN log_records r ON r.pos = rec.pos JOIN log_topics t ON t.id = (rec.pos >> 52);
