//! Helpers: a scratch directory, the real `sigflow` binary, a tiny HTTP client, and
//! readers for the demo manifest and the SQLite file.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A fresh directory, removed on drop (kept if the test panicked, for inspection).
pub struct TestDir {
    pub path: PathBuf,
}

impl TestDir {
    pub fn new(name: &str) -> TestDir {
        let path = std::env::temp_dir().join(format!("sigflow-it-{name}-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&path).unwrap();
        TestDir { path }
    }

    pub fn join(&self, p: &str) -> PathBuf {
        self.path.join(p)
    }

    pub fn data(&self) -> PathBuf {
        self.path.join("data")
    }

    pub fn db(&self) -> PathBuf {
        self.data().join("sigflow.db")
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.path);
        } else {
            eprintln!("test data kept in {}", self.path.display());
        }
    }
}

/// The real binary, with no SIGFLOW__* from the caller's environment leaking in.
pub fn sigflow() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sigflow"));
    for (k, _) in std::env::vars() {
        if k.starts_with("SIGFLOW__") || k == "RUST_LOG" {
            c.env_remove(k);
        }
    }
    c.env("SIGFLOW__LOGGING__FORMAT", "json");
    // The mock servers every test talks to are on loopback, which the outbound guard
    // refuses by default; the guard's own tests take this away again.
    c.env("SIGFLOW__OUTBOUND__ALLOW", r#"["127.0.0.1/32", "::1/128"]"#);
    c
}

pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("sigflow runs");
    assert!(
        out.status.success(),
        "sigflow failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A port that was free a moment ago, for a server a test starts next.
///
/// Taken below the kernel's ephemeral range (32768–60999 on Linux), in turn from a
/// per-process counter: a port the kernel hands out for `:0` can be handed again, a
/// moment later, to any outgoing connection of the tests running beside this one
/// (HTTP clients, PostgreSQL clients), and the server then fails to bind.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let offset = (std::process::id() % 64) * 150;
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = (20_000 + (offset + n) % 12_000) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
        assert!(n < 20_000, "no free port below the ephemeral range");
    }
}

pub fn http_get(url: &str) -> Result<(u16, String), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let mut resp = agent.get(url).call().map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let body = resp
        .body_mut()
        .read_to_string()
        .map_err(|e| e.to_string())?;
    Ok((status, body))
}

/// Any request with an optional bearer key; state changes send a JSON body (the
/// API refuses them without one). The status and the body as JSON (or a string).
pub fn request_as(key: Option<&str>, method: &str, url: &str, body: Option<Value>) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into();
    let auth = key.map(|k| format!("Bearer {k}"));
    let body = body.unwrap_or(serde_json::json!({}));
    let mut resp = match method {
        "POST" => {
            let mut r = agent.post(url);
            if let Some(a) = &auth {
                r = r.header("authorization", a);
            }
            r.send_json(body).unwrap()
        }
        "DELETE" => {
            let mut r = agent.delete(url).force_send_body();
            if let Some(a) = &auth {
                r = r.header("authorization", a);
            }
            r.send_json(body).unwrap()
        }
        _ => {
            let mut r = agent.get(url);
            if let Some(a) = &auth {
                r = r.header("authorization", a);
            }
            r.call().unwrap()
        }
    };
    let code = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap();
    (
        code,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Makes an API key with `scope` in the store that `args` (e.g. `--config F` or
/// `--data-dir D`) name; returns the key.
pub fn make_key(scope: &str, args: &[&std::ffi::OsStr]) -> String {
    let out = run_ok(
        sigflow()
            .args([
                "keys", "create", "--name", "test", "--scope", scope, "--json",
            ])
            .args(args),
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["key"].as_str().unwrap().to_string()
}

pub fn get_json(url: &str) -> (u16, Value) {
    let (s, b) = http_get(url).unwrap_or_else(|e| panic!("GET {url}: {e}"));
    (
        s,
        serde_json::from_str(&b).unwrap_or_else(|e| panic!("GET {url}: not JSON ({e}): {b}")),
    )
}

pub fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while t.elapsed() < timeout {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out after {timeout:?} waiting for {what}");
}

/// A running `sigflow` child that is killed if the test ends early.
pub struct Running {
    pub child: Child,
}

impl Running {
    /// The child's output is discarded unless SIGFLOW_IT_VERBOSE is set (debugging).
    pub fn spawn(cmd: &mut Command) -> Running {
        let verbose = std::env::var_os("SIGFLOW_IT_VERBOSE").is_some();
        let out = || {
            if verbose {
                Stdio::inherit()
            } else {
                Stdio::null()
            }
        };
        Running {
            child: cmd
                .stdout(out())
                .stderr(out())
                .spawn()
                .expect("spawn sigflow"),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn manifest() -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("demo/dataset/manifest.json");
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// The content ids the demo must store: one per good `platform:source_id` key.
pub fn expected_ids() -> std::collections::BTreeSet<String> {
    manifest()["good_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            let (platform, id) = k.as_str().unwrap().split_once(':').unwrap();
            sigflow::model::content_id(platform, id).to_string()
        })
        .collect()
}

pub fn db(path: &Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(path).unwrap();
    c.busy_timeout(Duration::from_secs(10)).unwrap();
    c
}

pub fn count(conn: &rusqlite::Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// `count` for a probe that polls while the binary starts: the database
/// file appears before the migrations have created its tables, so any
/// error (no such table, locked mid-migration) reads as "nothing yet".
pub fn count_while_starting(path: &Path, sql: &str) -> i64 {
    if !path.exists() {
        return 0;
    }
    db(path).query_row(sql, [], |r| r.get(0)).unwrap_or(0)
}

pub fn stored_ids(conn: &rusqlite::Connection) -> std::collections::BTreeSet<String> {
    let mut st = conn.prepare("SELECT id FROM contents").unwrap();
    st.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

/// `sigflow demo` at `speed` into `dir`'s data directory, API on a free port.
pub fn demo_cmd(dir: &TestDir, speed: &str) -> Command {
    let mut c = sigflow();
    c.args([
        "demo",
        "--speed",
        speed,
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
    ])
    .arg(dir.data());
    c
}

/// `sigflow demo --speed max` into `dir` with the API on a free port, once the API
/// answers and all 1,200 items are stored. Returns the child (killed on drop) and the
/// API's base URL.
pub fn demo_with_api(dir: &TestDir) -> (Running, String) {
    demo_with_api_env(dir, &[])
}

/// `demo_with_api` with extra environment (e.g. `SIGFLOW__API__RATE_PER_IP`).
pub fn demo_with_api_env(dir: &TestDir, env: &[(&str, &str)]) -> (Running, String) {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let run = Running::spawn(
        sigflow()
            .envs(env.iter().copied())
            .args([
                "demo",
                "--speed",
                "max",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(dir.data()),
    );
    wait_until(
        "the API and all 1200 items",
        Duration::from_secs(60),
        || {
            http_get(&format!("{base}/readyz")).is_ok()
                && count(&db(&dir.db()), "SELECT COUNT(*) FROM contents") == 1200
        },
    );
    (run, base)
}

/// `demo --speed max --exit-when-idle` into `dir`, to completion.
pub fn demo_to_idle(dir: &TestDir, extra: &[&str]) -> Output {
    run_ok(demo_cmd(dir, "max").arg("--exit-when-idle").args(extra))
}

/// A config with short retries for source tests, then `sources` (TOML) appended.
pub fn source_config(dir: &TestDir, sources: &str) -> PathBuf {
    let cfg = dir.join("sigflow.toml");
    std::fs::write(
        &cfg,
        format!(
            "data_dir = \"{}\"\n[pipeline]\nretry_initial_ms = 50\nretry_max_ms = 500\n{sources}",
            dir.data().display()
        ),
    )
    .unwrap();
    cfg
}

/// Items stored from `source` (the content's platform) so far.
pub fn stored(dir: &TestDir, source: &str) -> i64 {
    // Polled while the binary starts: before its migrations, nothing is stored yet.
    count_while_starting(
        &dir.db(),
        &format!("SELECT COUNT(*) FROM contents WHERE source = '{source}'"),
    )
}

/// Where `scripts/test-tools.sh` installs what the image lacks.
pub fn test_tools() -> String {
    std::env::var("SIGFLOW_TEST_TOOLS").unwrap_or_else(|_| "/opt/sigflow-test-tools".into())
}
