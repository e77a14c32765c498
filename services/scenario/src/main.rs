//! `atlas-scenario`: serves the scenario runtime on its own.

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "atlas-scenario",
    version,
    about = "ATLAS scenario runtime (atlas.scenario.v1)"
)]
struct Cli {
    #[command(flatten)]
    config: atlas_scenario::Config,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let _telemetry = atlas_rt::telemetry::init("atlas-scenario")?;
    let listener = tokio::net::TcpListener::bind(cli.config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", cli.config.listen))?;
    atlas_scenario::serve(listener, cli.config, atlas_rt::shutdown::signal()).await?;
    Ok(())
}
