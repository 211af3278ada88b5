//! Outbound connectors: where sigflow sends what it found. `webhook.rs` (an HTTP POST
//! per item, with an `Idempotency-Key`). Next: Telegram, Slack, Discord for alerts.
//! Every delivery's answer is classified by `error::classify_delivery`.

pub mod webhook;

pub use webhook::Webhook;
