//! The one integration-test binary: drives the real `sigflow` binary (and, for the
//! conformance suites, the backend traits directly).

mod cli;
mod conformance;
mod crash;
mod demo;
mod enrich;
mod enrich_state;
mod outage;
mod replay;
mod runner;
mod util;
