//! Real servers for the distributed backends, started by the tests themselves on
//! 127.0.0.1 and stopped (by PID) when the guard drops. A server that is not installed
//! is a loud failure, never a silent skip.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::util::{free_port, http_get, wait_until};

/// moto's S3 server (in the image: `pip install 'moto[server]'` elsewhere).
#[cfg(feature = "s3")]
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

#[cfg(feature = "s3")]
impl Moto {
    pub fn start() -> Moto {
        let port = free_port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start moto_server ({e}): install it with `pip install 'moto[server]'`"
                )
            });
        let endpoint = format!("http://127.0.0.1:{port}");
        let m = Moto { child, endpoint };
        wait_until("moto_server", Duration::from_secs(30), || {
            http_get(&format!("{}/moto-api/", m.endpoint)).is_ok_and(|(c, _)| c == 200)
        });
        m
    }

    /// Creates a bucket (moto takes unsigned requests).
    pub fn bucket(&self, name: &str) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let r = agent
            .put(&format!("{}/{name}", self.endpoint))
            .send_empty()
            .unwrap();
        assert!(
            r.status().is_success(),
            "create bucket {name}: {}",
            r.status()
        );
    }

    /// A lake URL for `bucket`/`prefix` on this server.
    pub fn lake_url(&self, bucket: &str, prefix: &str) -> String {
        format!(
            "s3://{bucket}/{prefix}?endpoint={}&access_key_id=test&secret_access_key=test",
            self.endpoint
        )
    }
}

#[cfg(feature = "s3")]
impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A throwaway PostgreSQL 15 cluster (Debian's binaries), on 127.0.0.1 with trust auth.
/// As root the server runs as user `postgres` (initdb refuses root).
#[cfg(feature = "postgres")]
pub struct Postgres {
    dir: std::path::PathBuf,
    pub port: u16,
    as_postgres: bool,
}

#[cfg(feature = "postgres")]
impl Postgres {
    const BIN: &'static str = "/usr/lib/postgresql/15/bin";

    fn cmd(&self, prog: &str) -> Command {
        let path = format!("{}/{prog}", Self::BIN);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", &path]);
            c
        } else {
            Command::new(path)
        }
    }

    pub fn start() -> Postgres {
        assert!(
            std::path::Path::new(Self::BIN).join("initdb").exists(),
            "PostgreSQL 15 not found in {}: install postgresql-15 (Debian) to run these tests",
            Self::BIN
        );
        let dir = std::env::temp_dir().join(format!("sigflow-pg-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        // geteuid has no preconditions and cannot fail.
        #[allow(unsafe_code)]
        let as_postgres = unsafe { libc::geteuid() } == 0;
        if as_postgres {
            let st = Command::new("chown")
                .args(["postgres:", dir.to_str().unwrap()])
                .status()
                .unwrap();
            assert!(st.success(), "chown {} to postgres", dir.display());
        }
        let pg = Postgres {
            dir,
            port: free_port(),
            as_postgres,
        };
        let data = pg.dir.join("data");
        let out = pg
            .cmd("initdb")
            .args([
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        pg.resume();
        pg
    }

    /// Starts the server on its port and data (at creation, and again after
    /// [`Postgres::stop`]).
    pub fn resume(&self) {
        let data = self.dir.join("data");
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            self.port,
            self.dir.display()
        );
        let out = self
            .cmd("pg_ctl")
            .args([
                "-D",
                data.to_str().unwrap(),
                "-l",
                self.dir.join("pg.log").to_str().unwrap(),
                "-w",
                "-o",
                &opts,
                "start",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Fast shutdown, keeping the data; true when pg_ctl says it stopped.
    fn pg_ctl_stop(&self) -> bool {
        let data = self.dir.join("data");
        self.cmd("pg_ctl")
            .args(["-D", data.to_str().unwrap(), "-m", "fast", "-w", "stop"])
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// Runs SQL through psql; returns its unaligned, tuples-only output.
    pub fn psql(&self, args: &[&str]) -> String {
        let out = Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-At",
            ])
            .args(args)
            .output()
            .expect("psql runs");
        assert!(
            out.status.success(),
            "psql {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

#[cfg(feature = "postgres")]
impl Drop for Postgres {
    fn drop(&mut self) {
        self.pg_ctl_stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A tansu broker (Kafka protocol) with its SQLite engine in a throwaway dir. The
/// binary comes from `$SIGFLOW_TANSU`, else `{test_tools()}/bin/tansu` (where
/// `scripts/test-tools.sh` installs it), else PATH.
#[cfg(feature = "kafka")]
pub struct Tansu {
    child: Option<Child>,
    dir: std::path::PathBuf,
    pub port: u16,
}

#[cfg(feature = "kafka")]
impl Tansu {
    fn bin() -> String {
        if let Ok(b) = std::env::var("SIGFLOW_TANSU") {
            return b;
        }
        let installed = format!("{}/bin/tansu", test_tools());
        if std::path::Path::new(&installed).exists() {
            return installed;
        }
        "tansu".into()
    }

    pub fn start() -> Tansu {
        let dir = std::env::temp_dir().join(format!("sigflow-tansu-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut t = Tansu {
            child: None,
            dir,
            port: free_port(),
        };
        t.restart();
        t
    }

    /// Starts the broker (again, on the same port and data).
    pub fn restart(&mut self) {
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let log = std::fs::File::create(self.dir.join("tansu.log")).unwrap();
        let child = Command::new(Self::bin())
            .current_dir(&self.dir)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
                "--storage-engine",
                "sqlite://tansu.db",
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start tansu ({e}): `.ci/run` installs it into /opt/sigflow-test-tools \
                     (cargo install tansu --version 0.6.0 --features dynostore,libsql)"
                )
            });
        self.child = Some(child);
        let port = self.port;
        wait_until("tansu", Duration::from_secs(30), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
    }

    pub fn url(&self) -> String {
        format!("kafka://127.0.0.1:{}?session_timeout_ms=6000", self.port)
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

#[cfg(feature = "kafka")]
impl Drop for Tansu {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(feature = "postgres")]
#[cfg_attr(not(feature = "kafka"), allow(dead_code))]
impl Postgres {
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// A store on this server, migrated on `rt` — the runtime that will use it (the
    /// pool's connections live on the runtime that opened them).
    pub fn migrated_store(
        &self,
        rt: &tokio::runtime::Runtime,
    ) -> std::sync::Arc<dyn sigflow::store::Store> {
        let store = sigflow::store::open(&self.url(), &Default::default())
            .unwrap()
            .store;
        rt.block_on(store.migrate()).expect("migrations apply");
        store
    }

    /// Stops the server, keeping its data: for outage tests.
    pub fn stop(&self) {
        assert!(self.pg_ctl_stop(), "pg_ctl stop");
    }
}

pub use crate::util::test_tools;
