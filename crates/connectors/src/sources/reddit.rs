//! `reddit`: a subreddit's `/new` listing, newest first, paged with `after` until the
//! newest post already seen; and a **tiered refresh** of recent posts, so that their
//! score and comment counts are observed over time (each refresh is a payload whose
//! items carry a new `observed_at`: the velocity enricher turns the pairs into rates).
//!
//! Without credentials it reads the public JSON (`www.reddit.com/r/{sub}/new.json`,
//! about 10 requests a minute); with `client_id_env`/`client_secret_env` it takes an
//! app-only OAuth token and reads `oauth.reddit.com` (100 requests a minute).
//!
//! The cursor (JSON) holds, per subreddit, the newest post seen, and the posts still
//! being refreshed with their next due time: a restart resumes both.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::time::Instant;

use super::http::{Http, HttpDefaults, HttpSettings};
use super::opts::Opts;
use super::{Payload, Poll, Source, SourceError};
use crate::sources::SourceConfig;

/// Reddit serves at most 100 posts per listing page, and `/by_id` takes 100 names.
const PAGE: u64 = 100;

#[derive(Debug, Clone, Copy, PartialEq)]
struct Tier {
    /// Posts younger than this (seconds) are refreshed…
    max_age: i64,
    /// …this often (seconds).
    every: i64,
}

struct Settings {
    subs: Vec<String>,
    interval: Duration,
    backfill: u64,
    max_pages: u64,
    tiers: Vec<Tier>,
    max_active: usize,
    oauth: Option<OAuth>,
    http: HttpSettings,
}

struct OAuth {
    client_id: String,
    secret: String,
    token_url: String,
}

fn read(cfg: &SourceConfig) -> (Settings, Vec<String>) {
    let mut o = Opts::new(cfg);
    let subs: Vec<String> = o
        .list("subreddits")
        .into_iter()
        .map(|s| {
            s.trim_start_matches("r/")
                .trim_start_matches("/r/")
                .to_string()
        })
        .collect();
    if subs.is_empty() {
        o.errors
            .push("option `subreddits` (e.g. [\"wallstreetbets\", \"stocks\"]) is required".into());
    }
    let id_env = o.string("client_id_env");
    let secret_env = o.string("client_secret_env");
    let token_url = o
        .string("token_url")
        .unwrap_or_else(|| "https://www.reddit.com/api/v1/access_token".into());
    let oauth = match (id_env, secret_env) {
        (Some(i), Some(s)) => match (std::env::var(&i), std::env::var(&s)) {
            (Ok(id), Ok(secret)) if !id.is_empty() && !secret.is_empty() => Some(OAuth {
                client_id: id,
                secret,
                token_url,
            }),
            _ => {
                o.errors.push(format!(
                    "options `client_id_env`/`client_secret_env`: set both ${i} and ${s}, or remove the options to use the public JSON"
                ));
                None
            }
        },
        (None, None) => None,
        _ => {
            o.errors.push(
                "options `client_id_env` and `client_secret_env` go together (app-only OAuth)"
                    .into(),
            );
            None
        }
    };
    let tiers = match o.raw("refresh_tiers") {
        None => vec![
            Tier {
                max_age: 300,
                every: 300,
            },
            Tier {
                max_age: 3600,
                every: 1800,
            },
            Tier {
                max_age: 86_400,
                every: 7200,
            },
        ],
        Some(v) => parse_tiers(v).unwrap_or_else(|e| {
            o.errors.push(format!("option `refresh_tiers`: {e}"));
            Vec::new()
        }),
    };
    let refresh = o.boolean("refresh", true);
    let http = HttpSettings::read(
        &mut o,
        HttpDefaults {
            base_url: Some(if oauth.is_some() {
                "https://oauth.reddit.com"
            } else {
                "https://www.reddit.com"
            }),
            // Public JSON allows about 10 requests a minute, OAuth 100.
            max_rps: if oauth.is_some() { 1.5 } else { 0.15 },
            max_rps_cap: 100.0,
            low_water: 2.0,
            token_env: None,
            blocked_wait: 600,
        },
    );
    let s = Settings {
        subs,
        interval: Duration::from_secs(o.uint("interval_secs", 60, 1, 86_400)),
        backfill: o.uint("backfill", 25, 0, PAGE),
        max_pages: o.uint("max_pages", 5, 1, 100),
        tiers: if refresh { tiers } else { Vec::new() },
        max_active: o.uint("max_active", 1000, 0, 100_000) as usize,
        oauth,
        http,
    };
    (s, o.finish())
}

fn parse_tiers(v: &toml::Value) -> Result<Vec<Tier>, String> {
    let arr = v
        .as_array()
        .ok_or("expected a list of { max_age_secs, every_secs } tables")?;
    let mut out = Vec::new();
    for t in arr {
        let get = |k: &str| {
            t.get(k)
                .and_then(toml::Value::as_integer)
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("each tier needs a positive `{k}`"))
        };
        out.push(Tier {
            max_age: get("max_age_secs")?,
            every: get("every_secs")?,
        });
    }
    if out.windows(2).any(|w| w[0].max_age >= w[1].max_age) {
        return Err("tiers must be listed by increasing max_age_secs".into());
    }
    Ok(out)
}

pub(super) fn validate(cfg: &SourceConfig) -> Vec<String> {
    read(cfg).1
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Cursor {
    #[serde(default)]
    subs: BTreeMap<String, SubCursor>,
    /// Posts being refreshed: fullname, created (epoch s), next refresh (epoch s).
    #[serde(default)]
    active: Vec<(String, i64, i64)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SubCursor {
    newest: String,
    newest_utc: f64,
}

pub struct RedditSource {
    name: String,
    s: Settings,
    http: Http,
    token_expires: Option<Instant>,
    next_listing: Instant,
}

impl RedditSource {
    pub fn from_config(cfg: &SourceConfig) -> Result<Self, String> {
        let (s, errs) = read(cfg);
        if !errs.is_empty() {
            return Err(errs.join("; "));
        }
        Ok(RedditSource {
            name: cfg.name.clone(),
            http: Http::new(&cfg.name, s.http.clone())?,
            s,
            token_expires: None,
            next_listing: Instant::now(),
        })
    }

    async fn ensure_token(&mut self) -> Result<(), SourceError> {
        let Some(oauth) = &self.s.oauth else {
            return Ok(());
        };
        if self.token_expires.is_some_and(|t| Instant::now() < t) {
            return Ok(());
        }
        let basic = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", oauth.client_id, oauth.secret));
        let req = self
            .http
            .client()
            .post(&oauth.token_url)
            .header("authorization", format!("Basic {basic}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials");
        let url = oauth.token_url.clone();
        let r = self.http.send(req, &url).await?;
        let v: Value = serde_json::from_slice(&r.body)
            .map_err(|e| SourceError::Transient(format!("token response is not JSON: {e}")))?;
        let token = v["access_token"].as_str().ok_or_else(|| {
            SourceError::Fatal(format!(
                "no access_token from {url}: {}; check the client id and secret",
                v.get("error").unwrap_or(&Value::Null)
            ))
        })?;
        let secs = v["expires_in"].as_u64().unwrap_or(3600);
        self.http.set_bearer(Some(token.to_string()));
        // Renew a minute early so no request goes out with a token about to lapse.
        self.token_expires = Some(Instant::now() + Duration::from_secs(secs.saturating_sub(60)));
        Ok(())
    }

    fn listing_path(&self, sub: &str) -> String {
        if self.s.oauth.is_some() {
            format!("/r/{sub}/new")
        } else {
            format!("/r/{sub}/new.json")
        }
    }

    /// New posts of one subreddit since the cursor: pages newest first until a post
    /// already seen (or `max_pages`).
    async fn fetch_new(
        &mut self,
        sub: &str,
        cur: &mut Cursor,
        now: i64,
        out: &mut Vec<Payload>,
    ) -> Result<(), SourceError> {
        let seen = cur.subs.get(sub).cloned();
        let limit = if seen.is_none() {
            self.s.backfill.max(1)
        } else {
            PAGE
        };
        let mut after: Option<String> = None;
        let mut newest: Option<SubCursor> = None;
        for _ in 0..self.s.max_pages {
            let mut url = format!("{}?limit={limit}&raw_json=1", self.listing_path(sub));
            if let Some(a) = &after {
                url.push_str(&format!("&after={a}"));
            }
            self.ensure_token().await?;
            let r = self.http.get(&url, &[]).await?;
            let page = Listing::parse(&r.body);
            let Some(page) = page else {
                // Not a listing: hand it over as it is, so normalize dead-letters it with
                // the reason; the cursor stays, so the next poll asks again.
                out.push(self.payload(r.body, sub, false));
                return Ok(());
            };
            if newest.is_none()
                && let Some(first) = page.posts.first()
            {
                newest = Some(SubCursor {
                    newest: first.0.clone(),
                    newest_utc: first.1,
                });
            }
            let fresh: Vec<&(String, f64)> = page
                .posts
                .iter()
                .take_while(|(name, created)| match &seen {
                    Some(s) => *name != s.newest && *created >= s.newest_utc,
                    None => true,
                })
                .collect();
            let reached_seen = fresh.len() < page.posts.len();
            let deliver = match &seen {
                None => self.s.backfill > 0,
                Some(_) => !fresh.is_empty(),
            };
            for (name, created) in &fresh {
                self.track(cur, name, *created as i64, now);
            }
            if deliver {
                out.push(self.payload(r.body, sub, false));
            }
            if seen.is_none() || reached_seen {
                break;
            }
            match page.after {
                Some(a) => after = Some(a),
                None => break,
            }
        }
        if let Some(n) = newest {
            cur.subs.insert(sub.to_string(), n);
        }
        Ok(())
    }

    /// Starts refreshing a new post (unless refresh is off or it is already too old).
    fn track(&self, cur: &mut Cursor, name: &str, created: i64, now: i64) {
        if cur.active.iter().any(|(n, _, _)| n == name) {
            return;
        }
        if let Some(next) = next_refresh(&self.s.tiers, created, now) {
            cur.active.push((name.to_string(), created, next));
        }
        // Bounded: past the cap, the oldest posts stop being refreshed first.
        if cur.active.len() > self.s.max_active {
            cur.active
                .sort_by_key(|(_, created, _)| std::cmp::Reverse(*created));
            cur.active.truncate(self.s.max_active);
        }
    }

    /// Refreshes every post that is due, 100 per request.
    async fn refresh_due(
        &mut self,
        cur: &mut Cursor,
        now: i64,
        out: &mut Vec<Payload>,
    ) -> Result<(), SourceError> {
        let mut due: Vec<String> = cur
            .active
            .iter()
            .filter(|(_, _, next)| *next <= now)
            .map(|(n, _, _)| n.clone())
            .collect();
        due.truncate(3 * PAGE as usize);
        for chunk in due.chunks(PAGE as usize) {
            let names = chunk.join(",");
            let path = if self.s.oauth.is_some() {
                format!("/by_id/{names}?raw_json=1")
            } else {
                format!("/by_id/{names}.json?raw_json=1")
            };
            self.ensure_token().await?;
            let r = self.http.get(&path, &[]).await?;
            out.push(self.payload(r.body, "", true));
            for (name, created, next) in cur.active.iter_mut() {
                if chunk.contains(name) {
                    *next = next_refresh(&self.s.tiers, *created, now).unwrap_or(i64::MAX);
                }
            }
        }
        cur.active.retain(|(_, _, next)| *next != i64::MAX);
        Ok(())
    }

    fn payload(&self, body: Vec<u8>, sub: &str, refresh: bool) -> Payload {
        let mut meta = serde_json::Map::new();
        if !sub.is_empty() {
            meta.insert("subreddit".into(), Value::from(sub));
        }
        if refresh {
            meta.insert("refresh".into(), Value::Bool(true));
        }
        Payload {
            format: "reddit".into(),
            body,
            meta,
        }
    }
}

/// When a post created at `created` is refreshed next, or None once it is past the
/// last tier (inactive).
fn next_refresh(tiers: &[Tier], created: i64, now: i64) -> Option<i64> {
    let age = now - created;
    tiers
        .iter()
        .find(|t| age < t.max_age)
        .map(|t| now + t.every)
}

/// What the source itself needs from a listing: names and creation times, and `after`.
struct Listing {
    posts: Vec<(String, f64)>,
    after: Option<String>,
}

impl Listing {
    fn parse(body: &[u8]) -> Option<Listing> {
        let v: Value = serde_json::from_slice(body).ok()?;
        let data = v.get("data")?;
        let posts = data
            .get("children")?
            .as_array()?
            .iter()
            .filter_map(|c| {
                let d = c.get("data")?;
                let name = d.get("name")?.as_str()?.to_string();
                Some((name, d.get("created_utc")?.as_f64()?))
            })
            .collect();
        let after = data
            .get("after")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(String::from);
        Some(Listing { posts, after })
    }
}

#[async_trait]
impl Source for RedditSource {
    fn name(&self) -> &str {
        &self.name
    }

    async fn poll(&mut self, cursor: Option<&str>) -> Result<Poll, SourceError> {
        let mut cur: Cursor = super::read_cursor(cursor, "reddit")?;
        let now = chrono::Utc::now().timestamp();
        let mut out = Vec::new();
        if Instant::now() >= self.next_listing {
            for sub in self.s.subs.clone() {
                self.fetch_new(&sub, &mut cur, now, &mut out).await?;
            }
            self.next_listing = Instant::now() + self.s.interval;
        }
        self.refresh_due(&mut cur, now, &mut out).await?;
        let next = serde_json::to_string(&cur).expect("cursor serializes");
        if out.is_empty() && cursor == Some(next.as_str()) {
            let until_listing = self.next_listing.saturating_duration_since(Instant::now());
            let until_refresh = cur
                .active
                .iter()
                .map(|(_, _, n)| Duration::from_secs((n - now).max(1) as u64))
                .min()
                .unwrap_or(until_listing);
            return Ok(Poll::Idle(
                until_listing
                    .min(until_refresh)
                    .max(Duration::from_millis(200)),
            ));
        }
        Ok(Poll::Payloads {
            payloads: out,
            cursor: next,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiers() -> Vec<Tier> {
        parse_tiers(
            &toml::from_str::<toml::Table>(
                "t = [{max_age_secs = 300, every_secs = 300}, {max_age_secs = 3600, every_secs = 1800}, {max_age_secs = 86400, every_secs = 7200}]",
            )
            .unwrap()["t"],
        )
        .unwrap()
    }

    #[test]
    fn refresh_tiers_by_age() {
        let t = tiers();
        let now = 1_000_000;
        assert_eq!(next_refresh(&t, now - 60, now), Some(now + 300));
        assert_eq!(next_refresh(&t, now - 600, now), Some(now + 1800));
        assert_eq!(next_refresh(&t, now - 7200, now), Some(now + 7200));
        assert_eq!(next_refresh(&t, now - 90_000, now), None);
    }

    #[test]
    fn tiers_must_increase() {
        let v: toml::Table = toml::from_str(
            "t = [{max_age_secs = 3600, every_secs = 1}, {max_age_secs = 300, every_secs = 1}]",
        )
        .unwrap();
        assert!(parse_tiers(&v["t"]).is_err());
    }

    #[test]
    fn listing_names_and_after() {
        let body = br#"{"kind":"Listing","data":{"after":"t3_b","children":[
            {"kind":"t3","data":{"name":"t3_a","created_utc":1700000000}},
            {"kind":"t3","data":{"name":"t3_b","created_utc":1699999999.0}}]}}"#;
        let l = Listing::parse(body).unwrap();
        assert_eq!(l.posts.len(), 2);
        assert_eq!(l.posts[1], ("t3_b".to_string(), 1_699_999_999.0));
        assert_eq!(l.after.as_deref(), Some("t3_b"));
        assert!(Listing::parse(b"<html>").is_none());
    }
}
