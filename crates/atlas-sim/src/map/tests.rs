use std::f64::consts::PI;
use std::path::PathBuf;

use super::*;

pub(crate) fn maps_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../maps")
}

/// A straight road along +x and a left-turning arc, with lane offset and a
/// widening lane, written so every lane centre has a closed form.
fn test_map() -> Map {
    let xml = r#"<OpenDRIVE>
  <header name="t"/>
  <road id="s" length="100" junction="-1">
    <link><successor elementType="road" elementId="a" contactPoint="start"/></link>
    <planView><geometry s="0" x="10" y="20" hdg="0" length="100"><line/></geometry></planView>
    <elevationProfile><elevation s="0" a="1" b="0.01" c="0" d="0"/></elevationProfile>
    <lanes>
      <laneOffset s="0" a="0.5" b="0" c="0" d="0"/>
      <laneSection s="0">
        <left><lane id="1" type="driving"><link><successor id="1"/></link><width sOffset="0" a="3"/></lane></left>
        <right>
          <lane id="-1" type="driving"><link><successor id="-1"/></link><width sOffset="0" a="3.5"/></lane>
          <lane id="-2" type="sidewalk"><width sOffset="0" a="2" b="0.01"/></lane>
        </right>
      </laneSection>
    </lanes>
  </road>
  <road id="a" length="78.53981633974483" junction="-1">
    <link><predecessor elementType="road" elementId="s" contactPoint="end"/></link>
    <planView><geometry s="0" x="110" y="20" hdg="0" length="78.53981633974483"><arc curvature="0.02"/></geometry></planView>
    <lanes>
      <laneSection s="0">
        <left><lane id="1" type="driving"><link><predecessor id="1"/></link><width sOffset="0" a="4"/></lane></left>
        <right><lane id="-1" type="driving"><link><predecessor id="-1"/></link><width sOffset="0" a="4"/></lane></right>
      </laneSection>
    </lanes>
  </road>
</OpenDRIVE>"#;
    Map::from_xml(xml, "t").unwrap()
}

fn lp(road: &str, lane: i32, s: f64, offset: f64) -> LanePosition {
    LanePosition {
        road_id: road.into(),
        lane_id: lane,
        s,
        offset,
    }
}

#[test]
fn straight_lane_centres_are_exact() {
    let m = test_map();
    // Lane -1: t = 0.5 - 1.75.
    let p = m.lane_pose(&lp("s", -1, 10.0, 0.0)).unwrap();
    assert!(
        (p.x - 20.0).abs() < 1e-9 && (p.y - (20.0 - 1.25)).abs() < 1e-9,
        "{p:?}"
    );
    assert!((p.z - 1.1).abs() < 1e-9);
    assert!(p.yaw.abs() < 1e-12);
    // Uphill along +s: nose up is negative pitch.
    assert!((p.pitch + 0.01f64.atan()).abs() < 1e-12);
    // Lane 1 runs the other way: t = 0.5 + 1.5.
    let p = m.lane_pose(&lp("s", 1, 50.0, 0.25)).unwrap();
    assert!(
        (p.x - 60.0).abs() < 1e-9 && (p.y - 22.25).abs() < 1e-9,
        "{p:?}"
    );
    assert!((p.yaw.abs() - PI).abs() < 1e-12);
    // Widening sidewalk: inner edge at 0.5 - 3.5 = -3.0, width 2 + 0.01 s.
    let p = m.lane_pose(&lp("s", -2, 40.0, 0.0)).unwrap();
    let w = 2.0 + 0.4;
    assert!((p.y - (20.0 - 3.0 - w / 2.0)).abs() < 1e-9, "{p:?}");
    // The centre line of a widening lane turns outwards.
    assert!((p.yaw - (-0.005f64).atan()).abs() < 1e-12, "{p:?}");
}

#[test]
fn arc_lane_centres_are_exact() {
    let m = test_map();
    // Circle centre (110, 70), radius 50; lane -1 centre at radius 52, lane 1
    // at radius 48.
    for i in 0..=10 {
        let s = 78.539_816_339_744_83 * i as f64 / 10.0;
        let th = s / 50.0;
        let p = m.lane_pose(&lp("a", -1, s, 0.0)).unwrap();
        let (x, y) = (110.0 + 52.0 * th.sin(), 70.0 - 52.0 * th.cos());
        assert!(
            (p.x - x).abs() < 1e-6 && (p.y - y).abs() < 1e-6,
            "s={s} {p:?}"
        );
        assert!((wrap_angle(p.yaw - th)).abs() < 1e-9);
        let p = m.lane_pose(&lp("a", 1, s, 0.0)).unwrap();
        let (x, y) = (110.0 + 48.0 * th.sin(), 70.0 - 48.0 * th.cos());
        assert!(
            (p.x - x).abs() < 1e-6 && (p.y - y).abs() < 1e-6,
            "s={s} {p:?}"
        );
        assert!((wrap_angle(p.yaw - th - PI)).abs() < 1e-9);
    }
    // Quarter circle end: (160, 70) for the reference line.
    let p = m
        .lane_pose(&lp("a", -1, 78.539_816_339_744_83, 1.0))
        .unwrap();
    assert!(
        (p.x - 161.0).abs() < 1e-6 && (p.y - 70.0).abs() < 1e-6,
        "{p:?}"
    );
}

#[test]
fn lane_pose_rejects_bad_queries() {
    let m = test_map();
    assert!(matches!(
        m.lane_pose(&lp("nope", -1, 1.0, 0.0)),
        Err(QueryError::UnknownRoad { .. })
    ));
    assert!(matches!(
        m.lane_pose(&lp("s", -3, 1.0, 0.0)),
        Err(QueryError::UnknownLane { lane: -3, .. })
    ));
    assert!(matches!(
        m.lane_pose(&lp("s", 0, 1.0, 0.0)),
        Err(QueryError::UnknownLane { lane: 0, .. })
    ));
    assert!(matches!(
        m.lane_pose(&lp("s", -1, 100.5, 0.0)),
        Err(QueryError::SOutOfRange { .. })
    ));
    assert!(matches!(
        m.lane_pose(&lp("s", -1, f64::NAN, 0.0)),
        Err(QueryError::NotFinite { field: "s" })
    ));
}

#[test]
fn locate_inverts_lane_pose() {
    let m = test_map();
    for (road, lane, s, off) in [
        ("s", -1, 10.0, 0.3),
        ("s", 1, 99.0, -1.0),
        ("s", -2, 50.0, 0.2),
        ("a", -1, 30.0, -1.5),
        ("a", 1, 70.0, 1.9),
        ("a", -1, 0.4, 0.0),
    ] {
        let p = m.lane_pose(&lp(road, lane, s, off)).unwrap();
        let loc = m
            .locate(Vec2::new(p.x, p.y))
            .unwrap_or_else(|| panic!("{road} {lane} {s}"));
        assert_eq!(m.roads()[loc.road].id, road);
        assert_eq!(loc.lane_id, lane);
        assert!((loc.s - s).abs() < 1e-6, "{loc:?}");
        assert!((loc.offset - off).abs() < 1e-6, "{loc:?}");
        assert!(wrap_angle(loc.heading - p.yaw).abs() < 1e-9);
    }
    let loc = m.locate(Vec2::new(50.0, 20.0 - 4.0)).unwrap();
    assert_eq!(loc.lane_type, LaneType::Sidewalk);
    assert!(m.locate(Vec2::new(50.0, 40.0)).is_none());
    assert!(m.locate(Vec2::new(-5.0, 20.0)).is_none());
}

#[test]
fn lane_graph_follows_driving_direction() {
    let m = test_map();
    let g = m.graph();
    let s = m.road_index("s").unwrap();
    let a = m.road_index("a").unwrap();
    let s_r = g.node_id(s, 0, -1).unwrap();
    let a_r = g.node_id(a, 0, -1).unwrap();
    let s_l = g.node_id(s, 0, 1).unwrap();
    let a_l = g.node_id(a, 0, 1).unwrap();
    assert_eq!(g.successors(s_r), &[a_r]);
    assert!(g.successors(a_r).is_empty());
    assert_eq!(g.successors(a_l), &[s_l]);
    assert_eq!(g.predecessors(s_l), &[a_l]);
    // Sidewalks are not in the graph.
    assert!(g.node_id(s, 0, -2).is_none());
    // Opposite lanes are not lateral neighbours.
    assert!(g.neighbours(s_r).is_empty());
    let arc_len = 52.0 * 78.539_816_339_744_83 / 50.0;
    assert!((g.node(a_r).length - arc_len).abs() < 0.05);
}

#[test]
fn routes_on_the_test_map() {
    let m = test_map();
    let start = m.lane_pose(&lp("s", -1, 5.0, 0.0)).unwrap();
    let end = m.lane_pose(&lp("a", -1, 60.0, 0.0)).unwrap();
    let r = m.plan_route(&[start.xy(), end.xy()], 1.0).unwrap();
    // 95 m straight, 60 m of reference arc at radius 52, and a 0.75 m
    // lateral step where the two roads' lanes do not line up.
    let want = 95.0 + 60.0 * 52.0 / 50.0 + (0.75f64.hypot(0.25) - 0.25);
    assert!((r.length - want).abs() < 0.05, "{} vs {want}", r.length);
    let n = r.points.len();
    for (i, w) in r.points.windows(2).enumerate() {
        let d = (w[1][0] - w[0][0]).hypot(w[1][1] - w[0][1]);
        // Chords are a metre of path, shorter only across the lateral step.
        if i + 2 < n && !(94..=96).contains(&i) {
            assert!((d - 1.0).abs() < 1e-3, "{i}: {d}");
        } else {
            assert!(d <= 1.0 + 1e-9);
        }
    }
    let last = r.points.last().unwrap();
    assert!((last[0] - end.x).abs() < 1e-6 && (last[1] - end.y).abs() < 1e-6);
    // Backwards along a one-way chain: no route.
    let err = m.plan_route(&[end.xy(), start.xy()], 1.0).unwrap_err();
    assert!(err.to_string().contains("no drivable route"), "{err}");
    // Far from any road.
    let err = m
        .plan_route(&[Vec2::new(0.0, -500.0), end.xy()], 1.0)
        .unwrap_err();
    assert!(err.to_string().contains("waypoint 0"), "{err}");
}

fn load(name: &str) -> Map {
    Map::from_file(&maps_dir().join(name)).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn loop_map_closed_form_and_cycle() {
    let m = load("atlas_loop.xodr");
    assert_eq!(m.roads().len(), 4);
    // East bend: centre (100, 30); lane -1 (right of a left turn) is the
    // outer lane, centre radius 30 + 1.75; lane 1 the inner, 30 - 1.75.
    let p = m.lane_pose(&lp("2", -1, 15.0 * PI, 0.0)).unwrap();
    assert!(
        (p.x - (100.0 + 31.75)).abs() < 1e-6 && (p.y - 30.0).abs() < 1e-6,
        "{p:?}"
    );
    assert!((p.yaw - PI / 2.0).abs() < 1e-9);
    let p = m.lane_pose(&lp("4", 1, 15.0 * PI, 0.0)).unwrap();
    assert!(
        (p.x - (0.0 - 28.25)).abs() < 1e-6 && (p.y - 30.0).abs() < 1e-6,
        "{p:?}"
    );
    assert!((p.yaw - PI / 2.0).abs() < 1e-9);
    // Following successors around the loop returns to the start.
    let g = m.graph();
    let start = g.node_id(m.road_index("1").unwrap(), 0, -1).unwrap();
    let mut n = start;
    let mut total = 0.0;
    for _ in 0..4 {
        assert_eq!(g.successors(n).len(), 1);
        n = g.successors(n)[0];
        total += g.node(n).length;
    }
    assert_eq!(n, start);
    let want = 200.0 + 2.0 * PI * 31.75;
    assert!((total - want).abs() < 0.1, "{total} vs {want}");
    // A route to a point just behind the start goes all the way around.
    let a = m.lane_pose(&lp("1", -1, 50.0, 0.0)).unwrap();
    let b = m.lane_pose(&lp("1", -1, 40.0, 0.0)).unwrap();
    let r = m.plan_route(&[a.xy(), b.xy()], 1.0).unwrap();
    assert!((r.length - (want - 10.0)).abs() < 0.5, "{}", r.length);
}

#[test]
fn loads_carla_towns() {
    for (name, junctions) in [("Town01.xodr", 12), ("Town02.xodr", 8)] {
        let m = load(name);
        assert_eq!(m.junction_count(), junctions, "{name}");
        let g = m.graph();
        let driving: usize = m
            .roads()
            .iter()
            .flat_map(|r| r.lane_sections.iter())
            .flat_map(|ls| ls.side_lanes())
            .filter(|l| l.kind == LaneType::Driving)
            .count();
        assert_eq!(g.nodes().len(), driving);
        assert!(driving > 80, "{name}: {driving}");
        for (i, n) in g.nodes().iter().enumerate() {
            assert!(
                !g.successors(i as u32).is_empty(),
                "{name}: road {} lane {} is a dead end",
                m.roads()[n.road].id,
                n.lane_id
            );
        }
        // Every lane centre locates back onto its own lane.
        for n in g.nodes().iter().step_by(7) {
            let p = n.points[n.points.len() / 2];
            let loc = m
                .locate_with_hint(
                    p.pos,
                    Some(LocateHint {
                        heading: p.heading,
                        road: Some(n.road),
                    }),
                )
                .unwrap();
            assert_eq!((loc.road, loc.lane_id), (n.road, n.lane_id));
        }
    }
}

#[test]
fn loads_alks_roads() {
    let mut n = 0;
    for e in std::fs::read_dir(maps_dir().join("alks")).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_some_and(|x| x == "xodr") {
            let m = Map::from_file(&path).unwrap_or_else(|e| panic!("{e}"));
            assert!(m.total_road_length() > 1000.0);
            n += 1;
        }
    }
    assert_eq!(n, 6);
}

#[test]
fn rejects_road_networks_wider_than_supported() {
    let road = |id: &str, x: f64, line_break: &str| {
        format!(
            r#"<road id="{id}" length="10" junction="-1">{line_break}<planView><geometry s="0" x="{x}" y="0" hdg="0" length="10"><line/></geometry></planView>
<lanes><laneSection s="0"><right><lane id="-1" type="driving"><width sOffset="0" a="3"/></lane></right></laneSection></lanes></road>"#
        )
    };
    let xml = format!(
        "<OpenDRIVE>\n{}\n{}\n</OpenDRIVE>",
        road("near", 0.0, ""),
        road("far", 500_000.0, "")
    );
    let err = Map::from_xml(&xml, "wide").unwrap_err().to_string();
    assert!(err.contains("road far") && err.contains("wide:4"), "{err}");
}

/// A quarter turn of radius 5 m with left lanes reaching past its centre
/// (lane 3's centre lies 7.5–8.3 m out), lane 2 widening.
const TIGHT: &str = r#"<OpenDRIVE>
  <header name="tight"/>
  <road id="t" length="7.853981633974483" junction="-1">
    <planView><geometry s="0" x="0" y="0" hdg="0" length="7.853981633974483"><arc curvature="0.2"/></geometry></planView>
    <lanes>
      <laneSection s="0">
        <left>
          <lane id="1" type="driving"><width sOffset="0" a="3"/></lane>
          <lane id="2" type="driving"><width sOffset="0" a="3" b="0.1"/></lane>
          <lane id="3" type="driving"><width sOffset="0" a="3"/></lane>
        </left>
        <right><lane id="-1" type="driving"><width sOffset="0" a="3"/></lane></right>
      </laneSection>
    </lanes>
  </road>
</OpenDRIVE>"#;

#[test]
fn lane_headings_on_a_tight_curve_never_flip() {
    let m = Map::from_xml(TIGHT, "tight").unwrap();
    for i in 0..=8 {
        let s = 0.5 + 6.8 * i as f64 / 8.0;
        let hdg = 0.2 * s;
        for lane in [-1, 1, 2, 3] {
            let p = m.lane_pose(&lp("t", lane, s, 0.0)).unwrap();
            // The direction of travel: along the reference line for lane -1,
            // against it for the left lanes, whichever side of the curve's
            // centre the lane lies on.
            let travel = if lane < 0 { hdg } else { hdg + PI };
            assert!(
                wrap_angle(p.yaw - travel).abs() < PI / 2.0,
                "lane {lane} at s {s}: yaw {} against {travel}",
                p.yaw
            );
            // The heading lies along the lane centre's true tangent line.
            let h = 1e-5;
            let a = m.lane_pose(&lp("t", lane, s - h, 0.0)).unwrap();
            let b = m.lane_pose(&lp("t", lane, s + h, 0.0)).unwrap();
            let tangent = (b.y - a.y).atan2(b.x - a.x);
            let off = wrap_angle(p.yaw - tangent);
            let off = off.abs().min(PI - off.abs());
            assert!(
                off < 1e-6,
                "lane {lane} at s {s}: {off} off the tangent line"
            );
        }
        // Lane 3 lies beyond the curve's centre (1 - κt < 0) and moves
        // outwards at 0.1 m/m as lane 2 widens: its heading is the
        // reference direction turned by atan2(-t', |1 - κt|), then reversed
        // for a left lane.
        let t = 3.0 + 3.0 + 0.1 * s + 1.5;
        let p = m.lane_pose(&lp("t", 3, s, 0.0)).unwrap();
        let expected = hdg + (-0.1f64).atan2(0.2 * t - 1.0) + PI;
        assert!(
            wrap_angle(p.yaw - expected).abs() < 1e-9,
            "{} {expected}",
            p.yaw
        );
        // locate() reports the same heading (on lane 1: beyond the curve's
        // centre the road folds over itself and a point has no unique
        // foot on the reference line).
        let p = m.lane_pose(&lp("t", 1, s, 0.0)).unwrap();
        let loc = m.locate(Vec2::new(p.x, p.y)).unwrap();
        assert_eq!(loc.lane_id, 1);
        assert!(wrap_angle(loc.heading - p.yaw).abs() < 1e-9);
    }
}

/// Lane -2 ends where the second section starts, written with the
/// round-off exporters leave (`2.0000000000000568`).
const BOUNDARY: &str = r#"<OpenDRIVE>
  <header name="boundary"/>
  <road id="b" length="10" junction="-1">
    <planView><geometry s="0" x="0" y="0" hdg="0" length="10"><line/></geometry></planView>
    <lanes>
      <laneSection s="0">
        <right>
          <lane id="-1" type="driving"><link><successor id="-1"/></link><width sOffset="0" a="3.5"/></lane>
          <lane id="-2" type="driving"><width sOffset="0" a="3.5"/></lane>
        </right>
      </laneSection>
      <laneSection s="2.0000000000000568">
        <right><lane id="-1" type="driving"><link><predecessor id="-1"/></link><width sOffset="0" a="3.5"/></lane></right>
      </laneSection>
    </lanes>
  </road>
</OpenDRIVE>"#;

#[test]
fn a_position_on_a_section_boundary_finds_its_lane() {
    let m = Map::from_xml(BOUNDARY, "boundary").unwrap();
    // At s = 2 lane -2 is at its very end (its section runs to
    // 2.0000000000000568).
    let p = m.lane_pose(&lp("b", -2, 2.0, 0.0)).unwrap();
    assert!(
        (p.x - 2.0).abs() < 1e-12 && (p.y + 5.25).abs() < 1e-12,
        "{p:?}"
    );
    let p = m.lane_pose(&lp("b", -1, 2.0, 0.0)).unwrap();
    assert!((p.y + 1.75).abs() < 1e-12, "{p:?}");
    // Past the boundary the lane has ended.
    assert!(matches!(
        m.lane_pose(&lp("b", -2, 2.001, 0.0)),
        Err(QueryError::UnknownLane { .. })
    ));
    // Both sides of the boundary locate.
    let loc = m.locate(Vec2::new(2.0, -5.25)).unwrap();
    assert_eq!((loc.lane_id, loc.section), (-2, 0));
    let loc = m.locate(Vec2::new(2.0, -1.75)).unwrap();
    assert_eq!(loc.lane_id, -1);
    let boundary = m.roads()[0].lane_sections[1].s;
    assert!(boundary > 2.0);
    assert_eq!(m.section_with_lane(0, boundary, -2), 0);
    assert_eq!(m.section_with_lane(0, 2.0, -1), 1);
}

/// Two roads; road 2 is a connecting road of junction 9.
const LINKED: &str = r#"<OpenDRIVE>
  <header name="linked"/>
  <road id="1" length="10" junction="-1">
    <link><successor elementType="junction" elementId="9"/></link>
    <planView><geometry s="0" x="0" y="0" hdg="0" length="10"><line/></geometry></planView>
    <lanes><laneSection s="0"><right><lane id="-1" type="driving"><width sOffset="0" a="3.5"/></lane></right></laneSection></lanes>
  </road>
  <road id="2" length="10" junction="9">
    <link><predecessor elementType="road" elementId="1" contactPoint="end"/></link>
    <planView><geometry s="0" x="10" y="0" hdg="0" length="10"><line/></geometry></planView>
    <lanes><laneSection s="0"><right><lane id="-1" type="driving"><link><predecessor id="-1"/></link><width sOffset="0" a="3.5"/></lane></right></laneSection></lanes>
  </road>
  <junction id="9" name="j">
    <connection id="0" incomingRoad="1" connectingRoad="2" contactPoint="start"><laneLink from="-1" to="-1"/></connection>
  </junction>
</OpenDRIVE>"#;

fn strict() -> LoadOptions {
    LoadOptions { strict: true }
}

#[test]
fn a_tidy_map_loads_without_warnings() {
    let m = Map::from_xml(LINKED, "linked").unwrap();
    assert!(m.warnings().is_empty(), "{:?}", m.warnings());
    assert!(Map::from_xml_with(LINKED, "linked", "linked.xodr", &strict()).is_ok());
    assert_eq!(m.graph().nodes().len(), 2);
}

#[test]
fn untidy_exports_load_with_warnings() {
    let cases = [
        // A SUMO export's link to a junction that is not in the file.
        (
            LINKED.replace(
                r#"elementType="junction" elementId="9""#,
                r#"elementType="junction" elementId="4""#,
            ),
            4,
            "successor",
            "road 1: links to unknown junction \"4\" (link ignored)",
        ),
        (
            LINKED.replace(
                r#"elementId="1" contactPoint="end""#,
                r#"elementId="17" contactPoint="end""#,
            ),
            9,
            "predecessor",
            "road 2: links to unknown road \"17\" (link ignored)",
        ),
        (
            LINKED.replace(r#"junction="9""#, r#"junction="5""#),
            8,
            "road",
            "road 2: belongs to unknown junction \"5\" (read as an ordinary road)",
        ),
        (
            LINKED.replace(r#"connectingRoad="2""#, r#"connectingRoad="3""#),
            14,
            "connection",
            "junction 9: connectingRoad \"3\" is not a road (connection ignored)",
        ),
        (
            LINKED.replace(r#"<road id="2""#, r#"<road id="1""#),
            8,
            "road",
            "duplicate road id \"1\": this definition is ignored",
        ),
        (
            LINKED.replace("</OpenDRIVE>", r#"<junction id="9"/></OpenDRIVE>"#),
            16,
            "junction",
            "duplicate junction id \"9\": this definition is ignored",
        ),
    ];
    for (xml, line, element, message) in cases {
        let m = Map::from_xml_with(&xml, "u", "maps/untidy.xodr", &LoadOptions::default())
            .unwrap_or_else(|e| panic!("{message}: {e}"));
        let w = m
            .warnings()
            .iter()
            .find(|w| w.message.contains(message))
            .unwrap_or_else(|| panic!("no warning {message:?} in {:?}", m.warnings()));
        assert_eq!(
            (w.file.as_str(), w.line, w.element.as_str()),
            ("maps/untidy.xodr", line, element)
        );
        assert_eq!(
            w.to_string(),
            format!("maps/untidy.xodr:{line}: <{element}>: {message}")
        );
        // Strict loading refuses the same map with the same words.
        let err = Map::from_xml_with(&xml, "u", "maps/untidy.xodr", &strict()).unwrap_err();
        assert_eq!(err.to_string(), w.to_string());
    }
    // The first of two roads with one id is the one kept.
    let xml = LINKED.replace(r#"<road id="2""#, r#"<road id="1""#);
    let m = Map::from_xml(&xml, "dup").unwrap();
    assert_eq!(m.roads().len(), 1);
    assert_eq!(m.roads()[0].plan_view[0].x, 0.0);
}

#[test]
fn unknown_elements_and_attributes_are_warned() {
    let xml = LINKED
        .replace(
            r#"<lane id="-1" type="driving"><width sOffset="0" a="3.5"/></lane></right></laneSection></lanes>
  </road>
  <road id="2""#,
            r#"<lane id="-1" type="driving"><width sOffset="0" a="3.5"/></lane><lnae id="-2" type="driving"/></right></laneSection></lanes>
  </road>
  <road id="2""#,
        )
        .replace(r#"<road id="1" length="10""#, r#"<road id="1" lenght="11" length="10""#);
    let m = Map::from_xml_with(&xml, "typo", "maps/typo.xodr", &LoadOptions::default()).unwrap();
    let text: Vec<String> = m.warnings().iter().map(ToString::to_string).collect();
    assert_eq!(
        text,
        [
            "maps/typo.xodr:3: <road>: unknown attribute `lenght` of <road> (ignored)",
            "maps/typo.xodr:6: <lnae>: unknown element <lnae> in <right> (ignored)",
        ],
        "{text:?}"
    );
    let err = Map::from_xml_with(&xml, "typo", "maps/typo.xodr", &strict()).unwrap_err();
    assert_eq!(err.to_string(), text[0]);
    assert_eq!(err.file(), "maps/typo.xodr");
}

#[test]
fn shipped_and_corpus_maps_load_without_warnings() {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut paths = vec![
        maps_dir().join("Town01.xodr"),
        maps_dir().join("Town02.xodr"),
        maps_dir().join("atlas_loop.xodr"),
        fixtures.join("esmini/fabriksgatan.xodr"),
        fixtures.join("esmini/soderleden.xodr"),
        fixtures.join("normalized_no_prange.xodr"),
    ];
    for e in std::fs::read_dir(maps_dir().join("alks")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "xodr") {
            paths.push(p);
        }
    }
    for p in paths {
        let m = Map::from_file_with(&p, &strict()).unwrap_or_else(|e| panic!("{e}"));
        assert!(m.warnings().is_empty());
    }
}

#[test]
fn sections_meeting_at_round_off_load_and_route_through() {
    // A section of round-off length (2.0 to 2.0000000000000568) between
    // two real ones, as exporters leave them.
    let xml = BOUNDARY.replace(
        r#"      <laneSection s="2.0000000000000568">"#,
        r#"      <laneSection s="2">
        <right><lane id="-1" type="driving"><link><predecessor id="-1"/><successor id="-1"/></link><width sOffset="0" a="3.5"/></lane></right>
      </laneSection>
      <laneSection s="2.0000000000000568">"#,
    );
    let m = Map::from_xml(&xml, "roundoff").unwrap();
    assert!(m.warnings().is_empty(), "{:?}", m.warnings());
    assert_eq!(m.roads()[0].lane_sections.len(), 3);
    let boundary = m.roads()[0].lane_sections[2].s;
    for s in [0.0, 1.0, 2.0, boundary, 3.0, 10.0] {
        let p = m.lane_pose(&lp("b", -1, s, 0.0)).unwrap();
        assert!(
            (p.x - s).abs() < 1e-12 && (p.y + 1.75).abs() < 1e-12,
            "{s}: {p:?}"
        );
        assert!(p.yaw.abs() < 1e-12);
    }
    assert!(m.lane_pose(&lp("b", -2, 2.0, 0.0)).is_ok());
    let r = m
        .plan_route(&[Vec2::new(0.5, -1.75), Vec2::new(9.5, -1.75)], 1.0)
        .unwrap();
    assert!((r.length - 9.0).abs() < 1e-6, "{}", r.length);
}
