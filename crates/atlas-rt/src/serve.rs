//! Serving a tonic router with a graceful drain.
//!
//! When `shutdown` resolves the server stops accepting connections, lets
//! in-flight calls finish, and gives up on them after the grace period.

use std::future::Future;
use std::time::Duration;

use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic::transport::server::Router;

use crate::Error;

/// Largest gRPC message the services accept and send (64 MiB): camera images
/// travel inside requests, and the egodriver contract asks for this limit.
pub const MAX_MESSAGE_BYTES: usize = 64 << 20;

/// The drain grace period of a service's `grace_period_s` setting; the
/// error (for the service to name its setting) refuses negative and
/// non-finite values.
pub fn grace_period(seconds: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(seconds)
        .map_err(|_| format!("must be a non-negative number of seconds, got {seconds}"))
}

/// A tonic server builder with one span per request that continues the
/// caller's W3C trace context.
pub fn server_builder() -> Server<tower::layer::util::Identity> {
    Server::builder().trace_fn(crate::trace_context::server_span)
}

/// Serves `router` on `listener` until `shutdown` resolves, then drains
/// in-flight calls for at most `grace`. `on_drain` runs when draining starts
/// (services use it to report NOT_SERVING).
pub async fn serve<F, D, DF>(
    router: Router,
    listener: TcpListener,
    shutdown: F,
    grace: Duration,
    on_drain: D,
) -> Result<(), Error>
where
    F: Future<Output = ()> + Send + 'static,
    D: FnOnce() -> DF + Send + 'static,
    DF: Future<Output = ()> + Send + 'static,
{
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        on_drain().await;
        let _ = tx.send(());
    };
    // Small request/response pairs on a long-lived HTTP/2 connection: without
    // TCP_NODELAY, Nagle's algorithm and delayed ACKs add tens of ms per call.
    let incoming = tokio_stream::StreamExt::map(
        tokio_stream::wrappers::TcpListenerStream::new(listener),
        |conn| {
            conn.inspect(|s| {
                if let Err(e) = s.set_nodelay(true) {
                    tracing::debug!(error = %e, "cannot set TCP_NODELAY");
                }
            })
        },
    );
    let server = router.serve_with_incoming_shutdown(incoming, signal);
    tokio::pin!(server);
    tracing::info!(%addr, "serving");
    tokio::select! {
        biased;
        res = &mut server => res?,
        _ = rx => {
            match tokio::time::timeout(grace, &mut server).await {
                Ok(res) => res?,
                Err(_) => tracing::warn!(
                    grace_s = grace.as_secs_f64(),
                    "grace period elapsed; abandoning in-flight calls"
                ),
            }
        }
    }
    tracing::info!(%addr, "stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grace_periods_are_non_negative_finite_seconds() {
        assert_eq!(grace_period(1.5), Ok(Duration::from_millis(1500)));
        assert_eq!(grace_period(0.0), Ok(Duration::ZERO));
        for bad in [-1.0, f64::NAN, f64::INFINITY] {
            let e = grace_period(bad).unwrap_err();
            assert!(
                e.starts_with("must be a non-negative number of seconds"),
                "{e}"
            );
        }
    }
}
