//! Reference-line evaluation: position, heading and curvature at any `s` of
//! a road's plan view.
//!
//! Lines and arcs are closed-form. Spirals (clothoids) are integrated with
//! 5-point Gauss–Legendre from precomputed knots every [`KNOT`] metres, which
//! is accurate to far below a micrometre for road curvatures. poly3 and
//! paramPoly3 are parametric curves whose parameter is not arc length, while
//! OpenDRIVE's `s` is: both map `s` to their parameter through an
//! [`ArcTable`] (cumulative arc length at knots of the parameter, refined by
//! Newton steps on the arc-length integral).

use crate::math::{Vec2, gauss5};
use crate::opendrive::{Geometry, GeometryKind, ParamRange};

/// Knot spacing for numerically integrated shapes, metres.
const KNOT: f64 = 2.0;

/// A point on the reference line.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RefPoint {
    pub pos: Vec2,
    /// Tangent direction, radians.
    pub hdg: f64,
    /// Signed curvature (positive turns left), 1/m.
    pub kappa: f64,
}

#[derive(Clone, Debug)]
enum Shape {
    Line,
    Arc {
        k: f64,
    },
    Spiral {
        k0: f64,
        /// Curvature change per metre.
        dk: f64,
        /// Local positions at every KNOT metres.
        knots: Vec<Vec2>,
    },
    Poly3 {
        c: [f64; 4],
        /// Arc length at knots every KNOT metres of u.
        table: ArcTable,
    },
    ParamPoly3 {
        u: [f64; 4],
        v: [f64; 4],
        /// Arc length at knots of p over its range (`[0, 1]` normalised,
        /// `[0, length]` for arcLength).
        table: ArcTable,
    },
}

/// Arc length of a parametric curve tabulated at knots of its parameter,
/// for the inverse map arc length → parameter.
#[derive(Clone, Debug)]
struct ArcTable {
    /// (parameter, arc length from the start) pairs, both increasing.
    knots: Vec<(f64, f64)>,
}

/// Newton steps after the first guess in [`ArcTable::param_at`]; each
/// roughly squares the relative error, which starts below 1e-3 for road
/// geometry between knots a couple of metres apart.
const NEWTON_STEPS: usize = 4;

impl ArcTable {
    /// Tabulates `speed` (|dP/dp|) over `[0, end]` in `n` equal steps.
    fn over(end: f64, n: usize, speed: &dyn Fn(f64) -> f64) -> Self {
        let n = n.max(1);
        let mut knots = Vec::with_capacity(n + 1);
        knots.push((0.0, 0.0));
        let mut s = 0.0;
        for i in 0..n {
            let a = end * i as f64 / n as f64;
            let b = end * (i + 1) as f64 / n as f64;
            s += arc(speed, a, b);
            knots.push((b, s));
        }
        Self { knots }
    }

    /// Tabulates `speed` in steps of `step` of the parameter until the arc
    /// length reaches `length` (for curves whose parameter range is open,
    /// like poly3's `u`).
    fn until(length: f64, step: f64, speed: &dyn Fn(f64) -> f64) -> Self {
        let mut knots = vec![(0.0, 0.0)];
        let (mut p, mut s) = (0.0, 0.0);
        while s < length && knots.len() < 1_000_000 {
            s += arc(speed, p, p + step);
            p += step;
            knots.push((p, s));
        }
        Self { knots }
    }

    /// The parameter at arc length `ds` from the start: the knot interval
    /// holding `ds`, a first guess from the speed at its start, then Newton
    /// steps on `arc(p0, p) - (ds - s0)` whose derivative is the speed.
    /// Beyond the last knot the curve is followed on past its range.
    fn param_at(&self, ds: f64, speed: &dyn Fn(f64) -> f64) -> f64 {
        let i = self
            .knots
            .partition_point(|(_, s)| *s <= ds)
            .saturating_sub(1)
            .min(self.knots.len() - 1);
        let (p0, s0) = self.knots[i];
        let target = ds - s0;
        if target == 0.0 {
            return p0;
        }
        let mut p = p0 + target / speed(p0).max(1e-9);
        if let Some(&(p1, s1)) = self.knots.get(i + 1)
            && s1 > s0
        {
            // Interpolating inside the interval is the better first guess
            // when the speed changes along it.
            p = p0 + (p1 - p0) * target / (s1 - s0);
        }
        for _ in 0..NEWTON_STEPS {
            let f = arc(speed, p0, p) - target;
            let step = f / speed(p).max(1e-9);
            p -= step;
            if step.abs() <= 1e-15 * p.abs().max(1.0) {
                break;
            }
        }
        p
    }
}

/// Arc length of a curve with parametric `speed` between `a` and `b`.
fn arc(speed: &dyn Fn(f64) -> f64, a: f64, b: f64) -> f64 {
    gauss5(a, b, |p| [speed(p), 0.0])[0]
}

/// One plan-view record, ready to evaluate.
#[derive(Clone, Debug)]
struct Segment {
    s0: f64,
    origin: Vec2,
    hdg: f64,
    length: f64,
    shape: Shape,
}

/// A road's reference line.
#[derive(Clone, Debug)]
pub struct RefLine {
    segments: Vec<Segment>,
}

fn cubic(c: &[f64; 4], x: f64) -> f64 {
    c[0] + x * (c[1] + x * (c[2] + x * c[3]))
}

fn cubic_d1(c: &[f64; 4], x: f64) -> f64 {
    c[1] + x * (2.0 * c[2] + x * 3.0 * c[3])
}

fn cubic_d2(c: &[f64; 4], x: f64) -> f64 {
    2.0 * c[2] + x * 6.0 * c[3]
}

/// Local position along a spiral that starts at the origin heading +x.
fn spiral_local(k0: f64, dk: f64, a: f64, b: f64) -> Vec2 {
    let r = gauss5(a, b, |u| {
        let th = k0 * u + 0.5 * dk * u * u;
        let (s, c) = th.sin_cos();
        [c, s]
    });
    Vec2::new(r[0], r[1])
}

/// |d(u, v)/du| of poly3's `v(u)`.
fn poly3_speed(c: &[f64; 4], u: f64) -> f64 {
    cubic_d1(c, u).hypot(1.0)
}

/// |d(u, v)/dp| of paramPoly3's `u(p)`, `v(p)`.
fn param_poly3_speed(u: &[f64; 4], v: &[f64; 4], p: f64) -> f64 {
    cubic_d1(u, p).hypot(cubic_d1(v, p))
}

impl Segment {
    fn new(g: &Geometry) -> Self {
        let shape = match g.kind {
            GeometryKind::Line => Shape::Line,
            GeometryKind::Arc { curvature } => Shape::Arc { k: curvature },
            GeometryKind::Spiral {
                curv_start,
                curv_end,
            } => {
                let dk = if g.length > 0.0 {
                    (curv_end - curv_start) / g.length
                } else {
                    0.0
                };
                let n = (g.length / KNOT).ceil() as usize;
                let mut knots = Vec::with_capacity(n + 1);
                let mut acc = Vec2::default();
                knots.push(acc);
                for i in 0..n {
                    let a = i as f64 * KNOT;
                    let b = ((i + 1) as f64 * KNOT).min(g.length);
                    acc = acc + spiral_local(curv_start, dk, a, b);
                    knots.push(acc);
                }
                Shape::Spiral {
                    k0: curv_start,
                    dk,
                    knots,
                }
            }
            GeometryKind::Poly3 { a, b, c, d } => {
                let c = [a, b, c, d];
                // u advances at most as fast as s; stop once past the end.
                let table = ArcTable::until(g.length, KNOT, &|u| poly3_speed(&c, u));
                Shape::Poly3 { c, table }
            }
            GeometryKind::ParamPoly3 { u, v, range } => {
                let end = match range {
                    ParamRange::ArcLength => g.length,
                    ParamRange::Normalized => 1.0,
                };
                let n = (g.length / KNOT).ceil() as usize;
                let table = ArcTable::over(end, n, &|p| param_poly3_speed(&u, &v, p));
                Shape::ParamPoly3 { u, v, table }
            }
        };
        Segment {
            s0: g.s,
            origin: Vec2::new(g.x, g.y),
            hdg: g.hdg,
            length: g.length,
            shape,
        }
    }

    /// Local frame: origin at the segment start, +x along its start heading.
    /// Returns (local position, local heading, curvature).
    fn local(&self, ds: f64) -> (Vec2, f64, f64) {
        match &self.shape {
            Shape::Line => (Vec2::new(ds, 0.0), 0.0, 0.0),
            Shape::Arc { k } => {
                let th = k * ds;
                // Chord length 2·sin(θ/2)/k written to stay exact as k → 0.
                let half = 0.5 * th;
                let chord = if half.abs() < 1e-8 {
                    ds * (1.0 - half * half / 6.0)
                } else {
                    ds * half.sin() / half
                };
                let (s, c) = half.sin_cos();
                (Vec2::new(chord * c, chord * s), th, *k)
            }
            Shape::Spiral { k0, dk, knots } => {
                let i = ((ds / KNOT).floor().max(0.0) as usize).min(knots.len() - 1);
                let a = i as f64 * KNOT;
                let p = knots[i] + spiral_local(*k0, *dk, a, ds);
                (p, k0 * ds + 0.5 * dk * ds * ds, k0 + dk * ds)
            }
            Shape::Poly3 { c, table } => {
                let u = table.param_at(ds, &|u| poly3_speed(c, u));
                let d1 = cubic_d1(c, u);
                let d2 = cubic_d2(c, u);
                let kappa = d2 / (1.0 + d1 * d1).powf(1.5);
                (Vec2::new(u, cubic(c, u)), d1.atan(), kappa)
            }
            Shape::ParamPoly3 { u, v, table } => {
                let p = table.param_at(ds, &|p| param_poly3_speed(u, v, p));
                let du = cubic_d1(u, p);
                let dv = cubic_d1(v, p);
                let ddu = cubic_d2(u, p);
                let ddv = cubic_d2(v, p);
                let n = du * du + dv * dv;
                let kappa = if n > 0.0 {
                    (du * ddv - dv * ddu) / n.powf(1.5)
                } else {
                    0.0
                };
                let hdg = if n > 0.0 { dv.atan2(du) } else { 0.0 };
                (Vec2::new(cubic(u, p), cubic(v, p)), hdg, kappa)
            }
        }
    }

    fn eval(&self, ds: f64) -> RefPoint {
        let (p, th, kappa) = self.local(ds);
        let (s, c) = self.hdg.sin_cos();
        RefPoint {
            pos: Vec2::new(
                self.origin.x + c * p.x - s * p.y,
                self.origin.y + s * p.x + c * p.y,
            ),
            hdg: self.hdg + th,
            kappa,
        }
    }
}

impl RefLine {
    /// Builds the evaluable reference line of a plan view (records sorted
    /// by `s`, as the reader leaves them).
    pub fn new(plan_view: &[Geometry]) -> Self {
        Self {
            segments: plan_view.iter().map(Segment::new).collect(),
        }
    }

    /// The reference line at `s` (clamped into the plan view).
    pub fn eval(&self, s: f64) -> RefPoint {
        let i = self
            .segments
            .partition_point(|g| g.s0 <= s)
            .saturating_sub(1);
        let seg = &self.segments[i];
        let ds = (s - seg.s0).clamp(0.0, seg.length.max(0.0));
        seg.eval(ds)
    }

    /// The `s` at which each plan-view record starts.
    pub fn breaks(&self) -> impl Iterator<Item = f64> + '_ {
        self.segments.iter().map(|g| g.s0)
    }

    /// Largest |curvature| of the segment covering `s` (used to choose
    /// sampling steps).
    pub fn max_curvature_near(&self, s: f64) -> f64 {
        let i = self
            .segments
            .partition_point(|g| g.s0 <= s)
            .saturating_sub(1);
        let seg = &self.segments[i];
        match &seg.shape {
            Shape::Line => 0.0,
            Shape::Arc { k } => k.abs(),
            Shape::Spiral { k0, dk, .. } => k0.abs().max((k0 + dk * seg.length).abs()),
            _ => {
                let n = 8;
                (0..=n)
                    .map(|j| seg.local(seg.length * j as f64 / n as f64).2.abs())
                    .fold(0.0, f64::max)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    fn geom(kind: GeometryKind, x: f64, y: f64, hdg: f64, length: f64) -> Geometry {
        Geometry {
            s: 0.0,
            x,
            y,
            hdg,
            length,
            kind,
            line: 1,
        }
    }

    #[test]
    fn line_is_exact() {
        let rl = RefLine::new(&[geom(GeometryKind::Line, 3.0, -2.0, PI / 6.0, 100.0)]);
        let p = rl.eval(10.0);
        assert!((p.pos.x - (3.0 + 10.0 * (PI / 6.0).cos())).abs() < 1e-12);
        assert!((p.pos.y - (-2.0 + 5.0)).abs() < 1e-12);
        assert_eq!(p.kappa, 0.0);
    }

    #[test]
    fn arc_is_exact() {
        // Quarter circle of radius 20 starting at (0, 0) heading +x, turning
        // left: centre (0, 20), ends at (20, 20) heading +y.
        let r = 20.0;
        let rl = RefLine::new(&[geom(
            GeometryKind::Arc { curvature: 1.0 / r },
            0.0,
            0.0,
            0.0,
            PI * r / 2.0,
        )]);
        let end = rl.eval(PI * r / 2.0);
        assert!((end.pos.x - 20.0).abs() < 1e-9, "{end:?}");
        assert!((end.pos.y - 20.0).abs() < 1e-9, "{end:?}");
        assert!((end.hdg - PI / 2.0).abs() < 1e-12);
        // Any point is on the circle.
        for i in 0..=30 {
            let s = i as f64;
            let p = rl.eval(s);
            let d = (p.pos - Vec2::new(0.0, 20.0)).length();
            assert!((d - r).abs() < 1e-9);
            let th = s / r;
            assert!((p.pos.x - r * th.sin()).abs() < 1e-9);
            assert!((p.pos.y - r * (1.0 - th.cos())).abs() < 1e-9);
        }
        // Right turn.
        let rl = RefLine::new(&[geom(
            GeometryKind::Arc { curvature: -0.1 },
            0.0,
            0.0,
            PI / 2.0,
            20.0,
        )]);
        let p = rl.eval(PI * 5.0);
        assert!((p.pos.x - 10.0).abs() < 1e-9 && (p.pos.y - 10.0).abs() < 1e-9);
        // A nearly straight arc stays continuous with a line.
        let rl = RefLine::new(&[geom(
            GeometryKind::Arc { curvature: 1e-14 },
            0.0,
            0.0,
            0.0,
            50.0,
        )]);
        assert!((rl.eval(50.0).pos.x - 50.0).abs() < 1e-9);
    }

    #[test]
    fn spiral_matches_reference_endpoint() {
        // From the ALKS "different curvatures" road: a 100 m clothoid from
        // curvature 0 to 0.004 starting at (500, 0) heading 0 ends where the
        // next record starts.
        let mut g = geom(
            GeometryKind::Spiral {
                curv_start: 0.0,
                curv_end: 0.004,
            },
            500.0,
            0.0,
            0.0,
            100.0,
        );
        g.s = 500.0;
        let rl = RefLine::new(&[g]);
        let end = rl.eval(600.0);
        assert!((end.pos.x - 599.600_740_057_353_4).abs() < 1e-6, "{end:?}");
        assert!((end.pos.y - 6.647_643_273_119_5).abs() < 1e-6, "{end:?}");
        assert!((end.hdg - 0.2).abs() < 1e-12);
        assert!((end.kappa - 0.004).abs() < 1e-15);
    }

    #[test]
    fn poly3_and_param_poly3_straight_lines() {
        // v(u) = 0.5·u is a line at atan(0.5).
        let rl = RefLine::new(&[geom(
            GeometryKind::Poly3 {
                a: 0.0,
                b: 0.5,
                c: 0.0,
                d: 0.0,
            },
            1.0,
            1.0,
            0.0,
            20.0,
        )]);
        let p = rl.eval(10.0);
        let dir = Vec2::from_angle(0.5f64.atan());
        assert!(
            (p.pos - (Vec2::new(1.0, 1.0) + dir * 10.0)).length() < 1e-9,
            "{p:?}"
        );
        // paramPoly3 u(p) = p (normalised over 20 m: u = 20p).
        let rl = RefLine::new(&[geom(
            GeometryKind::ParamPoly3 {
                u: [0.0, 20.0, 0.0, 0.0],
                v: [0.0; 4],
                range: ParamRange::Normalized,
            },
            0.0,
            0.0,
            PI / 2.0,
            20.0,
        )]);
        let p = rl.eval(5.0);
        assert!(p.pos.x.abs() < 1e-12 && (p.pos.y - 5.0).abs() < 1e-12);
        assert!((p.hdg - PI / 2.0).abs() < 1e-12);
    }

    #[test]
    fn param_poly3_circle_approximation_has_curvature() {
        // A cubic approximating a gentle left curve: v = 0.01·p².
        let rl = RefLine::new(&[geom(
            GeometryKind::ParamPoly3 {
                u: [0.0, 1.0, 0.0, 0.0],
                v: [0.0, 0.0, 0.01, 0.0],
                range: ParamRange::ArcLength,
            },
            0.0,
            0.0,
            0.0,
            10.0,
        )]);
        let p = rl.eval(0.0);
        assert!((p.kappa - 0.02).abs() < 1e-12);
    }

    #[test]
    fn poly3_and_param_poly3_move_at_unit_speed_in_s() {
        // OpenDRIVE's s is arc length: a step ds along the reference line
        // covers ds metres, whatever the parameter does.
        let shapes = [
            (
                GeometryKind::Poly3 {
                    a: 0.0,
                    b: 0.1,
                    c: 0.01,
                    d: -0.0002,
                },
                60.0,
            ),
            (
                GeometryKind::ParamPoly3 {
                    u: [0.0, 40.0, -4.0, 1.5],
                    v: [0.0, 0.0, 12.0, -3.0],
                    range: ParamRange::Normalized,
                },
                38.825,
            ),
            (
                GeometryKind::ParamPoly3 {
                    u: [0.0, 1.0, -0.002, 0.0],
                    v: [0.0, 0.0, 0.01, -0.0001],
                    range: ParamRange::ArcLength,
                },
                50.0,
            ),
        ];
        for (kind, length) in shapes {
            let rl = RefLine::new(&[geom(kind.clone(), 0.0, 0.0, 0.4, length)]);
            let h = 1e-4;
            for i in 0..50 {
                let s = (length - h) * i as f64 / 49.0;
                let d = (rl.eval(s + h).pos - rl.eval(s).pos).length();
                assert!(
                    (d / h - 1.0).abs() < 1e-6,
                    "{kind:?} at {s}: speed {}",
                    d / h
                );
            }
        }
    }
}
