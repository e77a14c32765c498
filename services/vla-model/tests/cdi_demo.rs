//! carla-driver-interface 2.3.1 (PyPI, written by others) runs its `demo`
//! closed loop against this server and must finish and drive well.
//!
//! The package is installed once into a virtual environment under the cargo
//! target directory (`<target>/cdi-venv`, or `ATLAS_CDI_VENV`), using
//! `python3` (or `ATLAS_PYTHON`). A failed installation fails the test with
//! the installer's output: it is never skipped.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::TestServer;

const PACKAGE: &str = "carla-driver-interface";
const VERSION: &str = "2.3.1";
const STEPS: u32 = 100;

fn venv_dir() -> PathBuf {
    match std::env::var_os("ATLAS_CDI_VENV") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .map_or_else(
                || PathBuf::from(env!("CARGO_TARGET_TMPDIR")),
                Path::to_path_buf,
            )
            .join("cdi-venv"),
    }
}

fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {cmd:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{cmd:?}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn installed_version(python: &Path) -> Option<String> {
    let out = Command::new(python)
        .args([
            "-c",
            &format!("import importlib.metadata as m; print(m.version({PACKAGE:?}))"),
        ])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The `carla-driver-interface` executable, installing it first if needed.
fn ensure_installed() -> PathBuf {
    let venv = venv_dir();
    let python = venv.join("bin").join("python");
    let exe = venv.join("bin").join(PACKAGE);
    if exe.is_file() && installed_version(&python).as_deref() == Some(VERSION) {
        return exe;
    }
    if !python.is_file() {
        let base = std::env::var("ATLAS_PYTHON").unwrap_or_else(|_| "python3".into());
        run(
            Command::new(&base).arg("-m").arg("venv").arg(&venv),
            &format!(
                "creating a Python virtual environment at {}",
                venv.display()
            ),
        );
    }
    run(
        Command::new(&python).args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            &format!("{PACKAGE}=={VERSION}"),
        ]),
        &format!(
            "pip install {PACKAGE}=={VERSION} into {} (needs PyPI access)",
            venv.display()
        ),
    );
    assert!(
        exe.is_file(),
        "{PACKAGE} installed but {} is missing",
        exe.display()
    );
    exe
}

/// The value after `label` in the demo's report, e.g. `12.30` from
/// `distance travelled : 12.30 m`.
fn field(report: &str, label: &str) -> f64 {
    let line = report
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no {label:?} line in the demo output:\n{report}"));
    let value = line
        .split_once(':')
        .map(|(_, v)| v.trim())
        .and_then(|v| v.split_whitespace().next())
        .unwrap_or_else(|| panic!("malformed line {line:?}"));
    value
        .parse()
        .unwrap_or_else(|e| panic!("{label}: {value:?} is not a number: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn carla_driver_interface_demo_drives_against_our_server() {
    let exe = tokio::task::spawn_blocking(ensure_installed).await.unwrap();
    let server = TestServer::start().await;

    let demo = tokio::process::Command::new(&exe)
        .args([
            "demo",
            "--driver",
            &server.addr.to_string(),
            "--steps",
            &STEPS.to_string(),
        ])
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(600), demo)
        .await
        .expect("the demo did not finish within 10 minutes")
        .expect("the demo could not be started");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "demo exited with {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    println!("{stdout}");

    assert_eq!(field(&stdout, "steps"), f64::from(STEPS));
    assert!(
        stdout.contains("terminated by policy: False"),
        "unexpected termination:\n{stdout}"
    );
    let distance = field(&stdout, "distance travelled");
    let final_offset = field(&stdout, "final lateral offset");
    let max_offset = field(&stdout, "max lateral offset");
    let final_speed = field(&stdout, "final speed");
    // Ten seconds from rest at 2 m/s² towards 8 m/s.
    assert!(distance > 40.0, "only {distance} m travelled:\n{stdout}");
    assert!(distance < 80.0 + 1.0, "faster than 8 m/s: {distance} m");
    assert!(final_offset.abs() < 0.5, "final offset {final_offset} m");
    assert!(max_offset < 0.5, "max offset {max_offset} m");
    assert!(
        (final_speed - 8.0).abs() < 0.5,
        "final speed {final_speed} m/s"
    );
    server.stop().await;
}

#[test]
fn report_fields_parse() {
    let report = "steps              : 100\nterminated by policy: False\ndistance travelled : 63.60 m\nfinal lateral offset: +0.00 m\nmax lateral offset : 0.00 m\nfinal speed        : 8.00 m/s\n";
    assert_eq!(field(report, "distance travelled"), 63.6);
    assert_eq!(field(report, "final lateral offset"), 0.0);
    assert_eq!(field(report, "final speed"), 8.0);
    assert_eq!(field(report, "steps"), 100.0);
}
