//! Any RSS 2.0 or Atom feed (company newsrooms, regulators, blogs). Items are
//! identified by guid / Atom id, falling back to the link; dates are RFC 822 (RSS) or
//! RFC 3339 (Atom). Element names are local (`dc:creator` is `creator`). The feed's own title becomes the author, so items from different
//! feeds stay tell-apart-able.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::xml::{self, Element};
use super::{
    ItemError, Normalized, Normalizer, PayloadError, RawContext, base, html, parse_rfc3339,
};
use crate::model::{Author, Content};

pub struct Rss;

impl Normalizer for Rss {
    fn name(&self) -> &'static str {
        "rss"
    }
    fn platform(&self) -> &'static str {
        "rss"
    }
    fn ext(&self) -> &'static str {
        "xml"
    }

    fn normalize(&self, body: &[u8], cx: &RawContext) -> Result<Normalized, PayloadError> {
        let root = xml::parse(body)?;
        match root.name.as_str() {
            "rss" => {
                let ch = root
                    .child("channel")
                    .ok_or_else(|| PayloadError("RSS without <channel>".into()))?;
                let feed = feed_author(ch.text_of("title"), ch.text_of("link"));
                Ok(ch
                    .children("item")
                    .enumerate()
                    .map(|(i, it)| rss_item(i, it, &feed, cx))
                    .collect())
            }
            // RSS 1.0 (RDF): items are siblings of the channel.
            "RDF" => {
                let ch = root.child("channel");
                let feed = feed_author(
                    ch.and_then(|c| c.text_of("title")),
                    ch.and_then(|c| c.text_of("link")),
                );
                Ok(root
                    .children("item")
                    .enumerate()
                    .map(|(i, it)| rss_item(i, it, &feed, cx))
                    .collect())
            }
            "feed" => {
                let link = atom_link(&root);
                let feed = feed_author(root.text_of("title"), link);
                Ok(root
                    .children("entry")
                    .enumerate()
                    .map(|(i, e)| atom_entry(i, e, &feed, cx))
                    .collect())
            }
            other => Err(PayloadError(format!(
                "expected an RSS <rss> or Atom <feed> document, got <{other}>"
            ))),
        }
    }
}

fn feed_author(title: Option<String>, link: Option<String>) -> Author {
    let handle = link
        .as_deref()
        .and_then(|l| url::Url::parse(l).ok())
        .and_then(|u| {
            u.host_str()
                .map(|h| h.trim_start_matches("www.").to_string())
        })
        .or_else(|| title.clone())
        .unwrap_or_else(|| "feed".into());
    Author {
        id: None,
        handle,
        name: title.map(|t| html::decode_entities(&t)),
    }
}

fn detail(it: &Element) -> String {
    it.children
        .iter()
        .map(|c| format!("<{}>{}</{}>", c.name, c.text.trim(), c.name))
        .collect()
}

fn rss_item(i: usize, it: &Element, feed: &Author, cx: &RawContext) -> Result<Content, ItemError> {
    let err = |e: String| ItemError {
        index: i as u32,
        error: e,
        detail: detail(it),
    };
    let link = it.text_of("link");
    let id = it
        .text_of("guid")
        .or_else(|| link.clone())
        .ok_or_else(|| err("item has neither guid nor link".into()))?;
    let date = it
        .text_of("pubDate")
        .or_else(|| it.text_of("date"))
        .ok_or_else(|| err("item has no pubDate".into()))?;
    let happened = parse_date(&date).ok_or_else(|| err(format!("unreadable date `{date}`")))?;
    let mut c = base("rss", &id, cx, happened);
    c.disclosed_at = Some(happened);
    c.title = it.text_of("title").map(|t| html::to_text(&t));
    c.text = it
        .text_of("content:encoded")
        .or_else(|| it.text_of("description"))
        .map(|d| html::to_text(&d))
        .unwrap_or_default();
    if c.text.is_empty() {
        c.text = c.title.clone().unwrap_or_default();
    }
    c.url = link.or(Some(id.clone())).filter(|u| u.starts_with("http"));
    c.author = Some(
        match it.text_of("creator").or_else(|| it.text_of("author")) {
            Some(a) => Author {
                id: None,
                handle: feed.handle.clone(),
                name: Some(a),
            },
            None => feed.clone(),
        },
    );
    c.tags = it
        .children("category")
        .map(|c| c.text.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    c.extras.insert("feed".into(), json!(feed.handle));
    Ok(c)
}

fn atom_link(e: &Element) -> Option<String> {
    let links: Vec<&Element> = e.children("link").collect();
    links
        .iter()
        .find(|l| matches!(l.attr("rel"), None | Some("alternate")))
        .or(links.first())
        .and_then(|l| l.attr("href").map(String::from))
}

fn atom_entry(i: usize, e: &Element, feed: &Author, cx: &RawContext) -> Result<Content, ItemError> {
    let err = |m: String| ItemError {
        index: i as u32,
        error: m,
        detail: detail(e),
    };
    let link = atom_link(e);
    let id = e
        .text_of("id")
        .or_else(|| link.clone())
        .ok_or_else(|| err("entry has neither id nor link".into()))?;
    let date = e
        .text_of("published")
        .or_else(|| e.text_of("updated"))
        .ok_or_else(|| err("entry has no published or updated date".into()))?;
    let happened = parse_date(&date).ok_or_else(|| err(format!("unreadable date `{date}`")))?;
    let mut c = base("rss", &id, cx, happened);
    c.disclosed_at = Some(happened);
    c.title = e.text_of("title").map(|t| html::to_text(&t));
    c.text = e
        .text_of("content")
        .or_else(|| e.text_of("summary"))
        .map(|d| html::to_text(&d))
        .unwrap_or_default();
    if c.text.is_empty() {
        c.text = c.title.clone().unwrap_or_default();
    }
    c.url = link;
    let name = e.child("author").and_then(|a| a.text_of("name"));
    c.author = Some(Author {
        id: None,
        handle: feed.handle.clone(),
        name: name.or_else(|| feed.name.clone()),
    });
    c.tags = e
        .children("category")
        .filter_map(|c| c.attr("term").map(String::from))
        .collect();
    c.extras.insert("feed".into(), json!(feed.handle));
    Ok(c)
}

/// RFC 822 (RSS, with the usual sloppiness: single-digit days, named zones) or RFC 3339.
fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    DateTime::parse_from_rfc2822(s)
        .ok()
        .map(|d| d.with_timezone(&Utc))
        .or_else(|| parse_rfc3339(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::normalize::test_cx as cx;

    #[test]
    fn rss_items_with_guid_dates_and_authors() {
        let doc = r#"<?xml version="1.0"?><rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>
<title>Acme Newsroom</title><link>https://www.acme.example/news</link>
<item><title>Acme raises full-year guidance</title><link>https://www.acme.example/news/1</link>
<guid isPermaLink="false">acme-1</guid><pubDate>Tue, 3 Nov 2026 13:30:00 +0000</pubDate>
<description><![CDATA[<p>Revenue up <b>12%</b>.</p>]]></description><dc:creator>IR team</dc:creator><category>Earnings</category></item>
<item><title>no date</title><guid>acme-2</guid></item>
</channel></rss>"#;
        let items = Rss.normalize(doc.as_bytes(), &cx()).unwrap();
        let c = items[0].as_ref().unwrap();
        assert_eq!(c.source_id, "acme-1");
        assert_eq!(c.text, "Revenue up 12%.");
        assert_eq!(c.author.as_ref().unwrap().handle, "acme.example");
        assert_eq!(c.author.as_ref().unwrap().name.as_deref(), Some("IR team"));
        assert_eq!(c.tags, vec!["Earnings"]);
        assert_eq!(c.happened_at.to_rfc3339(), "2026-11-03T13:30:00+00:00");
        assert!(items[1].as_ref().unwrap_err().error.contains("pubDate"));
    }

    #[test]
    fn atom_entries() {
        let doc = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>Regulator</title>
<link rel="self" href="https://reg.example/feed.atom"/><link href="https://reg.example/"/>
<entry><id>tag:reg.example,2026:1</id><title>Rule adopted</title><link href="https://reg.example/r/1"/>
<updated>2026-11-03T10:00:00Z</updated><summary>The rule &amp; its text.</summary><category term="rules"/></entry>
</feed>"#;
        let items = Rss.normalize(doc.as_bytes(), &cx()).unwrap();
        let c = items[0].as_ref().unwrap();
        assert_eq!(c.url.as_deref(), Some("https://reg.example/r/1"));
        assert_eq!(c.text, "The rule & its text.");
        assert_eq!(c.tags, vec!["rules"]);
        assert!(Rss.normalize(b"<html></html>", &cx()).is_err());
    }
}
