//! The bird's-eye semantic raster: a top-down view centred on an actor's
//! rig, heading up, one flat colour per class (CARLA's semantic palette
//! where it has one).

use super::raster::{Ground, RESOLUTION, fill_polygon};
use super::{BoxShape, Image};
use crate::error::WorldError;
use crate::map::Map;
use crate::math::{Pose, Vec2};
use crate::world::{ActorId, ActorKind};

/// Size and scale of a bird's-eye raster.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BirdsEyeSpec {
    pub width: u32,
    pub height: u32,
    pub metres_per_pixel: f64,
}

/// Class colours.
pub const TERRAIN: [u8; 3] = [0, 0, 0];
pub const ROAD: [u8; 3] = [128, 64, 128];
pub const SIDEWALK: [u8; 3] = [244, 35, 232];
pub const OTHER_GROUND: [u8; 3] = [81, 0, 81];
pub const LANE_MARKING: [u8; 3] = [157, 234, 50];
pub const VEHICLE: [u8; 3] = [0, 0, 142];
pub const PEDESTRIAN: [u8; 3] = [220, 20, 60];
pub const STATIC: [u8; 3] = [190, 153, 153];
pub const EGO: [u8; 3] = [255, 200, 0];

fn class_colour(g: Ground) -> [u8; 3] {
    match g {
        Ground::Terrain => TERRAIN,
        Ground::Road | Ground::Parking => ROAD,
        Ground::Sidewalk | Ground::Curb => SIDEWALK,
        Ground::Shoulder => OTHER_GROUND,
        Ground::WhiteMarking | Ground::YellowMarking => LANE_MARKING,
    }
}

fn priority(g: Ground) -> u8 {
    match g {
        Ground::Terrain => 0,
        Ground::Shoulder => 1,
        Ground::Curb => 2,
        Ground::Sidewalk => 3,
        Ground::Parking => 4,
        Ground::Road => 5,
        Ground::WhiteMarking | Ground::YellowMarking => 6,
    }
}

impl BirdsEyeSpec {
    pub fn validate(&self) -> Result<(), WorldError> {
        let max = super::camera::MAX_SIDE;
        if self.width == 0 || self.height == 0 || self.width > max || self.height > max {
            return Err(WorldError::invalid(
                "birds_eye.width",
                format!(
                    "image size {}x{} must be between 1x1 and {max}x{max}",
                    self.width, self.height
                ),
            ));
        }
        if !self.metres_per_pixel.is_finite()
            || self.metres_per_pixel <= 0.0
            || self.metres_per_pixel > 10.0
        {
            return Err(WorldError::invalid(
                "birds_eye.metres_per_pixel",
                format!("must be in (0, 10], got {}", self.metres_per_pixel),
            ));
        }
        Ok(())
    }

    /// Renders the view around `centre` (heading up); `ego`'s box is drawn
    /// in the ego colour.
    pub fn render(&self, map: &Map, centre: &Pose, boxes: &[BoxShape], ego: ActorId) -> Image {
        let (w, h) = (self.width as usize, self.height as usize);
        let mut img = Image::new(self.width, self.height);
        let m = self.metres_per_pixel;
        let fwd = Vec2::from_angle(centre.yaw);
        let left = fwd.perp();
        let c = centre.xy();
        let raster = map.raster();
        // Pixels coarser than the raster look at several raster cells and
        // keep the most telling class, so thin markings survive.
        let k = ((m / RESOLUTION).round() as usize).clamp(1, 4);
        let sub = m / k as f64;
        for row in 0..h {
            let ahead = (0.5 * h as f64 - row as f64 - 0.5) * m;
            for col in 0..w {
                let right = (col as f64 + 0.5 - 0.5 * w as f64) * m;
                let mut best = Ground::Terrain;
                for i in 0..k {
                    for j in 0..k {
                        let da = ahead + (i as f64 + 0.5 - 0.5 * k as f64) * sub;
                        let dr = right + (j as f64 + 0.5 - 0.5 * k as f64) * sub;
                        let g = raster.class_at(map, c + fwd * da - left * dr);
                        if priority(g) > priority(best) {
                            best = g;
                        }
                    }
                }
                img.put(col, row, class_colour(best));
            }
        }
        // World → pixel (column, row) coordinates.
        let to_px = |p: Vec2| {
            let d = p - c;
            Vec2::new(
                0.5 * w as f64 - d.dot(left) / m,
                0.5 * h as f64 - d.dot(fwd) / m,
            )
        };
        for b in boxes {
            let colour = if let Some(c) = b.colour {
                c
            } else if b.id == ego {
                EGO
            } else {
                match b.kind {
                    ActorKind::Vehicle => VEHICLE,
                    ActorKind::Pedestrian => PEDESTRIAN,
                    ActorKind::Static => STATIC,
                }
            };
            let pts: Vec<Vec2> = b.corners().iter().map(|&p| to_px(p)).collect();
            fill_polygon(
                &pts,
                w,
                h,
                |x, y| img.put(x, y, colour),
                Vec2::default(),
                1.0,
            );
        }
        img
    }
}
