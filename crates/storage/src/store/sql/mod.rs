//! SQL written once for both store backends.
//!
//! Statements are written in PostgreSQL's style — `$1`, `$2` … parameters — in the
//! subset both databases accept (`ON CONFLICT … DO NOTHING/UPDATE`, `RETURNING`,
//! row-value comparisons, `LIMIT $n`; no casts, no arrays). [`for_sqlite`] rewrites the
//! parameters for SQLite in this one place. Where the dialects really differ (reading a
//! JSON document), [`Dialect`] hands out the fragment.
//!
//! Values cross the boundary as [`SqlValue`] and come back as [`Row`]s of them, so a
//! table's row decoding ([`FromRow`]) is written once, not once per driver. The few
//! statements whose cost the benchmark measures (the content upsert, the embedded log,
//! the enrichment state) keep their hand-tuned per-backend code.
//!
//! * [`SqlDb`] — what a repository runs statements on (both stores implement it).
//! * [`Mutation`] — one statement with its values: what a repository returns for the
//!   commit path ([`super::Write::Sql`]) or runs on its own with [`SqlDb::execute`].
//! * [`Params`] + [`Where`] — dynamic filters without string-pasting values.

mod filter;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod sqlite;

use std::borrow::Cow;

use async_trait::async_trait;

use super::StoreError;

pub use filter::{Params, Where};

/// The two SQL dialects sigflow speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The text at `path` (e.g. `["enrichments", "sentiment", "label"]`) of the JSON
    /// document in column `col`, NULL when absent.
    pub fn json_text(self, col: &str, path: &[&str]) -> String {
        match self {
            Dialect::Sqlite => format!("json_extract({col}, '$.{}')", path.join(".")),
            Dialect::Postgres => format!("({col}::jsonb #>> '{{{}}}')", path.join(",")),
        }
    }

    /// The boolean at `path` of the JSON document in `col` as 0 or 1 (0 when absent).
    pub fn json_flag(self, col: &str, path: &[&str]) -> String {
        match self {
            Dialect::Sqlite => format!("coalesce({}, 0)", self.json_text(col, path)),
            Dialect::Postgres => {
                format!("COALESCE(({})::boolean::int, 0)", self.json_text(col, path))
            }
        }
    }
}

/// One value bound to or read from a statement. Integers are 64-bit on both sides
/// (every integer column is `BIGINT` in the PostgreSQL schema); booleans are stored as
/// integers.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for SqlValue {
            fn from(v: $t) -> Self {
                SqlValue::Int(v as i64)
            }
        }
    )*};
}
from_int!(i64, i32, u32, u16, u8);

impl From<u64> for SqlValue {
    /// Offsets and counts are u64 in memory and BIGINT on disk; none reaches 2^63.
    fn from(v: u64) -> Self {
        SqlValue::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl From<bool> for SqlValue {
    fn from(v: bool) -> Self {
        SqlValue::Int(i64::from(v))
    }
}

impl From<f64> for SqlValue {
    fn from(v: f64) -> Self {
        SqlValue::Real(v)
    }
}

impl From<String> for SqlValue {
    fn from(v: String) -> Self {
        SqlValue::Text(v)
    }
}

impl From<&str> for SqlValue {
    fn from(v: &str) -> Self {
        SqlValue::Text(v.to_string())
    }
}

impl From<&String> for SqlValue {
    fn from(v: &String) -> Self {
        SqlValue::Text(v.clone())
    }
}

impl From<Vec<u8>> for SqlValue {
    fn from(v: Vec<u8>) -> Self {
        SqlValue::Blob(v)
    }
}

impl<T: Into<SqlValue>> From<Option<T>> for SqlValue {
    fn from(v: Option<T>) -> Self {
        v.map(Into::into).unwrap_or(SqlValue::Null)
    }
}

/// `[a, b, c]` as bound values: `sql_params![id, 3u32, None::<String>]`.
#[macro_export]
macro_rules! sql_params {
    ($($v:expr),* $(,)?) => {
        vec![$($crate::store::sql::SqlValue::from($v)),*]
    };
}

/// One statement and its values, in the `$n` dialect.
#[derive(Debug, Clone, PartialEq)]
pub struct Mutation {
    pub sql: Cow<'static, str>,
    /// The PostgreSQL text where the dialects differ (JSON functions); `sql` otherwise.
    pub postgres: Option<Cow<'static, str>>,
    pub params: Vec<SqlValue>,
}

impl Mutation {
    pub fn new(sql: impl Into<Cow<'static, str>>, params: Vec<SqlValue>) -> Self {
        Mutation {
            sql: sql.into(),
            postgres: None,
            params,
        }
    }

    /// A statement written twice, once per dialect, with the same parameters.
    pub fn per_dialect(
        sqlite: &'static str,
        postgres: &'static str,
        params: Vec<SqlValue>,
    ) -> Self {
        Mutation {
            sql: sqlite.into(),
            postgres: Some(postgres.into()),
            params,
        }
    }

    /// A statement only PostgreSQL needs (a lock several processes must share); SQLite's
    /// single writer serializes already, so there it is skipped.
    pub fn postgres_only(postgres: &'static str, params: Vec<SqlValue>) -> Self {
        Mutation {
            sql: "".into(),
            postgres: Some(postgres.into()),
            params,
        }
    }

    /// The text for `dialect`.
    pub fn text(&self, dialect: Dialect) -> &str {
        match (dialect, &self.postgres) {
            (Dialect::Postgres, Some(pg)) => pg,
            _ => &self.sql,
        }
    }
}

/// A row read back: the columns in `SELECT` order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Row(pub Vec<SqlValue>);

impl Row {
    fn at(&self, i: usize) -> Result<&SqlValue, StoreError> {
        self.0
            .get(i)
            .ok_or_else(|| StoreError::Corrupt(format!("row has no column {i}")))
    }

    fn wrong(&self, i: usize, want: &str) -> StoreError {
        StoreError::Corrupt(format!(
            "column {i}: expected {want}, found {:?}",
            self.0[i]
        ))
    }

    pub fn opt_i64(&self, i: usize) -> Result<Option<i64>, StoreError> {
        match self.at(i)? {
            SqlValue::Null => Ok(None),
            SqlValue::Int(v) => Ok(Some(*v)),
            _ => Err(self.wrong(i, "an integer")),
        }
    }

    pub fn i64(&self, i: usize) -> Result<i64, StoreError> {
        self.opt_i64(i)?.ok_or_else(|| self.wrong(i, "an integer"))
    }

    /// An integer column that holds a u32 (partitions, indexes, counts).
    pub fn u32(&self, i: usize) -> Result<u32, StoreError> {
        u32::try_from(self.i64(i)?).map_err(|_| self.wrong(i, "a u32"))
    }

    pub fn opt_u32(&self, i: usize) -> Result<Option<u32>, StoreError> {
        self.opt_i64(i)?
            .map(|v| u32::try_from(v).map_err(|_| self.wrong(i, "a u32")))
            .transpose()
    }

    pub fn u64(&self, i: usize) -> Result<u64, StoreError> {
        u64::try_from(self.i64(i)?).map_err(|_| self.wrong(i, "a u64"))
    }

    pub fn opt_f64(&self, i: usize) -> Result<Option<f64>, StoreError> {
        match self.at(i)? {
            SqlValue::Null => Ok(None),
            SqlValue::Real(v) => Ok(Some(*v)),
            SqlValue::Int(v) => Ok(Some(*v as f64)),
            _ => Err(self.wrong(i, "a number")),
        }
    }

    pub fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        match self.at(i)? {
            SqlValue::Null => Ok(None),
            SqlValue::Text(v) => Ok(Some(v.clone())),
            _ => Err(self.wrong(i, "text")),
        }
    }

    pub fn text(&self, i: usize) -> Result<String, StoreError> {
        self.opt_text(i)?.ok_or_else(|| self.wrong(i, "text"))
    }

    pub fn opt_blob(&self, i: usize) -> Result<Option<Vec<u8>>, StoreError> {
        match self.at(i)? {
            SqlValue::Null => Ok(None),
            SqlValue::Blob(v) => Ok(Some(v.clone())),
            _ => Err(self.wrong(i, "bytes")),
        }
    }

    pub fn blob(&self, i: usize) -> Result<Vec<u8>, StoreError> {
        self.opt_blob(i)?.ok_or_else(|| self.wrong(i, "bytes"))
    }
}

/// A type built from one row of a known `SELECT`: written once per table, used by
/// every backend.
pub trait FromRow: Sized {
    fn from_row(row: &Row) -> Result<Self, StoreError>;
}

/// What repositories run statements on: the store's database, whichever it is.
#[async_trait]
pub trait SqlDb: Send + Sync {
    fn dialect(&self) -> Dialect;
    /// Runs one query (`$n` dialect) and returns every row.
    async fn query(&self, sql: &str, params: Vec<SqlValue>) -> Result<Vec<Row>, StoreError>;
    /// Runs the mutations in one transaction (all or none); rows changed by each.
    async fn execute(&self, mutations: Vec<Mutation>) -> Result<Vec<u64>, StoreError>;
}

impl dyn SqlDb + '_ {
    /// [`SqlDb::query`], each row decoded as `T`.
    pub async fn query_as<T: FromRow>(
        &self,
        sql: &str,
        params: Vec<SqlValue>,
    ) -> Result<Vec<T>, StoreError> {
        self.query(sql, params)
            .await?
            .iter()
            .map(T::from_row)
            .collect()
    }

    /// The first row decoded as `T`, if any.
    pub async fn query_opt<T: FromRow>(
        &self,
        sql: &str,
        params: Vec<SqlValue>,
    ) -> Result<Option<T>, StoreError> {
        self.query(sql, params)
            .await?
            .first()
            .map(T::from_row)
            .transpose()
    }

    /// One mutation on its own.
    pub async fn execute_one(&self, m: Mutation) -> Result<u64, StoreError> {
        Ok(self.execute(vec![m]).await?.pop().unwrap_or(0))
    }
}

/// The statement for SQLite: `$n` → `?n`, outside quoted strings and identifiers.
pub fn for_sqlite(sql: &str) -> Cow<'_, str> {
    if !sql.contains('$') {
        return Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len());
    let mut quote: Option<char> = None;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '\'' | '"') => quote = Some(c),
            (None, '$') if chars.peek().is_some_and(|d| d.is_ascii_digit()) => {
                out.push('?');
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    Cow::Owned(out)
}

impl FromRow for i64 {
    fn from_row(row: &Row) -> Result<Self, StoreError> {
        row.i64(0)
    }
}

impl FromRow for String {
    fn from_row(row: &Row) -> Result<Self, StoreError> {
        row.text(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_rewritten_outside_quotes_only() {
        assert_eq!(
            for_sqlite("SELECT '$1', \"$2\" FROM t WHERE a = $1 AND b = $12"),
            "SELECT '$1', \"$2\" FROM t WHERE a = ?1 AND b = ?12"
        );
        assert!(matches!(for_sqlite("SELECT 1"), Cow::Borrowed(_)));
    }

    #[test]
    fn rows_decode_with_clear_errors() {
        let r = Row(vec![
            SqlValue::Int(7),
            SqlValue::Null,
            SqlValue::Text("x".into()),
        ]);
        assert_eq!(r.u32(0).unwrap(), 7);
        assert_eq!(r.opt_text(1).unwrap(), None);
        assert_eq!(r.text(2).unwrap(), "x");
        let e = r.i64(2).unwrap_err().to_string();
        assert!(e.contains("column 2: expected an integer"), "{e}");
        assert!(r.text(9).is_err());
        assert!(Row(vec![SqlValue::Int(-1)]).u32(0).is_err());
    }

    #[test]
    fn json_fragments_per_dialect() {
        let p = ["enrichments", "sentiment", "label"];
        assert_eq!(
            Dialect::Sqlite.json_text("c.doc", &p),
            "json_extract(c.doc, '$.enrichments.sentiment.label')"
        );
        assert_eq!(
            Dialect::Postgres.json_text("c.doc", &p),
            "(c.doc::jsonb #>> '{enrichments,sentiment,label}')"
        );
    }
}
