use super::*;

fn straight(len: f64) -> Polyline {
    Polyline::new((0..=len as usize).map(|i| (i as f64, 0.0))).unwrap()
}

fn sample(time: f64, x: f64, speed: f64) -> EgoSample {
    EgoSample {
        time,
        x,
        y: 0.0,
        speed,
        heading: 0.0,
    }
}

fn collision(t: f64, kind: sim::ActorKind) -> sim::Event {
    sim::Event {
        frame: 0,
        sim_time_s: t,
        kind: Some(sim::event::Kind::Collision(sim::CollisionEvent {
            actor_id: 1,
            other_actor_id: 2,
            other_kind: kind as i32,
            relative_speed: 5.0,
        })),
    }
}

#[test]
fn completing_a_clear_route_is_perfect() {
    let mut ev = Evaluator::new(straight(100.0), Limits::new(60.0, 180.0));
    for i in 0..=100 {
        ev.update(sample(i as f64 * 0.1, i as f64, 10.0), 1, &[]);
    }
    assert!(ev.done());
    let (scores, status) = ev.outcome();
    assert_eq!(status.as_str(), "Perfect");
    assert_eq!(scores.score_composed, 100.0);
}

#[test]
fn a_vehicle_collision_costs_forty_percent_once_per_window() {
    let mut ev = Evaluator::new(straight(100.0), Limits::new(60.0, 180.0));
    ev.update(
        sample(1.0, 10.0, 5.0),
        1,
        &[collision(1.0, sim::ActorKind::Vehicle)],
    );
    // Same place, two seconds later: the same collision.
    ev.update(
        sample(3.0, 10.5, 5.0),
        1,
        &[collision(3.0, sim::ActorKind::Vehicle)],
    );
    let (scores, _) = ev.outcome();
    assert!((scores.score_penalty - 0.6).abs() < 1e-12);
    assert_eq!(ev.infractions().len(), 1);
    // Other actors' collisions do not count against the ego.
    let mut other = collision(9.0, sim::ActorKind::Pedestrian);
    if let Some(sim::event::Kind::Collision(c)) = &mut other.kind {
        c.actor_id = 7;
    }
    ev.update(sample(9.0, 30.0, 5.0), 1, &[other]);
    assert_eq!(ev.infractions().len(), 1);
}

#[test]
fn timeout_ends_the_run_with_partial_completion() {
    let mut ev = Evaluator::new(straight(100.0), Limits::new(10.0, 180.0));
    ev.update(sample(5.0, 25.0, 5.0), 1, &[]);
    ev.update(sample(10.0, 40.0, 5.0), 1, &[]);
    assert!(ev.done());
    let (scores, status) = ev.outcome();
    assert_eq!(status.as_str(), "Failed - Agent timed out");
    assert!((scores.score_route - 40.0).abs() < 1e-9);
    assert_eq!(scores.score_penalty, 1.0);
}

#[test]
fn standing_still_too_long_is_blocked_and_deviation_ends_the_run() {
    let mut ev = Evaluator::new(straight(100.0), Limits::new(600.0, 5.0));
    ev.update(sample(0.0, 10.0, 0.0), 1, &[]);
    ev.update(sample(5.0, 10.0, 0.0), 1, &[]);
    assert_eq!(ev.outcome().1.as_str(), "Failed - Agent got blocked");

    let mut ev = Evaluator::new(straight(100.0), Limits::new(600.0, 180.0));
    ev.update(
        EgoSample {
            time: 1.0,
            x: 50.0,
            y: 31.0,
            speed: 5.0,
            heading: 0.0,
        },
        1,
        &[],
    );
    assert_eq!(
        ev.outcome().1.as_str(),
        "Failed - Agent deviated from the route"
    );
    assert_eq!(ev.completion(), 0.0);
}

fn lane(road: &str, id: i32, s: f64, kind: &str) -> sim::LaneState {
    sim::LaneState {
        on_road: true,
        road_id: road.into(),
        lane_id: id,
        s,
        offset: 0.0,
        lane_type: kind.into(),
    }
}

fn event(t: f64, kind: sim::event::Kind) -> sim::Event {
    sim::Event {
        frame: 0,
        sim_time_s: t,
        kind: Some(kind),
    }
}

/// Drives `ev` along the straight route, one metre per 0.1 s, with the
/// lane and traffic speed given per position.
fn drive(
    ev: &mut Evaluator,
    to: usize,
    lane_at: impl Fn(usize) -> sim::LaneState,
    speed_at: impl Fn(usize) -> (f64, Option<f64>),
) {
    for i in 0..=to {
        let l = lane_at(i);
        let (v, traffic) = speed_at(i);
        let obs = Observation {
            lane: Some(&l),
            traffic_speed: traffic,
            lanes_known: true,
            ..Default::default()
        };
        ev.observe(sample(i as f64 * 0.1, i as f64, v), 1, &obs);
    }
}

fn limits() -> Limits {
    Limits::new(600.0, 180.0)
}

#[test]
fn penalties_multiply_per_infraction() {
    // Pedestrian 0.5 x vehicle 0.6 x red light 0.7 x stop 0.8 = 0.168.
    let mut ev = Evaluator::new(straight(100.0), limits());
    let ped = collision(1.0, sim::ActorKind::Pedestrian);
    ev.update(sample(1.0, 10.0, 5.0), 1, &[ped]);
    let veh = collision(8.0, sim::ActorKind::Vehicle);
    ev.update(sample(8.0, 30.0, 5.0), 1, &[veh]);
    let red = event(
        9.0,
        sim::event::Kind::SignalViolation(sim::SignalViolationEvent {
            actor_id: 1,
            signal_id: "12".into(),
            signal_kind: sim::SignalKind::TrafficLight as i32,
        }),
    );
    ev.update(sample(9.0, 40.0, 5.0), 1, std::slice::from_ref(&red));
    // The same light again right after is the same infraction.
    ev.update(sample(9.5, 41.0, 5.0), 1, &[red]);
    let stop = event(
        12.0,
        sim::event::Kind::SignalViolation(sim::SignalViolationEvent {
            actor_id: 1,
            signal_id: "20".into(),
            signal_kind: sim::SignalKind::Stop as i32,
        }),
    );
    ev.update(sample(12.0, 60.0, 5.0), 1, &[stop]);
    for x in 61..=100 {
        ev.update(sample(12.0 + (x - 60) as f64 * 0.2, x as f64, 5.0), 1, &[]);
    }
    assert!(ev.done());
    ev.finish();
    let (scores, status) = ev.outcome();
    assert_eq!(status.as_str(), "Completed");
    assert!((scores.score_penalty - 0.168).abs() < 1e-12, "{scores:?}");
    assert!((scores.score_composed - 16.8).abs() < 1e-9);
    let cats: Vec<&str> = ev
        .infractions()
        .iter()
        .map(|i| i.category.as_str())
        .collect();
    assert_eq!(
        cats,
        [
            "collisions_pedestrian",
            "collisions_vehicle",
            "red_light",
            "stop_infraction"
        ]
    );
}

#[test]
fn outside_lanes_share_of_distance_is_the_penalty() {
    // Sidewalk from 76 m to 100 m: 25 of 100 route metres outside.
    let mut ev = Evaluator::new(straight(100.0), limits());
    drive(
        &mut ev,
        100,
        |i| {
            let kind = if i > 75 { "sidewalk" } else { "driving" };
            lane("1", -1, i as f64, kind)
        },
        |_| (10.0, None),
    );
    assert!(ev.done());
    ev.finish();
    assert!((ev.outside_lanes_pct() - 25.0).abs() < 1e-9);
    let (scores, status) = ev.outcome();
    assert!((scores.score_penalty - 0.75).abs() < 1e-12);
    assert!((scores.score_composed - 75.0).abs() < 1e-9);
    assert_eq!(status.as_str(), "Completed");
    assert_eq!(ev.infractions()[0].category, "outside_route_lanes");
    assert!(ev.infractions()[0].message.contains("25.00%"));
}

#[test]
fn a_lane_of_the_opposite_direction_counts_as_outside() {
    // Lane 1 runs against s in right-hand traffic; driving along +s in
    // it is wrong-way from the second sample in it (x = 52) to the end.
    let mut ev = Evaluator::new(straight(100.0), limits());
    drive(
        &mut ev,
        100,
        |i| lane("1", if i > 50 { 1 } else { -1 }, i as f64, "driving"),
        |_| (10.0, None),
    );
    ev.finish();
    assert!((ev.outside_lanes_pct() - 49.0).abs() < 1e-9);
    assert!((ev.stats().wrong_lane_m - 49.0).abs() < 1e-9);
    assert!((ev.outcome().0.score_penalty - 0.51).abs() < 1e-12);
}

#[test]
fn minimum_speed_checkpoints_compare_with_traffic() {
    // Half the traffic speed over the first quarter: 50 % there,
    // penalty 1 - 0.3 * (1 - 0.5) = 0.85; the other three are at 100 %.
    let mut ev = Evaluator::new(straight(100.0), limits());
    drive(
        &mut ev,
        100,
        |i| lane("1", -1, i as f64, "driving"),
        |i| (if i <= 25 { 5.0 } else { 10.0 }, Some(10.0)),
    );
    ev.finish();
    assert_eq!(ev.min_speed_checkpoints(), &[50.0, 100.0, 100.0, 100.0]);
    let (scores, status) = ev.outcome();
    assert!((scores.score_penalty - 0.85).abs() < 1e-12, "{scores:?}");
    assert!((scores.score_composed - 85.0).abs() < 1e-9);
    assert_eq!(status.as_str(), "Completed");
    let inf = &ev.infractions()[0];
    assert_eq!(inf.category, "min_speed_infractions");
    assert_eq!(
        inf.message,
        "Average speed is 50% of the surrounding traffic's one"
    );
    // Without traffic nothing is measured and nothing is charged.
    let mut ev = Evaluator::new(straight(100.0), limits());
    drive(
        &mut ev,
        100,
        |i| lane("1", -1, i as f64, "driving"),
        |_| (1.0, None),
    );
    ev.finish();
    assert_eq!(ev.outcome().1.as_str(), "Perfect");
}

#[test]
fn min_speed_and_scenario_timeout_penalties_compose() {
    assert!((min_speed_penalty(80.0) - 0.94).abs() < 1e-12);
    assert_eq!(min_speed_penalty(120.0), 1.0);
    assert_eq!(outside_lanes_penalty(100.0), 0.0);
    assert_eq!(driving_score(60.0, 0.5), 30.0);
    assert_eq!(driving_score(-1.0, 0.5), 0.0);
    let mut ev = Evaluator::new(straight(100.0), limits());
    ev.update(sample(0.5, 20.0, 5.0), 1, &[]);
    ev.update(sample(1.0, 40.0, 5.0), 1, &[]);
    ev.scenario_timeout("Accident_1", sample(1.0, 40.0, 5.0));
    ev.failed_to_yield(sample(2.0, 41.0, 5.0));
    // RC 40 x 0.7 x 0.7, the run not finished: Failed.
    let (scores, status) = ev.outcome();
    assert!((scores.score_penalty - 0.49).abs() < 1e-12);
    assert!((scores.score_composed - 40.0 * 0.49).abs() < 1e-9);
    assert_eq!(
        status.as_str(),
        "Failed - Simulation ended before the route"
    );
}

fn light(kind: sim::SignalKind, state: sim::LightState, at: f64) -> sim::TrafficLightState {
    sim::TrafficLightState {
        id: "7".into(),
        kind: kind as i32,
        state: state as i32,
        position: Some(sim::Vec3 {
            x: at,
            y: 5.0,
            z: 3.0,
        }),
        stop_lines: vec![sim::StopLine {
            road_id: "1".into(),
            lane_id: -1,
            s: at,
            position: Some(sim::Vec3 {
                x: at,
                y: 0.0,
                z: 0.0,
            }),
            heading: 0.0,
            width: 3.5,
        }],
        ..Default::default()
    }
}

fn pass_line(lights: &[sim::TrafficLightState], speeds: &[(f64, f64)]) -> Evaluator {
    let mut ev = Evaluator::new(straight(100.0), limits());
    for (k, &(x, v)) in speeds.iter().enumerate() {
        let l = lane("1", -1, x, "driving");
        let obs = Observation {
            lane: Some(&l),
            lights,
            lanes_known: true,
            front_m: 3.7,
            ..Default::default()
        };
        ev.observe(sample(k as f64, x, v), 1, &obs);
    }
    ev
}

#[test]
fn red_lights_are_checked_at_the_stop_line() {
    let red = [light(
        sim::SignalKind::TrafficLight,
        sim::LightState::Red,
        50.0,
    )];
    let ev = pass_line(&red, &[(45.0, 8.0), (49.5, 8.0), (50.5, 8.0), (55.0, 8.0)]);
    assert_eq!(ev.infractions().len(), 1);
    assert_eq!(ev.infractions()[0].category, "red_light");
    assert!((ev.penalty() - 0.7).abs() < 1e-12);
    let green = [light(
        sim::SignalKind::TrafficLight,
        sim::LightState::Green,
        50.0,
    )];
    let ev = pass_line(&green, &[(45.0, 8.0), (49.5, 8.0), (50.5, 8.0)]);
    assert!(ev.infractions().is_empty());
    // Driving the other way over the line is not running it.
    let mut back = red.clone();
    back[0].stop_lines[0].heading = std::f64::consts::PI;
    let ev = pass_line(&back, &[(45.0, 8.0), (49.5, 8.0), (50.5, 8.0)]);
    assert!(ev.infractions().is_empty());
    // Two signal heads (two ids) on one stop line: one crossing, one
    // infraction.
    let mut second = red[0].clone();
    second.id = "8".into();
    let ev = pass_line(
        &[red[0].clone(), second],
        &[(45.0, 8.0), (49.5, 8.0), (50.5, 8.0), (55.0, 8.0)],
    );
    assert_eq!(ev.infractions().len(), 1, "{:?}", ev.infractions());
    assert!((ev.penalty() - 0.7).abs() < 1e-12);
}

#[test]
fn stop_signs_need_a_stop_within_four_metres() {
    let stop = [light(sim::SignalKind::Stop, sim::LightState::Off, 50.0)];
    // Rolling through.
    let ev = pass_line(&stop, &[(40.0, 3.0), (44.0, 2.0), (49.0, 1.0), (51.0, 1.0)]);
    assert_eq!(ev.infractions().len(), 1);
    assert_eq!(ev.infractions()[0].category, "stop_infraction");
    assert!((ev.penalty() - 0.8).abs() < 1e-12);
    // Stopped with the front bumper 2 m before the line (rig 5.7 m).
    let ev = pass_line(
        &stop,
        &[
            (40.0, 3.0),
            (44.3, 0.05),
            (44.3, 0.0),
            (49.0, 2.0),
            (51.0, 3.0),
        ],
    );
    assert!(ev.infractions().is_empty(), "{:?}", ev.infractions());
    // Stopped too early (front 8 m before the line) does not count.
    let ev = pass_line(
        &stop,
        &[
            (30.0, 3.0),
            (38.3, 0.0),
            (44.0, 3.0),
            (49.0, 3.0),
            (51.0, 3.0),
        ],
    );
    assert_eq!(ev.infractions().len(), 1);
}

#[test]
fn the_route_timeout_grows_with_progress() {
    let mut ev = Evaluator::new(
        straight(100.0),
        Limits::leaderboard_route(60.0, 180.0, 10.0),
    );
    assert_eq!(ev.timeout_now(), 300.0);
    ev.update(sample(5.0, 25.0, 5.0), 1, &[]);
    ev.update(sample(10.0, 50.0, 5.0), 1, &[]);
    // 1 / (0.1 * 10 m/s) = 1 s per metre.
    assert!((ev.timeout_now() - 350.0).abs() < 1e-9);
    ev.update(sample(351.0, 51.0, 5.0), 1, &[]);
    assert_eq!(ev.outcome().1.as_str(), "Failed - Agent timed out");
}

#[test]
fn pass_criteria_read_the_evaluator() {
    let mut ev = Evaluator::new(straight(100.0), limits());
    ev.update(
        sample(1.0, 10.0, 5.0),
        1,
        &[collision(1.0, sim::ActorKind::Vehicle)],
    );
    ev.update(sample(2.0, 20.0, 12.0), 1, &[]);
    let ask: Vec<(String, String)> = [
        ("criteria_CollisionTest", ""),
        ("criteria_RunningRedLightTest", ""),
        ("criteria_RouteCompletionTest", ""),
        ("criteria_MaxVelocityTest", "10"),
        ("criteria_DrivenDistanceTest", "5"),
        ("criteria_MaxVelocityTest", "fast"),
        ("criteria_FlyingTest", ""),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    let r = pass_criteria(&ev, &ask);
    let passed: Vec<Option<bool>> = r.iter().map(|c| c.passed).collect();
    assert_eq!(
        passed,
        [
            Some(false),
            Some(true),
            Some(false),
            Some(false),
            Some(true),
            None,
            None
        ]
    );
    assert!(r[3].detail.contains("12.00"), "{}", r[3].detail);
    assert!(r[6].detail.contains("unknown criterion FlyingTest"));
}
