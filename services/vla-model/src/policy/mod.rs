//! The driving policy seam.
//!
//! A [`Policy`] turns an [`Observation`] (one session's ego history, route,
//! decoded camera frames, declared cameras and the requested times) into a
//! [`Plan`]: future rig poses in the local frame. The server owns everything
//! around it — sessions, validation, decoding, the contract's trajectory
//! layout — and calls [`Policy::plan`] on a blocking thread, so an
//! implementation may take as long as a forward pass needs.
//!
//! Implementations: [`RouteFollower`] (the `baseline`), which follows the
//! submitted route and ignores the images, and [`CandlePolicy`] (`model`),
//! the learned driving model of `atlas-model`.

pub mod candle;
mod path;
mod route_follower;

pub use candle::CandlePolicy;
pub use route_follower::{RouteFollower, RouteFollowerParams};

use crate::geometry::Pose;
use crate::observation::{CameraDecl, Observation};

/// Spacing of plan poses (10 Hz), as the contract's reference drivers use.
pub const PLAN_STEP_US: u64 = 100_000;

/// Number of plan poses after the anchor when `time_query_us` does not ask
/// for more (4 s at 10 Hz).
pub const PLAN_POSES: usize = 40;

/// Longest plan the server hands out (60 s); a `drive` asking for more is
/// refused.
pub const MAX_PLAN_HORIZON_US: u64 = 60_000_000;

/// One planned pose: the rig pose in the local frame at `timestamp_us`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlannedPose {
    pub timestamp_us: u64,
    pub pose: Pose,
}

/// A policy's answer to one `drive`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// Future poses, strictly after `time_now_us`, strictly increasing in
    /// time. Empty means "no plan yet" (the client then holds).
    pub poses: Vec<PlannedPose>,
    /// Ask the runtime to end the rollout now.
    pub terminate_session: bool,
}

/// A policy could not produce a plan or refuses a session.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The session cannot be driven by this policy (e.g. a camera it needs is
    /// missing); reported as FAILED_PRECONDITION.
    #[error("{0}")]
    Unsupported(String),
    /// The observation is not enough to plan on (reported as
    /// FAILED_PRECONDITION).
    #[error("{0}")]
    NotEnoughContext(String),
    /// The policy itself failed (reported as INTERNAL).
    #[error("{0}")]
    Failed(String),
}

/// A driving policy. Object safe; shared by every session and called from
/// blocking threads.
pub trait Policy: Send + Sync + std::fmt::Debug {
    /// Short name, used in `get_version` and logs (e.g. `baseline`).
    fn name(&self) -> &str;

    /// How many recent frames per camera the server should keep for it.
    fn frames_per_camera(&self) -> usize {
        1
    }

    /// How many recent ego samples the server should keep for it (the
    /// server keeps at least a few dozen regardless).
    fn ego_history(&self) -> usize {
        1
    }

    /// Called once per `start_session` with the declared cameras; a policy
    /// that cannot drive with them refuses here rather than mid-rollout.
    fn accept_session(&self, _cameras: &[CameraDecl]) -> Result<(), PolicyError> {
        Ok(())
    }

    /// Plans from `obs`, which always holds at least one ego sample.
    fn plan(&self, obs: &Observation) -> Result<Plan, PolicyError>;

    /// Plans several observations (from different sessions) at once and
    /// answers in order, one result per observation. The server's batcher
    /// calls this; a policy that gains from batching (one forward pass for
    /// all) overrides it, the default plans them one by one.
    fn plan_batch(&self, obs: &[&Observation]) -> Vec<Result<Plan, PolicyError>> {
        obs.iter().map(|o| self.plan(o)).collect()
    }
}

/// The plan timestamps for one drive: `time_now_us + k·PLAN_STEP_US` for
/// k = 1…N, with N at least `min_poses` and large enough to reach
/// `time_query_us`. `None` if the query lies more than
/// [`MAX_PLAN_HORIZON_US`] ahead or the plan would overflow the clock.
pub fn plan_timestamps(time_now_us: u64, time_query_us: u64, min_poses: usize) -> Option<Vec<u64>> {
    let ahead = time_query_us.saturating_sub(time_now_us);
    if ahead > MAX_PLAN_HORIZON_US {
        return None;
    }
    let needed = usize::try_from(ahead.div_ceil(PLAN_STEP_US)).ok()?;
    let n = needed.max(min_poses);
    (1..=n as u64)
        .map(|k| {
            k.checked_mul(PLAN_STEP_US)
                .and_then(|d| time_now_us.checked_add(d))
        })
        .collect()
}

/// Which policy a server runs ([`crate::preflight::build_policy`] builds
/// it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PolicyKind {
    /// Follow the submitted route at the target speed; ignores images.
    Baseline,
    /// The learned driving model (`--model-dir`), checked by the start-up
    /// preflight.
    Model,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_cover_the_query_and_at_least_the_minimum() {
        let t = plan_timestamps(0, 100_000, 40).unwrap();
        assert_eq!(t.len(), 40);
        assert_eq!(t[0], 100_000);
        assert_eq!(t[39], 4_000_000);
        let t = plan_timestamps(1_000, 6_000_001, 40).unwrap();
        assert_eq!(t.len(), 60);
        assert!(*t.last().unwrap() >= 6_000_001);
        // A query before now needs nothing more than the minimum.
        assert_eq!(plan_timestamps(500_000, 0, 40).unwrap().len(), 40);
        assert!(plan_timestamps(u64::MAX - 10, u64::MAX, 1).is_none());
        assert!(plan_timestamps(0, MAX_PLAN_HORIZON_US + 1, 1).is_none());
    }
}
