//! An outbound webhook: POST a JSON body to one URL with an `Idempotency-Key` header
//! (so a receiver can drop the one repeat a crash may cause) and classify the answer.
//!
//! Webhook URLs often carry their secret in the path or query (Slack, Discord, most
//! "incoming webhook" services), so the URL never appears in what this module says:
//! errors, dead letters, logs and `/readyz` name only scheme, host and port.

use std::time::Duration;

use crate::error::{ErrorClass, StageError, classify_delivery};

/// Most characters of an answer kept (in the journal and in error messages): enough
/// to say why, not a copy of the receiver's page.
const ANSWER_CHARS: usize = 200;

pub struct Webhook {
    client: reqwest::Client,
    url: url::Url,
    /// `scheme://host[:port]`: what messages say instead of the URL.
    shown: String,
}

/// The URL if a webhook can be delivered to it (absolute http or https), else why not.
/// Shared by config validation and [`Webhook::new`]; the message leaves the URL out.
pub fn check_url(url: &str) -> Result<url::Url, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("not a URL ({e})"))?;
    crate::net::check_scheme(&parsed)?;
    Ok(parsed)
}

/// `scheme://host[:port]` of `url`: no path, query or credentials.
fn shown(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or("?");
    match url.port() {
        Some(p) => format!("{}://{host}:{p}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    }
}

impl Webhook {
    pub fn new(url: &str, timeout: Duration) -> Result<Webhook, String> {
        let url = check_url(url)?;
        let client = crate::net::client_builder()
            .timeout(timeout)
            .user_agent(crate::sources::http::DEFAULT_USER_AGENT)
            // A webhook answers itself; a redirect is a misconfiguration, not a hop.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(Webhook {
            client,
            shown: shown(&url),
            url,
        })
    }

    /// Delivers `body`; returns the answer's status and first characters. Network
    /// errors and retryable statuses are transient; other refusals are poison.
    pub async fn post(&self, key: &str, body: Vec<u8>) -> Result<(u16, String), StageError> {
        // A literal address is never resolved, so the guard checks it here; names
        // are checked by the guard's resolver as they connect.
        crate::net::check_url(&self.url)
            .map_err(|e| StageError::poison(format!("POST {}: {e}", self.shown)))?;
        let answer = self
            .client
            .post(self.url.clone())
            .header("content-type", "application/json")
            .header("idempotency-key", key)
            .body(body)
            .send()
            .await
            // reqwest's message names the URL; this one must not.
            .map_err(|e| {
                let e = e.without_url();
                let message = format!("POST {}: {}", self.shown, crate::net::error_chain(&e));
                if crate::net::is_refusal(&e) {
                    StageError::poison(message)
                } else {
                    StageError::transient(message)
                }
            })?;
        let status = answer.status().as_u16();
        let text = answer.text().await.unwrap_or_default();
        let text: String = text
            .chars()
            .take(ANSWER_CHARS)
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        match classify_delivery(status) {
            None => Ok((status, text)),
            Some(class) => {
                let message = format!("POST {}: HTTP {status}: {text}", self.shown);
                Err(match class {
                    ErrorClass::Transient => StageError::transient(message),
                    _ => StageError::poison(message),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_host_never_the_secret_path() {
        let u = check_url("https://hooks.example.com/services/T0/B0/s3cr3t?token=x").unwrap();
        assert_eq!(shown(&u), "https://hooks.example.com");
        let u = check_url("http://user:pw@127.0.0.1:9000/in").unwrap();
        assert_eq!(shown(&u), "http://127.0.0.1:9000");
        for bad in [
            "file:///etc/passwd",
            "gopher://x/",
            "not a url",
            "mailto:a@b",
        ] {
            let e = check_url(bad).unwrap_err();
            assert!(!e.contains("passwd") && !e.contains("gopher"), "{e}");
        }
    }
}
