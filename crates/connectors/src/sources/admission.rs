//! What a source added over the API may do, beyond what a config file may: the caller
//! is not the operator, so it may not read the server's files or environment, nor
//! point sigflow at addresses the outbound guard refuses. Checked before the source is
//! validated, so a refused source never reaches code that would touch what it names
//! (and no message says whether a file or a variable exists).

use std::path::{Path, PathBuf};

use super::SourceConfig;

/// The operator's limits for sources added at run time (`[api]` in the config).
#[derive(Debug, Clone, Default)]
pub struct Admission {
    /// `*_env` options must name variables starting with this.
    pub env_prefix: String,
    /// `files` sources must read under one of these directories.
    pub file_roots: Vec<PathBuf>,
}

impl Admission {
    /// Every reason `cfg` may not be added over the API.
    pub fn check(&self, cfg: &SourceConfig) -> Vec<String> {
        let mut errs = Vec::new();
        for (k, v) in &cfg.options {
            if k.ends_with("_env") {
                match v.as_str() {
                    Some(var) if var.starts_with(&self.env_prefix) && var.len() > self.env_prefix.len() => {}
                    _ => errs.push(format!(
                        "option `{k}`: sources added over the API may only name environment variables starting with `{}`",
                        self.env_prefix
                    )),
                }
            }
            if matches!(k.as_str(), "url" | "base_url" | "urls" | "feeds") {
                let urls: Vec<&str> = match v {
                    toml::Value::String(s) => vec![s.as_str()],
                    toml::Value::Array(a) => a.iter().filter_map(|x| x.as_str()).collect(),
                    _ => Vec::new(),
                };
                for u in urls {
                    if let Err(e) = crate::net::check_str(u) {
                        errs.push(format!("option `{k}`: {e}"));
                    }
                }
            }
        }
        // A kind whose default key variable is the operator's must name its own.
        let provider = cfg.options.get("provider").and_then(|v| v.as_str());
        let own_var = match cfg.kind.as_str() {
            "x" => Some("token_env"),
            "earnings" if provider.is_some_and(|p| p != "nasdaq") => Some("key_env"),
            _ => None,
        };
        if let Some(opt) = own_var
            && !cfg.options.contains_key(opt)
        {
            errs.push(format!(
                "option `{opt}` is required for `{}` sources added over the API (a variable starting with `{}`)",
                cfg.kind, self.env_prefix
            ));
        }
        if cfg.kind == "files" {
            let path = cfg
                .options
                .get("path")
                .and_then(|v| v.as_str())
                .unwrap_or("");
            if !self.under_roots(Path::new(path)) {
                errs.push(if self.file_roots.is_empty() {
                    "`files` sources can be added over the API only under `api.file_roots`, and none is configured".to_string()
                } else {
                    format!(
                        "option `path` must lie under one of api.file_roots ({})",
                        self.file_roots
                            .iter()
                            .map(|r| r.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                });
            }
        }
        errs
    }

    /// Whether `path`, with links and `..` resolved, lies under a root. A path that
    /// cannot be resolved is not under any root (the answer does not say which).
    fn under_roots(&self, path: &Path) -> bool {
        let Ok(real) = path.canonicalize() else {
            return false;
        };
        self.file_roots
            .iter()
            .filter_map(|r| r.canonicalize().ok())
            .any(|root| real.starts_with(root))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(kind: &str, opts: &str) -> SourceConfig {
        SourceConfig {
            name: "s".into(),
            kind: kind.into(),
            enabled: true,
            options: opts.parse().unwrap(),
        }
    }

    #[test]
    fn refuses_foreign_variables_paths_and_addresses() {
        let tmp = std::env::temp_dir();
        let a = Admission {
            env_prefix: "SIGFLOW_SECRET_".into(),
            file_roots: vec![tmp.clone()],
        };
        assert_eq!(a.check(&cfg("webhook", "secret_env = \"PATH\"")).len(), 1);
        assert!(
            a.check(&cfg("webhook", "secret_env = \"SIGFLOW_SECRET_HOOK\""))
                .is_empty()
        );
        assert_eq!(a.check(&cfg("files", "path = \"/etc\"")).len(), 1);
        let escape = format!("{}/../../etc", tmp.display());
        assert_eq!(
            a.check(&cfg("files", &format!("path = \"{escape}\"")))
                .len(),
            1
        );
        assert!(
            a.check(&cfg("files", &format!("path = \"{}\"", tmp.display())))
                .is_empty()
        );
        assert_eq!(
            a.check(&cfg("rss", "url = \"http://169.254.169.254/\""))
                .len(),
            1
        );
        assert_eq!(
            a.check(&cfg("rss", "url = \"file:///etc/passwd\"")).len(),
            1
        );
        assert_eq!(a.check(&cfg("x", "")).len(), 1);
    }
}
