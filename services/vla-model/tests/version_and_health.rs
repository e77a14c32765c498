//! `get_version` negotiation header, and `grpc.health.v1` gated by the
//! warm-up inference and dropped during the drain.

mod common;

use std::sync::{Arc, Mutex, mpsc};

use atlas_proto::common::Empty;
use atlas_vla::{Observation, Plan, Policy, PolicyError, RouteFollower, RouteFollowerParams};
use common::*;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

const SERVICE: &str = "egodriver.EgodriverService";

#[tokio::test]
async fn get_version_sends_the_contract_revision_header() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let resp = c.get_version(Empty {}).await.unwrap();
    let header = resp
        .metadata()
        .get(atlas_proto::CONTRACT_REVISION_HEADER)
        .expect("revision header in the initial metadata");
    assert_eq!(header.to_str().unwrap(), "2");
    let v = resp.into_inner();
    assert_eq!(
        v.version_id,
        format!("atlas-vla-baseline-{}", env!("CARGO_PKG_VERSION"))
    );
    let api = v.grpc_api_version.unwrap();
    assert_eq!(
        (api.major, api.minor, api.patch),
        atlas_proto::EGODRIVER_API_VERSION
    );
    server.stop().await;
}

/// The real baseline, whose first plan (the warm-up) waits until the test
/// lets it go.
#[derive(Debug)]
struct Gated {
    inner: RouteFollower,
    gate: Mutex<Option<mpsc::Receiver<()>>>,
}

impl Policy for Gated {
    fn name(&self) -> &str {
        "gated"
    }

    fn plan(&self, obs: &Observation) -> Result<Plan, PolicyError> {
        let gate = self.gate.lock().unwrap().take();
        if let Some(rx) = gate {
            let _ = rx.recv();
        }
        self.inner.plan(obs)
    }
}

fn status(r: HealthCheckResponse) -> ServingStatus {
    ServingStatus::try_from(r.status).unwrap()
}

#[tokio::test]
async fn health_is_serving_only_after_warm_up_and_not_while_draining() {
    let (release, gate) = mpsc::channel();
    let policy = Gated {
        inner: RouteFollower::new(RouteFollowerParams::default()).unwrap(),
        gate: Mutex::new(Some(gate)),
    };
    let mut server = TestServer::start_with_policy(Arc::new(policy)).await;
    let mut health = HealthClient::new(server.channel().await);
    let check = |service: &str| HealthCheckRequest {
        service: service.into(),
    };

    for name in ["", SERVICE] {
        let r = health.check(check(name)).await.unwrap().into_inner();
        assert_eq!(
            status(r),
            ServingStatus::NotServing,
            "{name:?} before warm-up"
        );
    }
    let unknown = health.check(check("no.such.Service")).await.unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);

    let mut watch = health.watch(check(SERVICE)).await.unwrap().into_inner();
    let first = watch.message().await.unwrap().unwrap();
    assert_eq!(status(first), ServingStatus::NotServing);

    release.send(()).unwrap();
    let next = watch.message().await.unwrap().unwrap();
    assert_eq!(status(next), ServingStatus::Serving);
    let r = health.check(check("")).await.unwrap().into_inner();
    assert_eq!(status(r), ServingStatus::Serving);

    // The egodriver service answers while serving.
    let mut c = server.client().await;
    c.get_version(Empty {}).await.unwrap();

    server.begin_shutdown();
    let drained = watch.message().await.unwrap().unwrap();
    assert_eq!(status(drained), ServingStatus::NotServing);
    drop(watch);
    drop(health);
    drop(c);
    server.stop().await;
}

/// A policy whose plans are never finite.
#[derive(Debug)]
struct Broken;

impl Policy for Broken {
    fn name(&self) -> &str {
        "broken"
    }

    fn plan(&self, obs: &Observation) -> Result<Plan, PolicyError> {
        let mut plan = RouteFollower::new(RouteFollowerParams::default())
            .unwrap()
            .plan(obs)?;
        plan.poses[0].pose.translation.x = f64::NAN;
        Ok(plan)
    }
}

#[tokio::test]
async fn a_policy_producing_nan_fails_drive_with_internal() {
    let server = TestServer::start_with_policy(Arc::new(Broken)).await;
    let mut c = server.client().await;
    start_session(&mut c, "broken").await;
    c.submit_egomotion_observation(egomotion(
        "broken",
        0,
        Pose2 {
            x: 0.0,
            y: 0.0,
            z: 0.0,
            yaw: 0.0,
        },
        0.0,
    ))
    .await
    .unwrap();
    let err = c
        .drive(drive_request("broken", 0, STEP_US))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Internal);
    assert!(err.message().contains("non-finite"), "{}", err.message());
    server.stop().await;
}
