//! Congressional trade disclosures: House Stock Watcher rows, Senate Stock Watcher
//! rows (the aggregate file and the per-day reports with nested transactions), and the
//! House Clerk's financial-disclosure index (one item per Periodic Transaction Report).
//!
//! happened_at is the transaction date, disclosed_at the disclosure date: the gap
//! between them is the whole point of this data. Quirks: dates as MM/DD/YYYY and ISO in
//! the same row, HTML in descriptions and tickers, "--" for no ticker.
//!
//! The rows carry no id, so an item's id is a hash of what identifies the trade, plus
//! its rank among identical rows of the same payload (two equal buys on one day are two
//! trades; re-harvesting the same file yields the same ids).

use std::collections::HashMap;

use serde_json::{Value, json};

use super::parse_day;
use super::xml;
use super::{
    ItemError, Normalized, Normalizer, PayloadError, RawContext, base, html, item_err, parse_json,
    str_of,
};
use crate::model::{Author, Content};

pub struct HouseWatcher;
pub struct SenateWatcher;
pub struct HouseClerk;

impl Normalizer for HouseWatcher {
    fn name(&self) -> &'static str {
        "house-watcher"
    }
    fn platform(&self) -> &'static str {
        "congress"
    }
    fn ext(&self) -> &'static str {
        "json"
    }
    fn normalize(&self, body: &[u8], cx: &RawContext) -> Result<Normalized, PayloadError> {
        let rows = array(parse_json(body)?)?;
        let mut ranks = HashMap::new();
        Ok(rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let member = str_of(r, "representative").unwrap_or_default();
                let trade = Trade {
                    chamber: "house",
                    member: clean_name(member),
                    district: str_of(r, "district").map(String::from),
                    transaction_date: str_of(r, "transaction_date"),
                    disclosure_date: str_of(r, "disclosure_date"),
                    owner: str_of(r, "owner"),
                    ticker: str_of(r, "ticker"),
                    asset: str_of(r, "asset_description"),
                    asset_type: str_of(r, "asset_type"),
                    kind: str_of(r, "type"),
                    amount: str_of(r, "amount"),
                    link: str_of(r, "ptr_link"),
                    comment: None,
                    extra: json!({"party": r.get("party"), "state": r.get("state"),
                        "cap_gains_over_200_usd": r.get("cap_gains_over_200_usd")}),
                };
                trade.item(i, r, &mut ranks, cx)
            })
            .collect())
    }
}

impl Normalizer for SenateWatcher {
    fn name(&self) -> &'static str {
        "senate-watcher"
    }
    fn platform(&self) -> &'static str {
        "congress"
    }
    fn ext(&self) -> &'static str {
        "json"
    }
    fn normalize(&self, body: &[u8], cx: &RawContext) -> Result<Normalized, PayloadError> {
        let v = parse_json(body)?;
        // A single daily report may come as an object rather than a list of them.
        let rows = if v.is_object() { vec![v] } else { array(v)? };
        let mut ranks = HashMap::new();
        let mut out = Vec::new();
        for (i, r) in rows.iter().enumerate() {
            match r.get("transactions").and_then(Value::as_array) {
                // A daily report: one filing, its trades nested.
                Some(txs) => {
                    let member = format!(
                        "{} {}",
                        str_of(r, "first_name").unwrap_or_default(),
                        str_of(r, "last_name").unwrap_or_default()
                    );
                    for t in txs {
                        let trade = senate_trade(
                            t,
                            clean_name(&member),
                            str_of(r, "date_recieved"),
                            str_of(r, "ptr_link"),
                            r.get("bioguide"),
                        );
                        out.push(trade.item(out.len(), t, &mut ranks, cx));
                    }
                }
                None => {
                    let member = clean_name(str_of(r, "senator").unwrap_or_default());
                    let trade = senate_trade(
                        r,
                        member,
                        str_of(r, "disclosure_date"),
                        str_of(r, "ptr_link"),
                        None,
                    );
                    out.push(trade.item(i, r, &mut ranks, cx));
                }
            }
        }
        Ok(out)
    }
}

fn senate_trade<'a>(
    t: &'a Value,
    member: String,
    disclosed: Option<&'a str>,
    link: Option<&'a str>,
    bioguide: Option<&Value>,
) -> Trade<'a> {
    Trade {
        chamber: "senate",
        member,
        district: None,
        transaction_date: str_of(t, "transaction_date"),
        disclosure_date: disclosed,
        owner: str_of(t, "owner"),
        ticker: str_of(t, "ticker"),
        asset: str_of(t, "asset_description"),
        asset_type: str_of(t, "asset_type"),
        kind: str_of(t, "type"),
        amount: str_of(t, "amount"),
        link: link.or_else(|| str_of(t, "ptr_link")),
        comment: str_of(t, "comment").filter(|c| *c != "--"),
        extra: json!({"bioguide": bioguide}),
    }
}

fn array(v: Value) -> Result<Vec<Value>, PayloadError> {
    match v {
        Value::Array(a) => Ok(a),
        other => Err(PayloadError(format!(
            "expected a JSON array of transactions, got {}",
            match other {
                Value::Object(_) => "an object",
                _ => "a scalar",
            }
        ))),
    }
}

struct Trade<'a> {
    chamber: &'static str,
    member: String,
    district: Option<String>,
    transaction_date: Option<&'a str>,
    disclosure_date: Option<&'a str>,
    owner: Option<&'a str>,
    ticker: Option<&'a str>,
    asset: Option<&'a str>,
    asset_type: Option<&'a str>,
    kind: Option<&'a str>,
    amount: Option<&'a str>,
    link: Option<&'a str>,
    comment: Option<&'a str>,
    extra: Value,
}

impl Trade<'_> {
    fn item(
        &self,
        i: usize,
        raw: &Value,
        ranks: &mut HashMap<String, u32>,
        cx: &RawContext,
    ) -> Result<Content, ItemError> {
        if self.member.is_empty() {
            return Err(item_err(i, "row names no member of Congress", raw));
        }
        let day = self
            .transaction_date
            .ok_or_else(|| item_err(i, "row has no transaction_date", raw))?;
        let happened = parse_day(day)
            .ok_or_else(|| item_err(i, format!("unreadable transaction_date `{day}`"), raw))?;
        let disclosed = self.disclosure_date.and_then(parse_day);
        let ticker = self.ticker.map(ticker_of).filter(|t| !t.is_empty());
        let asset = self.asset.map(html::to_text).unwrap_or_default();
        let kind = trade_kind(self.kind.unwrap_or_default());
        let (min, max) = amount_range(self.amount.unwrap_or_default());
        let key = format!(
            "{}|{}|{}|{}|{}|{}|{}|{}|{}",
            self.chamber,
            self.member,
            happened.date_naive(),
            ticker.as_deref().unwrap_or(""),
            asset,
            kind,
            self.amount.unwrap_or_default(),
            self.owner.unwrap_or_default(),
            self.link.unwrap_or_default()
        );
        let rank = ranks.entry(key.clone()).or_insert(0);
        *rank += 1;
        let hash = &crate::hash::sha256_hex(key.as_bytes())[..24];
        let mut c = base(
            "congress",
            &format!("{}-{hash}-{rank}", self.chamber),
            cx,
            happened,
        );
        c.disclosed_at = disclosed;
        let title = if self.chamber == "house" {
            "Rep."
        } else {
            "Sen."
        };
        c.author = Some(Author {
            id: None,
            handle: self.member.to_lowercase().replace(' ', "_"),
            name: Some(format!("{title} {}", self.member)),
        });
        let short = asset.split_whitespace().collect::<Vec<_>>().join(" ");
        let what = ticker
            .as_ref()
            .map_or_else(|| short.clone(), |t| format!("${t} ({short})"));
        let kind_words = kind.replace('_', " ");
        let article = if kind_words.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        c.text = format!(
            "{title} {}{} reported {article} {kind_words} of {} in {what} on {}{}.",
            self.member,
            self.owner.map_or(String::new(), |o| format!(" ({o})")),
            self.amount.unwrap_or("an undisclosed amount"),
            happened.date_naive(),
            disclosed.map_or(String::new(), |d| format!(", disclosed {}", d.date_naive()))
        );
        c.title = Some(format!(
            "{title} {}: {kind} {}",
            self.member,
            ticker.clone().unwrap_or(asset.clone())
        ));
        c.url = self.link.map(String::from);
        c.cashtags = ticker.iter().cloned().collect();
        c.extras.insert(
            "congress_trade".into(),
            json!({
                "chamber": self.chamber, "member": self.member, "district": self.district,
                "owner": self.owner, "ticker": ticker, "asset": asset, "asset_type": self.asset_type,
                "type": kind, "amount": self.amount, "amount_min": min, "amount_max": max,
                "comment": self.comment, "ptr_link": self.link, "extra": self.extra,
            }),
        );
        Ok(c)
    }
}

/// "Hon. Virginia Foxx" → "Virginia Foxx"; "David A Perdue , Jr" → "David A Perdue, Jr".
fn clean_name(s: &str) -> String {
    let s = s.trim();
    let s = s
        .strip_prefix("Hon. ")
        .or_else(|| s.strip_prefix("Rep. "))
        .or_else(|| s.strip_prefix("Sen. "))
        .unwrap_or(s);
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace(" ,", ",")
}

/// `BRK-B` → `BRK.B`; an HTML anchor → its text; `--` and `N/A` → empty.
fn ticker_of(s: &str) -> String {
    let t = html::to_text(s);
    let t = t.trim();
    if matches!(t, "--" | "-" | "N/A" | "n/a") {
        return String::new();
    }
    t.to_ascii_uppercase().replace('-', ".")
}

fn trade_kind(s: &str) -> String {
    let l = s.to_ascii_lowercase();
    if l.starts_with("purchase") {
        "purchase".into()
    } else if l.contains("partial") {
        "sale_partial".into()
    } else if l.starts_with("sale") {
        "sale_full".into()
    } else if l.starts_with("exchange") {
        "exchange".into()
    } else if l.is_empty() {
        "transaction".into()
    } else {
        l.replace(' ', "_")
    }
}

/// "$1,001 - $15,000" → (1001, 15000); "Over $50,000,000" → (50000000, None).
fn amount_range(s: &str) -> (Option<u64>, Option<u64>) {
    let nums: Vec<u64> = s
        .split(['-', '–'])
        .filter_map(|p| {
            let d: String = p.chars().filter(char::is_ascii_digit).collect();
            d.parse().ok()
        })
        .collect();
    match nums.as_slice() {
        [a, b, ..] => (Some(*a), Some(*b)),
        [a] => (Some(*a), None),
        _ => (None, None),
    }
}

impl Normalizer for HouseClerk {
    fn name(&self) -> &'static str {
        "house-clerk"
    }
    fn platform(&self) -> &'static str {
        "house-clerk"
    }
    fn ext(&self) -> &'static str {
        "xml"
    }
    fn normalize(&self, body: &[u8], cx: &RawContext) -> Result<Normalized, PayloadError> {
        // The Clerk publishes `{YEAR}FD.zip` (the XML and a text twin); the lake keeps
        // the archive as fetched, and the XML is read out of it here.
        let unzipped;
        let body = if body.starts_with(b"PK\x03\x04") {
            unzipped = xml_in_zip(body)?;
            &unzipped[..]
        } else {
            body
        };
        let root = xml::parse(body)?;
        if root.name != "FinancialDisclosure" {
            return Err(PayloadError(format!(
                "expected a House Clerk <FinancialDisclosure> index, got <{}>",
                root.name
            )));
        }
        let mut out = Vec::new();
        for (i, m) in root.children("Member").enumerate() {
            // Only Periodic Transaction Reports announce trades; annual reports, new
            // filer and withdrawal notices do not.
            if m.text_of("FilingType").as_deref() != Some("P") {
                continue;
            }
            let err = |e: &str| ItemError {
                index: i as u32,
                error: e.to_string(),
                detail: m
                    .children
                    .iter()
                    .map(|c| format!("<{}>{}</{}>", c.name, c.text.trim(), c.name))
                    .collect(),
            };
            let Some(doc) = m.text_of("DocID") else {
                out.push(Err(err("PTR without a DocID")));
                continue;
            };
            let Some(filed) = m.text_of("FilingDate").and_then(|d| parse_day(&d)) else {
                out.push(Err(err("PTR without a readable FilingDate")));
                continue;
            };
            let year = m
                .text_of("Year")
                .unwrap_or_else(|| filed.format("%Y").to_string());
            let name = [m.text_of("First"), m.text_of("Last"), m.text_of("Suffix")]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            let dst = m.text_of("StateDst").unwrap_or_default();
            let mut c = base("house-clerk", &doc, cx, filed);
            c.disclosed_at = Some(filed);
            c.author = Some(Author {
                id: None,
                handle: name.to_lowercase().replace(' ', "_"),
                name: Some(format!("Rep. {name}")),
            });
            c.title = Some(format!(
                "Rep. {name} ({dst}) filed a periodic transaction report"
            ));
            c.text = format!(
                "Rep. {name} ({dst}) filed a Periodic Transaction Report on {}; the trades are in the PDF.",
                filed.date_naive()
            );
            c.url = Some(format!(
                "https://disclosures-clerk.house.gov/public_disc/ptr-pdfs/{year}/{doc}.pdf"
            ));
            c.extras.insert(
                "congress_filing".into(),
                json!({"chamber": "house", "member": name, "district": dst, "doc_id": doc, "year": year, "filing_type": "P"}),
            );
            out.push(Ok(c));
        }
        Ok(out)
    }
}

/// The first `.xml` member of a ZIP archive.
fn xml_in_zip(body: &[u8]) -> Result<Vec<u8>, PayloadError> {
    use std::io::Read;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(body))
        .map_err(|e| PayloadError(format!("unreadable ZIP archive: {e}")))?;
    let name = zip
        .file_names()
        .find(|n| n.to_ascii_lowercase().ends_with(".xml"))
        .map(String::from)
        .ok_or_else(|| PayloadError("the ZIP archive holds no .xml file".into()))?;
    let mut f = zip
        .by_name(&name)
        .map_err(|e| PayloadError(format!("{name} in the ZIP archive: {e}")))?;
    // The Clerk's index is a few MB; anything far larger is not it.
    let mut out = Vec::new();
    (&mut f)
        .take(256 << 20)
        .read_to_end(&mut out)
        .map_err(|e| PayloadError(format!("{name} in the ZIP archive: {e}")))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::normalize::test_cx as cx;

    #[test]
    fn house_rows_with_two_date_formats() {
        let body = br#"[{"disclosure_year": 2021, "disclosure_date": "10/04/2021", "transaction_date": "2021-09-27",
          "owner": "joint", "ticker": "BP", "asset_description": "BP plc", "type": "purchase",
          "amount": "$1,001 - $15,000", "representative": "Hon. Virginia Foxx", "district": "NC05",
          "ptr_link": "https://disclosures-clerk.house.gov/public_disc/ptr-pdfs/2021/20019557.pdf", "cap_gains_over_200_usd": false},
          {"disclosure_date": "10/04/2021", "transaction_date": "2021-09-27", "owner": "joint", "ticker": "--",
          "asset_description": "Some Fund", "type": "sale_full", "amount": "$1,001 - $15,000", "representative": "Hon. Virginia Foxx"}]"#;
        let items = HouseWatcher.normalize(body, &cx()).unwrap();
        let c = items[0].as_ref().unwrap();
        assert_eq!(c.happened_at.to_rfc3339(), "2021-09-27T00:00:00+00:00");
        assert_eq!(
            c.disclosed_at.unwrap().to_rfc3339(),
            "2021-10-04T00:00:00+00:00"
        );
        assert_eq!(c.cashtags, vec!["BP"]);
        let t = &c.extras["congress_trade"];
        assert_eq!(t["amount_min"], 1001);
        assert_eq!(t["amount_max"], 15000);
        assert_eq!(t["member"], "Virginia Foxx");
        assert!(items[1].as_ref().unwrap().cashtags.is_empty());
    }

    #[test]
    fn senate_daily_report_with_html_ticker() {
        let body = br#"[{"first_name": "James M", "last_name": "Inhofe", "ptr_link": "https://efdsearch.senate.gov/search/view/ptr/81de/",
          "date_recieved": "01/15/2021", "bioguide": "I000024", "transactions": [
          {"transaction_date": "01/05/2021", "owner": "Self", "ticker": "<a href=\"https://finance.yahoo.com/q?s=CRSP\" target=\"_blank\">CRSP</a>",
           "asset_description": "CRISPR Therapeutics AG", "asset_type": "Stock", "type": "Sale (Partial)", "amount": "$1,001 - $15,000", "comment": "--"},
          {"transaction_date": "01/05/2021", "owner": "Self", "ticker": "<a href=\"https://finance.yahoo.com/q?s=CRSP\" target=\"_blank\">CRSP</a>",
           "asset_description": "CRISPR Therapeutics AG", "asset_type": "Stock", "type": "Sale (Partial)", "amount": "$1,001 - $15,000", "comment": "--"}]}]"#;
        let items = SenateWatcher.normalize(body, &cx()).unwrap();
        let (a, b) = (items[0].as_ref().unwrap(), items[1].as_ref().unwrap());
        assert_eq!(a.cashtags, vec!["CRSP"]);
        assert_eq!(a.extras["congress_trade"]["type"], "sale_partial");
        assert_eq!(
            a.disclosed_at.unwrap().to_rfc3339(),
            "2021-01-15T00:00:00+00:00"
        );
        assert_ne!(a.id, b.id, "two identical trades are two items");
        let again = SenateWatcher.normalize(body, &cx()).unwrap();
        assert_eq!(again[1].as_ref().unwrap().id, b.id);
    }

    #[test]
    fn clerk_index_keeps_only_ptrs() {
        let body = b"<?xml version=\"1.0\"?>\n<FinancialDisclosure><Member><Prefix>Hon.</Prefix><Last>Alford</Last><First>Mark</First>\
<FilingType>P</FilingType><StateDst>MO04</StateDst><Year>2026</Year><FilingDate>3/31/2026</FilingDate><DocID>20034201</DocID></Member>\
<Member><Last>Aaron</Last><First>Richard</First><FilingType>W</FilingType><StateDst>MI04</StateDst><Year>2026</Year>\
<FilingDate>4/15/2026</FilingDate><DocID>8068</DocID></Member></FinancialDisclosure>";
        let items = HouseClerk.normalize(body, &cx()).unwrap();
        assert_eq!(items.len(), 1);
        let c = items[0].as_ref().unwrap();
        assert!(c.url.as_ref().unwrap().ends_with("/2026/20034201.pdf"));
        assert_eq!(c.happened_at.to_rfc3339(), "2026-03-31T00:00:00+00:00");
    }

    #[test]
    fn clerk_index_inside_its_zip() {
        use std::io::Write;
        let xml = b"<?xml version=\"1.0\"?>\n<FinancialDisclosure><Member><Last>Alford</Last><First>Mark</First>\
<FilingType>P</FilingType><StateDst>MO04</StateDst><Year>2026</Year><FilingDate>3/31/2026</FilingDate><DocID>20034201</DocID></Member></FinancialDisclosure>";
        let mut buf = std::io::Cursor::new(Vec::new());
        let mut w = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        w.start_file("2026FD.txt", opts).unwrap();
        w.write_all(b"Prefix\tLast\n").unwrap();
        w.start_file("2026FD.xml", opts).unwrap();
        w.write_all(xml).unwrap();
        w.finish().unwrap();
        let items = HouseClerk.normalize(buf.get_ref(), &cx()).unwrap();
        assert_eq!(items.len(), 1);
        assert!(HouseClerk.normalize(b"PK\x03\x04garbage", &cx()).is_err());
    }

    #[test]
    fn names_tickers_and_amounts() {
        assert_eq!(clean_name("David A Perdue , Jr"), "David A Perdue, Jr");
        assert_eq!(ticker_of("BRK-B"), "BRK.B");
        assert_eq!(ticker_of("--"), "");
        assert_eq!(amount_range("Over $50,000,000"), (Some(50_000_000), None));
    }
}
