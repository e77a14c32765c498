//! ScenarioRunner-style pass criteria (`criteria_*`), answered from the
//! evaluator's state at the end of a run.

use super::{Category, Evaluator};

/// The result of one ScenarioRunner-style pass criterion.
#[derive(Clone, Debug, PartialEq)]
pub struct CriterionResult {
    /// The criterion as named in the file, e.g. `criteria_CollisionTest`.
    pub name: String,
    /// None when the criterion is not known (or needs a value it lacks).
    pub passed: Option<bool>,
    /// What was measured, in the criterion's units, and why it failed.
    pub detail: String,
}

/// Answers ScenarioRunner pass criteria (`criteria_<Name>`, from StopTrigger
/// ParameterConditions; `value` is the condition's value, used as the limit
/// of MaxVelocityTest, DrivenDistanceTest and AverageVelocityTest) from the
/// evaluator's state at the end of a run (after [`Evaluator::finish`]).
pub fn pass_criteria(ev: &Evaluator, criteria: &[(String, String)]) -> Vec<CriterionResult> {
    let count = |cat: Category| {
        ev.infractions()
            .iter()
            .filter(|i| i.category == cat.as_str())
            .count()
    };
    let none = |cats: &[Category]| -> (bool, String) {
        let n: usize = cats.iter().map(|&c| count(c)).sum();
        (n == 0, format!("{n} event(s)"))
    };
    let st = ev.stats();
    criteria
        .iter()
        .map(|(name, value)| {
            let bare = name.strip_prefix("criteria_").unwrap_or(name);
            let limit = value.trim().parse::<f64>().ok();
            let res: Option<(bool, String)> = match bare {
                "CollisionTest" => Some(none(&[
                    Category::CollisionsLayout,
                    Category::CollisionsPedestrian,
                    Category::CollisionsVehicle,
                ])),
                "RouteCompletionTest" => Some((
                    ev.completed,
                    format!("{:.1}% of the route", ev.completion()),
                )),
                "InRouteTest" => Some(none(&[Category::RouteDev])),
                "OutsideRouteLanesTest" => Some((
                    st.outside_m <= 0.0,
                    format!("{:.2}% outside the route lanes", ev.outside_lanes_pct()),
                )),
                "RunningRedLightTest" => Some(none(&[Category::RedLight])),
                "RunningStopTest" => Some(none(&[Category::StopInfraction])),
                "ActorBlockedTest" => Some(none(&[Category::VehicleBlocked])),
                "MinimumSpeedRouteTest" => Some(none(&[Category::MinSpeedInfractions])),
                "ScenarioTimeoutTest" => Some(none(&[Category::ScenarioTimeouts])),
                "YieldToEmergencyVehicleTest" => {
                    Some(none(&[Category::YieldEmergencyVehicleInfractions]))
                }
                "KeepLaneTest" => Some((
                    st.lane_invasions == 0,
                    format!("{} lane invasion(s)", st.lane_invasions),
                )),
                "OffRoadTest" => Some((!st.off_road, format!("off road: {}", st.off_road))),
                "OnSidewalkTest" => Some((
                    !st.on_sidewalk,
                    format!("on a sidewalk: {}", st.on_sidewalk),
                )),
                "WrongLaneTest" => Some((
                    st.wrong_lane_m <= 0.0,
                    format!(
                        "{:.1} m in lanes of the opposite direction",
                        st.wrong_lane_m
                    ),
                )),
                "MaxVelocityTest" => limit.map(|v| {
                    (
                        st.max_speed <= v,
                        format!("max speed {:.2} m/s (limit {v})", st.max_speed),
                    )
                }),
                "DrivenDistanceTest" => limit.map(|v| {
                    (
                        st.driven_m >= v,
                        format!("drove {:.1} m (needs {v})", st.driven_m),
                    )
                }),
                "AverageVelocityTest" => limit.map(|v| {
                    let dt = st.last_time - st.first_time.unwrap_or(st.last_time);
                    let avg = if dt > 0.0 { st.driven_m / dt } else { 0.0 };
                    (avg >= v, format!("average {avg:.2} m/s (needs {v})"))
                }),
                _ => None,
            };
            match res {
                Some((passed, detail)) => CriterionResult {
                    name: name.clone(),
                    passed: Some(passed),
                    detail,
                },
                None => CriterionResult {
                    name: name.clone(),
                    passed: None,
                    detail: if matches!(
                        bare,
                        "MaxVelocityTest" | "DrivenDistanceTest" | "AverageVelocityTest"
                    ) {
                        format!("{bare} needs a numeric value, got {value:?}")
                    } else {
                        format!("unknown criterion {bare}")
                    },
                },
            }
        })
        .collect()
}
