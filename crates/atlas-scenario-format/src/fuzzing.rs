//! Bodies of the readers' fuzz targets, shared by the cargo-fuzz targets in
//! `fuzz/` and the seed-corpus test, so both exercise the same code.

use crate::{Format, Options, ScenarioSource, Sent};

/// Reads `data` as a Leaderboard route file and, when it is one, turns every
/// route into a scenario and reads it again sent alone. Must never panic,
/// whatever the input.
pub fn exercise_routes(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Format::detect("fuzz", text);
    let Ok(file) = crate::routes::parse(text, "fuzz.xml") else {
        return;
    };
    for r in &file.routes {
        let sc = r.to_scenario("fuzz.xml");
        assert!(!sc.route.waypoints.is_empty());
        let _ = r.scenarios.iter().filter(|s| s.supported()).count();
        let _ = r.warnings();
        let _ = file.route(&r.id);
        // A route sent alone reads back as itself.
        let (alone, first_line) = r.alone(text);
        let sent = Sent {
            file: "fuzz.xml",
            text: &alone,
            files: &[],
            first_line,
        };
        match crate::read(&sent, Options::default()) {
            Ok(ScenarioSource::Routes(one)) => {
                assert_eq!(one.routes.len(), 1);
                let back = &one.routes[0];
                assert_eq!(back.line, r.line);
                assert_eq!(back.positions, r.positions);
                assert_eq!(back.scenarios, r.scenarios);
            }
            Ok(other) => panic!("a route sent alone read as {:?}", other.format()),
            Err(e) => panic!("route {} sent alone: {e}", r.id),
        }
    }
}

/// Reads `data` as a native TOML scenario. Must never panic.
pub fn exercise_toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Format::detect("fuzz", text);
    if let Ok(sc) = crate::native::parse(text, "fuzz.toml", None) {
        assert!(!sc.route.waypoints.is_empty());
    }
}
