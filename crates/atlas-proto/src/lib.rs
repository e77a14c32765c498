//! Generated gRPC code for every contract ATLAS speaks.
//!
//! - [`egodriver`], [`common`] and [`sensorsim`]: the AlpaSim driver contract
//!   (wire compatible with AlpaSim and carla-driver-interface).
//! - [`sim`]: `atlas.sim.v1`, the simulator bridge.
//! - [`scenario`]: `atlas.scenario.v1`, the scenario runtime.
//! - [`reason`]: machine-readable error reasons on statuses.
//! - [`leaderboard`]: record statuses and infraction categories as enums.
//! - [`wire`]: [`atlas_geometry`] poses to and from the wire types.
//!
//! The protos live in `<workspace>/proto`; `build.rs` compiles them with
//! protox, so no `protoc` is needed.

#![allow(clippy::doc_overindented_list_items, clippy::large_enum_variant)]

pub mod leaderboard;
pub mod reason;
pub mod wire;

/// Package `common` of the AlpaSim contract.
pub mod common {
    tonic::include_proto!("common");
}

/// Package `egodriver` of the AlpaSim contract.
pub mod egodriver {
    tonic::include_proto!("egodriver");
}

/// Package `nre.grpc.protos.sensorsim` (camera declarations only).
pub mod nre {
    pub mod grpc {
        pub mod protos {
            pub mod sensorsim {
                tonic::include_proto!("nre.grpc.protos.sensorsim");
            }
        }
    }
}
pub use nre::grpc::protos::sensorsim;

/// `atlas.sim.v1`, the simulator bridge contract.
pub mod sim {
    tonic::include_proto!("atlas.sim.v1");
}

/// `atlas.scenario.v1`, the scenario runtime contract.
pub mod scenario {
    tonic::include_proto!("atlas.scenario.v1");
}

/// The AlpaSim `alpasim_grpc` API version this contract was written from.
pub const EGODRIVER_API_VERSION: (u32, u32, u32) = (0, 55, 0);

/// Response-header name of carla-driver-interface's contract revision.
pub const CONTRACT_REVISION_HEADER: &str = "carla-driver-interface-contract";

/// The contract revision ATLAS speaks: camera mounts are optical-frame poses.
pub const CONTRACT_REVISION: &str = "2";
