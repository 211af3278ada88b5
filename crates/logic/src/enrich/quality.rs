//! How good the enrichers are on labelled text: precision and recall of tickers, wrong
//! tickers per 1,000 posts, three-class sentiment accuracy and direction, dedup links
//! against labelled pairs and whether dedup gives the same answer in any order.
//! Pure: the sets are strings (ours live in `tests/data/quality/`, the user's anywhere);
//! `sigflow bench --suite quality` prints what this computes.

use rustc_hash::FxHashSet;

use super::dedup::Dedup;
use super::sentiment::{Mode, Sentiment};
use super::settings::EnrichConfig;
use super::state::MemoryState;
use super::tickers::Tickers;
use super::{Enricher, text_item};

/// Rows `a<TAB>b[<TAB>c]` of a set, comments and blank lines skipped.
fn rows(set: &str) -> impl Iterator<Item = Vec<&str>> {
    set.lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .filter(|f| f.len() >= 2)
}

#[derive(Debug, Clone, Default)]
pub struct TickerScore {
    pub texts: usize,
    pub true_pos: usize,
    pub false_pos: usize,
    pub false_neg: usize,
    /// `expected / got / text` of every text with a mistake.
    pub mistakes: Vec<String>,
}

impl TickerScore {
    pub fn precision(&self) -> f64 {
        ratio(self.true_pos, self.true_pos + self.false_pos)
    }
    pub fn recall(&self) -> f64 {
        ratio(self.true_pos, self.true_pos + self.false_neg)
    }
    pub fn wrong_per_1000(&self) -> f64 {
        ratio(self.false_pos * 1000, self.texts)
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

/// Tickers (cashtags and names) against `TICKERS<TAB>text` rows (`-` for none).
pub fn tickers(cfg: &EnrichConfig, set: &str) -> Result<TickerScore, String> {
    let t = Tickers::new(&cfg.tickers)?;
    let state = MemoryState::default();
    let mut s = TickerScore::default();
    for f in rows(set) {
        let expected: Vec<&str> = match f[0].trim() {
            "-" => vec![],
            e => e.split(',').map(str::trim).collect(),
        };
        let mut item = text_item(f[1]);
        super::cashtags::Cashtags
            .enrich(&mut item, &state)
            .map_err(|e| e.message)?;
        t.enrich(&mut item, &state).map_err(|e| e.message)?;
        let got = &item.tickers;
        let tp = got
            .iter()
            .filter(|g| expected.contains(&g.as_str()))
            .count();
        let fp = got.len() - tp;
        let fn_ = expected
            .iter()
            .filter(|e| !got.iter().any(|g| g == *e))
            .count();
        s.texts += 1;
        s.true_pos += tp;
        s.false_pos += fp;
        s.false_neg += fn_;
        if fp + fn_ > 0 {
            s.mistakes
                .push(format!("expected {expected:?}, got {got:?}: {}", f[1]));
        }
    }
    Ok(s)
}

#[derive(Debug, Clone, Default)]
pub struct SentimentScore {
    pub n: usize,
    pub correct: usize,
    /// Items labelled bullish or bearish and scored bullish or bearish.
    pub polar_scored: usize,
    pub polar_right_direction: usize,
    /// labelled neutral, scored polar.
    pub neutral_as_polar: usize,
    pub neutral: usize,
    pub mistakes: Vec<String>,
}

impl SentimentScore {
    pub fn accuracy(&self) -> f64 {
        ratio(self.correct, self.n)
    }
    /// Direction among polar items that were scored polar.
    pub fn direction(&self) -> f64 {
        ratio(self.polar_right_direction, self.polar_scored)
    }
}

/// Finance sentiment against `label<TAB>text` rows (bullish, bearish, neutral).
pub fn sentiment(cfg: &EnrichConfig, set: &str) -> Result<SentimentScore, String> {
    let s = Sentiment::new(Mode::Finance, &cfg.sentiment)?;
    let mut out = SentimentScore::default();
    for f in rows(set) {
        let want = f[0].trim();
        let got = s.classify(f[1]);
        out.n += 1;
        if got == want {
            out.correct += 1;
        } else {
            out.mistakes.push(format!("{want} scored {got}: {}", f[1]));
        }
        if want == "neutral" {
            out.neutral += 1;
            if got != "neutral" {
                out.neutral_as_polar += 1;
            }
        } else if got != "neutral" {
            out.polar_scored += 1;
            if got == want {
                out.polar_right_direction += 1;
            }
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, Default)]
pub struct DedupScore {
    pub pairs: usize,
    /// Labelled the same, linked.
    pub same_linked: usize,
    pub same: usize,
    /// Labelled different, linked anyway.
    pub different_linked: usize,
    /// Links between items whose ticker sets are disjoint.
    pub disjoint_links: usize,
    /// Items whose verdict changed when the same items came in another order.
    pub order_changes: usize,
    pub mistakes: Vec<String>,
}

/// Dedup against `same|different<TAB>first<TAB>second` rows: each pair on its own
/// (the second after the first), then every text of the set in three orders.
pub fn dedup(cfg: &EnrichConfig, set: &str) -> Result<DedupScore, String> {
    let tickers = Tickers::new(&cfg.tickers)?;
    let prepare = |text: &str, n: usize| -> Result<crate::model::Content, String> {
        let mut item = text_item(text);
        item.id = crate::model::content_id("quality", &n.to_string());
        // One minute apart, in set order: the earlier text is the original.
        item.happened_at = chrono::DateTime::<chrono::Utc>::from_timestamp(1_700_000_000, 0)
            .expect("valid")
            + chrono::Duration::minutes(n as i64);
        let state = MemoryState::default();
        super::cashtags::Cashtags
            .enrich(&mut item, &state)
            .map_err(|e| e.message)?;
        tickers.enrich(&mut item, &state).map_err(|e| e.message)?;
        Ok(item)
    };
    let d = Dedup {
        window: chrono::Duration::days(i64::from(cfg.dedup.window_days)),
        near: cfg.dedup.near_threshold,
    };
    let verdict = |item: &mut crate::model::Content, st: &MemoryState| -> Result<String, String> {
        d.enrich(item, st).map_err(|e| e.message)?;
        Ok(item.enrichments["dedup"]["first_id"]
            .as_str()
            .unwrap_or_default()
            .to_string())
    };
    let mut s = DedupScore::default();
    let mut all = Vec::new();
    for f in rows(set).filter(|f| f.len() >= 3) {
        let n = all.len();
        let mut a = prepare(f[1], n)?;
        let mut b = prepare(f[2], n + 1)?;
        let st = MemoryState::default();
        verdict(&mut a, &st)?;
        let linked = verdict(&mut b, &st)? != b.id.to_string();
        let same = f[0].trim() == "same";
        s.pairs += 1;
        if same {
            s.same += 1;
            s.same_linked += usize::from(linked);
        } else {
            s.different_linked += usize::from(linked);
        }
        let ta: FxHashSet<&String> = a.tickers.iter().collect();
        if linked
            && !b.tickers.iter().any(|t| ta.contains(t))
            && !(ta.is_empty() && b.tickers.is_empty())
        {
            s.disjoint_links += 1;
        }
        if linked != same {
            s.mistakes.push(format!(
                "{} {}: {} | {}",
                f[0],
                if linked { "linked" } else { "not linked" },
                f[1],
                f[2]
            ));
        }
        all.push(a);
        all.push(b);
    }
    s.order_changes = order_changes(&all, &d)?;
    Ok(s)
}

/// The same items in set order, reversed, and interleaved from both ends: how many
/// verdicts differ from the first order's (after revisions: an earlier item that
/// arrives later becomes the original of the later ones).
fn order_changes(all: &[crate::model::Content], d: &Dedup) -> Result<usize, String> {
    let fwd: Vec<usize> = (0..all.len()).collect();
    let rev: Vec<usize> = fwd.iter().rev().copied().collect();
    let mut mix = Vec::new();
    let (mut i, mut j) = (0usize, all.len());
    while i < j {
        mix.push(i);
        i += 1;
        if i < j {
            j -= 1;
            mix.push(j);
        }
    }
    let mut first: Option<Vec<String>> = None;
    let mut changes = 0;
    for order in [fwd, rev, mix] {
        let st = MemoryState::default();
        for &i in &order {
            let mut item = all[i].clone();
            item.enrichments.remove("dedup");
            d.enrich(&mut item, &st).map_err(|e| e.message)?;
        }
        let got: Vec<String> = all
            .iter()
            .map(|it| {
                st.current_first(&it.id)
                    .map(|u| u.to_string())
                    .unwrap_or_default()
            })
            .collect();
        match &first {
            None => first = Some(got),
            Some(f) => changes += f.iter().zip(&got).filter(|(a, b)| a != b).count(),
        }
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> EnrichConfig {
        let src = include_str!("../../../../src/config/default.toml");
        let v: toml::Value = toml::from_str(src).expect("default config parses");
        v["enrich"].clone().try_into().expect("enrich section")
    }

    fn set(name: &str) -> &'static str {
        match name {
            "tickers_headlines.tsv" => {
                include_str!("../../../../tests/data/quality/tickers_headlines.tsv")
            }
            "tickers_chatter.tsv" => {
                include_str!("../../../../tests/data/quality/tickers_chatter.tsv")
            }
            "sentiment_headlines.tsv" => {
                include_str!("../../../../tests/data/quality/sentiment_headlines.tsv")
            }
            "../finance_sentiment_dev.tsv" => {
                include_str!("../../../../tests/data/finance_sentiment_dev.tsv")
            }
            "../finance_sentiment_check.tsv" => {
                include_str!("../../../../tests/data/finance_sentiment_check.tsv")
            }
            _ => include_str!("../../../../tests/data/quality/dedup_pairs.tsv"),
        }
    }

    /// Prints every mistake: `cargo test -p sigflow-logic quality -- --nocapture`.
    #[test]
    fn the_quality_sets_score() {
        let c = cfg();
        for name in ["tickers_headlines.tsv", "tickers_chatter.tsv"] {
            let s = tickers(&c, set(name)).unwrap();
            for m in &s.mistakes {
                eprintln!("{name}: {m}");
            }
            eprintln!(
                "{name}: precision {:.3} recall {:.3} wrong/1000 {:.1} ({} texts)",
                s.precision(),
                s.recall(),
                s.wrong_per_1000(),
                s.texts
            );
        }
        for name in [
            "sentiment_headlines.tsv",
            "../finance_sentiment_dev.tsv",
            "../finance_sentiment_check.tsv",
        ] {
            let s = sentiment(&c, set(name)).unwrap();
            for m in &s.mistakes {
                eprintln!("{name}: {m}");
            }
            eprintln!(
                "{name}: accuracy {:.3} direction {:.3} neutral as polar {}/{}",
                s.accuracy(),
                s.direction(),
                s.neutral_as_polar,
                s.neutral
            );
        }
        let s = dedup(&c, set("dedup_pairs.tsv")).unwrap();
        for m in &s.mistakes {
            eprintln!("dedup: {m}");
        }
        eprintln!(
            "dedup: same linked {}/{}, different linked {}, disjoint links {}, order changes {}",
            s.same_linked, s.same, s.different_linked, s.disjoint_links, s.order_changes
        );
    }
}
