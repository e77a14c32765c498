//! The suite manifest: one entry per run id, written atomically after every
//! run, read back by `--resume`, `suite compare` and `report`.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};
use atlas_proto::scenario as pb;
use serde::{Deserialize, Serialize};

use super::spec::{Kind, RunSpec};
use crate::files::write_atomic;

pub const FILE_NAME: &str = "manifest.json";
const FORMAT: &str = "atlas-suite-manifest/1";

/// The outcome of one attempt at a run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Attempt {
    pub n: u32,
    pub replica: String,
    /// "ok", or the gRPC code and message that ended it.
    pub outcome: String,
    pub wall_s: f64,
    /// Started because the previous attempt passed the run deadline.
    #[serde(default)]
    pub hedge: bool,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// A result is recorded.
    Finished,
    /// Every attempt failed; `--resume` runs it again.
    Failed,
}

/// One run's entry.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Entry {
    pub id: String,
    pub ordinal: u32,
    pub kind: Kind,
    pub file: String,
    #[serde(default)]
    pub route_id: Option<String>,
    pub policy: String,
    pub seed: Option<u64>,
    pub repetition: u32,
    pub state: State,
    #[serde(default)]
    pub record: Option<Record>,
    #[serde(default)]
    pub error: Option<String>,
    pub attempts: Vec<Attempt>,
    /// Wall seconds from the first attempt's start to the recorded result.
    pub eval_s: f64,
    /// Results that arrived for this run after it was recorded (ignored).
    #[serde(default)]
    pub late_results: u32,
}

/// The whole manifest.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub suite: String,
    pub suite_file: String,
    /// Runs in the suite's full expansion (not only those run so far).
    pub planned: usize,
    pub runs: BTreeMap<String, Entry>,
}

impl Manifest {
    pub fn new(suite: &str, suite_file: &Path, planned: usize) -> Self {
        Self {
            format: FORMAT.into(),
            suite: suite.into(),
            suite_file: suite_file.display().to_string(),
            planned,
            runs: BTreeMap::new(),
        }
    }

    /// Reads `dir/manifest.json`.
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join(FILE_NAME);
        let bytes =
            std::fs::read(&path).with_context(|| format!("{}: cannot read", path.display()))?;
        let m: Self = serde_json::from_slice(&bytes)
            .map_err(|e| anyhow::anyhow!("{}:{}: {e}", path.display(), e.line()))?;
        if m.format != FORMAT {
            bail!(
                "{}: `format` is {:?}, expected {FORMAT:?}",
                path.display(),
                m.format
            );
        }
        Ok(m)
    }

    pub fn is_finished(&self, id: &str) -> bool {
        self.runs
            .get(id)
            .is_some_and(|e| e.state == State::Finished)
    }

    /// Records a finished run. Returns false (and counts a late result) if
    /// the run already has a result: the first completed result wins.
    pub fn finish(
        &mut self,
        spec: &RunSpec,
        record: &pb::RouteRecord,
        attempts: Vec<Attempt>,
        eval_s: f64,
    ) -> bool {
        if let Some(e) = self.runs.get_mut(&spec.id)
            && e.state == State::Finished
        {
            e.late_results += 1;
            e.attempts.extend(attempts);
            return false;
        }
        self.runs.insert(
            spec.id.clone(),
            Entry {
                state: State::Finished,
                record: Some(Record::from_pb(record)),
                error: None,
                attempts,
                eval_s,
                ..entry_base(spec)
            },
        );
        true
    }

    /// Records a run whose every attempt failed (unless it already has a result).
    pub fn fail(&mut self, spec: &RunSpec, error: String, attempts: Vec<Attempt>, eval_s: f64) {
        if self.is_finished(&spec.id) {
            return;
        }
        self.runs.insert(
            spec.id.clone(),
            Entry {
                state: State::Failed,
                record: None,
                error: Some(error),
                attempts,
                eval_s,
                ..entry_base(spec)
            },
        );
    }

    /// Finished entries in suite order.
    pub fn finished(&self) -> Vec<&Entry> {
        let mut v: Vec<&Entry> = self
            .runs
            .values()
            .filter(|e| e.state == State::Finished)
            .collect();
        v.sort_by_key(|e| e.ordinal);
        v
    }

    /// Failed entries in suite order.
    pub fn failed(&self) -> Vec<&Entry> {
        let mut v: Vec<&Entry> = self
            .runs
            .values()
            .filter(|e| e.state == State::Failed)
            .collect();
        v.sort_by_key(|e| e.ordinal);
        v
    }

    /// Writes `dir/manifest.json` atomically: a `.tmp` file, fsync, rename, fsync of the directory.
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        write_atomic(&dir.join(FILE_NAME), &serde_json::to_vec_pretty(self)?)
    }
}

fn entry_base(spec: &RunSpec) -> Entry {
    Entry {
        id: spec.id.clone(),
        ordinal: spec.ordinal,
        kind: spec.kind,
        file: spec.file.display().to_string(),
        route_id: spec.route_id.clone(),
        policy: spec.policy.clone(),
        seed: spec.seed,
        repetition: spec.repetition,
        state: State::Failed,
        record: None,
        error: None,
        attempts: Vec::new(),
        eval_s: 0.0,
        late_results: 0,
    }
}

/// A route record as stored in the manifest (every field of `RouteRecord`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Record {
    pub index: u32,
    pub route_id: String,
    pub status: String,
    pub num_infractions: u32,
    pub infractions: Vec<Infraction>,
    pub score_route: f64,
    pub score_penalty: f64,
    pub score_composed: f64,
    pub route_length: f64,
    pub duration_game: f64,
    pub duration_system: f64,
    pub control_steps: u64,
    pub step_p50_ms: f64,
    pub step_p99_ms: f64,
    pub step_mean_ms: f64,
    pub seed: u64,
    pub map: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Infraction {
    pub category: String,
    pub message: String,
    pub sim_time_s: f64,
    pub x: f64,
    pub y: f64,
}

impl Record {
    pub fn from_pb(r: &pb::RouteRecord) -> Self {
        let s = r.scores.unwrap_or_default();
        let m = r.meta.clone().unwrap_or_default();
        let t = r.timing.unwrap_or_default();
        Self {
            index: r.index,
            route_id: r.route_id.clone(),
            status: r.status.clone(),
            num_infractions: r.num_infractions,
            infractions: r
                .infractions
                .iter()
                .map(|i| Infraction {
                    category: i.category.clone(),
                    message: i.message.clone(),
                    sim_time_s: i.sim_time_s,
                    x: i.x,
                    y: i.y,
                })
                .collect(),
            score_route: s.score_route,
            score_penalty: s.score_penalty,
            score_composed: s.score_composed,
            route_length: m.route_length,
            duration_game: m.duration_game,
            duration_system: m.duration_system,
            control_steps: t.control_steps,
            step_p50_ms: t.step_p50_ms,
            step_p99_ms: t.step_p99_ms,
            step_mean_ms: t.step_mean_ms,
            seed: r.seed,
            map: r.map.clone(),
        }
    }

    pub fn to_pb(&self) -> pb::RouteRecord {
        pb::RouteRecord {
            index: self.index,
            route_id: self.route_id.clone(),
            status: self.status.clone(),
            num_infractions: self.num_infractions,
            infractions: self
                .infractions
                .iter()
                .map(|i| pb::Infraction {
                    category: i.category.clone(),
                    message: i.message.clone(),
                    sim_time_s: i.sim_time_s,
                    x: i.x,
                    y: i.y,
                })
                .collect(),
            scores: Some(pb::Scores {
                score_route: self.score_route,
                score_penalty: self.score_penalty,
                score_composed: self.score_composed,
            }),
            meta: Some(pb::Meta {
                route_length: self.route_length,
                duration_game: self.duration_game,
                duration_system: self.duration_system,
                ..Default::default()
            }),
            timing: Some(pb::Timing {
                control_steps: self.control_steps,
                step_p50_ms: self.step_p50_ms,
                step_p99_ms: self.step_p99_ms,
                step_mean_ms: self.step_mean_ms,
            }),
            seed: self.seed,
            map: self.map.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(id: &str) -> RunSpec {
        RunSpec {
            id: id.into(),
            ordinal: 0,
            kind: Kind::Scenario,
            file: "a.toml".into(),
            route_id: None,
            policy: "p".into(),
            seed: Some(1),
            repetition: 0,
        }
    }

    fn record(ds: f64) -> pb::RouteRecord {
        pb::RouteRecord {
            route_id: "a".into(),
            status: "Completed".into(),
            num_infractions: 1,
            infractions: vec![pb::Infraction {
                category: "collisions_vehicle".into(),
                message: "hit".into(),
                sim_time_s: 1.5,
                x: 2.0,
                y: 3.0,
            }],
            scores: Some(pb::Scores {
                score_route: 100.0,
                score_penalty: ds / 100.0,
                score_composed: ds,
            }),
            meta: Some(pb::Meta::default()),
            timing: Some(pb::Timing {
                control_steps: 7,
                step_p50_ms: 1.0,
                step_p99_ms: 2.0,
                step_mean_ms: 1.2,
            }),
            seed: 1,
            map: "Town01".into(),
            index: 3,
        }
    }

    #[test]
    fn first_result_wins_and_late_ones_are_counted() {
        let mut m = Manifest::new("s", Path::new("s.toml"), 1);
        let a = Attempt {
            n: 1,
            replica: "r1".into(),
            outcome: "ok".into(),
            wall_s: 1.0,
            hedge: false,
        };
        assert!(m.finish(&spec("x"), &record(60.0), vec![a.clone()], 1.0));
        assert!(!m.finish(&spec("x"), &record(10.0), vec![Attempt { n: 2, ..a }], 2.0));
        m.fail(&spec("x"), "late failure".into(), Vec::new(), 3.0);
        let e = &m.runs["x"];
        assert_eq!(e.state, State::Finished);
        assert_eq!(e.record.as_ref().unwrap().score_composed, 60.0);
        assert_eq!(e.late_results, 1);
        assert_eq!(e.attempts.len(), 2);
        assert_eq!(m.finished().len(), 1);
    }

    #[test]
    fn record_round_trips_and_manifest_survives_a_reload() {
        let r = record(42.0);
        assert_eq!(Record::from_pb(&r).to_pb(), r);
        let dir = tempfile::tempdir().unwrap();
        let mut m = Manifest::new("s", Path::new("s.toml"), 2);
        m.finish(&spec("x"), &r, Vec::new(), 1.0);
        m.fail(&spec("y"), "UNAVAILABLE: gone".into(), Vec::new(), 1.0);
        m.write(dir.path()).unwrap();
        assert!(!dir.path().join("manifest.json.tmp").exists());
        let back = Manifest::load(dir.path()).unwrap();
        assert!(back.is_finished("x"));
        assert!(!back.is_finished("y"));
        assert_eq!(back.failed().len(), 1);
        assert_eq!(back.runs["x"].record.as_ref().unwrap().to_pb(), r);
    }

    #[test]
    fn a_broken_manifest_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("manifest.json"), "{\n  \"format\": 3,\n").unwrap();
        let e = format!("{:#}", Manifest::load(dir.path()).unwrap_err());
        assert!(e.contains("manifest.json:2"), "{e}");
    }
}
