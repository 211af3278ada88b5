//! Logs and metrics set-up. The metrics recorder is process-global by the nature of
//! the `metrics` facade; its handle is kept here for `/metrics` to render.

use std::io::IsTerminal;
use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

static PROMETHEUS: OnceLock<PrometheusHandle> = OnceLock::new();

/// Buckets for counts per commit (`*_rows`, `*_commits`).
const ROWS_BUCKETS: &[f64] = &[
    1.0, 2.0, 5.0, 10.0, 50.0, 100.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0,
];

/// Histogram buckets for every `*_seconds` metric: 100 µs to 60 s.
const SECONDS_BUCKETS: &[f64] = &[
    0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    30.0, 60.0,
];

/// How often histogram samples are folded into their buckets. The recorder buffers raw
/// samples until upkeep runs; without this, an unscraped process grows by a few bytes
/// per recorded sample, forever.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Installs the Prometheus recorder once per process, with its upkeep thread.
pub fn init_metrics() {
    PROMETHEUS.get_or_init(|| {
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
            .expect("static buckets are valid")
            .set_buckets_for_metric(Matcher::Suffix("_rows".into()), ROWS_BUCKETS)
            .expect("static buckets are valid")
            .set_buckets_for_metric(Matcher::Suffix("_commits".into()), ROWS_BUCKETS)
            .expect("static buckets are valid")
            .install_recorder()
            .expect("the metrics recorder is installed once");
        let upkeep = handle.clone();
        std::thread::Builder::new()
            .name("sigflow-metrics".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_EVERY);
                    upkeep.run_upkeep();
                }
            })
            .expect("spawning the metrics upkeep thread");
        handle
    });
}

/// The Prometheus text exposition of every metric so far.
pub fn render_metrics() -> String {
    match PROMETHEUS.get() {
        Some(h) => {
            h.run_upkeep();
            h.render()
        }
        None => String::new(),
    }
}

/// Logs go to stderr: JSON lines (for machines) or text (for people on a terminal).
/// `RUST_LOG` wins over the configured level.
pub fn init_logging(format: &str, level: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match format {
        "json" => true,
        "text" => false,
        _ => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}
