//! sigflow-logic: the pure steps of the pipeline.
//!
//! * [`normalize`] — raw payload bytes → `Content`, one file per format.
//! * [`analyze`] — rules (CEL), the LLM analyst's request and answer, the ledger's
//!   hashes and verification.
//! * [`enrich`] — enrichers, one file each, chained by config; `EnrichState` is the
//!   one door to stored state (a trait, implemented by the store backends).
//!
//! **Invariant:** the same inputs give the same outputs. No runtime, database or HTTP
//! crate is a dependency (see Cargo.toml); nothing here reads a clock it was not
//! handed, except two enrichers that read their configured data files once, at build.

pub mod analyze;
pub mod enrich;
pub mod markets;
pub mod normalize;

// The core modules under their old paths, so `crate::model::…` reads as before.
use sigflow_core::{error, hash, model};
