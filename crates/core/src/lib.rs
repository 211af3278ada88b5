//! sigflow-core: what every other crate shares, and nothing that does I/O.
//!
//! * [`apikey`] — the API key format (prefix, checksum), scopes, the stored hash.
//! * [`model`] — the domain types (`Content`, `RawEvent`), serde at the edge.
//! * [`error`] — the error classes (`ErrorClass`: transient, poison, fatal) and
//!   `StageError`; each backend crate says how its own errors classify.
//! * [`health`] — the board behind `/readyz` (components, status, last error, lag).
//! * [`hash`] — content hashes (lake keys, deterministic ids).
//! * [`redact`] — secrets out of URLs in any text shown to a person.
//!
//! **Invariant:** no runtime, database, HTTP or file-system crate is a dependency of
//! this crate (see its Cargo.toml): the compiler enforces that it stays pure.

pub mod apikey;
pub mod clock;
pub mod error;
pub mod hash;
pub mod health;
pub mod model;
pub mod redact;
