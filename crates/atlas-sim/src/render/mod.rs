//! Software-rendered sensors.
//!
//! - [`raster`]: the map's top-down ground classes, tiled and built lazily,
//!   shared by every world on the map.
//! - [`camera`]: a pinhole RGB camera: sky, ground sampled from the raster
//!   by intersecting each pixel ray with the ground plane, and actors as
//!   shaded boxes with a depth buffer.
//! - [`birdseye`]: a semantic top-down raster centred on an actor, heading
//!   up.
//! - [`encode`]: JPEG / PNG / raw RGB8 output.

pub mod birdseye;
pub mod camera;
pub mod encode;
pub mod raster;

use crate::math::Vec2;
use crate::world::{ActorId, ActorKind};

/// An RGB8 image, row-major, no padding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

impl Image {
    pub fn new(width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            data: vec![0; width as usize * height as usize * 3],
        }
    }

    /// The pixel at column `x`, row `y`.
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let i = (y as usize * self.width as usize + x as usize) * 3;
        [self.data[i], self.data[i + 1], self.data[i + 2]]
    }

    #[inline]
    pub(crate) fn put(&mut self, x: usize, y: usize, c: [u8; 3]) {
        let i = (y * self.width as usize + x) * 3;
        self.data[i..i + 3].copy_from_slice(&c);
    }
}

/// An actor's box as the renderers see it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BoxShape {
    pub id: ActorId,
    pub kind: ActorKind,
    /// Centre of the footprint.
    pub centre: Vec2,
    /// Height of the bottom face.
    pub z0: f64,
    pub yaw: f64,
    pub length: f64,
    pub width: f64,
    pub height: f64,
}

impl BoxShape {
    /// Footprint corners, counter-clockwise from rear right.
    pub fn corners(&self) -> [Vec2; 4] {
        let ax = Vec2::from_angle(self.yaw);
        let l = ax * (0.5 * self.length);
        let w = ax.perp() * (0.5 * self.width);
        [
            self.centre - l - w,
            self.centre + l - w,
            self.centre + l + w,
            self.centre - l + w,
        ]
    }
}
