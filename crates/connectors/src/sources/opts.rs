//! Typed reading of a source's `options` table, collecting every problem instead of
//! stopping at the first (so `sigflow validate` can list them all).

use crate::sources::SourceConfig;

pub struct Opts<'a> {
    cfg: &'a SourceConfig,
    known: Vec<&'static str>,
    pub errors: Vec<String>,
}

impl<'a> Opts<'a> {
    pub fn new(cfg: &'a SourceConfig) -> Self {
        Opts {
            cfg,
            known: Vec::new(),
            errors: Vec::new(),
        }
    }

    fn get(&mut self, key: &'static str) -> Option<&'a toml::Value> {
        self.known.push(key);
        self.cfg.options.get(key)
    }

    pub fn string(&mut self, key: &'static str) -> Option<String> {
        match self.get(key) {
            None => None,
            Some(toml::Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Some(_) => {
                self.errors
                    .push(format!("option `{key}` must be a non-empty string"));
                None
            }
        }
    }

    pub fn required(&mut self, key: &'static str, what: &str) -> String {
        let v = self.string(key);
        if v.is_none() && !self.cfg.options.contains_key(key) {
            self.errors
                .push(format!("option `{key}` ({what}) is required"));
        }
        v.unwrap_or_default()
    }

    /// A list of strings; a single string is taken as a list of one.
    pub fn list(&mut self, key: &'static str) -> Vec<String> {
        match self.get(key) {
            None => Vec::new(),
            Some(toml::Value::String(s)) => vec![s.trim().to_string()],
            Some(toml::Value::Array(a)) => {
                let out: Vec<String> = a
                    .iter()
                    .filter_map(|v| v.as_str().map(|s| s.trim().to_string()))
                    .filter(|s| !s.is_empty())
                    .collect();
                if out.len() != a.len() {
                    self.errors.push(format!(
                        "option `{key}` must be a list of non-empty strings"
                    ));
                }
                out
            }
            Some(_) => {
                self.errors.push(format!(
                    "option `{key}` must be a string or a list of strings"
                ));
                Vec::new()
            }
        }
    }

    pub fn uint(&mut self, key: &'static str, default: u64, min: u64, max: u64) -> u64 {
        match self.get(key) {
            None => default,
            Some(toml::Value::Integer(i))
                if (min as i128..=max as i128).contains(&(*i as i128)) =>
            {
                *i as u64
            }
            Some(v) => {
                self.errors.push(format!(
                    "option `{key}` must be an integer from {min} to {max}, got `{v}`"
                ));
                default
            }
        }
    }

    pub fn float(&mut self, key: &'static str, default: f64, min: f64, max: f64) -> f64 {
        let v = match self.get(key) {
            None => return default,
            Some(toml::Value::Integer(i)) => Some(*i as f64),
            Some(toml::Value::Float(f)) => Some(*f),
            Some(_) => None,
        };
        match v {
            Some(x) if x.is_finite() && (min..=max).contains(&x) => x,
            _ => {
                self.errors.push(format!(
                    "option `{key}` must be a number from {min} to {max}"
                ));
                default
            }
        }
    }

    pub fn boolean(&mut self, key: &'static str, default: bool) -> bool {
        match self.get(key) {
            None => default,
            Some(toml::Value::Boolean(b)) => *b,
            Some(_) => {
                self.errors
                    .push(format!("option `{key}` must be true or false"));
                default
            }
        }
    }

    /// The raw value, for options with their own shape.
    pub fn raw(&mut self, key: &'static str) -> Option<&'a toml::Value> {
        self.get(key)
    }

    /// Marks keys as known without reading them (read elsewhere).
    pub fn allow(&mut self, keys: &[&'static str]) {
        self.known.extend_from_slice(keys);
    }

    /// Every problem found, including options nobody asked for (typos).
    pub fn finish(mut self) -> Vec<String> {
        let mut known = self.known.clone();
        known.sort_unstable();
        known.dedup();
        for k in self.cfg.options.keys() {
            if !known.contains(&k.as_str()) {
                self.errors.push(format!(
                    "unknown option `{k}` for kind `{}` (known: {})",
                    self.cfg.kind,
                    known.join(", ")
                ));
            }
        }
        self.errors
    }
}
