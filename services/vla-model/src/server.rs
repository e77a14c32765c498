//! Assembles and runs the gRPC server: the egodriver service with 64 MiB
//! message limits, `grpc.health.v1`, the start-up warm-up that turns health
//! SERVING, and the drain on shutdown that turns it NOT_SERVING again.

use std::future::Future;
use std::sync::Arc;

use atlas_proto::egodriver::egodriver_service_server::{EgodriverServiceServer, SERVICE_NAME};
use atlas_rt::gate::HealthGate;
use atlas_rt::health::Health;
use atlas_rt::serve::MAX_MESSAGE_BYTES;
use tokio::net::TcpListener;

use crate::config::Checked;
use crate::policy::Policy;
use crate::service::Driver;
use crate::{Config, Error};

/// Serves the policy `config` names on `listener` until `shutdown`
/// resolves, then drains in-flight calls for the configured grace period.
/// The configuration is checked first (every setting, named when wrong).
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let checked = config.checked()?;
    // Building the model policy reads weights and runs the preflight
    // inference: blocking work, so off the async runtime.
    let policy = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || crate::preflight::build_policy(&config)).await??
    };
    run(listener, config, checked, policy, shutdown).await
}

/// Like [`serve`], with a policy built by the caller (any [`Policy`]
/// implementation; `config.policy` is then ignored).
pub async fn serve_with_policy(
    listener: TcpListener,
    config: Config,
    policy: Arc<dyn Policy>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let checked = config.checked()?;
    run(listener, config, checked, policy, shutdown).await
}

async fn run(
    listener: TcpListener,
    config: Config,
    checked: Checked,
    policy: Arc<dyn Policy>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let (health, health_service) = Health::new(&[SERVICE_NAME]).await;
    let gate = HealthGate::new(health);
    let driver = Driver::new(policy.clone(), config.max_sessions, checked.batch)?;
    let egodriver = EgodriverServiceServer::new(driver)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);

    let warm_up = gate.warm_up(crate::warmup::warm_up(policy));
    let router = atlas_rt::serve::server_builder()
        .add_service(health_service)
        .add_service(egodriver);
    let result = atlas_rt::serve::serve(
        router,
        listener,
        shutdown,
        checked.grace,
        move || async move { gate.drain().await },
    )
    .await;
    warm_up.abort();
    Ok(result?)
}
