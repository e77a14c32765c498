//! The runtime's geometry: [`atlas_geometry`]'s planar poses and polylines,
//! and their egodriver wire forms.

pub use atlas_geometry::{Polyline, Pose2, Projection, wrap_angle};
pub use atlas_proto::wire::{PoseWire, optical_mount, yaw_of};
