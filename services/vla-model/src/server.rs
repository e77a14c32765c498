//! Assembles and runs the gRPC server: the egodriver service with 64 MiB
//! message limits, `grpc.health.v1`, the start-up warm-up that turns health
//! SERVING, and the drain on shutdown that turns it NOT_SERVING again.

use std::future::Future;
use std::sync::Arc;

use atlas_proto::egodriver::egodriver_service_server::{EgodriverServiceServer, SERVICE_NAME};
use atlas_rt::health::Health;
use atlas_rt::serve::MAX_MESSAGE_BYTES;
use tokio::net::TcpListener;

use crate::policy::Policy;
use crate::service::Driver;
use crate::{Config, Error};

/// Serves the policy `config` names on `listener` until `shutdown`
/// resolves, then drains in-flight calls for the configured grace period.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    config.validate()?;
    // Building the model policy reads weights and runs the preflight
    // inference: blocking work, so off the async runtime.
    let policy = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || crate::preflight::build_policy(&config)).await??
    };
    serve_with_policy(listener, config, policy, shutdown).await
}

/// Like [`serve`], with a policy built by the caller (any [`Policy`]
/// implementation; `config.policy` is then ignored).
pub async fn serve_with_policy(
    listener: TcpListener,
    config: Config,
    policy: Arc<dyn Policy>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    config.validate()?;
    let grace = config.grace_period()?;
    let (health, health_service) = Health::new(&[SERVICE_NAME]).await;
    let driver = Driver::new(
        policy.clone(),
        config.max_sessions,
        config.batch_settings()?,
    )?;
    let egodriver = EgodriverServiceServer::new(driver)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);

    // Warm-up and drain both flip health; the lock orders them so a warm-up
    // finishing during the drain cannot report SERVING again.
    let draining = Arc::new(tokio::sync::Mutex::new(false));
    let warm_up = {
        let (health, draining) = (health.clone(), draining.clone());
        tokio::spawn(async move {
            match crate::warmup::warm_up(policy).await {
                Ok(()) => {
                    let draining = draining.lock().await;
                    if !*draining {
                        health.set(true).await;
                        tracing::info!("SERVING");
                    }
                }
                Err(e) => tracing::error!(error = %e, "warm-up failed; staying NOT_SERVING"),
            }
        })
    };
    let on_drain = move || async move {
        let mut draining = draining.lock().await;
        *draining = true;
        health.set(false).await;
        tracing::info!("draining; NOT_SERVING");
    };

    let router = atlas_rt::serve::server_builder()
        .add_service(health_service)
        .add_service(egodriver);
    let result = atlas_rt::serve::serve(router, listener, shutdown, grace, on_drain).await;
    warm_up.abort();
    Ok(result?)
}
