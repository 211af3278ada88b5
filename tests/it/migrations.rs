//! One numbered migration history for every store backend: the SQLite texts
//! (`migrations/`) and the PostgreSQL texts (`migrations/postgres/`) must give the same
//! tables, columns, types, nullability, primary keys, indexes and views. Applied for
//! real to both and compared.

use std::collections::BTreeMap;

use crate::servers::Postgres;
use crate::util::*;

/// (table, column) → (type, not null, part of the primary key)
type Schema = BTreeMap<(String, String), (String, bool, bool)>;

/// Explicit indexes (not those behind a primary key or UNIQUE constraint):
/// "table.index unique? (columns)", sorted.
fn sqlite_indexes(dir: &TestDir) -> Vec<String> {
    let conn = db(&dir.db());
    let mut out: Vec<String> = conn
        .prepare(
            "SELECT m.tbl_name, m.name, l.\"unique\", \
             (SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_index_info(m.name) ORDER BY seqno)) \
             FROM sqlite_master m JOIN pragma_index_list(m.tbl_name) l ON l.name = m.name \
             WHERE m.type = 'index' AND m.sql IS NOT NULL",
        )
        .unwrap()
        .query_map([], |r| {
            Ok(format!(
                "{}.{} unique={} ({})",
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)? != 0,
                r.get::<_, String>(3)?
            ))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    out.sort();
    out
}

fn postgres_indexes(pg: &Postgres) -> Vec<String> {
    let mut out: Vec<String> = pg
        .psql(&["-c", "SELECT t.relname, i.relname, ix.indisunique, string_agg(a.attname, ',' ORDER BY k.n) \
                 FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_class t ON t.oid = ix.indrelid \
                 JOIN pg_namespace ns ON ns.oid = t.relnamespace \
                 CROSS JOIN LATERAL unnest(ix.indkey) WITH ORDINALITY AS k(attnum, n) \
                 JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
                 WHERE ns.nspname = 'public' AND t.relname != 'schema_migrations' \
                 AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = ix.indexrelid) \
                 GROUP BY 1, 2, 3"])
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            format!("{}.{} unique={} ({})", f[0], f[1], f[2] == "t", f[3])
        })
        .collect();
    out.sort();
    out
}

fn norm(t: &str) -> String {
    match t.to_ascii_lowercase().as_str() {
        "integer" | "bigint" => "int",
        "text" => "text",
        "blob" | "bytea" => "bytes",
        "real" | "double precision" => "float",
        other => return other.to_string(),
    }
    .to_string()
}

fn sqlite_schema(dir: &TestDir) -> (Schema, Vec<String>) {
    run_ok(sigflow().args(["migrate", "--data-dir"]).arg(dir.data()));
    let conn = db(&dir.db());
    let tables: Vec<(String, String)> = conn
        .prepare("SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' AND name != 'schema_migrations' ORDER BY name")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut schema = Schema::new();
    let mut views = Vec::new();
    for (t, kind) in tables {
        if kind == "view" {
            views.push(t);
            continue;
        }
        let mut st = conn
            .prepare(&format!("PRAGMA table_info(\"{t}\")"))
            .unwrap();
        let cols: Vec<(String, String, bool, bool)> = st
            .query_map([], |r| {
                Ok((
                    r.get(1)?,
                    r.get(2)?,
                    r.get::<_, i64>(3)? != 0,
                    r.get::<_, i64>(5)? != 0,
                ))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for (c, ty, notnull, pk) in cols {
            // SQLite: a primary key column may be NULL in the declaration; it is not.
            schema.insert((t.clone(), c), (norm(&ty), notnull || pk, pk));
        }
    }
    (schema, views)
}

fn postgres_schema(pg: &Postgres) -> (Schema, Vec<String>) {
    // The real path: `sigflow migrate` on a postgres:// store, twice (the second run
    // finds nothing to do).
    for _ in 0..2 {
        let out = run_ok(
            sigflow()
                .arg("migrate")
                .env("SIGFLOW__STORE", pg.url())
                .env("SIGFLOW__LOG", "kafka://127.0.0.1:9"),
        );
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(said.contains("schema at migration"), "{said}");
    }
    assert_eq!(
        pg.psql(&["-c", "SELECT count(*) FROM schema_migrations"])
            .trim(),
        sigflow::store::SCHEMA_VERSION.to_string()
    );
    let pks: Vec<(String, String)> = pg
        .psql(&["-c", "SELECT k.table_name, k.column_name FROM information_schema.table_constraints c \
                 JOIN information_schema.key_column_usage k ON k.constraint_name = c.constraint_name \
                 WHERE c.constraint_type = 'PRIMARY KEY' AND c.table_schema = 'public' AND k.table_name != 'schema_migrations'"])
        .lines()
        .filter_map(|l| l.split_once('|').map(|(a, b)| (a.to_string(), b.to_string())))
        .collect();
    let mut schema = Schema::new();
    for line in pg
        .psql(&["-c", "SELECT c.table_name, c.column_name, c.data_type, c.is_nullable FROM information_schema.columns c \
                 JOIN information_schema.tables t ON t.table_name = c.table_name AND t.table_schema = c.table_schema \
                 WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE' AND c.table_name != 'schema_migrations'"])
        .lines()
    {
        let f: Vec<&str> = line.split('|').collect();
        let key = (f[0].to_string(), f[1].to_string());
        let pk = pks.contains(&key);
        schema.insert(key, (norm(f[2]), f[3] == "NO", pk));
    }
    let views = pg
        .psql(&["-c", "SELECT table_name FROM information_schema.views WHERE table_schema = 'public' ORDER BY 1"])
        .lines()
        .map(String::from)
        .collect();
    (schema, views)
}

#[test]
fn sqlite_and_postgres_histories_give_the_same_schema() {
    let dir = TestDir::new("migrations");
    let (lite, lite_views) = sqlite_schema(&dir);
    let pg = Postgres::start();
    let (post, post_views) = postgres_schema(&pg);
    assert!(lite.len() > 50, "the SQLite schema was read: {lite:?}");
    let only = |a: &Schema, b: &Schema| -> Vec<String> {
        a.iter()
            .filter(|(k, v)| b.get(*k) != Some(*v))
            .map(|(k, v)| format!("{}.{} {v:?} (other side: {:?})", k.0, k.1, b.get(k)))
            .collect()
    };
    let diff: Vec<String> = only(&lite, &post)
        .into_iter()
        .chain(only(&post, &lite))
        .collect();
    assert!(diff.is_empty(), "schemas differ:\n{}", diff.join("\n"));
    assert_eq!(lite_views, post_views);
    let (lite_ix, post_ix) = (sqlite_indexes(&dir), postgres_indexes(&pg));
    assert!(
        lite_ix.len() >= 4,
        "the SQLite indexes were read: {lite_ix:?}"
    );
    assert_eq!(lite_ix, post_ix, "indexes differ");
    // Both histories have the same versions.
    let lite_files: Vec<String> =
        std::fs::read_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations"))
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".sql"))
            .collect();
    for f in lite_files {
        assert!(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("migrations/postgres")
                .join(&f)
                .exists(),
            "{f} has no PostgreSQL text"
        );
    }
}
