//! `truthsocial` and `mastodon`: the statuses of accounts, through the Mastodon API
//! that Truth Social also speaks (`/api/v1/accounts/{id}/statuses`).
//!
//! Newest first; with `since_id` = the newest id seen, and paged backwards with
//! `max_id` when more arrived than one page holds, so nothing is skipped. Accounts may
//! be given by handle (`accounts`, looked up once per run) or by id (`account_ids`).
//! Rate limits: `x-ratelimit-remaining` / `x-ratelimit-reset` (an ISO time).
//!
//! The cursor (JSON) maps account id → newest status id seen.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use tokio::time::Instant;

use super::http::{Http, HttpDefaults, HttpSettings};
use super::opts::Opts;
use super::{Payload, Poll, Source, SourceError, snowflake_cmp};
use crate::sources::SourceConfig;

struct Settings {
    handles: Vec<String>,
    ids: Vec<String>,
    interval: Duration,
    backfill: u64,
    page: u64,
    max_pages: u64,
    exclude_replies: bool,
    exclude_reblogs: bool,
    http: HttpSettings,
}

fn read(cfg: &SourceConfig) -> (Settings, Vec<String>) {
    let truth = cfg.kind == "truthsocial";
    let mut o = Opts::new(cfg);
    let handles: Vec<String> = o
        .list("accounts")
        .into_iter()
        .map(|h| h.trim_start_matches('@').to_string())
        .collect();
    let ids = o.list("account_ids");
    if handles.is_empty() && ids.is_empty() {
        o.errors.push(format!(
            "option `accounts` (handles, e.g. [\"{}\"]) or `account_ids` is required",
            if truth { "realDonaldTrump" } else { "Gargron" }
        ));
    }
    if let Some(bad) = ids.iter().find(|i| !i.bytes().all(|b| b.is_ascii_digit())) {
        o.errors
            .push(format!("option `account_ids`: `{bad}` is not a numeric id"));
    }
    let http = HttpSettings::read(
        &mut o,
        HttpDefaults {
            base_url: truth.then_some("https://truthsocial.com"),
            max_rps: 1.0,
            max_rps_cap: 50.0,
            // truthbrush's rule for Truth Social: stop at 50 of 300 left.
            low_water: if truth { 50.0 } else { 5.0 },
            token_env: None,
            blocked_wait: 600,
        },
    );
    let s = Settings {
        handles,
        ids,
        interval: Duration::from_secs(o.uint("interval_secs", 60, 1, 86_400)),
        backfill: o.uint("backfill", 20, 0, 40),
        page: o.uint("page_size", if truth { 20 } else { 40 }, 1, 40),
        max_pages: o.uint("max_pages", 10, 1, 1000),
        exclude_replies: o.boolean("exclude_replies", true),
        exclude_reblogs: o.boolean("exclude_reblogs", false),
        http,
    };
    (s, o.finish())
}

pub(super) fn validate(cfg: &SourceConfig) -> Vec<String> {
    read(cfg).1
}

pub struct MastodonSource {
    name: String,
    format: &'static str,
    s: Settings,
    http: Http,
    /// Handles resolved to ids (once per run).
    resolved: Option<Vec<String>>,
    next_poll: Instant,
}

impl MastodonSource {
    pub fn from_config(cfg: &SourceConfig) -> Result<Self, String> {
        let (s, errs) = read(cfg);
        if !errs.is_empty() {
            return Err(errs.join("; "));
        }
        Ok(MastodonSource {
            name: cfg.name.clone(),
            format: if cfg.kind == "truthsocial" {
                "truthsocial"
            } else {
                "mastodon"
            },
            http: Http::new(&cfg.name, s.http.clone())?,
            s,
            resolved: None,
            next_poll: Instant::now(),
        })
    }

    async fn account_ids(&mut self) -> Result<Vec<String>, SourceError> {
        if let Some(ids) = &self.resolved {
            return Ok(ids.clone());
        }
        let mut ids = self.s.ids.clone();
        for h in self.s.handles.clone() {
            let r = self
                .http
                .get(&format!("/api/v1/accounts/lookup?acct={h}"), &[])
                .await?;
            let v: Value = serde_json::from_slice(&r.body).map_err(|e| {
                SourceError::Transient(format!("account lookup for @{h}: not JSON ({e})"))
            })?;
            let id = v["id"].as_str().ok_or_else(|| {
                SourceError::Fatal(format!("account lookup for @{h}: no id in the answer"))
            })?;
            ids.push(id.to_string());
        }
        self.resolved = Some(ids.clone());
        Ok(ids)
    }

    fn url(&self, account: &str, limit: u64, since: Option<&str>, max: Option<&str>) -> String {
        let mut u = format!("/api/v1/accounts/{account}/statuses?limit={limit}");
        if self.s.exclude_replies {
            u.push_str("&exclude_replies=true");
        }
        if self.s.exclude_reblogs {
            u.push_str("&exclude_reblogs=true");
        }
        if let Some(s) = since {
            u.push_str(&format!("&since_id={s}"));
        }
        if let Some(m) = max {
            u.push_str(&format!("&max_id={m}"));
        }
        u
    }

    /// New statuses of one account, pages newest first down to `since`.
    async fn fetch(
        &mut self,
        account: &str,
        since: Option<String>,
        out: &mut Vec<Payload>,
    ) -> Result<Option<String>, SourceError> {
        let Some(since) = since else {
            // First run: the newest `backfill` statuses (at least one, to learn the id).
            let url = self.url(account, self.s.backfill.max(1), None, None);
            let r = self.http.get(&url, &[]).await?;
            let ids = status_ids(&r.body);
            if self.s.backfill > 0 || ids.is_none() {
                out.push(self.payload(r.body, account));
            }
            return Ok(ids.and_then(|i| i.into_iter().max_by(|a, b| snowflake_cmp(a, b))));
        };
        let mut newest = since.clone();
        let mut max_id: Option<String> = None;
        for _ in 0..self.s.max_pages {
            let url = self.url(account, self.s.page, Some(&since), max_id.as_deref());
            let r = self.http.get(&url, &[]).await?;
            let Some(ids) = status_ids(&r.body) else {
                out.push(self.payload(r.body, account));
                return Ok(Some(since));
            };
            let fresh: Vec<&String> = ids
                .iter()
                .filter(|i| snowflake_cmp(i, &since).is_gt())
                .collect();
            if fresh.is_empty() {
                break;
            }
            for i in &fresh {
                if snowflake_cmp(i, &newest).is_gt() {
                    newest = (*i).clone();
                }
            }
            out.push(self.payload(r.body, account));
            if (ids.len() as u64) < self.s.page {
                break;
            }
            max_id = fresh
                .iter()
                .min_by(|a, b| snowflake_cmp(a, b))
                .map(|s| (*s).clone());
        }
        Ok(Some(newest))
    }

    fn payload(&self, body: Vec<u8>, account: &str) -> Payload {
        let mut meta = serde_json::Map::new();
        meta.insert("account_id".into(), Value::from(account));
        Payload {
            format: self.format.into(),
            body,
            meta,
        }
    }
}

/// Status ids of a statuses page, or None when it is not an array of statuses.
fn status_ids(body: &[u8]) -> Option<Vec<String>> {
    let v: Value = serde_json::from_slice(body).ok()?;
    v.as_array()?
        .iter()
        .map(|s| s.get("id").and_then(Value::as_str).map(String::from))
        .collect()
}

#[async_trait]
impl Source for MastodonSource {
    fn name(&self) -> &str {
        &self.name
    }

    async fn poll(&mut self, cursor: Option<&str>) -> Result<Poll, SourceError> {
        if let Some(idle) = super::too_early(self.next_poll) {
            return Ok(idle);
        }
        let mut cur: BTreeMap<String, String> = super::read_cursor(cursor, self.format)?;
        let mut out = Vec::new();
        for account in self.account_ids().await? {
            let since = cur.get(&account).cloned();
            if let Some(newest) = self.fetch(&account, since, &mut out).await? {
                cur.insert(account, newest);
            }
        }
        self.next_poll = Instant::now() + self.s.interval;
        Ok(super::answer(out, &cur, cursor, self.s.interval))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snowflakes_compare_as_numbers() {
        assert!(snowflake_cmp("114263195553516416", "99999999999999999").is_gt());
        assert!(snowflake_cmp("114263195553516416", "114263195553516417").is_lt());
    }

    #[test]
    fn ids_of_a_statuses_page() {
        assert_eq!(
            status_ids(br#"[{"id":"2"},{"id":"1"}]"#),
            Some(vec!["2".to_string(), "1".to_string()])
        );
        assert_eq!(status_ids(br#"{"error":"Record not found"}"#), None);
    }
}
