//! The whole pipeline on Kafka (tansu) + PostgreSQL 15 + S3 (moto), through the real
//! binary, on servers the tests start themselves: the Foundation guarantees again
//! (exactly once across kill -9), scale-out of one role with a worker killed,
//! interop with a client that is not sigflow, and a PostgreSQL outage.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::servers::{Moto, Postgres, Tansu};
use crate::util::*;

struct Cluster {
    tansu: Tansu,
    pg: Postgres,
    _moto: Moto,
    lake: String,
    partitions: u32,
}

impl Cluster {
    fn start(partitions: u32) -> Cluster {
        let moto = Moto::start();
        moto.bucket("lake");
        let c = Cluster {
            lake: moto.lake_url("lake", "sigflow"),
            tansu: Tansu::start(),
            pg: Postgres::start(),
            _moto: moto,
            partitions,
        };
        // As a deployment does before starting workers.
        run_ok(c.env(&mut sigflow()).arg("migrate"));
        c
    }

    /// The backends of this cluster, as a deployment sets them: env, not flags.
    fn env<'c>(&self, c: &'c mut Command) -> &'c mut Command {
        c.env("SIGFLOW__STORE", self.pg.url())
            .env("SIGFLOW__LOG", self.tansu.url())
            .env("SIGFLOW__LAKE", &self.lake)
            .env("SIGFLOW__TOPICS__PARTITIONS", self.partitions.to_string())
    }

    /// Stored ids, read through the store's repositories (as the API reads them).
    fn ids(&self) -> BTreeSet<String> {
        crate::crash::Probe::open(self).outcome().ids
    }

    /// A count, through the store's own database handle (no psql).
    fn count(&self, sql: &str) -> i64 {
        crate::crash::Probe::open(self).count(sql)
    }
}

fn demo(cluster: &Cluster, dir: &TestDir, speed: &str) -> Command {
    let mut c = demo_cmd(dir, speed);
    cluster.env(&mut c);
    c
}

impl crate::crash::Deployment for Cluster {
    fn name(&self) -> &'static str {
        "distributed (postgres + kafka + s3)"
    }
    fn env<'c>(&self, c: &'c mut Command) -> &'c mut Command {
        Cluster::env(self, c)
    }
    fn store_url(&self) -> String {
        self.pg.url()
    }
    fn log_url(&self) -> Option<String> {
        Some(self.tansu.url())
    }
    fn kill_after_ms(&self) -> std::ops::Range<u64> {
        600..2_500
    }
}

#[test]
fn demo_on_kafka_postgres_s3_exactly_once_across_kills() {
    let cluster = Cluster::start(4);
    let dir = TestDir::new("kafka-demo");
    // The same scenario as the embedded one (crash.rs), read through the same probe.
    crate::crash::sigkill_until_mid_run_kills(&cluster, &dir, 5, None);
    // The API serves the items from PostgreSQL.
    let (run, base) = {
        let port = free_port();
        let mut c = sigflow();
        cluster.env(&mut c);
        c.args(["demo", "--speed", "max", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(dir.data());
        (Running::spawn(&mut c), format!("http://127.0.0.1:{port}"))
    };
    wait_until("API", Duration::from_secs(30), || {
        http_get(&format!("{base}/healthz")).is_ok()
    });
    let (code, page) = get_json(&format!("{base}/api/v1/contents?limit=5&source=reddit"));
    assert_eq!(code, 200, "{page}");
    assert_eq!(page["items"].as_array().unwrap().len(), 5, "{page}");
    drop(run);
}

#[test]
fn replay_on_kafka_postgres_s3_changes_nothing() {
    let cluster = Cluster::start(4);
    // The same scenario as the embedded one (replay.rs), read through the same probe.
    crate::replay::replay_changes_nothing(&cluster, &TestDir::new("kafka-replay"));
}

/// A config whose only source is the demo dataset at `speed`.
fn demo_source_config(dir: &TestDir, speed: &str) -> std::path::PathBuf {
    source_config(
        dir,
        &format!("[[sources]]\nname = \"demo\"\nkind = \"demo\"\nspeed = \"{speed}\"\n"),
    )
}

#[test]
fn two_normalize_workers_share_partitions_and_survive_one_killed() {
    let cluster = Cluster::start(4);
    let dir = TestDir::new("kafka-scale");
    let cfg = demo_source_config(&dir, "150");
    let role = |r: &str, log: &str| {
        let mut c = sigflow();
        cluster.env(&mut c);
        c.args(["run", "--no-api", "--role", r, "--config"])
            .arg(&cfg)
            .env("SIGFLOW__LOGGING__FORMAT", "json")
            .stderr(std::fs::File::create(dir.join(log)).unwrap());
        c
    };
    // Start the workers first so the group forms before the records arrive.
    // Each child is killed when its guard drops, also when an assertion fails.
    let start = |r: &str, log: &str| Running {
        child: role(r, log).spawn().unwrap(),
    };
    let mut w1 = start("normalize", "w1.log");
    let w2 = start("normalize", "w2.log");
    let enrich = start("enrich", "enrich.log");
    std::thread::sleep(Duration::from_secs(2));
    let ingest = start("ingest", "ingest.log");
    let assigned = |log: &str| -> Vec<String> {
        std::fs::read_to_string(dir.join(log))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("partitions assigned") && l.contains("normalize"))
            .map(String::from)
            .collect()
    };
    wait_until(
        "both workers to own partitions",
        Duration::from_secs(60),
        || !assigned("w1.log").is_empty() && !assigned("w2.log").is_empty(),
    );
    wait_until("a third of the items", Duration::from_secs(120), || {
        cluster.count("SELECT count(*) FROM contents") >= 400
    });
    let _ = w1.child.kill();
    let _ = w1.child.wait();
    let killed_at = Instant::now();
    wait_until("every item stored", Duration::from_secs(180), || {
        cluster.count("SELECT count(*) FROM contents") >= 1200
            && cluster.count("SELECT count(*) FROM dlq") >= 9
    });
    // Let in-flight duplicates (re-processed after the takeover) land, if any.
    std::thread::sleep(Duration::from_secs(2));
    drop((w2, enrich, ingest));
    assert_eq!(cluster.ids(), expected_ids(), "every item exactly once");
    assert_eq!(cluster.count("SELECT count(*) FROM dlq"), 9);
    // The survivor took over all four partitions after the kill.
    let last = assigned("w2.log").pop().unwrap();
    assert!(
        last.contains(r#""owned":"[0, 1, 2, 3]""#),
        "w2's last assignment has every partition: {last}"
    );
    eprintln!(
        "takeover: all items stored {:.1} s after the kill",
        killed_at.elapsed().as_secs_f64()
    );
}

fn python() -> Command {
    let mut c = Command::new("python3");
    c.env("PYTHONPATH", format!("{}/py", crate::servers::test_tools()));
    c
}

#[test]
fn a_client_that_is_not_sigflow_produces_raw_and_reads_content() {
    let cluster = Cluster::start(2);
    let dir = TestDir::new("kafka-interop");
    // sigflow creates the topics and runs the stages (no sources).
    let mut run = {
        let mut c = sigflow();
        cluster.env(&mut c);
        Running::spawn(c.args(["run", "--no-api", "--data-dir"]).arg(dir.data()))
    };
    let script = dir.join("client.py");
    std::fs::File::create(&script)
        .unwrap()
        .write_all(INTEROP_PY.as_bytes())
        .unwrap();
    let endpoint = cluster.lake.split("endpoint=").nth(1).unwrap();
    let endpoint = endpoint.split('&').next().unwrap();
    let out = python()
        .arg(&script)
        .args([&cluster.tansu.bootstrap(), endpoint])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the client failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("PRODUCED raw"), "{stdout}");
    assert!(
        stdout.contains("READ content newswire pr-interop-1"),
        "{stdout}"
    );
    // And the item is in the store, enriched.
    wait_until("stored", Duration::from_secs(30), || {
        cluster.count("SELECT count(*) FROM contents WHERE source_id = 'pr-interop-1'") == 1
    });
    let _ = run.child.kill();
}

/// confluent-kafka (librdkafka 2.x) and boto3: file a payload in the lake, produce its
/// raw event, then read `content` in a group of its own until the item shows up.
const INTEROP_PY: &str = r#"
import hashlib, json, sys, time, datetime
import boto3
from confluent_kafka import Producer, Consumer

bootstrap, endpoint = sys.argv[1], sys.argv[2]
body = (json.dumps({"id": "pr-interop-1", "platform": "newswire",
                    "text": "Acme Corp ($ACME) raises guidance after record quarter",
                    "happened_at": "2026-11-20T13:30:00Z"}) + "\n").encode()
sha = hashlib.sha256(body).hexdigest()
today = datetime.datetime.now(datetime.timezone.utc)
key = f"jsonl/raw/{today:%Y/%m/%d}/{sha}.jsonl"
s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="test",
                  aws_secret_access_key="test", region_name="us-east-1")
s3.put_object(Bucket="lake", Key="sigflow/" + key, Body=body)
event = {"schema_version": 1, "source": "partner-feed", "format": "jsonl", "lake_key": key,
         "content_type": "application/x-ndjson", "bytes": len(body), "sha256": sha,
         "observed_at": today.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
p.produce("raw", key=f"partner-feed:{sha}", value=json.dumps(event))
assert p.flush(30) == 0, "raw event not delivered"
print("PRODUCED raw", key, flush=True)
c = Consumer({"bootstrap.servers": bootstrap, "group.id": "interop-reader",
              "auto.offset.reset": "earliest"})
c.subscribe(["content"])
deadline = time.time() + 60
while time.time() < deadline:
    m = c.poll(1.0)
    if m is None or m.error():
        continue
    item = json.loads(m.value())
    assert item["schema_version"] == 1
    if item["source_id"] == "pr-interop-1":
        print("READ content", item["source"], item["source_id"], flush=True)
        break
c.close()
"#;

#[test]
fn postgres_down_for_20_seconds_pauses_and_loses_nothing() {
    let cluster = Cluster::start(2);
    let dir = TestDir::new("kafka-pg-outage");
    let mut run = Running::spawn(demo(&cluster, &dir, "200").arg("--exit-when-idle"));
    wait_until("some items", Duration::from_secs(60), || {
        cluster.count("SELECT count(*) FROM contents") >= 100
    });
    cluster.pg.stop();
    std::thread::sleep(Duration::from_secs(20));
    assert!(
        run.child.try_wait().unwrap().is_none(),
        "sigflow kept running through the outage"
    );
    cluster.pg.resume();
    let t = Instant::now();
    let status = loop {
        if let Some(s) = run.child.try_wait().unwrap() {
            break s;
        }
        assert!(t.elapsed() < Duration::from_secs(180), "did not finish");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(status.success());
    assert_eq!(cluster.ids(), expected_ids(), "0 lost");
    assert_eq!(
        cluster.count("SELECT count(*) FROM dlq"),
        9,
        "only the planted poison: nothing dead-lettered because of the outage"
    );
}
