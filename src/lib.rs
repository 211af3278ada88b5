//! sigflow: a real-time signal pipeline for markets.
//!
//! # Layout
//!
//! Data flows `sources → lake + raw → normalize → content → enrich → store + enriched`.
//!
//! * [`model`] — the domain types (`Content`, `RawEvent`); no I/O.
//! * [`normalize`] — raw payload bytes → `Content`, one file per format; pure.
//! * [`enrich`] — enrichers, one file each, chained by config; pure.
//! * [`stages`] — the `Stage` trait and the stages (normalize, enrich).
//! * [`sources`] — the `Source` trait and source kinds (demo, files).
//! * [`log`], [`store`], [`lake`] — the three backend traits and their backends.
//! * [`runtime`] — the stage runner, the source runner, the commit path, the pipeline.
//! * [`api`] — the HTTP API; the only module that knows HTTP.
//! * [`config`] — defaults, file, environment, validation.
//! * [`cli`] — the `sigflow` command; the only module that uses `anyhow`.
//!
//! See ARCHITECTURE.md for the invariants.

pub mod api;
pub mod bench;
#[cfg(all(feature = "kafka", feature = "postgres"))]
pub mod bench_distributed;
pub mod bench_enrich;
pub mod cli;
pub mod config;
pub mod enrich;
pub mod error;
pub mod lake;
pub mod log;
pub mod model;
pub mod normalize;
pub mod runtime;
pub mod sources;
pub mod stages;
pub mod store;
pub mod telemetry;
