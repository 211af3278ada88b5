//! sigflow: a real-time signal pipeline for markets. This crate is the binary's glue —
//! the CLI, the config, the runtime (service registry, stage runner, pipeline), the
//! stages and the benchmark — and a facade over the workspace's crates, which hold the
//! rest. The compiler enforces the layering: each crate below may use only those to
//! its left.
//!
//! ```text
//! sigflow-core ─▶ sigflow-logic ─▶ sigflow-storage ─▶ sigflow-connectors ─▶ sigflow-api ─▶ sigflow
//! (model, errors,  (normalize,      (store, log,        (sources,             (HTTP)         (cli, config,
//!  health, hash)    enrich; pure)    lake, commit)       notify)                              runtime, stages,
//!                                                                                             bench)
//! ```
//!
//! * [`model`], [`error`], [`health`] — `sigflow-core`.
//! * [`normalize`], [`enrich`] — `sigflow-logic`.
//! * [`store`], [`log`], [`lake`] — `sigflow-storage`.
//! * [`sources`], [`notify`] — `sigflow-connectors`.
//! * [`api`] — `sigflow-api`.
//! * [`markets`] (calendar, bars, outcome arithmetic, track records) — `sigflow-logic`;
//!   [`prices`] (providers) — `sigflow-connectors`; [`tracker`] — the markets service,
//!   the scorer and backtests.
//! * [`stages`] — the `Stage` trait and the stages (normalize, enrich, forward).
//! * [`runtime`] — the service registry, the runners, the pipeline.
//! * [`config`] — defaults, file, environment, validation.
//! * [`cli`] — the `sigflow` command; with the bench, the only code that uses `anyhow`.
//!
//! See ARCHITECTURE.md for the codemap and the invariants.

pub use sigflow_api as api;
pub use sigflow_connectors::prices;
pub use sigflow_connectors::{notify, sources};
pub use sigflow_core::{clock, error, hash, health, model};
pub use sigflow_logic::{analyze, enrich, markets, normalize};
pub use sigflow_storage::{lake, log, sql_params, store};

pub mod bench;
pub mod bench_analyze;
pub mod bench_api;
#[cfg(all(feature = "kafka", feature = "postgres"))]
pub mod bench_distributed;
pub mod bench_enrich;
pub mod bench_markets;
pub mod bench_quality;
pub mod cli;
pub mod config;
pub mod runtime;
pub mod stages;
pub mod telemetry;
pub mod tracker;
