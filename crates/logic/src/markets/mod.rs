//! markets: trading calendars, price bars, outcome arithmetic and track records.
//!
//! * [`calendar`] — sessions of NYSE (bundled table + config overrides) and crypto.
//! * [`bars`] — a daily bar as stored (raw prices, split and dividend of the day).
//! * [`outcome`] — one prediction at one horizon → its outcome, or why not yet.
//! * [`track`] — outcomes → track records (hit rate + Wilson interval, Brier,
//!   reliability, skill).
//!
//! Pure: the caller hands in the bars, the calendar and the time it is.

pub mod bars;
pub mod calendar;
pub mod outcome;
pub mod track;

pub use calendar::{Calendar, Market, Point, Session};
