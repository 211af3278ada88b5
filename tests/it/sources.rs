//! Polling sources against a local mock of each platform, through the real binary:
//! paging and cursor resume across a kill, Reddit's tiered refresh feeding velocity,
//! 429/5xx handling with the waits observed, malformed bodies to the DLQ, and a fatal
//! answer stopping only its own source.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::mock_http::{MockServer, Req, Resp};
use crate::util::*;

/// A Reddit `t3` child in the shape of the real listing (fields sigflow reads and a
/// realistic set of the rest).
fn reddit_post(id: &str, created: i64, score: i64, title: &str) -> Value {
    json!({"kind": "t3", "data": {
        "approved_at_utc": null, "subreddit": "stocks", "selftext": format!("{title} — thoughts?"),
        "author_fullname": "t2_9x8y7z", "saved": false, "gilded": 0, "clicked": false,
        "title": title, "subreddit_name_prefixed": "r/stocks", "hidden": false, "downs": 0,
        "name": format!("t3_{id}"), "quarantine": false, "upvote_ratio": 0.97, "ups": score,
        "total_awards_received": 0, "link_flair_text": "Discussion", "score": score,
        "thumbnail": "self", "edited": false, "is_self": true, "created": created + 28800,
        "domain": "self.stocks", "selftext_html": null, "archived": false, "over_18": false,
        "spoiler": false, "locked": false, "distinguished": null, "subreddit_id": "t5_2qjfk",
        "id": id, "author": "value_hunter", "num_comments": score / 4,
        "permalink": format!("/r/stocks/comments/{id}/post/"), "stickied": false,
        "url": format!("https://www.reddit.com/r/stocks/comments/{id}/post/"),
        "subreddit_subscribers": 9_100_000, "created_utc": created, "num_crossposts": 0,
        "media": null, "is_video": false
    }})
}

fn listing(children: Vec<Value>, after: Option<String>) -> Vec<u8> {
    json!({"kind": "Listing", "data": {"modhash": null, "dist": children.len(),
        "children": children, "after": after, "before": null}})
    .to_string()
    .into_bytes()
}

/// The mock subreddit: posts newest first; each refresh adds 10 to a post's score.
#[derive(Default)]
struct Subreddit {
    posts: Vec<(String, i64, String)>,
    refreshes: std::collections::HashMap<String, i64>,
}

impl Subreddit {
    fn add(&mut self, id: &str, created: i64) {
        self.posts.insert(
            0,
            (
                id.to_string(),
                created,
                format!("Is $NVDA still a buy? ({id})"),
            ),
        );
    }

    fn answer(&mut self, r: &Req) -> Resp {
        let path = r.path();
        if path == "/r/stocks/new.json" {
            // Pages of at most 3, like the real one's 100.
            let limit: usize = r.query("limit").and_then(|l| l.parse().ok()).unwrap_or(25);
            let start = match r.query("after") {
                Some(a) => self
                    .posts
                    .iter()
                    .position(|p| format!("t3_{}", p.0) == a)
                    .map_or(self.posts.len(), |i| i + 1),
                None => 0,
            };
            let page: Vec<_> = self.posts.iter().skip(start).take(limit.min(3)).collect();
            let after = (start + page.len() < self.posts.len())
                .then(|| format!("t3_{}", page.last().unwrap().0));
            let children = page
                .iter()
                .map(|(id, c, t)| reddit_post(id, *c, 100, t))
                .collect();
            return Resp::json(200, listing(children, after))
                .with("x-ratelimit-remaining", "95.0")
                .with("x-ratelimit-used", "5")
                .with("x-ratelimit-reset", "300");
        }
        if let Some(names) = path.strip_prefix("/by_id/") {
            let names = names.trim_end_matches(".json");
            let mut children = Vec::new();
            for name in names.split(',') {
                let id = name.trim_start_matches("t3_");
                if let Some((_, c, t)) = self.posts.iter().find(|p| p.0 == id) {
                    let n = self.refreshes.entry(id.to_string()).or_insert(0);
                    *n += 1;
                    children.push(reddit_post(id, *c, 100 + 10 * *n, t));
                }
            }
            return Resp::json(200, listing(children, None));
        }
        Resp::json(404, r#"{"message": "Not Found", "error": 404}"#)
    }
}

#[test]
fn reddit_pages_to_the_last_seen_post_refreshes_and_resumes_after_a_kill() {
    let dir = TestDir::new("src-reddit");
    let now = chrono::Utc::now().timestamp();
    let sub = Arc::new(Mutex::new(Subreddit::default()));
    for (i, id) in ["a1", "a2", "a3", "a4"].iter().enumerate() {
        sub.lock().unwrap().add(id, now - 400 + i as i64 * 10);
    }
    let mock = {
        let sub = sub.clone();
        MockServer::start(move |r| sub.lock().unwrap().answer(r))
    };
    let cfg = source_config(
        &dir,
        &format!(
            "[[sources]]\nname = \"wsb\"\nkind = \"reddit\"\nsubreddits = [\"stocks\"]\nbase_url = \"{}\"\n\
             interval_secs = 1\nbackfill = 2\nmax_rps = 50\nrefresh_tiers = [{{max_age_secs = 3600, every_secs = 1}}]\n",
            mock.base
        ),
    );
    let start = || Running::spawn(sigflow().args(["run", "--no-api", "--config"]).arg(&cfg));
    let mut run = start();

    // First poll: only the configured backfill (the newest two), not the whole history.
    wait_until("the backfill", Duration::from_secs(20), || {
        stored(&dir, "reddit") == 2
    });
    let first = &mock.hits("/r/stocks/new.json")[0];
    assert_eq!(first.query("limit").as_deref(), Some("2"));
    assert!(
        first.header("user-agent").unwrap().starts_with("sigflow/"),
        "a declared User-Agent"
    );

    // Five new posts: two pages of three, and the walk stops at the page holding a4.
    let before = mock.hits("/r/stocks/new.json").len();
    for i in 0..5 {
        sub.lock().unwrap().add(&format!("b{i}"), now - 100 + i);
    }
    wait_until("the new posts", Duration::from_secs(20), || {
        stored(&dir, "reddit") == 7
    });
    std::thread::sleep(Duration::from_millis(1500));
    let walk: Vec<Option<String>> = mock.hits("/r/stocks/new.json")[before..]
        .iter()
        .map(|r| r.query("after"))
        .collect();
    assert!(
        walk.windows(2)
            .any(|w| w[0].is_none() && w[1].as_deref() == Some("t3_b2")),
        "paged with after: {walk:?}"
    );
    assert!(
        !walk.iter().any(|a| a.as_deref() == Some("t3_a4")),
        "paged past the newest post already seen: {walk:?}"
    );

    // Tiered refresh: recent posts are fetched again through /by_id, the stored score
    // follows, and the velocity enricher sees two observations.
    wait_until("a refreshed score", Duration::from_secs(20), || {
        count(
            &db(&dir.db()),
            "SELECT COUNT(*) FROM contents WHERE source = 'reddit' \
             AND json_extract(doc, '$.engagement.score') > 100 \
             AND json_extract(doc, '$.enrichments.velocity.score_velocity') > 0",
        ) > 0
    });
    assert!(!mock.hits("/by_id/").is_empty());

    // Kill -9 and restart: the cursor resumes; no second backfill, no duplicates.
    let _ = run.child.kill();
    let _ = run.child.wait();
    let before = mock.hits("/r/stocks/new.json").len();
    sub.lock().unwrap().add("c1", now - 5);
    sub.lock().unwrap().add("c2", now - 4);
    run = start();
    wait_until(
        "the posts after the restart",
        Duration::from_secs(20),
        || stored(&dir, "reddit") == 9,
    );
    let after_restart = &mock.hits("/r/stocks/new.json")[before..];
    assert!(
        after_restart
            .iter()
            .all(|r| r.query("limit").as_deref() == Some("100")),
        "resumed, not a first run"
    );
    let ids: std::collections::BTreeSet<String> = db(&dir.db())
        .prepare("SELECT source_id FROM contents WHERE source = 'reddit'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(ids.len(), 9);
    drop(run);
}

/// A Truth Social status in the shape of the real API (Mastodon fields plus Truth
/// Social's own).
fn truth_status(id: u64, text: &str) -> Value {
    json!({
        "id": id.to_string(), "created_at": "2026-11-20T14:05:10.028Z", "in_reply_to_id": null,
        "quote_id": null, "in_reply_to_account_id": null, "sensitive": false, "spoiler_text": "",
        "visibility": "public", "language": "en",
        "uri": format!("https://truthsocial.com/@markets_guy/{id}"),
        "url": format!("https://truthsocial.com/@markets_guy/{id}"),
        "content": format!("<p>{text}</p>"),
        "account": {"id": "42", "username": "markets_guy", "acct": "markets_guy",
            "display_name": "Markets Guy", "locked": false, "bot": false, "group": false,
            "created_at": "2022-02-11T16:16:57.705Z", "note": "<p></p>",
            "url": "https://truthsocial.com/@markets_guy", "followers_count": 1200,
            "following_count": 10, "statuses_count": 300, "verified": false},
        "media_attachments": [], "mentions": [], "tags": [], "card": null, "group": null,
        "quote": null, "in_reply_to": null, "reblog": null, "sponsored": false,
        "replies_count": 3, "reblogs_count": 7, "favourites_count": 21, "favourited": false,
        "reblogged": false, "muted": false, "pinned": false, "bookmarked": false,
        "poll": null, "emojis": []
    })
}

#[test]
fn truthsocial_waits_out_429_retries_5xx_and_dead_letters_a_truncated_page() {
    let dir = TestDir::new("src-truth");
    #[derive(Default)]
    struct State {
        calls: u32,
        statuses: Vec<u64>,
        truncate_next: bool,
    }
    let st = Arc::new(Mutex::new(State {
        statuses: vec![1002, 1001],
        ..Default::default()
    }));
    let mock = {
        let st = st.clone();
        MockServer::start(move |r| {
            let mut s = st.lock().unwrap();
            if r.path() == "/api/v1/accounts/lookup" {
                assert_eq!(r.query("acct").as_deref(), Some("markets_guy"));
                return Resp::json(
                    200,
                    json!({"id": "42", "username": "markets_guy"}).to_string(),
                );
            }
            if r.path() != "/api/v1/accounts/42/statuses" {
                return Resp::json(404, r#"{"error":"Record not found"}"#);
            }
            s.calls += 1;
            match s.calls {
                1 => {
                    return Resp::json(429, r#"{"error":"Too many requests"}"#)
                        .with("retry-after", "2");
                }
                2 => return Resp::json(503, "<html>upstream unavailable</html>"),
                _ => {}
            }
            if s.truncate_next {
                s.truncate_next = false;
                return Resp::json(200, &b"[{\"id\":\"1003\",\"created_at\":\"2026-11-"[..]);
            }
            let since: u64 = r
                .query("since_id")
                .and_then(|x| x.parse().ok())
                .unwrap_or(0);
            let limit: usize = r.query("limit").and_then(|x| x.parse().ok()).unwrap_or(20);
            let page: Vec<Value> = s
                .statuses
                .iter()
                .filter(|id| **id > since)
                .take(limit)
                .map(|id| {
                    truth_status(
                        *id,
                        &format!("Tariffs on steel are great for $X and US Steel ({id})"),
                    )
                })
                .collect();
            let reset = (chrono::Utc::now() + chrono::Duration::minutes(5)).to_rfc3339();
            Resp::json(200, Value::Array(page).to_string())
                .with("x-ratelimit-limit", "300")
                .with("x-ratelimit-remaining", "250")
                .with("x-ratelimit-reset", &reset)
        })
    };
    let port = free_port();
    let cfg = source_config(
        &dir,
        &format!(
            "[api]\nlisten = \"127.0.0.1:{port}\"\n[[sources]]\nname = \"truth\"\nkind = \"truthsocial\"\n\
             accounts = [\"@markets_guy\"]\nbase_url = \"{}\"\ninterval_secs = 1\nmax_rps = 50\n",
            mock.base
        ),
    );
    let _run = Running::spawn(sigflow().args(["run", "--config"]).arg(&cfg));
    wait_until("the first statuses", Duration::from_secs(20), || {
        stored(&dir, "truthsocial") == 2
    });
    let hits = mock.hits("/api/v1/accounts/42/statuses");
    let waited = hits[1].at - hits[0].at;
    assert!(
        waited >= Duration::from_millis(1950),
        "Retry-After: 2 was not honoured (next request after {waited:?})"
    );
    assert!(
        hits[2].at - hits[1].at < Duration::from_secs(2),
        "a 503 is retried with a short backoff"
    );

    // A truncated page: dead-lettered with the reason, the source goes on and the next
    // poll delivers the statuses.
    {
        let mut s = st.lock().unwrap();
        s.truncate_next = true;
        s.statuses.insert(0, 1003);
    }
    wait_until(
        "the status after the truncated page",
        Duration::from_secs(20),
        || stored(&dir, "truthsocial") == 3,
    );
    let (_, dlq) = get_json(&format!("http://127.0.0.1:{port}/api/v1/dlq"));
    let text = dlq.to_string();
    assert!(text.contains("truncated JSON"), "{text}");

    let (_, ready) = get_json(&format!("http://127.0.0.1:{port}/readyz"));
    let src = &ready["components"]["source:truth"];
    assert!(src["next_poll"].is_string(), "{ready}");
    assert!(src["last_success"].is_string(), "{ready}");
    assert!(
        src["items"].as_u64() >= Some(3),
        "items normalized per source: {ready}"
    );
}

#[test]
fn a_fatal_answer_stops_only_its_own_source() {
    let dir = TestDir::new("src-fatal");
    let mock = MockServer::start(|r| {
        if r.path().starts_with("/r/") {
            return Resp::json(404, r#"{"message": "Not Found", "error": 404}"#);
        }
        if r.path() == "/api/v1/accounts/42/statuses" {
            return Resp::json(
                200,
                Value::Array(vec![truth_status(7, "Buy American")]).to_string(),
            );
        }
        Resp::json(404, r#"{"error":"Record not found"}"#)
    });
    let port = free_port();
    let cfg = source_config(
        &dir,
        &format!(
            "[api]\nlisten = \"127.0.0.1:{port}\"\n\
             [[sources]]\nname = \"gone\"\nkind = \"reddit\"\nsubreddits = \"nosuchsub\"\nbase_url = \"{b}\"\nmax_rps = 50\n\
             [[sources]]\nname = \"truth\"\nkind = \"truthsocial\"\naccount_ids = [\"42\"]\nbase_url = \"{b}\"\nmax_rps = 50\n",
            b = mock.base
        ),
    );
    let _run = Running::spawn(sigflow().args(["run", "--config"]).arg(&cfg));
    wait_until("the healthy source's item", Duration::from_secs(20), || {
        stored(&dir, "truthsocial") == 1
    });
    let url = format!("http://127.0.0.1:{port}/readyz");
    wait_until(
        "the failed source in /readyz",
        Duration::from_secs(10),
        || {
            let (_, r) = get_json(&url);
            r["components"]["source:gone"]["status"] == "failed"
        },
    );
    // One source down degrades the service; it is still ready.
    let (code, r) = get_json(&url);
    assert_eq!((code, r["status"].as_str()), (200, Some("degraded")), "{r}");
    assert_eq!(r["degraded"], serde_json::json!(["source:gone"]), "{r}");
    let admin = make_key("admin", &["--config".as_ref(), cfg.as_os_str()]);
    let (_, r) = request_as(Some(&admin), "GET", &url, None);
    let err = r["components"]["source:gone"]["last_error"]
        .as_str()
        .unwrap();
    assert!(
        err.contains("HTTP 404") && err.contains("subreddit"),
        "{err}"
    );
    assert_eq!(mock.hits("/r/nosuchsub").len(), 1, "a 404 is not retried");
    assert!(
        mock.requests()
            .iter()
            .all(|r| r.method == "GET" && r.body.is_empty())
    );
}

#[test]
fn reddit_oauth_app_only_token_is_fetched_once_and_sent() {
    let dir = TestDir::new("src-reddit-oauth");
    let now = chrono::Utc::now().timestamp();
    let sub = Arc::new(Mutex::new(Subreddit::default()));
    sub.lock().unwrap().add("o1", now - 30);
    let mock = {
        let sub = sub.clone();
        MockServer::start(move |r| {
            if r.path() == "/api/v1/access_token" {
                use base64::Engine;
                let basic = base64::engine::general_purpose::STANDARD.encode("app-id:app-secret");
                if r.method != "POST"
                    || r.header("authorization") != Some(format!("Basic {basic}").as_str())
                    || r.body != b"grant_type=client_credentials"
                {
                    return Resp::json(401, r#"{"message": "Unauthorized", "error": 401}"#);
                }
                return Resp::json(
                    200,
                    r#"{"access_token": "app-token", "token_type": "bearer", "expires_in": 86400, "scope": "*"}"#,
                );
            }
            if r.header("authorization") != Some("Bearer app-token") {
                return Resp::json(401, r#"{"message": "Unauthorized", "error": 401}"#);
            }
            // OAuth paths have no .json suffix.
            let mut r = r.clone();
            if r.path() == "/r/stocks/new" {
                r.target = r.target.replacen("/r/stocks/new", "/r/stocks/new.json", 1);
            }
            sub.lock().unwrap().answer(&r)
        })
    };
    let cfg = source_config(
        &dir,
        &format!(
            "[[sources]]\nname = \"wsb\"\nkind = \"reddit\"\nsubreddits = [\"stocks\"]\nbase_url = \"{b}\"\n\
             token_url = \"{b}/api/v1/access_token\"\nclient_id_env = \"T_REDDIT_ID\"\nclient_secret_env = \"T_REDDIT_SECRET\"\n\
             interval_secs = 1\nmax_rps = 50\nrefresh = false\n",
            b = mock.base
        ),
    );
    let _run = Running::spawn(
        sigflow()
            .args(["run", "--no-api", "--config"])
            .arg(&cfg)
            .env("T_REDDIT_ID", "app-id")
            .env("T_REDDIT_SECRET", "app-secret"),
    );
    wait_until("the post", Duration::from_secs(20), || {
        stored(&dir, "reddit") == 1
    });
    sub.lock().unwrap().add("o2", now - 5);
    wait_until("the next post", Duration::from_secs(20), || {
        stored(&dir, "reddit") == 2
    });
    assert_eq!(
        mock.hits("/api/v1/access_token").len(),
        1,
        "the token is reused until it expires"
    );
    assert!(mock.hits("/r/stocks/new").len() >= 2);
}
