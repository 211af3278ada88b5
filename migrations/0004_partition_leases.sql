-- Which member of a stage's worker group reads which partition (see
-- src/store/leases.rs). Workers renew their membership every second; a member that
-- stops renewing (killed, partitioned away) is gone after its TTL and its partitions
-- go to the others. Coordinated here, next to the offsets, rather than by the
-- broker's group protocol: the store is what every worker of a deployment shares.
CREATE TABLE group_members (
    grp        TEXT NOT NULL,
    topic      TEXT NOT NULL,
    member     TEXT NOT NULL,
    expires_at INTEGER NOT NULL,   -- µs since epoch
    PRIMARY KEY (grp, topic, member)
);

CREATE TABLE partition_leases (
    grp        TEXT NOT NULL,
    topic      TEXT NOT NULL,
    partition  INTEGER NOT NULL,
    owner      TEXT NOT NULL,
    PRIMARY KEY (grp, topic, partition)
);
