//! Suites surviving faults, with every service a separate process on
//! loopback: a scenario replica killed mid-suite, the policy restarted
//! mid-suite, the bridge killed and restarted mid-suite (every world in it
//! lost), a replica drained by SIGTERM, and the client killed then resumed.
//! Each test checks that every run of the suite ends with exactly one
//! recorded result and prints what the fault cost.
//!
//! `ATLAS_FAULT_RUNS` sets the suite size (default 18; the README's figures
//! use 100).

mod common;

use common::{Service, free_port};

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const ATLAS: &str = env!("CARGO_BIN_EXE_atlas");
const PROBE: &str = env!("CARGO_BIN_EXE_atlas-probe");

fn spawn(args: &[&str]) -> Service {
    Service(
        Command::new(ATLAS)
            .args(args)
            .current_dir(common::repo())
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start a service process"),
    )
}

fn wait_healthy(addr: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let out = Command::new(PROBE).args(["-addr", addr]).output().unwrap();
        if out.status.code() == Some(0) {
            return;
        }
        assert!(Instant::now() < deadline, "{addr} not healthy");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig} {}", child.id());
}

/// One bridge, one policy, `replicas` scenario runtimes, each its own process.
struct Cluster {
    bridge: Service,
    vla: Service,
    vla_addr: String,
    scenarios: Vec<(Service, String)>,
    bridge_addr: String,
}

impl Cluster {
    fn start(replicas: usize) -> Self {
        let bridge_addr = format!("127.0.0.1:{}", free_port());
        let vla_addr = format!("127.0.0.1:{}", free_port());
        let bridge = Self::start_bridge(&bridge_addr);
        let vla = Self::start_vla(&vla_addr);
        let mut scenarios = Vec::new();
        for _ in 0..replicas {
            let addr = format!("127.0.0.1:{}", free_port());
            scenarios.push((Self::start_scenario(&addr, &bridge_addr, &vla_addr), addr));
        }
        wait_healthy(&bridge_addr, Duration::from_secs(120));
        wait_healthy(&vla_addr, Duration::from_secs(120));
        for (_, a) in &scenarios {
            wait_healthy(a, Duration::from_secs(120));
        }
        Self {
            bridge,
            vla,
            vla_addr,
            scenarios,
            bridge_addr,
        }
    }

    fn start_bridge(addr: &str) -> Service {
        spawn(&["serve", "bridge", "--listen", addr, "--maps-dir", "maps"])
    }

    fn start_vla(addr: &str) -> Service {
        spawn(&["serve", "vla", "--listen", addr, "--policy", "baseline"])
    }

    fn start_scenario(addr: &str, bridge: &str, vla: &str) -> Service {
        spawn(&[
            "serve",
            "scenario",
            "--listen",
            addr,
            "--bridge-addr",
            &format!("http://{bridge}"),
            "--driver-addr",
            &format!("http://{vla}"),
            "--grace-period-s",
            "60",
        ])
    }

    fn addrs(&self) -> String {
        self.scenarios
            .iter()
            .map(|(_, a)| a.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

fn runs_wanted() -> usize {
    std::env::var("ATLAS_FAULT_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(18)
}

/// A suite of about `runs` runs (3 scenarios × seeds) against `vla` as the policy.
fn write_suite(dir: &Path, runs: usize, vla: &str) -> PathBuf {
    let seeds: Vec<String> = (1..=runs.div_ceil(3)).map(|s| s.to_string()).collect();
    let path = dir.join("faults.toml");
    std::fs::write(
        &path,
        format!(
            "name = \"faults\"\nscenarios = [\"{}/scenarios/*.toml\"]\nseeds = [{}]\ntimeout_s = 6\nconcurrency = 3\ndeadline_s = 60\nmax_attempts = 6\n\n[policies]\nbaseline = \"http://{vla}\"\n",
            common::repo().display(),
            seeds.join(", ")
        ),
    )
    .unwrap();
    path
}

fn suite_cmd(suite: &Path, out: &Path, addrs: &str, extra: &[&str]) -> Command {
    let mut c = Command::new(ATLAS);
    c.args(["suite", "run"])
        .arg(suite)
        .arg("--out")
        .arg(out)
        .args(["--scenario-addr", addrs])
        .args(extra)
        .current_dir(common::repo())
        .env("RUST_LOG", "error")
        .env_remove("SAKURA_ARTIFACT_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn manifest(out: &Path) -> Option<Value> {
    let bytes = std::fs::read(out.join("manifest.json")).ok()?;
    Some(serde_json::from_slice(&bytes).expect("the manifest is always whole JSON"))
}

fn finished_ids(m: &Value) -> BTreeSet<String> {
    m["runs"]
        .as_object()
        .unwrap()
        .values()
        .filter(|e| e["state"] == "finished")
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

fn wait_finished(out: &Path, n: usize, child: &mut Child, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(m) = manifest(out)
            && finished_ids(&m).len() >= n
        {
            return;
        }
        assert!(child.try_wait().unwrap().is_none(), "the suite ended early");
        assert!(
            Instant::now() < deadline,
            "fewer than {n} runs finished in time"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct Finished {
    wall: Duration,
    manifest: Value,
    metrics: Value,
}

fn finish(mut child: Child, out: &Path, t0: Instant, limit: Duration) -> Finished {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let o = child.wait_with_output().unwrap();
            assert!(
                status.success(),
                "suite failed: {status}\n{}\n{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the suite did not finish in {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let wall = t0.elapsed();
    let metrics: Value =
        serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
    Finished {
        wall,
        manifest: manifest(out).unwrap(),
        metrics,
    }
}

/// Every planned run has exactly one result; returns (lost, duplicated).
fn check_exactly_once(f: &Finished, out: &Path) -> (usize, usize) {
    let planned = f.manifest["planned"].as_u64().unwrap() as usize;
    let fin = finished_ids(&f.manifest);
    let results: Value =
        serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap();
    let records = results["_checkpoint"]["records"].as_array().unwrap();
    let indices: BTreeSet<u64> = records
        .iter()
        .map(|r| r["index"].as_u64().unwrap())
        .collect();
    let lost = planned - fin.len();
    let duplicated = (records.len() - indices.len())
        + f.manifest["runs"]
            .as_object()
            .unwrap()
            .values()
            .map(|e| e["late_results"].as_u64().unwrap() as usize)
            .sum::<usize>();
    assert_eq!(lost, 0, "runs without a result");
    assert_eq!(records.len(), planned, "one record per run");
    assert_eq!(duplicated, 0, "a run recorded twice");
    for id in &fin {
        assert!(out.join("runs").join(id).join("record.json").is_file());
    }
    (lost, duplicated)
}

fn report(name: &str, f: &Finished, lost: usize, dup: usize) {
    eprintln!(
        "FAULT {name}: {} runs, lost {lost}, duplicated {dup}, retries {}, wall {:.1} s ({:.2} runs/s)",
        f.manifest["planned"],
        f.metrics["retries"],
        f.wall.as_secs_f64(),
        f.metrics["this_invocation"]["runs_per_s"]
            .as_f64()
            .unwrap_or(0.0)
    );
}

#[test]
fn replica_killed_and_policy_restarted_mid_suite() {
    let mut cluster = Cluster::start(3);
    let dir = tempfile::tempdir().unwrap();
    let runs = runs_wanted();
    let suite = write_suite(dir.path(), runs, &cluster.vla_addr);
    let out = dir.path().join("out");
    let t0 = Instant::now();
    let mut child = suite_cmd(&suite, &out, &cluster.addrs(), &["--quiet"])
        .spawn()
        .unwrap();

    // A third of the way in, SIGKILL one scenario replica.
    wait_finished(&out, runs / 3, &mut child, Duration::from_secs(600));
    let (mut victim, _) = cluster.scenarios.remove(1);
    victim.0.kill().unwrap();
    victim.0.wait().unwrap();

    // Two thirds in, restart the policy on the same port.
    wait_finished(&out, 2 * runs / 3, &mut child, Duration::from_secs(600));
    cluster.vla.0.kill().unwrap();
    cluster.vla.0.wait().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    cluster.vla = Cluster::start_vla(&cluster.vla_addr);

    let f = finish(child, &out, t0, Duration::from_secs(900));
    let (lost, dup) = check_exactly_once(&f, &out);
    // The killed replica's and the policy's in-flight runs were retried.
    assert!(f.metrics["retries"].as_u64().unwrap() >= 1, "{}", f.metrics);
    let on_victim_after_kill = f.manifest["runs"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|e| e["attempts"].as_array().unwrap().iter())
        .filter(|a| a["outcome"] != "ok")
        .count();
    assert!(on_victim_after_kill >= 1);
    report("replica SIGKILL + policy restart", &f, lost, dup);
}

#[test]
fn sigterm_to_a_replica_hands_runs_back() {
    let mut cluster = Cluster::start(2);
    let dir = tempfile::tempdir().unwrap();
    let runs = runs_wanted().min(12);
    let suite = write_suite(dir.path(), runs, &cluster.vla_addr);
    let out = dir.path().join("out");
    let t0 = Instant::now();
    let mut child = suite_cmd(&suite, &out, &cluster.addrs(), &["--quiet"])
        .spawn()
        .unwrap();
    wait_finished(&out, runs / 3, &mut child, Duration::from_secs(600));
    let (mut victim, _) = cluster.scenarios.remove(0);
    signal(&victim.0, "-TERM");
    // It drains: in-flight runs finish, then it exits cleanly.
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(s) = victim.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the replica ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "drained replica exit: {status}");
    let f = finish(child, &out, t0, Duration::from_secs(900));
    let (lost, dup) = check_exactly_once(&f, &out);
    report("replica SIGTERM", &f, lost, dup);
}

#[test]
fn client_killed_then_resumed_runs_only_the_missing() {
    let cluster = Cluster::start(2);
    let dir = tempfile::tempdir().unwrap();
    let runs = runs_wanted().min(12);
    let suite = write_suite(dir.path(), runs, &cluster.vla_addr);
    let out = dir.path().join("out");
    let t0 = Instant::now();
    let mut child = suite_cmd(&suite, &out, &cluster.addrs(), &["--quiet"])
        .spawn()
        .unwrap();
    wait_finished(&out, runs / 2, &mut child, Duration::from_secs(600));
    child.kill().unwrap();
    child.wait().unwrap();
    let before = manifest(&out).unwrap();
    let done: BTreeSet<String> = finished_ids(&before);
    let planned = before["planned"].as_u64().unwrap() as usize;
    assert!(done.len() < planned, "killed too late to test resuming");

    // Without --resume it refuses to overwrite the manifest.
    let o = suite_cmd(&suite, &out, &cluster.addrs(), &["--quiet"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--resume"));

    // The dry run lists exactly the missing runs.
    let o = suite_cmd(&suite, &out, &cluster.addrs(), &["--resume", "--dry-run"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let listing = String::from_utf8_lossy(&o.stdout);
    for id in &done {
        assert!(
            !listing.contains(id.as_str()),
            "{id} is done but listed:\n{listing}"
        );
    }
    assert!(
        listing.contains(&format!("{} would run now", planned - done.len())),
        "{listing}"
    );

    let child = suite_cmd(&suite, &out, &cluster.addrs(), &["--resume", "--quiet"])
        .spawn()
        .unwrap();
    let f = finish(child, &out, t0, Duration::from_secs(900));
    assert_eq!(
        f.metrics["this_invocation"]["runs"].as_u64().unwrap() as usize,
        planned - done.len(),
        "the resumed suite ran only the missing runs"
    );
    // Results recorded before the kill are untouched.
    for id in &done {
        assert_eq!(
            before["runs"][id], f.manifest["runs"][id],
            "{id} changed on resume"
        );
    }
    let (lost, dup) = check_exactly_once(&f, &out);
    report("client SIGKILL + --resume", &f, lost, dup);
}

/// The failed attempts of a manifest by outcome, with their counts.
fn failed_outcomes(m: &Value) -> Vec<(String, usize)> {
    let mut by: std::collections::BTreeMap<String, usize> = Default::default();
    for a in m["runs"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|e| e["attempts"].as_array().unwrap().iter())
        .filter(|a| a["outcome"] != "ok")
    {
        let o = a["outcome"].as_str().unwrap();
        // The code and the first words: enough to tell the failures apart.
        let short: String = o.chars().take(90).collect();
        *by.entry(short).or_default() += 1;
    }
    by.into_iter().collect()
}

#[test]
fn bridge_killed_and_restarted_mid_suite() {
    let mut cluster = Cluster::start(2);
    let dir = tempfile::tempdir().unwrap();
    let runs = runs_wanted();
    let suite = write_suite(dir.path(), runs, &cluster.vla_addr);
    let out = dir.path().join("out");
    let t0 = Instant::now();
    let mut child = suite_cmd(&suite, &out, &cluster.addrs(), &["--quiet"])
        .spawn()
        .unwrap();

    // Half-way, SIGKILL the bridge: every world of the runs in flight is
    // gone. Restart it on the same port, as a supervisor would.
    wait_finished(&out, runs / 2, &mut child, Duration::from_secs(600));
    let killed_at = finished_ids(&manifest(&out).unwrap()).len();
    let down = Instant::now();
    cluster.bridge.0.kill().unwrap();
    cluster.bridge.0.wait().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    cluster.bridge = Cluster::start_bridge(&cluster.bridge_addr);
    wait_healthy(&cluster.bridge_addr, Duration::from_secs(120));
    let outage = down.elapsed();

    let f = finish(child, &out, t0, Duration::from_secs(900));
    let (lost, dup) = check_exactly_once(&f, &out);
    let failures = failed_outcomes(&f.manifest);
    eprintln!(
        "  bridge killed after {killed_at} runs, serving again {:.1} s later; failed attempts:",
        outage.as_secs_f64()
    );
    for (o, n) in &failures {
        eprintln!("  {n} × {o}");
    }
    // The runs in flight at the kill lost their worlds and were run again.
    assert!(
        f.metrics["retries"].as_u64().unwrap() >= 1,
        "killed after {killed_at} of {runs} runs, yet nothing was retried: {}",
        f.metrics
    );
    assert!(!failures.is_empty());
    // Nothing failed for a reason a retry cannot fix.
    for (o, _) in &failures {
        assert!(
            !o.starts_with("InvalidArgument") && !o.starts_with("FailedPrecondition"),
            "{o}"
        );
    }
    report("bridge SIGKILL + restart", &f, lost, dup);
}
