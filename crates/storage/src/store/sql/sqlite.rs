//! [`SqlValue`]s and [`Row`]s on rusqlite, and [`SqlDb`] over the embedded database.

use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::Connection;
use rusqlite::types::{ToSqlOutput, ValueRef};

use super::{Dialect, Mutation, Row, SqlDb, SqlValue, for_sqlite};
use crate::store::{SqliteDb, StoreError};

impl rusqlite::ToSql for SqlValue {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            SqlValue::Null => ValueRef::Null,
            SqlValue::Int(v) => ValueRef::Integer(*v),
            SqlValue::Real(v) => ValueRef::Real(*v),
            SqlValue::Text(v) => ValueRef::Text(v.as_bytes()),
            SqlValue::Blob(v) => ValueRef::Blob(v),
        }))
    }
}

fn value_of(v: ValueRef<'_>) -> Result<SqlValue, StoreError> {
    Ok(match v {
        ValueRef::Null => SqlValue::Null,
        ValueRef::Integer(i) => SqlValue::Int(i),
        ValueRef::Real(f) => SqlValue::Real(f),
        ValueRef::Text(t) => SqlValue::Text(
            String::from_utf8(t.to_vec())
                .map_err(|e| StoreError::Corrupt(format!("text column: {e}")))?,
        ),
        ValueRef::Blob(b) => SqlValue::Blob(b.to_vec()),
    })
}

/// Runs a query on `conn`.
pub fn query_on(conn: &Connection, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, StoreError> {
    let mut st = conn.prepare_cached(&for_sqlite(sql))?;
    let n = st.column_count();
    let mut rows = st.query(rusqlite::params_from_iter(params))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let mut row = Vec::with_capacity(n);
        for i in 0..n {
            row.push(value_of(r.get_ref(i)?)?);
        }
        out.push(Row(row));
    }
    Ok(out)
}

/// Applies one mutation inside an open transaction (the commit path's generic write).
pub fn apply(tx: &Connection, m: &Mutation) -> Result<u64, StoreError> {
    if m.sql.is_empty() {
        // `Mutation::postgres_only`: nothing to do here.
        return Ok(0);
    }
    let n = tx
        .prepare_cached(&for_sqlite(&m.sql))?
        .execute(rusqlite::params_from_iter(&m.params))?;
    Ok(n as u64)
}

/// [`SqlDb`] on the embedded database: queries on the reader pool, mutations in one
/// IMMEDIATE transaction on the writer connection.
pub struct SqliteSql(pub Arc<SqliteDb>);

#[async_trait]
impl SqlDb for SqliteSql {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    async fn query(&self, sql: &str, params: Vec<SqlValue>) -> Result<Vec<Row>, StoreError> {
        let sql = sql.to_string();
        self.0.read(move |conn| query_on(conn, &sql, &params)).await
    }

    async fn execute(&self, mutations: Vec<Mutation>) -> Result<Vec<u64>, StoreError> {
        self.0
            .write(move |conn| {
                let tx =
                    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let n = mutations
                    .iter()
                    .map(|m| apply(&tx, m))
                    .collect::<Result<Vec<_>, _>>()?;
                tx.commit()?;
                Ok(n)
            })
            .await
    }
}
