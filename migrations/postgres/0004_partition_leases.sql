-- PostgreSQL text of migration 4 (the SQLite text is ../0004_partition_leases.sql). One
-- numbered history for every store backend: the same tables, columns and keys, in each
-- dialect (INTEGER → BIGINT). tests/it/migrations.rs applies both and compares the schemas.

-- Which member of a stage's worker group reads which partition (see
-- src/store/leases.rs). Workers renew their membership every second; a member that
-- stops renewing (killed, partitioned away) is gone after its TTL and its partitions
-- go to the others.
CREATE TABLE group_members (
    grp        TEXT NOT NULL,
    topic      TEXT NOT NULL,
    member     TEXT NOT NULL,
    expires_at BIGINT NOT NULL,   -- µs since epoch
    PRIMARY KEY (grp, topic, member)
);

CREATE TABLE partition_leases (
    grp        TEXT NOT NULL,
    topic      TEXT NOT NULL,
    partition  BIGINT NOT NULL,
    owner      TEXT NOT NULL,
    PRIMARY KEY (grp, topic, partition)
);
