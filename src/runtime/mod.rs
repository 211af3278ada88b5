//! Running the pipeline: the stage runner, the source runner, the one commit path,
//! backoff, the health board, and [`Pipeline`], which builds everything from a
//! [`Config`](crate::config::Config) and runs it until shutdown or idle.

mod backoff;
mod commit;
mod committer;
mod health;
mod pipeline;
mod source_runner;
mod source_supervisor;
mod stage_runner;

pub use backoff::{Backoff, sleep_or_shutdown};
pub use commit::commit;
pub use health::{ComponentHealth, Health, Status};
pub use pipeline::{BuildError, Pipeline, RunOptions, RunSummary, idle};
pub use source_runner::{BreakerSettings, SourceRunner, ext_of, raw_append};
pub use source_supervisor::{Progress, SourceSupervisor};
pub use stage_runner::{RunnerConfig, StageRunner};
