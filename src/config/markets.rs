//! `[markets]`: prices, the trading calendar's overrides, how outcomes are judged.

use std::collections::BTreeMap;

use serde::Deserialize;
use sigflow_connectors::prices;

use crate::markets::calendar::{Overrides, parse_override};

#[derive(Debug, Clone, Deserialize)]
pub struct MarketsConfig {
    pub enabled: bool,
    /// How often the markets service looks for work (due fetches, final outcomes).
    pub poll_secs: u64,
    /// Sessions of history fetched before a prediction's entry.
    pub backfill_sessions: u32,
    /// A bar counts as final this long after its session's close.
    pub settle_secs: u64,
    /// Excess returns are measured against this asset (NYSE calls only).
    pub benchmark: String,
    /// Assets scored on the crypto calendar (every UTC day); anything else is NYSE.
    pub crypto: Vec<String>,
    pub outcomes: OutcomesConfig,
    pub calendar: CalendarConfig,
    pub providers: ProviderOrder,
    #[serde(default)]
    pub provider: BTreeMap<String, ProviderConfig>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OutcomesConfig {
    /// A call is right beyond this move, in percent.
    pub threshold_pct: f64,
    pub notional: f64,
    /// Costs per side, basis points of the notional.
    pub cost_bps: f64,
    /// Sessions after an exit with no price before the symbol counts as delisted.
    pub grace_sessions: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CalendarConfig {
    /// Extra NYSE closures, "YYYY-MM-DD".
    pub closed: Vec<String>,
    /// Extra NYSE early closes, "YYYY-MM-DD HH:MM" (local time).
    pub early_close: Vec<String>,
    /// Extend the table to this date (list that period's closures above); "" = 2027-12-31.
    pub covered_through: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ProviderOrder {
    pub nyse: Vec<String>,
    pub crypto: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ProviderConfig {
    pub base_url: String,
    /// The environment variable holding the API key ("" = the provider's default).
    pub key_env: String,
    /// The csv provider's directory.
    pub dir: String,
    /// Requests per second (0 = the provider's default).
    pub max_rps: f64,
    pub timeout_secs: u64,
}

impl MarketsConfig {
    pub fn validate(&self, errors: &mut Vec<String>) {
        let mut range = |name: &str, v: f64, lo: f64, hi: f64| {
            if !(v.is_finite() && (lo..=hi).contains(&v)) {
                errors.push(format!("markets.{name}: must be from {lo} to {hi}"));
            }
        };
        range("poll_secs", self.poll_secs as f64, 1.0, 86_400.0);
        range(
            "backfill_sessions",
            self.backfill_sessions as f64,
            0.0,
            2_520.0,
        );
        range("settle_secs", self.settle_secs as f64, 0.0, 86_400.0);
        let o = &self.outcomes;
        range("outcomes.threshold_pct", o.threshold_pct, 0.0, 100.0);
        range("outcomes.notional", o.notional, 0.01, 1e12);
        range("outcomes.cost_bps", o.cost_bps, 0.0, 10_000.0);
        range(
            "outcomes.grace_sessions",
            o.grace_sessions as f64,
            1.0,
            250.0,
        );
        if let Err(e) = self.overrides() {
            errors.extend(e);
        }
        for (market, names) in [
            ("nyse", &self.providers.nyse),
            ("crypto", &self.providers.crypto),
        ] {
            for n in names {
                match prices::spec(n) {
                    None => errors.push(format!(
                        "markets.providers.{market}: unknown provider {n:?} (known: {})",
                        prices::PROVIDERS
                            .iter()
                            .map(|p| p.name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                    Some(s) if !s.markets.iter().any(|m| m.as_str() == market) => errors.push(
                        format!("markets.providers.{market}: {n} has no {market} prices"),
                    ),
                    Some(_) => {}
                }
            }
        }
        for (name, p) in &self.provider {
            if prices::spec(name).is_none() {
                errors.push(format!("markets.provider.{name}: unknown provider"));
            }
            if !p.base_url.is_empty() {
                match url::Url::parse(&p.base_url) {
                    Err(e) => {
                        errors.push(format!("markets.provider.{name}.base_url: not a URL ({e})"))
                    }
                    Ok(u) => {
                        if let Err(e) = sigflow_connectors::net::check_scheme(&u) {
                            errors.push(format!("markets.provider.{name}.base_url: {e}"));
                        }
                    }
                }
            }
            if !(0.0..=1000.0).contains(&p.max_rps) || p.timeout_secs > 600 {
                errors.push(format!(
                    "markets.provider.{name}: max_rps 0..1000, timeout_secs 0..600"
                ));
            }
        }
    }

    /// The calendar overrides, or every bad entry.
    pub fn overrides(&self) -> Result<Overrides, Vec<String>> {
        let mut o = Overrides::default();
        let mut errors = Vec::new();
        for s in &self.calendar.closed {
            match parse_override(s) {
                Ok((d, None)) => o.closed.push(d),
                Ok((_, Some(_))) => errors.push(format!(
                    "markets.calendar.closed: {s:?} has a time; closures are whole days"
                )),
                Err(e) => errors.push(format!("markets.calendar.closed: {e}")),
            }
        }
        for s in &self.calendar.early_close {
            match parse_override(s) {
                Ok((d, Some(t))) => o.early_close.push((d, t)),
                Ok((_, None)) => errors.push(format!(
                    "markets.calendar.early_close: {s:?} needs a close time, \"YYYY-MM-DD HH:MM\""
                )),
                Err(e) => errors.push(format!("markets.calendar.early_close: {e}")),
            }
        }
        if !self.calendar.covered_through.is_empty() {
            match parse_override(&self.calendar.covered_through) {
                Ok((d, None)) => o.covered_through = Some(d),
                _ => errors.push("markets.calendar.covered_through: a date, YYYY-MM-DD".into()),
            }
        }
        if errors.is_empty() {
            Ok(o)
        } else {
            Err(errors)
        }
    }

    /// How outcomes are judged.
    pub fn params(&self) -> crate::markets::outcome::Params {
        crate::markets::outcome::Params {
            threshold: self.outcomes.threshold_pct / 100.0,
            notional: self.outcomes.notional,
            cost_bps: self.outcomes.cost_bps,
            grace_sessions: self.outcomes.grace_sessions,
        }
    }
}
