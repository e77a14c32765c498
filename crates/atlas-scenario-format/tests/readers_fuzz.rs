//! The fuzz targets' bodies on stable: seed files of both readers (native
//! TOML scenarios, Leaderboard route files) and deterministic mutations of
//! them must load or fail with an error — never panic.

use std::path::PathBuf;

use atlas_scenario_format::fuzzing::{exercise_routes, exercise_toml};

const ROUTE_2X: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<routes>
  <route id="3" town="Town01">
    <weathers>
      <weather route_percentage="0" cloudiness="5.0" precipitation="0.0"/>
      <weather route_percentage="100" cloudiness="80.0" precipitation="40.0"/>
    </weathers>
    <waypoints>
      <position x="92.1" y="-105.6" z="0.0"/>
      <position x="92.1" y="-40.0" z="0.0"/>
      <position x="150.0" y="-2.0" z="0.0"/>
    </waypoints>
    <scenarios>
      <scenario name="ParkedObstacle_1" type="ParkedObstacle">
        <trigger_point x="92.1" y="-80.0" z="0.0" yaw="90"/>
        <distance value="60"/>
        <direction value="right"/>
      </scenario>
    </scenarios>
  </route>
</routes>
"#;

fn files(dir: PathBuf, ext: &str) -> Vec<Vec<u8>> {
    let rd = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut paths: Vec<_> = rd.flatten().map(|e| e.path()).collect();
    paths.sort();
    paths
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .map(|p| std::fs::read(p).unwrap())
        .collect()
}

struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

/// Truncations, byte flips to syntax characters, and spliced duplicates.
fn mutate(seed: &[u8], rng: &mut Lcg, alphabet: &[u8]) -> Vec<u8> {
    let mut m = seed.to_vec();
    let n = m.len().max(1);
    match rng.next() % 4 {
        0 => m.truncate((rng.next() as usize) % n),
        1 => {
            for _ in 0..6 {
                let i = (rng.next() as usize) % n;
                if i < m.len() {
                    m[i] = alphabet[(rng.next() as usize) % alphabet.len()];
                }
            }
        }
        2 => {
            let a = (rng.next() as usize) % n;
            let b = (a + (rng.next() as usize) % 200).min(m.len());
            let piece = m[a.min(m.len())..b].to_vec();
            let at = (rng.next() as usize) % n;
            let at = at.min(m.len());
            m.splice(at..at, piece);
        }
        _ => {
            let i = (rng.next() as usize) % n;
            if i < m.len() {
                m.remove(i);
            }
        }
    }
    m
}

#[test]
fn route_files_and_their_mutations_never_panic() {
    let corpus =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/routes/leaderboard-1.0");
    let mut seeds = files(corpus, "xml");
    seeds.push(ROUTE_2X.as_bytes().to_vec());
    let mut rng = Lcg(0x0E7E5);
    for seed in &seeds {
        exercise_routes(seed);
        let rounds = if seed.len() > 100_000 { 40 } else { 400 };
        for _ in 0..rounds {
            exercise_routes(&mutate(seed, &mut rng, b"<>/=\"' -.0e9xyz"));
        }
    }
    // The 2.x seed itself reads.
    let f = atlas_scenario_format::routes::parse(ROUTE_2X, "seed.xml").unwrap();
    assert_eq!(f.routes[0].scenarios.len(), 1);
}

#[test]
fn native_scenarios_and_their_mutations_never_panic() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    let seeds = files(dir, "toml");
    assert!(!seeds.is_empty(), "no seed scenarios");
    let mut rng = Lcg(0x70A1);
    for seed in &seeds {
        exercise_toml(seed);
        for _ in 0..300 {
            exercise_toml(&mutate(seed, &mut rng, b"[]{}=\",.-0e9 \nabs"));
        }
    }
}
