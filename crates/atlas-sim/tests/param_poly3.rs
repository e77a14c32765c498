//! paramPoly3 reference lines against an independent evaluator.
//!
//! OpenDRIVE's `s` is arc length. The evaluator here finds the polynomial
//! parameter for an `s` by a different method from the simulator's (which
//! uses Gauss–Legendre knots and Newton steps): a dense cumulative
//! trapezoid sum of the curve's speed at 1 mm parameter steps, searched by
//! bisection and interpolated linearly inside the step. Lane centres are
//! then placed from the parsed lane offsets and widths with a cubic
//! evaluator of its own, and compared with [`Map::lane_pose`] along and
//! across the lane.

use std::path::{Path, PathBuf};

use atlas_sim::map::{LanePosition, Map};
use atlas_sim::opendrive::{Geometry, GeometryKind, ParamRange, Road};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn poly(c: &[f64; 4], p: f64) -> f64 {
    ((c[3] * p + c[2]) * p + c[1]) * p + c[0]
}

fn dpoly(c: &[f64; 4], p: f64) -> f64 {
    (3.0 * c[3] * p + 2.0 * c[2]) * p + c[1]
}

/// A paramPoly3 record with its arc length tabulated densely.
struct Dense {
    g: Geometry,
    u: [f64; 4],
    v: [f64; 4],
    /// Parameter step.
    h: f64,
    /// Cumulative arc length at p = i·h.
    cum: Vec<f64>,
}

impl Dense {
    fn new(g: &Geometry) -> Self {
        let GeometryKind::ParamPoly3 { u, v, range } = g.kind else {
            panic!("not a paramPoly3");
        };
        let pmax = match range {
            ParamRange::ArcLength => g.length,
            ParamRange::Normalized => 1.0,
        };
        // 1 mm of parameter per step on arc-length records, the same
        // number of steps on normalised ones; a little beyond the end so
        // that an s at the end of a slightly long record still lands.
        let n = ((g.length / 1e-3).ceil() as usize).max(1000);
        let h = pmax / n as f64;
        let speed = |p: f64| dpoly(&u, p).hypot(dpoly(&v, p));
        let mut cum = Vec::with_capacity(n + 100);
        cum.push(0.0);
        let mut prev = speed(0.0);
        for i in 1..=(n + n / 100 + 2) {
            let next = speed(i as f64 * h);
            cum.push(cum[i - 1] + 0.5 * h * (prev + next));
            prev = next;
        }
        Self {
            g: g.clone(),
            u,
            v,
            h,
            cum,
        }
    }

    /// The parameter at arc length `ds` from the record's start.
    fn param(&self, ds: f64) -> f64 {
        // Bisection for the last table entry not beyond ds.
        let (mut lo, mut hi) = (0usize, self.cum.len() - 1);
        assert!(self.cum[hi] >= ds, "the table ends before {ds}");
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            if self.cum[mid] <= ds {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let frac = (ds - self.cum[lo]) / (self.cum[hi] - self.cum[lo]);
        (lo as f64 + frac) * self.h
    }

    /// World position and heading of the reference line at `ds`.
    fn at(&self, ds: f64) -> ([f64; 2], f64) {
        let p = self.param(ds);
        let (lu, lv) = (poly(&self.u, p), poly(&self.v, p));
        let (su, sv) = (dpoly(&self.u, p), dpoly(&self.v, p));
        let (s, c) = self.g.hdg.sin_cos();
        (
            [self.g.x + c * lu - s * lv, self.g.y + s * lu + c * lv],
            self.g.hdg + sv.atan2(su),
        )
    }
}

/// Value of the piecewise cubic in `(s, a, b, c, d)` records at `s`.
fn piecewise(recs: &[(f64, [f64; 4])], s: f64) -> f64 {
    recs.iter()
        .rev()
        .find(|(s0, _)| *s0 <= s)
        .or(recs.first())
        .map_or(0.0, |(s0, c)| poly(c, s - s0))
}

/// Lateral position of the centre of every lane of `road` at `s`.
fn lane_centres(road: &Road, s: f64) -> Vec<(i32, f64)> {
    let offsets: Vec<_> = road
        .lane_offsets
        .iter()
        .map(|c| (c.s, [c.a, c.b, c.c, c.d]))
        .collect();
    let k = road
        .lane_sections
        .iter()
        .rposition(|ls| ls.s <= s)
        .unwrap_or(0);
    let ls = &road.lane_sections[k];
    let mut out = Vec::new();
    for (lanes, sign) in [(&ls.left, 1.0), (&ls.right, -1.0)] {
        let mut t = piecewise(&offsets, s);
        for lane in lanes {
            let widths: Vec<_> = lane
                .widths
                .iter()
                .map(|c| (c.s, [c.a, c.b, c.c, c.d]))
                .collect();
            let w = piecewise(&widths, s - ls.s).max(0.0);
            if w > 0.05 {
                out.push((lane.id, t + sign * 0.5 * w));
            }
            t += sign * w;
        }
    }
    out
}

/// Largest (along, across) deviation of lane centres, metres, over every
/// paramPoly3 record of the map, sampled every 0.25 m.
fn deviation(map: &Map) -> (f64, f64, usize) {
    let (mut along, mut across, mut n) = (0.0f64, 0.0f64, 0);
    for road in map.roads() {
        for g in &road.plan_view {
            if !matches!(g.kind, GeometryKind::ParamPoly3 { .. }) {
                continue;
            }
            let dense = Dense::new(g);
            let steps = (g.length / 0.25).ceil().max(1.0) as usize;
            for i in 0..=steps {
                let ds = g.length * i as f64 / steps as f64;
                let s = (g.s + ds).min(road.length);
                let ([x, y], hdg) = dense.at(s - g.s);
                let (sn, cs) = hdg.sin_cos();
                for (lane, t) in lane_centres(road, s) {
                    let pose = map
                        .lane_pose(&LanePosition {
                            road_id: road.id.clone(),
                            lane_id: lane,
                            s,
                            offset: 0.0,
                        })
                        .unwrap_or_else(|e| panic!("road {} lane {lane} s {s}: {e}", road.id));
                    let (ex, ey) = (x - sn * t, y + cs * t);
                    let (dx, dy) = (pose.x - ex, pose.y - ey);
                    along = along.max((dx * cs + dy * sn).abs());
                    across = across.max((-dx * sn + dy * cs).abs());
                    n += 1;
                }
            }
        }
    }
    (along, across, n)
}

#[test]
fn esmini_lane_centres_are_within_2_mm_of_the_arc_length_evaluator() {
    let mut failed = Vec::new();
    for name in ["fabriksgatan.xodr", "soderleden.xodr"] {
        let map = Map::from_file(&fixture(&format!("esmini/{name}"))).unwrap();
        let (along, across, n) = deviation(&map);
        println!(
            "{name}: {n} lane centres, max deviation along {:.3} mm, across {:.3} mm",
            along * 1e3,
            across * 1e3
        );
        assert!(n > 1000, "{name}: only {n} samples");
        if along >= 2e-3 || across >= 2e-3 {
            failed.push(format!("{name}: along {along} m, across {across} m"));
        }
    }
    assert!(failed.is_empty(), "{failed:?}");
}

#[test]
fn a_param_poly3_without_p_range_is_normalised_and_meets_the_next_record() {
    let map = Map::from_file(&fixture("normalized_no_prange.xodr")).unwrap();
    let road = &map.roads()[0];
    let [curve, line] = road.plan_view.as_slice() else {
        panic!("two records expected");
    };
    assert!(matches!(
        curve.kind,
        GeometryKind::ParamPoly3 {
            range: ParamRange::Normalized,
            ..
        }
    ));
    let rl = atlas_sim::map::geometry::RefLine::new(&road.plan_view);
    // The curve's own end, evaluated inside its record.
    let end = rl.eval(line.s - 1e-12);
    let gap = (end.pos.x - line.x).hypot(end.pos.y - line.y);
    assert!(gap < 1e-6, "the curve ends {gap} m from the line's start");
    assert!(
        (end.hdg - line.hdg).abs() < 1e-6,
        "{} vs {}",
        end.hdg,
        line.hdg
    );
    // The independent evaluator agrees all along the curve.
    let dense = Dense::new(curve);
    for i in 0..=40 {
        let ds = curve.length * i as f64 / 40.0;
        let ([x, y], hdg) = dense.at(ds);
        let p = rl.eval(ds.min(curve.length - 1e-12));
        assert!((p.pos.x - x).hypot(p.pos.y - y) < 1e-4, "at {ds}: {p:?}");
        assert!((p.hdg - hdg).abs() < 1e-6);
    }
    // Lane centres are continuous across the join.
    for lane in [-1, 1] {
        let at = |s: f64| {
            map.lane_pose(&LanePosition {
                road_id: "1".into(),
                lane_id: lane,
                s,
                offset: 0.0,
            })
            .unwrap()
        };
        let (a, b) = (at(line.s - 1e-9), at(line.s));
        assert!(
            (a.x - b.x).hypot(a.y - b.y) < 1e-6,
            "lane {lane}: {a:?} {b:?}"
        );
    }
}
