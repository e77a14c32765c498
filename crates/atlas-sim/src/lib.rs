//! atlas-sim
