//! The distributed event log: any broker that speaks the Kafka protocol (Apache Kafka,
//! Redpanda, tansu), through librdkafka (`rdkafka`).
//!
//! URL: `kafka://HOST:PORT[,HOST:PORT…][?replication=N&session_timeout_ms=MS&fetch_wait_ms=MS]`.
//!
//! How it keeps the effectively-once contract of `runtime/commit.rs`:
//! * Outputs are produced, idempotently and with `acks=all`, and acknowledged before
//!   the stage commits its results and input offsets to the store.
//! * Consumer positions live in the store, never in Kafka, and so does the worker
//!   group: which worker reads which partition is decided in the store
//!   (`store/leases.rs`), and a worker that gains a partition starts at the offset the
//!   store committed. So the results and the position a worker reached are one
//!   transaction, whoever owns the partition next.
//! * Keys pick partitions with the Java client's murmur2, so a record produced by
//!   another Kafka client with the same key lands where sigflow would put it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::FutureExt;
use rdkafka::Timestamp;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _, ConsumerContext, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use super::{Consumer, EventLog, LogError, LogRecord, PartitionInfo, TopicInfo, TopicSpec};
use crate::store::{Append, OffsetCommit, Store};

/// Blocking metadata calls (watermarks, metadata, offsets for times) wait at most this.
const META_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
struct Options {
    brokers: String,
    replication: i32,
    session_timeout_ms: u32,
    fetch_wait_ms: u32,
}

fn parse_url(url: &str) -> Result<Options, String> {
    let rest = url
        .strip_prefix("kafka://")
        .ok_or_else(|| format!("not a kafka:// URL: {url}"))?;
    let (hosts, query) = rest.split_once('?').unwrap_or((rest, ""));
    let hosts = hosts.trim_end_matches('/');
    if hosts.is_empty() {
        return Err("kafka:// needs at least one HOST:PORT".into());
    }
    let mut o = Options {
        brokers: hosts.to_string(),
        replication: 1,
        session_timeout_ms: 10_000,
        fetch_wait_ms: 10,
    };
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "replication" => {
                o.replication = v
                    .parse()
                    .map_err(|_| format!("replication `{v}` is not a number"))?
            }
            "session_timeout_ms" => {
                o.session_timeout_ms = v
                    .parse()
                    .map_err(|_| format!("session_timeout_ms `{v}` is not a number"))?
            }
            "fetch_wait_ms" => {
                o.fetch_wait_ms = v
                    .parse()
                    .map_err(|_| format!("fetch_wait_ms `{v}` is not a number"))?
            }
            other => {
                return Err(format!(
                    "unknown kafka URL option `{other}` (known: replication, session_timeout_ms, fetch_wait_ms)"
                ));
            }
        }
    }
    Ok(o)
}

/// Checks a `kafka://` URL without connecting (config validation).
pub fn check_url(url: &str) -> Result<(), String> {
    parse_url(url).map(|_| ())
}

pub struct KafkaLog {
    opts: Options,
    producer: FutureProducer,
    admin: AdminClient<DefaultClientContext>,
    /// For metadata, watermarks and offsets-for-times; never subscribes.
    meta: Arc<BaseConsumer>,
    /// Topics seen to exist (appends check each topic once).
    known: std::sync::Mutex<std::collections::HashSet<String>>,
    /// Retention per topic, asked once (describe runs every second for lag).
    retention: std::sync::Mutex<std::collections::HashMap<String, u64>>,
}

impl KafkaLog {
    pub fn open(url: &str) -> Result<KafkaLog, LogError> {
        let opts = parse_url(url).map_err(LogError::Config)?;
        let base = |extra: &[(&str, &str)]| {
            let mut c = ClientConfig::new();
            c.set("bootstrap.servers", &opts.brokers)
                .set("client.id", "sigflow");
            for (k, v) in extra {
                c.set(*k, *v);
            }
            c
        };
        let producer: FutureProducer = base(&[
            ("enable.idempotence", "true"),
            ("acks", "all"),
            ("linger.ms", "2"),
            ("partitioner", "murmur2_random"),
            ("message.timeout.ms", "30000"),
        ])
        .create()?;
        let admin: AdminClient<DefaultClientContext> = base(&[]).create()?;
        let meta: BaseConsumer = base(&[
            ("group.id", "sigflow.meta"),
            ("enable.auto.commit", "false"),
        ])
        .create()?;
        Ok(KafkaLog {
            opts,
            producer,
            admin,
            meta: Arc::new(meta),
            known: Default::default(),
            retention: Default::default(),
        })
    }

    fn consumer_config(&self, group: &str) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.opts.brokers)
            .set("client.id", "sigflow")
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set(
                "session.timeout.ms",
                self.opts.session_timeout_ms.to_string(),
            )
            .set(
                "heartbeat.interval.ms",
                (self.opts.session_timeout_ms / 5).max(100).to_string(),
            )
            // How long the broker may hold a fetch with nothing to return. Kafka
            // answers as soon as a record arrives; some brokers (tansu 0.6) answer only
            // when the wait is over, which then adds up to this much per stage hop.
            .set("fetch.wait.max.ms", self.opts.fetch_wait_ms.to_string());
        c
    }

    async fn blocking<R: Send + 'static>(
        &self,
        f: impl FnOnce(&BaseConsumer) -> Result<R, KafkaError> + Send + 'static,
    ) -> Result<R, LogError> {
        let meta = self.meta.clone();
        tokio::task::spawn_blocking(move || f(&meta))
            .await
            .map_err(|e| LogError::Config(format!("kafka metadata task: {e}")))?
            .map_err(LogError::from)
    }

    async fn partitions(&self, topic: &str) -> Result<Vec<u32>, LogError> {
        let name = topic.to_string();
        let md = self
            .blocking(move |c| c.fetch_metadata(Some(&name), META_TIMEOUT))
            .await?;
        let t = md
            .topics()
            .iter()
            .find(|t| t.name() == topic)
            .ok_or_else(|| LogError::UnknownTopic(topic.to_string()))?;
        if t.error().is_some() || t.partitions().is_empty() {
            return Err(LogError::UnknownTopic(topic.to_string()));
        }
        Ok(t.partitions().iter().map(|p| p.id() as u32).collect())
    }
}

fn to_record(m: &impl Message) -> LogRecord {
    let ts = match m.timestamp() {
        Timestamp::CreateTime(t) | Timestamp::LogAppendTime(t) => t * 1000,
        Timestamp::NotAvailable => 0,
    };
    LogRecord {
        topic: Arc::from(m.topic()),
        partition: m.partition() as u32,
        offset: m.offset() as u64,
        ts,
        key: m.key().map(<[u8]>::to_vec),
        value: m.payload().map(<[u8]>::to_vec).unwrap_or_default(),
        decoded: super::Decoded::default(),
    }
}

#[async_trait]
impl EventLog for KafkaLog {
    fn kind(&self) -> &'static str {
        "kafka"
    }

    fn transactional_with_store(&self) -> bool {
        false
    }

    async fn create_topic(&self, spec: &TopicSpec) -> Result<(), LogError> {
        let retention = spec.retention.as_millis().to_string();
        let topic = NewTopic::new(
            &spec.name,
            spec.partitions as i32,
            TopicReplication::Fixed(self.opts.replication),
        )
        .set("retention.ms", &retention);
        let results = self
            .admin
            .create_topics([&topic], &AdminOptions::new())
            .await?;
        for r in results {
            match r {
                Ok(_) => {
                    tracing::info!(topic = %spec.name, partitions = spec.partitions, "kafka topic created")
                }
                Err((_, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists)) => {
                    let have = self.partitions(&spec.name).await?.len() as u32;
                    if have != spec.partitions {
                        return Err(LogError::Config(format!(
                            "kafka topic `{}` exists with {have} partitions, the config asks for {}: \
                             set topics.partitions = {have}, or add partitions with the broker's tools \
                             (records of a key then move to another partition)",
                            spec.name, spec.partitions
                        )));
                    }
                }
                Err((name, code)) => {
                    return Err(LogError::Config(format!(
                        "cannot create kafka topic `{name}`: {code}"
                    )));
                }
            }
        }
        Ok(())
    }

    async fn describe(&self) -> Result<Vec<TopicInfo>, LogError> {
        let md = self
            .blocking(|c| c.fetch_metadata(None, META_TIMEOUT))
            .await?;
        // Names and partitions from the one metadata answer (describe runs every
        // second for the lag).
        let mut topics: Vec<(String, Vec<u32>)> = md
            .topics()
            .iter()
            .filter(|t| !t.name().starts_with("__") && t.error().is_none())
            .map(|t| {
                let parts = t.partitions().iter().map(|p| p.id() as u32).collect();
                (t.name().to_string(), parts)
            })
            .filter(|(_, parts): &(String, Vec<u32>)| !parts.is_empty())
            .collect();
        topics.sort();
        let mut out = Vec::new();
        for (name, parts) in &topics {
            let (topic, parts) = (name.clone(), parts.clone());
            let marks = self
                .blocking(move |c| {
                    parts
                        .iter()
                        .map(|p| {
                            c.fetch_watermarks(&topic, *p as i32, META_TIMEOUT)
                                .map(|(lo, hi)| PartitionInfo {
                                    partition: *p,
                                    start: lo.max(0) as u64,
                                    end: hi.max(0) as u64,
                                })
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
                .await?;
            let retention_secs = self.retention_secs(name).await;
            out.push(TopicInfo {
                name: name.to_string(),
                retention_secs,
                partitions: marks,
            });
        }
        Ok(out)
    }

    async fn append(&self, appends: Vec<Append>) -> Result<(), LogError> {
        // The producer would wait out its delivery timeout on a topic that does not
        // exist (or have the broker create it): refuse it up front instead.
        let mut topics: Vec<&str> = appends.iter().map(|a| a.topic.as_str()).collect();
        topics.sort_unstable();
        topics.dedup();
        for t in topics {
            let known = self
                .known
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains(t);
            if !known {
                self.partitions(t).await?;
                self.known
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(t.to_string());
            }
        }
        // Every record is handed to the producer first, then every delivery awaited:
        // one round of acknowledgements for the batch, not one per record.
        let sends = appends.iter().map(|a| {
            let mut r: FutureRecord<'_, [u8], [u8]> =
                FutureRecord::to(&a.topic).payload(a.value.as_slice());
            if let Some(k) = &a.key {
                r = r.key(k.as_slice());
            }
            self.producer.send(r, Duration::from_secs(30))
        });
        for r in futures::future::join_all(sends).await {
            r.map_err(|(e, _)| LogError::from(e))?;
        }
        Ok(())
    }

    async fn consumer(&self, topic: &str) -> Result<Box<dyn Consumer>, LogError> {
        let parts = self.partitions(topic).await?;
        // A seek past the end waits at the end ("latest"); a partition never sought
        // starts at its first retained record.
        let mut config = self.consumer_config("sigflow.reader");
        config.set("auto.offset.reset", "latest");
        let positions: BTreeMap<u32, Option<u64>> = parts.iter().map(|p| (*p, None)).collect();
        let mut reader = Reader {
            topic: topic.to_string(),
            c: config.create()?,
            config,
            positions,
            sought: false,
        };
        reader.assign()?;
        Ok(Box::new(reader))
    }

    async fn group_consumer(
        &self,
        topic: &str,
        group: &str,
        store: Arc<dyn Store>,
    ) -> Result<Box<dyn Consumer>, LogError> {
        let partitions = self.partitions(topic).await?.len() as u32;
        let c: StreamConsumer = self.consumer_config(&format!("sigflow.{group}")).create()?;
        let member = format!(
            "{}-{}-{}",
            std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into()),
            std::process::id(),
            uuid::Uuid::now_v7().simple()
        );
        tracing::info!(group, topic, member = %member, "joining the worker group");
        Ok(Box::new(GroupMember {
            topic: topic.to_string(),
            group: group.to_string(),
            member,
            store,
            c,
            partitions,
            ttl: Duration::from_millis(u64::from(self.opts.session_timeout_ms)),
            owned: Default::default(),
            next_claim: std::time::Instant::now(),
        }))
    }

    async fn offsets_for_time(
        &self,
        topic: &str,
        ts_us: i64,
    ) -> Result<Vec<OffsetCommit>, LogError> {
        let parts = self.partitions(topic).await?;
        let name = topic.to_string();
        let probe_config = self.consumer_config("sigflow.reader");
        self.blocking(move |c| {
            let mut tpl = TopicPartitionList::new();
            for p in &parts {
                tpl.add_partition_offset(&name, *p as i32, Offset::Offset(ts_us / 1000))?;
            }
            let found = c.offsets_for_times(tpl, META_TIMEOUT)?;
            let probe: BaseConsumer = probe_config.create()?;
            let mut out = Vec::new();
            for e in found.elements_for_topic(&name) {
                let (_, end) = c.fetch_watermarks(&name, e.partition(), META_TIMEOUT)?;
                let end = end.max(0) as u64;
                let next = match e.offset() {
                    // Some brokers (tansu 0.6) answer the first offset instead of "none"
                    // when no record is that recent: check the record found is.
                    Offset::Offset(o) if (o as u64) < end => {
                        if record_ts_ms(&probe, &name, e.partition(), o)? >= ts_us / 1000 {
                            o as u64
                        } else {
                            end
                        }
                    }
                    // No record at or after the time: the partition's end.
                    _ => end,
                };
                out.push(OffsetCommit {
                    partition: e.partition() as u32,
                    next_offset: next,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn enforce_retention(&self) -> Result<u64, LogError> {
        // The broker enforces `retention.ms`, set on each topic at creation.
        Ok(0)
    }
}

impl KafkaLog {
    /// Deletes `topics` and waits until the broker no longer lists them (for the
    /// benchmark, which starts each phase on empty topics). Unknown topics are fine.
    pub async fn delete_topics(&self, topics: &[&str]) -> Result<(), LogError> {
        let _ = self
            .admin
            .delete_topics(topics, &AdminOptions::new())
            .await?;
        for _ in 0..100 {
            let md = self
                .blocking(|c| c.fetch_metadata(None, META_TIMEOUT))
                .await?;
            if !md.topics().iter().any(|t| topics.contains(&t.name())) {
                self.known.lock().unwrap_or_else(|e| e.into_inner()).clear();
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(LogError::Config(format!(
            "topics {topics:?} are still listed 10 s after their deletion"
        )))
    }

    /// The topic's `retention.ms` in seconds (0 when the broker does not say),
    /// asked once per topic: it changes only by hand.
    async fn retention_secs(&self, topic: &str) -> u64 {
        let cache = || self.retention.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(r) = cache().get(topic) {
            return *r;
        }
        let spec = ResourceSpecifier::Topic(topic);
        let asked = async {
            let res = self
                .admin
                .describe_configs([&spec], &AdminOptions::new())
                .await
                .ok()?;
            let r = res.into_iter().next()?.ok()?;
            let v = r.get("retention.ms")?.value.clone()?;
            v.parse::<i64>().ok().map(|ms| (ms.max(0) / 1000) as u64)
        };
        let r = asked.await.unwrap_or(0);
        cache().insert(topic.to_string(), r);
        r
    }
}

/// The timestamp (ms) of the record at `offset`, read with `probe`.
fn record_ts_ms(
    probe: &BaseConsumer,
    topic: &str,
    partition: i32,
    offset: i64,
) -> Result<i64, KafkaError> {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Offset(offset))?;
    probe.assign(&tpl)?;
    let deadline = std::time::Instant::now() + META_TIMEOUT;
    while std::time::Instant::now() < deadline {
        if let Some(m) = probe.poll(Duration::from_millis(200)) {
            let m = m?;
            if m.partition() == partition && m.offset() == offset {
                return Ok(to_record(&m).ts / 1000);
            }
        }
    }
    // Not readable in time: trust the broker's answer.
    Ok(i64::MAX)
}

/// Waits up to `wait` for a first message, then takes what is already fetched.
async fn take<C: ConsumerContext + 'static>(
    c: &StreamConsumer<C>,
    max: usize,
    wait: Duration,
) -> Result<Vec<LogRecord>, LogError> {
    let mut out = Vec::new();
    let first = match tokio::time::timeout(wait, c.recv()).await {
        Err(_) => return Ok(out),
        Ok(m) => m?,
    };
    out.push(to_record(&first));
    while out.len() < max {
        match c.recv().now_or_never() {
            Some(Ok(m)) => out.push(to_record(&m)),
            Some(Err(e)) => {
                tracing::debug!(error = %e, "kafka fetch error after a batch started");
                break;
            }
            None => break,
        }
    }
    Ok(out)
}

/// A reader of every partition (tools, tests, replay): manual assignment, no group.
struct Reader {
    topic: String,
    c: StreamConsumer,
    config: ClientConfig,
    /// None: from the first retained record.
    positions: BTreeMap<u32, Option<u64>>,
    /// A seek happened since the last poll.
    sought: bool,
}

impl Reader {
    fn assign(&mut self) -> Result<(), LogError> {
        if self.sought {
            // Messages fetched for the old positions may still sit in the client's
            // queue, and a re-assignment does not drop them: start a fresh client.
            self.c = self.config.create()?;
            self.sought = false;
        }
        let mut tpl = TopicPartitionList::new();
        for (p, o) in &self.positions {
            let at = o.map_or(Offset::Beginning, |o| Offset::Offset(o as i64));
            tpl.add_partition_offset(&self.topic, *p as i32, at)?;
        }
        self.c.assign(&tpl)?;
        Ok(())
    }
}

#[async_trait]
impl Consumer for Reader {
    fn topic(&self) -> &str {
        &self.topic
    }

    fn assignment(&self) -> Vec<u32> {
        self.positions.keys().copied().collect()
    }

    fn seek(&mut self, partition: u32, offset: u64) {
        // Applied at the next poll, so that seeking every partition costs one new
        // assignment.
        self.positions.insert(partition, Some(offset));
        self.sought = true;
    }

    async fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<LogRecord>, LogError> {
        if self.sought {
            self.assign()?;
        }
        let out = take(&self.c, max, wait).await?;
        for r in &out {
            self.positions.insert(r.partition, Some(r.offset + 1));
        }
        Ok(out)
    }
}

/// A stage's member of its worker group. Which partitions it reads is decided in the
/// store (`store/leases.rs`), renewed about once a second from `poll`; a partition it
/// gains starts at the offset the store committed for the group.
struct GroupMember {
    topic: String,
    group: String,
    member: String,
    store: Arc<dyn Store>,
    c: StreamConsumer,
    partitions: u32,
    ttl: Duration,
    owned: BTreeMap<u32, ()>,
    next_claim: std::time::Instant,
}

/// How often a member renews its membership and rebalances.
const CLAIM_EVERY: Duration = Duration::from_secs(1);

impl GroupMember {
    async fn rebalance(&mut self) -> Result<(), LogError> {
        let now: Vec<u32> = self
            .store
            .claim_partitions(
                &self.group,
                &self.topic,
                &self.member,
                self.partitions,
                self.ttl,
            )
            .await?;
        let removed: Vec<u32> = self
            .owned
            .keys()
            .filter(|p| !now.contains(p))
            .copied()
            .collect();
        let added: Vec<u32> = now
            .iter()
            .filter(|p| !self.owned.contains_key(p))
            .copied()
            .collect();
        if removed.is_empty() && added.is_empty() {
            return Ok(());
        }
        if !removed.is_empty() {
            let mut tpl = TopicPartitionList::new();
            for p in &removed {
                tpl.add_partition(&self.topic, *p as i32);
            }
            self.c.incremental_unassign(&tpl)?;
            tracing::info!(group = %self.group, topic = %self.topic, partitions = ?removed, "partitions released");
        }
        if !added.is_empty() {
            let stored: BTreeMap<u32, u64> = self
                .store
                .offsets(&self.group, &self.topic)
                .await?
                .iter()
                .map(|o| (o.partition, o.next_offset))
                .collect();
            let mut tpl = TopicPartitionList::new();
            let mut from = Vec::new();
            for p in &added {
                let at = stored.get(p).copied().unwrap_or(0);
                from.push((*p, at));
                tpl.add_partition_offset(&self.topic, *p as i32, Offset::Offset(at as i64))?;
            }
            self.c.incremental_assign(&tpl)?;
            tracing::info!(group = %self.group, topic = %self.topic, added = ?from, owned = ?now, "partitions assigned");
        }
        self.owned = now.iter().map(|p| (*p, ())).collect();
        metrics::gauge!("sigflow_stage_partitions", "stage" => self.group.clone())
            .set(self.owned.len() as f64);
        Ok(())
    }
}

#[async_trait]
impl Consumer for GroupMember {
    fn topic(&self) -> &str {
        &self.topic
    }

    fn assignment(&self) -> Vec<u32> {
        // Positions come from the store when a partition is gained (see `rebalance`);
        // the runner has nothing to seek.
        Vec::new()
    }

    fn seek(&mut self, partition: u32, offset: u64) {
        if let Err(e) = self.c.seek(
            &self.topic,
            partition as i32,
            Offset::Offset(offset as i64),
            Duration::from_secs(5),
        ) {
            tracing::warn!(topic = %self.topic, partition, offset, error = %e, "kafka seek failed");
        }
    }

    async fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<LogRecord>, LogError> {
        let now = std::time::Instant::now();
        if now >= self.next_claim {
            self.next_claim = now + CLAIM_EVERY;
            if let Err(e) = self.rebalance().await {
                // Keep reading what it owns: the store being away does not make the
                // partitions anyone else's until the TTL runs out everywhere.
                tracing::warn!(group = %self.group, error = %e, "cannot renew the worker group membership");
            }
        }
        let wait = wait.min(
            self.next_claim
                .saturating_duration_since(std::time::Instant::now()),
        );
        take(&self.c, max, wait).await
    }

    async fn close(&mut self) {
        if let Err(e) = self
            .store
            .leave_group(&self.group, &self.topic, &self.member)
            .await
        {
            tracing::warn!(group = %self.group, error = %e, "leaving the worker group failed; the others take over after the TTL");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_url;

    #[test]
    fn url_options() {
        let o = parse_url("kafka://a:9092,b:9092?replication=3&session_timeout_ms=6000").unwrap();
        assert_eq!(o.brokers, "a:9092,b:9092");
        assert_eq!((o.replication, o.session_timeout_ms), (3, 6000));
        assert!(parse_url("kafka://").is_err());
        assert!(
            parse_url("kafka://a:1?bogus=1")
                .unwrap_err()
                .contains("bogus")
        );
    }
}
