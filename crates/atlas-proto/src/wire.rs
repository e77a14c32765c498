//! Conversions between [`atlas_geometry`]'s poses and the egodriver wire
//! types (`common::Pose`, `common::Quat`).

use atlas_geometry::{Pose2, Quaternion, optical_rotation, yaw_of_quat};

use crate::common;

/// A wire quaternion from a Hamilton `(w, x, y, z)`.
pub fn quat(q: Quaternion) -> common::Quat {
    common::Quat {
        w: q[0] as f32,
        x: q[1] as f32,
        y: q[2] as f32,
        z: q[3] as f32,
    }
}

/// Heading of a wire quaternion; all-zero reads as the identity.
pub fn yaw_of(q: &common::Quat) -> f64 {
    yaw_of_quat([q.w as f64, q.x as f64, q.y as f64, q.z as f64])
}

/// Planar poses on the egodriver wire (`local -> rig`, yaw-only rotation).
pub trait PoseWire: Sized {
    /// The wire pose.
    fn to_wire(&self) -> common::Pose;
    /// Reads a wire pose; an unset or all-zero quaternion is the identity.
    /// `None` when a component is not finite.
    fn from_wire(p: &common::Pose) -> Option<Self>;
}

impl PoseWire for Pose2 {
    fn to_wire(&self) -> common::Pose {
        common::Pose {
            vec: Some(common::Vec3 {
                x: self.x as f32,
                y: self.y as f32,
                z: self.z as f32,
            }),
            quat: Some(quat(atlas_geometry::quat_from_yaw(self.yaw))),
        }
    }

    fn from_wire(p: &common::Pose) -> Option<Self> {
        let v = p.vec.unwrap_or_default();
        let yaw = yaw_of(&p.quat.unwrap_or_default());
        let out = Pose2::new(v.x as f64, v.y as f64, v.z as f64, yaw);
        out.is_finite().then_some(out)
    }
}

/// Optical-frame mount of a camera at `(x, y, z)` in the rig, looking along
/// the rig's +x tilted down by `pitch_down` radians (OpenCV axes: x right,
/// y down, z forward), as the egodriver `rig_to_camera` pose.
pub fn optical_mount(x: f64, y: f64, z: f64, pitch_down: f64) -> common::Pose {
    common::Pose {
        vec: Some(common::Vec3 {
            x: x as f32,
            y: y as f32,
            z: z as f32,
        }),
        quat: Some(quat(optical_rotation(pitch_down))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use atlas_geometry::wrap_angle;

    #[test]
    fn wire_yaw_round_trip() {
        for yaw in [-3.0, -1.2, 0.0, 0.4, 2.9] {
            let p = Pose2::new(1.0, 2.0, 0.5, yaw).to_wire();
            let back = Pose2::from_wire(&p).unwrap();
            assert!(wrap_angle(back.yaw - yaw).abs() < 1e-6, "{yaw}");
        }
        assert_eq!(Pose2::from_wire(&common::Pose::default()).unwrap().yaw, 0.0);
        let nan = common::Pose {
            vec: Some(common::Vec3 {
                x: f32::NAN,
                y: 0.0,
                z: 0.0,
            }),
            quat: None,
        };
        assert!(Pose2::from_wire(&nan).is_none());
    }
}
