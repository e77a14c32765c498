//! Per-session observation state and the concurrent session table.
//!
//! Sessions live in a map keyed by `session_uuid` behind a read-write lock
//! that is only held to look a session up, insert or remove it; each session
//! has its own mutex, held only to record an observation or copy a snapshot
//! (never across an `.await` or a policy call). So many sessions, and
//! concurrent submits within one session, proceed in parallel.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use crate::Error;
use crate::observation::{CameraDecl, CameraFrame, EgoSample, GroundTruth, Observation, Route};

/// Ego samples kept per session at least, whatever the policy asks for.
const MIN_EGO_HISTORY: usize = 64;

/// What is known about a session from `start_session`.
#[derive(Clone, Debug)]
pub struct SessionInfo {
    pub uuid: String,
    pub random_seed: u64,
    pub scene_id: Option<String>,
    pub cameras: Arc<[CameraDecl]>,
}

#[derive(Debug, Default)]
struct State {
    ego: VecDeque<EgoSample>,
    route: Option<Arc<Route>>,
    frames: HashMap<String, VecDeque<Arc<CameraFrame>>>,
    ground_truth: Option<Arc<GroundTruth>>,
    drives: u64,
}

/// One session: its declaration and its latest observations.
#[derive(Debug)]
pub struct Session {
    pub info: SessionInfo,
    ego_capacity: usize,
    frame_capacity: usize,
    state: Mutex<State>,
}

impl Session {
    pub fn new(info: SessionInfo, ego_history: usize, frames_per_camera: usize) -> Self {
        Self {
            info,
            ego_capacity: ego_history.max(MIN_EGO_HISTORY),
            frame_capacity: frames_per_camera.max(1),
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock; recover the data if
        // something ever did rather than failing every later call.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The declared camera `logical_id`, if any.
    pub fn camera(&self, logical_id: &str) -> Option<&CameraDecl> {
        self.info
            .cameras
            .iter()
            .find(|c| c.logical_id == logical_id)
    }

    /// Appends validated samples. Samples at or before the latest one held
    /// are skipped: a runtime may resend the pose at the previous step
    /// boundary. Returns how many were added.
    pub fn add_egomotion(&self, samples: Vec<EgoSample>) -> usize {
        let mut st = self.state();
        let mut added = 0;
        for s in samples {
            if st
                .ego
                .back()
                .is_some_and(|last| s.timestamp_us <= last.timestamp_us)
            {
                continue;
            }
            st.ego.push_back(s);
            added += 1;
        }
        while st.ego.len() > self.ego_capacity {
            st.ego.pop_front();
        }
        added
    }

    /// Replaces the route unless a newer one is already held (submits of
    /// one step may arrive in any order).
    pub fn set_route(&self, route: Route) {
        let mut st = self.state();
        if st
            .route
            .as_ref()
            .is_some_and(|r| r.timestamp_us > route.timestamp_us)
        {
            return;
        }
        st.route = Some(Arc::new(route));
    }

    pub fn set_ground_truth(&self, gt: GroundTruth) {
        self.state().ground_truth = Some(Arc::new(gt));
    }

    /// Records a decoded frame, keeping the newest frames per camera in
    /// time order whatever order they arrive in. A frame with the same
    /// shutter-close time as a held one replaces it.
    pub fn add_frame(&self, frame: CameraFrame) {
        let mut st = self.state();
        let q = st.frames.entry(frame.logical_id.clone()).or_default();
        let t = frame.frame_end_us;
        let at = q.partition_point(|f| f.frame_end_us < t);
        if q.get(at).is_some_and(|f| f.frame_end_us == t) {
            q[at] = Arc::new(frame);
        } else {
            q.insert(at, Arc::new(frame));
        }
        while q.len() > self.frame_capacity {
            q.pop_front();
        }
    }

    /// A snapshot for one `drive`, or `None` before the first egomotion.
    pub fn snapshot(
        &self,
        time_now_us: u64,
        time_query_us: u64,
        renderer_data: Vec<u8>,
    ) -> Option<Observation> {
        let mut st = self.state();
        if st.ego.is_empty() {
            return None;
        }
        st.drives += 1;
        Some(Observation {
            session_uuid: self.info.uuid.clone(),
            random_seed: self.info.random_seed,
            time_now_us,
            time_query_us,
            ego: st.ego.iter().copied().collect(),
            route: st.route.clone(),
            cameras: self.info.cameras.clone(),
            frames: st
                .frames
                .iter()
                .map(|(k, v)| (k.clone(), v.iter().cloned().collect()))
                .collect(),
            ground_truth: st.ground_truth.clone(),
            renderer_data,
        })
    }

    /// Number of `drive` calls that produced a snapshot.
    pub fn drives(&self) -> u64 {
        self.state().drives
    }
}

/// All open sessions.
#[derive(Debug)]
pub struct Sessions {
    map: RwLock<HashMap<String, Arc<Session>>>,
    limit: usize,
}

impl Sessions {
    pub fn new(limit: usize) -> Self {
        Self {
            map: RwLock::new(HashMap::new()),
            limit,
        }
    }

    /// Opens `session`; refuses a duplicate uuid or one session too many.
    pub fn insert(&self, session: Session) -> Result<Arc<Session>, Error> {
        let mut map = self.map.write().unwrap_or_else(PoisonError::into_inner);
        if map.contains_key(&session.info.uuid) {
            return Err(Error::SessionExists(session.info.uuid.clone()));
        }
        if map.len() >= self.limit {
            return Err(Error::TooManySessions { limit: self.limit });
        }
        let session = Arc::new(session);
        map.insert(session.info.uuid.clone(), session.clone());
        Ok(session)
    }

    pub fn get(&self, uuid: &str) -> Result<Arc<Session>, Error> {
        self.map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(uuid)
            .cloned()
            .ok_or_else(|| Error::SessionNotFound(uuid.to_string()))
    }

    pub fn remove(&self, uuid: &str) -> Option<Arc<Session>> {
        self.map
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(uuid)
    }

    pub fn len(&self) -> usize {
        self.map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::Pose;
    use crate::observation::ImageEncoding;

    fn info(uuid: &str) -> SessionInfo {
        SessionInfo {
            uuid: uuid.into(),
            random_seed: 0,
            scene_id: None,
            cameras: Arc::from(Vec::new()),
        }
    }

    fn sample(t: u64) -> EgoSample {
        EgoSample {
            timestamp_us: t,
            pose: Pose::IDENTITY,
            dynamics: None,
        }
    }

    fn frame(t: u64) -> CameraFrame {
        CameraFrame {
            logical_id: "cam".into(),
            frame_start_us: t,
            frame_end_us: t,
            encoding: ImageEncoding::Png,
            image: Arc::new(image::RgbImage::new(1, 1)),
        }
    }

    #[test]
    fn table_refuses_duplicates_and_overflow() {
        let s = Sessions::new(2);
        s.insert(Session::new(info("a"), 1, 1)).unwrap();
        assert!(matches!(
            s.insert(Session::new(info("a"), 1, 1)),
            Err(Error::SessionExists(_))
        ));
        s.insert(Session::new(info("b"), 1, 1)).unwrap();
        assert!(matches!(
            s.insert(Session::new(info("c"), 1, 1)),
            Err(Error::TooManySessions { limit: 2 })
        ));
        assert!(s.remove("a").is_some());
        assert!(s.get("a").is_err());
        s.insert(Session::new(info("c"), 1, 1)).unwrap();
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn egomotion_skips_resent_poses_and_is_bounded() {
        let s = Session::new(info("a"), 1, 1);
        assert!(s.snapshot(0, 0, vec![]).is_none());
        assert_eq!(s.add_egomotion(vec![sample(0), sample(100)]), 2);
        assert_eq!(s.add_egomotion(vec![sample(100), sample(200)]), 1);
        assert_eq!(s.add_egomotion((300..400).map(sample).collect()), 100);
        let obs = s.snapshot(399, 500, vec![]).unwrap();
        assert_eq!(obs.ego.len(), MIN_EGO_HISTORY);
        assert_eq!(obs.ego.last().unwrap().timestamp_us, 399);
        assert_eq!(s.drives(), 1);
    }

    #[test]
    fn frames_stay_ordered_and_bounded() {
        let s = Session::new(info("a"), 1, 2);
        s.add_egomotion(vec![sample(0)]);
        for t in [30, 10, 20, 30] {
            s.add_frame(frame(t));
        }
        let obs = s.snapshot(0, 0, vec![]).unwrap();
        let times: Vec<u64> = obs.frames["cam"].iter().map(|f| f.frame_end_us).collect();
        assert_eq!(times, vec![20, 30]);
    }

    #[test]
    fn older_route_does_not_replace_newer() {
        let s = Session::new(info("a"), 1, 1);
        s.add_egomotion(vec![sample(0)]);
        s.set_route(Route {
            timestamp_us: 200,
            waypoints: vec![],
        });
        s.set_route(Route {
            timestamp_us: 100,
            waypoints: vec![],
        });
        let obs = s.snapshot(0, 0, vec![]).unwrap();
        assert_eq!(obs.route.unwrap().timestamp_us, 200);
    }
}
