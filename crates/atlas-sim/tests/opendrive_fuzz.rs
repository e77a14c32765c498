//! The fuzz target's body on stable: every seed map, and deterministic
//! mutations of them (truncations, byte flips, attribute and element
//! damage), must load or fail with an error — never panic.

use std::path::PathBuf;

use atlas_sim::fuzzing::exercise;

fn seeds() -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../maps");
    let mut out = Vec::new();
    for sub in [dir.clone(), dir.join("alks")] {
        let Ok(rd) = std::fs::read_dir(&sub) else {
            continue;
        };
        let mut paths: Vec<_> = rd.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            if p.extension().is_some_and(|e| e == "xodr") {
                out.push(std::fs::read(&p).unwrap());
            }
        }
    }
    out
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

#[test]
fn seed_maps_and_their_mutations_never_panic() {
    let seeds = seeds();
    assert!(seeds.len() >= 9, "{}", seeds.len());
    let mut rng = Lcg(0xA71A5);
    // The small maps get many mutations, the towns a few.
    for seed in &seeds {
        exercise(seed);
        let rounds = if seed.len() < 200_000 { 60 } else { 4 };
        for _ in 0..rounds {
            let mut m = seed.clone();
            match rng.next() % 5 {
                0 => {
                    let cut = (rng.next() as usize) % m.len().max(1);
                    m.truncate(cut);
                }
                1 => {
                    for _ in 0..8 {
                        let i = (rng.next() as usize) % m.len().max(1);
                        m[i] = b"0-9e.<>\"/ x"[(rng.next() % 11) as usize];
                    }
                }
                2 => {
                    // Damage a number: make it huge, negative or NaN.
                    let text = String::from_utf8_lossy(&m).into_owned();
                    let bad = ["1e308", "-1e308", "NaN", "inf", "-0", "99999999999"];
                    let mut count = 0;
                    let replaced = text
                        .split('"')
                        .enumerate()
                        .map(|(k, part)| {
                            let numeric = k % 2 == 1 && part.parse::<f64>().is_ok();
                            if numeric && rng.next().is_multiple_of(7) {
                                count += 1;
                                bad[(rng.next() as usize) % bad.len()].to_owned()
                            } else {
                                part.to_owned()
                            }
                        })
                        .collect::<Vec<_>>()
                        .join("\"");
                    m = replaced.into_bytes();
                    let _ = count;
                }
                3 => {
                    // Drop a random element's closing tag.
                    let text = String::from_utf8_lossy(&m).into_owned();
                    let closes: Vec<usize> = text.match_indices("</").map(|(i, _)| i).collect();
                    if !closes.is_empty() {
                        let i = closes[(rng.next() as usize) % closes.len()];
                        let mut t = text.clone();
                        t.replace_range(i..i + 2, "<");
                        m = t.into_bytes();
                    }
                }
                _ => {
                    // Swap two slices of the document.
                    let n = m.len();
                    if n > 64 {
                        let a = (rng.next() as usize) % (n - 32);
                        let b = (rng.next() as usize) % (n - 32);
                        for k in 0..32 {
                            m.swap(a + k, b + k);
                        }
                    }
                }
            }
            exercise(&m);
        }
    }
}

/// Inputs the fuzzer found (or that reproduce its findings): each once
/// took minutes or gigabytes to load. Every one must now load or fail with
/// an error quickly; the ones the reader rejects must name the element.
#[test]
fn fuzz_regressions_load_in_bounded_time() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    paths.sort();
    assert!(paths.len() >= 3, "{}", paths.len());
    for p in paths {
        let data = std::fs::read(&p).unwrap();
        exercise(&data);
        let xml = String::from_utf8_lossy(&data);
        let name = p.file_name().unwrap().to_string_lossy();
        match atlas_sim::map::Map::from_xml(&xml, &name) {
            Ok(map) => assert!(!map.roads().is_empty()),
            Err(e) => {
                let text = e.to_string();
                assert!(text.starts_with(&format!("{name}:")), "{text}");
                assert!(e.line().is_some(), "{text}");
            }
        }
    }
}
