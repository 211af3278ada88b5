//! What a rule sees: an enriched item as CEL variables, bounded.
//!
//! CEL has no runtime cost limit, so the inputs are bounded here instead: text is cut
//! at [`MAX_TEXT`] characters, every list at [`MAX_LIST`] elements, nested JSON at
//! [`MAX_DEPTH`] levels. A rule's cost is then bounded by its own size (which the rule
//! file's limits bound) times these.

use std::collections::HashMap;
use std::sync::Arc;

use cel::Value;
use cel::objects::{Key, Map};
use serde_json::Value as Json;

use crate::model::Content;

pub const MAX_TEXT: usize = 20_000;
pub const MAX_LIST: usize = 100;
pub const MAX_DEPTH: usize = 8;

/// The variables a rule may name, with what each holds (`sigflow rules --help`, the
/// README and `rules check`'s "unknown variable" errors read this list).
pub const VARIABLES: &[(&str, &str)] = &[
    ("id", "string: the item's content id"),
    (
        "source",
        "string: the platform (reddit, truthsocial, x, sec, sec-form4, congress, earnings, fed, rss, …)",
    ),
    (
        "fetched_by",
        "string: the configured source that fetched it",
    ),
    ("author", "string: the author's handle (\"\" when none)"),
    (
        "author_name",
        "string: the author's display name (\"\" when none)",
    ),
    ("title", "string (\"\" when none)"),
    ("text", "string: the body, cut at 20,000 characters"),
    ("url", "string (\"\" when none)"),
    ("content_type", "string: original, repost, reply, quote"),
    ("language", "string: ISO 639-1 code, or und"),
    ("tickers", "list(string): the resolved tickers"),
    (
        "mentions",
        "list(map): each ticker mention {ticker, via, confidence, matched}",
    ),
    ("cashtags", "list(string)"),
    ("tags", "list(string)"),
    ("sentiment", "map: {compound, label, pos, neg, neu, mode}"),
    ("compound", "double: sentiment.compound (0 when absent)"),
    ("keywords", "list(string)"),
    (
        "velocity",
        "map: {trending_score, is_trending, score_velocity, comment_velocity, mentions: [{ticker, per_hour, baseline_per_hour, z, spike}]}",
    ),
    ("trending", "bool: velocity.is_trending"),
    ("spike", "bool: some ticker's mention rate is a spike"),
    (
        "engagement",
        "map: likes, reposts, replies, quotes, score, comments, views (only those the platform reports), upvote_ratio",
    ),
    ("filtered", "bool: a filter flagged the item"),
    ("filters", "list(string): the filters' reasons"),
    (
        "duplicate",
        "bool: an exact or near duplicate of an earlier item",
    ),
    ("dedup", "string: unique, exact or near"),
    ("happened_at", "timestamp"),
    (
        "disclosed_at",
        "timestamp (happened_at when the source has no disclosure time)",
    ),
    ("observed_at", "timestamp"),
    (
        "extras",
        "map: source-specific fields (insider_trade, congress_trade, earnings, …)",
    ),
];

/// The item's variables, ready to be added to a CEL context.
pub struct ItemView {
    pub vars: Vec<(&'static str, Value)>,
}

fn s(v: &str) -> Value {
    Value::String(Arc::new(v.to_string()))
}

fn cut(text: &str) -> Value {
    match text.char_indices().nth(MAX_TEXT) {
        Some((i, _)) => s(&text[..i]),
        None => s(text),
    }
}

fn strings(list: &[String]) -> Value {
    Value::List(Arc::new(
        list.iter().take(MAX_LIST).map(|x| cut(x)).collect(),
    ))
}

/// JSON → CEL, bounded. Numbers keep their kind: integers are `int`, others `double`
/// (CEL compares the two kinds with each other).
pub fn json(v: &Json, depth: usize) -> Value {
    match v {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(0.0)),
        },
        Json::String(t) => cut(t),
        _ if depth >= MAX_DEPTH => Value::Null,
        Json::Array(a) => Value::List(Arc::new(
            a.iter()
                .take(MAX_LIST)
                .map(|x| json(x, depth + 1))
                .collect(),
        )),
        Json::Object(o) => object(o, depth),
    }
}

fn object(o: &serde_json::Map<String, Json>, depth: usize) -> Value {
    let map: HashMap<Key, Value> = o
        .iter()
        .take(MAX_LIST)
        .map(|(k, v)| (Key::String(Arc::new(k.clone())), json(v, depth + 1)))
        .collect();
    Value::Map(Map { map: Arc::new(map) })
}

fn enrichment<'a>(item: &'a Content, name: &str) -> Option<&'a Json> {
    item.enrichments.get(name)
}

fn ts(t: chrono::DateTime<chrono::Utc>) -> Value {
    Value::Timestamp(t.fixed_offset())
}

impl ItemView {
    /// Every variable.
    pub fn of(item: &Content) -> ItemView {
        Self::only(item, &[])
    }

    /// Only the variables in `used` (all of them when it is empty): a rule set reads a
    /// few, and building the others (maps of extras, velocity, mentions) is most of
    /// the cost of a view.
    pub fn only(item: &Content, used: &[&str]) -> ItemView {
        let mut v = Self::build(item, used);
        if !used.is_empty() {
            v.vars.retain(|(n, _)| used.contains(n));
        }
        v
    }

    fn build(item: &Content, used: &[&str]) -> ItemView {
        // A variable no rule reads is left null (and dropped by `only`).
        let lazy = |n: &str, f: &dyn Fn() -> Value| {
            if used.is_empty() || used.contains(&n) {
                f()
            } else {
                Value::Null
            }
        };
        let author = item.author.as_ref();
        let mut vars = vec![
            ("id", s(&item.id.to_string())),
            ("source", s(&item.source)),
            ("fetched_by", s(&item.fetched_by)),
            ("author", s(author.map_or("", |a| a.handle.as_str()))),
            (
                "author_name",
                s(author.and_then(|a| a.name.as_deref()).unwrap_or("")),
            ),
            (
                "title",
                lazy("title", &|| cut(item.title.as_deref().unwrap_or(""))),
            ),
            ("text", lazy("text", &|| cut(&item.text))),
            ("url", s(item.url.as_deref().unwrap_or(""))),
            ("content_type", s(item.content_type.as_str())),
            (
                "language",
                s(enrichment(item, "language")
                    .and_then(|l| l.get("lang"))
                    .and_then(Json::as_str)
                    .unwrap_or("und")),
            ),
            ("tickers", strings(&item.tickers)),
            (
                "mentions",
                lazy("mentions", &|| {
                    enrichment(item, "tickers").map_or(Value::List(Arc::default()), |t| json(t, 0))
                }),
            ),
            ("cashtags", strings(&item.cashtags)),
            ("tags", strings(&item.tags)),
        ];
        vars.extend(Self::enrichments(item, &lazy));
        vars.extend([
            ("happened_at", ts(item.happened_at)),
            (
                "disclosed_at",
                ts(item.disclosed_at.unwrap_or(item.happened_at)),
            ),
            ("observed_at", ts(item.observed_at)),
            ("extras", lazy("extras", &|| object(&item.extras, 0))),
        ]);
        ItemView { vars }
    }

    /// sentiment … dedup: what the enrichers found.
    fn enrichments(
        item: &Content,
        lazy: &dyn Fn(&str, &dyn Fn() -> Value) -> Value,
    ) -> Vec<(&'static str, Value)> {
        let empty = Json::Object(Default::default());
        let sentiment = enrichment(item, "sentiment").unwrap_or(&empty);
        let velocity = enrichment(item, "velocity").unwrap_or(&empty);
        let filter = enrichment(item, "filter").unwrap_or(&empty);
        let dedup_kind = enrichment(item, "dedup")
            .and_then(|d| d.get("kind"))
            .and_then(Json::as_str)
            .unwrap_or("unique");
        let spike = velocity
            .get("mentions")
            .and_then(Json::as_array)
            .is_some_and(|m| m.iter().any(|x| x.get("spike") == Some(&Json::Bool(true))));
        let flag = |v: &Json, k: &str| Value::Bool(v.get(k) == Some(&Json::Bool(true)));
        vec![
            ("sentiment", lazy("sentiment", &|| json(sentiment, 0))),
            (
                "compound",
                Value::Float(
                    sentiment
                        .get("compound")
                        .and_then(Json::as_f64)
                        .unwrap_or(0.0),
                ),
            ),
            (
                "keywords",
                lazy("keywords", &|| {
                    enrichment(item, "keywords").map_or(Value::List(Arc::default()), |k| json(k, 0))
                }),
            ),
            ("velocity", lazy("velocity", &|| json(velocity, 0))),
            ("trending", flag(velocity, "is_trending")),
            ("spike", Value::Bool(spike)),
            (
                "engagement",
                lazy("engagement", &|| {
                    json(
                        &serde_json::to_value(&item.engagement).unwrap_or(Json::Null),
                        0,
                    )
                }),
            ),
            ("filtered", flag(filter, "filtered")),
            (
                "filters",
                filter
                    .get("reasons")
                    .map_or(Value::List(Arc::default()), |r| json(r, 0)),
            ),
            ("duplicate", Value::Bool(dedup_kind != "unique")),
            ("dedup", s(dedup_kind)),
        ]
    }

    /// A CEL context holding the variables.
    pub fn context(&self) -> cel::Context<'static, 'static> {
        // The standard environment is built once: building it per item (what
        // `Context::default` does) cost more than evaluating the rules.
        static ENV: std::sync::LazyLock<Arc<cel::Env>> =
            std::sync::LazyLock::new(|| Arc::new(cel::Env::stdlib()));
        let mut ctx = cel::Context::with_env(ENV.clone());
        for (name, v) in &self.vars {
            ctx.add_variable_from_value(*name, v.clone());
        }
        ctx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variable_is_documented_and_set() {
        let item: Content = serde_json::from_value(serde_json::json!({
            "schema_version": 1, "id": "00000000-0000-0000-0000-000000000001",
            "source": "x", "source_id": "1", "fetched_by": "t", "text": "hi",
            "content_type": "original", "happened_at": "2026-01-02T03:04:05Z",
            "observed_at": "2026-01-02T03:04:06Z", "lake_key": "k"
        }))
        .unwrap();
        let v = ItemView::of(&item);
        let names: Vec<&str> = v.vars.iter().map(|(n, _)| *n).collect();
        let documented: Vec<&str> = VARIABLES.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, documented);
    }

    #[test]
    fn long_text_and_lists_are_cut() {
        let long = "é".repeat(MAX_TEXT + 10);
        assert!(matches!(cut(&long), Value::String(t) if t.chars().count() == MAX_TEXT));
        let many: Vec<String> = (0..500).map(|i| i.to_string()).collect();
        assert!(matches!(strings(&many), Value::List(l) if l.len() == MAX_LIST));
        let mut deep = Json::Null;
        for _ in 0..50 {
            deep = serde_json::json!([deep]);
        }
        // Deep nesting ends in null instead of recursing without bound.
        let _ = json(&deep, 0);
    }
}
