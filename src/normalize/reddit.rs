//! Reddit listings (`/r/{sub}/new`, OAuth or public `.json`): `t3` posts.
//!
//! Traps handled: `created` is local time, so only `created_utc` is used; numbers may be
//! integers or floats; `[deleted]` authors; crossposts are reposts.

use chrono::DateTime;
use serde_json::{Value, json};

use super::{
    Normalized, Normalizer, PayloadError, RawContext, base, count, item_err, parse_json, str_of,
};
use crate::model::{Author, ContentType};

pub struct Reddit;

impl Normalizer for Reddit {
    fn name(&self) -> &'static str {
        "reddit"
    }
    fn platform(&self) -> &'static str {
        "reddit"
    }
    fn ext(&self) -> &'static str {
        "json"
    }

    fn normalize(&self, body: &[u8], cx: &RawContext) -> Result<Normalized, PayloadError> {
        let v = parse_json(body)?;
        if let Some(msg) = v.get("message").and_then(Value::as_str) {
            return Err(PayloadError(format!(
                "Reddit error body: {msg} ({})",
                v.get("error").unwrap_or(&Value::Null)
            )));
        }
        let children = v
            .pointer("/data/children")
            .and_then(Value::as_array)
            .ok_or_else(|| PayloadError("not a Reddit listing: no data.children array".into()))?;
        Ok(children
            .iter()
            .enumerate()
            .map(|(i, child)| post(i, child, cx))
            .collect())
    }
}

fn post(
    i: usize,
    child: &Value,
    cx: &RawContext,
) -> Result<crate::model::Content, super::ItemError> {
    let kind = child.get("kind").and_then(Value::as_str).unwrap_or("");
    if kind != "t3" {
        return Err(item_err(
            i,
            format!("unsupported listing child kind `{kind}` (expected t3)"),
            child,
        ));
    }
    let d = child
        .get("data")
        .filter(|d| d.is_object())
        .ok_or_else(|| item_err(i, "t3 child without data", child))?;
    let id = str_of(d, "id").ok_or_else(|| item_err(i, "post has no id", child))?;
    let created = match d.get("created_utc") {
        Some(Value::Number(n)) => n.as_f64(),
        _ => None,
    }
    .ok_or_else(|| item_err(i, "created_utc is missing or not a number", child))?;
    let happened = DateTime::from_timestamp_micros((created * 1e6) as i64)
        .ok_or_else(|| item_err(i, format!("created_utc {created} is out of range"), child))?;

    let mut c = base("reddit", id, cx, happened);
    c.title = str_of(d, "title").map(str::to_string);
    c.text = d
        .get("selftext")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    c.url = str_of(d, "permalink").map(|p| format!("https://www.reddit.com{p}"));
    c.author = str_of(d, "author")
        .filter(|a| *a != "[deleted]")
        .map(|a| Author {
            id: str_of(d, "author_fullname").map(str::to_string),
            handle: a.to_string(),
            name: None,
        });
    if d.get("crosspost_parent").is_some_and(|p| !p.is_null()) {
        c.content_type = ContentType::Repost;
    }
    c.engagement.score = d.get("score").and_then(count);
    c.engagement.comments = d.get("num_comments").and_then(count);
    c.engagement.upvote_ratio = d.get("upvote_ratio").and_then(Value::as_f64);
    if let Some(flair) = str_of(d, "link_flair_text") {
        c.tags.push(flair.to_string());
    }
    let mut extras = serde_json::Map::new();
    for key in ["subreddit", "domain", "crosspost_parent"] {
        if let Some(s) = str_of(d, key) {
            extras.insert(key.into(), json!(s));
        }
    }
    for key in ["is_self", "over_18", "stickied"] {
        if let Some(b) = d.get(key).and_then(Value::as_bool) {
            extras.insert(key.into(), json!(b));
        }
    }
    if d.get("is_self").and_then(Value::as_bool) == Some(false)
        && let Some(link) = str_of(d, "url_overridden_by_dest").or_else(|| str_of(d, "url"))
    {
        extras.insert("link_url".into(), json!(link));
    }
    c.extras = extras;
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::normalize::test_cx as cx;

    #[test]
    fn listing_with_one_good_and_one_bad_child() {
        let body = br#"{"kind":"Listing","data":{"after":"t3_b","children":[
          {"kind":"t3","data":{"id":"a1","name":"t3_a1","title":"$TSLA to the moon","selftext":"","author":"bob",
           "created":1547647071,"created_utc":1547618271.0,"score":5,"num_comments":2,"upvote_ratio":1,
           "permalink":"/r/stocks/comments/a1/x/","subreddit":"stocks","is_self":false,"url":"https://e.com/x"}},
          {"kind":"t3","data":{"title":"no id","created_utc":1}}]}}"#;
        let items = Reddit.normalize(body, &cx()).unwrap();
        let c = items[0].as_ref().unwrap();
        assert_eq!(c.source_id, "a1");
        assert_eq!(
            c.happened_at.timestamp(),
            1547618271,
            "created_utc, never the local `created`"
        );
        assert_eq!(
            c.url.as_deref(),
            Some("https://www.reddit.com/r/stocks/comments/a1/x/")
        );
        assert_eq!(c.engagement.upvote_ratio, Some(1.0));
        assert_eq!(c.extras["link_url"], "https://e.com/x");
        assert_eq!(items[1].as_ref().unwrap_err().index, 1);
    }

    #[test]
    fn rate_limit_body_is_a_payload_error() {
        let err = Reddit
            .normalize(br#"{"message": "Too Many Requests", "error": 429}"#, &cx())
            .unwrap_err();
        assert!(err.0.contains("Too Many Requests"));
    }
}
