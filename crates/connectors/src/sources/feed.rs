//! `rss` and `fed`: a feed URL polled with conditional GETs (ETag / Last-Modified), so
//! an unchanged feed costs a 304 and nothing downstream. A changed feed is handed over
//! whole; items are upserts on their guid, so entries seen before change nothing.
//!
//! `fed` is the Federal Reserve's press-release feed (CDATA, BOM) with its own
//! normalizer; `rss` is any RSS 2.0 / RSS 1.0 / Atom feed; `congress` is a disclosure
//! file (House/Senate Stock Watcher JSON, the House Clerk's FD index XML) named by
//! `format`.
//!
//! The cursor (JSON) holds the validators and the hash of the last body delivered.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::http::{Http, HttpDefaults, HttpSettings};
use super::opts::Opts;
use super::{Payload, Poll, Source, SourceError};
use crate::sources::SourceConfig;

const FED_PRESS: &str = "https://www.federalreserve.gov/feeds/press_all.xml";

const CONGRESS_FORMATS: &[&str] = &["house-watcher", "senate-watcher", "house-clerk"];

struct Settings {
    format: &'static str,
    urls: Vec<String>,
    /// A feed's first poll takes only items disclosed within this many days (a
    /// congressional aggregate file holds years of trades).
    backfill_days: u64,
    interval: Duration,
    http: HttpSettings,
}

fn read(cfg: &SourceConfig) -> (Settings, Vec<String>) {
    let fed = cfg.kind == "fed";
    let mut o = Opts::new(cfg);
    let format = match cfg.kind.as_str() {
        "fed" => "fed",
        "congress" => {
            let f = o.required(
                "format",
                "one of house-watcher, senate-watcher, house-clerk",
            );
            match CONGRESS_FORMATS.iter().find(|k| **k == f) {
                Some(k) => k,
                None => {
                    if !f.is_empty() {
                        o.errors.push(format!(
                            "option `format`: `{f}` is not one of {}",
                            CONGRESS_FORMATS.join(", ")
                        ));
                    }
                    "house-watcher"
                }
            }
        }
        _ => "rss",
    };
    let mut urls = o.list("urls");
    if let Some(u) = o.string("url") {
        urls.insert(0, u);
    }
    if urls.is_empty() {
        if fed {
            urls.push(FED_PRESS.into());
        } else {
            o.errors
                .push("option `url` (or `urls`, a list of feed URLs) is required".into());
        }
    }
    for u in &urls {
        if !matches!(reqwest::Url::parse(u), Ok(p) if matches!(p.scheme(), "http" | "https")) {
            o.errors
                .push(format!("feed URL `{u}` is not an http(s) URL"));
        }
    }
    let http = HttpSettings::read(
        &mut o,
        HttpDefaults {
            // Feeds are absolute URLs; the base is unused but must parse.
            base_url: Some("https://localhost"),
            max_rps: 1.0,
            max_rps_cap: 10.0,
            low_water: 0.0,
            token_env: None,
            blocked_wait: 600,
        },
    );
    let default_days = match format {
        "fed" => 14,
        "rss" => 7,
        _ => 30,
    };
    let s = Settings {
        format,
        urls,
        backfill_days: o.uint("backfill_days", default_days, 0, 36_500),
        interval: Duration::from_secs(o.uint(
            "interval_secs",
            if fed { 300 } else { 600 },
            1,
            86_400,
        )),
        http,
    };
    (s, o.finish())
}

pub(super) fn validate(cfg: &SourceConfig) -> Vec<String> {
    read(cfg).1
}

#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq)]
struct Seen {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_modified: Option<String>,
    #[serde(default)]
    sha256: String,
    /// Items disclosed before this are not taken (fixed at the first poll).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    since: Option<chrono::DateTime<chrono::Utc>>,
}

pub struct FeedSource {
    name: String,
    format: &'static str,
    s: Settings,
    http: Http,
    next_poll: Instant,
}

impl FeedSource {
    pub fn from_config(cfg: &SourceConfig) -> Result<Self, String> {
        let (s, errs) = read(cfg);
        if !errs.is_empty() {
            return Err(errs.join("; "));
        }
        Ok(FeedSource {
            name: cfg.name.clone(),
            format: s.format,
            http: Http::new(&cfg.name, s.http.clone())?,
            s,
            next_poll: Instant::now(),
        })
    }
}

#[async_trait]
impl Source for FeedSource {
    fn name(&self) -> &str {
        &self.name
    }

    async fn poll(&mut self, cursor: Option<&str>) -> Result<Poll, SourceError> {
        if let Some(idle) = super::too_early(self.next_poll) {
            return Ok(idle);
        }
        let mut cur: std::collections::BTreeMap<String, Seen> = super::read_cursor(cursor, "feed")?;
        let mut out = Vec::new();
        for url in self.s.urls.clone() {
            let seen = cur.get(&url).cloned().unwrap_or_default();
            let mut headers = Vec::new();
            if let Some(e) = &seen.etag {
                headers.push(("if-none-match", e.as_str()));
            }
            if let Some(m) = &seen.last_modified {
                headers.push(("if-modified-since", m.as_str()));
            }
            let r = self.http.get(&url, &headers).await?;
            if r.status == 304 {
                continue;
            }
            let sha = crate::lake::sha256_hex(&r.body);
            let since = seen.since.unwrap_or_else(|| {
                chrono::Utc::now() - chrono::Duration::days(self.s.backfill_days as i64)
            });
            let next = Seen {
                etag: r.header("etag").map(String::from),
                last_modified: r.header("last-modified").map(String::from),
                sha256: sha.clone(),
                since: Some(since),
            };
            if sha != seen.sha256 {
                let mut meta = serde_json::Map::new();
                meta.insert("url".into(), serde_json::Value::from(url.as_str()));
                // Normalize drops items disclosed before this (see stages/normalize.rs).
                meta.insert(
                    "not_before".into(),
                    serde_json::Value::from(since.to_rfc3339()),
                );
                out.push(Payload {
                    format: self.format.into(),
                    body: r.body,
                    meta,
                });
            }
            cur.insert(url, next);
        }
        self.next_poll = Instant::now() + self.s.interval;
        Ok(super::answer(out, &cur, cursor, self.s.interval))
    }
}
