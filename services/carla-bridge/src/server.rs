//! `serve`: the seam the binary, the `atlas` CLI and the tests start the
//! bridge through.

use std::future::Future;
use std::sync::Arc;

use atlas_proto::sim::simulator_server::SimulatorServer;
use atlas_rt::gate::HealthGate;
use atlas_rt::health::Health;
use atlas_rt::serve::MAX_MESSAGE_BYTES;
use tokio::net::TcpListener;

use crate::backend::Backend;
use crate::backend::builtin::Builtin;
use crate::config::Config;
use crate::error::BridgeError;
use crate::service::{Limits, SimulatorService};

/// The gRPC service name health reports on besides `""`.
pub const SERVICE_NAME: &str = "atlas.sim.v1.Simulator";

/// Serves `atlas.sim.v1.Simulator` and `grpc.health.v1` on `listener` until
/// `shutdown` resolves, then drains in-flight calls for the grace period.
///
/// The configuration is checked first, then the maps directory is listed
/// (a missing directory or one without maps is an error). Health reports
/// NOT_SERVING until the warm-up maps are parsed, then SERVING, and
/// NOT_SERVING again while draining.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), BridgeError> {
    config.validate()?;
    let dir = config.maps_dir.clone();
    let backend: Arc<dyn Backend> =
        Arc::new(tokio::task::spawn_blocking(move || Builtin::open(&dir)).await??);
    run(listener, config, backend, shutdown).await
}

/// Serves `backend` as [`serve`] describes, `config` being checked.
async fn run(
    listener: TcpListener,
    config: Config,
    backend: Arc<dyn Backend>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), BridgeError> {
    let (health, health_service) = Health::new(&[SERVICE_NAME]).await;
    let gate = HealthGate::new(health);
    let service = SimulatorService::new(
        backend.clone(),
        Limits {
            max_worlds: config.max_worlds,
            max_actors: config.max_actors,
            max_steps_per_call: config.max_steps_per_call,
        },
    );
    let simulator = SimulatorServer::new(service)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);

    let wanted = config.warm_maps.clone();
    let warm_up = gate.warm_up(async move {
        let loaded = tokio::task::spawn_blocking(move || backend.warm_up(&wanted)).await??;
        tracing::info!(maps = ?loaded, "maps warmed up");
        Ok::<_, BridgeError>(())
    });
    let router = atlas_rt::serve::server_builder()
        .add_service(health_service)
        .add_service(simulator);
    let result = atlas_rt::serve::serve(
        router,
        listener,
        shutdown,
        config.grace_period(),
        move || async move { gate.drain().await },
    )
    .await;
    warm_up.abort();
    Ok(result?)
}
