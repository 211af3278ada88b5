//! The polite HTTP client every polling source shares: one declared User-Agent, a
//! request pace, rate-limit headers honoured before the platform has to say no, and
//! one place that turns an HTTP answer into "data", "wait this long", "retry later"
//! or "stop: the configuration is wrong" ([`SourceError`]).

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use tokio::time::Instant;

use super::SourceError;
use super::opts::Opts;

pub const DEFAULT_USER_AGENT: &str = concat!(
    "sigflow/",
    env!("CARGO_PKG_VERSION"),
    " (market signal pipeline; +https://github.com/sigflow/sigflow)"
);

/// The HTTP options every polling source takes.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub base_url: String,
    pub user_agent: String,
    /// Most requests per second (a pace, not a burst allowance).
    pub max_rps: f64,
    pub timeout: Duration,
    /// Environment variable holding a bearer token (never the token in the file).
    pub token_env: Option<String>,
    /// Wait for the window to reset once the platform says this few requests remain.
    pub low_water: f64,
    /// How long to stay away after a "you are blocked" page (SEC's 403: ~10 minutes).
    pub blocked_wait: Duration,
}

/// Defaults a source gives for its platform.
pub struct HttpDefaults {
    pub base_url: Option<&'static str>,
    pub max_rps: f64,
    pub max_rps_cap: f64,
    pub low_water: f64,
    pub token_env: Option<&'static str>,
    /// Seconds to stay away after a "blocked" answer.
    pub blocked_wait: u64,
}

impl HttpSettings {
    pub fn read(o: &mut Opts, d: HttpDefaults) -> HttpSettings {
        let base_url = match (o.string("base_url"), d.base_url) {
            (Some(u), _) => u,
            (None, Some(u)) => u.to_string(),
            (None, None) => o.required("base_url", "the server to poll, e.g. https://host"),
        };
        if !base_url.is_empty() {
            match reqwest::Url::parse(&base_url) {
                Err(_) => o
                    .errors
                    .push(format!("option `base_url`: `{base_url}` is not a URL")),
                Ok(u) => {
                    if let Err(e) = crate::net::check_scheme(&u) {
                        o.errors.push(format!("option `base_url`: {e}"));
                    }
                }
            }
        }
        HttpSettings {
            base_url: base_url.trim_end_matches('/').to_string(),
            user_agent: o
                .string("user_agent")
                .unwrap_or_else(|| DEFAULT_USER_AGENT.to_string()),
            max_rps: o.float("max_rps", d.max_rps, 0.001, d.max_rps_cap),
            timeout: Duration::from_secs(o.uint("timeout_secs", 30, 1, 600)),
            token_env: o.string("token_env").or(d.token_env.map(String::from)),
            low_water: o.float("rate_low_water", d.low_water, 0.0, 1e6),
            blocked_wait: Duration::from_secs(o.uint(
                "blocked_wait_secs",
                d.blocked_wait,
                1,
                86_400,
            )),
        }
    }
}

/// A response with a 2xx (or 304) status.
pub struct Fetched {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Fetched {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub struct Http {
    source: String,
    client: reqwest::Client,
    settings: HttpSettings,
    /// Earliest moment the next request may go out (pace and rate-limit windows).
    next_at: Instant,
    bearer: Option<String>,
}

impl Http {
    pub fn new(source: &str, settings: HttpSettings) -> Result<Http, String> {
        let client = crate::net::client_builder()
            .user_agent(settings.user_agent.clone())
            .timeout(settings.timeout)
            .build()
            .map_err(|e| format!("building the HTTP client: {e}"))?;
        let bearer = match &settings.token_env {
            Some(var) => match std::env::var(var) {
                Ok(t) if !t.trim().is_empty() => Some(t.trim().to_string()),
                _ => None,
            },
            None => None,
        };
        Ok(Http {
            source: source.to_string(),
            client,
            settings,
            next_at: Instant::now(),
            bearer,
        })
    }

    pub fn base(&self) -> &str {
        &self.settings.base_url
    }

    /// `path` under the base URL with `params` percent-encoded.
    pub fn url(&self, path: &str, params: &[(&str, &str)]) -> String {
        let mut u = reqwest::Url::parse(&format!("{}{path}", self.settings.base_url))
            .unwrap_or_else(|_| reqwest::Url::parse("http://invalid/").expect("static URL"));
        if !params.is_empty() {
            u.query_pairs_mut().extend_pairs(params);
        }
        u.to_string()
    }

    pub fn has_token(&self) -> bool {
        self.bearer.is_some()
    }

    pub fn set_bearer(&mut self, token: Option<String>) {
        self.bearer = token;
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// GET `url` (absolute, or a path under the base URL).
    pub async fn get(
        &mut self,
        url: &str,
        headers: &[(&str, &str)],
    ) -> Result<Fetched, SourceError> {
        let url = if url.starts_with("http://") || url.starts_with("https://") {
            url.to_string()
        } else {
            format!("{}{url}", self.settings.base_url)
        };
        let mut req = self.client.get(&url);
        for (k, v) in headers {
            if let (Ok(k), Ok(v)) = (HeaderName::try_from(*k), HeaderValue::from_str(v)) {
                req = req.header(k, v);
            }
        }
        if let Some(t) = &self.bearer {
            req = req.bearer_auth(t);
        }
        self.send(req, &url).await
    }

    /// Sends a prepared request through the same pace, limits and classification.
    pub async fn send(
        &mut self,
        req: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<Fetched, SourceError> {
        // Every URL in a message is shown with its credentials masked.
        let shown = sigflow_core::redact::redact_url(url);
        let url = shown.as_str();
        let (client, req) = req.build_split();
        let req = req.map_err(|e| SourceError::Fatal(format!("GET {url}: {}", e.without_url())))?;
        if let Err(e) = crate::net::check_url(req.url()) {
            return Err(SourceError::Fatal(format!("GET {url}: {e}")));
        }
        tokio::time::sleep_until(self.next_at).await;
        self.next_at = Instant::now() + Duration::from_secs_f64(1.0 / self.settings.max_rps);
        let started = std::time::Instant::now();
        let resp = client.execute(req).await.map_err(|e| {
            // reqwest's text names the URL unredacted; ours is already in the message.
            let e = e.without_url();
            let what = if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "cannot connect"
            } else {
                "request failed"
            };
            let why = crate::net::error_chain(&e);
            if crate::net::is_refusal(&e) {
                SourceError::Fatal(format!("GET {url}: {why}"))
            } else {
                SourceError::Transient(format!("GET {url}: {what}: {why}"))
            }
        })?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp
            .bytes()
            .await
            .map_err(|e| SourceError::Transient(format!("GET {url}: reading the body: {e}")))?
            .to_vec();
        metrics::counter!("sigflow_source_http_requests_total",
            "source" => self.source.clone(), "status" => status.as_u16().to_string())
        .increment(1);
        metrics::histogram!("sigflow_source_http_seconds", "source" => self.source.clone())
            .record(started.elapsed().as_secs_f64());
        if let Some(wait) = window_wait(&headers, self.settings.low_water) {
            tracing::info!(source = %self.source, wait_secs = wait.as_secs_f64(), "rate limit nearly used up; waiting for the window to reset");
            self.next_at = self.next_at.max(Instant::now() + wait);
        }
        classify(status, &headers, body, url, self.settings.blocked_wait)
    }
}

/// Turns an HTTP answer into data or the right kind of error. The one place that
/// decides retry (transient), wait (throttled) or stop (fatal) for every source.
pub fn classify(
    status: StatusCode,
    headers: &HeaderMap,
    body: Vec<u8>,
    url: &str,
    blocked_wait: Duration,
) -> Result<Fetched, SourceError> {
    let code = status.as_u16();
    if status.is_success() || code == 304 {
        return Ok(Fetched {
            status: code,
            headers: headers.clone(),
            body,
        });
    }
    let snippet = snippet(&body);
    if code == 429 {
        let wait = retry_after(headers)
            .or_else(|| reset_in(headers))
            .unwrap_or(Duration::from_secs(60));
        return Err(SourceError::Throttled {
            message: format!("GET {url}: HTTP 429 Too Many Requests ({snippet})"),
            wait,
        });
    }
    // SEC answers an over-eager or undeclared client with a 403 page and blocks it for
    // about ten minutes (`blocked_wait`): back off for that long instead of hammering.
    let lower = snippet.to_ascii_lowercase();
    if code == 403
        && (lower.contains("request rate threshold") || lower.contains("undeclared automated"))
    {
        return Err(SourceError::Throttled {
            message: format!("GET {url}: HTTP 403, rate threshold exceeded ({snippet})"),
            wait: blocked_wait,
        });
    }
    if status.is_server_error() || code == 408 {
        return Err(SourceError::Transient(format!(
            "GET {url}: HTTP {code} ({snippet})"
        )));
    }
    let hint = match code {
        401 => "; check the credentials (token_env)",
        403 => "; the server refuses this client (credentials, User-Agent or access)",
        404 | 410 => "; check the account, subreddit or URL in the source's options",
        _ => "",
    };
    Err(SourceError::Fatal(format!(
        "GET {url}: HTTP {code} ({snippet}){hint}"
    )))
}

/// The start of an upstream answer for an error message: whitespace folded, cut to
/// 200 characters, URLs in it redacted (an error page may echo the request).
pub(crate) fn snippet(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(&body[..body.len().min(600)]);
    let s: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let s = sigflow_core::redact::truncate(&sigflow_core::redact::redact(&s), 200);
    if s.is_empty() { "empty body".into() } else { s }
}

fn header<'a>(h: &'a HeaderMap, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|n| h.get(*n).and_then(|v| v.to_str().ok()))
        .map(str::trim)
}

/// `Retry-After`: seconds, or an HTTP date.
pub fn retry_after(h: &HeaderMap) -> Option<Duration> {
    let v = header(h, &["retry-after"])?;
    if let Ok(secs) = v.parse::<f64>() {
        return (secs >= 0.0 && secs.is_finite()).then(|| Duration::from_secs_f64(secs));
    }
    let at = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
    Some(until(at))
}

/// When the platform's rate window resets. Platforms disagree on the unit: Reddit sends
/// seconds from now, Mastodon and Truth Social an ISO-8601 time, X epoch seconds.
pub fn reset_in(h: &HeaderMap) -> Option<Duration> {
    let v = header(h, &["x-ratelimit-reset", "x-rate-limit-reset"])?;
    if let Ok(n) = v.parse::<f64>() {
        if !n.is_finite() || n < 0.0 {
            return None;
        }
        // Anything past 2001 as epoch seconds is a moment; below that, a duration.
        return Some(if n > 1e9 {
            until(DateTime::from_timestamp(n as i64, 0)?)
        } else {
            Duration::from_secs_f64(n)
        });
    }
    let at = DateTime::parse_from_rfc3339(v).ok()?.with_timezone(&Utc);
    Some(until(at))
}

fn until(at: DateTime<Utc>) -> Duration {
    (at - Utc::now()).to_std().unwrap_or(Duration::ZERO)
}

/// How long to hold the next request because the window is (nearly) used up.
fn window_wait(h: &HeaderMap, low_water: f64) -> Option<Duration> {
    let remaining: f64 = header(h, &["x-ratelimit-remaining", "x-rate-limit-remaining"])?
        .parse()
        .ok()?;
    if remaining > low_water {
        return None;
    }
    // Never park for more than an hour on one header: a wrong clock must not stall us.
    reset_in(h).map(|d| d.min(Duration::from_secs(3600)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(kv: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in kv {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn reset_headers_in_every_dialect() {
        let reddit = headers(&[("x-ratelimit-reset", "42")]);
        assert_eq!(reset_in(&reddit), Some(Duration::from_secs(42)));
        let at = (Utc::now() + chrono::Duration::seconds(100)).to_rfc3339();
        let masto = headers(&[("x-ratelimit-reset", &at)]);
        let d = reset_in(&masto).unwrap().as_secs();
        assert!((98..=100).contains(&d), "{d}");
        let epoch = (Utc::now().timestamp() + 100).to_string();
        let x = headers(&[("x-rate-limit-reset", &epoch)]);
        let d = reset_in(&x).unwrap().as_secs();
        assert!((98..=100).contains(&d), "{d}");
    }

    #[test]
    fn window_waits_only_when_nearly_used_up() {
        let h = headers(&[
            ("x-ratelimit-remaining", "598.0"),
            ("x-ratelimit-reset", "30"),
        ]);
        assert_eq!(window_wait(&h, 5.0), None);
        let h = headers(&[("x-ratelimit-remaining", "3"), ("x-ratelimit-reset", "30")]);
        assert_eq!(window_wait(&h, 5.0), Some(Duration::from_secs(30)));
    }

    const W: Duration = Duration::from_secs(600);

    #[test]
    fn statuses_are_classified_in_one_place() {
        let url = "http://x/y";
        let h = headers(&[("retry-after", "7")]);
        match classify(StatusCode::TOO_MANY_REQUESTS, &h, b"{}".to_vec(), url, W) {
            Err(SourceError::Throttled { wait, .. }) => assert_eq!(wait, Duration::from_secs(7)),
            _ => panic!("429 is throttled"),
        }
        let sec =
            b"<html>Your Request Originates from an Undeclared Automated Tool</html>".to_vec();
        assert!(matches!(
            classify(StatusCode::FORBIDDEN, &HeaderMap::new(), sec, url, W),
            Err(SourceError::Throttled { .. })
        ));
        assert!(matches!(
            classify(StatusCode::BAD_GATEWAY, &HeaderMap::new(), vec![], url, W),
            Err(SourceError::Transient(_))
        ));
        match classify(StatusCode::NOT_FOUND, &HeaderMap::new(), vec![], url, W) {
            Err(SourceError::Fatal(m)) => assert!(m.contains("check the account")),
            _ => panic!("404 is fatal"),
        }
        assert!(classify(StatusCode::OK, &HeaderMap::new(), vec![], url, W).is_ok());
    }
}
