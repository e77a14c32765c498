//! Bridge configuration: command-line flags with matching environment
//! variables, shared by the `atlas-bridge` binary and the `atlas` CLI that
//! runs the bridge in-process.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::BridgeError;

#[derive(clap::Args, Clone, Debug)]
pub struct Config {
    /// Address to listen on (used by the binary; `serve` takes a bound
    /// listener).
    #[arg(long, env = "ATLAS_BRIDGE_LISTEN", default_value = "0.0.0.0:50052")]
    pub listen: SocketAddr,

    /// Directory of OpenDRIVE maps (`*.xodr`, searched recursively); a map's
    /// name is its path below the directory without the extension, e.g.
    /// `Town01` or `alks/alks_road_straight`.
    #[arg(long, env = "ATLAS_MAPS_DIR", default_value = "maps")]
    pub maps_dir: PathBuf,

    /// Maps parsed at start-up, before the bridge reports SERVING (comma
    /// separated). Names missing from the maps directory are skipped; when
    /// none is present the first map of the directory is used instead.
    #[arg(
        long,
        env = "ATLAS_WARM_MAPS",
        value_delimiter = ',',
        default_value = "Town01"
    )]
    pub warm_maps: Vec<String>,

    /// Most worlds alive at once; further `CreateWorld` calls get
    /// RESOURCE_EXHAUSTED.
    #[arg(long, env = "ATLAS_MAX_WORLDS", default_value_t = 64)]
    pub max_worlds: usize,

    /// Most actors per world; further `SpawnActor` calls get
    /// RESOURCE_EXHAUSTED.
    #[arg(long, env = "ATLAS_MAX_ACTORS", default_value_t = 1000)]
    pub max_actors: usize,

    /// Most fixed steps one `Step` call may ask for.
    #[arg(long, env = "ATLAS_MAX_STEPS_PER_CALL", default_value_t = 1000)]
    pub max_steps_per_call: u32,

    /// Seconds in-flight calls may take to finish after SIGTERM/SIGINT.
    #[arg(long, env = "ATLAS_GRACE_PERIOD_S", default_value_t = 10.0)]
    pub grace_period_s: f64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 50052)),
            maps_dir: PathBuf::from("maps"),
            warm_maps: vec!["Town01".to_owned()],
            max_worlds: 64,
            max_actors: 1000,
            max_steps_per_call: 1000,
            grace_period_s: 10.0,
        }
    }
}

impl Config {
    /// Checks the values flags cannot check by type.
    pub fn validate(&self) -> Result<(), BridgeError> {
        let bad = |field: &str, message: String| {
            Err(BridgeError::Config {
                field: field.to_owned(),
                message,
            })
        };
        if self.max_worlds == 0 {
            return bad("max_worlds", "must be at least 1".into());
        }
        if self.max_actors == 0 {
            return bad("max_actors", "must be at least 1".into());
        }
        if self.max_steps_per_call == 0 {
            return bad("max_steps_per_call", "must be at least 1".into());
        }
        if let Err(message) = atlas_rt::serve::grace_period(self.grace_period_s) {
            return bad("grace_period_s", message);
        }
        Ok(())
    }

    pub fn grace_period(&self) -> Duration {
        Duration::from_secs_f64(self.grace_period_s.max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        config: Config,
    }

    #[test]
    fn defaults_match_flags() {
        let c = Cli::try_parse_from(["atlas-bridge"]).unwrap().config;
        let d = Config::default();
        assert_eq!(c.listen, d.listen);
        assert_eq!(c.maps_dir, d.maps_dir);
        assert_eq!(c.warm_maps, d.warm_maps);
        assert_eq!(c.max_worlds, d.max_worlds);
        assert_eq!(c.max_steps_per_call, d.max_steps_per_call);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn flags_parse_and_validate() {
        let c = Cli::try_parse_from([
            "atlas-bridge",
            "--listen",
            "127.0.0.1:0",
            "--warm-maps",
            "Town01,Town02",
            "--max-worlds",
            "0",
        ])
        .unwrap()
        .config;
        assert_eq!(c.warm_maps, vec!["Town01", "Town02"]);
        assert!(c.validate().unwrap_err().to_string().contains("max_worlds"));
    }
}
