//! The privileged expert: the planner demonstrations are cloned from.
//!
//! It sees what no policy sees — the route as a dense world polyline and
//! every actor's box and speed — and plans the same thing the model must:
//! 4 s of 10 Hz poses with headings in the rig frame.
//!
//! - **Path**: the route from the ego's foot point on, continued straight
//!   past its end; a lateral offset or heading error is removed over a
//!   merge distance along a cubic (so replanning every step continues one
//!   smooth manoeuvre).
//! - **Speed**: towards the cruise speed within acceleration limits, slowed
//!   ahead of curves to bound the lateral acceleration, and behind the
//!   nearest obstacle in the driving corridor (a vehicle, pedestrian or
//!   prop whose box, now or — for pedestrians — within the next 3 s,
//!   reaches into the ego's swept width): the ego keeps a gap of
//!   `2.5 m + 1 s × speed` to it, braking along a comfortable
//!   deceleration curve, harder only when already too close.

use atlas_geometry::{Pose2, merge_offset, wrap_angle};
use atlas_sim::{ActorKind, ActorState};

/// Arc-length resolution of the speed profile (m).
const PROFILE_DS: f64 = 0.5;
/// Integration sub-steps per 0.1 s plan step.
const SUBSTEPS: usize = 10;
/// Plan step, seconds.
pub const PLAN_DT: f64 = 0.1;

/// Expert tuning.
#[derive(Clone, Debug, PartialEq)]
pub struct ExpertParams {
    pub cruise_speed: f64,
    pub max_accel: f64,
    /// Comfortable deceleration (positive).
    pub comfort_decel: f64,
    /// Hardest deceleration when already too close (positive).
    pub max_decel: f64,
    pub max_lateral_accel: f64,
    /// Obstacles are looked for this far along the path, metres.
    pub lookahead: f64,
    /// Standstill gap to the obstacle ahead, metres, plus `headway` × speed.
    pub min_gap: f64,
    pub headway: f64,
    /// Half the width of the corridor the ego sweeps, metres (half the car
    /// plus a margin).
    pub half_corridor: f64,
    /// Ego box: rig to front bumper, metres.
    pub ego_front: f64,
    pub merge_time_s: f64,
    pub merge_min_m: f64,
    pub merge_max_m: f64,
}

impl Default for ExpertParams {
    fn default() -> Self {
        Self {
            cruise_speed: 8.0,
            max_accel: 2.0,
            comfort_decel: 3.0,
            max_decel: 6.0,
            max_lateral_accel: 2.0,
            lookahead: 60.0,
            min_gap: 2.5,
            headway: 1.0,
            half_corridor: 1.45,
            ego_front: 3.7,
            merge_time_s: 2.0,
            merge_min_m: 6.0,
            merge_max_m: 40.0,
        }
    }
}

/// A polyline with arc length, continued straight past both ends.
#[derive(Clone, Debug)]
pub struct Path {
    pts: Vec<[f64; 2]>,
    s: Vec<f64>,
}

impl Path {
    /// At least two distinct points (consecutive duplicates are dropped).
    pub fn new(points: impl IntoIterator<Item = [f64; 2]>) -> Option<Self> {
        let mut pts: Vec<[f64; 2]> = Vec::new();
        for p in points {
            if !(p[0].is_finite() && p[1].is_finite()) {
                continue;
            }
            if pts
                .last()
                .is_none_or(|q| (p[0] - q[0]).hypot(p[1] - q[1]) > 1e-6)
            {
                pts.push(p);
            }
        }
        if pts.len() < 2 {
            return None;
        }
        let mut s = vec![0.0];
        for w in pts.windows(2) {
            let last = *s.last().unwrap_or(&0.0);
            s.push(last + (w[1][0] - w[0][0]).hypot(w[1][1] - w[0][1]));
        }
        Some(Self { pts, s })
    }

    pub fn length(&self) -> f64 {
        *self.s.last().unwrap_or(&0.0)
    }

    fn segment(&self, s: f64) -> usize {
        let i = self.s.partition_point(|&v| v <= s);
        i.clamp(1, self.pts.len() - 1) - 1
    }

    pub fn point_at(&self, s: f64) -> [f64; 2] {
        let i = self.segment(s);
        let (a, b) = (self.pts[i], self.pts[i + 1]);
        let len = self.s[i + 1] - self.s[i];
        let t = (s - self.s[i]) / len;
        [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t]
    }

    pub fn heading_at(&self, s: f64) -> f64 {
        let i = self.segment(s);
        let (a, b) = (self.pts[i], self.pts[i + 1]);
        (b[1] - a[1]).atan2(b[0] - a[0])
    }

    /// Unsigned curvature from the heading change over ±2 m.
    pub fn curvature_at(&self, s: f64) -> f64 {
        let h = 2.0;
        wrap_angle(self.heading_at(s + h) - self.heading_at(s - h)).abs() / (2.0 * h)
    }

    /// Arc length and signed lateral offset (left positive) of the closest
    /// point, searching segments whose start lies within `[from, to]`.
    pub fn project_within(&self, p: [f64; 2], from: f64, to: f64) -> (f64, f64) {
        let mut best = (f64::INFINITY, 0.0, 0.0);
        let last = self.pts.len() - 1;
        for i in 0..last {
            if self.s[i + 1] < from || self.s[i] > to {
                continue;
            }
            let (a, b) = (self.pts[i], self.pts[i + 1]);
            let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
            let len2 = dx * dx + dy * dy;
            let mut t = ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2;
            // Beyond the ends the path continues straight.
            if i > 0 {
                t = t.max(0.0);
            }
            if i + 1 < last {
                t = t.min(1.0);
            }
            let (qx, qy) = (a[0] + dx * t, a[1] + dy * t);
            let d2 = (p[0] - qx).powi(2) + (p[1] - qy).powi(2);
            if d2 < best.0 {
                let len = len2.sqrt();
                let lat = (dx * (p[1] - a[1]) - dy * (p[0] - a[0])) / len;
                best = (d2, self.s[i] + t * len, lat);
            }
        }
        (best.1, best.2)
    }

    pub fn project(&self, p: [f64; 2]) -> (f64, f64) {
        self.project_within(p, f64::NEG_INFINITY, f64::INFINITY)
    }
}

/// What the expert knows about the ego.
#[derive(Clone, Copy, Debug)]
pub struct EgoState {
    pub pose: Pose2,
    pub speed: f64,
}

/// The nearest thing to stop behind: free distance to it along the path
/// (bumper to its back) and its speed along the path.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Obstacle {
    pub gap: f64,
    pub speed: f64,
}

/// Lateral half extent of an actor's box seen across a path heading.
fn half_extent(a: &ActorState, path_heading: f64) -> (f64, f64) {
    let rel = wrap_angle(a.pose.yaw - path_heading);
    let (s, c) = rel.sin_cos();
    let (l, w) = (a.dimensions.length * 0.5, a.dimensions.width * 0.5);
    // Half extents of the rotated box along and across the path.
    (l * c.abs() + w * s.abs(), l * s.abs() + w * c.abs())
}

/// The box centre of an actor (vehicles are posed at the rear axle).
fn box_centre(a: &ActorState) -> [f64; 2] {
    let off = a.dimensions.centre_offset(a.kind);
    let (s, c) = a.pose.yaw.sin_cos();
    [a.pose.x + c * off, a.pose.y + s * off]
}

/// The nearest obstacle in the corridor ahead of `s0` on `path`.
pub fn nearest_obstacle(
    params: &ExpertParams,
    path: &Path,
    s0: f64,
    ego_id: u64,
    actors: &[ActorState],
) -> Option<Obstacle> {
    let mut best: Option<Obstacle> = None;
    for a in actors.iter().filter(|a| a.id != ego_id) {
        let centre = box_centre(a);
        let (vx, vy) = (a.velocity[0], a.velocity[1]);
        // Pedestrians are checked where they will be over the next 3 s;
        // everything else where it is.
        let times: &[f64] = if a.kind == ActorKind::Pedestrian {
            &[0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
        } else {
            &[0.0]
        };
        for &t in times {
            let p = [centre[0] + vx * t, centre[1] + vy * t];
            let (s, lat) = path.project_within(p, s0 - 10.0, s0 + params.lookahead + 10.0);
            let heading = path.heading_at(s);
            let (along, across) = half_extent(a, heading);
            let ahead = s - along - (s0 + params.ego_front);
            if ahead < -along - params.ego_front * 0.5 || s - s0 > params.lookahead {
                continue;
            }
            if lat.abs() > params.half_corridor + across {
                continue;
            }
            let speed = if a.kind == ActorKind::Pedestrian {
                0.0
            } else {
                (vx * heading.cos() + vy * heading.sin()).max(0.0)
            };
            let o = Obstacle {
                gap: ahead.max(0.0),
                speed,
            };
            if best.is_none_or(|b| o.gap < b.gap) {
                best = Some(o);
            }
            break;
        }
    }
    best
}

/// The expert's plan: `steps` poses at 0.1 s intervals as `(x, y, yaw)` in
/// the ego's rig frame, planned along `path` from `s0` (the ego's foot
/// point) with `obstacle` ahead.
pub fn plan(
    params: &ExpertParams,
    path: &Path,
    ego: EgoState,
    s0: f64,
    obstacle: Option<Obstacle>,
    steps: usize,
) -> Vec<[f64; 3]> {
    let p = params;
    let v0 = if ego.speed.is_finite() {
        ego.speed.clamp(0.0, 50.0)
    } else {
        0.0
    };
    let on = path.point_at(s0);
    let h0 = path.heading_at(s0);
    let d0 = h0.cos() * (ego.pose.y - on[1]) - h0.sin() * (ego.pose.x - on[0]);
    let m0 = wrap_angle(ego.pose.yaw - h0).clamp(-1.0, 1.0).tan();
    let merge = (p.merge_time_s * v0.max(p.cruise_speed)).clamp(p.merge_min_m, p.merge_max_m);

    let horizon = steps as f64 * PLAN_DT;
    let reach = v0.max(p.cruise_speed) * horizon + 10.0;
    let profile = atlas_geometry::speed_profile(
        |s| path.curvature_at(s0 + s),
        reach,
        PROFILE_DS,
        p.cruise_speed,
        p.max_lateral_accel,
        p.comfort_decel,
    );
    let n = profile.len();
    let allowed = |ds: f64| {
        let x = (ds / PROFILE_DS).max(0.0);
        let i = x.floor() as usize;
        if i + 1 >= n {
            return profile[n - 1];
        }
        let t = x - i as f64;
        profile[i] * (1.0 - t) + profile[i + 1] * t
    };

    let dt = PLAN_DT / SUBSTEPS as f64;
    let (mut ds, mut v, mut t) = (0.0f64, v0, 0.0f64);
    let mut out = Vec::with_capacity(steps);
    for _ in 0..steps {
        for _ in 0..SUBSTEPS {
            let mut wanted = allowed(ds);
            let mut decel = p.comfort_decel;
            let mut limit = f64::INFINITY;
            if let Some(o) = obstacle {
                // Free distance to the obstacle as it moves on.
                let free = o.gap + o.speed * t - ds;
                let room = free - p.min_gap - p.headway * o.speed;
                let follow = if room > 0.0 {
                    (o.speed * o.speed + 2.0 * p.comfort_decel * room).sqrt()
                } else {
                    0.0
                };
                wanted = wanted.min(follow);
                if follow < v {
                    decel = p.max_decel;
                }
                limit = (o.gap + o.speed * t - 0.5).max(0.0);
            }
            let a = ((wanted - v) / dt).clamp(-decel, p.max_accel);
            let mut step = if v + a * dt < 0.0 {
                let stop = v * v / (-2.0 * a);
                v = 0.0;
                stop
            } else {
                let d = v * dt + 0.5 * a * dt * dt;
                v += a * dt;
                d
            };
            // Never plan into the obstacle.
            if ds + step > limit {
                step = (limit - ds).max(0.0);
                v = v.min(step / dt);
            }
            ds += step;
            t += dt;
        }
        let s = s0 + ds;
        let (lat, dlat) = merge_offset(d0, m0, merge, ds);
        let q = path.point_at(s);
        let h = path.heading_at(s);
        let (x, y) = (q[0] - h.sin() * lat, q[1] + h.cos() * lat);
        let yaw = if ds < 1e-3 {
            ego.pose.yaw
        } else {
            wrap_angle(h + dlat.atan())
        };
        let r = ego.pose.relative(&Pose2::planar(x, y, yaw));
        out.push([r.x, r.y, r.yaw]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use atlas_sim::{Dimensions, LaneState, Pose};

    fn straight() -> Path {
        Path::new((0..200).map(|i| [f64::from(i), 0.0])).unwrap()
    }

    fn car(id: u64, x: f64, y: f64, speed: f64) -> ActorState {
        ActorState {
            id,
            kind: ActorKind::Vehicle,
            role: "npc".into(),
            name: String::new(),
            pose: Pose::planar(x, y, 0.0),
            velocity: [speed, 0.0, 0.0],
            acceleration: [0.0; 3],
            yaw_rate: 0.0,
            speed,
            dimensions: Dimensions::default_for(ActorKind::Vehicle),
            lane: LaneState::default(),
        }
    }

    fn ego(x: f64, y: f64, yaw: f64, speed: f64) -> EgoState {
        EgoState {
            pose: Pose2::planar(x, y, yaw),
            speed,
        }
    }

    #[test]
    fn cruises_along_the_route() {
        let p = ExpertParams::default();
        let plan = plan(&p, &straight(), ego(10.0, 0.0, 0.0, 8.0), 10.0, None, 40);
        assert_eq!(plan.len(), 40);
        assert!((plan[39][0] - 32.0).abs() < 1e-6, "{:?}", plan[39]);
        assert!(plan.iter().all(|q| q[1].abs() < 1e-9 && q[2].abs() < 1e-9));
    }

    #[test]
    fn merges_back_from_an_offset() {
        let p = ExpertParams::default();
        let path = straight();
        let (s0, lat) = path.project([10.0, 1.0]);
        assert!((s0 - 10.0).abs() < 1e-9 && (lat - 1.0).abs() < 1e-9);
        let plan = plan(&p, &path, ego(10.0, 1.0, 0.0, 8.0), s0, None, 40);
        // In the rig frame the lane is 1 m to the right.
        assert!(plan[0][1] > -0.1);
        assert!((plan[39][1] + 1.0).abs() < 1e-6);
        assert!(plan[5][2] < 0.0, "heads towards the lane");
    }

    #[test]
    fn stops_behind_a_stopped_car_and_follows_a_moving_one() {
        let p = ExpertParams::default();
        let path = straight();
        let actors = [car(2, 40.0, 0.0, 0.0), car(3, 20.0, 4.0, 0.0)];
        let o = nearest_obstacle(&p, &path, 10.0, 1, &actors).unwrap();
        // Rear of the car: 40 - 0.9; ego front: 10 + 3.7.
        assert!((o.gap - (39.1 - 13.7)).abs() < 1e-6, "{o:?}");
        assert_eq!(o.speed, 0.0);
        let plan = plan(&p, &path, ego(10.0, 0.0, 0.0, 8.0), 10.0, Some(o), 80);
        let stop = plan[79][0];
        assert!(stop < o.gap - 1.0 && stop > o.gap - 4.0, "stops at {stop}");
        for w in plan.windows(2) {
            assert!(w[1][0] >= w[0][0] - 1e-9);
        }
        // A car ahead at the same speed: keep going.
        let moving = [car(2, 40.0, 0.0, 8.0)];
        let o = nearest_obstacle(&p, &path, 10.0, 1, &moving).unwrap();
        let plan = super::plan(&p, &path, ego(10.0, 0.0, 0.0, 8.0), 10.0, Some(o), 40);
        assert!(plan[39][0] > 28.0, "{:?}", plan[39]);
        // Oncoming lane, behind, or far: no obstacle.
        let others = [
            car(2, 40.0, 3.5, 0.0),
            car(3, 2.0, 0.0, 0.0),
            car(4, 90.0, 0.0, 0.0),
        ];
        assert!(nearest_obstacle(&p, &path, 10.0, 1, &others).is_none());
    }

    #[test]
    fn yields_to_a_pedestrian_about_to_cross() {
        let p = ExpertParams::default();
        let path = straight();
        let mut ped = car(5, 30.0, 4.0, 0.0);
        ped.kind = ActorKind::Pedestrian;
        ped.dimensions = Dimensions::default_for(ActorKind::Pedestrian);
        ped.pose = Pose::planar(30.0, 4.0, -std::f64::consts::FRAC_PI_2);
        ped.velocity = [0.0, -1.5, 0.0];
        assert!(nearest_obstacle(&p, &path, 10.0, 1, &[ped.clone()]).is_some());
        ped.velocity = [0.0, 1.5, 0.0];
        assert!(nearest_obstacle(&p, &path, 10.0, 1, &[ped]).is_none());
    }

    #[test]
    fn slows_for_a_tight_curve() {
        let p = ExpertParams::default();
        let r = 10.0;
        let mut pts: Vec<[f64; 2]> = (0..10).map(|i| [f64::from(i), 0.0]).collect();
        pts.extend((1..=40).map(|i| {
            let a = f64::from(i) / 40.0 * std::f64::consts::PI;
            [9.0 + r * a.sin(), r * (1.0 - a.cos())]
        }));
        let path = Path::new(pts).unwrap();
        let plan = plan(&p, &path, ego(0.0, 0.0, 0.0, 8.0), 0.0, None, 40);
        let mut vmax_curve: f64 = 0.0;
        for w in plan.windows(2) {
            let v = (w[1][0] - w[0][0]).hypot(w[1][1] - w[0][1]) / PLAN_DT;
            if w[1][0] > 10.0 && w[1][1] > 1.0 {
                vmax_curve = vmax_curve.max(v);
            }
        }
        // sqrt(2 · 10) ≈ 4.5 m/s.
        assert!(vmax_curve > 1.0 && vmax_curve < 4.8, "{vmax_curve}");
        assert!(plan[39][2] > 1.0, "turned left");
    }
}
