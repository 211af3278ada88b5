//! Evaluating a rule set on one item: which rules match, the score, the call.
//!
//! Item score = the sum of the matching rules' scores. The call's direction, assets
//! and horizon come from the highest-priority group among the matching rules (within
//! it, the highest-scoring rule that says each); the reasons are every matching
//! rule's. A call is made when the score reaches the rule set's `threshold`, with
//! confidence `score / (score + confidence_half)` (0.5 at `confidence_half`, rising
//! towards 1; capped at 0.99 — a rule set never claims certainty).
//!
//! Shadow rules are evaluated apart: the live call uses live rules only; when a
//! shadow rule matches, a second call with every rule is made and marked shadow.

use cel::common::ast::{Expr, IdedExpr, LiteralValue, operators};
use cel::{ExecutionError, Value};

use super::rules::{Mode, Rule, RuleSet};
use super::view::ItemView;
use super::{Call, Direction};
use crate::model::Content;

/// Assets a call may name at most, and the form a symbol must have.
pub const MAX_ASSETS: usize = 10;

/// One matching rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Matched {
    pub rule: String,
    pub score: f64,
    pub reason: String,
    pub group: String,
    pub shadow: bool,
}

/// What a rule set made of an item.
#[derive(Debug, Clone, Default)]
pub struct Evaluation {
    pub version: String,
    /// Live rules' score.
    pub score: f64,
    pub matched: Vec<Matched>,
    /// Rules that could not be evaluated on this item (a type error), with why. A
    /// missing field (`extras.earnings` on a Reddit post) is not an error: no match.
    pub errors: Vec<(String, String)>,
    /// The live call, when the score reached the threshold.
    pub call: Option<Call>,
    /// The call with shadow rules too, when one matched and it reached the threshold.
    pub shadow_call: Option<Call>,
}

/// Sources a rule can match, read off its top-level conjunction: `source == "x"`,
/// `"x" == source`, `source in ["x", "y"]`. None = any source.
pub fn source_guard(e: &IdedExpr) -> Option<Vec<String>> {
    let Expr::Call(c) = &e.expr else {
        return None;
    };
    let is_source = |x: &IdedExpr| matches!(&x.expr, Expr::Ident(n) if n == "source");
    let lit = |x: &IdedExpr| match &x.expr {
        Expr::Literal(LiteralValue::String(s)) => Some(s.inner().to_string()),
        _ => None,
    };
    match (c.func_name.as_str(), c.args.as_slice()) {
        (operators::LOGICAL_AND, [a, b]) => match (source_guard(a), source_guard(b)) {
            (Some(x), Some(y)) => Some(x.into_iter().filter(|s| y.contains(s)).collect()),
            (x, y) => x.or(y),
        },
        (operators::EQUALS, [a, b]) if is_source(a) => lit(b).map(|s| vec![s]),
        (operators::EQUALS, [a, b]) if is_source(b) => lit(a).map(|s| vec![s]),
        (operators::IN, [a, b]) if is_source(a) => match &b.expr {
            Expr::List(l) => l.elements.iter().map(lit).collect(),
            _ => None,
        },
        _ => None,
    }
}

/// How deeply comprehensions (`all`, `exists`, `map`, `filter`) nest in `e`: each level
/// multiplies the work by a list's length (at most `view::MAX_LIST`).
pub fn comprehension_depth(e: &IdedExpr) -> usize {
    let max =
        |xs: &mut dyn Iterator<Item = &IdedExpr>| xs.map(comprehension_depth).max().unwrap_or(0);
    match &e.expr {
        Expr::Call(c) => max(&mut c.target.iter().map(|t| &**t).chain(c.args.iter())),
        Expr::Comprehension(c) => {
            1 + max(&mut [
                &c.iter_range,
                &c.accu_init,
                &c.loop_cond,
                &c.loop_step,
                &c.result,
            ]
            .into_iter())
        }
        Expr::Select(s) => comprehension_depth(&s.operand),
        Expr::List(l) => max(&mut l.elements.iter()),
        _ => 0,
    }
}

/// Names a comprehension binds (`m` in `list.exists(m, …)`): not item variables.
pub fn bound_names(e: &IdedExpr, out: &mut Vec<String>) {
    match &e.expr {
        Expr::Call(c) => {
            c.target.iter().for_each(|t| bound_names(t, out));
            c.args.iter().for_each(|a| bound_names(a, out));
        }
        Expr::Comprehension(c) => {
            out.push(c.iter_var.clone());
            out.extend(c.iter_var2.clone());
            out.push(c.accu_var.clone());
            for x in [
                &c.iter_range,
                &c.accu_init,
                &c.loop_cond,
                &c.loop_step,
                &c.result,
            ] {
                bound_names(x, out);
            }
        }
        Expr::Select(s) => bound_names(&s.operand, out),
        Expr::List(l) => l.elements.iter().for_each(|x| bound_names(x, out)),
        Expr::Map(m) => {
            for entry in &m.entries {
                if let cel::common::ast::EntryExpr::MapEntry(me) = &entry.expr {
                    bound_names(&me.key, out);
                    bound_names(&me.value, out);
                }
            }
        }
        _ => {}
    }
}

/// Tickers a rule needs one of, read off its top-level conjunction: `"X" in tickers`.
/// None = no such condition.
pub fn ticker_guard(e: &IdedExpr) -> Option<Vec<String>> {
    let Expr::Call(c) = &e.expr else {
        return None;
    };
    match (c.func_name.as_str(), c.args.as_slice()) {
        (operators::LOGICAL_AND, [a, b]) => ticker_guard(a).or_else(|| ticker_guard(b)),
        (operators::IN, [a, b]) if matches!(&b.expr, Expr::Ident(n) if n == "tickers") => {
            match &a.expr {
                Expr::Literal(LiteralValue::String(s)) => Some(vec![s.inner().to_string()]),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Whether the rule can match the item at all (its guards), without evaluating it.
fn applies(rule: &Rule, item: &Content) -> bool {
    rule.sources
        .as_ref()
        .is_none_or(|s| s.contains(&item.source))
        && rule
            .tickers
            .as_ref()
            .is_none_or(|t| t.iter().any(|x| item.tickers.contains(x)))
}

enum Outcome {
    Match,
    NoMatch,
    Error(String),
}

fn run(program: &cel::Program, ctx: &cel::Context) -> Outcome {
    match program.execute(ctx) {
        Ok(Value::Bool(true)) => Outcome::Match,
        Ok(Value::Bool(false)) => Outcome::NoMatch,
        Ok(other) => Outcome::Error(format!("`when` gave {other:?}, not a bool")),
        // A field the item does not have: the rule is about other items.
        Err(ExecutionError::NoSuchKey(_)) => Outcome::NoMatch,
        Err(e) => Outcome::Error(e.to_string()),
    }
}

/// A symbol as the ledger accepts it: 1–12 of A–Z, 0–9, `.`, `-`, starting with a letter.
pub fn valid_symbol(s: &str) -> bool {
    (1..=12).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_uppercase())
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '.' || c == '-')
}

fn assets_of(rule: &Rule, item: &Content, ctx: &cel::Context) -> Result<Vec<String>, String> {
    let Some(p) = &rule.assets else {
        return Ok(item.tickers.clone());
    };
    match p.execute(ctx) {
        Ok(Value::List(l)) => Ok(l
            .iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s.trim().trim_start_matches('$').to_ascii_uppercase()),
                _ => None,
            })
            .collect()),
        Ok(Value::String(s)) => Ok(vec![s.trim().trim_start_matches('$').to_ascii_uppercase()]),
        Ok(other) => Err(format!("`assets` gave {other:?}, not a list of strings")),
        Err(ExecutionError::NoSuchKey(_)) => Ok(Vec::new()),
        Err(e) => Err(e.to_string()),
    }
}

fn confidence(set: &RuleSet, score: f64) -> f64 {
    let c = score / (score + set.confidence_half);
    (c.clamp(0.0, 0.99) * 10_000.0).round() / 10_000.0
}

/// The call from `matched` rules (indices into the set), if the score reaches the
/// threshold.
fn decide(
    set: &RuleSet,
    item: &Content,
    ctx: &cel::Context,
    compound: f64,
    matched: &[usize],
    errors: &mut Vec<(String, String)>,
) -> Option<Call> {
    let score: f64 = matched.iter().map(|&i| set.rules[i].score).sum();
    if matched.is_empty() || score < set.threshold {
        return None;
    }
    let top = matched.iter().map(|&i| set.rules[i].priority).max()?;
    let mut deciding: Vec<&Rule> = matched
        .iter()
        .map(|&i| &set.rules[i])
        .filter(|r| r.priority == top)
        .collect();
    deciding.sort_by(|a, b| b.score.total_cmp(&a.score));
    let direction = deciding.iter().find_map(|r| r.direction).map_or_else(
        || Direction::from_compound(compound),
        |d| d.resolve(compound),
    );
    let horizon_days = deciding
        .iter()
        .find_map(|r| r.horizon_days)
        .unwrap_or(set.default_horizon_days);
    let rule = deciding
        .iter()
        .find(|r| r.assets.is_some())
        .unwrap_or(&deciding[0]);
    let mut assets = match assets_of(rule, item, ctx) {
        Ok(a) => a,
        Err(e) => {
            errors.push((rule.name.clone(), e));
            Vec::new()
        }
    };
    assets.retain(|a| valid_symbol(a));
    let mut seen = std::collections::HashSet::new();
    assets.retain(|a| seen.insert(a.clone()));
    assets.truncate(MAX_ASSETS);
    if assets.is_empty() {
        return None;
    }
    Some(Call {
        assets: assets.into_iter().map(|a| (a, direction)).collect(),
        confidence: confidence(set, score),
        horizon_days,
        score,
        group: deciding[0].group.clone(),
        rules: matched.iter().map(|&i| set.rules[i].name.clone()).collect(),
        reasons: matched
            .iter()
            .map(|&i| set.rules[i].reason.clone())
            .collect(),
    })
}

impl RuleSet {
    /// Evaluates every rule that can apply to the item.
    pub fn evaluate(&self, item: &Content) -> Evaluation {
        let view = ItemView::only(item, &self.used);
        let ctx = view.context();
        let compound = item
            .enrichments
            .get("sentiment")
            .and_then(|s| s.get("compound"))
            .and_then(|c| c.as_f64())
            .unwrap_or(0.0);
        let mut out = Evaluation {
            version: self.version.clone(),
            ..Default::default()
        };
        let (mut live, mut all) = (Vec::new(), Vec::new());
        for (i, rule) in self.rules.iter().enumerate() {
            if !applies(rule, item) {
                continue;
            }
            match run(&rule.when, &ctx) {
                Outcome::Match => {
                    let shadow = rule.mode == Mode::Shadow;
                    if !shadow {
                        live.push(i);
                        out.score += rule.score;
                    }
                    all.push(i);
                    out.matched.push(Matched {
                        rule: rule.name.clone(),
                        score: rule.score,
                        reason: rule.reason.clone(),
                        group: rule.group.clone(),
                        shadow,
                    });
                }
                Outcome::NoMatch => {}
                Outcome::Error(e) => out.errors.push((rule.name.clone(), e)),
            }
        }
        let mut errors = Vec::new();
        out.call = decide(self, item, &ctx, compound, &live, &mut errors);
        if all.len() > live.len() {
            out.shadow_call = decide(self, item, &ctx, compound, &all, &mut errors);
        }
        out.errors.extend(errors);
        out
    }

    /// Every rule on the item with the value of each part of its `when` (the operands
    /// of its top-level `&&` / `||`, recursively), for `sigflow rules explain`.
    pub fn explain(&self, item: &Content) -> Vec<RuleTrace> {
        let view = ItemView::of(item);
        let ctx = view.context();
        self.rules
            .iter()
            .map(|rule| {
                let skipped = !applies(rule, item);
                let result = shown(rule.when.execute(&ctx));
                let mut parts = Vec::new();
                if !skipped {
                    parts_of(rule.when.expression(), &rule.when, &ctx, &mut parts);
                }
                RuleTrace {
                    rule: rule.name.clone(),
                    when: rule.when_src.clone(),
                    skipped_by_source: skipped,
                    result,
                    score: rule.score,
                    shadow: rule.mode == Mode::Shadow,
                    parts,
                }
            })
            .collect()
    }
}

/// One rule, explained.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RuleTrace {
    pub rule: String,
    pub when: String,
    /// The rule's guards (its source, a ticker it needs) exclude the item: it is not
    /// evaluated in the pipeline (its result is shown anyway).
    pub skipped_by_source: bool,
    pub result: String,
    pub score: f64,
    pub shadow: bool,
    /// (sub-expression, its value).
    pub parts: Vec<(String, String)>,
}

fn shown(r: Result<Value, ExecutionError>) -> String {
    match r {
        Ok(Value::Bool(b)) => b.to_string(),
        Ok(Value::String(s)) => format!("{:?}", s.as_str()),
        Ok(Value::Int(i)) => i.to_string(),
        Ok(Value::Float(f)) => f.to_string(),
        Ok(Value::Null) => "null".into(),
        Ok(v) => format!("{v:?}"),
        Err(ExecutionError::NoSuchKey(k)) => format!("missing field `{k}` (no match)"),
        Err(e) => format!("error: {e}"),
    }
}

fn span(e: &IdedExpr, info: &cel::common::ast::SourceInfo, lo: &mut u32, hi: &mut u32) {
    if let Some((a, b)) = info.offset_for(e.id) {
        *lo = (*lo).min(a);
        *hi = (*hi).max(b);
    }
    match &e.expr {
        Expr::Call(c) => {
            c.target.iter().for_each(|t| span(t, info, lo, hi));
            c.args.iter().for_each(|a| span(a, info, lo, hi));
        }
        Expr::Select(s) => span(&s.operand, info, lo, hi),
        Expr::List(l) => l.elements.iter().for_each(|x| span(x, info, lo, hi)),
        _ => {}
    }
}

fn source_of(e: &IdedExpr, p: &cel::Program) -> String {
    let info = p.source_info();
    let (mut lo, mut hi) = (u32::MAX, 0);
    span(e, info, &mut lo, &mut hi);
    let src = &info.source;
    let (mut lo, hi) = (
        (lo as usize).min(src.len()),
        (hi as usize + 1).min(src.len()),
    );
    // A global call's offset is its parenthesis: take in the function's name.
    while lo > 0
        && src.as_bytes()[lo - 1].is_ascii_alphanumeric() | (src.as_bytes()[lo - 1] == b'_')
    {
        lo -= 1;
    }
    let text = src.get(lo..hi).unwrap_or("").trim();
    // The offsets can stop short of a macro's field or a closing parenthesis: read on
    // until the brackets balance.
    let mut depth =
        text.matches(['(', '[']).count() as i64 - text.matches([')', ']']).count() as i64;
    let mut t = text.to_string();
    for c in src.get(hi..).unwrap_or("").chars() {
        if depth <= 0 {
            break;
        }
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            _ => {}
        }
        t.push(c);
    }
    t
}

fn parts_of(e: &IdedExpr, p: &cel::Program, ctx: &cel::Context, out: &mut Vec<(String, String)>) {
    if out.len() >= 64 {
        return;
    }
    if let Expr::Call(c) = &e.expr
        && (c.func_name == operators::LOGICAL_AND || c.func_name == operators::LOGICAL_OR)
    {
        for a in &c.args {
            parts_of(a, p, ctx, out);
        }
        return;
    }
    out.push((source_of(e, p), shown(ctx.resolve(e))));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(v: serde_json::Value) -> Content {
        let mut base = serde_json::json!({
            "schema_version": 1, "id": "00000000-0000-0000-0000-000000000001",
            "source": "truthsocial", "source_id": "1", "fetched_by": "t",
            "author": {"handle": "realDonaldTrump"},
            "text": "Great meeting with the CEO of Walmart!", "content_type": "original",
            "happened_at": "2026-01-02T03:04:05Z", "observed_at": "2026-01-02T03:04:06Z",
            "lake_key": "k", "tickers": ["WMT"],
            "enrichments": {"sentiment": {"compound": 0.66}, "dedup": {"kind": "unique"},
                            "velocity": {"is_trending": true, "mentions": []}}
        });
        for (k, x) in v.as_object().unwrap() {
            base[k] = x.clone();
        }
        serde_json::from_value(base).unwrap()
    }

    #[test]
    fn a_presidential_post_naming_a_company_is_a_call() {
        let set = RuleSet::default_rules();
        let e = set.evaluate(&item(serde_json::json!({})));
        let call = e.call.expect("a live call");
        assert_eq!(call.assets, vec![("WMT".to_string(), Direction::Bullish)]);
        assert_eq!(call.group, "president");
        assert_eq!(call.horizon_days, 1);
        assert_eq!(
            call.rules,
            vec!["president-names-company", "president-strong-tone"]
        );
        assert!(
            (call.confidence - 3.5 / 7.5).abs() < 1e-3,
            "{}",
            call.confidence
        );
        // The shadow rule (trending) matched too: a second call, with it.
        let shadow = e.shadow_call.expect("a shadow call");
        assert!(shadow.rules.contains(&"trending-tickers".to_string()));
        assert!(e.errors.is_empty(), "{:?}", e.errors);
    }

    #[test]
    fn insider_purchase_and_rules_guarded_by_source() {
        let set = RuleSet::default_rules();
        let form4 = item(serde_json::json!({
            "source": "sec-form4", "author": {"handle": "Cook Timothy D"}, "tickers": ["AAPL"],
            "extras": {"insider_trade": {"transaction_code": "P", "acquired_disposed": "A",
                "value": 2500000.0, "relationship": {"director": true, "officer": false}}}
        }));
        let e = set.evaluate(&form4);
        let call = e.call.expect("insider call");
        assert_eq!(call.assets[0], ("AAPL".to_string(), Direction::Bullish));
        assert_eq!(call.horizon_days, 30);
        assert_eq!(e.score, 5.0);
        let guarded = set.rules.iter().filter(|r| r.sources.is_some()).count();
        assert!(guarded >= 8, "{guarded}");
        // A sale is not called.
        let mut sale = form4.clone();
        sale.extras["insider_trade"]["transaction_code"] = "S".into();
        assert!(set.evaluate(&sale).call.is_none());
    }

    #[test]
    fn guards_skip_only_items_a_rule_cannot_match() {
        let text = "threshold = 1.0\n[[rule]]\nname = \"t\"\nwhen = '\"TSLA\" in tickers && compound > 0.1'\nscore = 5.0\nreason = \"r\"\n";
        let set = RuleSet::compile(text, &|_| None).unwrap();
        assert_eq!(set.rules[0].tickers, Some(vec!["TSLA".to_string()]));
        assert_eq!(set.used, vec!["compound", "tickers"]);
        let wmt = item(serde_json::json!({}));
        assert!(set.evaluate(&wmt).call.is_none());
        let tsla = item(serde_json::json!({"tickers": ["TSLA"]}));
        assert_eq!(set.evaluate(&tsla).call.unwrap().assets[0].0, "TSLA");
        // The same verdicts with every variable built as with only the used ones.
        let all = RuleSet::default_rules();
        for it in [&wmt, &tsla] {
            let view = ItemView::of(it);
            let ctx = view.context();
            for r in &all.rules {
                let full = matches!(run(&r.when, &ctx), Outcome::Match);
                let lean = all.evaluate(it).matched.iter().any(|m| m.rule == r.name);
                // A guard never skips a rule that would match.
                assert_eq!(full, lean, "{}", r.name);
            }
        }
    }

    #[test]
    fn explain_shows_each_part() {
        let set = RuleSet::default_rules();
        let t = set.explain(&item(serde_json::json!({})));
        let r = t
            .iter()
            .find(|r| r.rule == "president-names-company")
            .unwrap();
        assert_eq!(r.result, "true");
        let parts: Vec<&str> = r.parts.iter().map(|p| p.0.as_str()).collect();
        assert_eq!(
            parts,
            vec![
                "source == \"truthsocial\"",
                "author == \"realDonaldTrump\"",
                "size(tickers) > 0",
                "!duplicate"
            ],
            "{:?}",
            r.parts
        );
        assert!(
            t.iter()
                .find(|r| r.rule == "earnings-beat")
                .unwrap()
                .skipped_by_source
        );
    }
}
