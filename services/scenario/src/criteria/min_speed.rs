//! The minimum-speed criterion: at each route checkpoint the ego's mean
//! speed against the mean speed of the other vehicles.

use atlas_proto::scenario as pb;

use super::{Category, EgoSample, Evaluator, min_speed_penalty};

/// Running sums of one minimum-speed checkpoint.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct SpeedWindow {
    ego: f64,
    traffic: f64,
    points: u32,
}

impl Evaluator {
    /// Minimum-speed checkpoint values so far, percent of traffic speed.
    pub fn min_speed_checkpoints(&self) -> &[f64] {
        &self.checkpoint_pcts
    }

    /// Adds a sample to the current checkpoint (when there is traffic to
    /// compare with) and closes the checkpoint once the ego has passed it.
    pub(super) fn min_speed(
        &mut self,
        ego: EgoSample,
        traffic_speed: Option<f64>,
        raised: &mut Vec<pb::Infraction>,
    ) {
        if let Some(ts) = traffic_speed {
            self.window.ego += ego.speed.abs();
            self.window.traffic += ts;
            self.window.points += 1;
        }
        let len = self.route.length();
        let n = self.limits.min_speed_checkpoints.max(1);
        if self.checkpoints_done + 1 < n
            && self.progress_s >= len * (self.checkpoints_done + 1) as f64 / n as f64
        {
            self.checkpoints_done += 1;
            raised.extend(self.close_checkpoint(ego));
        }
    }

    pub(super) fn close_checkpoint(&mut self, ego: EgoSample) -> Option<pb::Infraction> {
        let w = std::mem::take(&mut self.window);
        let pct = if w.points > 0 && w.traffic > 0.0 {
            let ego_mean = w.ego / w.points as f64;
            let traffic_mean = w.traffic / w.points as f64;
            (ego_mean / traffic_mean * 100.0 * 100.0).round() / 100.0
        } else {
            100.0
        };
        self.checkpoint_pcts.push(pct);
        if pct >= 100.0 {
            return None;
        }
        self.penalty *= min_speed_penalty(pct);
        Some(self.push(
            Category::MinSpeedInfractions,
            format!("Average speed is {pct}% of the surrounding traffic's one"),
            ego.time,
            ego.x,
            ego.y,
        ))
    }
}
