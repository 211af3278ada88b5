//! The providers of each market in their configured order, with a circuit breaker per
//! provider: after a provider throttles or fails it is skipped until its wait is over
//! (Retry-After, the vendor's daily reset, or a doubling backoff up to an hour), so one
//! blocked vendor never stalls the others. The chain also decides which bars are final:
//! a bar fetched before its session closed (plus a settling delay) is not.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Days, NaiveDate, Utc};
use sigflow_logic::markets::bars::Bar;
use sigflow_logic::markets::{Calendar, Market};
use tokio::time::Instant;

use super::{PriceError, PriceProvider};

/// Consecutive failures before a provider is skipped for a while.
const TRIP_AFTER: u32 = 3;
const MAX_OPEN: Duration = Duration::from_secs(3600);

#[derive(Default)]
struct Breaker {
    failures: u32,
    open_until: Option<Instant>,
}

struct Member {
    provider: Box<dyn PriceProvider>,
    breaker: Mutex<Breaker>,
}

/// Bars from the first provider that answered.
#[derive(Debug)]
pub struct Fetched {
    pub bars: Vec<Bar>,
    /// The provider that answered ("" when every provider said it has nothing).
    pub provider: &'static str,
    /// Every provider's refusal on the way, for the log and the tracking row.
    pub skipped: Vec<String>,
    /// The last session this answer speaks for (None: nobody could say).
    pub through: Option<NaiveDate>,
}

/// No provider could answer now.
#[derive(Debug)]
pub struct Failure {
    pub errors: Vec<String>,
    /// When asking again is worth it.
    pub retry_in: Duration,
}

pub struct PriceChain {
    members: Vec<Member>,
    order: BTreeMap<Market, Vec<usize>>,
    calendar: Arc<Calendar>,
    settle: chrono::Duration,
}

impl PriceChain {
    /// `order`: per market, provider names in the order to try (each must be in
    /// `providers`).
    pub fn new(
        providers: Vec<Box<dyn PriceProvider>>,
        order: &BTreeMap<Market, Vec<String>>,
        calendar: Arc<Calendar>,
        settle: Duration,
    ) -> Result<PriceChain, String> {
        let members: Vec<Member> = providers
            .into_iter()
            .map(|provider| Member {
                provider,
                breaker: Mutex::new(Breaker::default()),
            })
            .collect();
        let mut idx = BTreeMap::new();
        for (market, names) in order {
            let mut v = Vec::new();
            for n in names {
                let i = members
                    .iter()
                    .position(|m| m.provider.name() == n)
                    .ok_or_else(|| {
                        format!("markets.providers.{market}: provider {n:?} is not configured")
                    })?;
                v.push(i);
            }
            idx.insert(*market, v);
        }
        Ok(PriceChain {
            members,
            order: idx,
            calendar,
            settle: chrono::Duration::from_std(settle).unwrap_or_default(),
        })
    }

    pub fn providers(&self, market: Market) -> Vec<&'static str> {
        self.order
            .get(&market)
            .map(|v| v.iter().map(|i| self.members[*i].provider.name()).collect())
            .unwrap_or_default()
    }

    /// Bars of `asset` for `from..=to` as of `now`.
    pub async fn fetch(
        &self,
        asset: &str,
        market: Market,
        from: NaiveDate,
        to: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<Fetched, Failure> {
        let mut skipped = Vec::new();
        let mut retry_in: Option<Duration> = None;
        let mut transient = false;
        let mut through: Option<NaiveDate> = None;
        for &i in self.order.get(&market).map(Vec::as_slice).unwrap_or(&[]) {
            let m = &self.members[i];
            let name = m.provider.name();
            if let Some(until) = m.breaker.lock().expect("breaker lock").open_until
                && until > Instant::now()
            {
                let left = until - Instant::now();
                skipped.push(format!(
                    "{name}: skipped for {}s after repeated failures",
                    left.as_secs()
                ));
                retry_in = Some(retry_in.map_or(left, |r| r.min(left)));
                transient = true;
                continue;
            }
            match m.provider.daily(asset, market, from, to).await {
                Ok(mut bars) if !bars.is_empty() => {
                    *m.breaker.lock().expect("breaker lock") = Breaker::default();
                    for b in &mut bars {
                        b.is_final = self.is_final(market, b.session, now);
                    }
                    metrics::counter!("sigflow_price_fetches_total", "provider" => name, "outcome" => "bars").increment(1);
                    let through = m.provider.answers_through(to, &bars);
                    return Ok(Fetched {
                        bars,
                        provider: name,
                        skipped,
                        through,
                    });
                }
                Ok(_) => {
                    *m.breaker.lock().expect("breaker lock") = Breaker::default();
                    skipped.push(format!("{name}: no bars from {from} to {to}"));
                    through = through.max(m.provider.answers_through(to, &[]));
                }
                Err(e) => {
                    metrics::counter!("sigflow_price_fetches_total", "provider" => name, "outcome" => kind(&e)).increment(1);
                    if e.retryable() {
                        transient = true;
                        let wait = self.trip(m, &e);
                        retry_in = Some(retry_in.map_or(wait, |r| r.min(wait)));
                    }
                    if e.is_answer() {
                        through = through.max(m.provider.answers_through(to, &[]));
                    }
                    skipped.push(e.to_string());
                }
            }
        }
        if transient {
            return Err(Failure {
                errors: skipped,
                retry_in: retry_in.unwrap_or(Duration::from_secs(300)),
            });
        }
        // Every provider answered and none has a price: that is an answer too.
        Ok(Fetched {
            bars: Vec::new(),
            provider: "",
            skipped,
            through,
        })
    }

    /// Count a failure; open the breaker when it is a throttle or the failures repeat.
    fn trip(&self, m: &Member, e: &PriceError) -> Duration {
        let mut b = m.breaker.lock().expect("breaker lock");
        b.failures += 1;
        let wait = match e {
            PriceError::Throttled { wait, .. } => Some(*wait),
            _ if b.failures >= TRIP_AFTER => {
                Some(Duration::from_secs(60u64 << (b.failures - TRIP_AFTER).min(6)).min(MAX_OPEN))
            }
            _ => None,
        };
        if let Some(w) = wait {
            b.open_until = Some(Instant::now() + w.min(MAX_OPEN * 24));
            tracing::warn!(provider = m.provider.name(), wait_secs = w.as_secs(), error = %e, "price provider paused");
        }
        wait.unwrap_or(Duration::from_secs(60))
    }

    /// A bar is final once its session closed (plus the settling delay) before `now`.
    pub fn is_final(&self, market: Market, session: NaiveDate, now: DateTime<Utc>) -> bool {
        match self.calendar.session(market, session) {
            Ok(Some(s)) => now >= s.close + self.settle,
            // A bar on a day the calendar has no session for (or beyond its table):
            // final once the whole next UTC day has passed.
            _ => session
                .checked_add_days(Days::new(2))
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .is_some_and(|d| now >= d.and_utc()),
        }
    }
}

fn kind(e: &PriceError) -> &'static str {
    match e {
        PriceError::NotFound(_) => "not_found",
        PriceError::Unavailable(_) => "unavailable",
        PriceError::Throttled { .. } => "throttled",
        PriceError::Transient(_) => "transient",
        PriceError::Config(_) => "config",
    }
}
