//! A directory of CSV files, one per asset (`AAPL.csv`; `BRK-B.csv` or `BRK.B.csv`):
//! offline, any vendor's export. Columns are found by header name, case-insensitive:
//! `Date` (or `timestamp`; the first 10 characters), `Open`, `High`, `Low`, `Close`,
//! `Volume`, and optionally a split column (`Split`, `Split Factor`, `Stock Splits`
//! — yfinance writes 0 for none) and a dividend column (`Dividend`, `Dividends`,
//! `divCash`). Prices must be as traded (an `Adj Close` column is ignored). Lines
//! starting with `#` are comments (the demo's file says it is demo data there).

use std::path::PathBuf;

use async_trait::async_trait;
use chrono::NaiveDate;
use sigflow_logic::markets::Market;
use sigflow_logic::markets::bars::Bar;

use super::{
    PriceError, PriceProvider, ProviderSettings, ProviderSpec, dashed, is_html, snippet, tidy,
};

pub const SPEC: ProviderSpec = ProviderSpec {
    name: "csv",
    about: "a directory of CSV files, one per asset (offline; any vendor's export)",
    markets: &[Market::Nyse, Market::Crypto],
    default_base_url: "",
    key_env: None,
    default_max_rps: 1000.0,
    build,
};

fn build(s: ProviderSettings) -> Result<Box<dyn PriceProvider>, String> {
    let dir = s
        .dir
        .ok_or("csv: option `dir` (the directory of CSV files) is required")?;
    Ok(Box::new(CsvDir { dir }))
}

struct CsvDir {
    dir: PathBuf,
}

#[async_trait]
impl PriceProvider for CsvDir {
    fn name(&self) -> &'static str {
        "csv"
    }

    async fn daily(
        &self,
        asset: &str,
        _market: Market,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Bar>, PriceError> {
        if asset.is_empty() || asset.contains(['/', '\\']) || asset.starts_with('.') {
            return Err(PriceError::NotFound(format!(
                "csv: {asset:?} is not a file name"
            )));
        }
        let names = [
            asset.to_string(),
            dashed(asset),
            asset.to_ascii_lowercase(),
            dashed(asset).to_ascii_lowercase(),
        ];
        for name in names {
            let path = self.dir.join(format!("{name}.csv"));
            match tokio::fs::read(&path).await {
                Ok(body) => {
                    let bars = parse(&body)?;
                    return Ok(bars
                        .into_iter()
                        .filter(|b| b.session >= from && b.session <= to)
                        .collect());
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(PriceError::Transient(format!(
                        "csv: reading {}: {e}",
                        path.display()
                    )));
                }
            }
        }
        Err(PriceError::NotFound(format!(
            "csv: no {asset}.csv in {}",
            self.dir.display()
        )))
    }

    /// A file speaks only as far as it goes: its last row, not the range asked for.
    fn answers_through(&self, _to: NaiveDate, bars: &[Bar]) -> Option<NaiveDate> {
        bars.last().map(|b| b.session)
    }
}

fn find(header: &[String], names: &[&str]) -> Option<usize> {
    header.iter().position(|h| names.contains(&h.as_str()))
}

pub fn parse(body: &[u8]) -> Result<Vec<Bar>, PriceError> {
    if is_html(body) {
        return Err(PriceError::Unavailable(format!(
            "csv: an HTML page, not CSV ({})",
            snippet(body)
        )));
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| PriceError::Unavailable("csv: not UTF-8 text".into()))?;
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    let Some(head) = lines.next() else {
        return Ok(Vec::new());
    };
    let header: Vec<String> = head
        .split(',')
        .map(|h| h.trim().trim_matches('"').to_ascii_lowercase())
        .collect();
    let (Some(di), Some(oi), Some(hi), Some(li), Some(ci)) = (
        find(&header, &["date", "timestamp", "day"]),
        find(&header, &["open"]),
        find(&header, &["high"]),
        find(&header, &["low"]),
        find(&header, &["close"]),
    ) else {
        return Err(PriceError::Unavailable(format!(
            "csv: the header needs Date, Open, High, Low, Close (found {head:?})"
        )));
    };
    let vi = find(&header, &["volume", "vol"]);
    let si = find(
        &header,
        &[
            "split",
            "split factor",
            "splitfactor",
            "split coefficient",
            "stock splits",
        ],
    );
    let xi = find(
        &header,
        &["dividend", "dividends", "divcash", "dividend amount"],
    );
    let mut bars = Vec::new();
    for line in lines {
        let f: Vec<&str> = line
            .split(',')
            .map(|x| x.trim().trim_matches('"'))
            .collect();
        let get = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok());
        let Some(session) = f
            .get(di)
            .and_then(|d| NaiveDate::parse_from_str(d.get(..10)?, "%Y-%m-%d").ok())
        else {
            continue;
        };
        let (Some(open), Some(high), Some(low), Some(close)) = (get(oi), get(hi), get(li), get(ci))
        else {
            continue; // "null" rows: no price that day
        };
        let volume = vi.and_then(get).unwrap_or(0.0);
        bars.push(
            Bar::fetched(session, open, high, low, close, volume)
                .with_actions(si.and_then(get), xi.and_then(get)),
        );
    }
    Ok(tidy(bars))
}
