//! `earnings`: upcoming (and just reported) earnings from one provider:
//!
//! * `nasdaq` — `api.nasdaq.com/api/calendar/earnings?date=D`, one request per day from
//!   yesterday to `days_ahead`; no key, but browser-like headers are expected.
//! * `finnhub` — `/api/v1/calendar/earnings?from=&to=`, token in `X-Finnhub-Token`
//!   (from `$FINNHUB_TOKEN` unless `token_env` says otherwise).
//! * `alphavantage` — `EARNINGS_CALENDAR` CSV, key from `$ALPHAVANTAGE_API_KEY`. Its rate
//!   limit arrives as HTTP 200 with an `Information` JSON body: recognised here and
//!   waited out, never handed on as data.
//!
//! Calendars change as reports land, so each is re-polled every `interval_secs`; a body
//! identical to the last one delivered for the same request is skipped (the cursor
//! keeps their hashes).

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{Days, NaiveDate, Utc};
use tokio::time::Instant;

use super::http::{Http, HttpDefaults, HttpSettings};
use super::opts::Opts;
use super::{Payload, Poll, Source, SourceError};
use crate::sources::SourceConfig;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Provider {
    Nasdaq,
    Finnhub,
    AlphaVantage,
}

struct Settings {
    provider: Provider,
    days_ahead: u64,
    symbols: Vec<String>,
    interval: Duration,
    key_env: Option<String>,
    http: HttpSettings,
}

fn read(cfg: &SourceConfig) -> (Settings, Vec<String>) {
    let mut o = Opts::new(cfg);
    let name = o.required("provider", "nasdaq, finnhub or alphavantage");
    let provider = match name.as_str() {
        "nasdaq" | "" => Provider::Nasdaq,
        "finnhub" => Provider::Finnhub,
        "alphavantage" | "alpha_vantage" => Provider::AlphaVantage,
        other => {
            o.errors.push(format!(
                "option `provider`: `{other}` is not one of nasdaq, finnhub, alphavantage"
            ));
            Provider::Nasdaq
        }
    };
    let (base, key_env, rps) = match provider {
        Provider::Nasdaq => ("https://api.nasdaq.com", None, 1.0),
        Provider::Finnhub => ("https://finnhub.io", Some("FINNHUB_TOKEN"), 1.0),
        // 25 requests a day on the free key.
        Provider::AlphaVantage => (
            "https://www.alphavantage.co",
            Some("ALPHAVANTAGE_API_KEY"),
            0.2,
        ),
    };
    let http = HttpSettings::read(
        &mut o,
        HttpDefaults {
            base_url: Some(base),
            max_rps: rps,
            max_rps_cap: 30.0,
            low_water: 0.0,
            // Keys go in a header or the query, not as a bearer token.
            token_env: None,
            // Alpha Vantage's daily limit: try again in an hour.
            blocked_wait: 3600,
        },
    );
    let key_env = o.string("key_env").or(key_env.map(String::from));
    if let Some(var) = &key_env
        && std::env::var(var).map_or(true, |v| v.trim().is_empty())
    {
        o.errors.push(format!(
            "provider `{name}` needs an API key: set ${var} (or name another variable with `key_env`)"
        ));
    }
    let s = Settings {
        provider,
        days_ahead: o.uint("days_ahead", 7, 0, 90),
        symbols: o.list("symbols"),
        interval: Duration::from_secs(o.uint(
            "interval_secs",
            if provider == Provider::AlphaVantage {
                21_600
            } else {
                3600
            },
            60,
            604_800,
        )),
        key_env,
        http,
    };
    (s, o.finish())
}

pub(super) fn validate(cfg: &SourceConfig) -> Vec<String> {
    read(cfg).1
}

pub struct EarningsSource {
    name: String,
    s: Settings,
    http: Http,
    key: Option<String>,
    next_poll: Instant,
}

impl EarningsSource {
    pub fn from_config(cfg: &SourceConfig) -> Result<Self, String> {
        let (s, errs) = read(cfg);
        if !errs.is_empty() {
            return Err(errs.join("; "));
        }
        let key = s.key_env.as_ref().and_then(|v| std::env::var(v).ok());
        Ok(EarningsSource {
            name: cfg.name.clone(),
            http: Http::new(&cfg.name, s.http.clone())?,
            key,
            s,
            next_poll: Instant::now(),
        })
    }

    /// (cursor key, URL, format) of every request this poll makes.
    fn requests(&self, today: NaiveDate) -> Vec<(String, String, &'static str)> {
        let key = self.key.clone().unwrap_or_default();
        match self.s.provider {
            Provider::Nasdaq => (0..=self.s.days_ahead + 1)
                .filter_map(|d| {
                    today
                        .checked_sub_days(Days::new(1))?
                        .checked_add_days(Days::new(d))
                })
                .map(|day| {
                    let day = day.to_string();
                    let url = self.http.url("/api/calendar/earnings", &[("date", &day)]);
                    (format!("nasdaq:{day}"), url, "nasdaq-earnings")
                })
                .collect(),
            Provider::Finnhub => {
                let from = today
                    .checked_sub_days(Days::new(1))
                    .unwrap_or(today)
                    .to_string();
                let to = today
                    .checked_add_days(Days::new(self.s.days_ahead))
                    .unwrap_or(today)
                    .to_string();
                let mut out = Vec::new();
                let symbols = if self.s.symbols.is_empty() {
                    vec![String::new()]
                } else {
                    self.s.symbols.clone()
                };
                for sym in symbols {
                    let mut params = vec![("from", from.as_str()), ("to", to.as_str())];
                    if !sym.is_empty() {
                        params.push(("symbol", sym.as_str()));
                    }
                    let url = self.http.url("/api/v1/calendar/earnings", &params);
                    out.push((format!("finnhub:{sym}"), url, "finnhub-earnings"));
                }
                out
            }
            Provider::AlphaVantage => {
                let horizon = if self.s.days_ahead > 90 {
                    "6month"
                } else {
                    "3month"
                };
                let symbols = if self.s.symbols.is_empty() {
                    vec![String::new()]
                } else {
                    self.s.symbols.clone()
                };
                symbols
                    .into_iter()
                    .map(|sym| {
                        let mut params = vec![
                            ("function", "EARNINGS_CALENDAR"),
                            ("horizon", horizon),
                            ("apikey", key.as_str()),
                        ];
                        if !sym.is_empty() {
                            params.push(("symbol", sym.as_str()));
                        }
                        let url = self.http.url("/query", &params);
                        (format!("alphavantage:{sym}"), url, "alphavantage-earnings")
                    })
                    .collect()
            }
        }
    }
}

#[async_trait]
impl Source for EarningsSource {
    fn name(&self) -> &str {
        &self.name
    }

    async fn poll(&mut self, cursor: Option<&str>) -> Result<Poll, SourceError> {
        if let Some(idle) = super::too_early(self.next_poll) {
            return Ok(idle);
        }
        let mut cur: BTreeMap<String, String> = super::read_cursor(cursor, "earnings")?;
        let reqs = self.requests(Utc::now().date_naive());
        // Forget days that fell out of the window.
        cur.retain(|k, _| reqs.iter().any(|(rk, _, _)| rk == k));
        let mut out = Vec::new();
        for (key, url, format) in reqs {
            let mut headers: Vec<(&str, &str)> = Vec::new();
            let token = self.key.clone().unwrap_or_default();
            match self.s.provider {
                Provider::Nasdaq => {
                    headers.push(("accept", "application/json, text/plain, */*"));
                    headers.push(("origin", "https://www.nasdaq.com"));
                    headers.push(("referer", "https://www.nasdaq.com/"));
                }
                Provider::Finnhub => headers.push(("x-finnhub-token", token.as_str())),
                Provider::AlphaVantage => {}
            }
            let r = self.http.get(&url, &headers).await?;
            if self.s.provider == Provider::AlphaVantage
                && let Some(msg) = crate::normalize::alpha_vantage_notice(&r.body)
            {
                return Err(SourceError::Throttled {
                    message: format!("Alpha Vantage: {msg}"),
                    wait: self.s.http.blocked_wait,
                });
            }
            let sha = crate::lake::sha256_hex(&r.body);
            if cur.get(&key) == Some(&sha) {
                continue;
            }
            let mut meta = serde_json::Map::new();
            meta.insert("request".into(), serde_json::Value::from(key.as_str()));
            out.push(Payload {
                format: format.into(),
                body: r.body,
                meta,
            });
            cur.insert(key, sha);
        }
        self.next_poll = Instant::now() + self.s.interval;
        Ok(super::answer(out, &cur, cursor, self.s.interval))
    }
}
