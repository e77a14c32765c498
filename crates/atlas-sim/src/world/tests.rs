use std::sync::{Arc, OnceLock};

use super::*;
use crate::map::LanePosition;
use crate::math::wrap_angle;

fn maps_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../maps")
}

fn load(name: &str) -> Arc<Map> {
    Arc::new(Map::from_file(&maps_dir().join(name)).unwrap())
}

fn loop_map() -> Arc<Map> {
    static MAP: OnceLock<Arc<Map>> = OnceLock::new();
    MAP.get_or_init(|| load("atlas_loop.xodr")).clone()
}

fn town01() -> Arc<Map> {
    static MAP: OnceLock<Arc<Map>> = OnceLock::new();
    MAP.get_or_init(|| load("Town01.xodr")).clone()
}

fn vehicle(placement: Placement, speed: f64, behavior: Behavior) -> ActorSpec {
    ActorSpec {
        kind: ActorKind::Vehicle,
        role: "test".into(),
        name: "car".into(),
        placement,
        speed,
        dimensions: Dimensions::UNSET,
        behavior,
    }
}

fn on_lane(road: &str, lane: i32, s: f64) -> Placement {
    Placement::Lane(LanePosition {
        road_id: road.into(),
        lane_id: lane,
        s,
        offset: 0.0,
    })
}

fn control(throttle: f64, brake: f64, steer: f64) -> VehicleControl {
    VehicleControl {
        throttle,
        brake,
        steer,
    }
}

#[test]
fn rejects_bad_time_steps() {
    assert!(World::new(loop_map(), 0.0, 1).is_err());
    assert!(World::new(loop_map(), f64::NAN, 1).is_err());
    assert!(World::new(loop_map(), 0.05, 1).is_ok());
}

#[test]
fn throttle_accelerates_along_the_lane() {
    let mut w = World::new(loop_map(), 0.05, 1).unwrap();
    let (id, pose) = w
        .spawn(vehicle(on_lane("1", -1, 10.0), 0.0, Behavior::External))
        .unwrap();
    assert!((pose.x - 10.0).abs() < 1e-9 && (pose.y + 1.75).abs() < 1e-9 && pose.yaw.abs() < 1e-12);
    w.set_control(id, control(1.0, 0.0, 0.0)).unwrap();
    for _ in 0..20 {
        w.step();
    }
    let s = w.actor_state(id).unwrap();
    assert!(s.speed > 3.0 && s.speed < 3.5, "{}", s.speed);
    assert!(s.pose.x > 11.4 && s.pose.x < 11.8, "{:?}", s.pose);
    assert!((s.pose.y + 1.75).abs() < 1e-9);
    assert!((s.velocity[0] - s.speed).abs() < 1e-9);
    assert!(s.acceleration[0] > 2.5);
    assert_eq!(s.lane.road_id, "1");
    assert_eq!(s.lane.lane_id, -1);
    assert!(s.lane.on_road);
    assert!((s.lane.s - s.pose.x).abs() < 1e-9);
    assert!(w.snapshot().events.is_empty());
}

#[test]
fn constant_steer_keeps_the_rear_axle_on_a_circle() {
    let mut w = World::new(loop_map(), 0.05, 1).unwrap();
    let (id, _) = w
        .spawn(vehicle(
            Placement::Pose(Pose::planar(50.0, 30.0, 0.0)),
            8.0,
            Behavior::External,
        ))
        .unwrap();
    w.set_control(id, control(0.3, 0.0, 0.5)).unwrap();
    let r = 2.8 / (0.5 * MAX_STEER).tan();
    let centre = Vec2::new(50.0, 30.0 + r);
    let mut last_yaw = 0.0;
    for _ in 0..100 {
        w.step();
        let p = w.actor_state(id).unwrap().pose;
        assert!(((p.xy() - centre).length() - r).abs() < 1e-9);
        assert!(wrap_angle(p.yaw - last_yaw) > 0.0, "turns left");
        last_yaw = p.yaw;
    }
}

#[test]
fn braking_stops_without_reversing() {
    let mut w = World::new(loop_map(), 0.05, 1).unwrap();
    let (id, _) = w
        .spawn(vehicle(on_lane("1", -1, 10.0), 10.0, Behavior::External))
        .unwrap();
    w.set_control(id, control(0.0, 1.0, 0.0)).unwrap();
    let mut x = 0.0;
    for _ in 0..60 {
        w.step();
        let s = w.actor_state(id).unwrap();
        assert!(s.speed >= 0.0);
        assert!(s.pose.x >= x);
        x = s.pose.x;
    }
    let s = w.actor_state(id).unwrap();
    assert_eq!(s.speed, 0.0);
    // v²/2a with a ≈ 8 plus drag: a little over 6 m.
    assert!(s.pose.x > 15.0 && s.pose.x < 16.5, "{}", s.pose.x);
}

#[test]
fn driving_into_a_stopped_car_collides_once_and_blocks() {
    let mut w = World::new(loop_map(), 0.05, 7).unwrap();
    let (ego, _) = w
        .spawn(vehicle(on_lane("1", -1, 10.0), 5.0, Behavior::External))
        .unwrap();
    let (wall, _) = w
        .spawn(vehicle(on_lane("1", -1, 25.0), 0.0, Behavior::Stopped))
        .unwrap();
    w.set_control(ego, control(1.0, 0.0, 0.0)).unwrap();
    let mut collisions = Vec::new();
    for _ in 0..100 {
        w.step();
        for e in w.snapshot().events {
            if let EventKind::Collision {
                actor,
                other,
                other_kind,
                relative_speed,
            } = e.kind
            {
                collisions.push((actor, other, other_kind, relative_speed));
            }
        }
    }
    assert_eq!(collisions.len(), 2, "{collisions:?}");
    assert_eq!(collisions[0].0, ego);
    assert_eq!(collisions[0].1, wall);
    assert_eq!(collisions[0].2, ActorKind::Vehicle);
    assert!(collisions[0].3 > 3.0);
    assert_eq!(collisions[1].0, wall);
    let e = w.actor_state(ego).unwrap();
    let s = w.actor_state(wall).unwrap();
    // Blocked just short of the other car: front bumper behind its rear.
    let ego_front = e.pose.x + 3.7;
    let wall_rear = s.pose.x - 0.9;
    assert!(ego_front <= wall_rear + 1e-9, "{ego_front} vs {wall_rear}");
    assert!(wall_rear - ego_front < 1.0);
    assert_eq!(e.speed, 0.0);
    assert_eq!(s.pose.x, 25.0);
}

#[test]
fn lane_invasion_and_off_road_events() {
    let mut w = World::new(loop_map(), 0.05, 1).unwrap();
    let (id, _) = w
        .spawn(vehicle(on_lane("1", -1, 10.0), 8.0, Behavior::External))
        .unwrap();
    w.set_control(id, control(0.2, 0.0, 0.15)).unwrap();
    let mut invasions = Vec::new();
    for _ in 0..30 {
        w.step();
        for e in w.snapshot().events {
            if let EventKind::LaneInvasion {
                road_id,
                from_lane,
                to_lane,
                ..
            } = e.kind
            {
                invasions.push((road_id, from_lane, to_lane));
            }
        }
    }
    assert_eq!(invasions, vec![("1".to_string(), -1, 1)]);
    let mut w = World::new(loop_map(), 0.05, 1).unwrap();
    let (id, _) = w
        .spawn(vehicle(on_lane("1", -1, 10.0), 8.0, Behavior::External))
        .unwrap();
    w.set_control(id, control(0.2, 0.0, -0.15)).unwrap();
    let mut off = 0;
    for _ in 0..30 {
        w.step();
        off += w
            .snapshot()
            .events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::OffRoad { actor } if actor == id))
            .count();
    }
    assert_eq!(off, 1);
    let s = w.actor_state(id).unwrap();
    assert!(!s.lane.on_road);
}

#[test]
fn npcs_follow_the_loop_and_keep_their_distance() {
    let mut w = World::new(loop_map(), 0.05, 3).unwrap();
    let (lead, _) = w
        .spawn(vehicle(
            on_lane("1", -1, 40.0),
            0.0,
            Behavior::LaneFollow { target_speed: 6.0 },
        ))
        .unwrap();
    let (follower, _) = w
        .spawn(vehicle(
            on_lane("1", -1, 20.0),
            0.0,
            Behavior::LaneFollow { target_speed: 12.0 },
        ))
        .unwrap();
    let mut roads = Vec::new();
    for _ in 0..1600 {
        w.step();
        let snap = w.snapshot();
        assert!(snap.events.is_empty(), "{:?}", snap.events);
        let l = &snap.actors[0];
        assert!(l.lane.on_road && l.lane.lane_id == -1, "{:?}", l.lane);
        assert!(l.lane.offset.abs() < 1e-6);
        if roads.last() != Some(&l.lane.road_id) {
            roads.push(l.lane.road_id.clone());
        }
        let a = w.actors[0].obb();
        let b = w.actors[1].obb();
        assert!(!a.overlaps(&b));
    }
    // 80 s at up to 6 m/s (slower in the bends): more than one lap.
    assert!(roads.len() >= 5, "{roads:?}");
    assert_eq!(&roads[..5], &["1", "2", "3", "4", "1"]);
    let l = w.actor_state(lead).unwrap();
    let f = w.actor_state(follower).unwrap();
    assert!(l.speed > 4.0 && l.speed <= 6.0 + 1e-9, "{}", l.speed);
    // The faster follower caught up and now trails at the lead's pace.
    assert!(
        (f.speed - l.speed).abs() < 1.0,
        "{} vs {}",
        f.speed,
        l.speed
    );
    let gap = (l.pose.xy() - f.pose.xy()).length();
    assert!(gap > 4.6 + 2.0 && gap < 25.0, "{gap}");
}

#[test]
fn pedestrians_walk_straight_on() {
    let mut w = World::new(loop_map(), 0.1, 1).unwrap();
    let (id, _) = w
        .spawn(ActorSpec {
            kind: ActorKind::Pedestrian,
            role: "ped".into(),
            name: "p".into(),
            placement: Placement::Pose(Pose::planar(50.0, -4.5, std::f64::consts::FRAC_PI_2)),
            speed: 1.5,
            dimensions: Dimensions::UNSET,
            behavior: Behavior::External,
        })
        .unwrap();
    let s0 = w.actor_state(id).unwrap();
    assert_eq!(s0.lane.lane_type, "sidewalk");
    assert_eq!(
        s0.dimensions,
        Dimensions::default_for(ActorKind::Pedestrian)
    );
    for _ in 0..10 {
        w.step();
    }
    let s = w.actor_state(id).unwrap();
    assert!((s.pose.y - (-3.0)).abs() < 1e-9 && (s.pose.x - 50.0).abs() < 1e-9);
    assert_eq!(s.lane.lane_type, "driving");
    assert!(w.set_control(id, control(1.0, 0.0, 0.0)).is_err());
}

#[test]
fn spawn_and_command_validation() {
    let mut w = World::new(loop_map(), 0.05, 1).unwrap();
    let (a, _) = w
        .spawn(vehicle(on_lane("1", -1, 10.0), 0.0, Behavior::External))
        .unwrap();
    let err = w
        .spawn(vehicle(on_lane("1", -1, 12.0), 0.0, Behavior::External))
        .unwrap_err();
    assert!(err.to_string().contains("overlap"), "{err}");
    let err = w
        .spawn(vehicle(
            Placement::Pose(Pose::planar(50.0, 30.0, 0.0)),
            0.0,
            Behavior::LaneFollow { target_speed: 5.0 },
        ))
        .unwrap_err();
    assert!(err.to_string().contains("drivable lane"), "{err}");
    let err = w
        .spawn(vehicle(on_lane("9", -1, 10.0), 0.0, Behavior::External))
        .unwrap_err();
    assert!(matches!(
        err,
        WorldError::Query(crate::QueryError::UnknownRoad { .. })
    ));
    let mut bad = vehicle(on_lane("1", -1, 50.0), 0.0, Behavior::External);
    bad.dimensions.width = f64::NAN;
    assert!(
        w.spawn(bad)
            .unwrap_err()
            .to_string()
            .contains("dimensions.width")
    );
    let bad = vehicle(on_lane("1", -1, 50.0), -1.0, Behavior::External);
    assert!(w.spawn(bad).unwrap_err().to_string().contains("speed"));
    let bad = vehicle(
        Placement::Pose(Pose::planar(f64::NAN, 0.0, 0.0)),
        0.0,
        Behavior::External,
    );
    assert!(w.spawn(bad).unwrap_err().to_string().contains("pose"));
    assert_eq!(
        w.set_control(99, VehicleControl::default()),
        Err(WorldError::UnknownActor(99))
    );
    assert!(w.set_control(a, control(f64::NAN, 0.0, 0.0)).is_err());
    let (npc, _) = w
        .spawn(vehicle(
            on_lane("3", -1, 50.0),
            0.0,
            Behavior::LaneFollow { target_speed: 5.0 },
        ))
        .unwrap();
    assert!(w.set_control(npc, control(1.0, 0.0, 0.0)).is_err());
    w.destroy(npc).unwrap();
    assert_eq!(w.destroy(npc), Err(WorldError::UnknownActor(npc)));
    assert_eq!(w.actor_count(), 1);
}

/// Spawns `n` lane-following NPCs spread over Town01's lanes.
fn town_with_traffic(seed: u64, n: usize) -> World {
    let map = town01();
    let mut w = World::new(map.clone(), 0.05, seed).unwrap();
    let g = map.graph();
    let mut k = 0;
    let mut placed = 0;
    while placed < n && k < g.nodes().len() * 3 {
        let node = g.node(((k * 37) % g.nodes().len()) as u32);
        k += 1;
        if node.junction.is_some() || node.length < 12.0 {
            continue;
        }
        let s = node.s_start + (node.s_end - node.s_start) * 0.5;
        let spec = vehicle(
            on_lane(&map.roads()[node.road].id, node.lane_id, s),
            5.0,
            Behavior::LaneFollow { target_speed: 0.0 },
        );
        if w.spawn(spec).is_ok() {
            placed += 1;
        }
    }
    assert_eq!(placed, n);
    w
}

#[test]
fn town_traffic_is_deterministic() {
    let run = |seed| {
        let mut w = town_with_traffic(seed, 12);
        let mut snaps = Vec::new();
        for _ in 0..200 {
            w.step();
            snaps.push(w.snapshot());
        }
        snaps
    };
    let a = run(11);
    let b = run(11);
    assert!(a == b, "same seed, different worlds");
    let c = run(12);
    assert!(a != c, "the seed should change route choices");
}

#[test]
fn town_traffic_flows_through_junctions_without_crashing() {
    let mut w = town_with_traffic(5, 25);
    let mut junction_visits = std::collections::BTreeSet::new();
    let map = w.map().clone();
    for _ in 0..2400 {
        w.step();
        let snap = w.snapshot();
        let crashes: Vec<_> = snap
            .events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Collision { .. }))
            .collect();
        assert!(crashes.is_empty(), "frame {}: {crashes:?}", snap.frame);
        for a in &snap.actors {
            assert!(a.lane.on_road, "{a:?}");
            let r = map.road_index(&a.lane.road_id).unwrap();
            if map.roads()[r].junction.is_some() {
                junction_visits.insert(a.id);
            }
        }
    }
    // Over two minutes nearly every NPC crossed a junction, and traffic kept
    // moving.
    assert!(junction_visits.len() >= 20, "{}", junction_visits.len());
    let moving = w.actor_states().iter().filter(|a| a.speed > 0.5).count();
    assert!(moving >= 10, "{moving}");
}

#[test]
fn town01_lights_govern_junction_approaches_and_alternate() {
    let map = town01();
    let sigs = map.signals();
    assert_eq!(sigs.len(), 36);
    let mut by_junction: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for (i, s) in sigs.all().iter().enumerate() {
        assert_eq!(s.kind, SignalKind::TrafficLight, "{}", s.id);
        assert!(!s.stop_lines.is_empty(), "signal {} governs no lane", s.id);
        let j = s
            .junction
            .unwrap_or_else(|| panic!("light {} on road {} is at no junction", s.id, s.road));
        by_junction.entry(j).or_default().push(i);
        for st in &s.stop_lines {
            // The stop line lies on a lane that leads into the junction.
            let node = map.graph().node(st.node);
            let leads_in = node.junction == Some(j)
                || map
                    .graph()
                    .successors(st.node)
                    .iter()
                    .any(|&n| map.graph().node(n).junction == Some(j));
            assert!(leads_in, "signal {} lane {:?}", s.id, node.lane_id);
        }
    }
    // Over two cycles: at most one approach of a junction is not red at a
    // time, every light shows all three colours.
    let mut seen = vec![std::collections::BTreeSet::new(); sigs.len()];
    for k in 0..2000 {
        let t = k as f64 * 0.1;
        for members in by_junction.values() {
            let open = members
                .iter()
                .filter(|&&i| sigs.state(i, t) != LightState::Red)
                .count();
            assert!(open <= 1, "t = {t}: {open} approaches open");
        }
        for (i, s) in seen.iter_mut().enumerate() {
            s.insert(sigs.state(i, t));
        }
    }
    for s in &seen {
        assert_eq!(s.len(), 3, "{s:?}");
    }
}

#[test]
fn npcs_stop_for_red_lights() {
    let mut w = town_with_traffic(9, 30);
    let map = w.map().clone();
    let mut held = 0;
    for _ in 0..2400 {
        w.step();
        let snap = w.snapshot();
        let v: Vec<_> = snap
            .events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::SignalViolation { .. }))
            .collect();
        assert!(v.is_empty(), "{v:?}");
        assert_eq!(snap.signals.len(), 36);
        // Vehicles standing right behind a red stop line.
        for s in snap.signals.iter().filter(|s| s.state == LightState::Red) {
            for st in &s.stop_lines {
                let p = Vec2::new(st.position[0], st.position[1]);
                held += snap
                    .actors
                    .iter()
                    .filter(|a| a.speed < 0.1 && (a.pose.xy() - p).length() < 6.0)
                    .count();
            }
        }
    }
    assert!(held > 0, "nobody ever waited at a red light");
    let _ = map;
}

/// The loop map with one signal on road 1 at s = 50 for +s traffic.
fn loop_with_signal(kind: &str, dynamic: bool) -> Arc<Map> {
    let xml = std::fs::read_to_string(maps_dir().join("atlas_loop.xodr")).unwrap();
    let at = xml.find("</road>").unwrap();
    let sig = format!(
        r#"<signals><signal id="sig1" name="test" s="50" t="-4" zOffset="0" orientation="+" dynamic="{}" country="OpenDRIVE" type="{kind}" subtype="-1" height="1"><validity fromLane="0" toLane="0"/></signal></signals>"#,
        if dynamic { "yes" } else { "no" }
    );
    let xml = format!("{}{sig}\n  {}", &xml[..at], &xml[at..]);
    Arc::new(Map::from_xml(&xml, "loop_signal").unwrap())
}

#[test]
fn stop_signs_make_npcs_stand_before_passing() {
    let map = loop_with_signal("206", false);
    let sig = &map.signals().all()[0];
    assert_eq!(sig.kind, SignalKind::Stop);
    assert!(!sig.stop_lines.is_empty());
    assert!(
        sig.stop_lines
            .iter()
            .all(|l| l.lane_id < 0 && (l.s - 50.0).abs() < 1e-9)
    );
    let mut w = World::new(map, 0.05, 1).unwrap();
    let (id, _) = w
        .spawn(vehicle(
            on_lane("1", -1, 5.0),
            8.0,
            Behavior::LaneFollow { target_speed: 10.0 },
        ))
        .unwrap();
    let mut min_speed_near = f64::INFINITY;
    let mut passed = false;
    for _ in 0..400 {
        let snap = w.step_with(1, &[]).unwrap();
        assert!(
            !snap
                .events
                .iter()
                .any(|e| matches!(e.kind, EventKind::SignalViolation { .. })),
            "{:?}",
            snap.events
        );
        let a = snap.actors.iter().find(|a| a.id == id).unwrap();
        if a.lane.road_id == "1" {
            if (40.0..50.0).contains(&a.lane.s) {
                min_speed_near = min_speed_near.min(a.speed);
            }
            passed |= a.lane.s > 55.0;
        } else {
            passed = true;
        }
    }
    assert!(min_speed_near < 0.2, "{min_speed_near}");
    assert!(passed, "the NPC never went on after stopping");
}

#[test]
fn a_lone_light_cycles_and_holds_traffic() {
    let map = loop_with_signal("1000001", true);
    assert_eq!(map.signals().all()[0].kind, SignalKind::TrafficLight);
    let mut w = World::new(map, 0.05, 1).unwrap();
    for k in 0..6 {
        w.spawn(vehicle(
            on_lane("1", -1, 5.0 + 9.0 * k as f64),
            0.0,
            Behavior::LaneFollow { target_speed: 10.0 },
        ))
        .unwrap();
    }
    let mut states = std::collections::BTreeSet::new();
    let mut waited = false;
    for _ in 0..2000 {
        let snap = w.step_with(1, &[]).unwrap();
        assert!(
            !snap
                .events
                .iter()
                .any(|e| matches!(e.kind, EventKind::SignalViolation { .. })),
            "{:?}",
            snap.events
        );
        let s = &snap.signals[0];
        states.insert(s.state);
        if s.state == LightState::Red {
            waited |= snap.actors.iter().any(|a| {
                a.lane.road_id == "1" && (42.0..50.0).contains(&a.lane.s) && a.speed < 0.1
            });
        }
    }
    assert_eq!(states.len(), 3);
    assert!(waited);
}

#[test]
fn external_red_light_runs_are_reported() {
    let map = loop_with_signal("1000001", true);
    let mut w = World::new(map, 0.05, 1).unwrap();
    let run = |w: &mut World, want: LightState| -> usize {
        while w.signal_states()[0].state != want {
            w.step();
        }
        let (ego, _) = w
            .spawn(vehicle(on_lane("1", -1, 44.0), 10.0, Behavior::External))
            .unwrap();
        let mut n = 0;
        for _ in 0..20 {
            let snap = w.step_with(1, &[(ego, control(0.2, 0.0, 0.0))]).unwrap();
            for e in &snap.events {
                if let EventKind::SignalViolation {
                    actor,
                    signal_id,
                    kind,
                } = &e.kind
                {
                    assert_eq!(
                        (*actor, signal_id.as_str(), *kind),
                        (ego, "sig1", SignalKind::TrafficLight)
                    );
                    n += 1;
                }
            }
        }
        w.destroy(ego).unwrap();
        n
    };
    assert_eq!(run(&mut w, LightState::Red), 1);
    assert_eq!(run(&mut w, LightState::Green), 0);
}

#[test]
fn spawn_traffic_places_vehicles_and_sidewalk_pedestrians() {
    let mut w = World::new(town01(), 0.05, 3).unwrap();
    let ids = w.spawn_traffic(20, 10, 7).unwrap();
    assert_eq!(ids.len(), 30);
    let snap = w.snapshot();
    let peds: Vec<_> = snap
        .actors
        .iter()
        .filter(|a| a.kind == ActorKind::Pedestrian)
        .collect();
    assert_eq!(peds.len(), 10);
    for p in &peds {
        assert_eq!(p.lane.lane_type, "sidewalk", "{p:?}");
    }
    // Same seed, same places.
    let mut w2 = World::new(town01(), 0.05, 3).unwrap();
    w2.spawn_traffic(20, 10, 7).unwrap();
    assert_eq!(w2.snapshot().actors, snap.actors);
    // Walkers keep to sidewalks or cross the road, and make progress.
    let start: Vec<_> = peds.iter().map(|p| p.pose.xy()).collect();
    for _ in 0..600 {
        w.step();
    }
    let snap = w.snapshot();
    let peds: Vec<_> = snap
        .actors
        .iter()
        .filter(|a| a.kind == ActorKind::Pedestrian)
        .collect();
    let moved = peds
        .iter()
        .zip(&start)
        .filter(|(p, s0)| (p.pose.xy() - **s0).length() > 5.0)
        .count();
    assert!(moved >= 7, "{moved}");
    for p in &peds {
        assert!(!p.lane.lane_type.is_empty(), "{p:?} left the road network");
    }
    // Too many for the map: nothing is spawned.
    let before = w.actor_count();
    assert!(w.spawn_traffic(5000, 0, 1).is_err());
    assert_eq!(w.actor_count(), before);
}

/// Drives an external vehicle from `s0` (at `speed`) along road 1 of the
/// stop-sign loop; when `brake_at` is given it brakes there to a standstill
/// and then drives on. Returns the stop-sign violations it caused and where
/// it stood last before the line.
fn drive_past_stop_sign(s0: f64, speed: f64, brake_at: Option<f64>) -> (usize, Option<f64>) {
    let map = loop_with_signal("206", false);
    let mut w = World::new(map, 0.05, 1).unwrap();
    let (ego, _) = w
        .spawn(vehicle(on_lane("1", -1, s0), speed, Behavior::External))
        .unwrap();
    let mut stood_at = (speed < 0.1).then_some(s0);
    let mut stopped = false;
    let mut n = 0;
    for _ in 0..200 {
        let st = w.actor_state(ego).unwrap();
        let s = st.lane.s;
        let braking = !stopped && brake_at.is_some_and(|b| st.lane.road_id == "1" && s >= b);
        if braking && st.speed < 0.05 {
            stopped = true;
        }
        let c = if braking {
            control(0.0, 1.0, 0.0)
        } else {
            control(0.5, 0.0, 0.0)
        };
        let snap = w.step_with(1, &[(ego, c)]).unwrap();
        let me = snap.actors.iter().find(|a| a.id == ego).unwrap();
        if me.lane.road_id == "1" && me.lane.s < 50.0 && me.speed < 0.1 {
            stood_at = Some(me.lane.s);
        }
        for e in &snap.events {
            if let EventKind::SignalViolation {
                actor,
                signal_id,
                kind,
            } = &e.kind
            {
                assert_eq!(
                    (*actor, signal_id.as_str(), *kind),
                    (ego, "sig1", SignalKind::Stop)
                );
                n += 1;
            }
        }
    }
    let end = w.actor_state(ego).unwrap();
    assert!(
        end.lane.road_id != "1" || end.lane.s > 55.0,
        "the vehicle never passed the line: {:?}",
        end.lane
    );
    (n, stood_at)
}

#[test]
fn external_stop_sign_runs_are_reported() {
    // Rolling through at speed.
    assert_eq!(drive_past_stop_sign(30.0, 8.0, None), (1, None));
    // Braking to a standstill just before the line, then going on.
    let (n, stood) = drive_past_stop_sign(30.0, 8.0, Some(42.0));
    let stood = stood.unwrap();
    assert!((46.0..50.0).contains(&stood), "{stood}");
    assert_eq!(n, 0);
    // Braking earlier: it stands about 4.5 m before the line, too far.
    let (n, stood) = drive_past_stop_sign(30.0, 8.0, Some(40.0));
    let stood = stood.unwrap();
    assert!((44.0..45.9).contains(&stood), "{stood}");
    assert_eq!(n, 1);
    // Starting from rest right before the line.
    let (n, stood) = drive_past_stop_sign(47.0, 0.0, None);
    assert!(n == 0 && stood.is_some_and(|s| (47.0..47.1).contains(&s)));
    // Having stood, but too far back (10 m before the line).
    let (n, stood) = drive_past_stop_sign(40.0, 0.0, None);
    assert!(n == 1 && stood.is_some_and(|s| (40.0..40.1).contains(&s)));
}

#[test]
fn a_fast_npc_changes_lanes_to_pass_a_slow_one() {
    let map = load("alks/alks_road_straight.xodr");
    let mut w = World::new(map.clone(), 0.05, 5).unwrap();
    let (slow, _) = w
        .spawn(vehicle(
            on_lane("0", -4, 200.0),
            8.0,
            Behavior::LaneFollow { target_speed: 8.0 },
        ))
        .unwrap();
    let (fast, _) = w
        .spawn(vehicle(
            on_lane("0", -4, 120.0),
            20.0,
            Behavior::LaneFollow { target_speed: 20.0 },
        ))
        .unwrap();
    // A third car in lane -5 a little ahead, so only one side is open at
    // first and the change must respect it.
    let (other, _) = w
        .spawn(vehicle(
            on_lane("0", -5, 150.0),
            12.0,
            Behavior::LaneFollow { target_speed: 12.0 },
        ))
        .unwrap();
    let lane_of = |snap: &Snapshot, id| {
        let a = snap.actors.iter().find(|a| a.id == id).unwrap();
        (a.lane.lane_id, a.lane.s, a.lane.offset, a.pose)
    };
    let mut prev = lane_of(&w.snapshot(), fast);
    let mut lanes_seen = std::collections::BTreeSet::from([prev.0]);
    let mut max_lateral_step: f64 = 0.0;
    let mut max_yaw: f64 = 0.0;
    for _ in 0..1200 {
        let snap = w.step_with(1, &[]).unwrap();
        assert!(
            !snap
                .events
                .iter()
                .any(|e| matches!(e.kind, EventKind::Collision { .. })),
            "{:?}",
            snap.events
        );
        // No two boxes overlap at any step.
        let boxes: Vec<_> = [slow, fast, other]
            .iter()
            .map(|&id| w.actors[w.index_of(id).unwrap()].obb())
            .collect();
        for a in 0..3 {
            for b in a + 1..3 {
                assert!(!boxes[a].overlaps(&boxes[b]));
            }
        }
        let now = lane_of(&snap, fast);
        lanes_seen.insert(now.0);
        // The world position moves smoothly sideways: the lateral step is
        // small even when the lane id switches.
        let lateral = (now.3.xy() - prev.3.xy()).dot(Vec2::from_angle(prev.3.yaw).perp());
        max_lateral_step = max_lateral_step.max(lateral.abs());
        // The road runs along +x.
        max_yaw = max_yaw.max(now.3.yaw.abs());
        prev = now;
    }
    let snap = w.snapshot();
    let (_, s_fast, _, _) = lane_of(&snap, fast);
    let (_, s_slow, _, _) = lane_of(&snap, slow);
    assert!(lanes_seen.len() >= 2, "never changed lanes: {lanes_seen:?}");
    assert!(s_fast > s_slow + 20.0, "did not pass: {s_fast} vs {s_slow}");
    // 3.5 m over 4 s: at most ~0.07 m per 50 ms step sideways.
    assert!(max_lateral_step < 0.1, "{max_lateral_step}");
    assert!(max_yaw < 0.15, "{max_yaw}");
    // The slow car kept its lane.
    assert_eq!(lane_of(&snap, slow).0, -4);
}

#[test]
fn mixed_speed_traffic_on_a_three_lane_road_changes_lanes_without_collisions() {
    let map = load("alks/alks_road_right_radius_250m.xodr");
    let mut w = World::new(map.clone(), 0.05, 11).unwrap();
    let mut rng = Rng::new(42);
    let mut ids = Vec::new();
    for k in 0..24 {
        let lane = [-3, -4, -5, 3, 4, 5][k % 6];
        let s = 100.0 + 45.0 * (k / 6) as f64 + rng.below(10) as f64;
        let v = 8.0 + rng.below(18) as f64;
        let (id, _) = w
            .spawn(vehicle(
                on_lane("0", lane, s),
                v,
                Behavior::LaneFollow { target_speed: v },
            ))
            .unwrap();
        ids.push(id);
    }
    let lane_ids = |w: &World| -> Vec<i32> {
        ids.iter()
            .map(|&id| w.actor_state(id).unwrap().lane.lane_id)
            .collect()
    };
    let mut last = lane_ids(&w);
    let mut changes = 0;
    for _ in 0..20 * 120 {
        let snap = w.step_with(1, &[]).unwrap();
        assert!(
            !snap
                .events
                .iter()
                .any(|e| matches!(e.kind, EventKind::Collision { .. })),
            "{:?}",
            snap.events
        );
        let now = lane_ids(&w);
        for (a, b) in last.iter().zip(&now) {
            if a != b {
                changes += 1;
                // Only between lanes of the same direction.
                assert_eq!(a.signum(), b.signum());
            }
        }
        last = now;
        for &id in &ids {
            let st = w.actor_state(id).unwrap();
            assert!(st.lane.on_road, "{st:?}");
        }
    }
    assert!(changes >= 3, "{changes}");
}

/// A two-lane road into a junction where each lane has its own way out:
/// lane -1 goes on to road 10, lane -2 to road 20.
const FORK: &str = r#"<?xml version="1.0"?>
<OpenDRIVE>
  <header revMajor="1" revMinor="6" name="fork"/>
  <road id="1" length="300" junction="-1">
    <link><successor elementType="junction" elementId="100"/></link>
    <type s="0" type="town"><speed max="50" unit="km/h"/></type>
    <planView><geometry s="0" x="0" y="0" hdg="0" length="300"><line/></geometry></planView>
    <lanes><laneSection s="0">
      <center><lane id="0" type="none"/></center>
      <right>
        <lane id="-1" type="driving"><width sOffset="0" a="3.5"/></lane>
        <lane id="-2" type="driving"><width sOffset="0" a="3.5"/></lane>
      </right>
    </laneSection></lanes>
  </road>
  <road id="11" length="20" junction="100">
    <link><predecessor elementType="road" elementId="1" contactPoint="end"/><successor elementType="road" elementId="10" contactPoint="start"/></link>
    <planView><geometry s="0" x="300" y="0" hdg="0" length="20"><line/></geometry></planView>
    <lanes><laneSection s="0"><center><lane id="0" type="none"/></center>
      <right><lane id="-1" type="driving"><link><predecessor id="-1"/><successor id="-1"/></link><width sOffset="0" a="3.5"/></lane></right>
    </laneSection></lanes>
  </road>
  <road id="21" length="20" junction="100">
    <link><predecessor elementType="road" elementId="1" contactPoint="end"/><successor elementType="road" elementId="20" contactPoint="start"/></link>
    <planView><geometry s="0" x="300" y="-3.5" hdg="0" length="20"><line/></geometry></planView>
    <lanes><laneSection s="0"><center><lane id="0" type="none"/></center>
      <right><lane id="-1" type="driving"><link><predecessor id="-2"/><successor id="-1"/></link><width sOffset="0" a="3.5"/></lane></right>
    </laneSection></lanes>
  </road>
  <road id="10" length="400" junction="-1">
    <link><predecessor elementType="junction" elementId="100"/></link>
    <planView><geometry s="0" x="320" y="0" hdg="0" length="400"><line/></geometry></planView>
    <lanes><laneSection s="0"><center><lane id="0" type="none"/></center>
      <right><lane id="-1" type="driving"><width sOffset="0" a="3.5"/></lane></right>
    </laneSection></lanes>
  </road>
  <road id="20" length="400" junction="-1">
    <link><predecessor elementType="junction" elementId="100"/></link>
    <planView><geometry s="0" x="320" y="-3.5" hdg="-0.05" length="400"><line/></geometry></planView>
    <lanes><laneSection s="0"><center><lane id="0" type="none"/></center>
      <right><lane id="-1" type="driving"><width sOffset="0" a="3.5"/></lane></right>
    </laneSection></lanes>
  </road>
  <junction id="100">
    <connection id="0" incomingRoad="1" connectingRoad="11" contactPoint="start"><laneLink from="-1" to="-1"/></connection>
    <connection id="1" incomingRoad="1" connectingRoad="21" contactPoint="start"><laneLink from="-2" to="-1"/></connection>
  </junction>
</OpenDRIVE>"#;

#[test]
fn npcs_change_lanes_when_their_route_leaves_from_the_other_lane() {
    let map = Arc::new(Map::from_xml(FORK, "fork").unwrap());
    let mut w = World::new(map, 0.05, 3).unwrap();
    // Both lanes used; spaced so gaps exist.
    let mut starts = Vec::new();
    for k in 0..8 {
        let lane = if k % 2 == 0 { -1 } else { -2 };
        let s = 5.0 + 16.0 * k as f64;
        let (id, _) = w
            .spawn(vehicle(
                on_lane("1", lane, s),
                8.0,
                Behavior::LaneFollow { target_speed: 0.0 },
            ))
            .unwrap();
        starts.push((id, lane));
    }
    for _ in 0..20 * 60 {
        let snap = w.step_with(1, &[]).unwrap();
        assert!(
            !snap
                .events
                .iter()
                .any(|e| matches!(e.kind, EventKind::Collision { .. })),
            "{:?}",
            snap.events
        );
    }
    let mut crossed = 0;
    for &(id, lane) in &starts {
        let st = w.actor_state(id).unwrap();
        assert!(st.lane.on_road, "{st:?}");
        assert!(
            st.lane.road_id == "10" || st.lane.road_id == "20",
            "actor {id} still on {:?}",
            st.lane
        );
        // Lane -1 leads to road 10 and lane -2 to road 20: ending on the
        // other one means a lane change on road 1.
        let natural = if lane == -1 { "10" } else { "20" };
        if st.lane.road_id != natural {
            crossed += 1;
        }
    }
    assert!(crossed >= 2, "{crossed} of 8 took the other lane's exit");
}

#[test]
fn background_traffic_places_what_fits() {
    // The ALKS straight road has no sidewalks: vehicles fit, pedestrians
    // do not.
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios/alks/road_networks/alks_road_straight.xodr");
    let map = Arc::new(Map::from_file(&path).unwrap());
    let mut w = World::new(Arc::clone(&map), 0.05, 1).unwrap();
    let t = w.spawn_traffic_fitting(3, 5, 1).unwrap();
    assert_eq!((t.vehicles, t.pedestrians), (3, 0));
    assert_eq!(t.ids.len(), 3);
    assert_eq!(w.actor_count(), 3);
    // All or nothing: the same request refused whole, nothing left behind.
    let mut w = World::new(map, 0.05, 1).unwrap();
    let e = w.spawn_traffic(3, 5, 1).unwrap_err();
    assert!(e.to_string().contains("0 of 5 pedestrians"), "{e}");
    assert_eq!(w.actor_count(), 0);
}
