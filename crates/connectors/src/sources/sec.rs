//! `sec`: SEC EDGAR's latest-filings Atom feed, per form type, deduplicated by
//! accession number; for Form 4 filings also the ownership XML itself (through the
//! filing folder's `index.json`), which becomes insider-trade items.
//!
//! EDGAR's fair-access rules: a declared User-Agent naming the requester with a
//! contact email, at most 10 requests a second; an over-eager client gets a 403 page
//! ("Request Rate Threshold Exceeded") and is blocked for about ten minutes, which
//! [`super::http::classify`] turns into a ten-minute wait.
//!
//! The cursor (JSON) holds the accession numbers already handled (newest first,
//! bounded). A Form 4 accession counts as handled only once its XML was fetched, so a
//! crash or a capped poll fetches the rest next time.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::time::Instant;

use super::http::{Http, HttpDefaults, HttpSettings};
use super::opts::Opts;
use super::{Payload, Poll, Source, SourceError};
use crate::normalize::xml;
use crate::sources::SourceConfig;

/// Accessions remembered: a few days of the busiest forms.
const SEEN_CAP: usize = 20_000;

struct Settings {
    forms: Vec<String>,
    /// Companies whose submissions JSON is polled too (data.sec.gov).
    ciks: Vec<String>,
    data_base: String,
    interval: Duration,
    backfill: u64,
    max_pages: u64,
    form4_details: bool,
    max_details: usize,
    http: HttpSettings,
}

fn read(cfg: &SourceConfig) -> (Settings, Vec<String>) {
    let mut o = Opts::new(cfg);
    let mut forms = o.list("forms");
    if forms.is_empty() {
        forms = vec!["4".into(), "8-K".into()];
    }
    let ua = o.string("user_agent");
    match &ua {
        Some(u) if u.contains('@') => {}
        _ => o.errors.push(
            "option `user_agent` is required by SEC EDGAR: your name or company and a contact email, e.g. \"Acme Signals ops@acme.example\""
                .into(),
        ),
    }
    let mut http = HttpSettings::read(
        &mut o,
        HttpDefaults {
            base_url: Some("https://www.sec.gov"),
            max_rps: 5.0,
            // EDGAR's published limit.
            max_rps_cap: 10.0,
            low_water: 0.0,
            token_env: None,
            blocked_wait: 600,
        },
    );
    if let Some(u) = ua {
        http.user_agent = u;
    }
    let ciks: Vec<String> = o
        .list("ciks")
        .into_iter()
        .map(|c| format!("{:0>10}", c.trim_start_matches("CIK")))
        .collect();
    if let Some(bad) = ciks
        .iter()
        .find(|c| !c.bytes().all(|b| b.is_ascii_digit()) || c.len() > 10)
    {
        o.errors
            .push(format!("option `ciks`: `{bad}` is not a CIK number"));
    }
    let data_base = o
        .string("data_base_url")
        .unwrap_or_else(|| "https://data.sec.gov".into())
        .trim_end_matches('/')
        .to_string();
    let s = Settings {
        forms,
        ciks,
        data_base,
        interval: Duration::from_secs(o.uint("interval_secs", 60, 1, 86_400)),
        backfill: o.uint("backfill", 40, 0, 100),
        max_pages: o.uint("max_pages", 3, 1, 50),
        form4_details: o.boolean("form4_details", true),
        max_details: o.uint("max_details_per_poll", 50, 1, 1000) as usize,
        http,
    };
    (s, o.finish())
}

pub(super) fn validate(cfg: &SourceConfig) -> Vec<String> {
    read(cfg).1
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Cursor {
    #[serde(default)]
    seen: Vec<String>,
    /// Hash of the last submissions file delivered, per CIK.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    submissions: std::collections::BTreeMap<String, String>,
}

/// One entry of the feed, as the source needs it.
struct Entry {
    accession: String,
    form: String,
    link: Option<String>,
}

fn entries(body: &[u8]) -> Option<Vec<Entry>> {
    let root = xml::parse(body).ok()?;
    if root.name != "feed" {
        return None;
    }
    Some(
        root.children("entry")
            .filter_map(|e| {
                let id = e.text_of("id")?;
                let accession = id.rsplit('=').next()?.trim().to_string();
                let form = e
                    .child("category")
                    .and_then(|c| c.attr("term").map(String::from))
                    .unwrap_or_default();
                let link = e
                    .child("link")
                    .and_then(|l| l.attr("href").map(String::from));
                Some(Entry {
                    accession,
                    form,
                    link,
                })
            })
            .collect(),
    )
}

pub struct SecSource {
    name: String,
    s: Settings,
    http: Http,
    next_poll: Instant,
}

impl SecSource {
    pub fn from_config(cfg: &SourceConfig) -> Result<Self, String> {
        let (s, errs) = read(cfg);
        if !errs.is_empty() {
            return Err(errs.join("; "));
        }
        Ok(SecSource {
            name: cfg.name.clone(),
            http: Http::new(&cfg.name, s.http.clone())?,
            s,
            next_poll: Instant::now(),
        })
    }

    fn feed_url(&self, form: &str, start: u64, count: u64) -> String {
        let start = start.to_string();
        let count = count.to_string();
        self.http.url(
            "/cgi-bin/browse-edgar",
            &[
                ("action", "getcurrent"),
                ("type", form),
                ("company", ""),
                ("dateb", ""),
                ("owner", "include"),
                ("start", &start),
                ("count", &count),
                ("output", "atom"),
            ],
        )
    }

    /// The Form 4 XML of one filing: the folder's index names the documents.
    async fn form4(&mut self, link: &str) -> Result<Option<Vec<u8>>, SourceError> {
        let Some((folder, _)) = link.rsplit_once('/') else {
            return Ok(None);
        };
        let r = self.http.get(&format!("{folder}/index.json"), &[]).await?;
        let v: Value = serde_json::from_slice(&r.body).map_err(|e| {
            SourceError::Transient(format!("{folder}/index.json is not JSON ({e})"))
        })?;
        let doc = v["directory"]["item"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i["name"].as_str())
            .find(|n| {
                n.ends_with(".xml") && !n.contains("index") && !n.starts_with("Financial_Report")
            });
        let Some(doc) = doc.map(String::from) else {
            return Ok(None);
        };
        let r = self.http.get(&format!("{folder}/{doc}"), &[]).await?;
        Ok(Some(r.body))
    }
}

#[async_trait]
impl Source for SecSource {
    fn name(&self) -> &str {
        &self.name
    }

    async fn poll(&mut self, cursor: Option<&str>) -> Result<Poll, SourceError> {
        if let Some(idle) = super::too_early(self.next_poll) {
            return Ok(idle);
        }
        let mut cur: Cursor = super::read_cursor(cursor, "sec")?;
        let first = cursor.is_none();
        let seen: std::collections::HashSet<String> = cur.seen.iter().cloned().collect();
        let mut out = Vec::new();
        let mut handled: Vec<String> = Vec::new();
        let mut details_left = self.s.max_details;
        for form in self.s.forms.clone() {
            let count = if first { self.s.backfill.max(10) } else { 100 };
            for page in 0..self.s.max_pages {
                let url = self.feed_url(&form, page * count, count);
                let r = self.http.get(&url, &[]).await?;
                let Some(list) = entries(&r.body) else {
                    out.push(payload("sec", r.body, &url));
                    break;
                };
                // EDGAR lists an accession once per party (Reporting, Issuer…): one
                // filing, handled once.
                let mut fresh: Vec<&Entry> = Vec::new();
                for e in &list {
                    if !seen.contains(&e.accession)
                        && !handled.contains(&e.accession)
                        && !fresh.iter().any(|f| f.accession == e.accession)
                    {
                        fresh.push(e);
                    }
                }
                if fresh.is_empty() {
                    break;
                }
                let deliver = !first || self.s.backfill > 0;
                let all_fresh = list.iter().all(|e| !seen.contains(&e.accession));
                let mut fresh_ids = Vec::new();
                for e in &fresh {
                    let is_form4 = e.form == "4" || e.form == "4/A";
                    if deliver && is_form4 && self.s.form4_details {
                        if details_left == 0 {
                            continue;
                        }
                        details_left -= 1;
                        if let Some(link) = &e.link {
                            match self.form4(link).await {
                                Ok(Some(xml)) => out.push(payload("sec-form4", xml, link)),
                                Ok(None) => {
                                    tracing::warn!(source = %self.name, link, "no ownership XML in the filing folder")
                                }
                                // A filing whose documents are gone is that filing's
                                // problem, not the source's: note it and go on.
                                Err(SourceError::Fatal(err)) => {
                                    tracing::warn!(source = %self.name, error = %err, "Form 4 document not fetched")
                                }
                                Err(other) => return Err(other),
                            }
                        }
                    }
                    fresh_ids.push(e.accession.clone());
                }
                if deliver {
                    out.push(payload("sec", r.body, &url));
                }
                handled.extend(fresh_ids);
                if first || !all_fresh || (list.len() as u64) < count {
                    break;
                }
            }
        }
        let mut submissions = false;
        for cik in self.s.ciks.clone() {
            let url = format!("{}/submissions/CIK{cik}.json", self.s.data_base);
            let r = self.http.get(&url, &[]).await?;
            let sha = crate::lake::sha256_hex(&r.body);
            if cur.submissions.get(&cik) != Some(&sha) {
                out.push(payload("sec-submissions", r.body, &url));
                cur.submissions.insert(cik, sha);
                submissions = true;
            }
        }
        if details_left > 0 {
            self.next_poll = Instant::now() + self.s.interval;
        }
        if handled.is_empty() && !first && !submissions {
            return Ok(Poll::Idle(self.s.interval));
        }
        handled.extend(cur.seen);
        handled.truncate(SEEN_CAP);
        cur.seen = handled;
        Ok(Poll::Payloads {
            payloads: out,
            cursor: serde_json::to_string(&cur).expect("cursor serializes"),
        })
    }
}

fn payload(format: &str, body: Vec<u8>, url: &str) -> Payload {
    let mut meta = serde_json::Map::new();
    meta.insert("url".into(), Value::from(url));
    Payload {
        format: format.into(),
        body,
        meta,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accessions_forms_and_links_of_the_feed() {
        let feed = br#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Latest Filings</title>
<entry><title>4 - Doe Jane (0001214128) (Reporting)</title>
<link rel="alternate" type="text/html" href="https://www.sec.gov/Archives/edgar/data/1214128/000121412826000007/0001214128-26-000007-index.htm"/>
<category scheme="https://www.sec.gov/" label="form type" term="4"/>
<id>urn:tag:sec.gov,2008:accession-number=0001214128-26-000007</id></entry></feed>"#;
        let e = entries(feed).unwrap();
        assert_eq!(e[0].accession, "0001214128-26-000007");
        assert_eq!(e[0].form, "4");
        assert!(e[0].link.as_ref().unwrap().ends_with("-index.htm"));
        assert!(entries(b"<html>").is_none());
    }
}
