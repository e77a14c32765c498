//! Compiles the protos under `<workspace>/proto` with protox (pure Rust, no
//! `protoc`) and generates prost messages and tonic clients and servers.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let files = [
        "alpasim_grpc/v0/common.proto",
        "alpasim_grpc/v0/sensorsim.proto",
        "alpasim_grpc/v0/egodriver.proto",
        "atlas/sim/v1/sim.proto",
        "atlas/scenario/v1/scenario.proto",
    ];
    let paths: Vec<PathBuf> = files.iter().map(|f| root.join(f)).collect();
    for p in &paths {
        println!("cargo:rerun-if-changed={}", p.display());
    }
    let fds = protox::compile(&paths, [&root])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
