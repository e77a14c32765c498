//! `atlas-loop`: the one closed control loop of ATLAS and its two ports.
//!
//! Every run kind — a native scenario, a Leaderboard route, an OpenSCENARIO
//! storyboard — and `atlas bench` and demonstration collection step a
//! world, hand the snapshot to a driver and apply the control it returns.
//! [`ClosedLoop`] is that loop, once; what differs is behind its edges:
//!
//! - a [`WorldPort`] steps a world: [`BridgeWorld`] over `atlas.sim.v1`
//!   (whatever simulator backend the bridge runs), [`InProcessWorld`] on an
//!   `atlas_sim` world in this process;
//! - a [`DriverPort`] turns a snapshot into the ego's next control:
//!   [`EgodriverPolicy`] over AlpaSim's egodriver contract, followed by the
//!   runtime's [`Controller`]; a privileged expert or the network in
//!   process for training;
//! - [`Hooks`] are the run kind: its commands (scripted actors), what it
//!   observes of each step (criteria, storyboard triggers, timing) and what
//!   the driver is told of the route.
//!
//! # Layout
//!
//! - [`closed_loop`]: the loop and its traits (unit-tested with fakes).
//! - [`controller`]: pure pursuit and speed PID.
//! - [`camera`]: the camera the runtime declares and renders.
//! - [`bridge`], [`egodriver`]: the gRPC ports.
//! - [`inprocess`]: the in-process world port.
//! - [`error`]: the ports' error.

pub mod bridge;
pub mod camera;
pub mod closed_loop;
pub mod controller;
pub mod egodriver;
pub mod error;
pub mod inprocess;

pub use bridge::{BridgeWorld, SimClient, ego_command, ego_state, sim_client};
pub use closed_loop::{ClosedLoop, DriverPort, End, Flow, Hooks, WorldPort};
pub use controller::{Control, Controller, ControllerConfig, Plan};
pub use egodriver::{DriverClient, EgodriverPolicy, PhaseTimes, RouteView, driver_client};
pub use error::Error;
pub use inprocess::{InProcessSnapshot, InProcessWorld};
