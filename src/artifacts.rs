//! Per-run artifacts: a trajectory CSV of every actor, the events as JSON
//! lines, the record, and a top-down PNG of the run.
//!
//! ```text
//! DIR/<index>_<route_id>/
//!   trajectory.csv   time,entity,kind,role,x,y,z,heading,speed (every actor, every control step)
//!   events.jsonl     one JSON object per event or infraction, in time order
//!   record.json      the run's Leaderboard record
//!   topdown.png      map, route, ego path, other actors' paths, infractions
//! ```
//!
//! The trace comes from the scenario runtime over gRPC
//! (`RunOptions.record_trace`), so this works against a remote stack. The
//! map under the picture is looked up by the record's map name in the maps
//! directory the caller names (`--maps-dir`), or given as a loaded map.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::Context;
use atlas_proto::scenario::{RouteRecord, Trace};
use atlas_sim::Map;
use atlas_sim::render::raster::Ground;
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::files::write_atomic;

/// Writes the artifacts of one run under `dir` and returns the run's folder.
/// The map is found by name in `maps_dir`; without it the picture has no
/// map under the paths.
pub fn write_run(
    dir: &Path,
    maps_dir: &Path,
    record: &RouteRecord,
    trace: &Trace,
) -> anyhow::Result<PathBuf> {
    let name = if trace.map.is_empty() {
        record.map.as_str()
    } else {
        trace.map.as_str()
    };
    let map = cached_map(maps_dir, name);
    write_run_with_map(dir, record, trace, map.as_deref())
}

/// As [`write_run`], with the map the caller holds (None: no map drawn).
pub fn write_run_with_map(
    dir: &Path,
    record: &RouteRecord,
    trace: &Trace,
    map: Option<&Map>,
) -> anyhow::Result<PathBuf> {
    let run_dir = dir.join(run_folder(record));
    std::fs::create_dir_all(&run_dir).with_context(|| format!("creating {}", run_dir.display()))?;
    write_atomic(
        &run_dir.join("trajectory.csv"),
        trajectory_csv(trace).as_bytes(),
    )?;
    write_atomic(
        &run_dir.join("events.jsonl"),
        events_jsonl(trace).as_bytes(),
    )?;
    let rec = crate::results::document(std::slice::from_ref(record), &[]);
    let rec = &rec["_checkpoint"]["records"][0];
    write_atomic(
        &run_dir.join("record.json"),
        &serde_json::to_vec_pretty(rec)?,
    )?;
    let png = topdown_png(record, trace, map)?;
    write_atomic(&run_dir.join("topdown.png"), &png)?;
    Ok(run_dir)
}

/// `<index>_<route_id>` with anything but `[A-Za-z0-9._-]` replaced.
pub fn run_folder(record: &RouteRecord) -> String {
    let id: String = record
        .route_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{}_{}", record.index, id)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The trajectory CSV: one row per actor per recorded control step, in time
/// order. `entity` is the actor's name (its id when unnamed).
pub fn trajectory_csv(trace: &Trace) -> String {
    let mut rows: Vec<(u32, usize, usize)> = Vec::new();
    for (ti, t) in trace.tracks.iter().enumerate() {
        for (k, &step) in t.steps.iter().enumerate() {
            rows.push((step, ti, k));
        }
    }
    rows.sort_unstable();
    let mut out = String::from("time,entity,actor_id,kind,role,x,y,z,heading,speed\n");
    for (step, ti, k) in rows {
        let t = &trace.tracks[ti];
        let time = trace.times.get(step as usize).copied().unwrap_or(f64::NAN);
        let entity = if t.name.is_empty() {
            format!("actor{}", t.actor_id)
        } else {
            t.name.clone()
        };
        let col = |v: &[f32]| v.get(k).copied().unwrap_or(f32::NAN);
        let _ = writeln!(
            out,
            "{time:.3},{},{},{},{},{:.3},{:.3},{:.3},{:.4},{:.3}",
            csv_field(&entity),
            t.actor_id,
            t.kind,
            csv_field(&t.role),
            col(&t.x),
            col(&t.y),
            col(&t.z),
            col(&t.heading),
            col(&t.speed)
        );
    }
    out
}

/// The events as JSON lines, in time order.
pub fn events_jsonl(trace: &Trace) -> String {
    let mut events: Vec<_> = trace.events.iter().collect();
    events.sort_by(|a, b| a.sim_time_s.total_cmp(&b.sim_time_s));
    let mut out = String::new();
    for e in events {
        let v = serde_json::json!({
            "time": e.sim_time_s,
            "kind": e.kind,
            "infraction": e.infraction,
            "message": e.message,
            "actor_id": e.actor_id,
            "other_actor_id": e.other_actor_id,
            "x": e.x,
            "y": e.y,
        });
        out.push_str(&v.to_string());
        out.push('\n');
    }
    if trace.truncated {
        out.push_str(
            &serde_json::json!({"kind": "trace_truncated", "infraction": false,
                "message": "the runtime stopped recording at its size budget"})
            .to_string(),
        );
        out.push('\n');
    }
    out
}

/// Loads (once per process) the map named `name` from `maps_dir`.
fn cached_map(maps_dir: &Path, name: &str) -> Option<Arc<Map>> {
    static MAPS: OnceLock<Mutex<HashMap<PathBuf, Option<Arc<Map>>>>> = OnceLock::new();
    if name.is_empty() {
        return None;
    }
    let cache = MAPS.get_or_init(Default::default);
    let path = maps_dir.join(format!("{name}.xodr"));
    if let Some(m) = cache.lock().ok()?.get(&path) {
        return m.clone();
    }
    let loaded = Map::from_file(&path).ok().map(Arc::new);
    cache.lock().ok()?.insert(path, loaded.clone());
    loaded
}

/// Registers a system sans-serif font for titles and legends, once.
/// Without one the picture has no text.
fn font_available() -> bool {
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(|| {
        let candidates = [
            "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
            "/usr/share/fonts/dejavu/DejaVuSans.ttf",
            "/usr/share/fonts/TTF/DejaVuSans.ttf",
            "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
        ];
        let from_env = std::env::var("ATLAS_FONT").ok();
        for path in from_env.iter().map(String::as_str).chain(candidates) {
            if let Ok(bytes) = std::fs::read(path) {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                    return true;
                }
            }
        }
        false
    })
}

fn ground_colour(g: Ground) -> [u8; 3] {
    match g {
        Ground::Terrain => [236, 236, 230],
        Ground::Road => [110, 110, 116],
        Ground::Sidewalk => [196, 188, 176],
        Ground::Shoulder => [160, 160, 150],
        Ground::Parking => [130, 130, 140],
        Ground::WhiteMarking => [245, 245, 245],
        Ground::YellowMarking => [230, 200, 60],
        Ground::Curb => [150, 140, 130],
    }
}

/// World → pixel mapping of the picture (north up).
struct View {
    min_x: f64,
    max_y: f64,
    /// Metres per pixel along x and y; they differ when a long, thin scene
    /// (a straight highway) is stretched across its short side.
    mpp_x: f64,
    mpp_y: f64,
    width: u32,
    height: u32,
}

impl View {
    const TOP: u32 = 56;
    const MAX_SIDE: f64 = 1400.0;
    /// Longest side over shortest side beyond which the short side is
    /// stretched, so lateral moves (cut-ins, swerves) stay visible.
    const MAX_ASPECT: f64 = 5.0;

    fn fit(points: impl Iterator<Item = (f64, f64)>) -> Self {
        let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for (x, y) in points.filter(|p| p.0.is_finite() && p.1.is_finite()) {
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x);
            y1 = y1.max(y);
        }
        if x0 > x1 {
            (x0, y0, x1, y1) = (-50.0, -50.0, 50.0, 50.0);
        }
        let margin = 25.0;
        let (x0, y0, x1, y1) = (x0 - margin, y0 - margin, x1 + margin, y1 + margin);
        let side = (x1 - x0).max(y1 - y0);
        let mpp = (side / Self::MAX_SIDE).max(0.1);
        let (mut mpp_x, mut mpp_y) = (mpp, mpp);
        let (dx, dy) = (x1 - x0, y1 - y0);
        if dx > Self::MAX_ASPECT * dy {
            mpp_y = (dy * Self::MAX_ASPECT / Self::MAX_SIDE).min(mpp);
        } else if dy > Self::MAX_ASPECT * dx {
            mpp_x = (dx * Self::MAX_ASPECT / Self::MAX_SIDE).min(mpp);
        }
        Self {
            min_x: x0,
            max_y: y1,
            mpp_x,
            mpp_y,
            width: ((dx / mpp_x).ceil() as u32).max(480),
            height: (dy / mpp_y).ceil() as u32 + Self::TOP,
        }
    }

    /// How much the short side is stretched (1 when the scale is uniform).
    fn stretch(&self) -> f64 {
        self.mpp_x.max(self.mpp_y) / self.mpp_x.min(self.mpp_y)
    }

    fn px(&self, x: f64, y: f64) -> (i32, i32) {
        (
            ((x - self.min_x) / self.mpp_x).round() as i32,
            ((self.max_y - y) / self.mpp_y).round() as i32 + Self::TOP as i32,
        )
    }

    fn world(&self, px: u32, py: u32) -> (f64, f64) {
        (
            self.min_x + (px as f64 + 0.5) * self.mpp_x,
            self.max_y - (py as f64 - Self::TOP as f64 + 0.5) * self.mpp_y,
        )
    }
}

fn track_points(t: &atlas_proto::scenario::ActorTrack) -> Vec<(f64, f64)> {
    t.x.iter()
        .zip(&t.y)
        .map(|(&x, &y)| (x as f64, y as f64))
        .collect()
}

/// Renders the top-down picture of a run as PNG bytes.
pub fn topdown_png(
    record: &RouteRecord,
    trace: &Trace,
    map: Option<&Map>,
) -> anyhow::Result<Vec<u8>> {
    let ego = trace
        .tracks
        .iter()
        .find(|t| t.actor_id == trace.ego_actor_id);
    let route: Vec<(f64, f64)> = trace
        .route_x
        .iter()
        .zip(&trace.route_y)
        .map(|(&x, &y)| (x as f64, y as f64))
        .collect();
    let ego_path = ego.map(track_points).unwrap_or_default();
    // Frame what happened: the ego's path and the actors that came within
    // 60 m of it, and the route where the ego had little of a path (a route
    // far longer than the run would shrink the actors to dots).
    let near_ego = |pts: &[(f64, f64)]| {
        pts.iter().any(|&(x, y)| {
            ego_path
                .iter()
                .step_by(5)
                .any(|&(ex, ey)| (x - ex).hypot(y - ey) < 60.0)
        })
    };
    let others: Vec<Vec<(f64, f64)>> = trace
        .tracks
        .iter()
        .filter(|t| t.actor_id != trace.ego_actor_id)
        .map(track_points)
        .filter(|pts| near_ego(pts))
        .collect();
    let ego_len: f64 = ego_path
        .windows(2)
        .map(|w| (w[1].0 - w[0].0).hypot(w[1].1 - w[0].1))
        .sum();
    let route_len: f64 = route
        .windows(2)
        .map(|w| (w[1].0 - w[0].0).hypot(w[1].1 - w[0].1))
        .sum();
    let framed: Vec<(f64, f64)> = if ego_len > 0.5 * route_len {
        route.iter().chain(&ego_path).copied().collect()
    } else {
        ego_path.iter().copied().chain(others.concat()).collect()
    };
    let view = View::fit(framed.into_iter());
    let (w, h) = (view.width, view.height);

    // The map's ground classes under the picture.
    let mut buf = vec![0u8; (w * h * 3) as usize];
    for py in 0..h {
        for px in 0..w {
            let c = if py < View::TOP {
                [255, 255, 255]
            } else if let Some(m) = map {
                let (x, y) = view.world(px, py);
                ground_colour(m.raster().class_at(m, atlas_sim::Vec2::new(x, y)))
            } else {
                [236, 236, 230]
            };
            let i = ((py * w + px) * 3) as usize;
            buf[i..i + 3].copy_from_slice(&c);
        }
    }
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        let path = |pts: &[(f64, f64)]| -> Vec<(i32, i32)> {
            pts.iter().map(|&(x, y)| view.px(x, y)).collect()
        };
        // Other actors first, then the route, then the ego on top.
        let vehicle = RGBColor(40, 120, 200);
        let pedestrian = RGBColor(230, 140, 20);
        for t in &trace.tracks {
            if t.actor_id == trace.ego_actor_id {
                continue;
            }
            let colour = if t.kind == "pedestrian" {
                pedestrian
            } else {
                vehicle
            };
            let pts = path(&track_points(t));
            root.draw(&PathElement::new(
                pts.clone(),
                colour.mix(0.7).stroke_width(2),
            ))
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            // A dot every 20 samples shows pace and where it went when.
            for &p in pts.iter().step_by(20) {
                root.draw(&Circle::new(p, 2, colour.mix(0.9).filled()))
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            }
            if let Some(&last) = pts.last() {
                root.draw(&Circle::new(last, 2, colour.filled()))
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            }
        }
        let route_colour = RGBColor(60, 200, 90);
        root.draw(&PathElement::new(
            path(&route),
            route_colour.mix(0.8).stroke_width(3),
        ))
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let ego_colour = RGBColor(200, 30, 160);
        let ego_px = path(&ego_path);
        root.draw(&PathElement::new(
            ego_px.clone(),
            ego_colour.stroke_width(3),
        ))
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        if let Some(&first) = ego_px.first() {
            root.draw(&Circle::new(first, 6, ego_colour.filled()))
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        }
        if let Some(&last) = route.last() {
            root.draw(&Rectangle::new(
                [
                    (view.px(last.0, last.1).0 - 6, view.px(last.0, last.1).1 - 6),
                    (view.px(last.0, last.1).0 + 6, view.px(last.0, last.1).1 + 6),
                ],
                route_colour.filled(),
            ))
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        }
        let red = RGBColor(220, 20, 20);
        let infractions: Vec<_> = trace.events.iter().filter(|e| e.infraction).collect();
        let text = font_available();
        // The title band stays clear of paths that leave the view.
        root.draw(&Rectangle::new(
            [(0, 0), (w as i32, View::TOP as i32 - 1)],
            WHITE.filled(),
        ))
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        for (k, e) in infractions.iter().enumerate() {
            let p = view.px(e.x, e.y);
            root.draw(&Cross::new(p, 8, red.stroke_width(3)))
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            root.draw(&Circle::new(p, 11, red.stroke_width(2)))
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            if text {
                root.draw(&Text::new(
                    format!("{}", k + 1),
                    (p.0 + 12, p.1 - 16),
                    ("sans-serif", 16).into_font().color(&red),
                ))
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            }
        }
        if text {
            let s = record.scores.unwrap_or_default();
            let stretch = view.stretch();
            let scale = if stretch > 1.01 {
                let axis = if view.mpp_y < view.mpp_x { 'y' } else { 'x' };
                format!("  |  {axis} stretched x{stretch:.1}")
            } else {
                String::new()
            };
            let title = format!(
                "{} on {}  |  {}  |  DS {:.1}  RC {:.1}%  penalty {:.3}  |  seed {}{scale}",
                record.route_id,
                record.map,
                record.status,
                s.score_composed,
                s.score_route,
                s.score_penalty,
                record.seed
            );
            root.draw(&Text::new(title, (10, 6), ("sans-serif", 18).into_font()))
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            // Legend.
            let mut x = 10;
            let y = 34;
            let items: [(&str, RGBColor); 5] = [
                ("route", route_colour),
                ("ego path", ego_colour),
                ("vehicles", vehicle),
                ("pedestrians", pedestrian),
                ("infraction (numbered)", red),
            ];
            for (label, colour) in items {
                root.draw(&Rectangle::new(
                    [(x, y + 3), (x + 18, y + 11)],
                    colour.filled(),
                ))
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                root.draw(&Text::new(
                    label,
                    (x + 24, y - 1),
                    ("sans-serif", 14).into_font(),
                ))
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                x += 30 + 8 * label.len() as i32;
            }
            if map.is_none() {
                root.draw(&Text::new(
                    format!("map {:?} not found: no roads drawn", record.map),
                    (x + 10, y - 1),
                    ("sans-serif", 14).into_font().color(&red),
                ))
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            }
        }
        root.present().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    }
    let img = image::RgbImage::from_raw(w, h, buf)
        .ok_or_else(|| anyhow::anyhow!("top-down buffer has the wrong size"))?;
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .context("encoding the top-down PNG")?;
    Ok(png)
}

#[cfg(test)]
mod tests {
    use super::*;
    use atlas_proto::scenario::{ActorTrack, Scores, TraceEvent};

    fn trace() -> Trace {
        Trace {
            map: "none".into(),
            ego_actor_id: 1,
            times: vec![0.0, 0.1, 0.2],
            tracks: vec![
                ActorTrack {
                    actor_id: 1,
                    kind: "vehicle".into(),
                    role: "ego".into(),
                    name: "ego".into(),
                    steps: vec![0, 1, 2],
                    x: vec![0.0, 1.0, 2.0],
                    y: vec![0.0, 0.0, 0.0],
                    z: vec![0.0; 3],
                    heading: vec![0.0; 3],
                    speed: vec![10.0; 3],
                },
                ActorTrack {
                    actor_id: 5,
                    kind: "pedestrian".into(),
                    role: "npc".into(),
                    name: "walker, 1".into(),
                    steps: vec![1, 2],
                    x: vec![5.0, 5.0],
                    y: vec![3.0, 2.0],
                    z: vec![0.0; 2],
                    heading: vec![-1.57; 2],
                    speed: vec![1.0; 2],
                },
            ],
            events: vec![TraceEvent {
                sim_time_s: 0.2,
                kind: "collisions_pedestrian".into(),
                message: "Agent collided against pedestrian".into(),
                actor_id: 1,
                other_actor_id: 5,
                x: 2.0,
                y: 0.0,
                infraction: true,
            }],
            route_x: vec![0.0, 10.0],
            route_y: vec![0.0, 0.0],
            truncated: false,
        }
    }

    #[test]
    fn csv_rows_are_in_time_order_and_quoted() {
        let csv = trajectory_csv(&trace());
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "time,entity,actor_id,kind,role,x,y,z,heading,speed"
        );
        assert_eq!(lines.len(), 1 + 5);
        assert!(lines[1].starts_with("0.000,ego,1,vehicle,ego,0.000"));
        assert!(
            lines[3].starts_with("0.100,\"walker, 1\",5,pedestrian"),
            "{}",
            lines[3]
        );
        assert!(lines[5].starts_with("0.200,\"walker, 1\""));
    }

    #[test]
    fn writes_every_artifact() {
        let dir = tempfile::tempdir().unwrap();
        let record = RouteRecord {
            index: 3,
            route_id: "route/7".into(),
            status: "Completed".into(),
            map: "none".into(),
            scores: Some(Scores {
                score_route: 100.0,
                score_penalty: 0.5,
                score_composed: 50.0,
            }),
            ..Default::default()
        };
        let out = write_run_with_map(dir.path(), &record, &trace(), None).unwrap();
        assert_eq!(out, dir.path().join("3_route_7"));
        let events = std::fs::read_to_string(out.join("events.jsonl")).unwrap();
        let first: serde_json::Value =
            serde_json::from_str(events.lines().next().unwrap()).unwrap();
        assert_eq!(first["kind"], "collisions_pedestrian");
        assert_eq!(first["infraction"], true);
        let png = image::open(out.join("topdown.png")).unwrap().to_rgb8();
        assert!(png.width() >= 480);
        // The infraction mark is drawn in red somewhere.
        assert!(png.pixels().any(|p| p.0 == [220, 20, 20]));
        let rec: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("record.json")).unwrap()).unwrap();
        assert_eq!(rec["status"], "Completed");
    }
}
