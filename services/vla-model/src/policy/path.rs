//! A smooth planar curve through route points, parametrised by (chord) arc
//! length and continued straight beyond both ends, with projection, heading
//! and curvature: the geometry under [`super::RouteFollower`].
//!
//! Between consecutive points the curve is a cubic Hermite segment whose end
//! tangents bisect the neighbouring chords. Following the chords themselves
//! would cut every corner of a sampled arc (by a couple of centimetres for
//! 2 m spacing on a 30 m radius), which a closed loop that replans from
//! where it ended up turns into a steady drift to the inside.

use atlas_geometry::wrap_angle;

/// A 2-D point or direction in the local frame's x/y plane.
pub type P2 = [f64; 2];

fn sub(a: P2, b: P2) -> P2 {
    [a[0] - b[0], a[1] - b[1]]
}

fn dot(a: P2, b: P2) -> f64 {
    a[0] * b[0] + a[1] * b[1]
}

fn cross(a: P2, b: P2) -> f64 {
    a[0] * b[1] - a[1] * b[0]
}

fn norm(a: P2) -> f64 {
    a[0].hypot(a[1])
}

fn unit(heading: f64) -> P2 {
    [heading.cos(), heading.sin()]
}

/// Points closer than this are merged, so no segment is too short to give a
/// direction.
const MIN_SEGMENT_M: f64 = 0.05;

/// Largest correction (rad) of the start tangent extrapolated from the
/// first turn, so a hairpin at the start cannot swing it around.
const MAX_START_CORRECTION: f64 = 0.5;

/// A curve through at least two distinct points.
#[derive(Clone, Debug)]
pub struct Path {
    points: Vec<P2>,
    /// Chord arc length at each point (`cum[0] == 0`).
    cum: Vec<f64>,
    /// Unit tangent at each point.
    tangents: Vec<P2>,
    /// Unsigned curvature at each point (1/m).
    curvature: Vec<f64>,
}

impl Path {
    /// Builds a path through `points`, skipping non-finite ones and merging
    /// near duplicates. `None` when fewer than two distinct points remain.
    pub fn new(points: impl IntoIterator<Item = P2>) -> Option<Path> {
        let mut pts: Vec<P2> = Vec::new();
        for p in points {
            if !(p[0].is_finite() && p[1].is_finite()) {
                continue;
            }
            match pts.last() {
                Some(&last) if norm(sub(p, last)) < MIN_SEGMENT_M => {}
                _ => pts.push(p),
            }
        }
        if pts.len() < 2 {
            return None;
        }
        let mut cum = Vec::with_capacity(pts.len());
        cum.push(0.0);
        let mut seg = Vec::with_capacity(pts.len() - 1);
        for w in pts.windows(2) {
            let d = sub(w[1], w[0]);
            cum.push(cum[cum.len() - 1] + norm(d));
            seg.push(d[1].atan2(d[0]));
        }
        let n = seg.len();
        let mut headings = Vec::with_capacity(n + 1);
        headings.push(seg[0]);
        for i in 1..n {
            headings.push(wrap_angle(
                seg[i - 1] + 0.5 * wrap_angle(seg[i] - seg[i - 1]),
            ));
        }
        headings.push(seg[n - 1]);
        if n > 1 {
            // On a sampled arc the first chord leads the tangent at the
            // first point by half the turn at the next one.
            let half_turn = wrap_angle(headings[1] - seg[0]);
            headings[0] =
                wrap_angle(seg[0] - half_turn.clamp(-MAX_START_CORRECTION, MAX_START_CORRECTION));
        }
        let mut curvature = vec![0.0; pts.len()];
        for i in 1..pts.len() - 1 {
            // Menger curvature of three consecutive points.
            let (a, b, c) = (pts[i - 1], pts[i], pts[i + 1]);
            let area2 = cross(sub(b, a), sub(c, b)).abs();
            let denom = norm(sub(b, a)) * norm(sub(c, b)) * norm(sub(c, a));
            curvature[i] = if denom > 0.0 {
                2.0 * area2 / denom
            } else {
                // a == c: the route doubles back on itself.
                2.0 / norm(sub(b, a)).max(MIN_SEGMENT_M)
            };
        }
        // The end points see only one turn; the curve keeps bending there
        // as much as next to them.
        let last = curvature.len() - 1;
        if last >= 2 {
            curvature[0] = curvature[1];
            curvature[last] = curvature[last - 1];
        }
        Some(Path {
            points: pts,
            cum,
            tangents: headings.into_iter().map(unit).collect(),
            curvature,
        })
    }

    /// A straight line from `start` along `heading` (radians from +x).
    pub fn ray(start: P2, heading: f64) -> Path {
        let d = unit(heading);
        Path {
            points: vec![start, [start[0] + 10.0 * d[0], start[1] + 10.0 * d[1]]],
            cum: vec![0.0, 10.0],
            tangents: vec![d, d],
            curvature: vec![0.0, 0.0],
        }
    }

    /// Arc length of the curve between its first and last point.
    pub fn length(&self) -> f64 {
        self.cum[self.cum.len() - 1]
    }

    /// Index of the segment holding arc length `s` (clamped to the first
    /// and last).
    fn segment(&self, s: f64) -> usize {
        let i = self.cum.partition_point(|&c| c <= s);
        i.saturating_sub(1).min(self.points.len() - 2)
    }

    /// Position and (unnormalised) derivative of segment `i` at parameter
    /// `t` in [0, 1].
    fn hermite(&self, i: usize, t: f64) -> (P2, P2) {
        let (p0, p1) = (self.points[i], self.points[i + 1]);
        let l = self.cum[i + 1] - self.cum[i];
        let (m0, m1) = (self.tangents[i], self.tangents[i + 1]);
        let (t2, t3) = (t * t, t * t * t);
        let h00 = 2.0 * t3 - 3.0 * t2 + 1.0;
        let h10 = t3 - 2.0 * t2 + t;
        let h01 = -2.0 * t3 + 3.0 * t2;
        let h11 = t3 - t2;
        let d00 = 6.0 * t2 - 6.0 * t;
        let d10 = 3.0 * t2 - 4.0 * t + 1.0;
        let d01 = -6.0 * t2 + 6.0 * t;
        let d11 = 3.0 * t2 - 2.0 * t;
        let at = |k: usize| {
            [
                h00 * p0[k] + h10 * l * m0[k] + h01 * p1[k] + h11 * l * m1[k],
                d00 * p0[k] + d10 * l * m0[k] + d01 * p1[k] + d11 * l * m1[k],
            ]
        };
        let (x, y) = (at(0), at(1));
        ([x[0], y[0]], [x[1], y[1]])
    }

    /// The point at arc length `s`; before the start and after the end the
    /// path continues straight along its end tangents.
    pub fn point_at(&self, s: f64) -> P2 {
        if s <= 0.0 {
            let (p, d) = (self.points[0], self.tangents[0]);
            return [p[0] + d[0] * s, p[1] + d[1] * s];
        }
        let len = self.length();
        if s >= len {
            let last = self.points.len() - 1;
            let (p, d) = (self.points[last], self.tangents[last]);
            return [p[0] + d[0] * (s - len), p[1] + d[1] * (s - len)];
        }
        let i = self.segment(s);
        let t = (s - self.cum[i]) / (self.cum[i + 1] - self.cum[i]);
        self.hermite(i, t).0
    }

    /// Heading of the curve (rad) at arc length `s`.
    pub fn heading_at(&self, s: f64) -> f64 {
        let d = self.direction_at(s);
        d[1].atan2(d[0])
    }

    /// Unit tangent at arc length `s`.
    pub fn direction_at(&self, s: f64) -> P2 {
        if s <= 0.0 {
            return self.tangents[0];
        }
        if s >= self.length() {
            return self.tangents[self.tangents.len() - 1];
        }
        let i = self.segment(s);
        let t = (s - self.cum[i]) / (self.cum[i + 1] - self.cum[i]);
        let d = self.hermite(i, t).1;
        let n = norm(d);
        if n > 1e-9 {
            [d[0] / n, d[1] / n]
        } else {
            self.tangents[i]
        }
    }

    /// Unsigned curvature at arc length `s`, interpolated between points;
    /// zero on the straight extensions.
    pub fn curvature_at(&self, s: f64) -> f64 {
        if s <= 0.0 || s >= self.length() {
            return 0.0;
        }
        let i = self.segment(s);
        let t = (s - self.cum[i]) / (self.cum[i + 1] - self.cum[i]);
        self.curvature[i] * (1.0 - t) + self.curvature[i + 1] * t
    }

    /// The arc length of the point of the path nearest to `p`, found on the
    /// chords and the two straight extensions (the curve stays within a few
    /// centimetres of its chords at route spacings).
    pub fn project(&self, p: P2) -> f64 {
        let len = self.length();
        let last = self.points.len() - 1;
        // The extensions: s ≤ 0 along the start tangent, s ≥ len along the end one.
        let before = dot(sub(p, self.points[0]), self.tangents[0]).min(0.0);
        let after = dot(sub(p, self.points[last]), self.tangents[last]).max(0.0);
        let mut best = (norm(sub(p, self.point_at(before))), before);
        let end = (norm(sub(p, self.point_at(len + after))), len + after);
        if end.0 < best.0 {
            best = end;
        }
        for i in 0..last {
            let (a, b) = (self.points[i], self.points[i + 1]);
            let l = self.cum[i + 1] - self.cum[i];
            let d = [(b[0] - a[0]) / l, (b[1] - a[1]) / l];
            let t = dot(sub(p, a), d).clamp(0.0, l);
            let q = [a[0] + d[0] * t, a[1] + d[1] * t];
            let dist = norm(sub(p, q));
            if dist < best.0 {
                best = (dist, self.cum[i] + t);
            }
        }
        best.1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_two_distinct_finite_points() {
        assert!(Path::new([[0.0, 0.0]]).is_none());
        assert!(Path::new([[0.0, 0.0], [0.01, 0.0]]).is_none());
        assert!(Path::new([[0.0, 0.0], [f64::NAN, 1.0]]).is_none());
        assert!(Path::new([[0.0, 0.0], [1.0, 0.0]]).is_some());
    }

    #[test]
    fn straight_path_extends_both_ways() {
        let p = Path::new([[0.0, 0.0], [2.0, 0.0], [4.0, 0.0]]).unwrap();
        assert_eq!(p.length(), 4.0);
        assert_eq!(p.point_at(-1.0), [-1.0, 0.0]);
        assert!((p.point_at(3.0)[0] - 3.0).abs() < 1e-12);
        assert_eq!(p.point_at(10.0), [10.0, 0.0]);
        assert_eq!(p.curvature_at(2.0), 0.0);
        assert_eq!(p.heading_at(2.5), 0.0);
        assert_eq!(p.project([-5.0, 1.0]), -5.0);
        assert_eq!(p.project([1.5, -0.3]), 1.5);
        assert_eq!(p.project([9.0, 2.0]), 9.0);
    }

    #[test]
    fn follows_a_sampled_circle() {
        let r = 30.0;
        let step = 2.0 / r;
        let pts = (0..40).map(|i| {
            let a = f64::from(i) * step;
            [r * a.sin(), r * (1.0 - a.cos())]
        });
        let p = Path::new(pts).unwrap();
        let k = p.curvature_at(p.length() / 2.0);
        assert!((k - 1.0 / r).abs() < 1e-3, "curvature {k}");
        let mut s = 0.0;
        while s < p.length() - 2.0 {
            let q = p.point_at(s);
            let off = q[0].hypot(q[1] - r) - r;
            assert!(off.abs() < 1e-3, "{off} m off the circle at {s}");
            let tangent = q[0].atan2(r - q[1]);
            let h = p.heading_at(s);
            assert!(
                (h - tangent).abs() < 2e-3,
                "heading {h} at {s}, tangent {tangent}"
            );
            s += 0.1;
        }
    }

    #[test]
    fn a_hairpin_does_not_break_anything() {
        let p = Path::new([[0.0, 0.0], [2.0, 0.0], [0.0, 0.1]]).unwrap();
        for k in -10..60 {
            let s = f64::from(k) * 0.1;
            let q = p.point_at(s);
            assert!(q[0].is_finite() && q[1].is_finite() && p.heading_at(s).is_finite());
        }
        assert!(p.curvature_at(2.0) > 0.5);
    }
}
