//! Running the pipeline: the service registry, the stage runner, the source runner,
//! backoff, and [`Pipeline`], which builds everything from a
//! [`Config`](crate::config::Config) and runs it until shutdown or idle.

mod backoff;
mod committer;
mod pipeline;
pub mod services;
mod source_runner;
mod source_supervisor;
mod stage_runner;

pub use backoff::{Backoff, sleep_or_shutdown};
pub use pipeline::{BuildError, Pipeline, RunError, RunOptions, RunSummary, idle};
pub use sigflow_connectors::sources::raw::{ext_of, raw_append};
pub use sigflow_core::health::{ComponentHealth, Health, Status};
pub use sigflow_storage::commit::commit;
pub use source_runner::{BreakerSettings, SourceRunner};
pub use source_supervisor::{Progress, SourceSupervisor};
pub use stage_runner::{RunnerConfig, StageRunner};
