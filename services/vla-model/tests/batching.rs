//! Micro-batching through the real server: concurrent sessions' `drive`
//! calls share forward passes of a (tiny, randomly initialised) candle
//! model and get the same trajectories as one-by-one inference, and the
//! in-flight limit answers RESOURCE_EXHAUSTED with a retry hint.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use atlas_model::{DrivingModel, ModelConfig};
use atlas_proto::egodriver::DriveResponse;
use atlas_vla::observation::{CameraDecl, Observation};
use atlas_vla::{CandlePolicy, Config, Plan, Policy, PolicyError};
use candle_core::{DType, Device};
use candle_nn::{VarBuilder, VarMap};
use common::*;
use tonic::Code;

/// The candle policy, recording the size of every batch of drives the
/// server hands it.
#[derive(Debug)]
struct Counted {
    inner: Arc<CandlePolicy>,
    sizes: Mutex<Vec<usize>>,
}

impl Counted {
    fn new(inner: Arc<CandlePolicy>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            sizes: Mutex::default(),
        })
    }

    fn sizes(&self) -> Vec<usize> {
        self.sizes.lock().unwrap().clone()
    }
}

impl Policy for Counted {
    fn name(&self) -> &str {
        "model"
    }
    fn ego_history(&self) -> usize {
        self.inner.ego_history()
    }
    fn accept_session(&self, cameras: &[CameraDecl]) -> Result<(), PolicyError> {
        self.inner.accept_session(cameras)
    }
    /// The start-up warm-up's call; drives go through `plan_batch`.
    fn plan(&self, obs: &Observation) -> Result<Plan, PolicyError> {
        self.inner.plan(obs)
    }
    fn plan_batch(&self, obs: &[&Observation]) -> Vec<Result<Plan, PolicyError>> {
        self.sizes.lock().unwrap().push(obs.len());
        self.inner.plan_batch(obs)
    }
}

/// A tiny configuration with random weights: nothing read from disk.
fn tiny_random_policy() -> Arc<CandlePolicy> {
    let vm = VarMap::new();
    let model = DrivingModel::new(
        &ModelConfig::tiny(),
        VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu),
    )
    .unwrap();
    Arc::new(CandlePolicy::from_model(
        model,
        Default::default(),
        String::new(),
        "",
    ))
}

fn config(batch_max_size: usize, batch_max_wait_ms: f64, max_inflight: usize) -> Config {
    Config {
        grace_period_s: 5.0,
        batch_max_size,
        batch_max_wait_ms,
        max_inflight,
        ..Config::default()
    }
}

/// Session `i`'s pose, speed and picture: all different, so every row of
/// a batch has its own answer.
fn session_inputs(i: usize) -> (Pose2, f64, Vec<u8>) {
    let k = i as f64;
    let ego = Pose2 {
        x: 3.0 * k,
        y: -1.5 * k,
        z: 0.25 * k,
        yaw: 0.2 * k - 0.4,
    };
    let img = image::RgbImage::from_fn(160, 90, |x, y| {
        let v = ((x * (i as u32 + 1) + y * 3) % 256) as u8;
        if y < 45 {
            image::Rgb([120, 160, 220u8.wrapping_sub(20 * i as u8)])
        } else {
            image::Rgb([v, 90, 40 * i as u8])
        }
    });
    let jpeg = atlas_vla::decode::encode_jpeg(&img, 90).unwrap();
    (ego, 2.0 + k, jpeg)
}

/// Starts the session and submits one step's observations (two ego poses,
/// a route bending by session, the picture).
async fn prepare(server: &TestServer, uuid: &str, i: usize) {
    let mut c = server.client().await;
    start_session(&mut c, uuid).await;
    let (ego, speed, jpeg) = session_inputs(i);
    let (s, co) = ego.yaw.sin_cos();
    let before = Pose2 {
        x: ego.x - 0.1 * speed * co,
        y: ego.y - 0.1 * speed * s,
        ..ego
    };
    c.submit_egomotion_observation(egomotion(uuid, 900_000, before, speed))
        .await
        .unwrap();
    c.submit_egomotion_observation(egomotion(uuid, 1_000_000, ego, speed))
        .await
        .unwrap();
    let bend = 0.002 * (i as f64 - 2.0);
    let lane: Vec<(f64, f64)> = (0..20)
        .map(|j| {
            let d = 4.0 * f64::from(j);
            let (x, y) = (d, bend * d * d);
            (ego.x + co * x - s * y, ego.y + s * x + co * y)
        })
        .collect();
    c.submit_route(route(uuid, 1_000_000, ego, &lane))
        .await
        .unwrap();
    c.submit_image_observation(image(uuid, CAMERA, 1_000_000, jpeg))
        .await
        .unwrap();
}

fn assert_same_trajectory(batched: &DriveResponse, single: &DriveResponse, what: &str) {
    let a = &batched.trajectory.as_ref().unwrap().poses;
    let b = &single.trajectory.as_ref().unwrap().poses;
    assert!(a.len() > 2, "{what}: only {} poses", a.len());
    assert_eq!(a.len(), b.len(), "{what}");
    // A batch sums its matrix products in another order than one request
    // alone (the GEMM kernels block by batch size): f32 rounding differences
    // up to a few 1e-5 after the network's layers are expected, real
    // mix-ups between sessions are orders of magnitude larger.
    let close = |x: f32, y: f32| (x - y).abs() <= 1e-4 * x.abs().max(1.0);
    for (p, q) in a.iter().zip(b) {
        assert_eq!(p.timestamp_us, q.timestamp_us, "{what}");
        let (pp, qp) = (p.pose.unwrap(), q.pose.unwrap());
        let (pv, qv) = (pp.vec.unwrap(), qp.vec.unwrap());
        let (pq, qq) = (pp.quat.unwrap(), qp.quat.unwrap());
        for (x, y) in [
            (pv.x, qv.x),
            (pv.y, qv.y),
            (pv.z, qv.z),
            (pq.w, qq.w),
            (pq.x, qq.x),
            (pq.y, qq.y),
            (pq.z, qq.z),
        ] {
            assert!(
                close(x, y),
                "{what} at {} µs: batched {x} vs one by one {y}",
                p.timestamp_us
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn batched_drives_match_one_by_one_inference() {
    const SESSIONS: usize = 6;
    let model = tiny_random_policy();

    // One server batching up to 8 within a generous window, one planning
    // every request alone; both on the same weights.
    let batched_policy = Counted::new(model.clone());
    let batched =
        TestServer::start_with_config_and_policy(config(8, 200.0, 64), batched_policy.clone())
            .await;
    let single_policy = Counted::new(model.clone());
    let single =
        TestServer::start_with_config_and_policy(config(1, 0.0, 64), single_policy.clone()).await;

    for i in 0..SESSIONS {
        let uuid = format!("session-{i}");
        prepare(&batched, &uuid, i).await;
        prepare(&single, &uuid, i).await;
    }

    // Several concurrent callers, one per session, released together.
    let gate = Arc::new(tokio::sync::Barrier::new(SESSIONS));
    let mut callers = Vec::new();
    for i in 0..SESSIONS {
        let mut c = batched.client().await;
        let gate = gate.clone();
        callers.push(tokio::spawn(async move {
            gate.wait().await;
            c.drive(drive_request(
                &format!("session-{i}"),
                1_000_000,
                1_000_000 + STEP_US,
            ))
            .await
            .unwrap()
            .into_inner()
        }));
    }
    let mut from_batches = Vec::new();
    for c in callers {
        from_batches.push(c.await.unwrap());
    }

    let mut c = single.client().await;
    for (i, batched_answer) in from_batches.iter().enumerate() {
        let alone = c
            .drive(drive_request(
                &format!("session-{i}"),
                1_000_000,
                1_000_000 + STEP_US,
            ))
            .await
            .unwrap()
            .into_inner();
        assert_same_trajectory(batched_answer, &alone, &format!("session {i}"));
    }
    // Different inputs gave different plans (the comparison is not vacuous).
    let last = |r: &DriveResponse| r.trajectory.as_ref().unwrap().poses.last().unwrap().pose;
    assert_ne!(last(&from_batches[0]), last(&from_batches[1]));

    let sizes = batched_policy.sizes();
    assert_eq!(sizes.iter().sum::<usize>(), SESSIONS, "{sizes:?}");
    assert!(
        sizes.iter().any(|&s| s > 1),
        "the concurrent drives were never batched: {sizes:?}"
    );
    assert!(sizes.iter().all(|&s| s <= 8), "{sizes:?}");
    let sizes = single_policy.sizes();
    assert_eq!(sizes, vec![1; SESSIONS]);

    batched.stop().await;
    single.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_inflight_limit_drive_is_resource_exhausted_with_a_retry_hint() {
    // One request at a time; the first sits in a 1 s batch window, so a
    // second arriving meanwhile finds the limit reached.
    let server =
        TestServer::start_with_config_and_policy(config(8, 1000.0, 1), tiny_random_policy()).await;
    prepare(&server, "first", 0).await;
    prepare(&server, "second", 1).await;

    let mut c1 = server.client().await;
    let first = tokio::spawn(async move {
        c1.drive(drive_request("first", 1_000_000, 1_100_000))
            .await
            .map(|r| r.into_inner())
    });
    tokio::time::sleep(Duration::from_millis(200)).await;

    let mut c2 = server.client().await;
    let status = c2
        .drive(drive_request("second", 1_000_000, 1_100_000))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("limit 1"), "{}", status.message());
    for key in [
        atlas_vla::batch::RETRY_AFTER_HEADER,
        atlas_vla::batch::GRPC_PUSHBACK_HEADER,
    ] {
        let hint: u64 = status
            .metadata()
            .get(key)
            .unwrap_or_else(|| panic!("no {key} in {:?}", status.metadata()))
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60_000).contains(&hint), "{key} = {hint}");
    }

    // The first is answered; then the slot is free and a retry succeeds.
    let answer = first.await.unwrap().unwrap();
    assert!(answer.trajectory.unwrap().poses.len() > 2);
    let retried = c2
        .drive(drive_request("second", 1_000_000, 1_100_000))
        .await
        .unwrap()
        .into_inner();
    assert!(retried.trajectory.unwrap().poses.len() > 2);
    // Validation still comes first: an unknown session is NOT_FOUND even
    // while the limit is free or reached.
    let code = c2
        .drive(drive_request("nobody", 0, STEP_US))
        .await
        .unwrap_err()
        .code();
    assert_eq!(code, Code::NotFound);
    server.stop().await;
}
