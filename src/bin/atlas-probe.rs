//! `atlas-probe`: a drop-in for `grpc_health_probe` (same flags, same exit codes).

fn main() {
    let args = match atlas::probe::parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(atlas::probe::EXIT_BAD_ARGUMENTS);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            std::process::exit(atlas::probe::EXIT_CONNECTION_FAILURE);
        }
    };
    let (code, message) = runtime.block_on(atlas::probe::probe(&args));
    if code == 0 {
        println!("{message}");
    } else {
        eprintln!("{message}");
    }
    std::process::exit(code);
}
