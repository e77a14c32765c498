//! The signal criteria: red lights and stop signs, from the ego crossing
//! their stop lines (or the simulator reporting it), once per passage.

use atlas_proto::scenario as pb;
use atlas_proto::sim;

use super::{Category, EgoSample, Evaluator, Observation, PENALTY_RED_LIGHT, PENALTY_STOP};

impl Evaluator {
    /// Signal criteria: red lights and stop signs, from the stop lines.
    pub(super) fn signals(
        &mut self,
        ego: EgoSample,
        obs: &Observation,
        raised: &mut Vec<pb::Infraction>,
    ) {
        let Some(prev) = self.prev else {
            return;
        };
        for light in obs.lights {
            let kind =
                sim::SignalKind::try_from(light.kind).unwrap_or(sim::SignalKind::Unspecified);
            for (li, line) in light.stop_lines.iter().enumerate() {
                let p = line.position.unwrap_or_default();
                let (c, s) = (line.heading.cos(), line.heading.sin());
                let lon = |x: f64, y: f64| (x - p.x) * c + (y - p.y) * s;
                let lat = |x: f64, y: f64| -(x - p.x) * s + (y - p.y) * c;
                let aligned = (ego.heading - line.heading).cos() > 0.5;
                let half = line.width.max(2.0) / 2.0 + 0.5;
                let (l0, l1) = (lon(prev.x, prev.y), lon(ego.x, ego.y));
                let in_lane = lat(ego.x, ego.y).abs() <= half;
                let crossed = aligned && l0 < 0.0 && l1 >= 0.0 && in_lane;
                match kind {
                    sim::SignalKind::TrafficLight => {
                        let near =
                            (ego.x - p.x).hypot(ego.y - p.y) <= self.limits.red_light_distance_m;
                        if crossed && near && light.state == sim::LightState::Red as i32 {
                            raised.extend(self.red_light(&light.id, ego));
                        }
                    }
                    sim::SignalKind::Stop => {
                        let key = (light.id.clone(), li);
                        // The stop counts with the front bumper within the
                        // last metres before the line.
                        let front = l1 + obs.front_m;
                        if aligned
                            && in_lane
                            && (-self.limits.stop_distance_m..=0.5).contains(&front)
                            && ego.speed.abs() < self.limits.stop_speed
                            && !self.stops_served.contains(&key)
                        {
                            self.stops_served.push(key.clone());
                        }
                        if crossed {
                            let served = self.stops_served.contains(&key);
                            self.stops_served.retain(|k| *k != key);
                            if !served {
                                raised.extend(self.stop_run(&light.id, ego));
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// A stop sign run, counted once per sign and passage (the simulator
    /// may report the same one).
    pub(super) fn stop_run(&mut self, id: &str, ego: EgoSample) -> Option<pb::Infraction> {
        if self
            .stops_run
            .iter()
            .any(|(s, t)| s == id && ego.time - t < 10.0)
        {
            return None;
        }
        self.stops_run.push((id.to_string(), ego.time));
        self.penalty *= PENALTY_STOP;
        Some(self.push(
            Category::StopInfraction,
            format!(
                "Agent ran a stop with id={id} at (x={:.3}, y={:.3})",
                ego.x, ego.y
            ),
            ego.time,
            ego.x,
            ego.y,
        ))
    }

    /// A red light run, counted once per crossing: the same light within
    /// 10 s, or another signal id at the same place at the same moment (a
    /// map with several heads for one stop line, as Town06's), is the same
    /// crossing.
    pub(super) fn red_light(&mut self, id: &str, ego: EgoSample) -> Option<pb::Infraction> {
        if self.red_lights.iter().any(|(l, t, x, y)| {
            (l == id && ego.time - t < 10.0)
                || (ego.time - t < 1.0 && (ego.x - x).hypot(ego.y - y) < 5.0)
        }) {
            return None;
        }
        self.red_lights
            .push((id.to_string(), ego.time, ego.x, ego.y));
        self.penalty *= PENALTY_RED_LIGHT;
        Some(self.push(
            Category::RedLight,
            format!(
                "Agent ran a red light {id} at (x={:.3}, y={:.3})",
                ego.x, ego.y
            ),
            ego.time,
            ego.x,
            ego.y,
        ))
    }
}
