//! `synthetic`: a load generator. Emits Reddit-listing-shaped pages of unique posts
//! (realistic titles with cashtags and company names) at a set rate, for `sigflow bench`
//! and for sizing a deployment. Cursor = items emitted so far, so restarts continue.

use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{Payload, Poll, Source, SourceError, parse_speed};
use crate::sources::SourceConfig;

const TICKERS: &[(&str, &str)] = &[
    ("AAPL", "Apple"),
    ("TSLA", "Tesla"),
    ("NVDA", "Nvidia"),
    ("MSFT", "Microsoft"),
    ("AMZN", "Amazon"),
    ("META", "Meta"),
    ("GOOGL", "Alphabet"),
    ("AMD", "AMD"),
    ("GME", "GameStop"),
    ("PLTR", "Palantir"),
];
const TEMPLATES: &[&str] = &[
    "{name} beats estimates, ${t} up after hours",
    "DD: why ${t} is undervalued at these levels",
    "${t} calls printing, {name} guidance raised",
    "Is {name} overvalued? Thinking of selling my ${t}",
    "${t} short interest keeps climbing",
];

/// Items one poll hands over when running flat out.
const MAX_ITEMS_PER_POLL: u64 = 1_000;

pub struct SyntheticSource {
    name: String,
    items: u64,
    page_size: u64,
    /// Items per second; None = as fast as possible.
    rate: Option<f64>,
    started: Option<(Instant, u64)>,
}

pub(super) fn validate(cfg: &SourceConfig) -> Vec<String> {
    let mut errs = Vec::new();
    if let Err(e) = parse_speed(cfg.options.get("rate")) {
        errs.push(e.replace("speed", "rate"));
    }
    for key in ["items", "page_size"] {
        if let Some(v) = cfg.options.get(key)
            && !matches!(v.as_integer(), Some(i) if i > 0)
        {
            errs.push(format!("option `{key}` must be a positive integer"));
        }
    }
    for k in cfg.options.keys() {
        if !["items", "page_size", "rate"].contains(&k.as_str()) {
            errs.push(format!(
                "unknown option `{k}` for kind `synthetic` (known: items, page_size, rate)"
            ));
        }
    }
    errs
}

impl SyntheticSource {
    pub fn from_config(cfg: &SourceConfig) -> Result<Self, String> {
        let int = |k: &str, d: i64| {
            cfg.options
                .get(k)
                .and_then(|v| v.as_integer())
                .unwrap_or(d)
                .max(1) as u64
        };
        Ok(SyntheticSource {
            name: cfg.name.clone(),
            items: int("items", 10_000),
            page_size: int("page_size", 100),
            rate: parse_speed(cfg.options.get("rate"))?,
            started: None,
        })
    }
}

/// One post in the t3 shape of a real listing child (the fields normalize reads, plus
/// the usual companions so parsing costs what it costs on real pages), written as text:
/// a real source receives bytes, it does not build them, so generating must stay cheap
/// or the benchmark would measure the generator.
fn post(out: &mut String, seq: u64, now: i64) {
    use std::fmt::Write;
    let (t, name) = TICKERS[(seq % TICKERS.len() as u64) as usize];
    let title = TEMPLATES[(seq / 3 % TEMPLATES.len() as u64) as usize]
        .replace("{name}", name)
        .replace("{t}", t);
    let (user, score, comments) = (seq % 977, seq % 5000, seq % 700);
    let _ = write!(
        out,
        r#"{{"kind":"t3","data":{{"id":"bx{seq:x}","name":"t3_bx{seq:x}","title":"{title}","selftext":"Position: 10 ${t} calls. {name} earnings next week; chart looks strong.","author":"user{user}","author_fullname":"t2_{user}","subreddit":"wallstreetbets","subreddit_id":"t5_2th52","created_utc":{now},"created":{created},"score":{score},"ups":{score},"downs":0,"upvote_ratio":0.93,"num_comments":{comments},"permalink":"/r/wallstreetbets/comments/bx{seq:x}/post/","url":"https://www.reddit.com/r/wallstreetbets/comments/bx{seq:x}/post/","is_self":true,"over_18":false,"stickied":false,"link_flair_text":"DD","domain":"self.wallstreetbets","edited":false,"distinguished":null,"removed_by_category":null,"thumbnail":"self","gilded":0}}}}"#,
        created = now - 28800,
    );
}

#[async_trait]
impl Source for SyntheticSource {
    fn name(&self) -> &str {
        &self.name
    }

    async fn poll(&mut self, cursor: Option<&str>) -> Result<Poll, SourceError> {
        let done: u64 = match cursor {
            None => 0,
            Some(c) => c.parse().map_err(|_| {
                SourceError::Fatal(format!("synthetic cursor `{c}` is not a count"))
            })?,
        };
        if done >= self.items {
            return Ok(Poll::Done);
        }
        if let Some(rate) = self.rate {
            // Pace against the start, not the previous page, so the rate holds on average.
            let (t0, n0) = *self.started.get_or_insert((Instant::now(), done));
            let due = t0 + Duration::from_secs_f64((done - n0) as f64 / rate);
            tokio::time::sleep_until(due.into()).await;
        }
        // Paced: one page per poll. Flat out: several pages per poll, as a bulk replay
        // would hand over, so one commit carries up to MAX_ITEMS_PER_POLL items.
        let pages = if self.rate.is_some() {
            1
        } else {
            (MAX_ITEMS_PER_POLL / self.page_size).max(1)
        };
        let now = chrono::Utc::now().timestamp();
        let mut payloads = Vec::new();
        let mut at = done;
        for _ in 0..pages {
            if at >= self.items {
                break;
            }
            let n = self.page_size.min(self.items - at);
            let mut body = String::with_capacity(n as usize * 800 + 100);
            body.push_str(&format!(
                r#"{{"kind":"Listing","data":{{"after":null,"dist":{n},"modhash":null,"children":["#
            ));
            for seq in at..at + n {
                if seq > at {
                    body.push(',');
                }
                post(&mut body, seq, now);
            }
            body.push_str(r#"],"before":null}}"#);
            payloads.push(Payload {
                format: "reddit".into(),
                body: body.into_bytes(),
                meta: Default::default(),
            });
            at += n;
        }
        Ok(Poll::Payloads {
            payloads,
            cursor: at.to_string(),
        })
    }
}
