//! The checkable invariants of ARCHITECTURE.md: the crate layers and which crate may
//! depend on an HTTP server, an HTTP client, a database driver or `anyhow` (read off
//! the manifests; the compiler then enforces them); what the binary's own modules may
//! name; that pure crates do no standard-library I/O; every module says what it is
//! (`//!`); no file grows past the size one can hold in mind; no test is switched off.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Every `.rs` file under `dir` (relative to the crate root, `/`-separated), with its
/// text stripped of comments (so that prose may name a crate).
fn sources(dir: &str) -> Vec<(String, String)> {
    let mut files = Vec::new();
    rust_files(&root().join(dir), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(root())
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let code: String = std::fs::read_to_string(&p)
                .unwrap()
                .lines()
                .map(|l| l.split("//").next().unwrap_or(""))
                .collect::<Vec<_>>()
                .join("\n");
            (rel, code)
        })
        .collect()
}

/// Files under `dirs` that name one of `needles` as a path (`needle::`, `use needle;`,
/// `needle!`), outside the `allowed` prefixes.
fn offenders(dirs: &[&str], needles: &[&str], allowed: &[&str]) -> Vec<String> {
    dirs.iter()
        .flat_map(|d| sources(d))
        .filter(|(path, _)| !allowed.iter().any(|a| path.starts_with(a)))
        .filter_map(|(path, code)| {
            let code = code.split("#[cfg(test)]").next().unwrap_or("").to_string();
            let hit = needles.iter().find(|n| {
                code.contains(&format!("{n}::"))
                    || code.contains(&format!("use {n};"))
                    || code.contains(&format!("{n}!"))
            })?;
            Some(format!("{path} names {hit}"))
        })
        .collect()
}

/// The `[dependencies]` of a crate's manifest (names only).
fn dependencies(manifest: &str) -> Vec<String> {
    let text = std::fs::read_to_string(root().join(manifest)).unwrap();
    let table: toml::Table = text.parse().unwrap();
    table
        .get("dependencies")
        .and_then(|d| d.as_table())
        .map(|d| d.keys().cloned().collect())
        .unwrap_or_default()
}

const IO_CRATES: &[&str] = &[
    "tokio",
    "rusqlite",
    "tokio-postgres",
    "postgres",
    "deadpool-postgres",
    "rdkafka",
    "object_store",
    "reqwest",
    "axum",
    "tower-http",
    "anyhow",
    "rust-embed",
];
const DRIVERS: &[&str] = &[
    "rusqlite",
    "tokio-postgres",
    "postgres",
    "deadpool-postgres",
    "rdkafka",
    "object_store",
];

fn forbidden(manifest: &str, banned: &[&str]) -> Vec<String> {
    dependencies(manifest)
        .into_iter()
        .filter(|d| banned.contains(&d.as_str()))
        .map(|d| format!("{manifest} depends on {d}"))
        .collect()
}

#[test]
fn the_layers_are_in_the_manifests() {
    // Workspace order: each crate depends only on the ones before it.
    let order = [
        "sigflow-core",
        "sigflow-logic",
        "sigflow-storage",
        "sigflow-connectors",
        "sigflow-api",
    ];
    for (i, c) in order.iter().enumerate() {
        let manifest = format!("crates/{}/Cargo.toml", &c["sigflow-".len()..]);
        for d in dependencies(&manifest) {
            if let Some(j) = order.iter().position(|o| *o == d) {
                assert!(j < i, "{c} depends on {d}, which comes after it");
            }
        }
    }
    let mut bad = Vec::new();
    // Pure crates: no runtime, database, HTTP or file-embedding crate at all.
    bad.extend(forbidden("crates/core/Cargo.toml", IO_CRATES));
    bad.extend(forbidden("crates/logic/Cargo.toml", IO_CRATES));
    // Only storage names a driver; only api serves HTTP; only the binary uses anyhow;
    // only connectors (and the CLI) are HTTP clients.
    bad.extend(forbidden(
        "crates/storage/Cargo.toml",
        &["reqwest", "axum", "tower-http", "anyhow"],
    ));
    let mut not_drivers = DRIVERS.to_vec();
    not_drivers.extend(["axum", "tower-http", "anyhow"]);
    bad.extend(forbidden("crates/connectors/Cargo.toml", &not_drivers));
    let mut api = DRIVERS.to_vec();
    api.extend(["reqwest", "anyhow"]);
    bad.extend(forbidden("crates/api/Cargo.toml", &api));
    bad.extend(forbidden(
        "Cargo.toml",
        &["axum", "tower-http", "object_store", "rdkafka"],
    ));
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn in_the_binary_only_the_cli_and_bench_use_anyhow_or_drivers() {
    // The binary depends on the drivers only for the benchmark (the store's own limit)
    // and on reqwest only for the CLI (a client of a running pipeline's API).
    let mut bad = offenders(
        &["src"],
        &["anyhow"],
        &["src/cli/", "src/bench", "src/main.rs"],
    );
    bad.extend(offenders(
        &["src"],
        &["rusqlite", "tokio_postgres"],
        &["src/bench"],
    ));
    bad.extend(offenders(&["src"], &["reqwest"], &["src/cli/"]));
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn pure_logic_does_no_io() {
    // The manifests keep I/O crates out; this keeps the standard library's I/O out.
    // Two enrichers read their configured data files (extra aliases, lexicon overlay)
    // once, when the chain is built; never per item.
    let bad = offenders(
        &["crates/core/src", "crates/logic/src"],
        &["std::fs", "std::net", "std::thread", "std::process"],
        &[
            "crates/logic/src/enrich/tickers/mod.rs",
            "crates/logic/src/enrich/vader/finance.rs",
        ],
    );
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn every_module_says_what_it_is() {
    let bad: Vec<String> = ["src", "crates"]
        .iter()
        .flat_map(|d| sources(d))
        .map(|(p, _)| p)
        .filter(|p| {
            !std::fs::read_to_string(root().join(p))
                .unwrap()
                .starts_with("//!")
        })
        .collect();
    assert!(bad.is_empty(), "no `//!` module doc: {bad:#?}");
}

#[test]
fn no_file_past_800_lines() {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    rust_files(&root().join("crates"), &mut files);
    rust_files(&root().join("tests"), &mut files);
    let bad: Vec<String> = files
        .iter()
        .filter_map(|p| {
            let n = std::fs::read_to_string(p).unwrap().lines().count();
            (n > 800).then(|| format!("{}: {n} lines", p.display()))
        })
        .collect();
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn no_test_is_switched_off() {
    let attrs = [concat!("#[", "ignore"), concat!("#[", "should_panic")];
    let bad: Vec<String> = ["src", "crates", "tests"]
        .iter()
        .flat_map(|d| sources(d))
        .filter_map(|(path, code)| {
            let hit = attrs.iter().find(|a| code.contains(*a))?;
            Some(format!("{path}: {hit}]"))
        })
        .collect();
    assert!(bad.is_empty(), "{bad:#?}");
}
