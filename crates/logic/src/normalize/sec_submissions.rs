//! SEC EDGAR company submissions (`data.sec.gov/submissions/CIK##########.json`): the
//! recent filings as **parallel arrays** (`accessionNumber[i]`, `form[i]`, …), one item
//! per filing. Items share their id with the latest-filings feed's (platform `sec`,
//! the accession number), so a filing seen both ways is one item.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::parse_day;
use super::{
    Normalized, Normalizer, PayloadError, RawContext, base, item_err, parse_json, parse_rfc3339,
    str_of,
};
use crate::model::{Author, Content};

pub struct SecSubmissions;

impl Normalizer for SecSubmissions {
    fn name(&self) -> &'static str {
        "sec-submissions"
    }
    fn platform(&self) -> &'static str {
        "sec"
    }
    fn ext(&self) -> &'static str {
        "json"
    }

    fn normalize(&self, body: &[u8], cx: &RawContext) -> Result<Normalized, PayloadError> {
        let v = parse_json(body)?;
        let recent = v
            .pointer("/filings/recent")
            .filter(|r| r.is_object())
            .ok_or_else(|| {
                PayloadError("not an EDGAR submissions file: no filings.recent".into())
            })?;
        let col = |k: &str| recent.get(k).and_then(Value::as_array);
        let acc = col("accessionNumber")
            .ok_or_else(|| PayloadError("filings.recent has no accessionNumber array".into()))?;
        let cik = match v.get("cik") {
            Some(Value::String(s)) => s.trim_start_matches('0').to_string(),
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        let name = str_of(&v, "name").unwrap_or("").to_string();
        let tickers: Vec<String> = v
            .get("tickers")
            .and_then(Value::as_array)
            .map(|t| {
                t.iter()
                    .filter_map(|x| x.as_str().map(str::to_ascii_uppercase))
                    .collect()
            })
            .unwrap_or_default();
        let at = |k: &str, i: usize| {
            col(k)
                .and_then(|c| c.get(i))
                .cloned()
                .unwrap_or(Value::Null)
        };
        let mut out = Vec::with_capacity(acc.len());
        for (i, a) in acc.iter().enumerate() {
            let row = json!({
                "accessionNumber": a, "form": at("form", i), "filingDate": at("filingDate", i),
                "acceptanceDateTime": at("acceptanceDateTime", i), "primaryDocument": at("primaryDocument", i),
            });
            let Some(accession) = a.as_str().filter(|s| !s.is_empty()) else {
                out.push(Err(item_err(i, "filing without an accession number", &row)));
                continue;
            };
            let accepted: Option<DateTime<Utc>> = at("acceptanceDateTime", i)
                .as_str()
                .and_then(parse_rfc3339)
                .or_else(|| at("filingDate", i).as_str().and_then(parse_day));
            let Some(happened) = accepted else {
                out.push(Err(item_err(
                    i,
                    "filing without a readable acceptance or filing date",
                    &row,
                )));
                continue;
            };
            let form = at("form", i).as_str().unwrap_or("").to_string();
            let items: Vec<String> = at("items", i)
                .as_str()
                .unwrap_or("")
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
            let doc = at("primaryDocument", i).as_str().unwrap_or("").to_string();
            let desc = at("primaryDocDescription", i)
                .as_str()
                .unwrap_or("")
                .to_string();
            let mut c: Content = base("sec", accession, cx, happened);
            c.disclosed_at = Some(happened);
            c.author = Some(Author {
                id: Some(cik.clone()).filter(|s| !s.is_empty()),
                handle: name.clone(),
                name: Some(name.clone()),
            });
            let who = match tickers.first() {
                Some(t) => format!("{name} (${t})"),
                None => name.clone(),
            };
            c.title = Some(format!("{form} - {who}"));
            c.text = format!(
                "{who} filed {form} on {}{}{}.",
                at("filingDate", i).as_str().unwrap_or(""),
                if items.is_empty() {
                    String::new()
                } else {
                    format!(" (items {})", items.join(", "))
                },
                if desc.is_empty() {
                    String::new()
                } else {
                    format!(": {desc}")
                }
            );
            if !doc.is_empty() && !cik.is_empty() {
                c.url = Some(format!(
                    "https://www.sec.gov/Archives/edgar/data/{cik}/{}/{doc}",
                    accession.replace('-', "")
                ));
            }
            c.cashtags = tickers.clone();
            c.extras.insert("form".into(), json!(form));
            c.extras.insert("accession".into(), json!(accession));
            c.extras.insert("filed".into(), at("filingDate", i));
            c.extras.insert("report_date".into(), at("reportDate", i));
            c.extras.insert("items".into(), json!(items));
            c.extras.insert("primary_document".into(), json!(doc));
            c.extras.insert("cik".into(), json!(cik));
            out.push(Ok(c));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_arrays_become_filings() {
        let body = br#"{"cik":"1318605","name":"Tesla, Inc.","tickers":["TSLA"],"filings":{"recent":{
            "accessionNumber":["0001318605-26-000010","0000899243-26-000001"],
            "filingDate":["2026-10-22","2026-10-20"],"reportDate":["2026-10-22",""],
            "acceptanceDateTime":["2026-10-22T20:05:11.000Z","2026-10-20T21:00:00.000Z"],
            "form":["8-K","4"],"items":["2.02,9.01",""],"primaryDocument":["tsla-20261022.htm","xslF345X03/doc4.xml"],
            "primaryDocDescription":["8-K",""]}}}"#;
        let cx = RawContext {
            fetched_by: "t",
            lake_key: "k",
            observed_at: Utc::now(),
        };
        let items = SecSubmissions.normalize(body, &cx).unwrap();
        let c = items[0].as_ref().unwrap();
        assert_eq!(c.source_id, "0001318605-26-000010");
        assert_eq!(c.extras["items"], json!(["2.02", "9.01"]));
        assert_eq!(c.cashtags, vec!["TSLA"]);
        assert_eq!(
            c.url.as_deref(),
            Some(
                "https://www.sec.gov/Archives/edgar/data/1318605/000131860526000010/tsla-20261022.htm"
            )
        );
        assert_eq!(items.len(), 2);
    }
}
