//! sigflow-connectors: the outside world, both ways.
//!
//! * [`sources`] — the `Source` trait and every source kind (one file each), the polite
//!   HTTP client, the catalog (config overlaid with run-time definitions).
//! * [`notify`] — outbound deliveries (webhook).
//! * [`prices`] — price providers (one file each), their registry and the fallback chain.
//! * [`net`] — the outbound guard every client is built with (no private, loopback
//!   or metadata addresses unless allowed; checked at connect time and per redirect).
//!
//! **Invariant:** with the CLI, the only HTTP clients, and every one of them is built
//! by [`net::client_builder`].

pub mod llm;
pub mod net;
pub mod notify;
pub mod prices;
pub mod sources;

use sigflow_core::{error, model};
use sigflow_logic::normalize;
use sigflow_storage::{lake, log, store};
