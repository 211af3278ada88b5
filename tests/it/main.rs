//! The one integration-test binary: drives the real `sigflow` binary (and, for the
//! conformance suites, the backend traits directly).

#![recursion_limit = "256"]

mod analyze;
mod analyze_llm;
mod cli;
mod conformance;
mod crash;
mod demo;
#[cfg(feature = "s3")]
mod distributed;
#[cfg(all(feature = "kafka", feature = "postgres", feature = "s3"))]
mod distributed_kafka;
mod enrich;
mod enrich_state;
mod fixtures;
mod forward;
mod ledger;
mod markets;
mod markets_cli;
#[cfg(feature = "postgres")]
mod migrations;
mod mock_http;
mod openapi;
mod outage;
mod outbound;
mod replay;
mod runner;
mod security;
#[cfg(any(feature = "s3", feature = "postgres", feature = "kafka"))]
mod servers;
mod sources;
mod sources_live;
mod sources_more;
mod store_markets;
mod store_sql;
mod tail;
mod tidy;
mod util;
mod webhook;
