//! Bodies of the readers' fuzz targets, shared by the cargo-fuzz targets in
//! `fuzz/` and the seed-corpus test, so both exercise the same code.

/// Reads `data` as a Leaderboard route file and, when it is one, turns every
/// route into a scenario. Must never panic, whatever the input.
pub fn exercise_routes(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = crate::routes::is_route_file(text);
    let Ok(file) = crate::routes::parse(text, "fuzz.xml") else {
        return;
    };
    for r in &file.routes {
        let sc = r.to_scenario("fuzz.xml");
        assert!(!sc.route.waypoints.is_empty());
        let _ = r.scenario_records();
        let _ = r.warnings();
        let _ = file.route(&r.id);
    }
}

/// Reads `data` as a native TOML scenario. Must never panic.
pub fn exercise_toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(sc) = crate::scenario::parse(text, "fuzz.toml", None) {
        assert!(!sc.route.waypoints.is_empty());
    }
}
