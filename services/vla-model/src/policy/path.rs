//! A planar polyline parametrised by arc length, extended straight beyond
//! both ends, with projection and curvature: the geometry under
//! [`super::RouteFollower`].

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

/// Points closer than this are merged, so no segment is too short to give a
/// direction.
const MIN_SEGMENT_M: f64 = 0.05;

/// A polyline of at least two distinct points.
#[derive(Clone, Debug)]
pub struct Path {
    points: Vec<P2>,
    /// Arc length at each point (`cum[0] == 0`).
    cum: Vec<f64>,
    /// Unit direction of each segment.
    dirs: Vec<P2>,
    /// Unsigned curvature at each point (1/m), zero at the ends.
    curvature: Vec<f64>,
}

impl Path {
    /// Builds a path through `points` (finite), merging near duplicates.
    /// `None` when fewer than two distinct points remain.
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
        let mut dirs = Vec::with_capacity(pts.len() - 1);
        cum.push(0.0);
        for w in pts.windows(2) {
            let d = sub(w[1], w[0]);
            let l = norm(d);
            cum.push(cum[cum.len() - 1] + l);
            dirs.push([d[0] / l, d[1] / l]);
        }
        let mut curvature = vec![0.0; pts.len()];
        for i in 1..pts.len() - 1 {
            // Menger curvature of the three consecutive points.
            let (a, b, c) = (pts[i - 1], pts[i], pts[i + 1]);
            let area2 = cross(sub(b, a), sub(c, b)).abs();
            let denom = norm(sub(b, a)) * norm(sub(c, b)) * norm(sub(c, a));
            curvature[i] = if denom > 0.0 {
                2.0 * area2 / denom
            } else {
                // a == c: the path doubles back on itself.
                2.0 / norm(sub(b, a)).max(MIN_SEGMENT_M)
            };
        }
        Some(Path {
            points: pts,
            cum,
            dirs,
            curvature,
        })
    }

    /// A straight line from `start` along `heading` (radians from +x).
    pub fn ray(start: P2, heading: f64) -> Path {
        let d = [heading.cos(), heading.sin()];
        Path {
            points: vec![start, [start[0] + 10.0 * d[0], start[1] + 10.0 * d[1]]],
            cum: vec![0.0, 10.0],
            dirs: vec![d],
            curvature: vec![0.0, 0.0],
        }
    }

    /// Arc length of the polyline itself (without the extensions).
    pub fn length(&self) -> f64 {
        self.cum[self.cum.len() - 1]
    }

    /// Index of the segment holding arc length `s` (the first or last
    /// segment outside the polyline).
    fn segment(&self, s: f64) -> usize {
        let i = self.cum.partition_point(|&c| c <= s);
        i.saturating_sub(1).min(self.dirs.len() - 1)
    }

    /// The point at arc length `s`; before the start and after the end the
    /// path continues straight along its first and last segment.
    pub fn point_at(&self, s: f64) -> P2 {
        let i = self.segment(s);
        let (p, d) = (self.points[i], self.dirs[i]);
        let ds = s - self.cum[i];
        [p[0] + d[0] * ds, p[1] + d[1] * ds]
    }

    /// Unit tangent at arc length `s`.
    pub fn direction_at(&self, s: f64) -> P2 {
        self.dirs[self.segment(s)]
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

    /// The arc length of the point of the (extended) path closest to `p`.
    pub fn project(&self, p: P2) -> f64 {
        let last = self.dirs.len() - 1;
        let mut best = (f64::INFINITY, 0.0);
        for (i, d) in self.dirs.iter().enumerate() {
            let len = self.cum[i + 1] - self.cum[i];
            let mut t = dot(sub(p, self.points[i]), *d);
            if i > 0 {
                t = t.max(0.0);
            }
            if i < last {
                t = t.min(len);
            }
            let q = [self.points[i][0] + d[0] * t, self.points[i][1] + d[1] * t];
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
        assert_eq!(p.point_at(3.0), [3.0, 0.0]);
        assert_eq!(p.point_at(10.0), [10.0, 0.0]);
        assert_eq!(p.curvature_at(2.0), 0.0);
        assert_eq!(p.project([-5.0, 1.0]), -5.0);
        assert_eq!(p.project([1.5, -0.3]), 1.5);
        assert_eq!(p.project([9.0, 2.0]), 9.0);
    }

    #[test]
    fn circle_curvature_is_one_over_radius() {
        let r = 20.0;
        let pts = (0..40).map(|i| {
            let a = f64::from(i) * 0.1;
            [r * a.sin(), r * (1.0 - a.cos())]
        });
        let p = Path::new(pts).unwrap();
        let k = p.curvature_at(p.length() / 2.0);
        assert!((k - 1.0 / r).abs() < 1e-3, "curvature {k}");
    }
}
