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

use crate::map::Map;
use crate::map::signals::{LightState, SignalKind};
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
    /// Paint instead of the kind's colour (signal parts).
    pub colour: Option<[u8; 3]>,
    /// Self-lit (lamps): drawn without shading.
    pub lit: bool,
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

/// Lamp colours of lights, and the bird's-eye stop-line colours.
pub const LAMP_RED: [u8; 3] = [255, 30, 20];
pub const LAMP_YELLOW: [u8; 3] = [255, 200, 0];
pub const LAMP_GREEN: [u8; 3] = [40, 255, 90];
const HOUSING: [u8; 3] = [30, 30, 30];
const POLE: [u8; 3] = [90, 90, 95];
const SIGN_RED: [u8; 3] = [200, 16, 24];

fn part(centre: Vec2, yaw: f64, size: [f64; 3], z0: f64, colour: [u8; 3], lit: bool) -> BoxShape {
    BoxShape {
        id: 0,
        kind: ActorKind::Static,
        centre,
        z0,
        yaw,
        length: size[0],
        width: size[1],
        height: size[2],
        colour: Some(colour),
        lit,
    }
}

/// The colour a light shows in state `s`.
pub fn lamp_colour(s: LightState) -> Option<[u8; 3]> {
    match s {
        LightState::Red => Some(LAMP_RED),
        LightState::Yellow => Some(LAMP_YELLOW),
        LightState::Green => Some(LAMP_GREEN),
        LightState::Off => None,
    }
}

/// Signal posts as boxes for the camera at simulated time `time`: a pole,
/// a housing and the lit lamp (red on top, yellow in the middle, green at
/// the bottom) for lights; a pole and a red plate for signs.
pub fn signal_boxes(map: &Map, time: f64) -> Vec<BoxShape> {
    let sigs = map.signals();
    let mut out = Vec::with_capacity(sigs.len() * 3);
    for (i, sg) in sigs.all().iter().enumerate() {
        let [x, y, z] = sg.position;
        let base = map.elevation(sg.road, 0.0).min(z - 0.5);
        let c = Vec2::new(x, y);
        let fwd = Vec2::from_angle(sg.facing);
        match sg.kind {
            SignalKind::TrafficLight => {
                let bottom = z - 0.55;
                out.push(part(
                    c,
                    sg.facing,
                    [0.18, 0.18, bottom - base],
                    base,
                    POLE,
                    false,
                ));
                out.push(part(
                    c,
                    sg.facing,
                    [0.35, 0.45, 1.1],
                    bottom,
                    HOUSING,
                    false,
                ));
                if let Some(col) = lamp_colour(sigs.state(i, time)) {
                    let level = match sigs.state(i, time) {
                        LightState::Red => 0.35,
                        LightState::Yellow => 0.0,
                        _ => -0.35,
                    };
                    out.push(part(
                        c + fwd * 0.2,
                        sg.facing,
                        [0.08, 0.3, 0.3],
                        z + level - 0.15,
                        col,
                        true,
                    ));
                }
            }
            SignalKind::Stop | SignalKind::Yield => {
                out.push(part(c, sg.facing, [0.1, 0.1, 2.0], base, POLE, false));
                out.push(part(
                    c + fwd * 0.06,
                    sg.facing,
                    [0.04, 0.75, 0.75],
                    base + 2.0,
                    SIGN_RED,
                    false,
                ));
            }
        }
    }
    out
}

/// Stop lines as flat boxes for the bird's-eye raster, in the state's
/// colour (white for signs).
pub fn stop_line_boxes(map: &Map, time: f64) -> Vec<BoxShape> {
    let sigs = map.signals();
    let mut out = Vec::new();
    for (i, sg) in sigs.all().iter().enumerate() {
        let col = lamp_colour(sigs.state(i, time)).unwrap_or([255, 255, 255]);
        for st in &sg.stop_lines {
            out.push(part(
                st.pos,
                st.heading,
                [0.6, st.width.max(0.5), 0.02],
                0.0,
                col,
                true,
            ));
        }
    }
    out
}
