//! The camera the runtime declares to the policy and renders on the bridge.

pub const LOGICAL_ID: &str = "camera_front";
pub const WIDTH: u32 = 320;
pub const HEIGHT: u32 = 180;
pub const HFOV_DEG: f64 = 90.0;
/// Mount in the rig (rear-axle centre): forward, left, up, metres.
pub const MOUNT: (f64, f64, f64) = (1.5, 0.0, 1.6);
pub const JPEG_QUALITY: u32 = 90;

/// Focal length in pixels for the horizontal field of view.
pub fn focal() -> f64 {
    WIDTH as f64 / (2.0 * (HFOV_DEG.to_radians() / 2.0).tan())
}

/// The camera as the simulator takes it: intrinsics, and the mount in the
/// rig, level and looking ahead.
pub fn spec() -> atlas_sim::CameraSpec {
    let (x, y, z) = MOUNT;
    atlas_sim::CameraSpec {
        width: WIDTH,
        height: HEIGHT,
        fov_deg: HFOV_DEG,
        fx: focal(),
        fy: focal(),
        cx: WIDTH as f64 / 2.0,
        cy: HEIGHT as f64 / 2.0,
        mount: atlas_sim::Pose {
            x,
            y,
            z,
            ..atlas_sim::Pose::default()
        },
    }
}
