//! ASAM OpenSCENARIO 1.0–1.2 for ATLAS: a reader that resolves parameters,
//! expressions and catalogs into a [`model::Scenario`], and a storyboard
//! [`player::Player`] that moves the scenario's entities on an atlas-sim
//! [`Map`](atlas_sim::Map) with OpenSCENARIO's default-controller semantics.
//!
//! ```no_run
//! use std::sync::Arc;
//! let (sc, _files) = atlas_xosc::read_file(
//!     std::path::Path::new("cut_in.xosc"),
//!     &atlas_xosc::Options::default(),
//! )?;
//! let map = Arc::new(atlas_sim::Map::from_file(std::path::Path::new("maps/Town01.xodr"))?);
//! let mut player = atlas_xosc::Player::new(sc, map, Vec::new(), &[])?;
//! while !player.finished() && player.time() < 30.0 {
//!     player.update()?;
//!     player.advance(0.05)?;
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod check;
pub mod expr;
pub mod fuzzing;
pub mod model;
pub mod player;
pub mod position;
pub mod reader;
pub mod shapes;

pub use model::Scenario;
pub use player::{EntityState, Overrides, PlayError, Player};
pub use reader::{
    DiskFiles, FileSource, Loaded, MemoryFiles, Options, XoscError, normalise, read_file, read_str,
};
