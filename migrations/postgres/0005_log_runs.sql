-- PostgreSQL text of migration 5 (the SQLite text is ../0005_log_runs.sql): the
-- embedded log stores runs of records. PostgreSQL never holds the embedded log; the
-- tables follow the one numbered history all the same.
ALTER TABLE log_records ADD COLUMN n BIGINT NOT NULL DEFAULT 1;

DROP VIEW log;
CREATE VIEW log AS
SELECT t.name AS topic, (r.pos >> 40) & 4095 AS partition,
       (r.pos & 1099511627775) + i AS "offset", r.ts,
       CASE WHEN r.n = 1 THEN r.key END AS key, CASE WHEN r.n = 1 THEN r.value END AS value
FROM log_records r
CROSS JOIN LATERAL generate_series(0, r.n - 1) AS i
JOIN log_topics t ON t.id = (r.pos >> 52);
