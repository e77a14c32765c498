//! Conversions between the `atlas.sim.v1` messages and the backend's types,
//! validating every field on the way in and naming it when it is wrong.

use atlas_proto::sim as pb;
use atlas_sim::{
    ActorKind, ActorSpec, ActorState, Behavior, BirdsEyeSpec, CameraSpec, Dimensions, Encoding,
    Event, EventKind, LanePosition, LightState, Placement, Pose, SensorSpec, SignalKind,
    SignalState, Snapshot, Vec2, VehicleControl,
};

use crate::backend::{
    EncodedFrame, MapSource, MapSummary, PlannedRoute, ScriptedState, StepInput, WorldSpec,
};
use crate::error::BridgeError;

/// Default fixed step, seconds (20 Hz).
pub const DEFAULT_DT: f64 = 0.05;
/// Default route spacing, metres.
pub const DEFAULT_SPACING: f64 = 1.0;
/// Default bird's-eye scale, metres per pixel.
pub const DEFAULT_BEV_SCALE: f64 = 0.2;

pub(crate) fn finite(field: &str, v: f64) -> Result<f64, BridgeError> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(BridgeError::invalid(
            field,
            format!("{v} is not a finite number"),
        ))
    }
}

/// A pose; `position` may be omitted only when `position_optional`.
pub(crate) fn pose_in(
    p: &pb::Pose,
    field: &str,
    position_optional: bool,
) -> Result<Pose, BridgeError> {
    let pos = match &p.position {
        Some(v) => *v,
        None if position_optional => pb::Vec3::default(),
        None => {
            return Err(BridgeError::invalid(
                format!("{field}.position"),
                "is required",
            ));
        }
    };
    Ok(Pose {
        x: finite(&format!("{field}.position.x"), pos.x)?,
        y: finite(&format!("{field}.position.y"), pos.y)?,
        z: finite(&format!("{field}.position.z"), pos.z)?,
        yaw: finite(&format!("{field}.yaw"), p.yaw)?,
        pitch: finite(&format!("{field}.pitch"), p.pitch)?,
        roll: finite(&format!("{field}.roll"), p.roll)?,
    })
}

pub(crate) fn pose_out(p: &Pose) -> pb::Pose {
    pb::Pose {
        position: Some(pb::Vec3 {
            x: p.x,
            y: p.y,
            z: p.z,
        }),
        yaw: p.yaw,
        pitch: p.pitch,
        roll: p.roll,
    }
}

pub(crate) fn lane_position_in(
    lp: &pb::LanePosition,
    field: &str,
) -> Result<LanePosition, BridgeError> {
    if lp.road_id.is_empty() {
        return Err(BridgeError::invalid(
            format!("{field}.road_id"),
            "is required",
        ));
    }
    if lp.lane_id == 0 {
        return Err(BridgeError::invalid(
            format!("{field}.lane_id"),
            "0 is the centre line, not a lane",
        ));
    }
    Ok(LanePosition {
        road_id: lp.road_id.clone(),
        lane_id: lp.lane_id,
        s: finite(&format!("{field}.s"), lp.s)?,
        offset: finite(&format!("{field}.offset"), lp.offset)?,
    })
}

pub(crate) fn kind_in(kind: i32) -> Result<ActorKind, BridgeError> {
    match pb::ActorKind::try_from(kind) {
        Ok(pb::ActorKind::Vehicle) => Ok(ActorKind::Vehicle),
        Ok(pb::ActorKind::Pedestrian) => Ok(ActorKind::Pedestrian),
        Ok(pb::ActorKind::Static) => Ok(ActorKind::Static),
        Ok(pb::ActorKind::Unspecified) => Err(BridgeError::invalid("kind", "is required")),
        Err(_) => Err(BridgeError::invalid(
            "kind",
            format!("unknown actor kind {kind}"),
        )),
    }
}

pub(crate) fn kind_out(kind: ActorKind) -> pb::ActorKind {
    match kind {
        ActorKind::Vehicle => pb::ActorKind::Vehicle,
        ActorKind::Pedestrian => pb::ActorKind::Pedestrian,
        ActorKind::Static => pb::ActorKind::Static,
    }
}

pub(crate) fn dimensions_in(d: Option<&pb::Dimensions>) -> Result<Dimensions, BridgeError> {
    let Some(d) = d else {
        return Ok(Dimensions::UNSET);
    };
    Ok(Dimensions {
        length: finite("dimensions.length", d.length)?,
        width: finite("dimensions.width", d.width)?,
        height: finite("dimensions.height", d.height)?,
        wheelbase: finite("dimensions.wheelbase", d.wheelbase)?,
        rear_overhang: finite("dimensions.rear_overhang", d.rear_overhang)?,
    })
}

pub(crate) fn dimensions_out(d: &Dimensions) -> pb::Dimensions {
    pb::Dimensions {
        length: d.length,
        width: d.width,
        height: d.height,
        wheelbase: d.wheelbase,
        rear_overhang: d.rear_overhang,
    }
}

/// The behaviour; without one, vehicles and pedestrians are external and
/// props stay put.
pub(crate) fn behavior_in(
    b: Option<&pb::Behavior>,
    kind: ActorKind,
) -> Result<Behavior, BridgeError> {
    use pb::behavior::Kind;
    Ok(match b.and_then(|b| b.kind.as_ref()) {
        Some(Kind::External(_)) => Behavior::External,
        Some(Kind::LaneFollow(l)) => Behavior::LaneFollow {
            target_speed: finite("behavior.lane_follow.target_speed", l.target_speed)?,
        },
        Some(Kind::Stopped(_)) => Behavior::Stopped,
        Some(Kind::Scripted(_)) => Behavior::Scripted,
        None if kind == ActorKind::Static => Behavior::Stopped,
        None => Behavior::External,
    })
}

/// Image encoding of a sensor; unspecified is JPEG, quality 0 is 90.
pub(crate) fn encoding_in(enc: i32, quality: u32, field: &str) -> Result<Encoding, BridgeError> {
    let e = pb::ImageEncoding::try_from(enc).map_err(|_| {
        BridgeError::invalid(
            format!("{field}.encoding"),
            format!("unknown image encoding {enc}"),
        )
    })?;
    let quality = match quality {
        0 => 90,
        q @ 1..=100 => q as u8,
        q => {
            return Err(BridgeError::invalid(
                format!("{field}.jpeg_quality"),
                format!("{q} is outside 1-100"),
            ));
        }
    };
    Ok(match e {
        pb::ImageEncoding::Unspecified | pb::ImageEncoding::Jpeg => Encoding::Jpeg { quality },
        pb::ImageEncoding::Png => Encoding::Png,
        pb::ImageEncoding::Rgb8 => Encoding::Rgb8,
    })
}

pub(crate) fn encoding_out(e: Encoding) -> pb::ImageEncoding {
    match e {
        Encoding::Jpeg { .. } => pb::ImageEncoding::Jpeg,
        Encoding::Png => pb::ImageEncoding::Png,
        Encoding::Rgb8 => pb::ImageEncoding::Rgb8,
    }
}

pub(crate) fn actor_out(a: &ActorState) -> pb::ActorState {
    pb::ActorState {
        actor_id: a.id,
        kind: kind_out(a.kind) as i32,
        role: a.role.clone(),
        name: a.name.clone(),
        pose: Some(pose_out(&a.pose)),
        velocity: Some(vec3(a.velocity)),
        acceleration: Some(vec3(a.acceleration)),
        yaw_rate: a.yaw_rate,
        speed: a.speed,
        dimensions: Some(dimensions_out(&a.dimensions)),
        lane: Some(pb::LaneState {
            on_road: a.lane.on_road,
            road_id: a.lane.road_id.clone(),
            lane_id: a.lane.lane_id,
            s: a.lane.s,
            offset: a.lane.offset,
            lane_type: a.lane.lane_type.clone(),
        }),
    }
}

pub(crate) fn vec3(v: [f64; 3]) -> pb::Vec3 {
    pb::Vec3 {
        x: v[0],
        y: v[1],
        z: v[2],
    }
}

pub(crate) fn event_out(e: &Event) -> pb::Event {
    use pb::event::Kind;
    let kind = match &e.kind {
        EventKind::Collision {
            actor,
            other,
            other_kind,
            relative_speed,
        } => Kind::Collision(pb::CollisionEvent {
            actor_id: *actor,
            other_actor_id: *other,
            other_kind: kind_out(*other_kind) as i32,
            relative_speed: *relative_speed,
        }),
        EventKind::LaneInvasion {
            actor,
            road_id,
            from_lane,
            to_lane,
        } => Kind::LaneInvasion(pb::LaneInvasionEvent {
            actor_id: *actor,
            road_id: road_id.clone(),
            from_lane_id: *from_lane,
            to_lane_id: *to_lane,
        }),
        EventKind::OffRoad { actor } => Kind::OffRoad(pb::OffRoadEvent { actor_id: *actor }),
        EventKind::SignalViolation {
            actor,
            signal_id,
            kind,
        } => Kind::SignalViolation(pb::SignalViolationEvent {
            actor_id: *actor,
            signal_id: signal_id.clone(),
            signal_kind: signal_kind_out(*kind) as i32,
        }),
    };
    pb::Event {
        frame: e.frame,
        sim_time_s: e.time,
        kind: Some(kind),
    }
}

pub(crate) fn signal_kind_out(k: SignalKind) -> pb::SignalKind {
    match k {
        SignalKind::TrafficLight => pb::SignalKind::TrafficLight,
        SignalKind::Stop => pb::SignalKind::Stop,
        SignalKind::Yield => pb::SignalKind::Yield,
    }
}

pub(crate) fn light_state_out(s: LightState) -> pb::LightState {
    match s {
        LightState::Red => pb::LightState::Red,
        LightState::Yellow => pb::LightState::Yellow,
        LightState::Green => pb::LightState::Green,
        LightState::Off => pb::LightState::Off,
    }
}

pub(crate) fn signal_out(s: &SignalState) -> pb::TrafficLightState {
    pb::TrafficLightState {
        id: s.id.clone(),
        kind: signal_kind_out(s.kind) as i32,
        state: light_state_out(s.state) as i32,
        position: Some(vec3(s.position)),
        facing: s.facing,
        road_id: s.road_id.clone(),
        junction_id: s.junction_id.clone(),
        stop_lines: s
            .stop_lines
            .iter()
            .map(|l| pb::StopLine {
                road_id: l.road_id.clone(),
                lane_id: l.lane_id,
                s: l.s,
                position: Some(vec3(l.position)),
                heading: l.heading,
                width: l.width,
            })
            .collect(),
    }
}

pub(crate) fn map_info(m: &MapSummary) -> pb::MapInfo {
    pb::MapInfo {
        name: m.name.clone(),
        road_count: m.road_count as u32,
        junction_count: m.junction_count as u32,
        min: Some(vec3(m.min)),
        max: Some(vec3(m.max)),
        total_road_length: m.total_road_length,
    }
}

/// The world a `CreateWorld` asks for; a zero step is [`DEFAULT_DT`].
pub(crate) fn world_spec_in(req: pb::CreateWorldRequest) -> Result<WorldSpec, BridgeError> {
    use pb::create_world_request::Map as M;
    let map = match req.map {
        Some(M::MapName(name)) => MapSource::Named(name),
        Some(M::OpendriveXml(xml)) => MapSource::OpenDrive(xml),
        None => {
            return Err(BridgeError::invalid(
                "map",
                "one of map_name or opendrive_xml is required",
            ));
        }
    };
    let fixed_delta_s = if req.fixed_delta_s == 0.0 {
        DEFAULT_DT
    } else {
        req.fixed_delta_s
    };
    Ok(WorldSpec {
        map,
        fixed_delta_s,
        seed: req.seed,
    })
}

pub(crate) fn actor_spec_in(req: &pb::SpawnActorRequest) -> Result<ActorSpec, BridgeError> {
    use pb::spawn_actor_request::Placement as P;
    let kind = kind_in(req.kind)?;
    let placement = match &req.placement {
        Some(P::Pose(p)) => Placement::Pose(pose_in(p, "pose", false)?),
        Some(P::LanePosition(lp)) => Placement::Lane(lane_position_in(lp, "lane_position")?),
        None => {
            return Err(BridgeError::invalid(
                "placement",
                "one of pose or lane_position is required",
            ));
        }
    };
    Ok(ActorSpec {
        kind,
        role: req.role.clone(),
        name: req.name.clone(),
        placement,
        speed: finite("speed", req.speed)?,
        dimensions: dimensions_in(req.dimensions.as_ref())?,
        behavior: behavior_in(req.behavior.as_ref(), kind)?,
    })
}

/// A sensor and the encoding of its frames.
pub(crate) fn sensor_in(
    spec: Option<pb::attach_sensor_request::Spec>,
) -> Result<(SensorSpec, Encoding), BridgeError> {
    use pb::attach_sensor_request::Spec;
    match spec {
        Some(Spec::Camera(c)) => {
            let mount = match &c.mount {
                Some(m) => pose_in(m, "camera.mount", true)?,
                None => Pose::default(),
            };
            let enc = encoding_in(c.encoding, c.jpeg_quality, "camera")?;
            let camera = CameraSpec {
                width: c.width,
                height: c.height,
                fov_deg: c.fov_deg,
                fx: c.fx,
                fy: c.fy,
                cx: c.cx,
                cy: c.cy,
                mount,
            };
            Ok((SensorSpec::Camera(camera), enc))
        }
        Some(Spec::BirdsEye(b)) => {
            let enc = encoding_in(b.encoding, 0, "birds_eye")?;
            let scale = if b.metres_per_pixel == 0.0 {
                DEFAULT_BEV_SCALE
            } else {
                b.metres_per_pixel
            };
            let bev = BirdsEyeSpec {
                width: b.width,
                height: b.height,
                metres_per_pixel: scale,
            };
            Ok((SensorSpec::BirdsEye(bev), enc))
        }
        None => Err(BridgeError::invalid(
            "spec",
            "one of camera or birds_eye is required",
        )),
    }
}

/// A `Step`'s commands: each gives a control (an external vehicle) or a
/// state (a scripted actor), never both. `steps` 0 is 1.
pub(crate) fn step_in(req: &pb::StepRequest, max_steps: u32) -> Result<StepInput, BridgeError> {
    let steps = req.steps.max(1);
    if steps > max_steps {
        return Err(BridgeError::invalid(
            "steps",
            format!("{steps} exceeds the limit of {max_steps} per call"),
        ));
    }
    let mut input = StepInput {
        controls: Vec::with_capacity(req.commands.len()),
        states: Vec::new(),
        steps,
        render: req.render,
    };
    for (i, c) in req.commands.iter().enumerate() {
        match (&c.control, &c.state) {
            (Some(ctl), None) => {
                let ctl = VehicleControl {
                    throttle: finite(&format!("commands[{i}].control.throttle"), ctl.throttle)?,
                    brake: finite(&format!("commands[{i}].control.brake"), ctl.brake)?,
                    steer: finite(&format!("commands[{i}].control.steer"), ctl.steer)?,
                };
                input.controls.push((c.actor_id, ctl));
            }
            (None, Some(st)) => {
                let field = format!("commands[{i}].state");
                let pose = st
                    .pose
                    .as_ref()
                    .ok_or_else(|| BridgeError::invalid(format!("{field}.pose"), "is required"))?;
                input.states.push(ScriptedState {
                    actor: c.actor_id,
                    pose: pose_in(pose, &format!("{field}.pose"), false)?,
                    speed: finite(&format!("{field}.speed"), st.speed)?,
                    acceleration: finite(&format!("{field}.acceleration"), st.acceleration)?,
                });
            }
            (Some(_), Some(_)) => {
                return Err(BridgeError::invalid(
                    format!("commands[{i}]"),
                    "give control or state, not both",
                ));
            }
            (None, None) => {
                return Err(BridgeError::invalid(
                    format!("commands[{i}].control"),
                    "is required (or state, for a scripted actor)",
                ));
            }
        }
    }
    Ok(input)
}

pub(crate) fn snapshot_out(
    world_id: String,
    snap: &Snapshot,
    frames: Vec<EncodedFrame>,
) -> pb::Snapshot {
    pb::Snapshot {
        world_id,
        frame: snap.frame,
        sim_time_s: snap.time,
        actors: snap.actors.iter().map(actor_out).collect(),
        events: snap.events.iter().map(event_out).collect(),
        frames: frames.into_iter().map(frame_out).collect(),
        traffic_lights: snap.signals.iter().map(signal_out).collect(),
    }
}

fn frame_out(f: EncodedFrame) -> pb::SensorFrame {
    pb::SensorFrame {
        sensor_id: f.sensor,
        name: f.name,
        actor_id: f.actor,
        frame: f.frame,
        sim_time_s: f.sim_time_s,
        width: f.width,
        height: f.height,
        encoding: encoding_out(f.encoding) as i32,
        data: f.data,
    }
}

/// Route waypoints (x, y; z is ignored) and the spacing, 0 meaning
/// [`DEFAULT_SPACING`].
pub(crate) fn route_in(req: &pb::PlanRouteRequest) -> Result<(Vec<Vec2>, f64), BridgeError> {
    let spacing = if req.spacing == 0.0 {
        DEFAULT_SPACING
    } else {
        req.spacing
    };
    if !spacing.is_finite() || !(0.05..=100.0).contains(&spacing) {
        return Err(BridgeError::invalid(
            "spacing",
            format!("must be between 0.05 and 100 metres, got {spacing}"),
        ));
    }
    let mut points = Vec::with_capacity(req.waypoints.len());
    for (i, w) in req.waypoints.iter().enumerate() {
        points.push(Vec2::new(
            finite(&format!("waypoints[{i}].x"), w.x)?,
            finite(&format!("waypoints[{i}].y"), w.y)?,
        ));
    }
    Ok((points, spacing))
}

pub(crate) fn route_out(r: &PlannedRoute) -> pb::PlanRouteResponse {
    pb::PlanRouteResponse {
        points: r.points.iter().map(|p| vec3(*p)).collect(),
        length: r.length,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pose_fields_are_named() {
        let p = pb::Pose {
            position: Some(pb::Vec3 {
                x: 1.0,
                y: f64::NAN,
                z: 0.0,
            }),
            ..Default::default()
        };
        let e = pose_in(&p, "pose", false).unwrap_err().to_string();
        assert!(e.starts_with("pose.position.y:"), "{e}");
        let e = pose_in(&pb::Pose::default(), "pose", false)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("pose.position:"), "{e}");
        assert!(pose_in(&pb::Pose::default(), "camera.mount", true).is_ok());
    }

    #[test]
    fn encodings_and_kinds() {
        let jpeg = encoding_in(0, 0, "camera").unwrap();
        assert_eq!(
            (jpeg, encoding_out(jpeg)),
            (Encoding::Jpeg { quality: 90 }, pb::ImageEncoding::Jpeg)
        );
        assert_eq!(encoding_in(2, 0, "camera").unwrap(), Encoding::Png);
        assert!(
            encoding_in(9, 0, "camera")
                .unwrap_err()
                .to_string()
                .contains("camera.encoding")
        );
        assert!(
            encoding_in(1, 101, "camera")
                .unwrap_err()
                .to_string()
                .contains("jpeg_quality")
        );
        assert!(kind_in(0).unwrap_err().to_string().starts_with("kind:"));
        assert!(kind_in(42).is_err());
        assert_eq!(kind_in(2).unwrap(), ActorKind::Pedestrian);
        assert_eq!(
            behavior_in(None, ActorKind::Static).unwrap(),
            Behavior::Stopped
        );
        assert_eq!(
            behavior_in(None, ActorKind::Vehicle).unwrap(),
            Behavior::External
        );
    }
}
