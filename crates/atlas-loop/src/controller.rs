//! Turns a planned trajectory into vehicle controls: pure pursuit for the
//! steering, a PID on speed for throttle and brake.

use atlas_geometry::{Polyline, Pose2};

/// Vehicle and tuning constants of the controller.
#[derive(Clone, Debug)]
pub struct ControllerConfig {
    pub wheelbase: f64,
    /// Steering angle at `steer = 1`, radians.
    pub max_steer: f64,
    pub lookahead_min: f64,
    pub lookahead_gain: f64,
    pub kp: f64,
    pub ki: f64,
    pub kd: f64,
    /// How far ahead in the plan the target speed is read, seconds.
    pub speed_horizon_s: f64,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        Self {
            wheelbase: 2.8,
            max_steer: 35f64.to_radians(),
            lookahead_min: 3.0,
            lookahead_gain: 0.6,
            kp: 0.35,
            ki: 0.05,
            kd: 0.02,
            speed_horizon_s: 0.5,
        }
    }
}

/// CARLA-style controls.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Control {
    pub throttle: f64,
    pub brake: f64,
    pub steer: f64,
}

impl Control {
    /// Full stop: what the ego does without a plan.
    pub fn hold() -> Self {
        Self {
            throttle: 0.0,
            brake: 1.0,
            steer: 0.0,
        }
    }
}

/// A plan as timed planar poses in the world frame.
#[derive(Clone, Debug)]
pub struct Plan {
    pub poses: Vec<(f64, Pose2)>,
}

/// Pure pursuit plus speed PID; keeps the PID state between calls.
#[derive(Debug)]
pub struct Controller {
    cfg: ControllerConfig,
    integral: f64,
    last_error: Option<f64>,
}

impl Controller {
    pub fn new(cfg: ControllerConfig) -> Self {
        Self {
            cfg,
            integral: 0.0,
            last_error: None,
        }
    }

    /// Controls for the next control period of `dt` seconds.
    pub fn control(&mut self, ego: &Pose2, speed: f64, plan: &Plan, dt: f64) -> Control {
        let Some(path) = Polyline::new(plan.poses.iter().map(|(_, p)| (p.x, p.y))) else {
            // A plan that does not move asks the ego to stand.
            self.integral = 0.0;
            self.last_error = None;
            return Control::hold();
        };
        let target_speed = plan_speed(plan, self.cfg.speed_horizon_s);

        // Steering: chase the point one look-ahead distance beyond the ego's
        // foot point on the planned path.
        let foot = path.project((ego.x, ego.y));
        let lookahead = self.cfg.lookahead_min + self.cfg.lookahead_gain * speed.abs();
        let (tx, ty) = path.point_at(foot.s + lookahead);
        let (lx, ly) = ego.to_local(tx, ty);
        let ld2 = lx * lx + ly * ly;
        let curvature = if ld2 > 1e-6 { 2.0 * ly / ld2 } else { 0.0 };
        let delta = (curvature * self.cfg.wheelbase).atan();
        let steer = (delta / self.cfg.max_steer).clamp(-1.0, 1.0);

        // Speed: PID on the error, throttle above zero, brake below.
        let error = target_speed - speed;
        self.integral = (self.integral + error * dt).clamp(-10.0, 10.0);
        let derivative = self.last_error.map_or(0.0, |e| (error - e) / dt.max(1e-6));
        self.last_error = Some(error);
        let u = self.cfg.kp * error + self.cfg.ki * self.integral + self.cfg.kd * derivative;
        let (throttle, brake) = if target_speed < 0.05 && speed < 0.5 {
            (0.0, 1.0)
        } else if u >= 0.0 {
            (u.min(1.0), 0.0)
        } else {
            (0.0, (-u).min(1.0))
        };
        Control {
            throttle,
            brake,
            steer,
        }
    }
}

/// Mean speed of the plan over its first `horizon` seconds.
fn plan_speed(plan: &Plan, horizon: f64) -> f64 {
    let Some(&(t0, p0)) = plan.poses.first() else {
        return 0.0;
    };
    let mut dist = 0.0;
    let mut prev = p0;
    let mut t_end = t0;
    for &(t, p) in &plan.poses[1..] {
        dist += (p.x - prev.x).hypot(p.y - prev.y);
        prev = p;
        t_end = t;
        if t - t0 >= horizon {
            break;
        }
    }
    if t_end > t0 { dist / (t_end - t0) } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line_plan(speed: f64, heading: f64) -> Plan {
        Plan {
            poses: (0..40)
                .map(|k| {
                    let t = k as f64 * 0.1;
                    let d = speed * t;
                    (
                        t,
                        Pose2::new(d * heading.cos(), d * heading.sin(), 0.0, heading),
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn accelerates_towards_a_faster_plan_and_brakes_for_a_slower_one() {
        let mut c = Controller::new(ControllerConfig::default());
        let ego = Pose2::new(0.0, 0.0, 0.0, 0.0);
        let u = c.control(&ego, 2.0, &line_plan(8.0, 0.0), 0.1);
        assert!(u.throttle > 0.5 && u.brake == 0.0, "{u:?}");
        assert!(u.steer.abs() < 1e-9);
        let mut c = Controller::new(ControllerConfig::default());
        let u = c.control(&ego, 12.0, &line_plan(4.0, 0.0), 0.1);
        assert!(u.brake > 0.5 && u.throttle == 0.0, "{u:?}");
    }

    #[test]
    fn steers_towards_a_path_on_the_left() {
        let mut c = Controller::new(ControllerConfig::default());
        let ego = Pose2::new(0.0, 0.0, 0.0, 0.0);
        let u = c.control(&ego, 5.0, &line_plan(5.0, 0.5), 0.1);
        assert!(u.steer > 0.1, "{u:?}");
        let u = c.control(&ego, 5.0, &line_plan(5.0, -0.5), 0.1);
        assert!(u.steer < -0.1, "{u:?}");
    }

    #[test]
    fn an_empty_or_standing_plan_holds() {
        let mut c = Controller::new(ControllerConfig::default());
        let ego = Pose2::new(0.0, 0.0, 0.0, 0.0);
        assert_eq!(
            c.control(&ego, 3.0, &Plan { poses: vec![] }, 0.1),
            Control::hold()
        );
        let standing = Plan {
            poses: (0..5).map(|k| (k as f64 * 0.1, ego)).collect(),
        };
        assert_eq!(c.control(&ego, 0.0, &standing, 0.1), Control::hold());
    }
}
