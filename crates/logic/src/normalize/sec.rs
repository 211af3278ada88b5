//! SEC EDGAR "latest filings" Atom (`browse-edgar?action=getcurrent&output=atom`).
//!
//! EDGAR lists one accession once per party (Reporting owner, Issuer, Filer…), so entries
//! are merged by accession number into one item that names every party. The document
//! is ISO-8859-1 with CRLF line ends.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::xml::{self, Element};
use super::{
    ItemError, Normalized, Normalizer, PayloadError, RawContext, base, html, parse_rfc3339,
};
use crate::model::{Author, Content};

pub struct SecAtom;

impl Normalizer for SecAtom {
    fn name(&self) -> &'static str {
        "sec"
    }
    fn platform(&self) -> &'static str {
        "sec"
    }
    fn ext(&self) -> &'static str {
        "xml"
    }

    fn normalize(&self, body: &[u8], cx: &RawContext) -> Result<Normalized, PayloadError> {
        let root = xml::parse(body)?;
        if root.name != "feed" {
            return Err(PayloadError(format!(
                "expected an Atom <feed>, got <{}>",
                root.name
            )));
        }
        // Keep first-seen order of accessions; merge parties into the first entry.
        let mut order: Vec<String> = Vec::new();
        let mut items: std::collections::HashMap<String, Content> =
            std::collections::HashMap::new();
        let mut out: Normalized = Vec::new();
        for (i, entry) in root.children("entry").enumerate() {
            let parsed = match entry_fields(entry) {
                Ok(p) => p,
                Err(e) => {
                    out.push(Err(ItemError {
                        index: i as u32,
                        error: e,
                        detail: entry_detail(entry),
                    }));
                    continue;
                }
            };
            match items.get_mut(&parsed.accession) {
                Some(existing) => add_party(existing, &parsed),
                None => {
                    let c = to_content(&parsed, cx);
                    order.push(parsed.accession.clone());
                    items.insert(parsed.accession.clone(), c);
                }
            }
        }
        for acc in order {
            if let Some(mut c) = items.remove(&acc) {
                finish(&mut c);
                out.push(Ok(c));
            }
        }
        Ok(out)
    }
}

struct Entry {
    accession: String,
    form: String,
    party: String,
    cik: Option<String>,
    role: String,
    link: Option<String>,
    summary: String,
    updated: DateTime<Utc>,
    filed: Option<String>,
}

/// `4 - ESGEN LLC (0001865514) (Reporting)` → (form, name, cik, role).
fn split_title(title: &str) -> (String, String, Option<String>, String) {
    let (form, rest) = title.split_once(" - ").unwrap_or(("", title));
    let mut rest = rest.trim().to_string();
    let mut role = String::new();
    if rest.ends_with(')')
        && let Some(open) = rest.rfind(" (")
    {
        role = rest[open + 2..rest.len() - 1].to_string();
        rest.truncate(open);
    }
    let mut cik = None;
    if rest.ends_with(')')
        && let Some(open) = rest.rfind(" (")
    {
        let inner = &rest[open + 2..rest.len() - 1];
        if inner.chars().all(|c| c.is_ascii_digit()) {
            cik = Some(inner.to_string());
            rest.truncate(open);
        }
    }
    (form.trim().to_string(), rest.trim().to_string(), cik, role)
}

fn accession_in(s: &str) -> Option<String> {
    // ##########-##-###### anywhere in the string.
    let b = s.as_bytes();
    (0..b.len().saturating_sub(19)).find_map(|i| {
        let w = &b[i..i + 20];
        let shape = w.iter().enumerate().all(|(j, c)| {
            if j == 10 || j == 13 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
        let bounded = i + 20 == b.len() || !b[i + 20].is_ascii_digit();
        (shape && bounded).then(|| s[i..i + 20].to_string())
    })
}

fn entry_fields(e: &Element) -> Result<Entry, String> {
    let title = e.text_of("title").ok_or("entry has no title")?;
    let link = e
        .child("link")
        .and_then(|l| l.attr("href"))
        .map(str::to_string);
    let summary_html = e.text_of("summary").unwrap_or_default();
    let summary = html::to_text(&summary_html.replace("<br>", "\n"));
    let accession = e
        .text_of("id")
        .and_then(|id| accession_in(&id))
        .or_else(|| link.as_deref().and_then(accession_in))
        .or_else(|| accession_in(&summary))
        .ok_or("entry has no accession number (no <id>, link or AccNo)")?;
    let updated = e.text_of("updated").ok_or("entry has no <updated>")?;
    let updated =
        parse_rfc3339(&updated).ok_or_else(|| format!("<updated> `{updated}` is not RFC 3339"))?;
    let (mut form, party, cik, role) = split_title(&title);
    if let Some(term) = e.child("category").and_then(|c| c.attr("term")) {
        form = term.to_string();
    }
    let filed = summary
        .split("Filed:")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .map(str::to_string);
    Ok(Entry {
        accession,
        form,
        party,
        cik,
        role,
        link,
        summary,
        updated,
        filed,
    })
}

fn entry_detail(e: &Element) -> String {
    let mut s = String::new();
    for c in &e.children {
        s.push_str(&format!("<{}>{}</{}>", c.name, c.text.trim(), c.name));
    }
    s
}

fn to_content(p: &Entry, cx: &RawContext) -> Content {
    let mut c = base("sec", &p.accession, cx, p.updated);
    // An EDGAR filing is public the moment it is accepted: happened = disclosed.
    c.disclosed_at = Some(p.updated);
    c.url = p.link.clone();
    let mut extras = serde_json::Map::new();
    extras.insert("form".into(), json!(p.form));
    extras.insert("accession".into(), json!(p.accession));
    if let Some(f) = &p.filed {
        extras.insert("filed".into(), json!(f));
    }
    let items: Vec<String> = p
        .summary
        .lines()
        .filter_map(|l| {
            l.trim()
                .strip_prefix("Item ")
                .map(|rest| format!("Item {rest}"))
        })
        .collect();
    if !items.is_empty() {
        extras.insert("items".into(), json!(items));
    }
    extras.insert("parties".into(), json!([]));
    c.extras = extras;
    c.text = p.summary.clone();
    add_party(&mut c, p);
    c
}

fn add_party(c: &mut Content, p: &Entry) {
    if let Some(Value::Array(parties)) = c.extras.get_mut("parties") {
        parties.push(json!({"name": p.party, "cik": p.cik, "role": p.role}));
    }
}

/// Title and author once every party is known: the issuer/filer is the author (the
/// company the filing is about), a reporting owner is named in the title.
fn finish(c: &mut Content) {
    let parties: Vec<(String, Option<String>, String)> = c.extras["parties"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| {
                    (
                        p["name"].as_str().unwrap_or("").to_string(),
                        p["cik"].as_str().map(str::to_string),
                        p["role"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let form = c.extras["form"].as_str().unwrap_or("").to_string();
    let subject = parties
        .iter()
        .find(|p| p.2 != "Reporting")
        .or(parties.first());
    let reporting = parties.iter().find(|p| p.2 == "Reporting");
    if let Some((name, cik, _)) = subject {
        c.author = Some(Author {
            id: cik.clone(),
            handle: name.clone(),
            name: None,
        });
    }
    c.title = Some(match (subject, reporting) {
        (Some(s), Some(r)) if s.0 != r.0 => {
            format!("Form {form}: {} (reporting owner: {})", s.0, r.0)
        }
        (Some(s), _) => format!("Form {form}: {}", s.0),
        _ => format!("Form {form}"),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_split_into_form_party_cik_role() {
        let (f, n, c, r) = split_title("4 - Zeo Energy Corp. (0001865506) (Issuer)");
        assert_eq!(
            (f.as_str(), n.as_str(), c.as_deref(), r.as_str()),
            ("4", "Zeo Energy Corp.", Some("0001865506"), "Issuer")
        );
        let (f, n, _, _) = split_title("SC 13D - Foo (Bar) Inc (0000000001) (Filed by)");
        assert_eq!((f.as_str(), n.as_str()), ("SC 13D", "Foo (Bar) Inc"));
    }

    #[test]
    fn accession_is_found_in_ids_links_and_text() {
        assert_eq!(
            accession_in("urn:tag:sec.gov,2008:accession-number=0000950170-24-032448").unwrap(),
            "0000950170-24-032448"
        );
        assert_eq!(
            accession_in("/000095017024032448/0000950170-24-032448-index.htm").unwrap(),
            "0000950170-24-032448"
        );
        assert!(accession_in("no number here").is_none());
    }

    #[test]
    fn reporting_and_issuer_entries_merge_into_one_item() {
        let doc = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\" ?>\r\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\r\n\
<entry>\r\n<title>4 - ESGEN LLC (0001865514) (Reporting)</title>\r\n<link rel=\"alternate\" type=\"text/html\" href=\"https://www.sec.gov/Archives/edgar/data/1865514/000095017024032448/0000950170-24-032448-index.htm\"/>\r\n\
<summary type=\"html\">\r\n &lt;b&gt;Filed:&lt;/b&gt; 2024-03-15 &lt;b&gt;AccNo:&lt;/b&gt; 0000950170-24-032448 &lt;b&gt;Size:&lt;/b&gt; 9 KB\r\n</summary>\r\n\
<updated>2024-03-15T21:45:18-04:00</updated>\r\n<category scheme=\"https://www.sec.gov/\" label=\"form type\" term=\"4\"/>\r\n\
<id>urn:tag:sec.gov,2008:accession-number=0000950170-24-032448</id>\r\n</entry>\r\n\
<entry>\r\n<title>4 - Zeo Energy Corp. (0001865506) (Issuer)</title>\r\n<updated>2024-03-15T21:45:18-04:00</updated>\r\n\
<id>urn:tag:sec.gov,2008:accession-number=0000950170-24-032448</id>\r\n</entry>\r\n</feed>\r\n";
        let cx = RawContext {
            fetched_by: "t",
            lake_key: "k",
            observed_at: Utc::now(),
        };
        let items = SecAtom.normalize(doc.as_bytes(), &cx).unwrap();
        assert_eq!(items.len(), 1);
        let c = items[0].as_ref().unwrap();
        assert_eq!(c.source_id, "0000950170-24-032448");
        assert_eq!(
            c.title.as_deref(),
            Some("Form 4: Zeo Energy Corp. (reporting owner: ESGEN LLC)")
        );
        assert_eq!(c.author.as_ref().unwrap().handle, "Zeo Energy Corp.");
        assert_eq!(c.extras["filed"], "2024-03-15");
        assert_eq!(c.happened_at.to_rfc3339(), "2024-03-16T01:45:18+00:00");
    }
}
