//! Velocity and trending (seed 004), and ticker mention velocity.
//!
//! * Engagement: each time an item is seen with engagement counts (a Reddit refresh,
//!   X public_metrics) the counts are recorded; score and comment velocity are the
//!   change per second since the previous observation (`max(Δt, 1 s)`).
//! * Trending score: +0.4 when score velocity > `velocity_high`, else +0.2 when >
//!   `velocity_low`; +0.2 when |sentiment| > `sentiment_min`; +0.2 when comments >
//!   `comment_min`. Trending at `trending_threshold` (two signals at least).
//! * Mentions: distinct items per ticker per hour against the ticker's own baseline
//!   (mean and standard deviation over the previous `mention_baseline_hours`); a spike
//!   is a z-score ≥ `mention_z_spike` with at least `mention_min` mentions.

use serde_json::{Value, json};

use super::settings::VelocityConfig;
use super::state::{EnrichState, Observation};
use super::{EnrichError, Enricher};
use crate::model::Content;

pub struct Velocity {
    pub cfg: VelocityConfig,
}

/// Score: the platform's score, else likes (X has no score); comments: comments, else
/// replies.
fn counts(item: &Content) -> (Option<i64>, Option<i64>) {
    let e = &item.engagement;
    (e.score.or(e.likes), e.comments.or(e.replies))
}

impl Velocity {
    pub fn trending_score(&self, score_velocity: f64, sentiment: f64, comments: i64) -> f64 {
        let c = &self.cfg;
        let mut s = 0.0;
        if score_velocity > c.velocity_high {
            s += 0.4;
        } else if score_velocity > c.velocity_low {
            s += 0.2;
        }
        if sentiment.abs() > c.sentiment_min {
            s += 0.2;
        }
        if comments > c.comment_min {
            s += 0.2;
        }
        (s * 10.0_f64).round() / 10.0
    }
}

fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

impl Enricher for Velocity {
    fn name(&self) -> &'static str {
        "velocity"
    }

    fn enrich(&self, item: &mut Content, state: &dyn EnrichState) -> Result<(), EnrichError> {
        let (score, comments) = counts(item);
        let mut out = serde_json::Map::new();
        let (mut score_velocity, mut comment_velocity) = (None, None);
        if score.is_some() || comments.is_some() {
            let obs = Observation {
                content_id: item.id,
                at: item.observed_at,
                score,
                comments,
            };
            if let Some(prev) = state.observe(&obs).map_err(EnrichError::from)? {
                let dt = ((obs.at - prev.at).num_milliseconds() as f64 / 1000.0).max(1.0);
                let rate = |a: Option<i64>, b: Option<i64>| match (a, b) {
                    (Some(a), Some(b)) => Some(round4((a - b) as f64 / dt)),
                    _ => None,
                };
                score_velocity = rate(score, prev.score);
                comment_velocity = rate(comments, prev.comments);
                out.insert("since_seconds".into(), json!(dt));
            }
        }
        let sentiment = item
            .enrichments
            .get("sentiment")
            .and_then(|s| s.get("compound"))
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        let trending = self.trending_score(
            score_velocity.unwrap_or(0.0),
            sentiment,
            comments.unwrap_or(0),
        );
        out.insert("score_velocity".into(), json!(score_velocity));
        out.insert("comment_velocity".into(), json!(comment_velocity));
        out.insert("trending_score".into(), json!(trending));
        out.insert(
            "is_trending".into(),
            json!(trending >= self.cfg.trending_threshold),
        );

        if !item.tickers.is_empty() {
            let stats = state
                .mentions(
                    item.id,
                    &item.tickers,
                    item.happened_at,
                    self.cfg.mention_baseline_hours,
                )
                .map_err(EnrichError::from)?;
            let list: Vec<Value> = stats
                .iter()
                .map(|m| {
                    // A quiet ticker has σ≈0; a floor of 1 mention keeps one post from
                    // being an infinite spike.
                    let z = (f64::from(m.this_hour) - m.mean) / m.std.max(1.0);
                    json!({
                        "ticker": m.ticker,
                        "per_hour": m.this_hour,
                        "baseline_per_hour": round4(m.mean),
                        "z": round4(z),
                        "spike": z >= self.cfg.mention_z_spike && m.this_hour >= self.cfg.mention_min,
                    })
                })
                .collect();
            out.insert("mentions".into(), json!(list));
        }
        item.enrichments
            .insert("velocity".into(), Value::Object(out));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::state::MemoryState;

    fn cfg() -> VelocityConfig {
        VelocityConfig {
            velocity_high: 50.0,
            velocity_low: 10.0,
            sentiment_min: 0.5,
            comment_min: 100,
            trending_threshold: 0.5,
            mention_baseline_hours: 24,
            mention_z_spike: 3.0,
            mention_min: 5,
        }
    }

    #[test]
    fn velocity_between_observations_and_trending() {
        let v = Velocity { cfg: cfg() };
        let s = MemoryState::default();
        let mut a = crate::enrich::text_item("post");
        a.engagement.score = Some(45);
        a.engagement.comments = Some(2);
        v.enrich(&mut a, &s).unwrap();
        assert_eq!(a.enrichments["velocity"]["score_velocity"], Value::Null);
        let mut b = a.clone();
        b.observed_at = a.observed_at + chrono::Duration::seconds(300);
        b.engagement.score = Some(1200);
        b.engagement.comments = Some(45);
        b.enrichments
            .insert("sentiment".into(), json!({"compound": 0.34}));
        v.enrich(&mut b, &s).unwrap();
        let out = &b.enrichments["velocity"];
        assert_eq!(out["score_velocity"], json!(3.85));
        assert_eq!(out["comment_velocity"], json!(0.1433));
        assert_eq!(out["trending_score"], json!(0.0));
        assert_eq!(v.trending_score(60.0, 0.6, 10), 0.6);
        assert_eq!(v.trending_score(20.0, 0.1, 500), 0.4);
    }

    #[test]
    fn mention_spike_against_baseline() {
        let v = Velocity { cfg: cfg() };
        let s = MemoryState::default();
        let base = chrono::Utc::now() - chrono::Duration::hours(30);
        let mut last = None;
        for i in 0..30 {
            let mut it = crate::enrich::text_item("x");
            it.id = crate::model::content_id("t", &format!("{i}"));
            it.tickers = vec!["GME".into()];
            // One mention an hour for 20 hours, then 10 in the last hour.
            it.happened_at = if i < 20 {
                base + chrono::Duration::hours(i)
            } else {
                base + chrono::Duration::hours(25)
            };
            v.enrich(&mut it, &s).unwrap();
            last = Some(it);
        }
        let m = &last.unwrap().enrichments["velocity"]["mentions"][0];
        assert_eq!(m["per_hour"], json!(10));
        assert_eq!(m["spike"], json!(true), "{m}");
    }
}
