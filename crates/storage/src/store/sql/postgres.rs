//! [`SqlValue`]s and [`Row`]s on tokio-postgres, and [`SqlDb`] over the pool.

use async_trait::async_trait;
use bytes::BytesMut;
use deadpool_postgres::Pool;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use super::{Dialect, Mutation, Row, SqlDb, SqlValue};
use crate::store::StoreError;

type BoxError = Box<dyn std::error::Error + Sync + Send>;

impl ToSql for SqlValue {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        match self {
            SqlValue::Null => Ok(IsNull::Yes),
            SqlValue::Int(v) => match *ty {
                Type::INT8 => v.to_sql(ty, out),
                Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
                Type::BOOL => (*v != 0).to_sql(ty, out),
                Type::FLOAT8 => (*v as f64).to_sql(ty, out),
                _ => Err(format!("cannot bind an integer to a {ty} parameter").into()),
            },
            SqlValue::Real(v) => match *ty {
                Type::FLOAT8 => v.to_sql(ty, out),
                Type::FLOAT4 => (*v as f32).to_sql(ty, out),
                _ => Err(format!("cannot bind a number to a {ty} parameter").into()),
            },
            SqlValue::Text(v) if <String as ToSql>::accepts(ty) => v.to_sql(ty, out),
            SqlValue::Blob(v) if <Vec<u8> as ToSql>::accepts(ty) => v.to_sql(ty, out),
            SqlValue::Text(_) | SqlValue::Blob(_) => {
                Err(format!("cannot bind {self:?} to a {ty} parameter").into())
            }
        }
    }

    fn accepts(_: &Type) -> bool {
        // Checked per value in `to_sql`, which knows which variant it holds.
        true
    }

    to_sql_checked!();
}

fn value_of(r: &tokio_postgres::Row, i: usize) -> Result<SqlValue, StoreError> {
    let ty = r.columns()[i].type_();
    Ok(match *ty {
        Type::INT8 => r.try_get::<_, Option<i64>>(i)?.into(),
        Type::INT4 => r.try_get::<_, Option<i32>>(i)?.into(),
        Type::INT2 => r.try_get::<_, Option<i16>>(i)?.map(i64::from).into(),
        Type::BOOL => r.try_get::<_, Option<bool>>(i)?.into(),
        Type::FLOAT8 => r.try_get::<_, Option<f64>>(i)?.into(),
        Type::FLOAT4 => r.try_get::<_, Option<f32>>(i)?.map(f64::from).into(),
        Type::BYTEA => r.try_get::<_, Option<Vec<u8>>>(i)?.into(),
        _ if <String as tokio_postgres::types::FromSql>::accepts(ty) => {
            r.try_get::<_, Option<String>>(i)?.into()
        }
        _ => {
            return Err(StoreError::Corrupt(format!(
                "column {} has type {ty}, which sigflow does not read",
                r.columns()[i].name()
            )));
        }
    })
}

fn row_of(r: &tokio_postgres::Row) -> Result<Row, StoreError> {
    (0..r.len())
        .map(|i| value_of(r, i))
        .collect::<Result<_, _>>()
        .map(Row)
}

fn refs(params: &[SqlValue]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

/// Applies one mutation inside an open transaction (the commit path's generic write).
pub async fn apply(
    tx: &deadpool_postgres::Transaction<'_>,
    m: &Mutation,
) -> Result<u64, StoreError> {
    crate::store::postgres_exec(tx, m.text(super::Dialect::Postgres), &refs(&m.params)).await
}

/// [`SqlDb`] on a PostgreSQL pool: statements prepared once per connection.
pub struct PgSql(pub Pool);

#[async_trait]
impl SqlDb for PgSql {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    async fn query(&self, sql: &str, params: Vec<SqlValue>) -> Result<Vec<Row>, StoreError> {
        let client = self.0.get().await?;
        let st = client.prepare_cached(sql).await?;
        let rows = client.query(&st, &refs(&params)).await?;
        rows.iter().map(row_of).collect()
    }

    async fn execute(&self, mutations: Vec<Mutation>) -> Result<Vec<u64>, StoreError> {
        let mut client = self.0.get().await?;
        let tx = client.transaction().await?;
        let mut n = Vec::with_capacity(mutations.len());
        for m in &mutations {
            n.push(apply(&tx, m).await?);
        }
        tx.commit().await?;
        Ok(n)
    }
}
