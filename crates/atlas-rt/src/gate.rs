//! The health gate of a server that warms up before it serves: NOT_SERVING
//! until the warm-up succeeds, SERVING then, NOT_SERVING again from the
//! moment the drain begins.
//!
//! Warm-up and drain run concurrently (the warm-up is a task, the drain
//! starts on a signal), and both flip the same status. The gate orders them
//! under one lock so a warm-up that finishes during the drain can never
//! report SERVING again: a load balancer would otherwise send new calls to a
//! server that is going away.

use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;

use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use crate::health::Health;

/// A [`Health`] handle whose SERVING is refused once a drain has begun.
#[derive(Clone)]
pub struct HealthGate {
    health: Health,
    draining: Arc<Mutex<bool>>,
}

impl HealthGate {
    /// A gate over `health` (which reports NOT_SERVING until told otherwise).
    pub fn new(health: Health) -> Self {
        Self {
            health,
            draining: Arc::new(Mutex::new(false)),
        }
    }

    /// Reports SERVING unless a drain has begun; returns whether it did.
    pub async fn serving(&self) -> bool {
        let draining = self.draining.lock().await;
        if *draining {
            return false;
        }
        self.health.set(true).await;
        true
    }

    /// Reports NOT_SERVING for good: no later [`serving`](Self::serving)
    /// changes it.
    pub async fn drain(&self) {
        let mut draining = self.draining.lock().await;
        *draining = true;
        self.health.set(false).await;
        tracing::info!("draining; NOT_SERVING");
    }

    /// Runs `warm_up` as a task and reports SERVING when it succeeds (unless
    /// the drain began meanwhile); a failed warm-up is logged and leaves the
    /// server NOT_SERVING. Abort the handle when the server stops.
    pub fn warm_up<F, E>(&self, warm_up: F) -> JoinHandle<()>
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
        E: Display + Send + 'static,
    {
        let gate = self.clone();
        tokio::spawn(async move {
            match warm_up.await {
                Ok(()) => {
                    if gate.serving().await {
                        tracing::info!("SERVING");
                    }
                }
                Err(e) => tracing::error!(error = %e, "warm-up failed; staying NOT_SERVING"),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_health::ServingStatus;
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_server::Health as _;

    /// The status the health service answers for `""` and for `svc`.
    async fn status(health: &Health, svc: &str) -> [i32; 2] {
        let service = health.service();
        let mut out = [0; 2];
        for (i, name) in ["", svc].into_iter().enumerate() {
            let req = tonic::Request::new(HealthCheckRequest {
                service: name.into(),
            });
            out[i] = service.check(req).await.unwrap().into_inner().status;
        }
        out
    }

    const SERVING: [i32; 2] = [ServingStatus::Serving as i32; 2];
    const NOT_SERVING: [i32; 2] = [ServingStatus::NotServing as i32; 2];

    #[tokio::test]
    async fn a_successful_warm_up_reports_serving() {
        let (health, _svc) = Health::new(&["a.B"]).await;
        let gate = HealthGate::new(health.clone());
        assert_eq!(status(&health, "a.B").await, NOT_SERVING);
        gate.warm_up(async { Ok::<_, String>(()) }).await.unwrap();
        assert_eq!(status(&health, "a.B").await, SERVING);
    }

    #[tokio::test]
    async fn the_drain_flips_to_not_serving() {
        let (health, _svc) = Health::new(&["a.B"]).await;
        let gate = HealthGate::new(health.clone());
        assert!(gate.serving().await);
        assert_eq!(status(&health, "a.B").await, SERVING);
        gate.drain().await;
        assert_eq!(status(&health, "a.B").await, NOT_SERVING);
    }

    #[tokio::test]
    async fn a_warm_up_finishing_after_the_drain_never_reports_serving() {
        let (health, _svc) = Health::new(&["a.B"]).await;
        let gate = HealthGate::new(health.clone());
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let warm = gate.warm_up(async move {
            let _ = released.await;
            Ok::<_, String>(())
        });
        gate.drain().await;
        release.send(()).unwrap();
        warm.await.unwrap();
        assert_eq!(status(&health, "a.B").await, NOT_SERVING);
        assert!(!gate.serving().await);
        assert_eq!(status(&health, "a.B").await, NOT_SERVING);
    }

    #[tokio::test]
    async fn a_failed_warm_up_stays_not_serving() {
        let (health, _svc) = Health::new(&["a.B"]).await;
        let gate = HealthGate::new(health.clone());
        gate.warm_up(async { Err::<(), _>("no weights") })
            .await
            .unwrap();
        assert_eq!(status(&health, "a.B").await, NOT_SERVING);
    }
}
