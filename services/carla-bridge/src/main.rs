//! `atlas-bridge`: serves simulated worlds over `atlas.sim.v1` until SIGTERM
//! or SIGINT.

use anyhow::Context;
use clap::Parser;

/// Simulator bridge (atlas.sim.v1) over the built-in simulator.
#[derive(Parser, Debug)]
#[command(name = "atlas-bridge", version, about)]
struct Cli {
    #[command(flatten)]
    config: atlas_bridge::Config,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let _telemetry = atlas_rt::telemetry::init("atlas-bridge")?;
    let listener = tokio::net::TcpListener::bind(cli.config.listen)
        .await
        .with_context(|| format!("binding {}", cli.config.listen))?;
    tracing::info!(
        addr = %listener.local_addr()?,
        maps_dir = %cli.config.maps_dir.display(),
        "atlas-bridge starting"
    );
    atlas_bridge::serve(listener, cli.config, atlas_rt::shutdown::signal()).await?;
    Ok(())
}
