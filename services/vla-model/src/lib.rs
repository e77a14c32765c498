//! atlas-vla
