//! Software rendering of sensors.

pub mod raster;
