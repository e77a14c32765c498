//! atlas-rt
