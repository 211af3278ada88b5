//! Dynamic filters: conditions joined by AND, values bound as `$n` in order.

use super::SqlValue;

/// The values of a statement being built; [`Params::bind`] returns the placeholder.
#[derive(Debug, Default)]
pub struct Params(pub Vec<SqlValue>);

impl Params {
    pub fn bind(&mut self, v: impl Into<SqlValue>) -> String {
        self.0.push(v.into());
        format!("${}", self.0.len())
    }
}

/// Conditions of a `WHERE`, joined by AND.
#[derive(Debug, Default)]
pub struct Where(Vec<String>);

impl Where {
    pub fn and(&mut self, cond: impl Into<String>) {
        self.0.push(cond.into());
    }

    /// ` WHERE a AND b`, or nothing when there is no condition.
    pub fn sql(&self) -> String {
        if self.0.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.0.join(" AND "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_in_order() {
        let (mut p, mut w) = (Params::default(), Where::default());
        assert_eq!(Where::default().sql(), "");
        w.and(format!("a = {}", p.bind(1i64)));
        w.and(format!("b < {}", p.bind("x")));
        assert_eq!(w.sql(), " WHERE a = $1 AND b < $2");
        assert_eq!(p.0, vec![SqlValue::Int(1), SqlValue::Text("x".into())]);
    }
}
