//! Federal Reserve press releases, RSS 2.0 (`feeds/press_all.xml`). Fields come wrapped
//! in CDATA, the live feed starts with a UTF-8 BOM, `pubDate` is RFC 822 with
//! single-digit days and trailing spaces. Items are identified by guid (the release URL).

use chrono::{DateTime, Utc};
use serde_json::json;

use super::xml::{self, Element};
use super::{ItemError, Normalized, Normalizer, PayloadError, RawContext, base, html};
use crate::model::{Author, Content};

pub struct FedRss;

impl Normalizer for FedRss {
    fn name(&self) -> &'static str {
        "fed"
    }
    fn platform(&self) -> &'static str {
        "fed"
    }
    fn ext(&self) -> &'static str {
        "xml"
    }

    fn normalize(&self, body: &[u8], cx: &RawContext) -> Result<Normalized, PayloadError> {
        let root = xml::parse(body)?;
        if root.name != "rss" {
            return Err(PayloadError(format!(
                "expected an RSS <rss> document, got <{}>",
                root.name
            )));
        }
        let channel = root
            .child("channel")
            .ok_or_else(|| PayloadError("RSS without <channel>".into()))?;
        Ok(channel
            .children("item")
            .enumerate()
            .map(|(i, it)| item(i, it, cx))
            .collect())
    }
}

fn item(i: usize, it: &Element, cx: &RawContext) -> Result<Content, ItemError> {
    let err = |e: String| ItemError {
        index: i as u32,
        error: e,
        detail: it
            .children
            .iter()
            .map(|c| format!("<{}>{}</{}>", c.name, c.text.trim(), c.name))
            .collect(),
    };
    let id = it
        .text_of("guid")
        .or_else(|| it.text_of("link"))
        .ok_or_else(|| err("item has no guid or link".into()))?;
    let pub_date = it
        .text_of("pubDate")
        .ok_or_else(|| err("item has no pubDate".into()))?;
    let happened: DateTime<Utc> = DateTime::parse_from_rfc2822(pub_date.trim())
        .map_err(|e| err(format!("pubDate `{pub_date}` is not RFC 822: {e}")))?
        .with_timezone(&Utc);
    let mut c = base("fed", &id, cx, happened);
    c.disclosed_at = Some(happened);
    c.title = it.text_of("title").map(|t| html::decode_entities(&t));
    c.text = it
        .text_of("description")
        .map(|d| html::to_text(&d))
        .unwrap_or_default();
    if c.text.is_empty() {
        c.text = c.title.clone().unwrap_or_default();
    }
    c.url = it.text_of("link").or(Some(id.clone()));
    c.author = Some(Author {
        id: None,
        handle: "federalreserve".into(),
        name: Some("Federal Reserve Board".into()),
    });
    c.tags = it
        .children("category")
        .map(|c| c.text.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if c.tags.iter().any(|t| t == "Monetary Policy") {
        c.extras.insert("monetary_policy".into(), json!(true));
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdata_bom_and_single_digit_days() {
        let doc = "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\" ?>\n<rss version=\"2.0\"><channel><title>FRB</title>\n\
<item><title>Federal Reserve issues FOMC statement</title><link><![CDATA[https://www.federalreserve.gov/newsevents/pressreleases/monetary20261105a.htm]]></link>\
<guid><![CDATA[https://www.federalreserve.gov/newsevents/pressreleases/monetary20261105a.htm]]></guid>\
<description><![CDATA[Federal Reserve issues FOMC statement]]></description><category>Monetary Policy</category>\
<pubDate><![CDATA[Thu, 5 Nov 2026 19:00:00 GMT]]></pubDate>    \n</item>\
<item><title>no id</title><pubDate>Thu, 5 Nov 2026 19:00:00 GMT</pubDate></item></channel></rss>";
        let cx = RawContext {
            fetched_by: "t",
            lake_key: "k",
            observed_at: Utc::now(),
        };
        let items = FedRss.normalize(doc.as_bytes(), &cx).unwrap();
        let c = items[0].as_ref().unwrap();
        assert_eq!(c.happened_at.to_rfc3339(), "2026-11-05T19:00:00+00:00");
        assert_eq!(c.tags, vec!["Monetary Policy"]);
        assert_eq!(c.extras["monetary_policy"], true);
        assert!(items[1].is_err());
    }
}
