//! The rule file: TOML, `${ENV}` substitution, every rule's CEL compiled at load.
//!
//! A file is compiled completely, or not at all: [`RuleSet::compile`] returns every
//! problem it finds (with line and column in the file), and a caller that already
//! runs a rule set keeps it when a new version fails. The version of a rule set is
//! the SHA-256 of the text after substitution: the rules that actually ran, so a
//! threshold taken from the environment that changes is a new version.

use std::collections::BTreeMap;
use std::fmt;

use cel::Program;
use serde::Deserialize;
use toml::Spanned;

use super::Direction;
use super::view::VARIABLES;

/// The default rules, compiled into the binary (`data/rules/default.toml`).
pub const DEFAULT_RULES: &str = include_str!("../../../../data/rules/default.toml");

pub const MAX_FILE_BYTES: usize = 1 << 20;
pub const MAX_RULES: usize = 1_000;
pub const MAX_EXPR_BYTES: usize = 4_096;
pub const MAX_HORIZON_DAYS: u32 = 60;
/// Comprehensions nested deeper than this are refused: CEL has no cost limit, and each
/// level multiplies the work by a list's length.
pub const MAX_COMPREHENSION_DEPTH: usize = 2;

/// One problem in a rule file, located.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleError {
    pub line: usize,
    pub column: usize,
    /// The rule's name, when the problem is inside one.
    pub rule: Option<String>,
    pub message: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.line, self.column)?;
        if let Some(r) = &self.rule {
            write!(f, "rule `{r}`: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Whether a rule's predictions count (`live`) or are only sealed for study (`shadow`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Live,
    Shadow,
}

/// A rule's direction: fixed, or taken from the item's sentiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DirectionRule {
    Bullish,
    Bearish,
    Neutral,
    Sentiment,
}

impl DirectionRule {
    pub fn resolve(self, compound: f64) -> Direction {
        match self {
            DirectionRule::Bullish => Direction::Bullish,
            DirectionRule::Bearish => Direction::Bearish,
            DirectionRule::Neutral => Direction::Neutral,
            DirectionRule::Sentiment => Direction::from_compound(compound),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRule {
    name: Spanned<String>,
    when: Spanned<String>,
    score: f64,
    reason: String,
    #[serde(default)]
    direction: Option<DirectionRule>,
    #[serde(default)]
    assets: Option<Spanned<String>>,
    #[serde(default)]
    group: Option<Spanned<String>>,
    #[serde(default)]
    horizon: Option<Spanned<String>>,
    #[serde(default)]
    mode: Mode,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default = "default_threshold")]
    threshold: f64,
    #[serde(default = "default_half")]
    confidence_half: f64,
    #[serde(default)]
    default_horizon: Option<Spanned<String>>,
    #[serde(default)]
    groups: BTreeMap<String, i64>,
    #[serde(default, rename = "rule")]
    rules: Vec<FileRule>,
}

fn default_threshold() -> f64 {
    3.0
}
fn default_half() -> f64 {
    3.0
}

/// One compiled rule.
#[derive(Debug)]
pub struct Rule {
    pub name: String,
    pub when_src: String,
    pub when: Program,
    pub score: f64,
    pub reason: String,
    pub direction: Option<DirectionRule>,
    pub assets: Option<Program>,
    pub group: String,
    pub priority: i64,
    pub horizon_days: Option<u32>,
    pub mode: Mode,
    /// Sources the rule can match at all, when its `when` says so at the top level
    /// (`source == "x" && …`, `source in [...] && …`): other items skip it unevaluated.
    pub sources: Option<Vec<String>>,
    /// Tickers the item must have one of (`"X" in tickers && …` at the top level).
    pub tickers: Option<Vec<String>>,
}

/// A compiled rule file.
#[derive(Debug)]
pub struct RuleSet {
    /// `sha256:` + the first 16 hex digits of the file's SHA-256.
    pub version: String,
    pub threshold: f64,
    pub confidence_half: f64,
    pub default_horizon_days: u32,
    pub rules: Vec<Rule>,
    /// The variables some rule reads: only these are built for an item.
    pub used: Vec<&'static str>,
}

/// `${NAME}` and `${NAME:-default}` from `env`, line by line (so lines keep their
/// numbers). `$${` stays a literal `${`.
pub fn substitute(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
    errors: &mut Vec<RuleError>,
) -> String {
    let mut out = String::with_capacity(text.len());
    for (n, line) in text.split_inclusive('\n').enumerate() {
        // Comments are left as written (they may show the syntax).
        if line.trim_start().starts_with('#') {
            out.push_str(line);
            continue;
        }
        let mut rest = line;
        while let Some(i) = rest.find("${") {
            if rest[..i].ends_with('$') {
                out.push_str(&rest[..i - 1]);
                out.push_str("${");
                rest = &rest[i + 2..];
                continue;
            }
            out.push_str(&rest[..i]);
            let Some(end) = rest[i..].find('}') else {
                errors.push(RuleError {
                    line: n + 1,
                    column: line.len() - rest.len() + i + 1,
                    rule: None,
                    message: "`${` without a closing `}`".into(),
                });
                rest = "";
                break;
            };
            let inner = &rest[i + 2..i + end];
            let (name, default) = match inner.split_once(":-") {
                Some((a, b)) => (a, Some(b)),
                None => (inner, None),
            };
            match (env(name), default) {
                (Some(v), _) => out.push_str(&v),
                (None, Some(d)) => out.push_str(d),
                (None, None) => errors.push(RuleError {
                    line: n + 1,
                    column: line.len() - rest.len() + i + 1,
                    rule: None,
                    message: format!(
                        "environment variable `{name}` is not set (write ${{{name}:-default}} for a default)"
                    ),
                }),
            }
            rest = &rest[i + end + 1..];
        }
        out.push_str(rest);
    }
    out
}

/// Byte offset → (line, column), both from 1.
fn locate(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Where, in the file, position (`l`, `c`) of an expression written at `span` is.
fn locate_in(text: &str, span: std::ops::Range<usize>, l: isize, c: isize) -> (usize, usize) {
    let (line, col) = locate(text, span.start);
    let raw = &text[span.start..span.end.min(text.len())];
    // The opening quote: ' or " (one character) or ''' / """ (three, then a newline
    // that TOML drops).
    let multi = raw.starts_with("'''") || raw.starts_with("\"\"\"");
    let l = l.max(1) as usize;
    let c = c.max(1) as usize;
    if multi {
        (line + l, c)
    } else if l == 1 {
        (line, col + 1 + c - 1)
    } else {
        (line + l - 1, c)
    }
}

pub fn parse_horizon(s: &str) -> Result<u32, String> {
    let n = s
        .strip_suffix('d')
        .and_then(|n| n.parse::<u32>().ok())
        .filter(|n| (1..=MAX_HORIZON_DAYS).contains(n));
    n.ok_or_else(|| {
        format!("horizon `{s}`: expected trading days like \"1d\", \"3d\", \"7d\", \"30d\" (1 to {MAX_HORIZON_DAYS})")
    })
}

struct Compiler<'a> {
    text: &'a str,
    errors: Vec<RuleError>,
}

impl Compiler<'_> {
    fn error(&mut self, span: std::ops::Range<usize>, rule: Option<&str>, message: String) {
        let (line, column) = locate(self.text, span.start);
        self.errors.push(RuleError {
            line,
            column,
            rule: rule.map(str::to_string),
            message,
        });
    }

    fn program(&mut self, src: &Spanned<String>, rule: &str, what: &str) -> Option<Program> {
        let span = src.span();
        if src.get_ref().len() > MAX_EXPR_BYTES {
            self.error(
                span,
                Some(rule),
                format!("{what}: longer than {MAX_EXPR_BYTES} bytes"),
            );
            return None;
        }
        match Program::compile(src.get_ref()) {
            Ok(p) => {
                let refs = p.references();
                let mut bound = Vec::new();
                super::eval::bound_names(p.expression(), &mut bound);
                let mut unknown: Vec<&str> = refs
                    .variables()
                    .into_iter()
                    .filter(|v| !VARIABLES.iter().any(|(n, _)| n == v))
                    .filter(|v| !bound.iter().any(|b| b == v))
                    .collect();
                unknown.sort();
                let depth = super::eval::comprehension_depth(p.expression());
                if depth > MAX_COMPREHENSION_DEPTH {
                    self.error(
                        span.clone(),
                        Some(rule),
                        format!("{what}: comprehensions (all, exists, map, filter) nested {depth} deep; at most {MAX_COMPREHENSION_DEPTH}"),
                    );
                    return None;
                }
                if !unknown.is_empty() {
                    let known: Vec<&str> = VARIABLES.iter().map(|(n, _)| *n).collect();
                    self.error(
                        span,
                        Some(rule),
                        format!(
                            "{what}: unknown variable{} {} (known: {})",
                            if unknown.len() > 1 { "s" } else { "" },
                            unknown
                                .iter()
                                .map(|u| format!("`{u}`"))
                                .collect::<Vec<_>>()
                                .join(", "),
                            known.join(", ")
                        ),
                    );
                    return None;
                }
                Some(p)
            }
            Err(e) => {
                for pe in e.errors {
                    let (line, column) = locate_in(self.text, span.clone(), pe.pos.0, pe.pos.1);
                    let msg = pe.msg.lines().next().unwrap_or("").to_string();
                    self.errors.push(RuleError {
                        line,
                        column,
                        rule: Some(rule.to_string()),
                        message: format!("{what}: {msg}"),
                    });
                }
                None
            }
        }
    }

    fn horizon(&mut self, h: &Spanned<String>, rule: Option<&str>) -> Option<u32> {
        match parse_horizon(h.get_ref()) {
            Ok(d) => Some(d),
            Err(e) => {
                self.error(h.span(), rule, e);
                None
            }
        }
    }

    /// One `[[rule]]`, or None (its errors recorded).
    fn rule(
        &mut self,
        r: &FileRule,
        groups: &BTreeMap<String, i64>,
        names: &mut std::collections::HashSet<String>,
    ) -> Option<Rule> {
        let name = r.name.get_ref().clone();
        if name.is_empty() || name.len() > 100 {
            self.error(r.name.span(), None, "name: 1 to 100 characters".into());
        }
        if !names.insert(name.clone()) {
            self.error(
                r.name.span(),
                Some(&name),
                "a rule with this name already exists".into(),
            );
        }
        if !r.score.is_finite() {
            self.error(
                r.name.span(),
                Some(&name),
                "score: must be a finite number".into(),
            );
        }
        let when = self.program(&r.when, &name, "when");
        let assets = r.assets.as_ref().map(|a| self.program(a, &name, "assets"));
        let (group, priority) = match &r.group {
            None => (String::new(), 0),
            Some(g) => match groups.get(g.get_ref()) {
                Some(p) => (g.get_ref().clone(), *p),
                None => {
                    let known: Vec<&String> = groups.keys().collect();
                    let msg = format!(
                        "group `{}` is not declared in [groups] (declared: {known:?})",
                        g.get_ref()
                    );
                    self.error(g.span(), Some(&name), msg);
                    (String::new(), 0)
                }
            },
        };
        let horizon_days = r
            .horizon
            .as_ref()
            .and_then(|h| self.horizon(h, Some(&name)));
        let (Some(when), Some(assets)) = (when, assets.map_or(Some(None), |a| a.map(Some))) else {
            return None;
        };
        Some(Rule {
            name,
            when_src: r.when.get_ref().clone(),
            sources: super::eval::source_guard(when.expression()),
            tickers: super::eval::ticker_guard(when.expression()),
            when,
            score: r.score,
            reason: r.reason.clone(),
            direction: r.direction,
            assets,
            group,
            priority,
            horizon_days,
            mode: r.mode,
        })
    }
}

impl RuleSet {
    /// Compiles a rule file's text; `env` resolves `${NAME}`.
    pub fn compile(
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<RuleSet, Vec<RuleError>> {
        let at = |message: String| RuleError {
            line: 1,
            column: 1,
            rule: None,
            message,
        };
        if text.len() > MAX_FILE_BYTES {
            return Err(vec![at(format!("larger than {MAX_FILE_BYTES} bytes"))]);
        }
        let mut errors = Vec::new();
        let text = substitute(text, env, &mut errors);
        let version = format!("sha256:{}", &crate::hash::sha256_hex(text.as_bytes())[..16]);
        let file: File = match toml::from_str(&text) {
            Ok(f) => f,
            Err(e) => {
                let (line, column) = e.span().map_or((1, 1), |s| locate(&text, s.start));
                errors.push(RuleError {
                    line,
                    column,
                    rule: None,
                    message: e.message().to_string(),
                });
                return Err(errors);
            }
        };
        let mut c = Compiler {
            text: &text,
            errors,
        };
        if !(file.threshold > 0.0 && file.threshold.is_finite()) {
            c.error(0..0, None, "threshold: must be a positive number".into());
        }
        if !(file.confidence_half > 0.0 && file.confidence_half.is_finite()) {
            c.error(
                0..0,
                None,
                "confidence_half: must be a positive number".into(),
            );
        }
        let default_horizon_days = match &file.default_horizon {
            Some(h) => c.horizon(h, None).unwrap_or(3),
            None => 3,
        };
        if file.rules.len() > MAX_RULES {
            c.error(0..0, None, format!("more than {MAX_RULES} rules"));
        }
        let mut rules = Vec::new();
        let mut names = std::collections::HashSet::new();
        for r in &file.rules {
            if let Some(rule) = c.rule(r, &file.groups, &mut names) {
                rules.push(rule);
            }
        }
        let mut used: Vec<&'static str> = Vec::new();
        for p in rules
            .iter()
            .flat_map(|r| std::iter::once(&r.when).chain(&r.assets))
        {
            for v in p.references().variables() {
                if let Some((name, _)) = VARIABLES.iter().find(|(n, _)| *n == v)
                    && !used.contains(name)
                {
                    used.push(name);
                }
            }
        }
        used.sort_unstable();
        if !c.errors.is_empty() {
            c.errors.sort_by_key(|e| (e.line, e.column));
            return Err(c.errors);
        }
        Ok(RuleSet {
            version,
            threshold: file.threshold,
            confidence_half: file.confidence_half,
            default_horizon_days,
            rules,
            used,
        })
    }

    /// The built-in default rules.
    pub fn default_rules() -> RuleSet {
        RuleSet::compile(DEFAULT_RULES, &|_| None).expect("the default rules compile")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn the_default_rules_compile() {
        let r = RuleSet::default_rules();
        assert!(r.rules.len() >= 6);
        assert!(r.version.starts_with("sha256:"));
    }

    #[test]
    fn every_error_is_reported_with_its_place() {
        let text = "threshold = 2.0\n\n[[rule]]\nname = \"a\"\nwhen = \"source == \"\nscore = 1.0\nreason = \"r\"\n\n[[rule]]\nname = \"b\"\nwhen = \"sorce == 'x'\"\nscore = 1.0\nreason = \"r\"\ngroup = \"nope\"\nhorizon = \"3w\"\n";
        let errs = RuleSet::compile(text, &no_env).unwrap_err();
        let shown: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert_eq!(errs.len(), 4, "{shown:#?}");
        assert_eq!((errs[0].line, errs[0].rule.as_deref()), (5, Some("a")));
        assert!(errs[0].column > 8, "{shown:?}");
        assert!(shown[1].contains("unknown variable `sorce`"), "{shown:?}");
        assert_eq!(errs[1].line, 11);
        assert!(
            shown
                .iter()
                .any(|s| s.starts_with("14:") && s.contains("group `nope`"))
        );
        assert!(
            shown
                .iter()
                .any(|s| s.starts_with("15:") && s.contains("horizon `3w`"))
        );
    }

    #[test]
    fn deeply_nested_comprehensions_are_refused() {
        let ok = "[[rule]]\nname = \"a\"\nwhen = 'mentions.exists(m, tickers.exists(t, t == m.ticker))'\nscore = 1.0\nreason = \"r\"\n";
        assert!(RuleSet::compile(ok, &no_env).is_ok());
        let deep = "[[rule]]\nname = \"a\"\nwhen = 'tickers.all(a, tickers.all(b, tickers.all(c, a == b && b == c)))'\nscore = 1.0\nreason = \"r\"\n";
        let errs = RuleSet::compile(deep, &no_env).unwrap_err();
        assert!(errs[0].message.contains("nested 3 deep"), "{errs:?}");
    }

    #[test]
    fn toml_errors_have_a_place_and_unknown_keys_are_refused() {
        let errs =
            RuleSet::compile("[[rule]]\nname = \"a\"\nwehn = \"true\"\n", &no_env).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert!(errs[0].message.contains("wehn"), "{errs:?}");
        assert!(errs[0].line >= 1);
    }

    #[test]
    fn environment_is_substituted_and_missing_names_are_errors() {
        let env = |n: &str| (n == "MIN").then(|| "5".to_string());
        let text = "threshold = ${MIN}\nconfidence_half = ${HALF:-2.5}\n";
        let r = RuleSet::compile(text, &env).unwrap();
        assert_eq!((r.threshold, r.confidence_half), (5.0, 2.5));
        let errs = RuleSet::compile("threshold = ${NOPE}\n", &no_env).unwrap_err();
        assert!(errs[0].message.contains("NOPE"), "{errs:?}");
        assert_eq!((errs[0].line, errs[0].column), (1, 13));
        let mut e = Vec::new();
        assert_eq!(substitute("a $${X} b", &no_env, &mut e), "a ${X} b");
        assert!(e.is_empty());
    }

    #[test]
    fn the_version_is_what_ran() {
        let a = RuleSet::compile("threshold = ${T}\n", &|_| Some("2".into())).unwrap();
        let b = RuleSet::compile("threshold = ${T}\n", &|_| Some("4".into())).unwrap();
        let c = RuleSet::compile("threshold = 2\n", &|_| None).unwrap();
        assert_ne!(a.version, b.version);
        assert_eq!(a.version, c.version);
    }
}
