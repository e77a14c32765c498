//! Conversions between the `atlas.sim.v1` messages and the simulator core,
//! validating every field on the way in and naming it when it is wrong.

use atlas_proto::sim as pb;
use atlas_sim::{
    ActorKind, ActorState, Behavior, Dimensions, Encoding, Event, EventKind, LanePosition,
    LightState, Map, Pose, SignalKind, SignalState,
};

use crate::error::BridgeError;

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
pub(crate) fn encoding_in(
    enc: i32,
    quality: u32,
    field: &str,
) -> Result<(Encoding, pb::ImageEncoding), BridgeError> {
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
        pb::ImageEncoding::Unspecified | pb::ImageEncoding::Jpeg => {
            (Encoding::Jpeg { quality }, pb::ImageEncoding::Jpeg)
        }
        pb::ImageEncoding::Png => (Encoding::Png, pb::ImageEncoding::Png),
        pb::ImageEncoding::Rgb8 => (Encoding::Rgb8, pb::ImageEncoding::Rgb8),
    })
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

pub(crate) fn map_info(map: &Map) -> pb::MapInfo {
    let b = map.bounds();
    pb::MapInfo {
        name: map.name().to_owned(),
        road_count: map.roads().len() as u32,
        junction_count: map.junction_count() as u32,
        min: Some(vec3(b.min)),
        max: Some(vec3(b.max)),
        total_road_length: map.total_road_length(),
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
        assert_eq!(
            encoding_in(0, 0, "camera").unwrap(),
            (Encoding::Jpeg { quality: 90 }, pb::ImageEncoding::Jpeg)
        );
        assert_eq!(encoding_in(2, 0, "camera").unwrap().0, Encoding::Png);
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
