//! The CARLA Leaderboard 2.0's vocabulary as types: a record's status and
//! its infraction categories. Code decides on these enums; the strings the
//! Leaderboard writes appear only where a record or an infraction is put on
//! the wire or into a results file.

/// Why a run failed, in the Leaderboard's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Failure {
    RouteDeviation,
    Blocked,
    Timeout,
    PolicyTerminated,
    /// The simulation ended (a storyboard, a step budget) before the route did.
    SimulationEnded,
}

/// A record's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RunStatus {
    /// Completed without an infraction.
    Perfect,
    Completed,
    Failed(Failure),
}

impl RunStatus {
    const ALL: [RunStatus; 7] = [
        RunStatus::Perfect,
        RunStatus::Completed,
        RunStatus::Failed(Failure::RouteDeviation),
        RunStatus::Failed(Failure::Blocked),
        RunStatus::Failed(Failure::Timeout),
        RunStatus::Failed(Failure::PolicyTerminated),
        RunStatus::Failed(Failure::SimulationEnded),
    ];

    /// The status as the Leaderboard writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Perfect => "Perfect",
            RunStatus::Completed => "Completed",
            RunStatus::Failed(Failure::RouteDeviation) => "Failed - Agent deviated from the route",
            RunStatus::Failed(Failure::Blocked) => "Failed - Agent got blocked",
            RunStatus::Failed(Failure::Timeout) => "Failed - Agent timed out",
            RunStatus::Failed(Failure::PolicyTerminated) => "Failed - Agent terminated the session",
            RunStatus::Failed(Failure::SimulationEnded) => {
                "Failed - Simulation ended before the route"
            }
        }
    }

    /// The status a record's string names, if it is one of these.
    pub fn parse(s: &str) -> Option<RunStatus> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether the route was completed (with or without infractions).
    pub fn completed(self) -> bool {
        matches!(self, RunStatus::Perfect | RunStatus::Completed)
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a record's status string says the route was completed.
pub fn completed(status: &str) -> bool {
    RunStatus::parse(status).is_some_and(RunStatus::completed)
}

/// An infraction category of a Leaderboard record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    CollisionsLayout,
    CollisionsPedestrian,
    CollisionsVehicle,
    RedLight,
    StopInfraction,
    OutsideRouteLanes,
    MinSpeedInfractions,
    YieldEmergencyVehicleInfractions,
    ScenarioTimeouts,
    RouteDev,
    VehicleBlocked,
    RouteTimeout,
}

impl Category {
    /// Every category, in the order of a Leaderboard record.
    pub const ALL: [Category; 12] = [
        Category::CollisionsLayout,
        Category::CollisionsPedestrian,
        Category::CollisionsVehicle,
        Category::RedLight,
        Category::StopInfraction,
        Category::OutsideRouteLanes,
        Category::MinSpeedInfractions,
        Category::YieldEmergencyVehicleInfractions,
        Category::ScenarioTimeouts,
        Category::RouteDev,
        Category::VehicleBlocked,
        Category::RouteTimeout,
    ];

    /// The key of the category in a Leaderboard record.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::CollisionsLayout => "collisions_layout",
            Category::CollisionsPedestrian => "collisions_pedestrian",
            Category::CollisionsVehicle => "collisions_vehicle",
            Category::RedLight => "red_light",
            Category::StopInfraction => "stop_infraction",
            Category::OutsideRouteLanes => "outside_route_lanes",
            Category::MinSpeedInfractions => "min_speed_infractions",
            Category::YieldEmergencyVehicleInfractions => "yield_emergency_vehicle_infractions",
            Category::ScenarioTimeouts => "scenario_timeouts",
            Category::RouteDev => "route_dev",
            Category::VehicleBlocked => "vehicle_blocked",
            Category::RouteTimeout => "route_timeout",
        }
    }

    /// The category a record key names.
    pub fn parse(s: &str) -> Option<Category> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl std::fmt::Display for Category {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_round_trip_and_are_the_leaderboard_s() {
        for s in RunStatus::ALL {
            assert_eq!(RunStatus::parse(s.as_str()), Some(s));
        }
        for c in Category::ALL {
            assert_eq!(Category::parse(c.as_str()), Some(c));
        }
        assert_eq!(Category::ALL[0].as_str(), "collisions_layout");
        assert_eq!(Category::ALL[11].as_str(), "route_timeout");
        assert!(completed("Perfect") && completed("Completed"));
        assert!(!completed("Failed - Agent timed out") && !completed("Completed!"));
        assert_eq!(
            RunStatus::parse("Failed - Agent got blocked"),
            Some(RunStatus::Failed(Failure::Blocked))
        );
    }
}
