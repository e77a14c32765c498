//! Rigid-body geometry in the contract's conventions (§5.1 of the egodriver
//! contract): Hamilton quaternions, poses as active transforms
//! `p_parent = R·p_child + t`, and conversions from and to the wire types.
//!
//! Everything is computed in `f64`; the wire carries `f32`. Conversions from
//! the wire reject non-finite numbers and read an all-zero quaternion (an
//! unset `Quat`) as the identity, as carla-driver-interface does.
//!
//! Angles, planar poses and the yaw ↔ quaternion formulas are
//! [`atlas_geometry`]'s; this module adds the full 3-D transforms the
//! contract's camera mounts and trajectories need.

use atlas_proto::common;

/// A 3-vector in metres (or m/s, m/s², by context).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Vec3 {
    pub x: f64,
    pub y: f64,
    pub z: f64,
}

impl Vec3 {
    pub const ZERO: Vec3 = Vec3::new(0.0, 0.0, 0.0);

    pub const fn new(x: f64, y: f64, z: f64) -> Self {
        Self { x, y, z }
    }

    pub fn is_finite(&self) -> bool {
        self.x.is_finite() && self.y.is_finite() && self.z.is_finite()
    }

    pub fn has_nan(&self) -> bool {
        self.x.is_nan() || self.y.is_nan() || self.z.is_nan()
    }

    pub fn scale(self, k: f64) -> Vec3 {
        Vec3::new(self.x * k, self.y * k, self.z * k)
    }

    pub fn cross(self, o: Vec3) -> Vec3 {
        Vec3::new(
            self.y * o.z - self.z * o.y,
            self.z * o.x - self.x * o.z,
            self.x * o.y - self.y * o.x,
        )
    }

    pub fn lerp(self, o: Vec3, t: f64) -> Vec3 {
        self + (o - self).scale(t)
    }

    /// Reads a wire vector; an absent message is the zero vector.
    pub fn from_wire(v: Option<&common::Vec3>) -> Vec3 {
        v.map_or(Vec3::ZERO, |v| {
            Vec3::new(f64::from(v.x), f64::from(v.y), f64::from(v.z))
        })
    }

    pub fn to_wire(self) -> common::Vec3 {
        common::Vec3 {
            x: self.x as f32,
            y: self.y as f32,
            z: self.z as f32,
        }
    }
}

impl std::ops::Add for Vec3 {
    type Output = Vec3;
    fn add(self, o: Vec3) -> Vec3 {
        Vec3::new(self.x + o.x, self.y + o.y, self.z + o.z)
    }
}

impl std::ops::Sub for Vec3 {
    type Output = Vec3;
    fn sub(self, o: Vec3) -> Vec3 {
        Vec3::new(self.x - o.x, self.y - o.y, self.z - o.z)
    }
}

/// A unit quaternion (Hamilton convention), stored w, x, y, z.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Quat {
    pub w: f64,
    pub x: f64,
    pub y: f64,
    pub z: f64,
}

/// Why a wire quaternion cannot be used as a rotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QuatError {
    #[error("quaternion has a non-finite component")]
    NonFinite,
    #[error("quaternion is too close to zero to normalise")]
    Degenerate,
}

impl Default for Quat {
    fn default() -> Self {
        Self::IDENTITY
    }
}

impl Quat {
    pub const IDENTITY: Quat = Quat {
        w: 1.0,
        x: 0.0,
        y: 0.0,
        z: 0.0,
    };

    /// A rotation of `yaw` radians about +z.
    pub fn from_yaw(yaw: f64) -> Quat {
        let [w, x, y, z] = atlas_geometry::quat_from_yaw(yaw);
        Quat { w, x, y, z }
    }

    /// Normalises `(w, x, y, z)`; all zeros (an unset quaternion) is the
    /// identity.
    pub fn normalized(w: f64, x: f64, y: f64, z: f64) -> Result<Quat, QuatError> {
        if ![w, x, y, z].iter().all(|c| c.is_finite()) {
            return Err(QuatError::NonFinite);
        }
        if w == 0.0 && x == 0.0 && y == 0.0 && z == 0.0 {
            return Ok(Quat::IDENTITY);
        }
        let n = (w * w + x * x + y * y + z * z).sqrt();
        if !(n > 1e-6 && n.is_finite()) {
            return Err(QuatError::Degenerate);
        }
        Ok(Quat {
            w: w / n,
            x: x / n,
            y: y / n,
            z: z / n,
        })
    }

    /// Reads a wire quaternion; an absent message is the identity.
    pub fn from_wire(q: Option<&common::Quat>) -> Result<Quat, QuatError> {
        match q {
            None => Ok(Quat::IDENTITY),
            Some(q) => Quat::normalized(
                f64::from(q.w),
                f64::from(q.x),
                f64::from(q.y),
                f64::from(q.z),
            ),
        }
    }

    pub fn to_wire(self) -> common::Quat {
        common::Quat {
            w: self.w as f32,
            x: self.x as f32,
            y: self.y as f32,
            z: self.z as f32,
        }
    }

    pub fn conjugate(self) -> Quat {
        Quat {
            w: self.w,
            x: -self.x,
            y: -self.y,
            z: -self.z,
        }
    }

    /// Rotates `v` by this (unit) quaternion.
    pub fn rotate(self, v: Vec3) -> Vec3 {
        let u = Vec3::new(self.x, self.y, self.z);
        let t = u.cross(v).scale(2.0);
        v + t.scale(self.w) + u.cross(t)
    }

    /// Heading about +z of the rotated x axis, in (−π, π].
    pub fn yaw(self) -> f64 {
        atlas_geometry::yaw_of_quat([self.w, self.x, self.y, self.z])
    }

    /// Spherical interpolation along the shorter arc.
    pub fn slerp(self, o: Quat, t: f64) -> Quat {
        let mut dot = self.w * o.w + self.x * o.x + self.y * o.y + self.z * o.z;
        let mut o = o;
        if dot < 0.0 {
            dot = -dot;
            o = Quat {
                w: -o.w,
                x: -o.x,
                y: -o.y,
                z: -o.z,
            };
        }
        let (a, b) = if dot > 0.9995 {
            (1.0 - t, t)
        } else {
            let theta = dot.clamp(-1.0, 1.0).acos();
            let s = theta.sin();
            (((1.0 - t) * theta).sin() / s, (t * theta).sin() / s)
        };
        let q = Quat {
            w: a * self.w + b * o.w,
            x: a * self.x + b * o.x,
            y: a * self.y + b * o.y,
            z: a * self.z + b * o.z,
        };
        Quat::normalized(q.w, q.x, q.y, q.z).unwrap_or(self)
    }
}

/// Hamilton product `a * b` = `a ⊗ b` (rotate by `b` first, then `a`).
impl std::ops::Mul for Quat {
    type Output = Quat;
    fn mul(self, o: Quat) -> Quat {
        Quat {
            w: self.w * o.w - self.x * o.x - self.y * o.y - self.z * o.z,
            x: self.w * o.x + self.x * o.w + self.y * o.z - self.z * o.y,
            y: self.w * o.y - self.x * o.z + self.y * o.w + self.z * o.x,
            z: self.w * o.z + self.x * o.y - self.y * o.x + self.z * o.w,
        }
    }
}

/// A rigid transform "A → B": the pose of frame B in frame A, mapping
/// coordinates given in B into A.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Pose {
    pub translation: Vec3,
    pub rotation: Quat,
}

/// Why a wire pose cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PoseError {
    #[error("translation has a non-finite component")]
    NonFiniteTranslation,
    #[error(transparent)]
    Rotation(#[from] QuatError),
}

impl Pose {
    pub const IDENTITY: Pose = Pose {
        translation: Vec3::ZERO,
        rotation: Quat::IDENTITY,
    };

    pub fn new(translation: Vec3, rotation: Quat) -> Self {
        Self {
            translation,
            rotation,
        }
    }

    /// A planar pose: position and heading about +z.
    pub fn from_xyz_yaw(x: f64, y: f64, z: f64, yaw: f64) -> Self {
        Self::new(Vec3::new(x, y, z), Quat::from_yaw(yaw))
    }

    /// Reads a wire pose; absent parts are the identity.
    pub fn from_wire(p: Option<&common::Pose>) -> Result<Pose, PoseError> {
        let Some(p) = p else {
            return Ok(Pose::IDENTITY);
        };
        let translation = Vec3::from_wire(p.vec.as_ref());
        if !translation.is_finite() {
            return Err(PoseError::NonFiniteTranslation);
        }
        Ok(Pose::new(translation, Quat::from_wire(p.quat.as_ref())?))
    }

    pub fn to_wire(self) -> common::Pose {
        common::Pose {
            vec: Some(self.translation.to_wire()),
            quat: Some(self.rotation.to_wire()),
        }
    }

    /// Maps a point given in the child frame into the parent frame.
    pub fn transform_point(&self, p: Vec3) -> Vec3 {
        self.rotation.rotate(p) + self.translation
    }

    /// `self ∘ o`.
    pub fn compose(&self, o: &Pose) -> Pose {
        Pose::new(
            self.transform_point(o.translation),
            self.rotation * o.rotation,
        )
    }

    pub fn inverse(&self) -> Pose {
        let r = self.rotation.conjugate();
        Pose::new(r.rotate(self.translation).scale(-1.0), r)
    }

    pub fn yaw(&self) -> f64 {
        self.rotation.yaw()
    }

    /// Linear interpolation of the position and slerp of the rotation.
    pub fn interpolate(&self, o: &Pose, t: f64) -> Pose {
        Pose::new(
            self.translation.lerp(o.translation, t),
            self.rotation.slerp(o.rotation, t),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use atlas_geometry::wrap_angle;
    use std::f64::consts::{FRAC_PI_2, PI};

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    fn close_v(a: Vec3, b: Vec3) -> bool {
        close(a.x, b.x) && close(a.y, b.y) && close(a.z, b.z)
    }

    #[test]
    fn zero_quaternion_is_identity_and_others_are_normalised() {
        assert_eq!(Quat::normalized(0.0, 0.0, 0.0, 0.0), Ok(Quat::IDENTITY));
        let q = Quat::normalized(2.0, 0.0, 0.0, 0.0).unwrap();
        assert!(close(q.w, 1.0));
        assert_eq!(
            Quat::normalized(f64::NAN, 0.0, 0.0, 0.0),
            Err(QuatError::NonFinite)
        );
        assert_eq!(
            Quat::normalized(1e-9, 0.0, 0.0, 0.0),
            Err(QuatError::Degenerate)
        );
    }

    #[test]
    fn yaw_rotation_turns_x_into_y() {
        let q = Quat::from_yaw(FRAC_PI_2);
        assert!(close_v(
            q.rotate(Vec3::new(1.0, 0.0, 0.0)),
            Vec3::new(0.0, 1.0, 0.0)
        ));
        assert!(close(q.yaw(), FRAC_PI_2));
    }

    #[test]
    fn compose_with_inverse_is_identity() {
        let a = Pose::from_xyz_yaw(3.0, -2.0, 0.5, 0.7);
        let b = Pose::new(
            Vec3::new(1.0, 2.0, 3.0),
            Quat::normalized(0.3, 0.1, -0.4, 0.2).unwrap(),
        );
        let p = Vec3::new(0.2, 5.0, -1.0);
        let ab = a.compose(&b);
        assert!(close_v(
            ab.transform_point(p),
            a.transform_point(b.transform_point(p))
        ));
        let back = ab.compose(&ab.inverse());
        assert!(close_v(back.translation, Vec3::ZERO));
        assert!(close(back.rotation.w.abs(), 1.0));
    }

    #[test]
    fn contract_example_camera_axes() {
        // §5.1: the optical axes of the default front camera in rig coordinates.
        let q = Quat::normalized(-0.5, 0.5, -0.5, 0.5).unwrap();
        assert!(close_v(
            q.rotate(Vec3::new(1.0, 0.0, 0.0)),
            Vec3::new(0.0, -1.0, 0.0)
        ));
        assert!(close_v(
            q.rotate(Vec3::new(0.0, 1.0, 0.0)),
            Vec3::new(0.0, 0.0, -1.0)
        ));
        assert!(close_v(
            q.rotate(Vec3::new(0.0, 0.0, 1.0)),
            Vec3::new(1.0, 0.0, 0.0)
        ));
    }

    #[test]
    fn slerp_takes_the_short_way() {
        let a = Quat::from_yaw(0.9 * PI);
        let b = Quat::from_yaw(-0.9 * PI);
        let m = a.slerp(b, 0.5);
        assert!(close(wrap_angle(m.yaw()).abs(), PI));
    }
}
