//! Reddit listings (`/r/{sub}/new`, OAuth or public `.json`): `t3` posts.
//!
//! Traps handled: `created` is local time, so only `created_utc` is used; numbers may be
//! integers or floats; `[deleted]` authors; crossposts are reposts.

use chrono::DateTime;
use serde_json::{Value, json};

use super::{Normalized, Normalizer, PayloadError, RawContext, base, count, item_err, parse_json};
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
        match fast::listing(body) {
            Some(children) => Ok(children
                .iter()
                .enumerate()
                .map(|(i, raw)| fast::post(i, raw, cx))
                .collect()),
            None => by_value(body, cx),
        }
    }
}

/// The general path: the whole payload as a `Value`. Taken for anything the typed fast
/// path does not read as a plain listing, so odd payloads get exactly these answers.
fn by_value(body: &[u8], cx: &RawContext) -> Result<Normalized, PayloadError> {
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

/// Typed reading of the fields normalize uses. A real post has ~100 fields, many of
/// them nested (media, previews, awards); building them all into `Value`s was most of
/// the normalize stage's time. Here the parser skips what is not read. Any surprise
/// (a listing that is not an object, a duplicated key, a `data` that is not an object)
/// makes a payload or a child take the `Value` path instead, so the result is the same.
mod fast {
    use serde::Deserialize;
    use serde_json::Value;
    use serde_json::value::RawValue;

    use super::super::{ItemError, RawContext};
    use crate::model::Content;

    #[derive(Deserialize)]
    struct Listing<'a> {
        #[serde(borrow)]
        data: Option<ListingData<'a>>,
        message: Option<Value>,
    }

    #[derive(Deserialize)]
    struct ListingData<'a> {
        #[serde(borrow)]
        children: Option<Vec<&'a RawValue>>,
    }

    /// The children of a plain listing, unparsed; None = take the `Value` path.
    pub fn listing(body: &[u8]) -> Option<Vec<&RawValue>> {
        let body = body.strip_prefix(b"\xef\xbb\xbf").unwrap_or(body);
        let l: Listing = serde_json::from_slice(body).ok()?;
        if l.message.as_ref().is_some_and(Value::is_string) {
            return None;
        }
        l.data?.children
    }

    #[derive(Deserialize)]
    struct Child {
        kind: Option<Value>,
        data: Option<Object<Fields>>,
    }

    /// `T` read from a JSON object only: a derived struct also accepts an array, which
    /// the `Value` path treats as "no data".
    struct Object<T>(T);

    impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct Map<T>(std::marker::PhantomData<T>);
            impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Map<T> {
                type Value = Object<T>;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    map: A,
                ) -> Result<Self::Value, A::Error> {
                    T::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Object)
                }
            }
            d.deserialize_map(Map(std::marker::PhantomData))
        }
    }

    /// Every field `super::post` reads, by the name it reads it with.
    #[derive(Deserialize)]
    struct Fields {
        id: Option<Value>,
        created_utc: Option<Value>,
        title: Option<Value>,
        selftext: Option<Value>,
        permalink: Option<Value>,
        author: Option<Value>,
        author_fullname: Option<Value>,
        crosspost_parent: Option<Value>,
        score: Option<Value>,
        num_comments: Option<Value>,
        upvote_ratio: Option<Value>,
        link_flair_text: Option<Value>,
        subreddit: Option<Value>,
        domain: Option<Value>,
        is_self: Option<Value>,
        over_18: Option<Value>,
        stickied: Option<Value>,
        url_overridden_by_dest: Option<Value>,
        url: Option<Value>,
    }

    impl super::Get for Fields {
        fn field(&self, key: &str) -> Option<&Value> {
            match key {
                "id" => self.id.as_ref(),
                "created_utc" => self.created_utc.as_ref(),
                "title" => self.title.as_ref(),
                "selftext" => self.selftext.as_ref(),
                "permalink" => self.permalink.as_ref(),
                "author" => self.author.as_ref(),
                "author_fullname" => self.author_fullname.as_ref(),
                "crosspost_parent" => self.crosspost_parent.as_ref(),
                "score" => self.score.as_ref(),
                "num_comments" => self.num_comments.as_ref(),
                "upvote_ratio" => self.upvote_ratio.as_ref(),
                "link_flair_text" => self.link_flair_text.as_ref(),
                "subreddit" => self.subreddit.as_ref(),
                "domain" => self.domain.as_ref(),
                "is_self" => self.is_self.as_ref(),
                "over_18" => self.over_18.as_ref(),
                "stickied" => self.stickied.as_ref(),
                "url_overridden_by_dest" => self.url_overridden_by_dest.as_ref(),
                "url" => self.url.as_ref(),
                _ => unreachable!("`{key}` is read by post() but not in Fields"),
            }
        }
    }

    pub fn post(i: usize, raw: &RawValue, cx: &RawContext) -> Result<Content, ItemError> {
        // The child as a `Value`, only when it is needed: for an error's detail, or
        // when the typed reading does not apply.
        let whole = || serde_json::from_str::<Value>(raw.get()).unwrap_or(Value::Null);
        match serde_json::from_str::<Child>(raw.get()) {
            Ok(Child {
                kind: Some(Value::String(kind)),
                data: Some(Object(d)),
            }) if kind == "t3" => super::fields_to_content(i, &d, cx, &whole),
            _ => super::post(i, &whole(), cx),
        }
    }
}

/// Read access to a post's fields, from a `Value` or from the typed fast path.
trait Get {
    fn field(&self, key: &str) -> Option<&Value>;
    fn text(&self, key: &str) -> Option<&str> {
        super::text_of(self.field(key))
    }
}

impl Get for Value {
    fn field(&self, key: &str) -> Option<&Value> {
        self.get(key)
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
    fields_to_content(i, d, cx, &|| child.clone())
}

/// A `t3` post's fields → Content. `child` gives the whole child for an error's detail.
fn fields_to_content(
    i: usize,
    d: &dyn Get,
    cx: &RawContext,
    child: &dyn Fn() -> Value,
) -> Result<crate::model::Content, super::ItemError> {
    let id = d
        .text("id")
        .ok_or_else(|| item_err(i, "post has no id", &child()))?;
    let created = match d.field("created_utc") {
        Some(Value::Number(n)) => n.as_f64(),
        _ => None,
    }
    .ok_or_else(|| item_err(i, "created_utc is missing or not a number", &child()))?;
    let happened = DateTime::from_timestamp_micros((created * 1e6) as i64).ok_or_else(|| {
        item_err(
            i,
            format!("created_utc {created} is out of range"),
            &child(),
        )
    })?;

    let mut c = base("reddit", id, cx, happened);
    c.title = d.text("title").map(str::to_string);
    c.text = d
        .field("selftext")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    c.url = d
        .text("permalink")
        .map(|p| format!("https://www.reddit.com{p}"));
    c.author = d
        .text("author")
        .filter(|a| *a != "[deleted]")
        .map(|a| Author {
            id: d.text("author_fullname").map(str::to_string),
            handle: a.to_string(),
            name: None,
        });
    if d.field("crosspost_parent").is_some_and(|p| !p.is_null()) {
        c.content_type = ContentType::Repost;
    }
    c.engagement.score = d.field("score").and_then(count);
    c.engagement.comments = d.field("num_comments").and_then(count);
    c.engagement.upvote_ratio = d.field("upvote_ratio").and_then(Value::as_f64);
    if let Some(flair) = d.text("link_flair_text") {
        c.tags.push(flair.to_string());
    }
    let mut extras = serde_json::Map::new();
    for key in ["subreddit", "domain", "crosspost_parent"] {
        if let Some(s) = d.text(key) {
            extras.insert(key.into(), json!(s));
        }
    }
    for key in ["is_self", "over_18", "stickied"] {
        if let Some(b) = d.field(key).and_then(Value::as_bool) {
            extras.insert(key.into(), json!(b));
        }
    }
    if d.field("is_self").and_then(Value::as_bool) == Some(false)
        && let Some(link) = d.text("url_overridden_by_dest").or_else(|| d.text("url"))
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

    /// The typed fast path gives exactly what the `Value` path gives: on every Reddit
    /// payload of the demo dataset (real shapes, some malformed) and on the odd ones.
    #[test]
    fn fast_path_equals_value_path() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../demo/dataset");
        let mut bodies: Vec<Vec<u8>> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with("-reddit.json"))
            .map(|p| std::fs::read(p).unwrap())
            .collect();
        assert!(bodies.len() >= 10);
        // And the fast path is what the real shapes take.
        let typed = bodies.iter().filter(|b| fast::listing(b).is_some()).count();
        assert!(typed * 2 > bodies.len(), "{typed} of {}", bodies.len());
        for odd in [
            // data not an object, kind not a string, array data, duplicated key,
            // nulls, float counts, crosspost, deleted author, BOM, error body.
            r#"{"data":{"children":[{"kind":"t3","data":[1,2]},{"kind":3,"data":{}}]}}"#,
            r#"{"data":{"children":[{"kind":"t3","data":{"id":"a","id":"b","created_utc":1}}]}}"#,
            r#"{"data":{"children":[{"kind":"t3","data":{"id":"n","created_utc":2.5,"title":null,
               "score":3.0,"num_comments":null,"crosspost_parent":null,"author":"[deleted]",
               "is_self":false,"url":"https://x.y/","subreddit":""}}]}}"#,
            r#"{"data":{"children":[{"kind":"t3","data":{"id":"c","created_utc":"1",
               "crosspost_parent":"t3_q"}},{"kind":"t1","data":{}},{"data":{"id":"z"}}]}}"#,
            "\u{feff}{\"data\":{\"children\":[{\"kind\":\"t3\",\"data\":{\"id\":\"b\",\"created_utc\":9}}]}}",
            r#"{"data":{"children":[{"kind":"t3","data":["p",1,null,null,null,null,null,null,
               null,null,null,null,null,null,null,null,null,null,null]}]}}"#,
            r#"{"message":"Forbidden","error":403}"#,
            r#"{"data":{"children":{}}}"#,
            r#"[1,2]"#,
        ] {
            bodies.push(odd.as_bytes().to_vec());
        }
        let cx = cx();
        for b in &bodies {
            let fast = Reddit.normalize(b, &cx).map_err(|e| e.0);
            let slow = by_value(b, &cx).map_err(|e| e.0);
            assert_eq!(
                format!("{fast:?}"),
                format!("{slow:?}"),
                "{}",
                String::from_utf8_lossy(b)
            );
        }
    }

    #[test]
    fn rate_limit_body_is_a_payload_error() {
        let err = Reddit
            .normalize(br#"{"message": "Too Many Requests", "error": 429}"#, &cx())
            .unwrap_err();
        assert!(err.0.contains("Too Many Requests"));
    }
}
