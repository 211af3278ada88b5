//! Real servers for the distributed backends, started by the tests themselves on
//! 127.0.0.1 and stopped (by PID) when the guard drops. A server that is not installed
//! is a loud failure, never a silent skip.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::util::{free_port, http_get, wait_until};

/// moto's S3 server (in the image: `pip install 'moto[server]'` elsewhere).
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

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

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
