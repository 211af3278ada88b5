//! `x`: X API v2 — user timelines (`/2/users/{id}/tweets`) and recent search
//! (`/2/tweets/search/recent`), with a bearer token from the environment.
//!
//! Each stream keeps `since_id` = the newest tweet id seen (`meta.newest_id`); when more
//! arrived than a page holds, pages follow `meta.next_token` (sent back as
//! `pagination_token` on timelines, `next_token` on search). Rate limits arrive as
//! `x-rate-limit-remaining` / `x-rate-limit-reset` (epoch seconds).
//!
//! The cursor (JSON) maps stream (`user:{id}` or `search`) → newest id.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use tokio::time::Instant;

use super::http::{Http, HttpDefaults, HttpSettings};
use super::opts::Opts;
use super::{Payload, Poll, Source, SourceError, snowflake_cmp};
use crate::sources::SourceConfig;

const FIELDS: &[(&str, &str)] = &[
    (
        "tweet.fields",
        "created_at,public_metrics,entities,referenced_tweets,conversation_id,lang,author_id",
    ),
    ("expansions", "author_id"),
    ("user.fields", "username,name,verified"),
];

struct Settings {
    user_ids: Vec<String>,
    usernames: Vec<String>,
    query: Option<String>,
    interval: Duration,
    backfill: u64,
    max_pages: u64,
    http: HttpSettings,
}

fn read(cfg: &SourceConfig) -> (Settings, Vec<String>) {
    let mut o = Opts::new(cfg);
    let user_ids = o.list("user_ids");
    let usernames: Vec<String> = o
        .list("usernames")
        .into_iter()
        .map(|u| u.trim_start_matches('@').to_string())
        .collect();
    let query = o.string("query");
    if user_ids.is_empty() && usernames.is_empty() && query.is_none() {
        o.errors.push(
            "one of `user_ids`, `usernames` or `query` (recent search, e.g. \"$TSLA -is:retweet\") is required"
                .into(),
        );
    }
    let http = HttpSettings::read(
        &mut o,
        HttpDefaults {
            base_url: Some("https://api.x.com"),
            max_rps: 1.0,
            max_rps_cap: 50.0,
            low_water: 1.0,
            token_env: Some("X_BEARER_TOKEN"),
            blocked_wait: 600,
        },
    );
    if let Some(var) = &http.token_env
        && std::env::var(var).map_or(true, |v| v.trim().is_empty())
    {
        o.errors.push(format!(
            "the X API needs a bearer token: set ${var} (or name another variable with `token_env`)"
        ));
    }
    let s = Settings {
        user_ids,
        usernames,
        query,
        // X's lower tiers allow a handful of timeline reads per 15 minutes.
        interval: Duration::from_secs(o.uint("interval_secs", 300, 1, 86_400)),
        backfill: o.uint("backfill", 10, 0, 100),
        max_pages: o.uint("max_pages", 5, 1, 100),
        http,
    };
    (s, o.finish())
}

pub(super) fn validate(cfg: &SourceConfig) -> Vec<String> {
    read(cfg).1
}

pub struct XSource {
    name: String,
    s: Settings,
    http: Http,
    resolved: Option<Vec<String>>,
    next_poll: Instant,
}

impl XSource {
    pub fn from_config(cfg: &SourceConfig) -> Result<Self, String> {
        let (s, errs) = read(cfg);
        if !errs.is_empty() {
            return Err(errs.join("; "));
        }
        Ok(XSource {
            name: cfg.name.clone(),
            http: Http::new(&cfg.name, s.http.clone())?,
            s,
            resolved: None,
            next_poll: Instant::now(),
        })
    }

    async fn user_ids(&mut self) -> Result<Vec<String>, SourceError> {
        if let Some(ids) = &self.resolved {
            return Ok(ids.clone());
        }
        let mut ids = self.s.user_ids.clone();
        if !self.s.usernames.is_empty() {
            let names = self.s.usernames.join(",");
            let url = self.http.url("/2/users/by", &[("usernames", &names)]);
            let r = self.http.get(&url, &[]).await?;
            let v: Value = serde_json::from_slice(&r.body)
                .map_err(|e| SourceError::Transient(format!("user lookup: not JSON ({e})")))?;
            for u in v["data"].as_array().into_iter().flatten() {
                if let Some(id) = u["id"].as_str() {
                    ids.push(id.to_string());
                }
            }
            if let Some(errs) = v["errors"].as_array()
                && !errs.is_empty()
            {
                return Err(SourceError::Fatal(format!(
                    "user lookup failed for some usernames: {}",
                    Value::Array(errs.clone())
                )));
            }
        }
        self.resolved = Some(ids.clone());
        Ok(ids)
    }

    /// New tweets of one stream since `since`; returns the newest id.
    async fn fetch(
        &mut self,
        stream: &str,
        since: Option<String>,
        out: &mut Vec<Payload>,
    ) -> Result<Option<String>, SourceError> {
        let (path, token_param, min) = match stream.strip_prefix("user:") {
            Some(id) => (format!("/2/users/{id}/tweets"), "pagination_token", 5),
            None => ("/2/tweets/search/recent".to_string(), "next_token", 10),
        };
        let first = since.is_none();
        let max = if first { self.s.backfill.max(min) } else { 100 };
        let max_s = max.to_string();
        let mut newest = since.clone();
        let mut token: Option<String> = None;
        for _ in 0..self.s.max_pages {
            let mut params: Vec<(&str, &str)> = FIELDS.to_vec();
            params.push(("max_results", &max_s));
            if let Some(q) = &self.s.query
                && stream == "search"
            {
                params.push(("query", q));
            }
            if let Some(s) = &since {
                params.push(("since_id", s));
            }
            if let Some(t) = &token {
                params.push((token_param, t));
            }
            let url = self.http.url(&path, &params);
            let r = self.http.get(&url, &[]).await?;
            let meta = serde_json::from_slice::<Value>(&r.body)
                .ok()
                .and_then(|v| v.get("meta").cloned());
            let Some(meta) = meta else {
                // Not a v2 answer: the normalizer dead-letters it with the reason.
                out.push(self.payload(r.body, stream));
                return Ok(since);
            };
            let count = meta["result_count"].as_u64().unwrap_or(0);
            if let Some(n) = meta["newest_id"].as_str()
                && newest
                    .as_deref()
                    .is_none_or(|cur| snowflake_cmp(n, cur).is_gt())
            {
                newest = Some(n.to_string());
            }
            if count > 0 && (!first || self.s.backfill > 0) {
                out.push(self.payload(r.body, stream));
            }
            token = meta["next_token"].as_str().map(String::from);
            if first || token.is_none() || count == 0 {
                break;
            }
        }
        Ok(newest)
    }

    fn payload(&self, body: Vec<u8>, stream: &str) -> Payload {
        let mut meta = serde_json::Map::new();
        meta.insert("stream".into(), Value::from(stream));
        Payload {
            format: "x".into(),
            body,
            meta,
        }
    }
}

#[async_trait]
impl Source for XSource {
    fn name(&self) -> &str {
        &self.name
    }

    async fn poll(&mut self, cursor: Option<&str>) -> Result<Poll, SourceError> {
        if let Some(idle) = super::too_early(self.next_poll) {
            return Ok(idle);
        }
        let mut cur: BTreeMap<String, String> = super::read_cursor(cursor, "x")?;
        let mut streams: Vec<String> = self
            .user_ids()
            .await?
            .into_iter()
            .map(|id| format!("user:{id}"))
            .collect();
        if self.s.query.is_some() {
            streams.push("search".into());
        }
        let mut out = Vec::new();
        for stream in streams {
            let since = cur.get(&stream).cloned();
            if let Some(n) = self.fetch(&stream, since, &mut out).await? {
                cur.insert(stream, n);
            }
        }
        self.next_poll = Instant::now() + self.s.interval;
        Ok(super::answer(out, &cur, cursor, self.s.interval))
    }
}
