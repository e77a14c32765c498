//! `atlas-geometry`: the one geometry module of ATLAS — angles, planar
//! poses in the rig conventions (x forward, y left, yaw counter-clockwise
//! from +x, radians), the rotation of a frame given by its axes, route
//! polylines with arc length, and the curve a route follower merges back
//! onto its route along.
//!
//! Every crate that turns headings, rig frames or routes into numbers uses
//! these; wire conversions (`common::Pose`, quaternions on the egodriver
//! wire) live next to the wire types in `atlas-proto`.

use std::f64::consts::{PI, TAU};

/// Wraps an angle to (-π, π].
pub fn wrap_angle(a: f64) -> f64 {
    // Most angles are differences of two wrapped angles: one add or
    // subtract brings them back, without a division.
    if a > -PI && a <= PI {
        return a;
    }
    if (-3.0 * PI..=3.0 * PI).contains(&a) {
        let r = if a > 0.0 { a - TAU } else { a + TAU };
        if r > -PI && r <= PI {
            return r;
        }
    }
    let r = a.rem_euclid(TAU);
    if r > PI { r - TAU } else { r }
}

/// A planar pose: position in metres (with the height it stands at),
/// heading in radians counter-clockwise from +x.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Pose2 {
    pub x: f64,
    pub y: f64,
    pub z: f64,
    pub yaw: f64,
}

impl Pose2 {
    pub const fn new(x: f64, y: f64, z: f64, yaw: f64) -> Self {
        Self { x, y, z, yaw }
    }

    /// A pose on the ground plane (z = 0).
    pub const fn planar(x: f64, y: f64, yaw: f64) -> Self {
        Self { x, y, z: 0.0, yaw }
    }

    /// Expresses a world point in this pose's frame (x forward, y left).
    pub fn to_local(&self, px: f64, py: f64) -> (f64, f64) {
        let (s, c) = self.yaw.sin_cos();
        let (dx, dy) = (px - self.x, py - self.y);
        (c * dx + s * dy, -s * dx + c * dy)
    }

    /// Maps a point given in this pose's frame to the world frame.
    pub fn to_world(&self, lx: f64, ly: f64) -> (f64, f64) {
        let (s, c) = self.yaw.sin_cos();
        (self.x + c * lx - s * ly, self.y + s * lx + c * ly)
    }

    /// Another world pose expressed in this pose's frame (planar; z kept).
    pub fn relative(&self, o: &Pose2) -> Pose2 {
        let (x, y) = self.to_local(o.x, o.y);
        Pose2::new(x, y, o.z, wrap_angle(o.yaw - self.yaw))
    }

    /// A pose given in this pose's frame, in the world (planar; z kept).
    pub fn compose(&self, o: &Pose2) -> Pose2 {
        let (x, y) = self.to_world(o.x, o.y);
        Pose2::new(x, y, o.z, wrap_angle(self.yaw + o.yaw))
    }

    /// Whether every component is finite.
    pub fn is_finite(&self) -> bool {
        [self.x, self.y, self.z, self.yaw]
            .iter()
            .all(|c| c.is_finite())
    }
}

/// A rotation as a unit Hamilton quaternion `(w, x, y, z)`.
pub type Quaternion = [f64; 4];

/// The quaternion of a rotation about z by `yaw`.
pub fn quat_from_yaw(yaw: f64) -> Quaternion {
    let (s, c) = (yaw * 0.5).sin_cos();
    [c, 0.0, 0.0, s]
}

/// Heading (rotation about z) of a Hamilton quaternion; all-zero reads as
/// the identity.
pub fn yaw_of_quat([w, x, y, z]: Quaternion) -> f64 {
    if w == 0.0 && x == 0.0 && y == 0.0 && z == 0.0 {
        return 0.0;
    }
    (2.0 * (w * z + x * y)).atan2(1.0 - 2.0 * (y * y + z * z))
}

/// The quaternion of the rotation matrix whose columns are `c0`, `c1`, `c2`
/// (the rotated frame's axes in the parent frame).
pub fn quat_from_columns(c0: [f64; 3], c1: [f64; 3], c2: [f64; 3]) -> Quaternion {
    // Shepperd's method on m[row][col].
    let m = [
        [c0[0], c1[0], c2[0]],
        [c0[1], c1[1], c2[1]],
        [c0[2], c1[2], c2[2]],
    ];
    let tr = m[0][0] + m[1][1] + m[2][2];
    if tr > 0.0 {
        let s = (tr + 1.0).sqrt() * 2.0;
        [
            0.25 * s,
            (m[2][1] - m[1][2]) / s,
            (m[0][2] - m[2][0]) / s,
            (m[1][0] - m[0][1]) / s,
        ]
    } else if m[0][0] > m[1][1] && m[0][0] > m[2][2] {
        let s = (1.0 + m[0][0] - m[1][1] - m[2][2]).sqrt() * 2.0;
        [
            (m[2][1] - m[1][2]) / s,
            0.25 * s,
            (m[0][1] + m[1][0]) / s,
            (m[0][2] + m[2][0]) / s,
        ]
    } else if m[1][1] > m[2][2] {
        let s = (1.0 + m[1][1] - m[0][0] - m[2][2]).sqrt() * 2.0;
        [
            (m[0][2] - m[2][0]) / s,
            (m[0][1] + m[1][0]) / s,
            0.25 * s,
            (m[1][2] + m[2][1]) / s,
        ]
    } else {
        let s = (1.0 + m[2][2] - m[0][0] - m[1][1]).sqrt() * 2.0;
        [
            (m[1][0] - m[0][1]) / s,
            (m[0][2] + m[2][0]) / s,
            (m[1][2] + m[2][1]) / s,
            0.25 * s,
        ]
    }
}

/// The rotation of an optical frame (OpenCV axes: x right, y down,
/// z forward) looking along the rig's +x, tilted down by `pitch_down`
/// radians.
pub fn optical_rotation(pitch_down: f64) -> Quaternion {
    let (s, c) = pitch_down.sin_cos();
    let z_opt = [c, 0.0, -s];
    let x_opt = [0.0, -1.0, 0.0];
    // y = z × x keeps the frame right-handed.
    let y_opt = [
        z_opt[1] * x_opt[2] - z_opt[2] * x_opt[1],
        z_opt[2] * x_opt[0] - z_opt[0] * x_opt[2],
        z_opt[0] * x_opt[1] - z_opt[1] * x_opt[0],
    ];
    quat_from_columns(x_opt, y_opt, z_opt)
}

/// A polyline with cumulative arc length.
#[derive(Clone, Debug)]
pub struct Polyline {
    pts: Vec<(f64, f64)>,
    s: Vec<f64>,
}

/// Where a point projects onto a polyline.
#[derive(Clone, Copy, Debug)]
pub struct Projection {
    /// Arc length of the foot point.
    pub s: f64,
    /// Distance from the point to the foot point.
    pub distance: f64,
    /// Index of the segment the foot lies on.
    pub segment: usize,
}

impl Polyline {
    /// Builds a polyline, dropping repeated points. Needs two distinct points.
    pub fn new(points: impl IntoIterator<Item = (f64, f64)>) -> Option<Self> {
        let mut pts: Vec<(f64, f64)> = Vec::new();
        for p in points {
            if !(p.0.is_finite() && p.1.is_finite()) {
                continue;
            }
            if pts
                .last()
                .is_none_or(|q| (p.0 - q.0).hypot(p.1 - q.1) > 1e-6)
            {
                pts.push(p);
            }
        }
        if pts.len() < 2 {
            return None;
        }
        let mut s = Vec::with_capacity(pts.len());
        let mut acc = 0.0;
        s.push(0.0);
        for w in pts.windows(2) {
            acc += (w[1].0 - w[0].0).hypot(w[1].1 - w[0].1);
            s.push(acc);
        }
        Some(Self { pts, s })
    }

    pub fn length(&self) -> f64 {
        *self.s.last().unwrap_or(&0.0)
    }

    pub fn points(&self) -> &[(f64, f64)] {
        &self.pts
    }

    pub fn first(&self) -> (f64, f64) {
        self.pts[0]
    }

    pub fn last(&self) -> (f64, f64) {
        self.pts[self.pts.len() - 1]
    }

    /// The point at arc length `s`, clamped to the ends.
    pub fn point_at(&self, s: f64) -> (f64, f64) {
        let s = s.clamp(0.0, self.length());
        let i = match self.s.binary_search_by(|v| v.total_cmp(&s)) {
            Ok(i) => return self.pts[i],
            Err(i) => i.clamp(1, self.pts.len() - 1),
        };
        let (a, b) = (self.pts[i - 1], self.pts[i]);
        let seg = self.s[i] - self.s[i - 1];
        let t = if seg > 0.0 {
            (s - self.s[i - 1]) / seg
        } else {
            0.0
        };
        (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1))
    }

    /// Heading of the polyline at arc length `s`.
    pub fn heading_at(&self, s: f64) -> f64 {
        let s = s.clamp(0.0, self.length());
        let i = self
            .s
            .partition_point(|v| *v <= s)
            .clamp(1, self.pts.len() - 1);
        let (a, b) = (self.pts[i - 1], self.pts[i]);
        (b.1 - a.1).atan2(b.0 - a.0)
    }

    /// Projects a point onto the segments `from..to` (segment indices).
    pub fn project_range(&self, p: (f64, f64), from: usize, to: usize) -> Projection {
        let to = to.min(self.pts.len() - 1);
        let from = from.min(to.saturating_sub(1));
        let mut best = Projection {
            s: self.s[from],
            distance: f64::INFINITY,
            segment: from,
        };
        for i in from..to {
            let (a, b) = (self.pts[i], self.pts[i + 1]);
            let (dx, dy) = (b.0 - a.0, b.1 - a.1);
            let len2 = dx * dx + dy * dy;
            let t = if len2 > 0.0 {
                (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let f = (a.0 + t * dx, a.1 + t * dy);
            let d = (p.0 - f.0).hypot(p.1 - f.1);
            if d < best.distance {
                best = Projection {
                    s: self.s[i] + t * len2.sqrt(),
                    distance: d,
                    segment: i,
                };
            }
        }
        best
    }

    /// Projects a point onto the whole polyline.
    pub fn project(&self, p: (f64, f64)) -> Projection {
        self.project_range(p, 0, self.pts.len() - 1)
    }

    /// Segment index containing arc length `s`.
    pub fn segment_at(&self, s: f64) -> usize {
        self.s
            .partition_point(|v| *v <= s)
            .saturating_sub(1)
            .min(self.pts.len() - 2)
    }
}

/// Lateral offset from a path while merging onto it: a cubic Hermite curve
/// over `length` metres from offset `d0` with slope `m0` (the tangent of the
/// heading error) to zero offset and slope. Returns the offset and its
/// derivative with respect to arc length at `ds` metres from the start;
/// both are zero from `length` on. Route followers that replan every step
/// from where they are continue one smooth manoeuvre this way.
pub fn merge_offset(d0: f64, m0: f64, length: f64, ds: f64) -> (f64, f64) {
    let u = ds / length;
    if u >= 1.0 {
        return (0.0, 0.0);
    }
    let u = u.max(0.0);
    let (u2, u3) = (u * u, u * u * u);
    let h00 = 2.0 * u3 - 3.0 * u2 + 1.0;
    let h10 = u3 - 2.0 * u2 + u;
    let dh00 = 6.0 * u2 - 6.0 * u;
    let dh10 = 3.0 * u2 - 4.0 * u + 1.0;
    (d0 * h00 + length * m0 * h10, d0 * dh00 / length + m0 * dh10)
}

/// Allowed speed along a path, sampled every `ds` metres from its start
/// over `reach` metres (`curvature(s)` at `s` metres from the start):
/// `cruise`, capped where the curvature limits the lateral acceleration to
/// `max_lateral_accel`, and lowered ahead of every cap so it can be met
/// braking at `decel`. The expert and the baseline route follower plan
/// their speed with it.
pub fn speed_profile(
    curvature: impl Fn(f64) -> f64,
    reach: f64,
    ds: f64,
    cruise: f64,
    max_lateral_accel: f64,
    decel: f64,
) -> Vec<f64> {
    let n = (reach / ds).ceil() as usize + 2;
    let mut v: Vec<f64> = (0..n)
        .map(|k| {
            let kappa = curvature(k as f64 * ds);
            if kappa > 1e-9 {
                cruise.min((max_lateral_accel / kappa).sqrt())
            } else {
                cruise
            }
        })
        .collect();
    for k in (0..n - 1).rev() {
        let reachable = (v[k + 1] * v[k + 1] + 2.0 * decel * ds).sqrt();
        v[k] = v[k].min(reachable);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speed_profile_caps_curves_and_brakes_ahead_of_them() {
        // Straight for 20 m, then a curve of radius 10 m.
        let kappa = |s: f64| if s < 20.0 { 0.0 } else { 0.1 };
        let v = speed_profile(kappa, 40.0, 0.5, 10.0, 2.5, 2.0);
        assert_eq!(v.len(), 82);
        // In the curve: sqrt(2.5 / 0.1) = 5 m/s.
        assert!((v[60] - 5.0).abs() < 1e-12);
        // Far before it: cruise; just before it: between the two, and
        // reachable braking at 2 m/s² (v² = 25 + 2·2·d).
        assert_eq!(v[0], 10.0);
        let d = 20.0 - 39.0 * 0.5;
        assert!((v[39] - (25.0_f64 + 4.0 * d).sqrt()).abs() < 1e-9);
        assert!(v.windows(2).take(40).all(|w| w[0] >= w[1]));
    }

    #[test]
    fn wrap_angle_is_half_open() {
        assert_eq!(wrap_angle(PI), PI);
        assert_eq!(wrap_angle(-PI), PI);
        assert!((wrap_angle(3.0 * PI) - PI).abs() < 1e-12);
        assert!((wrap_angle(-2.5 * PI) + 0.5 * PI).abs() < 1e-12);
        assert_eq!(wrap_angle(0.5), 0.5);
        assert!((wrap_angle(-2.0 * PI + 0.1) - 0.1).abs() < 1e-12);
        assert!((wrap_angle(41.0) - (41.0 - 7.0 * TAU)).abs() < 1e-12);
        for k in -2000..2000 {
            let w = wrap_angle(k as f64 * 0.01);
            assert!(w > -PI && w <= PI, "{k}");
        }
    }

    #[test]
    fn local_world_round_trip() {
        let p = Pose2::new(10.0, -3.0, 0.0, 0.7);
        let (lx, ly) = p.to_local(12.5, 4.0);
        let (wx, wy) = p.to_world(lx, ly);
        assert!((wx - 12.5).abs() < 1e-12 && (wy - 4.0).abs() < 1e-12);
        let (fx, fy) = p.to_world(5.0, 0.0);
        let (ax, ay) = p.to_local(fx, fy);
        assert!((ax - 5.0).abs() < 1e-12 && ay.abs() < 1e-12);
    }

    #[test]
    fn relative_and_compose_are_inverse() {
        let a = Pose2::planar(3.0, -2.0, 2.5);
        let b = Pose2::planar(-1.0, 4.0, -2.9);
        let back = a.compose(&a.relative(&b));
        assert!((back.x - b.x).abs() < 1e-12 && (back.y - b.y).abs() < 1e-12);
        assert!(wrap_angle(back.yaw - b.yaw).abs() < 1e-12);
        let (x, y) = Pose2::planar(1.0, 1.0, PI / 2.0).to_local(1.0, 3.0);
        assert!((x - 2.0).abs() < 1e-12 && y.abs() < 1e-12);
    }

    #[test]
    fn yaw_quaternion_round_trip() {
        for yaw in [-3.0, -1.2, 0.0, 0.4, 2.9] {
            let back = yaw_of_quat(quat_from_yaw(yaw));
            assert!(wrap_angle(back - yaw).abs() < 1e-12, "{yaw} -> {back}");
        }
        assert_eq!(yaw_of_quat([0.0; 4]), 0.0);
    }

    #[test]
    fn level_optical_frame_is_the_contract_example() {
        // A camera looking straight ahead: (w, x, y, z) = ±(-0.5, 0.5, -0.5, 0.5).
        let q = optical_rotation(0.0);
        let sign = if q[0] < 0.0 { 1.0 } else { -1.0 };
        for (got, want) in q.iter().zip([-0.5, 0.5, -0.5, 0.5]) {
            assert!((got * sign - want).abs() < 1e-12, "{q:?}");
        }
    }

    #[test]
    fn polyline_arc_length_and_projection() {
        let pl = Polyline::new([(0.0, 0.0), (10.0, 0.0), (10.0, 10.0)]).unwrap();
        assert_eq!(pl.length(), 20.0);
        assert_eq!(pl.point_at(15.0), (10.0, 5.0));
        let pr = pl.project((12.0, 4.0));
        assert!((pr.s - 14.0).abs() < 1e-12 && (pr.distance - 2.0).abs() < 1e-12);
        assert!((pl.heading_at(15.0) - std::f64::consts::FRAC_PI_2).abs() < 1e-12);
        assert!(Polyline::new([(1.0, 1.0), (1.0, 1.0)]).is_none());
    }

    #[test]
    fn merge_starts_at_the_offset_and_heading_and_ends_on_the_path() {
        let (d, m) = merge_offset(1.5, -0.2, 10.0, 0.0);
        assert!((d - 1.5).abs() < 1e-12 && (m + 0.2).abs() < 1e-12);
        // Before the start it holds the start.
        assert_eq!(merge_offset(1.5, -0.2, 10.0, -3.0), (d, m));
        let (d, m) = merge_offset(1.5, -0.2, 10.0, 9.999_999);
        assert!(d.abs() < 1e-6 && m.abs() < 1e-6, "{d} {m}");
        assert_eq!(merge_offset(1.5, -0.2, 10.0, 10.0), (0.0, 0.0));
        // The slope is the derivative of the offset.
        let h = 1e-6;
        let (a, _) = merge_offset(1.0, 0.3, 8.0, 3.0 - h);
        let (b, _) = merge_offset(1.0, 0.3, 8.0, 3.0 + h);
        let (_, slope) = merge_offset(1.0, 0.3, 8.0, 3.0);
        assert!(((b - a) / (2.0 * h) - slope).abs() < 1e-6);
    }
}
