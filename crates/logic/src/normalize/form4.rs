//! SEC Form 4 (`ownershipDocument`, schemas X0306…X0508) → one insider-trade item per
//! transaction row (non-derivative and derivative tables).
//!
//! The document does not carry its accession number, so an item's id is built from the
//! issuer, the owner, a hash of the document and the row: the same filing fetched twice
//! is the same items; an amendment is a new document and so new items.
//!
//! Quirks handled: booleans as `1`/`0` or `true`/`false`; values missing and replaced
//! by a `<footnoteId>` only; numbers such as `200000.0`.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::parse_day;
use super::xml::{self, Element};
use super::{ItemError, Normalized, Normalizer, PayloadError, RawContext, base};
use crate::model::{Author, Content};

pub struct Form4;

impl Normalizer for Form4 {
    fn name(&self) -> &'static str {
        "sec-form4"
    }
    fn platform(&self) -> &'static str {
        "sec-form4"
    }
    fn ext(&self) -> &'static str {
        "xml"
    }

    fn normalize(&self, body: &[u8], cx: &RawContext) -> Result<Normalized, PayloadError> {
        let root = xml::parse(body)?;
        if root.name != "ownershipDocument" {
            return Err(PayloadError(format!(
                "expected a Form 4 <ownershipDocument>, got <{}>",
                root.name
            )));
        }
        let doc = Doc::read(&root, &crate::hash::sha256_hex(body)[..16])?;
        let mut out = Vec::new();
        let tables = [
            ("nonDerivativeTable", "nonDerivativeTransaction", false),
            ("derivativeTable", "derivativeTransaction", true),
        ];
        for (table, row, derivative) in tables {
            let Some(t) = root.child(table) else { continue };
            for (i, tx) in t.children(row).enumerate() {
                out.push(doc.item(tx, i, derivative, out.len(), cx));
            }
        }
        Ok(out)
    }
}

/// `<x><value>…</value></x>`, absent when only a footnote stands in for the value.
fn value(e: &Element, path: &[&str]) -> Option<String> {
    let mut cur = e;
    for p in path {
        cur = cur.child(p)?;
    }
    cur.text_of("value")
        .or_else(|| Some(cur.text.trim().to_string()).filter(|s| !s.is_empty()))
}

fn flag(e: &Element, name: &str) -> bool {
    matches!(
        e.text_of(name)
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("1" | "true")
    )
}

fn number(s: Option<String>) -> Option<f64> {
    s?.replace(',', "")
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
}

struct Doc {
    issuer_cik: String,
    issuer_name: String,
    symbol: Option<String>,
    owner_cik: String,
    owner_name: String,
    relationship: Value,
    role: String,
    signed: Option<DateTime<Utc>>,
    form: String,
    doc_hash: String,
    aff10b5_one: Option<bool>,
}

impl Doc {
    fn read(root: &Element, doc_hash: &str) -> Result<Doc, PayloadError> {
        let issuer = root
            .child("issuer")
            .ok_or_else(|| PayloadError("Form 4 without <issuer>".into()))?;
        let owner = root
            .child("reportingOwner")
            .ok_or_else(|| PayloadError("Form 4 without <reportingOwner>".into()))?;
        let id = owner.child("reportingOwnerId");
        let rel = owner.child("reportingOwnerRelationship");
        let (director, officer, ten, other) = rel.map_or((false, false, false, false), |r| {
            (
                flag(r, "isDirector"),
                flag(r, "isOfficer"),
                flag(r, "isTenPercentOwner"),
                flag(r, "isOther"),
            )
        });
        let title = rel.and_then(|r| r.text_of("officerTitle"));
        let role = match (&title, director, ten) {
            (Some(t), _, _) if officer => t.clone(),
            (_, true, _) => "Director".into(),
            (_, _, true) => "10% owner".into(),
            _ if officer => "Officer".into(),
            _ => "Insider".into(),
        };
        let symbol = issuer
            .text_of("issuerTradingSymbol")
            .map(|s| s.to_ascii_uppercase())
            .filter(|s| s != "NONE" && s != "N/A");
        Ok(Doc {
            issuer_cik: issuer.text_of("issuerCik").unwrap_or_default(),
            issuer_name: issuer.text_of("issuerName").unwrap_or_default(),
            symbol,
            owner_cik: id
                .and_then(|i| i.text_of("rptOwnerCik"))
                .unwrap_or_default(),
            owner_name: id
                .and_then(|i| i.text_of("rptOwnerName"))
                .ok_or_else(|| PayloadError("Form 4 without a reporting owner name".into()))?,
            relationship: json!({
                "director": director, "officer": officer, "ten_percent_owner": ten,
                "other": other, "officer_title": title,
            }),
            role,
            signed: root
                .child("ownerSignature")
                .and_then(|s| s.text_of("signatureDate"))
                .and_then(|d| parse_day(&d)),
            form: root.text_of("documentType").unwrap_or_else(|| "4".into()),
            doc_hash: doc_hash.to_string(),
            aff10b5_one: root.child("aff10b5One").map(|_| flag(root, "aff10b5One")),
        })
    }

    fn item(
        &self,
        tx: &Element,
        row: usize,
        derivative: bool,
        index: usize,
        cx: &RawContext,
    ) -> Result<Content, ItemError> {
        let err = |m: &str| ItemError {
            index: index as u32,
            error: m.to_string(),
            detail: format!("{}: {}", self.issuer_name, self.owner_name),
        };
        let day =
            value(tx, &["transactionDate"]).ok_or_else(|| err("transaction without a date"))?;
        let happened = parse_day(&day).ok_or_else(|| err("unreadable transaction date"))?;
        let code = tx
            .child("transactionCoding")
            .and_then(|c| c.text_of("transactionCode"))
            .unwrap_or_default();
        let amounts = tx.child("transactionAmounts");
        let shares = amounts.and_then(|a| number(value(a, &["transactionShares"])));
        let price = amounts.and_then(|a| number(value(a, &["transactionPricePerShare"])));
        let ad = amounts
            .and_then(|a| value(a, &["transactionAcquiredDisposedCode"]))
            .unwrap_or_default();
        let after = number(value(
            tx,
            &["postTransactionAmounts", "sharesOwnedFollowingTransaction"],
        ));
        let security = value(tx, &["securityTitle"]).unwrap_or_else(|| "securities".into());
        let ownership = value(tx, &["ownershipNature", "directOrIndirectOwnership"]);
        let table = if derivative { "d" } else { "n" };
        let source_id = format!(
            "{}-{}-{}-{table}{row}",
            self.issuer_cik, self.owner_cik, self.doc_hash
        );
        let mut c = base("sec-form4", &source_id, cx, happened);
        c.disclosed_at = self.signed;
        c.author = Some(Author {
            id: Some(self.owner_cik.clone()).filter(|s| !s.is_empty()),
            handle: self.owner_name.clone(),
            name: Some(self.owner_name.clone()),
        });
        let ticker = self
            .symbol
            .as_ref()
            .map_or_else(|| self.issuer_name.clone(), |s| format!("${s}"));
        let verb = code_meaning(&code, &ad);
        let amount = match (shares, price) {
            (Some(s), Some(p)) if p > 0.0 => format!("{} shares at ${}", fmt_num(s), fmt_num(p)),
            (Some(s), _) => format!("{} shares", fmt_num(s)),
            _ => "an undisclosed amount".into(),
        };
        c.title = Some(format!(
            "Form {}: {} ({}) {verb} {amount} of {ticker}",
            self.form, self.owner_name, self.role
        ));
        c.text = format!(
            "{} ({} of {}) {verb} {amount} of {ticker} ({security}){}.",
            self.owner_name,
            self.role,
            self.issuer_name,
            after.map_or(String::new(), |a| format!("; holds {} after", fmt_num(a)))
        );
        c.url = None;
        c.cashtags = self.symbol.iter().cloned().collect();
        c.extras.insert(
            "insider_trade".into(),
            json!({
                "form": self.form,
                "issuer_cik": self.issuer_cik,
                "issuer_name": self.issuer_name,
                "symbol": self.symbol,
                "owner_cik": self.owner_cik,
                "owner_name": self.owner_name,
                "relationship": self.relationship,
                "security": security,
                "derivative": derivative,
                "transaction_code": code,
                "transaction": verb,
                "shares": shares,
                "price": price,
                "value": shares.zip(price).map(|(s, p)| (s * p * 100.0).round() / 100.0),
                "acquired_disposed": ad,
                "shares_after": after,
                "ownership": ownership,
                "aff10b5_one": self.aff10b5_one,
            }),
        );
        Ok(c)
    }
}

/// The SEC's transaction codes, in words.
fn code_meaning(code: &str, ad: &str) -> &'static str {
    match code {
        "P" => "bought",
        "S" => "sold",
        "A" => "was granted",
        "M" => "exercised",
        "F" => "withheld for tax",
        "G" => "gifted",
        "D" => "disposed of (to the issuer)",
        "C" => "converted",
        "X" => "exercised",
        "J" | "K" | "L" | "W" | "Z" | "I" | "E" | "H" | "O" | "U" | "V" => match ad {
            "D" => "disposed of",
            _ => "acquired",
        },
        _ => match ad {
            "D" => "disposed of",
            _ => "acquired",
        },
    }
}

fn fmt_num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"<?xml version="1.0"?>
<ownershipDocument><schemaVersion>X0306</schemaVersion><documentType>4</documentType>
<issuer><issuerCik>0000320193</issuerCik><issuerName>Apple Inc.</issuerName><issuerTradingSymbol>AAPL</issuerTradingSymbol></issuer>
<reportingOwner><reportingOwnerId><rptOwnerCik>0001214128</rptOwnerCik><rptOwnerName>DOE JANE</rptOwnerName></reportingOwnerId>
<reportingOwnerRelationship><isDirector>0</isDirector><isOfficer>1</isOfficer><officerTitle>SVP, CFO</officerTitle></reportingOwnerRelationship></reportingOwner>
<nonDerivativeTable><nonDerivativeTransaction><securityTitle><value>Common Stock</value></securityTitle>
<transactionDate><value>2026-10-02</value></transactionDate><transactionCoding><transactionFormType>4</transactionFormType><transactionCode>S</transactionCode></transactionCoding>
<transactionAmounts><transactionShares><value>12000.0</value></transactionShares><transactionPricePerShare><value>227.5</value></transactionPricePerShare>
<transactionAcquiredDisposedCode><value>D</value></transactionAcquiredDisposedCode></transactionAmounts>
<postTransactionAmounts><sharesOwnedFollowingTransaction><value>98000</value></sharesOwnedFollowingTransaction></postTransactionAmounts>
<ownershipNature><directOrIndirectOwnership><value>D</value></directOrIndirectOwnership></ownershipNature></nonDerivativeTransaction>
<nonDerivativeTransaction><securityTitle><value>Common Stock</value></securityTitle><transactionDate><footnoteId id="F1"/></transactionDate></nonDerivativeTransaction>
</nonDerivativeTable>
<ownerSignature><signatureName>/s/ Jane Doe</signatureName><signatureDate>2026-10-04</signatureDate></ownerSignature>
</ownershipDocument>"#;

    #[test]
    fn a_sale_by_an_officer() {
        let cx = RawContext {
            fetched_by: "t",
            lake_key: "k",
            observed_at: Utc::now(),
        };
        let items = Form4.normalize(DOC.as_bytes(), &cx).unwrap();
        assert_eq!(items.len(), 2);
        let c = items[0].as_ref().unwrap();
        let t = &c.extras["insider_trade"];
        assert_eq!(t["symbol"], "AAPL");
        assert_eq!(t["transaction"], "sold");
        assert_eq!(t["shares"], 12000.0);
        assert_eq!(t["price"], 227.5);
        assert_eq!(t["value"], 2_730_000.0);
        assert_eq!(t["acquired_disposed"], "D");
        assert_eq!(t["relationship"]["officer"], true);
        assert_eq!(c.cashtags, vec!["AAPL"]);
        assert_eq!(c.happened_at.to_rfc3339(), "2026-10-02T00:00:00+00:00");
        assert_eq!(
            c.disclosed_at.unwrap().to_rfc3339(),
            "2026-10-04T00:00:00+00:00"
        );
        assert!(
            c.title
                .as_ref()
                .unwrap()
                .contains("DOE JANE (SVP, CFO) sold 12000 shares at $227.50 of $AAPL")
        );
        // A row whose date is only a footnote is that row's error, not the document's.
        assert!(items[1].is_err());
        // Same bytes, same ids.
        let again = Form4.normalize(DOC.as_bytes(), &cx).unwrap();
        assert_eq!(again[0].as_ref().unwrap().id, c.id);
    }
}
