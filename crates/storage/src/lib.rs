//! sigflow-storage: the three backend traits and their backends, chosen by URL.
//!
//! * [`store`] — `Store` (the atomic commit path; SQLite or PostgreSQL) and, through
//!   `store::sql` and `store::repos`, SQL written once per table for both dialects.
//! * [`log`] — `EventLog` (topics, partitions, consumers): embedded (inside the SQLite
//!   store) or Kafka.
//! * [`lake`] — `Lake` (write-once raw objects): files or S3.
//! * [`commit`] — the one commit path a runner uses (log appends, then the store).
//! * [`error_class`] — how the drivers' errors classify.
//!
//! **Invariant:** the only crate that names a database driver or a broker client.

pub mod commit;
pub mod error_class;
pub mod lake;
pub mod log;
pub mod store;

use sigflow_core::{error, hash, model};
use sigflow_logic::enrich;
