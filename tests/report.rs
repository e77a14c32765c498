//! `atlas report` on a real suite output, rendered by headless Chromium
//! (Debian's `chromium`; scripts/ensure_chromium.sh installs it). The page is
//! opened from disk (file://) and its DOM and a screenshot are checked.

mod common;

use common::atlas;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A 1×1 PNG, standing in for a run's `topdown.png`.
const PNG_1X1: [u8; 70] = [
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0,
    0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

fn chromium() -> Option<PathBuf> {
    for bin in ["chromium", "chromium-browser"] {
        if let Ok(o) = Command::new("which").arg(bin).output()
            && o.status.success()
        {
            return Some(PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
        }
    }
    None
}

fn headless(chrome: &Path, extra: &[&str], url: &str) -> Output {
    Command::new(chrome)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--allow-file-access-from-files",
        ])
        .args(extra)
        .arg(url)
        .output()
        .unwrap()
}

#[test]
fn report_renders_in_headless_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("rep.toml");
    std::fs::write(
        &suite,
        format!(
            "name = \"rep\"\nscenarios = [\"{0}/scenarios/town01_blocked.toml\", \"{0}/scenarios/town01_straight_clear.toml\"]\ntimeout_s = 6\nseeds = [3]\n[policies]\nbaseline = \"baseline\"\n",
            common::repo().display()
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = atlas(&[
        "suite",
        "run",
        suite.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
        "--artifacts",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let ids: Vec<String> = manifest["runs"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(ids.len(), 2);
    // --artifacts: each run's artifacts hold a top-down PNG. Keep them for
    // the first run; the second shows the report's own drawing of its path.
    let arts = |id: &str| out.join("runs").join(id).join("artifacts");
    let pictures: Vec<_> = std::fs::read_dir(arts(&ids[0]))
        .unwrap()
        .map(|e| e.unwrap().path().join("topdown.png"))
        .filter(|p| p.is_file())
        .collect();
    assert_eq!(pictures.len(), 1, "one top-down picture per run");
    assert_eq!(&std::fs::read(&pictures[0]).unwrap()[..8], &PNG_1X1[..8]);
    std::fs::remove_dir_all(arts(&ids[1])).unwrap();

    let o = atlas(&["report", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let html_path = out.join("report.html");
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(html.contains(&format!("runs/{}/artifacts/", ids[0])) && html.contains("/topdown.png"));
    assert!(
        html.contains("<polyline"),
        "the run without an image gets its path drawn"
    );
    assert!(!html.contains("<script"), "a static page");

    let Some(chrome) = chromium() else {
        eprintln!(
            "\n\n!!!!! SKIPPED: chromium is not installed; run scripts/ensure_chromium.sh !!!!!\n\n"
        );
        return;
    };
    let url = format!("file://{}", html_path.display());
    let o = headless(&chrome, &["--dump-dom"], &url);
    let dom = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "chromium: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(dom.contains("<span id=\"suite-name\">rep</span>"), "{dom}");
    assert!(
        dom.contains("2 runs planned, 2 finished, 0 failed"),
        "{dom}"
    );
    assert!(dom.contains("town01_blocked") && dom.contains("town01_straight_clear"));
    assert!(
        dom.contains("class=\"hist\""),
        "the score histogram is in the DOM"
    );
    assert!(dom.contains("id=\"infractions\""));
    assert_eq!(dom.matches("<figure").count(), 2, "a trajectory per run");

    let shot = dir.path().join("report.png");
    let o = headless(
        &chrome,
        &[
            "--hide-scrollbars",
            "--window-size=1200,1600",
            &format!("--screenshot={}", shot.display()),
        ],
        &url,
    );
    assert!(
        o.status.success(),
        "chromium: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(&png[..8], &PNG_1X1[..8], "a PNG screenshot");
    assert!(
        png.len() > 10_000,
        "the screenshot has content ({} bytes)",
        png.len()
    );
    if let Ok(keep) = std::env::var("ATLAS_KEEP_REPORT") {
        let _ = std::fs::copy(&shot, keep);
    }
}
