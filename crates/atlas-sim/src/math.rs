//! Small geometry and numeric helpers shared by the map, the world and the
//! renderer: 2-D vectors, poses, angle wrapping, cubic polynomials, and the
//! seeded random generator that keeps worlds deterministic.

use std::ops::{Add, Mul, Neg, Sub};

/// A 2-D vector in the world's horizontal plane, metres.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Vec2 {
    pub x: f64,
    pub y: f64,
}

impl Vec2 {
    pub const fn new(x: f64, y: f64) -> Self {
        Self { x, y }
    }

    /// The unit vector at `angle` radians counter-clockwise from +x.
    pub fn from_angle(angle: f64) -> Self {
        let (s, c) = angle.sin_cos();
        Self { x: c, y: s }
    }

    pub fn dot(self, o: Self) -> f64 {
        self.x * o.x + self.y * o.y
    }

    /// z component of the 3-D cross product.
    pub fn cross(self, o: Self) -> f64 {
        self.x * o.y - self.y * o.x
    }

    pub fn length(self) -> f64 {
        // sqrt of the sum rather than libm's hypot: several times faster,
        // and coordinates here never come near overflow.
        (self.x * self.x + self.y * self.y).sqrt()
    }

    pub fn length_sq(self) -> f64 {
        self.x * self.x + self.y * self.y
    }

    /// Rotated 90° counter-clockwise.
    pub fn perp(self) -> Self {
        Self {
            x: -self.y,
            y: self.x,
        }
    }

    pub fn is_finite(self) -> bool {
        self.x.is_finite() && self.y.is_finite()
    }
}

impl Add for Vec2 {
    type Output = Self;
    fn add(self, o: Self) -> Self {
        Self::new(self.x + o.x, self.y + o.y)
    }
}

impl Sub for Vec2 {
    type Output = Self;
    fn sub(self, o: Self) -> Self {
        Self::new(self.x - o.x, self.y - o.y)
    }
}

impl Mul<f64> for Vec2 {
    type Output = Self;
    fn mul(self, k: f64) -> Self {
        Self::new(self.x * k, self.y * k)
    }
}

impl Neg for Vec2 {
    type Output = Self;
    fn neg(self) -> Self {
        Self::new(-self.x, -self.y)
    }
}

/// A pose in the world frame (x east, y north, z up). Angles are radians,
/// right-handed: yaw about z (counter-clockwise from +x), pitch about the
/// body y axis (positive pitch tilts the nose down), roll about the body x
/// axis.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Pose {
    pub x: f64,
    pub y: f64,
    pub z: f64,
    pub yaw: f64,
    pub pitch: f64,
    pub roll: f64,
}

impl Pose {
    /// A pose on the ground plane with only a heading.
    pub fn planar(x: f64, y: f64, yaw: f64) -> Self {
        Self {
            x,
            y,
            yaw,
            ..Self::default()
        }
    }

    pub fn xy(&self) -> Vec2 {
        Vec2::new(self.x, self.y)
    }

    pub fn is_finite(&self) -> bool {
        [self.x, self.y, self.z, self.yaw, self.pitch, self.roll]
            .iter()
            .all(|v| v.is_finite())
    }
}

/// Wraps an angle to (-π, π]: the workspace's one definition, with the
/// division-free fast path the engine's per-step heading updates rely on.
pub use atlas_geometry::wrap_angle;

/// A 3x3 rotation matrix, row-major.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mat3(pub [[f64; 3]; 3]);

impl Mat3 {
    /// R = Rz(yaw) · Ry(pitch) · Rx(roll): maps body-frame vectors to the
    /// parent frame.
    pub fn from_ypr(yaw: f64, pitch: f64, roll: f64) -> Self {
        let (sy, cy) = yaw.sin_cos();
        let (sp, cp) = pitch.sin_cos();
        let (sr, cr) = roll.sin_cos();
        Self([
            [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
            [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
            [-sp, cp * sr, cp * cr],
        ])
    }

    pub fn mul_vec(&self, v: [f64; 3]) -> [f64; 3] {
        let m = &self.0;
        [
            m[0][0] * v[0] + m[0][1] * v[1] + m[0][2] * v[2],
            m[1][0] * v[0] + m[1][1] * v[1] + m[1][2] * v[2],
            m[2][0] * v[0] + m[2][1] * v[1] + m[2][2] * v[2],
        ]
    }

    pub fn mul(&self, o: &Self) -> Self {
        let mut r = [[0.0; 3]; 3];
        for (i, row) in r.iter_mut().enumerate() {
            for (j, cell) in row.iter_mut().enumerate() {
                *cell = (0..3).map(|k| self.0[i][k] * o.0[k][j]).sum();
            }
        }
        Self(r)
    }

    pub fn transpose(&self) -> Self {
        let m = &self.0;
        Self([
            [m[0][0], m[1][0], m[2][0]],
            [m[0][1], m[1][1], m[2][1]],
            [m[0][2], m[1][2], m[2][2]],
        ])
    }
}

/// A cubic `a + b·ds + c·ds² + d·ds³` starting at `s` (elevation, lane
/// offset, lane width records all share this shape).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cubic {
    pub s: f64,
    pub a: f64,
    pub b: f64,
    pub c: f64,
    pub d: f64,
}

impl Cubic {
    pub fn value(&self, ds: f64) -> f64 {
        self.a + ds * (self.b + ds * (self.c + ds * self.d))
    }

    pub fn slope(&self, ds: f64) -> f64 {
        self.b + ds * (2.0 * self.c + ds * 3.0 * self.d)
    }

    /// Largest `|value|` over `ds` in `[lo, hi]` and the `ds` where it is
    /// reached: the ends and the stationary points inside.
    pub fn max_abs(&self, lo: f64, hi: f64) -> (f64, f64) {
        // Overflowing coefficients count as infinitely large.
        let mag = |x: f64| {
            let v = self.value(x).abs();
            if v.is_nan() { f64::INFINITY } else { v }
        };
        let mut best = (mag(lo), lo);
        if hi > lo && mag(hi) > best.0 {
            best = (mag(hi), hi);
        }
        let mut consider = |x: f64| {
            if x > lo && x < hi && mag(x) > best.0 {
                best = (mag(x), x);
            }
        };
        // Roots of the slope 3d x² + 2c x + b.
        let (qa, qb, qc) = (3.0 * self.d, 2.0 * self.c, self.b);
        if qa != 0.0 {
            let disc = qb * qb - 4.0 * qa * qc;
            if disc >= 0.0 {
                let r = disc.sqrt();
                consider((-qb + r) / (2.0 * qa));
                consider((-qb - r) / (2.0 * qa));
            }
        } else if qb != 0.0 {
            consider(-qc / qb);
        }
        best
    }
}

/// Evaluates a piecewise cubic (records sorted by `s`) at `s`: value and
/// derivative. Before the first record the first record is extrapolated; an
/// empty list is zero.
pub fn eval_piecewise(records: &[Cubic], s: f64) -> (f64, f64) {
    if records.is_empty() {
        return (0.0, 0.0);
    }
    let i = records.partition_point(|r| r.s <= s).saturating_sub(1);
    let r = &records[i];
    let ds = s - r.s;
    (r.value(ds), r.slope(ds))
}

/// SplitMix64: tiny, fast, and the same on every platform, which is all a
/// deterministic simulation needs.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * n as f64) as usize % n.max(1)
    }
}

/// 5-point Gauss–Legendre nodes and weights on [-1, 1].
const GL5: [(f64, f64); 5] = [
    (0.0, 0.568_888_888_888_888_9),
    (-0.538_469_310_105_683, 0.478_628_670_499_366_5),
    (0.538_469_310_105_683, 0.478_628_670_499_366_5),
    (-0.906_179_845_938_664, 0.236_926_885_056_189_1),
    (0.906_179_845_938_664, 0.236_926_885_056_189_1),
];

/// Integrates `f` over `[a, b]` with 5-point Gauss–Legendre (exact for
/// polynomials up to degree 9).
pub fn gauss5<F: Fn(f64) -> [f64; 2]>(a: f64, b: f64, f: F) -> [f64; 2] {
    let h = 0.5 * (b - a);
    let m = 0.5 * (a + b);
    let mut acc = [0.0, 0.0];
    for (x, w) in GL5 {
        let v = f(m + h * x);
        acc[0] += w * v[0];
        acc[1] += w * v[1];
    }
    [acc[0] * h, acc[1] * h]
}

#[cfg(test)]
mod tests {
    #[test]
    fn cubic_max_abs_finds_interior_extrema() {
        // x³ - 3x: extrema ±2 at x = ∓1.
        let c = super::Cubic {
            s: 0.0,
            a: 0.0,
            b: -3.0,
            c: 0.0,
            d: 1.0,
        };
        let (m, at) = c.max_abs(-1.5, 1.5);
        assert!((m - 2.0).abs() < 1e-12 && (at.abs() - 1.0).abs() < 1e-12);
        // At the ends when they are larger.
        let (m, at) = c.max_abs(0.0, 3.0);
        assert_eq!((m, at), (18.0, 3.0));
        let q = super::Cubic {
            s: 0.0,
            a: 1.0,
            b: -4.0,
            c: 1.0,
            d: 0.0,
        };
        // 1 - 4x + x²: minimum -3 at x = 2.
        assert_eq!(q.max_abs(0.0, 3.0), (3.0, 2.0));
        let huge = super::Cubic {
            s: 0.0,
            a: 0.0,
            b: 0.0,
            c: 1e300,
            d: -1e300,
        };
        assert!(huge.max_abs(0.0, 1e6).0.is_infinite());
    }

    use super::*;
    use std::f64::consts::PI;

    #[test]
    fn wrap_angle_stays_in_range() {
        for k in -20..20 {
            let a = k as f64 * 0.7;
            let w = wrap_angle(a);
            assert!(w > -PI - 1e-12 && w <= PI + 1e-12, "{a} -> {w}");
            assert!(((a - w) / (2.0 * PI)).round() * 2.0 * PI - (a - w) < 1e-9);
        }
        assert!((wrap_angle(3.0 * PI) - PI).abs() < 1e-12);
    }

    #[test]
    fn rotation_matches_convention() {
        // Positive pitch tilts +x towards -z.
        let r = Mat3::from_ypr(0.0, 0.3, 0.0);
        let v = r.mul_vec([1.0, 0.0, 0.0]);
        assert!(v[2] < 0.0);
        // Yaw rotates +x towards +y.
        let r = Mat3::from_ypr(PI / 2.0, 0.0, 0.0);
        let v = r.mul_vec([1.0, 0.0, 0.0]);
        assert!((v[1] - 1.0).abs() < 1e-12);
        // Orthonormal.
        let r = Mat3::from_ypr(0.4, -0.2, 0.9);
        let i = r.mul(&r.transpose());
        for (a, row) in i.0.iter().enumerate() {
            for (b, v) in row.iter().enumerate() {
                let want = if a == b { 1.0 } else { 0.0 };
                assert!((v - want).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn rng_is_deterministic_and_bounded() {
        let mut a = Rng::new(42);
        let mut b = Rng::new(42);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
            assert!(a.below(3) < 3);
            b.below(3);
        }
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
    }

    #[test]
    fn gauss5_integrates_polynomials_exactly() {
        let r = gauss5(0.0, 2.0, |x| [x.powi(9), 1.0]);
        assert!((r[0] - 2f64.powi(10) / 10.0).abs() < 1e-9);
        assert!((r[1] - 2.0).abs() < 1e-12);
    }

    #[test]
    fn piecewise_cubic_picks_the_right_record() {
        let recs = [
            Cubic {
                s: 0.0,
                a: 1.0,
                b: 0.0,
                c: 0.0,
                d: 0.0,
            },
            Cubic {
                s: 10.0,
                a: 2.0,
                b: 1.0,
                c: 0.0,
                d: 0.0,
            },
        ];
        assert_eq!(eval_piecewise(&recs, 5.0), (1.0, 0.0));
        assert_eq!(eval_piecewise(&recs, 12.0), (4.0, 1.0));
        assert_eq!(eval_piecewise(&[], 3.0), (0.0, 0.0));
    }
}
