//! A daily bar as sigflow stores it: the session's raw prices as traded that day, and
//! the split and dividend that took effect at its open. Storing raw prices plus the
//! day's factors (instead of a vendor's back-adjusted series) means a split after an
//! outcome was written cannot change the prices it was computed from.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bar {
    /// The session date, in the market's time zone.
    pub session: NaiveDate,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
    /// New shares per old share for a split effective at this session's open (1 = none).
    pub split: f64,
    /// Cash dividend per share going ex on this session (0 = none).
    pub dividend: f64,
    /// Fetched after the session closed: the prices will not change.
    pub is_final: bool,
}

impl Bar {
    /// A plain bar with no corporate action.
    pub fn ohlc(
        session: NaiveDate,
        open: f64,
        high: f64,
        low: f64,
        close: f64,
        volume: f64,
    ) -> Bar {
        Bar {
            session,
            open,
            high,
            low,
            close,
            volume,
            split: 1.0,
            dividend: 0.0,
            is_final: true,
        }
    }

    /// A bar as a provider answers it: not final (whoever fetched it decides, from the
    /// calendar), no corporate action.
    pub fn fetched(
        session: NaiveDate,
        open: f64,
        high: f64,
        low: f64,
        close: f64,
        volume: f64,
    ) -> Bar {
        Bar {
            is_final: false,
            ..Bar::ohlc(session, open, high, low, close, volume)
        }
    }

    /// With the day's split ratio (missing or not positive: none) and cash dividend.
    pub fn with_actions(mut self, split: Option<f64>, dividend: Option<f64>) -> Bar {
        self.split = split.filter(|s| s.is_finite() && *s > 0.0).unwrap_or(1.0);
        self.dividend = dividend.unwrap_or(0.0);
        self
    }

    /// Prices that can be used: finite, positive, high ≥ low.
    pub fn is_sane(&self) -> bool {
        let p = [self.open, self.high, self.low, self.close];
        p.iter().all(|v| v.is_finite() && *v > 0.0)
            && self.high >= self.low
            && self.split.is_finite()
            && self.split > 0.0
    }
}

/// The product of the split ratios of sessions after `after`, up to and including
/// `upto`: what one share held at `after`'s prices became by `upto`.
pub fn split_factor(bars: &[Bar], after: NaiveDate, upto: NaiveDate) -> f64 {
    bars.iter()
        .filter(|b| b.session > after && b.session <= upto)
        .map(|b| b.split)
        .product()
}

/// Turn prices a vendor split-adjusted (every bar before a split divided by its ratio,
/// as Yahoo's chart does) back into the prices traded that day, using the splits of the
/// same answer. `bars` must be sorted by session.
pub fn unadjust_splits(bars: &mut [Bar]) {
    let mut later = 1.0;
    for b in bars.iter_mut().rev() {
        if later != 1.0 {
            b.open *= later;
            b.high *= later;
            b.low *= later;
            b.close *= later;
            b.volume /= later;
        }
        later *= b.split;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2020, m, day).unwrap()
    }

    #[test]
    fn unadjusting_restores_the_traded_prices_before_a_split() {
        // AAPL's 4-for-1 split went ex on 2020-08-31: 499.23 traded on the 28th.
        let mut bars = vec![
            Bar::ohlc(d(8, 28), 126.0, 126.5, 124.0, 124.8075, 4e8),
            Bar {
                split: 4.0,
                ..Bar::ohlc(d(8, 31), 127.58, 131.0, 126.0, 129.04, 2e8)
            },
        ];
        unadjust_splits(&mut bars);
        assert!((bars[0].close - 499.23).abs() < 1e-9);
        assert!((bars[0].volume - 1e8).abs() < 1e-3);
        assert_eq!(bars[1].close, 129.04);
        assert_eq!(split_factor(&bars, d(8, 28), d(8, 31)), 4.0);
        assert_eq!(split_factor(&bars, d(8, 31), d(8, 31)), 1.0);
    }
}
