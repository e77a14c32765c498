//! atlas-bridge
