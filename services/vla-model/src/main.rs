//! `atlas-vla`: serves the configured driving policy over the egodriver
//! contract until SIGTERM or SIGINT.

use anyhow::Context;
use clap::Parser;

/// Driving policy server (AlpaSim egodriver contract).
#[derive(Parser, Debug)]
#[command(name = "atlas-vla", version, about)]
struct Cli {
    #[command(flatten)]
    config: atlas_vla::Config,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let _telemetry = atlas_rt::telemetry::init("atlas-vla")?;
    let listener = tokio::net::TcpListener::bind(cli.config.listen)
        .await
        .with_context(|| format!("binding {}", cli.config.listen))?;
    tracing::info!(
        addr = %listener.local_addr()?,
        policy = ?cli.config.policy,
        "atlas-vla starting"
    );
    atlas_vla::serve(listener, cli.config, atlas_rt::shutdown::signal()).await?;
    Ok(())
}
