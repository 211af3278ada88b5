//! X API v2 tweet responses (user timeline, recent search): `data` (array or one
//! object), authors joined from `includes.users` on `author_id`, cashtags from
//! `entities.cashtags`, counts from `public_metrics`.
//!
//! Without `tweet.fields=created_at` X sends no time; the tweet id is a snowflake whose
//! upper bits are milliseconds since X's epoch, so the time is recovered from it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{
    ItemError, Normalized, Normalizer, PayloadError, RawContext, base, count, item_err, parse_json,
    parse_rfc3339, str_of,
};
use crate::model::{Author, Content, ContentType};

/// X's snowflake epoch (2010-11-04T01:42:54.657Z) in ms.
const SNOWFLAKE_EPOCH_MS: i64 = 1_288_834_974_657;

pub struct X;

impl Normalizer for X {
    fn name(&self) -> &'static str {
        "x"
    }
    fn platform(&self) -> &'static str {
        "x"
    }
    fn ext(&self) -> &'static str {
        "json"
    }

    fn normalize(&self, body: &[u8], cx: &RawContext) -> Result<Normalized, PayloadError> {
        let v = parse_json(body)?;
        if v.get("data").is_none() {
            if let Some(status) = v.get("status").and_then(count) {
                let title = str_of(&v, "title").unwrap_or("error");
                return Err(PayloadError(format!(
                    "X problem response: {status} {title}"
                )));
            }
            // An empty result page has meta.result_count = 0 and no data.
            if v.pointer("/meta/result_count").and_then(count) == Some(0) {
                return Ok(Vec::new());
            }
            return Err(PayloadError(
                "not an X v2 tweets response: no `data`".into(),
            ));
        }
        let users: HashMap<&str, &Value> = v
            .pointer("/includes/users")
            .and_then(Value::as_array)
            .map(|us| {
                us.iter()
                    .filter_map(|u| Some((str_of(u, "id")?, u)))
                    .collect()
            })
            .unwrap_or_default();
        match &v["data"] {
            Value::Array(tweets) => Ok(tweets
                .iter()
                .enumerate()
                .map(|(i, t)| tweet(i, t, &users, cx))
                .collect()),
            t @ Value::Object(_) => Ok(vec![tweet(0, t, &users, cx)]),
            _ => Err(PayloadError(
                "X `data` is neither an array nor an object".into(),
            )),
        }
    }
}

fn snowflake_time(id: &str) -> Option<DateTime<Utc>> {
    let n: i64 = id.parse().ok()?;
    // Ids before snowflakes (2010) carry no time.
    if n < (1 << 22) * 1000 {
        return None;
    }
    DateTime::from_timestamp_millis((n >> 22) + SNOWFLAKE_EPOCH_MS)
}

fn tweet(
    i: usize,
    t: &Value,
    users: &HashMap<&str, &Value>,
    cx: &RawContext,
) -> Result<Content, ItemError> {
    let id = str_of(t, "id").ok_or_else(|| item_err(i, "tweet has no id", t))?;
    let text = t
        .get("text")
        .and_then(Value::as_str)
        .ok_or_else(|| item_err(i, "tweet has no text", t))?;
    let happened = match str_of(t, "created_at") {
        Some(s) => parse_rfc3339(s)
            .ok_or_else(|| item_err(i, format!("created_at `{s}` is not RFC 3339"), t))?,
        None => snowflake_time(id)
            .ok_or_else(|| item_err(i, "tweet has no created_at and a non-snowflake id", t))?,
    };
    let mut c = base("x", id, cx, happened);
    // Posts over 280 characters come truncated in `text`, whole in `note_tweet.text`.
    c.text = t
        .pointer("/note_tweet/text")
        .and_then(Value::as_str)
        .unwrap_or(text)
        .to_string();
    let author_id = str_of(t, "author_id");
    let user = author_id.and_then(|a| users.get(a));
    c.author = match (author_id, user) {
        (_, Some(u)) => str_of(u, "username").map(|h| Author {
            id: author_id.map(str::to_string),
            handle: h.to_string(),
            name: str_of(u, "name").map(str::to_string),
        }),
        (Some(a), None) => Some(Author {
            id: Some(a.to_string()),
            handle: a.to_string(),
            name: None,
        }),
        (None, None) => None,
    };
    c.url = Some(match &c.author {
        Some(a) if user.is_some() => format!("https://x.com/{}/status/{id}", a.handle),
        _ => format!("https://x.com/i/web/status/{id}"),
    });
    if let Some(m) = t.get("public_metrics") {
        c.engagement.likes = m.get("like_count").and_then(count);
        c.engagement.reposts = m.get("retweet_count").and_then(count);
        c.engagement.replies = m.get("reply_count").and_then(count);
        c.engagement.quotes = m.get("quote_count").and_then(count);
        c.engagement.views = m.get("impression_count").and_then(count);
    }
    let entity = |kind: &str, key: &str| -> Vec<String> {
        t.pointer(&format!("/entities/{kind}"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|e| str_of(e, key))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    c.cashtags = entity("cashtags", "tag")
        .into_iter()
        .map(|t| t.to_uppercase())
        .collect();
    c.tags = entity("hashtags", "tag");
    c.mentions = entity("mentions", "username");
    let mut extras = serde_json::Map::new();
    if let Some(refs) = t.get("referenced_tweets").and_then(Value::as_array) {
        for r in refs {
            let (kind, rid) = (
                str_of(r, "type").unwrap_or(""),
                r.get("id").cloned().unwrap_or(Value::Null),
            );
            match kind {
                "retweeted" => {
                    c.content_type = ContentType::Repost;
                    extras.insert("retweeted_id".into(), rid);
                }
                "quoted" => {
                    if c.content_type == ContentType::Original {
                        c.content_type = ContentType::Quote;
                    }
                    extras.insert("quoted_id".into(), rid);
                }
                "replied_to" => {
                    if c.content_type == ContentType::Original {
                        c.content_type = ContentType::Reply;
                    }
                    extras.insert("in_reply_to_id".into(), rid);
                }
                _ => {}
            }
        }
    }
    if let Some(lang) = str_of(t, "lang") {
        extras.insert("language".into(), json!(lang));
    }
    if let Some(f) = user
        .and_then(|u| u.pointer("/public_metrics/followers_count"))
        .and_then(count)
    {
        extras.insert("author_followers".into(), json!(f));
    }
    c.extras = extras;
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::normalize::test_cx as cx;

    #[test]
    fn default_fields_response_gets_time_from_the_snowflake() {
        let body = br#"{"data":[{"edit_history_tweet_ids":["1578516068309794817"],"id":"1578516068309794817","text":"hi"}],"meta":{"result_count":1}}"#;
        let c = X.normalize(body, &cx()).unwrap().remove(0).unwrap();
        assert_eq!(c.happened_at.to_rfc3339(), "2022-10-07T22:42:12.752+00:00");
        assert_eq!(
            c.url.as_deref(),
            Some("https://x.com/i/web/status/1578516068309794817")
        );
    }

    #[test]
    fn includes_join_cashtags_and_retweets() {
        let body = br#"{"data":[{"id":"1985000000000000001","text":"RT @a: $tsla up","author_id":"7",
          "created_at":"2026-11-02T13:00:00.000Z","entities":{"cashtags":[{"start":7,"end":12,"tag":"tsla"}]},
          "referenced_tweets":[{"type":"retweeted","id":"1"}],"public_metrics":{"like_count":3,"retweet_count":1}}],
          "includes":{"users":[{"id":"7","username":"bob","name":"Bob"}]}}"#;
        let c = X.normalize(body, &cx()).unwrap().remove(0).unwrap();
        assert_eq!(c.author.as_ref().unwrap().handle, "bob");
        assert_eq!(c.cashtags, vec!["TSLA"]);
        assert_eq!(c.content_type, ContentType::Repost);
        assert_eq!(
            c.url.as_deref(),
            Some("https://x.com/bob/status/1985000000000000001")
        );
    }

    #[test]
    fn long_posts_take_the_note_tweet_text() {
        let body = br#"{"data":[{"id":"1985000000000000001","text":"First 280 chars\u2026 https://t.co/x",
          "created_at":"2026-11-02T13:00:00.000Z","note_tweet":{"text":"First 280 chars and the whole rest of it"}}]}"#;
        let c = X.normalize(body, &cx()).unwrap().remove(0).unwrap();
        assert_eq!(c.text, "First 280 chars and the whole rest of it");
    }

    #[test]
    fn problem_json_and_empty_page() {
        let e = X
            .normalize(
                br#"{"title":"Too Many Requests","type":"about:blank","status":429}"#,
                &cx(),
            )
            .unwrap_err();
        assert!(e.0.contains("429"));
        assert!(
            X.normalize(br#"{"meta":{"result_count":0}}"#, &cx())
                .unwrap()
                .is_empty()
        );
    }
}
