//! `serve`: the seam the binary, the `atlas` CLI and the tests start the
//! bridge through.

use std::future::Future;
use std::sync::Arc;

use atlas_proto::sim::simulator_server::SimulatorServer;
use atlas_rt::health::Health;
use atlas_rt::serve::MAX_MESSAGE_BYTES;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::error::BridgeError;
use crate::maps::MapStore;
use crate::service::{Limits, SimulatorService};

/// The gRPC service name health reports on besides `""`.
pub const SERVICE_NAME: &str = "atlas.sim.v1.Simulator";

/// Serves `atlas.sim.v1.Simulator` and `grpc.health.v1` on `listener` until
/// `shutdown` resolves, then drains in-flight calls for the grace period.
///
/// The maps directory is listed before serving (a missing directory or one
/// without maps is an error). Health reports NOT_SERVING until the warm-up
/// maps are parsed, then SERVING, and NOT_SERVING again while draining.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), BridgeError> {
    config.validate()?;
    let dir = config.maps_dir.clone();
    let maps = Arc::new(tokio::task::spawn_blocking(move || MapStore::scan(&dir)).await??);
    if maps.names().is_empty() {
        return Err(BridgeError::MapsDir {
            path: config.maps_dir.display().to_string(),
            message: "holds no .xodr maps".into(),
        });
    }
    tracing::info!(dir = %maps.dir().display(), maps = ?maps.names(), "maps directory listed");

    let (health, health_service) = Health::new(&[SERVICE_NAME]).await;
    let service = SimulatorService::new(
        maps.clone(),
        Limits {
            max_worlds: config.max_worlds,
            max_actors: config.max_actors,
            max_steps_per_call: config.max_steps_per_call,
        },
    );
    let simulator = SimulatorServer::new(service)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);

    // Warm-up and drain both flip health; the lock orders them so a warm-up
    // finishing during the drain cannot report SERVING again.
    let draining = Arc::new(tokio::sync::Mutex::new(false));
    let warm_up = {
        let (health, draining, maps) = (health.clone(), draining.clone(), maps.clone());
        let wanted = config.warm_maps.clone();
        tokio::spawn(async move {
            match warm_up(&maps, &wanted).await {
                Ok(loaded) => {
                    let draining = draining.lock().await;
                    if !*draining {
                        health.set(true).await;
                        tracing::info!(maps = ?loaded, "SERVING");
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
        .add_service(simulator);
    let result =
        atlas_rt::serve::serve(router, listener, shutdown, config.grace_period(), on_drain).await;
    warm_up.abort();
    Ok(result?)
}

/// Parses the wanted maps that exist (or the directory's first map when
/// none does) and rasterises their ground; succeeds when at least one
/// parsed.
async fn warm_up(maps: &MapStore, wanted: &[String]) -> Result<Vec<String>, BridgeError> {
    let mut names: Vec<String> = wanted
        .iter()
        .filter(|n| maps.contains(n))
        .cloned()
        .collect();
    for n in wanted.iter().filter(|n| !maps.contains(n)) {
        tracing::warn!(map = %n, "warm-up map not in the maps directory");
    }
    if names.is_empty() {
        names.extend(maps.names().into_iter().take(1));
    }
    let mut loaded = Vec::new();
    let mut last_err = None;
    for n in names {
        match maps.get(&n).await {
            Ok(map) => {
                // Rasterise the ground now so first camera frames are fast.
                tokio::task::spawn_blocking(move || map.raster().build_all(&map)).await?;
                loaded.push(n);
            }
            Err(e) => {
                tracing::error!(map = %n, error = %e, "warm-up map failed to load");
                last_err = Some(e);
            }
        }
    }
    match (loaded.is_empty(), last_err) {
        (true, Some(e)) => Err(e),
        (true, None) => Err(BridgeError::Internal("no map to warm up".into())),
        _ => Ok(loaded),
    }
}
