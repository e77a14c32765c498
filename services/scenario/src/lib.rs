//! atlas-scenario
