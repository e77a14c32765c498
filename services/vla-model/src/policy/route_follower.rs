//! The `baseline` policy: follow the submitted route at a target speed.
//!
//! The route (rig frame at its timestamp) is moved into the local frame
//! through the ego pose at that time and turned into a smooth curve through
//! its points that continues straight past both ends ([`super::path`]). The
//! plan starts at the current pose and speed, accelerates and brakes within
//! comfortable limits towards the target speed, slows ahead of curves so the
//! lateral acceleration stays bounded, and removes any lateral offset from
//! the route over a merge distance along a curve that starts at the current
//! heading, so that replanning every step continues the same manoeuvre.
//! Without a usable route it drives straight ahead. Images are not looked
//! at (the server still decodes and validates them).

use atlas_geometry::{merge_offset, wrap_angle};

use super::path::{P2, Path};
use super::{PLAN_POSES, PLAN_STEP_US, Plan, PlannedPose, Policy, PolicyError, plan_timestamps};
use crate::geometry::Pose;
use crate::observation::Observation;

/// Speeds above this (m/s) are taken as this when planning, so a corrupt
/// speed cannot blow up the planning grid.
const MAX_PLANNING_SPEED: f64 = 100.0;

/// Arc-length resolution of the speed profile (m).
const PROFILE_DS: f64 = 0.25;

/// Integration sub-steps per plan step.
const SUBSTEPS: u32 = 10;

/// Tuning of [`RouteFollower`].
#[derive(Clone, Debug, PartialEq)]
pub struct RouteFollowerParams {
    /// Cruise speed, m/s.
    pub target_speed: f64,
    /// Largest longitudinal acceleration, m/s².
    pub max_accel: f64,
    /// Largest deceleration (positive), m/s².
    pub max_decel: f64,
    /// Largest lateral acceleration in curves, m/s².
    pub max_lateral_accel: f64,
    /// Minimum number of plan poses after the anchor.
    pub min_poses: usize,
    /// A lateral offset from the route is removed over this many seconds of
    /// driving, bounded by the two distances below.
    pub merge_time_s: f64,
    pub merge_min_m: f64,
    pub merge_max_m: f64,
}

impl Default for RouteFollowerParams {
    fn default() -> Self {
        Self {
            target_speed: 8.0,
            max_accel: 2.0,
            max_decel: 3.0,
            max_lateral_accel: 2.0,
            min_poses: PLAN_POSES,
            merge_time_s: 2.0,
            merge_min_m: 6.0,
            merge_max_m: 40.0,
        }
    }
}

impl RouteFollowerParams {
    /// Checks every value is usable, naming the first one that is not.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("max_accel", self.max_accel),
            ("max_decel", self.max_decel),
            ("max_lateral_accel", self.max_lateral_accel),
            ("merge_time_s", self.merge_time_s),
            ("merge_min_m", self.merge_min_m),
            ("merge_max_m", self.merge_max_m),
        ];
        for (name, v) in positive {
            if !(v.is_finite() && v > 0.0) {
                return Err(format!("{name} must be a positive number, got {v}"));
            }
        }
        if !(self.target_speed.is_finite()
            && (0.0..=MAX_PLANNING_SPEED).contains(&self.target_speed))
        {
            return Err(format!(
                "target speed must be within 0..={MAX_PLANNING_SPEED} m/s, got {}",
                self.target_speed
            ));
        }
        if self.merge_min_m > self.merge_max_m {
            return Err("merge_min_m must not exceed merge_max_m".into());
        }
        if self.min_poses == 0 {
            return Err("min_poses must be at least 1".into());
        }
        Ok(())
    }
}

/// Follows the route polyline; see the module docs.
#[derive(Clone, Debug)]
pub struct RouteFollower {
    params: RouteFollowerParams,
}

impl RouteFollower {
    pub fn new(params: RouteFollowerParams) -> Result<Self, String> {
        params.validate()?;
        Ok(Self { params })
    }

    pub fn params(&self) -> &RouteFollowerParams {
        &self.params
    }

    /// The path to follow: the route in local x/y, or a straight line along
    /// the current heading when there is no usable route.
    fn path(&self, obs: &Observation, ego: P2, yaw: f64) -> Path {
        let route: Vec<P2> = obs
            .route_in_local()
            .unwrap_or_default()
            .into_iter()
            .map(|p| [p.x, p.y])
            .collect();
        if let Some(p) = Path::new(route.iter().copied()) {
            return p;
        }
        // A single usable waypoint: head for it.
        if let [p] = route.as_slice()
            && let Some(path) = Path::new([ego, *p])
        {
            return path;
        }
        Path::ray(ego, yaw)
    }

    /// Allowed speed along the path from `s0`, sampled every
    /// [`PROFILE_DS`]: the target, capped by the curvature limit, and
    /// lowered ahead of every cap so it can be met braking at `max_decel`.
    fn speed_profile(&self, path: &Path, s0: f64, reach: f64) -> Vec<f64> {
        let p = &self.params;
        atlas_geometry::speed_profile(
            |s| path.curvature_at(s0 + s),
            reach,
            PROFILE_DS,
            p.target_speed,
            p.max_lateral_accel,
            p.max_decel,
        )
    }
}

fn interp(profile: &[f64], x: f64) -> f64 {
    let last = profile.len() - 1;
    if x <= 0.0 {
        return profile[0];
    }
    let i = x.floor() as usize;
    if i >= last {
        return profile[last];
    }
    let t = x - i as f64;
    profile[i] * (1.0 - t) + profile[i + 1] * t
}

/// Largest heading error (rad) the lateral profile starts from; beyond it
/// the slope would grow without bound.
const MAX_HEADING_ERROR: f64 = 1.0;

impl Policy for RouteFollower {
    fn name(&self) -> &str {
        "baseline"
    }

    fn ego_history(&self) -> usize {
        2
    }

    fn plan(&self, obs: &Observation) -> Result<Plan, PolicyError> {
        let p = &self.params;
        let cur = obs
            .current()
            .ok_or_else(|| PolicyError::NotEnoughContext("no ego pose yet".into()))?;
        let times = plan_timestamps(obs.time_now_us, obs.time_query_us, p.min_poses)
            .ok_or_else(|| PolicyError::Failed("plan horizon out of range".into()))?;
        let t = cur.pose.translation;
        let (ego, yaw, z) = ([t.x, t.y], cur.pose.yaw(), t.z);
        let v0 = {
            let v = obs.current_speed();
            if v.is_finite() {
                v.clamp(0.0, MAX_PLANNING_SPEED)
            } else {
                0.0
            }
        };

        let path = self.path(obs, ego, yaw);
        let s0 = path.project(ego);
        let on_path = path.point_at(s0);
        let dir0 = path.direction_at(s0);
        // Signed lateral offset (left positive) and heading error relative
        // to the path where the ego projects onto it.
        let d0 = dir0[0] * (ego[1] - on_path[1]) - dir0[1] * (ego[0] - on_path[0]);
        let heading_error = wrap_angle(yaw - path.heading_at(s0));
        let m0 = heading_error
            .clamp(-MAX_HEADING_ERROR, MAX_HEADING_ERROR)
            .tan();
        let merge = (p.merge_time_s * v0.max(p.target_speed)).clamp(p.merge_min_m, p.merge_max_m);

        let horizon_s = times.len() as f64 * PLAN_STEP_US as f64 * 1e-6;
        let reach = v0.max(p.target_speed) * horizon_s + 10.0;
        let profile = self.speed_profile(&path, s0, reach);

        let dt = PLAN_STEP_US as f64 * 1e-6 / f64::from(SUBSTEPS);
        let (mut s, mut v) = (s0, v0);
        let mut poses = Vec::with_capacity(times.len());
        for &ts in &times {
            for _ in 0..SUBSTEPS {
                let wanted = interp(&profile, (s - s0) / PROFILE_DS);
                let a = ((wanted - v) / dt).clamp(-p.max_decel, p.max_accel);
                if v + a * dt < 0.0 {
                    // Stops within this sub-step.
                    s += v * v / (-2.0 * a);
                    v = 0.0;
                } else {
                    s += v * dt + 0.5 * a * dt * dt;
                    v += a * dt;
                }
            }
            let (lat, dlat) = merge_offset(d0, m0, merge, s - s0);
            let q = path.point_at(s);
            let d = path.direction_at(s);
            let x = q[0] - d[1] * lat;
            let y = q[1] + d[0] * lat;
            let heading = if s - s0 < 1e-3 {
                yaw
            } else {
                wrap_angle(path.heading_at(s) + dlat.atan())
            };
            if !(x.is_finite() && y.is_finite() && heading.is_finite()) {
                return Err(PolicyError::Failed(format!(
                    "non-finite plan pose at {ts} µs"
                )));
            }
            poses.push(PlannedPose {
                timestamp_us: ts,
                pose: Pose::from_xyz_yaw(x, y, z, heading),
            });
        }
        Ok(Plan {
            poses,
            terminate_session: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::geometry::Vec3;
    use crate::observation::{Dynamics, EgoSample, Route};

    fn obs(x: f64, y: f64, yaw: f64, speed: f64, route: Vec<Vec3>) -> Observation {
        Observation {
            time_now_us: 1_000_000,
            time_query_us: 1_100_000,
            ego: vec![EgoSample {
                timestamp_us: 1_000_000,
                pose: Pose::from_xyz_yaw(x, y, 0.3, yaw),
                dynamics: Some(Dynamics {
                    linear_velocity: Vec3::new(speed, 0.0, 0.0),
                    ..Dynamics::default()
                }),
            }],
            route: Some(Arc::new(Route {
                timestamp_us: 1_000_000,
                waypoints: route,
            })),
            ..Observation::default()
        }
    }

    fn straight_route() -> Vec<Vec3> {
        (0..50)
            .map(|i| Vec3::new(2.0 * f64::from(i), 0.0, 0.0))
            .collect()
    }

    fn follower() -> RouteFollower {
        RouteFollower::new(RouteFollowerParams::default()).unwrap()
    }

    #[test]
    fn accelerates_from_rest_within_limits_and_reaches_target() {
        let plan = follower()
            .plan(&obs(0.0, 0.0, 0.0, 0.0, straight_route()))
            .unwrap();
        assert_eq!(plan.poses.len(), 40);
        let xs: Vec<f64> = plan.poses.iter().map(|p| p.pose.translation.x).collect();
        // 0.1 s at 2 m/s² from rest.
        assert!((xs[0] - 0.01).abs() < 1e-6, "{}", xs[0]);
        // 4 s later: 4 m/s... 8 m/s reached at exactly 4 s: 16 m.
        assert!((xs[39] - 16.0).abs() < 0.05, "{}", xs[39]);
        for p in &plan.poses {
            assert!(p.pose.translation.y.abs() < 1e-9);
            assert!((p.pose.translation.z - 0.3).abs() < 1e-12);
            assert!(p.pose.yaw().abs() < 1e-9);
        }
        for w in plan.poses.windows(2) {
            assert_eq!(w[1].timestamp_us - w[0].timestamp_us, PLAN_STEP_US);
        }
    }

    #[test]
    fn keeps_cruising_at_target_speed() {
        let plan = follower()
            .plan(&obs(0.0, 0.0, 0.0, 8.0, straight_route()))
            .unwrap();
        let last = plan.poses[39].pose.translation.x;
        assert!((last - 32.0).abs() < 1e-6, "{last}");
    }

    #[test]
    fn brakes_comfortably_when_too_fast() {
        let plan = follower()
            .plan(&obs(0.0, 0.0, 0.0, 20.0, straight_route()))
            .unwrap();
        let mut prev_v = 20.0;
        let mut prev_x = 0.0;
        for p in &plan.poses {
            let v = (p.pose.translation.x - prev_x) / 0.1;
            assert!(
                v - prev_v >= -3.0 * 0.1 - 0.05 - 1e-9,
                "decel too hard {prev_v} → {v}"
            );
            prev_v = v;
            prev_x = p.pose.translation.x;
        }
        assert!((prev_v - 8.0).abs() < 0.2, "{prev_v}");
    }

    #[test]
    fn slows_for_a_curve_and_follows_it() {
        // A quarter circle of radius 15 m after 10 m of straight road.
        let mut route: Vec<Vec3> = (0..5)
            .map(|i| Vec3::new(2.0 * f64::from(i), 0.0, 0.0))
            .collect();
        let r = 15.0;
        for i in 0..=30 {
            let a = f64::from(i) / 30.0 * std::f64::consts::FRAC_PI_2;
            route.push(Vec3::new(10.0 + r * a.sin(), r * (1.0 - a.cos()), 0.0));
        }
        let plan = follower().plan(&obs(0.0, 0.0, 0.0, 8.0, route)).unwrap();
        // sqrt(2 m/s² · 15 m) ≈ 5.48 m/s in the curve.
        let mut max_in_curve: f64 = 0.0;
        let mut prev = plan.poses[0].pose.translation;
        for p in &plan.poses[1..] {
            let cur = p.pose.translation;
            let v = (cur - prev).scale(10.0);
            let speed = v.x.hypot(v.y);
            let dc = (cur.x - 10.0).hypot(cur.y - r);
            if cur.x > 11.0 && cur.y < r {
                assert!((dc - r).abs() < 0.1, "off the arc: {dc}");
                max_in_curve = max_in_curve.max(speed);
            }
            prev = cur;
        }
        assert!(max_in_curve > 0.0);
        assert!(max_in_curve < 5.6, "{max_in_curve}");
        // Heading turns left along the arc.
        assert!(plan.poses[39].pose.yaw() > 0.3);
    }

    #[test]
    fn merges_back_onto_the_route_smoothly() {
        let plan = follower()
            .plan(&obs(0.0, 1.0, 0.0, 8.0, {
                // Route in the rig frame: the lane centre is 1 m to the right.
                (0..50)
                    .map(|i| Vec3::new(2.0 * f64::from(i), -1.0, 0.0))
                    .collect()
            }))
            .unwrap();
        let ys: Vec<f64> = plan.poses.iter().map(|p| p.pose.translation.y).collect();
        assert!(ys[0] > 0.9, "first pose jumped: {}", ys[0]);
        assert!(ys.windows(2).all(|w| w[1] <= w[0] + 1e-9));
        assert!(ys[39].abs() < 1e-9);
    }

    #[test]
    fn closed_loop_replanning_converges_onto_the_route() {
        let f = follower();
        let (mut x, mut y, mut yaw, mut v): (f64, f64, f64, f64) = (0.0, 1.5, 0.0, 8.0);
        let mut min_y: f64 = f64::INFINITY;
        for _ in 0..40 {
            let route = (0..50).map(|i| {
                // The lane (y = 0) ahead, in the rig frame.
                let (lx, ly) = (x + 2.0 * f64::from(i) - x, -y);
                let (s, c) = yaw.sin_cos();
                Vec3::new(c * lx + s * ly, -s * lx + c * ly, 0.0)
            });
            let plan = f.plan(&obs(x, y, yaw, v, route.collect())).unwrap();
            let next = plan.poses[0].pose;
            let (nx, ny) = (next.translation.x, next.translation.y);
            v = (nx - x).hypot(ny - y) / 0.1;
            (x, y, yaw) = (nx, ny, next.yaw());
            min_y = min_y.min(y);
        }
        assert!(y.abs() < 0.05, "still {y} m off");
        assert!(min_y > -0.15, "overshot to {min_y}");
        assert!(yaw.abs() < 0.02, "heading {yaw}");
    }

    #[test]
    fn drives_straight_without_a_route() {
        let mut o = obs(5.0, 5.0, std::f64::consts::FRAC_PI_2, 8.0, vec![]);
        o.route = None;
        let plan = follower().plan(&o).unwrap();
        let last = plan.poses[39].pose;
        assert!((last.translation.x - 5.0).abs() < 1e-6);
        assert!((last.translation.y - 37.0).abs() < 1e-6);
        assert!((last.yaw() - std::f64::consts::FRAC_PI_2).abs() < 1e-9);
    }

    #[test]
    fn standing_still_at_zero_target_speed() {
        let f = RouteFollower::new(RouteFollowerParams {
            target_speed: 0.0,
            ..RouteFollowerParams::default()
        })
        .unwrap();
        let plan = f.plan(&obs(0.0, 0.0, 0.2, 0.0, straight_route())).unwrap();
        for p in &plan.poses {
            assert!(p.pose.translation.x.abs() < 1e-12);
            assert!((p.pose.yaw() - 0.2).abs() < 1e-9);
        }
    }

    #[test]
    fn rejects_bad_parameters() {
        for params in [
            RouteFollowerParams {
                max_accel: 0.0,
                ..RouteFollowerParams::default()
            },
            RouteFollowerParams {
                target_speed: f64::NAN,
                ..RouteFollowerParams::default()
            },
            RouteFollowerParams {
                target_speed: -1.0,
                ..RouteFollowerParams::default()
            },
        ] {
            assert!(RouteFollower::new(params).is_err());
        }
    }
}
