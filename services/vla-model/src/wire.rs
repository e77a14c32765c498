//! From wire messages to validated domain types, and back.
//!
//! Every check the contract asks of a server on incoming data lives here:
//! camera declarations (logical ids, intrinsics, mounts, contract revision),
//! egomotion (finite poses, normalisable quaternions, strictly increasing
//! timestamps, dynamic states 1:1 when present), routes (NaN padding
//! dropped, infinities refused) and ground truth. Errors name the offending
//! field so a client author can find it.
//!
//! The way back is [`plan_to_trajectory`]: a policy's plan checked and laid
//! out as the contract's trajectory, for `drive` and the start-up warm-up
//! alike.

use std::collections::HashSet;

use atlas_proto::common;
use atlas_proto::egodriver;
use atlas_proto::sensorsim::available_cameras_return::AvailableCamera;
use atlas_proto::sensorsim::camera_spec::CameraParam;
use atlas_proto::sensorsim::{CameraSpec, FthetaCameraParam};

use crate::Error;
use crate::geometry::{Pose, Quat, Vec3};
use crate::observation::{CameraDecl, Dynamics, EgoSample, GroundTruth, Route};
use crate::policy::Plan;

/// Which convention the client's camera mounts use (carla-driver-interface
/// contract revision, §6.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Revision {
    /// `rig_to_camera` is the camera body frame (x forward, y left, z up).
    BodyFrameMounts,
    /// `rig_to_camera` is the camera optical frame (AlpaSim's convention).
    OpticalFrameMounts,
}

impl Revision {
    /// Reads the revision header of `start_session`. Absent means revision 2:
    /// AlpaSim's runtime sends none and uses optical-frame mounts.
    pub fn from_metadata(md: &tonic::metadata::MetadataMap) -> Result<Revision, Error> {
        let Some(v) = md.get(atlas_proto::CONTRACT_REVISION_HEADER) else {
            return Ok(Revision::OpticalFrameMounts);
        };
        let text = v
            .to_str()
            .map_err(|_| Error::UnsupportedRevision(format!("{:?}", v.as_encoded_bytes())))?;
        match text.trim() {
            "1" => Ok(Revision::BodyFrameMounts),
            "2" => Ok(Revision::OpticalFrameMounts),
            other => Err(Error::UnsupportedRevision(other.to_string())),
        }
    }
}

/// Rotation from the camera body frame to the optical frame: its columns are
/// the optical axes in body coordinates, (0,−1,0), (0,0,−1), (1,0,0).
const BODY_TO_OPTICAL: Quat = Quat {
    w: -0.5,
    x: 0.5,
    y: -0.5,
    z: 0.5,
};

fn finite(field: &str, values: &[f64]) -> Result<(), Error> {
    match values.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(i) => Err(Error::invalid(format!(
            "{field}: value {} is not finite",
            values[i]
        ))),
    }
}

fn positive(field: &str, v: f64) -> Result<(), Error> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(Error::invalid(format!("{field} must be positive, got {v}")))
    }
}

fn ftheta(field: &str, p: &FthetaCameraParam) -> Result<(), Error> {
    finite(
        field,
        &[p.principal_point_x, p.principal_point_y, p.max_angle],
    )?;
    finite(
        &format!("{field}.pixeldist_to_angle_poly"),
        &p.pixeldist_to_angle_poly,
    )?;
    finite(
        &format!("{field}.angle_to_pixeldist_poly"),
        &p.angle_to_pixeldist_poly,
    )?;
    if p.pixeldist_to_angle_poly.is_empty() && p.angle_to_pixeldist_poly.is_empty() {
        return Err(Error::invalid(format!(
            "{field}: both polynomials are empty"
        )));
    }
    if p.max_angle < 0.0 {
        return Err(Error::invalid(format!("{field}.max_angle is negative")));
    }
    if let Some(c) = &p.linear_cde {
        finite(
            &format!("{field}.linear_cde"),
            &[c.linear_c, c.linear_d, c.linear_e],
        )?;
    }
    Ok(())
}

/// Checks that `spec` describes a usable projection.
fn intrinsics(field: &str, spec: &CameraSpec) -> Result<(), Error> {
    if spec.resolution_w == 0 || spec.resolution_h == 0 {
        return Err(Error::invalid(format!(
            "{field}: resolution {}x{} is not positive",
            spec.resolution_w, spec.resolution_h
        )));
    }
    match &spec.camera_param {
        None => Err(Error::invalid(format!(
            "{field}: no camera model (camera_param unset)"
        ))),
        Some(CameraParam::OpencvPinholeParam(p)) => {
            let f = format!("{field}.opencv_pinhole_param");
            finite(&f, &[p.principal_point_x, p.principal_point_y])?;
            positive(&format!("{f}.focal_length_x"), p.focal_length_x)?;
            positive(&format!("{f}.focal_length_y"), p.focal_length_y)?;
            finite(&format!("{f}.radial_coeffs"), &p.radial_coeffs)?;
            finite(&format!("{f}.tangential_coeffs"), &p.tangential_coeffs)?;
            finite(&format!("{f}.thin_prism_coeffs"), &p.thin_prism_coeffs)?;
            Ok(())
        }
        Some(CameraParam::OpencvFisheyeParam(p)) => {
            let f = format!("{field}.opencv_fisheye_param");
            finite(&f, &[p.principal_point_x, p.principal_point_y, p.max_angle])?;
            positive(&format!("{f}.focal_length_x"), p.focal_length_x)?;
            positive(&format!("{f}.focal_length_y"), p.focal_length_y)?;
            finite(&format!("{f}.radial_coeffs"), &p.radial_coeffs)?;
            if p.max_angle < 0.0 {
                return Err(Error::invalid(format!("{f}.max_angle is negative")));
            }
            Ok(())
        }
        Some(CameraParam::FthetaParam(p)) => ftheta(&format!("{field}.ftheta_param"), p),
    }
}

/// Validates the cameras of a `start_session` and expresses their mounts as
/// optical-frame poses.
pub fn cameras(declared: &[AvailableCamera], revision: Revision) -> Result<Vec<CameraDecl>, Error> {
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(declared.len());
    for (i, cam) in declared.iter().enumerate() {
        let field = format!("rollout_spec.vehicle.available_cameras[{i}]");
        if cam.logical_id.is_empty() {
            return Err(Error::invalid(format!("{field}.logical_id is empty")));
        }
        if !seen.insert(cam.logical_id.as_str()) {
            return Err(Error::invalid(format!(
                "{field}: camera {:?} declared twice",
                cam.logical_id
            )));
        }
        let spec = cam.intrinsics.as_ref().ok_or_else(|| {
            Error::invalid(format!(
                "{field}.intrinsics missing for {:?}",
                cam.logical_id
            ))
        })?;
        intrinsics(&format!("{field}.intrinsics"), spec)?;
        let mount = Pose::from_wire(cam.rig_to_camera.as_ref())
            .map_err(|e| Error::invalid(format!("{field}.rig_to_camera: {e}")))?;
        let rig_to_camera = match revision {
            Revision::OpticalFrameMounts => mount,
            Revision::BodyFrameMounts => {
                Pose::new(mount.translation, mount.rotation * BODY_TO_OPTICAL)
            }
        };
        out.push(CameraDecl {
            logical_id: cam.logical_id.clone(),
            intrinsics: spec.clone(),
            rig_to_camera,
        });
    }
    Ok(out)
}

fn vec3(field: &str, v: Option<&common::Vec3>) -> Result<Vec3, Error> {
    let out = Vec3::from_wire(v);
    if out.is_finite() {
        Ok(out)
    } else {
        Err(Error::invalid(format!("{field} is not finite")))
    }
}

fn dynamics(field: &str, d: &common::DynamicState) -> Result<Dynamics, Error> {
    Ok(Dynamics {
        angular_velocity: vec3(
            &format!("{field}.angular_velocity"),
            d.angular_velocity.as_ref(),
        )?,
        linear_velocity: vec3(
            &format!("{field}.linear_velocity"),
            d.linear_velocity.as_ref(),
        )?,
        linear_acceleration: vec3(
            &format!("{field}.linear_acceleration"),
            d.linear_acceleration.as_ref(),
        )?,
        angular_acceleration: vec3(
            &format!("{field}.angular_acceleration"),
            d.angular_acceleration.as_ref(),
        )?,
    })
}

/// Validates a trajectory: finite poses with usable quaternions and strictly
/// increasing timestamps.
fn timed_poses(field: &str, traj: Option<&common::Trajectory>) -> Result<Vec<(u64, Pose)>, Error> {
    let poses = traj.map(|t| t.poses.as_slice()).unwrap_or_default();
    let mut out: Vec<(u64, Pose)> = Vec::with_capacity(poses.len());
    for (i, p) in poses.iter().enumerate() {
        let pose = Pose::from_wire(p.pose.as_ref())
            .map_err(|e| Error::invalid(format!("{field}.poses[{i}].pose: {e}")))?;
        if let Some(&(prev, _)) = out.last()
            && p.timestamp_us <= prev
        {
            return Err(Error::invalid(format!(
                "{field}.poses[{i}].timestamp_us {} does not increase (previous {prev})",
                p.timestamp_us
            )));
        }
        out.push((p.timestamp_us, pose));
    }
    Ok(out)
}

/// Validates a `submit_egomotion_observation`.
pub fn egomotion(req: &egodriver::RolloutEgoTrajectory) -> Result<Vec<EgoSample>, Error> {
    let poses = timed_poses("trajectory", req.trajectory.as_ref())?;
    let states = &req.dynamic_states;
    if !states.is_empty() && states.len() != poses.len() {
        return Err(Error::invalid(format!(
            "dynamic_states has {} entries for {} poses; send one per pose or none",
            states.len(),
            poses.len()
        )));
    }
    poses
        .into_iter()
        .enumerate()
        .map(|(i, (timestamp_us, pose))| {
            let dynamics = states
                .get(i)
                .map(|d| dynamics(&format!("dynamic_states[{i}]"), d))
                .transpose()?;
            Ok(EgoSample {
                timestamp_us,
                pose,
                dynamics,
            })
        })
        .collect()
}

/// Validates a route: NaN waypoints are padding and dropped, infinite ones
/// refused.
pub fn route(route: Option<&egodriver::Route>) -> Result<Route, Error> {
    let Some(r) = route else {
        return Ok(Route::default());
    };
    let mut waypoints = Vec::with_capacity(r.waypoints.len());
    for (i, w) in r.waypoints.iter().enumerate() {
        let p = Vec3::from_wire(Some(w));
        if p.has_nan() {
            continue;
        }
        if !p.is_finite() {
            return Err(Error::invalid(format!("route.waypoints[{i}] is infinite")));
        }
        waypoints.push(p);
    }
    Ok(Route {
        timestamp_us: r.timestamp_us,
        waypoints,
    })
}

/// Validates a `submit_recording_ground_truth`.
pub fn ground_truth(gt: Option<&egodriver::GroundTruth>) -> Result<GroundTruth, Error> {
    let Some(gt) = gt else {
        return Ok(GroundTruth::default());
    };
    Ok(GroundTruth {
        timestamp_us: gt.timestamp_us,
        poses: timed_poses("ground_truth.trajectory", gt.trajectory.as_ref())?,
    })
}

/// The contract's trajectory: the current pose stamped `now`, then the
/// plan. Plan poses at or before `now` are dropped (the anchor covers that
/// instant); the rest must be finite, strictly increasing and reach `query`.
/// An empty plan stays empty ("no plan yet").
pub fn plan_to_trajectory(
    anchor: Pose,
    now: u64,
    query: u64,
    plan: Plan,
) -> Result<common::Trajectory, Error> {
    if plan.poses.is_empty() {
        return Ok(common::Trajectory::default());
    }
    let mut poses = Vec::with_capacity(plan.poses.len() + 1);
    poses.push(common::PoseAtTime {
        pose: Some(anchor.to_wire()),
        timestamp_us: now,
    });
    let mut last = now;
    for p in plan.poses.into_iter().filter(|p| p.timestamp_us > now) {
        if p.timestamp_us <= last {
            return Err(Error::BadPlan(format!(
                "timestamp {} does not increase (previous {last})",
                p.timestamp_us
            )));
        }
        let t = p.pose.translation;
        if !t.is_finite() {
            return Err(Error::BadPlan(format!(
                "non-finite position at {} µs",
                p.timestamp_us
            )));
        }
        let q = p.pose.rotation;
        let rotation = Quat::normalized(q.w, q.x, q.y, q.z)
            .map_err(|e| Error::BadPlan(format!("at {} µs: {e}", p.timestamp_us)))?;
        poses.push(common::PoseAtTime {
            pose: Some(Pose::new(t, rotation).to_wire()),
            timestamp_us: p.timestamp_us,
        });
        last = p.timestamp_us;
    }
    if poses.len() < 2 || last < query {
        return Err(Error::BadPlan(format!(
            "plan ends at {last} µs, before the queried {query} µs"
        )));
    }
    Ok(common::Trajectory { poses })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::PlannedPose;
    use atlas_proto::sensorsim::OpenCvPinholeCameraParam;

    fn pinhole_camera(id: &str) -> AvailableCamera {
        AvailableCamera {
            logical_id: id.into(),
            intrinsics: Some(CameraSpec {
                logical_id: id.into(),
                resolution_w: 640,
                resolution_h: 360,
                camera_param: Some(CameraParam::OpencvPinholeParam(OpenCvPinholeCameraParam {
                    principal_point_x: 320.0,
                    principal_point_y: 180.0,
                    focal_length_x: 656.0,
                    focal_length_y: 656.0,
                    ..Default::default()
                })),
                ..Default::default()
            }),
            rig_to_camera: Some(common::Pose {
                vec: Some(common::Vec3 {
                    x: 2.5,
                    y: 0.0,
                    z: 1.5,
                }),
                quat: Some(common::Quat {
                    w: 1.0,
                    x: 0.0,
                    y: 0.0,
                    z: 0.0,
                }),
            }),
        }
    }

    fn pose_at(t: u64, x: f32) -> common::PoseAtTime {
        common::PoseAtTime {
            pose: Some(common::Pose {
                vec: Some(common::Vec3 { x, y: 0.0, z: 0.0 }),
                quat: None,
            }),
            timestamp_us: t,
        }
    }

    #[test]
    fn revision_one_mounts_become_optical() {
        let cams = cameras(&[pinhole_camera("front")], Revision::BodyFrameMounts).unwrap();
        let q = cams[0].rig_to_camera.rotation;
        // Optical z (forward) is rig +x for a camera looking ahead.
        let z = q.rotate(Vec3::new(0.0, 0.0, 1.0));
        assert!((z.x - 1.0).abs() < 1e-9, "{z:?}");
        let cams = cameras(&[pinhole_camera("front")], Revision::OpticalFrameMounts).unwrap();
        assert_eq!(cams[0].rig_to_camera.rotation, Quat::IDENTITY);
    }

    #[test]
    fn camera_checks() {
        assert!(cameras(&[pinhole_camera("")], Revision::OpticalFrameMounts).is_err());
        assert!(
            cameras(
                &[pinhole_camera("a"), pinhole_camera("a")],
                Revision::OpticalFrameMounts
            )
            .is_err()
        );
        let mut c = pinhole_camera("a");
        if let Some(CameraParam::OpencvPinholeParam(p)) =
            c.intrinsics.as_mut().and_then(|i| i.camera_param.as_mut())
        {
            p.focal_length_x = 0.0;
        }
        assert!(cameras(&[c], Revision::OpticalFrameMounts).is_err());
        let mut c = pinhole_camera("a");
        c.intrinsics.as_mut().unwrap().resolution_w = 0;
        assert!(cameras(&[c], Revision::OpticalFrameMounts).is_err());
        let mut c = pinhole_camera("a");
        c.intrinsics.as_mut().unwrap().camera_param = None;
        assert!(cameras(&[c], Revision::OpticalFrameMounts).is_err());
        let mut c = pinhole_camera("a");
        c.rig_to_camera.as_mut().unwrap().quat = Some(common::Quat {
            w: f32::NAN,
            x: 0.0,
            y: 0.0,
            z: 0.0,
        });
        assert!(cameras(&[c], Revision::OpticalFrameMounts).is_err());
    }

    #[test]
    fn egomotion_checks() {
        let ok = egodriver::RolloutEgoTrajectory {
            session_uuid: "s".into(),
            trajectory: Some(common::Trajectory {
                poses: vec![pose_at(0, 0.0), pose_at(100, 1.0)],
            }),
            dynamic_states: vec![],
        };
        let samples = egomotion(&ok).unwrap();
        assert_eq!(samples.len(), 2);
        assert!(samples[0].dynamics.is_none());
        // Unset quaternion reads as identity.
        assert_eq!(samples[0].pose.rotation, Quat::IDENTITY);

        let mut bad = ok.clone();
        bad.dynamic_states = vec![common::DynamicState::default()];
        assert!(egomotion(&bad).is_err());

        let mut bad = ok.clone();
        bad.trajectory.as_mut().unwrap().poses[1].timestamp_us = 0;
        assert!(egomotion(&bad).is_err());

        let mut bad = ok.clone();
        bad.trajectory.as_mut().unwrap().poses[1] = pose_at(100, f32::INFINITY);
        assert!(egomotion(&bad).is_err());

        let mut bad = ok;
        bad.dynamic_states = vec![
            common::DynamicState::default(),
            common::DynamicState {
                linear_velocity: Some(common::Vec3 {
                    x: f32::NAN,
                    y: 0.0,
                    z: 0.0,
                }),
                ..Default::default()
            },
        ];
        assert!(egomotion(&bad).is_err());
    }

    #[test]
    fn route_drops_nan_padding_and_refuses_infinity() {
        let v = |x: f32| common::Vec3 { x, y: 0.0, z: 0.0 };
        let r = route(Some(&egodriver::Route {
            waypoints: vec![v(0.0), v(4.0), v(f32::NAN), v(f32::NAN)],
            timestamp_us: 7,
        }))
        .unwrap();
        assert_eq!(r.waypoints.len(), 2);
        assert_eq!(r.timestamp_us, 7);
        assert!(
            route(Some(&egodriver::Route {
                waypoints: vec![v(f32::INFINITY)],
                timestamp_us: 0,
            }))
            .is_err()
        );
    }

    #[test]
    fn revision_header() {
        let mut md = tonic::metadata::MetadataMap::new();
        assert_eq!(
            Revision::from_metadata(&md).unwrap(),
            Revision::OpticalFrameMounts
        );
        md.insert(atlas_proto::CONTRACT_REVISION_HEADER, "1".parse().unwrap());
        assert_eq!(
            Revision::from_metadata(&md).unwrap(),
            Revision::BodyFrameMounts
        );
        md.insert(atlas_proto::CONTRACT_REVISION_HEADER, "2".parse().unwrap());
        assert_eq!(
            Revision::from_metadata(&md).unwrap(),
            Revision::OpticalFrameMounts
        );
        md.insert(atlas_proto::CONTRACT_REVISION_HEADER, "3".parse().unwrap());
        assert!(matches!(
            Revision::from_metadata(&md),
            Err(Error::UnsupportedRevision(_))
        ));
    }

    fn planned(t: u64, x: f64) -> PlannedPose {
        PlannedPose {
            timestamp_us: t,
            pose: Pose::from_xyz_yaw(x, 0.0, 0.0, 0.0),
        }
    }

    fn plan(poses: Vec<PlannedPose>) -> Plan {
        Plan {
            poses,
            terminate_session: false,
        }
    }

    #[test]
    fn anchor_first_then_future_poses() {
        let anchor = Pose::from_xyz_yaw(1.0, 2.0, 3.0, 0.5);
        let t = plan_to_trajectory(
            anchor,
            1000,
            1100,
            plan(vec![
                planned(1000, 9.0),
                planned(1100, 1.0),
                planned(1200, 2.0),
            ]),
        )
        .unwrap();
        let times: Vec<u64> = t.poses.iter().map(|p| p.timestamp_us).collect();
        assert_eq!(times, vec![1000, 1100, 1200]);
        assert_eq!(t.poses[0].pose.unwrap().vec.unwrap().x, 1.0);
    }

    #[test]
    fn refuses_bad_plans() {
        let a = Pose::IDENTITY;
        assert!(
            plan_to_trajectory(a, 0, 300, plan(vec![planned(100, 0.0), planned(200, 0.0)]))
                .is_err()
        );
        assert!(
            plan_to_trajectory(a, 0, 100, plan(vec![planned(200, 0.0), planned(100, 0.0)]))
                .is_err()
        );
        assert!(plan_to_trajectory(a, 0, 100, plan(vec![planned(100, f64::NAN)])).is_err());
        let mut p = planned(100, 0.0);
        p.pose.translation = Vec3::new(0.0, f64::INFINITY, 0.0);
        assert!(plan_to_trajectory(a, 0, 100, plan(vec![p])).is_err());
        assert!(plan_to_trajectory(a, 500, 600, plan(vec![planned(400, 0.0)])).is_err());
        // An empty plan is "not ready", not an error.
        assert!(
            plan_to_trajectory(a, 0, 100, plan(vec![]))
                .unwrap()
                .poses
                .is_empty()
        );
    }
}
