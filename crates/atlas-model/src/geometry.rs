//! Planar rigid-body helpers in the rig conventions (x forward, y left,
//! yaw counter-clockwise).

use std::f64::consts::PI;

/// Wraps an angle to (-π, π].
pub fn wrap_angle(a: f64) -> f64 {
    let mut r = a.rem_euclid(2.0 * PI);
    if r > PI {
        r -= 2.0 * PI;
    }
    r
}

/// A planar pose.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Pose2 {
    pub x: f64,
    pub y: f64,
    pub yaw: f64,
}

impl Pose2 {
    pub const fn new(x: f64, y: f64, yaw: f64) -> Self {
        Self { x, y, yaw }
    }

    /// A world point in this pose's frame.
    pub fn to_local(&self, x: f64, y: f64) -> [f64; 2] {
        let (s, c) = self.yaw.sin_cos();
        let (dx, dy) = (x - self.x, y - self.y);
        [c * dx + s * dy, -s * dx + c * dy]
    }

    /// A point of this pose's frame in the world.
    pub fn to_world(&self, x: f64, y: f64) -> [f64; 2] {
        let (s, c) = self.yaw.sin_cos();
        [self.x + c * x - s * y, self.y + s * x + c * y]
    }

    /// Another world pose expressed in this pose's frame.
    pub fn relative(&self, o: &Pose2) -> Pose2 {
        let [x, y] = self.to_local(o.x, o.y);
        Pose2::new(x, y, wrap_angle(o.yaw - self.yaw))
    }

    /// A pose given in this frame, in the world.
    pub fn compose(&self, o: &Pose2) -> Pose2 {
        let [x, y] = self.to_world(o.x, o.y);
        Pose2::new(x, y, wrap_angle(self.yaw + o.yaw))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_and_compose_are_inverse() {
        let a = Pose2::new(3.0, -2.0, 2.5);
        let b = Pose2::new(-1.0, 4.0, -2.9);
        let r = a.relative(&b);
        let back = a.compose(&r);
        assert!((back.x - b.x).abs() < 1e-12 && (back.y - b.y).abs() < 1e-12);
        assert!(wrap_angle(back.yaw - b.yaw).abs() < 1e-12);
        let p = Pose2::new(1.0, 1.0, PI / 2.0).to_local(1.0, 3.0);
        assert!((p[0] - 2.0).abs() < 1e-12 && p[1].abs() < 1e-12);
        assert!((wrap_angle(3.0 * PI) - PI).abs() < 1e-12);
    }
}
