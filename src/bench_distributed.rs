//! `sigflow bench --suite distributed`: the pipeline on Kafka + PostgreSQL next to the
//! embedded pipeline, in one run, and one role scaled from 1 to 2 worker processes.
//!
//! The servers are the user's (`--store postgres://…`, `--log kafka://…`); every
//! distributed phase gets a database of its own (created on that server) and empty
//! topics (deleted and created again), so phases do not see each other's records.
//! Phases run as child processes, like the embedded bench (`bench.rs`).
//!
//! * e2e — synthetic source → … → store as fast as possible, one process, all roles.
//! * latency — the same offered `--rate` items/s; p50/p99 of `stored_at − observed_at`.
//! * workers ×1 / ×2 — `sigflow run --role ingest,enrich --exit-when-idle` plus 1 or 2
//!   `sigflow run --role normalize` processes sharing the `raw` partitions.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::Context;
use serde::Serialize;

use crate::bench::{BenchArgs, PhaseResult};

#[derive(Debug, Serialize)]
struct Report {
    embedded_e2e: PhaseResult,
    embedded_latency: PhaseResult,
    distributed_e2e: PhaseResult,
    distributed_latency: PhaseResult,
    distributed_latency_low: PhaseResult,
    workers: Vec<(u32, f64)>,
}

/// The same URL with another database name (the path after HOST:PORT).
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_end = base[scheme_end..]
        .find('/')
        .map(|i| scheme_end + i)
        .unwrap_or(base.len());
    format!("{}/{db}{query}", &base[..host_end])
}

async fn fresh_database(url: &str, name: &str) -> anyhow::Result<String> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .context("connecting to the benchmark's PostgreSQL")?;
    tokio::spawn(conn);
    // One statement each: several in one call would run as one transaction, where
    // DROP/CREATE DATABASE are refused.
    for sql in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ] {
        client
            .batch_execute(&sql)
            .await
            .map_err(|e| anyhow::anyhow!(crate::store::StoreError::from(e)))?;
    }
    Ok(with_database(url, name))
}

async fn fresh_topics(log_url: &str) -> anyhow::Result<()> {
    let log = crate::log::kafka::KafkaLog::open(log_url)?;
    log.delete_topics(&crate::runtime::services::topics())
        .await?;
    Ok(())
}

pub async fn run(a: &BenchArgs) -> anyhow::Result<()> {
    let (store, log) = match (&a.store, &a.log) {
        (Some(s), Some(l)) => (s.clone(), l.clone()),
        _ => anyhow::bail!(
            "--suite distributed needs --store postgres://… and --log kafka://… (servers to measure on)"
        ),
    };
    let dir = std::env::temp_dir().join(format!("sigflow-bench-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir)?;
    let exe = std::env::current_exe()?;
    let phase = |name: &str, phase: &str, items: u64, rate: f64, env: &[(&str, String)]| {
        let sub = dir.join(name);
        eprintln!("bench: {name} ({phase}, {items} items) …");
        let mut c = Command::new(&exe);
        c.args(["bench", "--phase", phase, "--items", &items.to_string()])
            .args(["--page-size", &a.page_size.to_string()])
            .args(["--rate", &rate.to_string()])
            .args(["--latency-secs", &a.latency_secs.to_string()])
            .arg("--dir")
            .arg(&sub)
            .env("SIGFLOW__LOGGING__LEVEL", "warn")
            .stderr(Stdio::inherit());
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.output().context("running a bench phase")?;
        if !out.status.success() {
            anyhow::bail!("bench phase {name} failed ({})", out.status);
        }
        let r: PhaseResult = serde_json::from_slice(&out.stdout)
            .with_context(|| format!("{name} printed {}", String::from_utf8_lossy(&out.stdout)))?;
        Ok(r)
    };
    let distributed_env = |db: String| {
        vec![
            ("SIGFLOW__STORE", db),
            ("SIGFLOW__LOG", log.clone()),
            ("SIGFLOW__TOPICS__PARTITIONS", a.partitions.to_string()),
        ]
    };

    let embedded_e2e = phase("embedded-e2e", "e2e", a.items, a.rate, &[])?;
    let embedded_latency = phase("embedded-latency", "latency", 0, a.rate, &[])?;
    fresh_topics(&log).await?;
    let db = fresh_database(&store, "sigflow_bench_e2e").await?;
    let distributed_e2e = phase(
        "distributed-e2e",
        "e2e",
        a.items,
        a.rate,
        &distributed_env(db),
    )?;
    fresh_topics(&log).await?;
    let db = fresh_database(&store, "sigflow_bench_latency").await?;
    let distributed_latency = phase(
        "distributed-latency",
        "latency",
        0,
        a.rate,
        &distributed_env(db),
    )?;
    fresh_topics(&log).await?;
    let db = fresh_database(&store, "sigflow_bench_latency_low").await?;
    let distributed_latency_low = phase(
        "distributed-latency-low",
        "latency",
        0,
        a.distributed_rate,
        &distributed_env(db),
    )?;

    let mut workers = Vec::new();
    for n in [1u32, 2] {
        fresh_topics(&log).await?;
        let db = fresh_database(&store, &format!("sigflow_bench_workers{n}")).await?;
        let rate = scale_out(
            &exe,
            &dir.join(format!("workers-{n}")),
            a,
            n,
            &distributed_env(db),
        )?;
        workers.push((n, rate));
    }
    let _ = std::fs::remove_dir_all(&dir);

    let r = Report {
        embedded_e2e,
        embedded_latency,
        distributed_e2e,
        distributed_latency,
        distributed_latency_low,
        workers,
    };
    if a.json {
        println!("{}", serde_json::to_string(&r)?);
        return Ok(());
    }
    let ms = |v: Option<f64>| {
        v.map(|x| format!("{x:.1} ms"))
            .unwrap_or_else(|| "-".into())
    };
    println!("sigflow bench — distributed (Kafka log + PostgreSQL store) next to embedded");
    println!("{:<46} {:>12} {:>11} {:>11}", "", "items/s", "p50", "p99");
    for (label, p) in [
        ("embedded e2e (SQLite + embedded log)", &r.embedded_e2e),
        ("distributed e2e (PostgreSQL + Kafka)", &r.distributed_e2e),
    ] {
        println!(
            "{:<46} {:>12.0} {:>11} {:>11}",
            format!("{label}, {} items", p.items),
            p.per_sec,
            "-",
            "-"
        );
    }
    for (label, rate, p) in [
        ("embedded", a.rate, &r.embedded_latency),
        ("distributed", a.rate, &r.distributed_latency),
        (
            "distributed",
            a.distributed_rate,
            &r.distributed_latency_low,
        ),
    ] {
        println!(
            "{:<46} {:>12.0} {:>11} {:>11}",
            format!("{label} latency, offered {rate:.0}/s"),
            p.per_sec,
            ms(p.p50_ms),
            ms(p.p99_ms)
        );
    }
    for (n, rate) in &r.workers {
        println!(
            "{:<46} {:>12.0}",
            format!("{n} normalize worker process(es), {} items", a.items),
            rate
        );
    }
    Ok(())
}

/// One `ingest,enrich` process and `n` normalize processes; items/s until the first
/// one sees the whole pipeline idle.
fn scale_out(
    exe: &Path,
    dir: &Path,
    a: &BenchArgs,
    n: u32,
    env: &[(&str, String)],
) -> anyhow::Result<f64> {
    std::fs::create_dir_all(dir)?;
    let cfg = dir.join("bench.toml");
    std::fs::write(
        &cfg,
        format!(
            "data_dir = \"{}\"\n[api]\nenabled = false\n[[sources]]\nname = \"bench\"\nkind = \"synthetic\"\nitems = {}\npage_size = {}\nrate = \"max\"\n",
            dir.display(),
            a.items,
            a.page_size
        ),
    )?;
    let spawn = |roles: &str, idle: bool| -> anyhow::Result<std::process::Child> {
        let mut c = Command::new(exe);
        c.args(["run", "--role", roles, "--config"])
            .arg(&cfg)
            .env("SIGFLOW__LOGGING__LEVEL", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if idle {
            c.arg("--exit-when-idle");
        }
        for (k, v) in env {
            c.env(k, v);
        }
        Ok(c.spawn()?)
    };
    eprintln!("bench: {n} normalize worker(s), {} items …", a.items);
    // The migration and the topics first, so every process starts on the same schema.
    let status = Command::new(exe)
        .args(["topics", "create", "--config"])
        .arg(&cfg)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .status()?;
    anyhow::ensure!(status.success(), "creating the topics failed");
    let mut workers: Vec<std::process::Child> = (0..n)
        .map(|_| spawn("normalize", false))
        .collect::<anyhow::Result<_>>()?;
    let t = Instant::now();
    let mut main = spawn("ingest,enrich", true)?;
    let status = main.wait()?;
    let secs = t.elapsed().as_secs_f64();
    for w in &mut workers {
        let _ = w.kill();
        let _ = w.wait();
    }
    anyhow::ensure!(status.success(), "the ingest,enrich process failed");
    Ok(a.items as f64 / secs)
}
