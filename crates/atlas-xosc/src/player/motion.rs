//! The default controller: each step an entity's longitudinal controller
//! sets its speed, then a trajectory places it, or its lateral controller
//! moves its lane offset and it drives along its lane (straight on off the
//! lanes). Also the per-step timers that stand-still, off-road and
//! end-of-road conditions read.

use std::sync::Arc;

use super::entity::{LongKind, PathCtl};
use super::{PlayError, Player, STILL};
use crate::model::{EntityKind, FinalSpeed};
use crate::position;
use crate::shapes;

/// Tolerance of a step-summed time against a duration, seconds.
const TIME_EPS: f64 = 1e-6;

impl Player {
    /// Moves entity `i` `dt` seconds on; actions whose controller finished
    /// go to `done` as (action, entity).
    pub(super) fn move_entity(
        &mut self,
        i: usize,
        dt: f64,
        done: &mut Vec<(usize, usize)>,
    ) -> Result<(), PlayError> {
        let v_old = self.entities[i].speed;
        let v = self.longitudinal(i, dt, done).max(0.0);
        // Trajectories place the entity themselves.
        if self.follow_path(i, v, dt, done) {
            return Ok(());
        }
        let (lateral_step, in_step) = self.lateral(i, dt, done);
        self.drive_lane(i, v_old, v, lateral_step, in_step, dt)
    }

    /// The speed entity `i`'s longitudinal controller asks for after `dt`
    /// (its current speed without one).
    fn longitudinal(&mut self, i: usize, dt: f64, done: &mut Vec<(usize, usize)>) -> f64 {
        let mut v = self.entities[i].speed;
        if let Some(mut l) = self.entities[i].long.take() {
            let mut finished = false;
            match &mut l.kind {
                LongKind::Speed {
                    v0,
                    v1,
                    shape,
                    duration,
                    elapsed,
                    track,
                } => {
                    *elapsed += dt;
                    if let Some((ent, value, factor)) = track
                        && let Some(r) = self.entity(ent)
                    {
                        *v1 = if *factor {
                            r.speed * *value
                        } else {
                            r.speed + *value
                        };
                    }
                    v = match duration {
                        // Elapsed time is summed step by step: a 5 s
                        // profile ends at the 100th step of 0.05 s.
                        Some(t) if *elapsed >= *t - TIME_EPS => {
                            finished = track.is_none();
                            *v1
                        }
                        Some(t) => *v0 + (*v1 - *v0) * shapes::fraction(*shape, *elapsed / *t),
                        None => *v0,
                    };
                }
                LongKind::Sync {
                    master,
                    mx,
                    my,
                    tx,
                    ty,
                    final_speed,
                } => {
                    let me = &self.entities[i];
                    let m = &self.entities[*master];
                    let d_master = (m.x - *mx).hypot(m.y - *my);
                    let d_me = (me.x - *tx).hypot(me.y - *ty);
                    let vf = final_speed.as_ref().map(|f| match f {
                        FinalSpeed::Absolute(v) => *v,
                        FinalSpeed::RelativeToMaster {
                            value,
                            factor: true,
                        } => m.speed * value,
                        FinalSpeed::RelativeToMaster { value, .. } => m.speed + value,
                    });
                    if d_master <= (m.speed * dt).max(0.5) {
                        // The master has arrived: so has the action.
                        v = vf.unwrap_or(v);
                        finished = true;
                    } else if m.speed > 1e-3 {
                        // Re-planned every step: the master's time to go at
                        // its speed; a linear ramp to the final speed (or a
                        // constant speed) covering my distance in it.
                        let t_go = d_master / m.speed;
                        v = match vf {
                            Some(vf) => 2.0 * d_me / t_go - vf,
                            None => d_me / t_go,
                        }
                        .clamp(0.0, 70.0);
                    }
                }
                LongKind::Gap {
                    entity,
                    value,
                    time_gap,
                    freespace,
                    leading,
                } => {
                    if let Some(r) = self.entity(entity) {
                        let me = &self.entities[i];
                        let want = if *time_gap {
                            *value * me.speed.max(r.speed)
                        } else {
                            *value
                        };
                        let (dx, _) =
                            self.rel(i, self.index(entity).unwrap_or(i), *freespace, false);
                        // dx > 0: the reference is ahead of me.
                        let gap = if *leading { -dx } else { dx };
                        v = (r.speed + 0.5 * (gap - want)).clamp(0.0, 70.0);
                    }
                }
            }
            if finished {
                if let Some(o) = l.owner {
                    done.push((o, i));
                }
            } else {
                self.entities[i].long = Some(l);
            }
        }
        v
    }

    /// Moves entity `i` along its trajectory at speed `v` (untimed) or to
    /// where the timing puts it; false when it follows none.
    fn follow_path(&mut self, i: usize, v: f64, dt: f64, done: &mut Vec<(usize, usize)>) -> bool {
        let Some(mut p) = self.entities[i].path.take() else {
            return false;
        };
        let (x, y, z, yaw, speed, end) = follow(&p, self.time + dt, v, dt);
        let e = &mut self.entities[i];
        let moved = ((x - e.x).powi(2) + (y - e.y).powi(2)).sqrt();
        e.odometer += moved;
        e.accel = (speed - e.speed) / dt;
        e.x = x;
        e.y = y;
        e.z = z;
        e.yaw = yaw;
        e.speed = speed;
        e.lane = None;
        if p.times.is_none() {
            p.along += v * dt;
        }
        if end {
            if let Some(o) = p.owner {
                done.push((o, i));
            }
            // At its end the entity goes on at its speed on the default
            // controller, along the lane it is on (as esmini does).
            let map = Arc::clone(&self.map);
            let e = &mut self.entities[i];
            e.lane = position::locate(&map, e.x, e.y).map(|(c, _, _)| c);
        } else {
            self.entities[i].path = Some(p);
        }
        true
    }

    /// Moves entity `i`'s lane offset `dt` on under its lateral controller;
    /// returns how far the offset moved, metres, and whether that motion is
    /// part of the step's length (a lane change).
    fn lateral(&mut self, i: usize, dt: f64, done: &mut Vec<(usize, usize)>) -> (f64, bool) {
        let mut moved = 0.0;
        let mut in_step = false;
        if let Some(mut l) = self.entities[i].lat.take() {
            l.elapsed += dt;
            if let Some((ent, value)) = &l.track
                && let Some(r) = self.entity(ent)
                && let Some(rl) = &r.lane
            {
                l.o1 = rl.offset + value;
            }
            let f = if l.duration <= 0.0 {
                1.0
            } else {
                shapes::fraction(l.shape, l.elapsed / l.duration)
            };
            let off = l.o0 + (l.o1 - l.o0) * f;
            in_step = l.lane_change;
            let finished = l.elapsed >= l.duration - TIME_EPS && l.track.is_none();
            if let Some(c) = &mut self.entities[i].lane {
                let to = if finished { l.o1 } else { off };
                moved = to - c.offset;
                c.offset = to;
            }
            if finished {
                if let Some(o) = l.owner {
                    done.push((o, i));
                }
            } else {
                self.entities[i].lat = Some(l);
            }
        }
        (moved, in_step)
    }

    /// Drives entity `i` at its new speed `v` for `dt` along its lane (the
    /// lateral controller having moved it `lateral` metres across), or
    /// straight on off the lanes. As esmini's default controller: the step
    /// is `v * dt` long, a lane change's lateral part (`in_step`) taken from
    /// the distance along the lane (a lane offset's is not), and the entity keeps its direction along the road (a lane
    /// change into a lane of the other direction does not turn it round).
    fn drive_lane(
        &mut self,
        i: usize,
        v_old: f64,
        v: f64,
        lateral: f64,
        in_step: bool,
        dt: f64,
    ) -> Result<(), PlayError> {
        let map = Arc::clone(&self.map);
        let e = &mut self.entities[i];
        e.accel = (v - v_old) / dt;
        e.speed = v;
        let step = v * dt;
        e.odometer += step;
        let dist = if in_step {
            (step * step - lateral * lateral).max(0.0).sqrt()
        } else {
            step
        };
        match e.lane.clone() {
            Some(mut c) => {
                let lane_fwd = position::forward(&map, c.road_index, c.lane);
                // The direction of travel along s: the entity's heading
                // against the lane's direction of travel where it is.
                let here = position::lane_pose(&map, &c).ok();
                let with_lane = here.as_ref().is_none_or(|h| (e.yaw - h.yaw).cos() >= 0.0);
                let fwd = lane_fwd == with_lane;
                let len = map.roads()[c.road_index].length;
                let sign = if fwd { 1.0 } else { -1.0 };
                // Correct s for the lane's distance from the reference line
                // on curves: measure the chord a trial step covers.
                let mut ds = dist;
                if dist > 1e-6 {
                    let mut probe = c.clone();
                    probe.s = (c.s + sign * dist).clamp(0.0, len);
                    if let (Some(a), Ok(b)) = (here, position::lane_pose(&map, &probe)) {
                        let chord = (b.xy() - a.xy()).length();
                        let stepped = (probe.s - c.s).abs();
                        if chord > 1e-9 && stepped > 1e-9 {
                            ds = dist * stepped / chord;
                        }
                    }
                }
                let next = c.s + sign * ds;
                e.at_end_of_road = next < 0.0 || next > len;
                c.s = next.clamp(0.0, len);
                if e.at_end_of_road {
                    e.speed = 0.0;
                }
                let pose = position::lane_pose(&map, &c).map_err(|m| PlayError {
                    file: self.sc.file.clone(),
                    message: format!("{}: lane position: {m}", e.name),
                })?;
                e.x = pose.x;
                e.y = pose.y;
                e.z = pose.z;
                // Offsets grow towards +t: to the left when travelling
                // towards +s, to the right the other way.
                let drift = if step > 1e-6 {
                    (lateral * sign).atan2(dist)
                } else {
                    0.0
                };
                let base = if with_lane {
                    pose.yaw
                } else {
                    pose.yaw + std::f64::consts::PI
                };
                e.yaw = position::wrap(base + drift);
                e.lane = Some(c);
            }
            None => {
                let (s, co) = e.yaw.sin_cos();
                e.x += co * step;
                e.y += s * step;
            }
        }
        Ok(())
    }

    /// Advances the stand-still, off-road and end-of-road timers of every
    /// present entity by `dt`.
    pub(super) fn update_timers(&mut self, dt: f64) {
        let map = Arc::clone(&self.map);
        for e in &mut self.entities {
            if !e.present {
                continue;
            }
            if e.speed.abs() < STILL {
                e.still_for += dt;
            } else {
                e.still_for = 0.0;
            }
            let on = position::locate(&map, e.x, e.y).is_some_and(|(_, _, drivable)| drivable);
            if on || e.kind == EntityKind::Pedestrian {
                e.offroad_for = 0.0;
            } else {
                e.offroad_for += dt;
            }
            if e.at_end_of_road {
                e.end_of_road_for += dt;
            } else {
                e.end_of_road_for = 0.0;
            }
        }
    }
}

/// Where a trajectory puts its entity at time `t`: (x, y, z, yaw, speed, ended).
fn follow(p: &PathCtl, t: f64, v: f64, dt: f64) -> (f64, f64, f64, f64, f64, bool) {
    let pts = &p.points;
    let n = pts.len();
    let seg_yaw = |k: usize| {
        let a = pts[k];
        let b = pts[k + 1];
        (b.1 - a.1).atan2(b.0 - a.0)
    };
    let yaw_at = |k: usize, f: f64| match (p.yaws[k], p.yaws[k + 1]) {
        (Some(a), Some(b)) => a + position::wrap(b - a) * f,
        _ => seg_yaw(k),
    };
    if let Some(times) = &p.times {
        let tau = t - p.t0;
        if tau <= times[0] {
            let a = pts[0];
            return (a.0, a.1, a.2, yaw_at(0, 0.0), 0.0, false);
        }
        for k in 0..n - 1 {
            let (t0, t1) = (times[k], times[k + 1]);
            if tau <= t1 {
                let span = (t1 - t0).max(1e-9);
                let f = ((tau - t0) / span).clamp(0.0, 1.0);
                let (a, b) = (pts[k], pts[k + 1]);
                let len = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
                return (
                    a.0 + (b.0 - a.0) * f,
                    a.1 + (b.1 - a.1) * f,
                    a.2 + (b.2 - a.2) * f,
                    yaw_at(k, f),
                    len / span,
                    false,
                );
            }
        }
        // Ended: at the last vertex, at the last segment's speed.
        let (a, b) = (pts[n - 2], pts[n - 1]);
        let span = (times[n - 1] - times[n - 2]).max(1e-9);
        let len = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
        return (b.0, b.1, b.2, yaw_at(n - 2, 1.0), len / span, true);
    }
    let mut along = p.along + v * dt;
    for k in 0..n - 1 {
        let (a, b) = (pts[k], pts[k + 1]);
        let len = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
        if along <= len || k == n - 2 {
            let f = if len > 0.0 {
                (along / len).min(1.0)
            } else {
                1.0
            };
            let end = k == n - 2 && along >= len;
            return (
                a.0 + (b.0 - a.0) * f,
                a.1 + (b.1 - a.1) * f,
                a.2 + (b.2 - a.2) * f,
                yaw_at(k, f),
                v,
                end,
            );
        }
        along -= len;
    }
    let b = pts[n - 1];
    (b.0, b.1, b.2, 0.0, v, true)
}
