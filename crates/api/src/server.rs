//! The accept loop: the API's clients get a bounded share of the process.
//!
//! * At most `max_connections` connections are open. The last `reserved` of them
//!   serve only health checks, metrics and admin keys ([`crate::gate::Pressure`]), so
//!   an operator gets in while clients flood; past the cap a new connection is
//!   accepted and closed at once (its file descriptor is back before the next accept,
//!   and the pipeline's own files and sockets are never starved).
//! * A request head must arrive within `header_timeout`; the same clock closes a
//!   keep-alive connection that sends nothing for that long (hyper starts it whenever
//!   the connection waits for a head), so trickled headers and idle sockets go away.
//! * The request timeout (a tower layer) bounds the rest.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tower::ServiceExt;

use crate::gate::{Peer, Pressure};

#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    pub max_connections: usize,
    pub reserved: usize,
    pub header_timeout: Duration,
}

/// Binds `listen` and serves `app` until `stop` resolves; in-flight requests finish
/// (for up to 10 s). `on_listen` is told the bound address (the port may have been 0).
pub async fn serve(
    listen: &str,
    app: Router,
    limits: ConnLimits,
    on_listen: Option<fn(SocketAddr)>,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    raise_fd_limit();
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("API socket: {e}"))?;
    tracing::info!(%addr, max_connections = limits.max_connections, "API listening");
    if let Some(f) = on_listen {
        f(addr);
    }
    let open = Arc::new(AtomicUsize::new(0));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(64 * 1024)
        .keep_alive(true);
    tokio::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors or a reset before accept: wait, then go on.
                    tracing::warn!(error = %e, "API accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let n = open.load(Ordering::Relaxed);
        if n >= limits.max_connections {
            metrics::counter!("sigflow_api_connections_refused_total").increment(1);
            drop(stream);
            continue;
        }
        let pressure = n >= limits.max_connections - limits.reserved;
        let _ = stream.set_nodelay(true);
        open.fetch_add(1, Ordering::Relaxed);
        metrics::gauge!("sigflow_api_connections").set((n + 1) as f64);
        let app = app.clone();
        let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(Peer(peer));
            if pressure {
                req.extensions_mut().insert(Pressure);
            }
            app.clone().oneshot(req)
        });
        let conn = http.serve_connection(TokioIo::new(stream), svc);
        let conn = graceful.watch(conn);
        let open = open.clone();
        tokio::spawn(async move {
            // Errors here are the client's (reset, timeout); nothing to act on.
            let _ = conn.await;
            let left = open.fetch_sub(1, Ordering::Relaxed) - 1;
            metrics::gauge!("sigflow_api_connections").set(left as f64);
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(Duration::from_secs(10)) => {
            tracing::warn!("API connections still open after 10 s; closing them");
        }
    }
    Ok(())
}

/// Raises this process's open-file limit to its hard limit: the soft default (often
/// 1,024) is less than the API's connection cap plus the pipeline's own files.
fn raise_fd_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => tracing::debug!(limit = n, "open-file limit"),
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
    }
}
