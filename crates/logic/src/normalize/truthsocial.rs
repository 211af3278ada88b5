//! Truth Social and Mastodon statuses (the same API shape). A body is one status or an
//! array of them (an account's timeline page).
//!
//! ReTruths/reblogs: the outer status is a shell ("RT @user …", zero counts); the text
//! and counts come from `reblog`, the item stays the outer status (its own id and time),
//! and it is marked a repost of the original author.

use serde_json::{Value, json};

use super::{
    ItemError, Normalized, Normalizer, PayloadError, RawContext, base, count, html, item_err,
    parse_json, parse_rfc3339, str_of,
};
use crate::model::{Author, Content, ContentType};

pub struct TruthSocial;
pub struct Mastodon;

impl Normalizer for TruthSocial {
    fn name(&self) -> &'static str {
        "truthsocial"
    }
    fn platform(&self) -> &'static str {
        "truthsocial"
    }
    fn ext(&self) -> &'static str {
        "json"
    }
    fn normalize(&self, body: &[u8], cx: &RawContext) -> Result<Normalized, PayloadError> {
        statuses(body, cx, "truthsocial")
    }
}

impl Normalizer for Mastodon {
    fn name(&self) -> &'static str {
        "mastodon"
    }
    fn platform(&self) -> &'static str {
        "mastodon"
    }
    fn ext(&self) -> &'static str {
        "json"
    }
    fn normalize(&self, body: &[u8], cx: &RawContext) -> Result<Normalized, PayloadError> {
        statuses(body, cx, "mastodon")
    }
}

fn statuses(body: &[u8], cx: &RawContext, platform: &str) -> Result<Normalized, PayloadError> {
    let v = parse_json(body)?;
    if let Some(err) = v.get("error").and_then(Value::as_str) {
        return Err(PayloadError(format!("API error body: {err}")));
    }
    match &v {
        Value::Array(items) => Ok(items
            .iter()
            .enumerate()
            .map(|(i, s)| status(i, s, cx, platform))
            .collect()),
        Value::Object(_) => Ok(vec![status(0, &v, cx, platform)]),
        _ => Err(PayloadError(
            "expected a status object or an array of statuses".into(),
        )),
    }
}

fn status(i: usize, s: &Value, cx: &RawContext, platform: &str) -> Result<Content, ItemError> {
    let id = str_of(s, "id").ok_or_else(|| item_err(i, "status has no id", s))?;
    // Mastodon ids are only unique per instance; the `uri` is global. Truth Social is
    // one instance, so its short id is kept (it is what people quote).
    let source_id = if platform == "mastodon" {
        str_of(s, "uri").unwrap_or(id)
    } else {
        id
    };
    let created =
        str_of(s, "created_at").ok_or_else(|| item_err(i, "status has no created_at", s))?;
    let happened = parse_rfc3339(created)
        .ok_or_else(|| item_err(i, format!("created_at `{created}` is not RFC 3339"), s))?;

    let mut c = base(platform, source_id, cx, happened);
    c.author = account(s.get("account"));
    c.url = str_of(s, "url")
        .or_else(|| str_of(s, "uri"))
        .map(str::to_string);

    let reblog = s.get("reblog").filter(|r| r.is_object());
    // The post whose words and counts matter: the original, for a reblog.
    let post = reblog.unwrap_or(s);
    c.text = html::to_text(post.get("content").and_then(Value::as_str).unwrap_or(""));
    if let Some(spoiler) = str_of(post, "spoiler_text") {
        c.title = Some(spoiler.to_string());
    }
    c.engagement.likes = post.get("favourites_count").and_then(count);
    c.engagement.reposts = post.get("reblogs_count").and_then(count);
    c.engagement.replies = post.get("replies_count").and_then(count);
    c.tags = names(post.get("tags"), "name");
    c.mentions = names(post.get("mentions"), "acct");

    let mut extras = serde_json::Map::new();
    if let Some(r) = reblog {
        c.content_type = ContentType::Repost;
        if let Some(a) = account(r.get("account")) {
            extras.insert("original_author".into(), json!(a.handle));
        }
        if let Some(rid) = str_of(r, "id") {
            extras.insert("original_id".into(), json!(rid));
        }
    } else if post.get("quote_id").is_some_and(|q| !q.is_null())
        || post.get("quote").is_some_and(|q| q.is_object())
    {
        c.content_type = ContentType::Quote;
    } else if s.get("in_reply_to_id").is_some_and(|r| !r.is_null()) {
        c.content_type = ContentType::Reply;
        extras.insert("in_reply_to_id".into(), s["in_reply_to_id"].clone());
    }
    if let Some(q) = post.get("quote").filter(|q| q.is_object()) {
        let quoted = html::to_text(q.get("content").and_then(Value::as_str).unwrap_or(""));
        extras.insert("quoted_text".into(), json!(quoted));
        if let Some(a) = account(q.get("account")) {
            extras.insert("quoted_author".into(), json!(a.handle));
        }
    }
    if let Some(lang) = str_of(post, "language") {
        extras.insert("language".into(), json!(lang));
    }
    if let Some(card) = post
        .get("card")
        .and_then(|c| c.get("url"))
        .and_then(Value::as_str)
    {
        extras.insert("card_url".into(), json!(card));
    }
    c.extras = extras;
    Ok(c)
}

fn account(a: Option<&Value>) -> Option<Author> {
    let a = a?;
    let handle = str_of(a, "acct").or_else(|| str_of(a, "username"))?;
    Some(Author {
        id: str_of(a, "id").map(str::to_string),
        handle: handle.to_string(),
        name: str_of(a, "display_name").map(str::to_string),
    })
}

fn names(v: Option<&Value>, key: &str) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|t| str_of(t, key))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::normalize::test_cx as cx;

    #[test]
    fn retruth_takes_text_and_counts_from_reblog() {
        let body = br#"[{"id":"2","created_at":"2026-11-02T13:00:00.000Z","content":"<p>RT <span>@a</span> hi</p>",
          "account":{"id":"1","acct":"realDonaldTrump","display_name":"Donald J. Trump"},"favourites_count":0,
          "reblog":{"id":"9","created_at":"2026-11-02T12:00:00.000Z","content":"<p>Tariffs &amp; $AAPL</p>",
            "account":{"acct":"mrddmia"},"favourites_count":77,"reblogs_count":5,"replies_count":1}}]"#;
        let items = TruthSocial.normalize(body, &cx()).unwrap();
        let c = items[0].as_ref().unwrap();
        assert_eq!(c.source_id, "2");
        assert_eq!(c.content_type, ContentType::Repost);
        assert_eq!(c.text, "Tariffs & $AAPL");
        assert_eq!(c.engagement.likes, Some(77));
        assert_eq!(c.extras["original_author"], "mrddmia");
        assert_eq!(c.author.as_ref().unwrap().handle, "realDonaldTrump");
    }

    #[test]
    fn single_status_object_and_missing_time() {
        let one = br#"{"id":"5","created_at":"2025-03-30T20:36:10.028Z","content":"<p>x</p>","in_reply_to_id":"4"}"#;
        let items = TruthSocial.normalize(one, &cx()).unwrap();
        assert_eq!(items[0].as_ref().unwrap().content_type, ContentType::Reply);
        let bad = br#"[{"id":"5","content":"<p>x</p>"}]"#;
        assert!(TruthSocial.normalize(bad, &cx()).unwrap()[0].is_err());
    }
}
