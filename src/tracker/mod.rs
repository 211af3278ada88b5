//! tracker: the markets side of the binary.
//!
//! * [`Markets`] — what the config builds: the calendar, the provider chain, how
//!   outcomes are judged, which assets are crypto.
//! * [`prices`] — one round of the price tracker: what open predictions need, fetch
//!   what is due, file bars and the tracking row together.
//! * [`scorer`] — open calls of a namespace → outcome rows, from stored bars.
//! * [`backtest`] — a rule set over stored history in its own namespace.
//! * [`service`] — the `markets` task: tracker round, then scorer, every `poll_secs`.

pub mod backtest;
pub mod prices;
pub mod scorer;
pub mod service;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use sigflow_connectors::prices::{PROVIDERS, PriceChain, PriceProvider, ProviderSettings};

use crate::config::MarketsConfig;
use crate::markets::outcome::Params;
use crate::markets::{Calendar, Market};

/// Everything markets work needs, built once from `[markets]`.
pub struct Markets {
    pub calendar: Arc<Calendar>,
    pub chain: PriceChain,
    pub params: Params,
    pub benchmark: String,
    crypto: HashSet<String>,
    pub backfill_sessions: u32,
    pub settle: chrono::Duration,
    /// Providers left out (no key, no dir), with why: for the log and `markets providers`.
    pub left_out: Vec<String>,
}

impl Markets {
    pub fn build(cfg: &MarketsConfig) -> Result<Markets, String> {
        let overrides = cfg.overrides().map_err(|e| e.join("; "))?;
        let calendar = Arc::new(Calendar::new(&overrides)?);
        let mut providers: Vec<Box<dyn PriceProvider>> = Vec::new();
        let mut left_out = Vec::new();
        let mut order = BTreeMap::new();
        for (market, names) in [
            (Market::Nyse, &cfg.providers.nyse),
            (Market::Crypto, &cfg.providers.crypto),
        ] {
            let mut kept = Vec::new();
            for name in names {
                if !providers.iter().any(|p| p.name() == name) {
                    match build_provider(cfg, name) {
                        Ok(p) => providers.push(p),
                        Err(why) => {
                            if !left_out.contains(&why) {
                                left_out.push(why);
                            }
                            continue;
                        }
                    }
                }
                kept.push(name.clone());
            }
            order.insert(market, kept);
        }
        let settle = Duration::from_secs(cfg.settle_secs);
        let chain = PriceChain::new(providers, &order, calendar.clone(), settle)?;
        Ok(Markets {
            calendar,
            chain,
            params: cfg.params(),
            benchmark: cfg.benchmark.trim().to_ascii_uppercase(),
            crypto: cfg
                .crypto
                .iter()
                .map(|c| c.trim().to_ascii_uppercase())
                .collect(),
            backfill_sessions: cfg.backfill_sessions,
            settle: chrono::Duration::from_std(settle).unwrap_or_default(),
            left_out,
        })
    }

    /// The calendar an asset trades on.
    pub fn market_of(&self, asset: &str) -> Market {
        let a = asset.to_ascii_uppercase();
        if self.crypto.contains(&a) || a.ends_with("-USD") {
            Market::Crypto
        } else {
            Market::Nyse
        }
    }

    /// The benchmark of a market (none for crypto).
    pub fn benchmark_for(&self, market: Market) -> Option<&str> {
        (market == Market::Nyse && !self.benchmark.is_empty()).then_some(self.benchmark.as_str())
    }
}

fn build_provider(cfg: &MarketsConfig, name: &str) -> Result<Box<dyn PriceProvider>, String> {
    let spec = PROVIDERS
        .iter()
        .find(|s| s.name == name)
        .ok_or(format!("{name}: unknown provider"))?;
    let pc = cfg.provider.get(name).cloned().unwrap_or_default();
    let key_env = if pc.key_env.is_empty() {
        spec.key_env.unwrap_or("").to_string()
    } else {
        pc.key_env.clone()
    };
    let key = (!key_env.is_empty())
        .then(|| std::env::var(&key_env).ok())
        .flatten()
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty());
    if spec.key_env.is_some() && key.is_none() {
        return Err(format!("{name}: left out, no API key in ${key_env}"));
    }
    if name == "csv" && pc.dir.is_empty() {
        return Err("csv: left out, no [markets.provider.csv] dir".into());
    }
    let settings = ProviderSettings {
        base_url: if pc.base_url.is_empty() {
            spec.default_base_url.to_string()
        } else {
            pc.base_url.trim_end_matches('/').to_string()
        },
        key,
        dir: (!pc.dir.is_empty()).then(|| pc.dir.clone().into()),
        max_rps: if pc.max_rps > 0.0 {
            pc.max_rps
        } else {
            spec.default_max_rps
        },
        timeout: Duration::from_secs(if pc.timeout_secs > 0 {
            pc.timeout_secs
        } else {
            30
        }),
        user_agent: sigflow_connectors::sources::http::DEFAULT_USER_AGENT.to_string(),
    };
    (spec.build)(settings)
}
