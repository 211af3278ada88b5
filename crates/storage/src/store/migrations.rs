//! The one numbered schema history, read from the migrations folders at build time:
//! `migrations/NNNN_name.sql` (SQLite) and `migrations/postgres/NNNN_name.sql`
//! (PostgreSQL). Adding a table means adding one file to each folder; nothing lists
//! them by hand. The unit tests hold the history whole: versions 1..=N with no gap,
//! the same versions and names in both dialects, and N = [`super::SCHEMA_VERSION`].

use std::borrow::Cow;

use rust_embed::RustEmbed;

use super::sql::Dialect;

#[derive(RustEmbed)]
#[folder = "../../migrations/"]
struct Files;

/// One migration: its version, its name (the file name without number and `.sql`),
/// and its SQL text.
#[derive(Debug, Clone)]
pub struct Migration {
    pub version: u32,
    pub name: String,
    pub sql: Cow<'static, str>,
}

/// The migrations of `dialect`, by version.
pub fn migrations(dialect: Dialect) -> Vec<Migration> {
    let dir = match dialect {
        Dialect::Sqlite => "",
        Dialect::Postgres => "postgres/",
    };
    let mut out: Vec<Migration> = Files::iter()
        .filter_map(|path| {
            let file = path.strip_prefix(dir)?;
            if file.contains('/') {
                return None;
            }
            let stem = file.strip_suffix(".sql")?;
            let (num, name) = stem.split_once('_')?;
            let version = num.parse().ok()?;
            let sql = match Files::get(&path)?.data {
                Cow::Borrowed(b) => Cow::Borrowed(std::str::from_utf8(b).ok()?),
                Cow::Owned(b) => Cow::Owned(String::from_utf8(b).ok()?),
            };
            Some(Migration {
                version,
                name: name.to_string(),
                sql,
            })
        })
        .collect();
    out.sort_by_key(|m| m.version);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_whole_history_in_both_dialects() {
        let lite = migrations(Dialect::Sqlite);
        let pg = migrations(Dialect::Postgres);
        let versions: Vec<u32> = lite.iter().map(|m| m.version).collect();
        assert_eq!(
            versions,
            (1..=crate::store::SCHEMA_VERSION).collect::<Vec<_>>(),
            "numbered 1..=SCHEMA_VERSION, no gaps, no duplicates"
        );
        let names = |v: &[Migration]| {
            v.iter()
                .map(|m| (m.version, m.name.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(&lite),
            names(&pg),
            "the same history in both dialects"
        );
        assert!(lite.iter().chain(&pg).all(|m| !m.sql.trim().is_empty()));
    }

    /// Every `.sql` file in the folders is a migration: a misnamed one would otherwise
    /// be silently left out.
    #[test]
    fn every_file_is_taken() {
        let files = Files::iter().filter(|p| p.ends_with(".sql")).count();
        let taken = migrations(Dialect::Sqlite).len() + migrations(Dialect::Postgres).len();
        assert_eq!(files, taken);
    }
}
