//! Shared by the integration tests: start the real bridge on 127.0.0.1:0,
//! connect real tonic clients, and build requests.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;

use atlas_bridge::Config;
use atlas_proto::sim as pb;
use atlas_proto::sim::simulator_client::SimulatorClient;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_stream::StreamExt;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

pub fn maps_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../maps")
}

pub fn test_config() -> Config {
    Config {
        maps_dir: maps_dir(),
        grace_period_s: 5.0,
        ..Config::default()
    }
}

/// A bridge running in this process.
pub struct TestServer {
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), atlas_bridge::BridgeError>>,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(test_config()).await
    }

    pub async fn start_with(config: Config) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(atlas_bridge::serve(listener, config, async move {
            let _ = rx.await;
        }));
        Self {
            addr,
            shutdown: Some(tx),
            task,
        }
    }

    pub async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    pub async fn client(&self) -> SimulatorClient<Channel> {
        SimulatorClient::new(self.channel().await)
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20)
    }

    /// Waits (on the health watch stream, not a timer) until the bridge
    /// reports SERVING for its service.
    pub async fn wait_serving(&self) {
        let mut health = HealthClient::new(self.channel().await);
        let mut stream = health
            .watch(HealthCheckRequest {
                service: atlas_bridge::SERVICE_NAME.into(),
            })
            .await
            .unwrap()
            .into_inner();
        while let Some(msg) = stream.next().await {
            if msg.unwrap().status == ServingStatus::Serving as i32 {
                return;
            }
        }
        panic!("health stream ended before SERVING");
    }

    /// Requests shutdown and waits for the server to drain and stop.
    pub async fn stop(mut self) -> Result<(), atlas_bridge::BridgeError> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        (&mut self.task).await.unwrap()
    }
}

pub async fn create_world(c: &mut SimulatorClient<Channel>, map: &str) -> pb::CreateWorldResponse {
    c.create_world(pb::CreateWorldRequest {
        map: Some(pb::create_world_request::Map::MapName(map.into())),
        fixed_delta_s: 0.0,
        seed: 7,
        label: "test".into(),
    })
    .await
    .unwrap()
    .into_inner()
}

pub fn lane(road: &str, lane_id: i32, s: f64) -> pb::LanePosition {
    pb::LanePosition {
        road_id: road.into(),
        lane_id,
        s,
        offset: 0.0,
    }
}

pub fn vehicle_at(
    world: &str,
    role: &str,
    lp: pb::LanePosition,
    behavior: pb::behavior::Kind,
) -> pb::SpawnActorRequest {
    pb::SpawnActorRequest {
        world_id: world.into(),
        kind: pb::ActorKind::Vehicle as i32,
        role: role.into(),
        name: role.into(),
        placement: Some(pb::spawn_actor_request::Placement::LanePosition(lp)),
        speed: 0.0,
        dimensions: None,
        behavior: Some(pb::Behavior {
            kind: Some(behavior),
        }),
    }
}

pub fn external() -> pb::behavior::Kind {
    pb::behavior::Kind::External(pb::behavior::External {})
}

pub fn lane_follow(target_speed: f64) -> pb::behavior::Kind {
    pb::behavior::Kind::LaneFollow(pb::behavior::LaneFollow { target_speed })
}

pub fn stopped() -> pb::behavior::Kind {
    pb::behavior::Kind::Stopped(pb::behavior::Stopped {})
}

pub fn camera(width: u32, height: u32) -> pb::CameraSpec {
    pb::CameraSpec {
        width,
        height,
        fov_deg: 90.0,
        fx: 0.0,
        fy: 0.0,
        cx: 0.0,
        cy: 0.0,
        mount: Some(pb::Pose {
            position: Some(pb::Vec3 {
                x: 1.5,
                y: 0.0,
                z: 1.6,
            }),
            yaw: 0.0,
            pitch: 0.0,
            roll: 0.0,
        }),
        encoding: pb::ImageEncoding::Jpeg as i32,
        jpeg_quality: 85,
    }
}

pub fn throttle(actor_id: u64, throttle: f64, brake: f64, steer: f64) -> pb::ActorCommand {
    pb::ActorCommand {
        actor_id,
        control: Some(pb::VehicleControl {
            throttle,
            brake,
            steer,
        }),
        state: None,
    }
}
