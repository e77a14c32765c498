//! The top-down class raster of a map: what the ground looks like at every
//! point (road, sidewalk, lane marking, …) at [`RESOLUTION`] metres per
//! cell.
//!
//! The raster is cut into square tiles that are rasterised from the lane
//! geometry the first time anything samples them, so a 10 km motorway costs
//! only the tiles a camera actually looks at. Tiles sit in `OnceLock`s: the
//! raster is shared (inside the `Arc<Map>`) by every world and thread.

use std::sync::OnceLock;

use crate::map::Map;
use crate::map::index::Aabb;
use crate::math::{Vec2, eval_piecewise};
use crate::opendrive::{LaneType, RoadMarkColor, RoadMarkType};

/// Metres per raster cell.
pub const RESOLUTION: f64 = 0.1;
/// Cells per tile side.
const TILE: usize = 128;
/// Length of a dash and of the gap after it for broken lines, metres.
const DASH: f64 = 3.0;
const GAP: f64 = 6.0;

/// Ground classes stored in the raster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Ground {
    /// Off the road network (terrain).
    Terrain = 0,
    /// A drivable lane.
    Road = 1,
    Sidewalk = 2,
    /// Shoulders, borders, medians and other lanes nobody drives in.
    Shoulder = 3,
    Parking = 4,
    WhiteMarking = 5,
    YellowMarking = 6,
    Curb = 7,
}

impl Ground {
    pub fn from_u8(v: u8) -> Self {
        match v {
            1 => Self::Road,
            2 => Self::Sidewalk,
            3 => Self::Shoulder,
            4 => Self::Parking,
            5 => Self::WhiteMarking,
            6 => Self::YellowMarking,
            7 => Self::Curb,
            _ => Self::Terrain,
        }
    }

    fn of_lane(kind: &LaneType) -> Self {
        if kind.is_drivable() {
            Self::Road
        } else if kind.is_walkable() {
            Self::Sidewalk
        } else if *kind == LaneType::Parking {
            Self::Parking
        } else if *kind == LaneType::Curb {
            Self::Curb
        } else if *kind == LaneType::None {
            Self::Terrain
        } else {
            Self::Shoulder
        }
    }
}

/// The last tile a run of [`GroundRaster::raw_at_cached`] lookups used.
pub(crate) struct TileCache<'a> {
    key: (usize, usize),
    tile: Option<&'a [u8]>,
}

impl Default for TileCache<'_> {
    fn default() -> Self {
        Self {
            key: (usize::MAX, usize::MAX),
            tile: None,
        }
    }
}

/// Tiles per side of a block; only blocks that roads touch are allocated.
const BLOCK: usize = 64;

type Tile = OnceLock<Option<Box<[u8]>>>;

/// The lazily tiled class raster of one map: a grid of blocks of tiles,
/// allocated only where roads are, so sparse wide maps stay small.
pub struct GroundRaster {
    origin: Vec2,
    tiles_x: usize,
    tiles_y: usize,
    blocks_x: usize,
    blocks: Vec<Option<Box<[Tile]>>>,
}

impl std::fmt::Debug for GroundRaster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroundRaster")
            .field("tiles_x", &self.tiles_x)
            .field("tiles_y", &self.tiles_y)
            .field(
                "blocks",
                &self.blocks.iter().filter(|b| b.is_some()).count(),
            )
            .finish()
    }
}

impl GroundRaster {
    pub(crate) fn new(map: &Map) -> Self {
        let b = map.index.bounds;
        let tile_m = TILE as f64 * RESOLUTION;
        let tiles_x = ((b.max.x - b.min.x) / tile_m).floor() as usize + 1;
        let tiles_y = ((b.max.y - b.min.y) / tile_m).floor() as usize + 1;
        let blocks_x = tiles_x.div_ceil(BLOCK);
        let blocks_y = tiles_y.div_ceil(BLOCK);
        let block_m = tile_m * BLOCK as f64;
        let mut used = vec![false; blocks_x * blocks_y];
        for bx in &map.index.boxes {
            let x0 = ((bx.min.x - b.min.x) / block_m).floor().max(0.0) as usize;
            let y0 = ((bx.min.y - b.min.y) / block_m).floor().max(0.0) as usize;
            let x1 = (((bx.max.x - b.min.x) / block_m).floor().max(0.0) as usize).min(blocks_x - 1);
            let y1 = (((bx.max.y - b.min.y) / block_m).floor().max(0.0) as usize).min(blocks_y - 1);
            for y in y0..=y1 {
                for x in x0..=x1 {
                    used[y * blocks_x + x] = true;
                }
            }
        }
        Self {
            origin: b.min,
            tiles_x,
            tiles_y,
            blocks_x,
            blocks: used
                .into_iter()
                .map(|u| u.then(|| (0..BLOCK * BLOCK).map(|_| OnceLock::new()).collect()))
                .collect(),
        }
    }

    /// The ground class at world point `p`.
    #[inline]
    pub fn class_at(&self, map: &Map, p: Vec2) -> Ground {
        Ground::from_u8(self.raw_at(map, p))
    }

    /// The raw class byte at `p` (see [`Ground`]).
    #[inline]
    pub fn raw_at(&self, map: &Map, p: Vec2) -> u8 {
        let fx = (p.x - self.origin.x) / RESOLUTION;
        let fy = (p.y - self.origin.y) / RESOLUTION;
        if !(fx >= 0.0 && fy >= 0.0) {
            return 0;
        }
        let (cx, cy) = (fx as usize, fy as usize);
        let (tx, ty) = (cx / TILE, cy / TILE);
        if tx >= self.tiles_x || ty >= self.tiles_y {
            return 0;
        }
        match self.tile(map, tx, ty) {
            Some(t) => t[(cy % TILE) * TILE + cx % TILE],
            None => 0,
        }
    }

    /// As [`GroundRaster::raw_at`], remembering the last tile used in
    /// `cache` so runs of nearby lookups (an image row) skip the tile
    /// search.
    #[inline]
    pub(crate) fn raw_at_cached<'a>(&'a self, map: &Map, p: Vec2, cache: &mut TileCache<'a>) -> u8 {
        let fx = (p.x - self.origin.x) * (1.0 / RESOLUTION);
        let fy = (p.y - self.origin.y) * (1.0 / RESOLUTION);
        if !(fx >= 0.0 && fy >= 0.0) {
            return 0;
        }
        let (cx, cy) = (fx as usize, fy as usize);
        let (tx, ty) = (cx / TILE, cy / TILE);
        if tx >= self.tiles_x || ty >= self.tiles_y {
            return 0;
        }
        if cache.key != (tx, ty) {
            cache.key = (tx, ty);
            cache.tile = self.tile(map, tx, ty);
        }
        match cache.tile {
            Some(t) => t[(cy % TILE) * TILE + cx % TILE],
            None => 0,
        }
    }

    /// Class bytes at `start + i·step` for every `i` of `out`: one image
    /// row of a level camera, whose ground hits are evenly spaced. Steps in
    /// 48.16 fixed point, so a pixel costs integer adds and one table read.
    pub(crate) fn sample_row(&self, map: &Map, start: Vec2, step: Vec2, out: &mut [u8]) {
        const ONE: f64 = 65536.0;
        let scale = ONE / RESOLUTION;
        let fx0 = (start.x - self.origin.x) * scale;
        let fy0 = (start.y - self.origin.y) * scale;
        let (dfx, dfy) = (step.x * scale, step.y * scale);
        let n = out.len() as f64;
        let ok = |a: f64, d: f64| a.abs() < 1e15 && (a + d * n).abs() < 1e15;
        if !(ok(fx0, dfx) && ok(fy0, dfy)) {
            // Far off the map (or not finite): the plain lookup.
            for (i, o) in out.iter_mut().enumerate() {
                *o = self.raw_at(map, start + step * i as f64);
            }
            return;
        }
        let (mut fx, mut fy) = (fx0 as i64, fy0 as i64);
        let (dx, dy) = (dfx as i64, dfy as i64);
        let mut cache = TileCache::default();
        for o in out.iter_mut() {
            *o = if fx < 0 || fy < 0 {
                0
            } else {
                let (cx, cy) = ((fx >> 16) as usize, (fy >> 16) as usize);
                let (tx, ty) = (cx / TILE, cy / TILE);
                if tx >= self.tiles_x || ty >= self.tiles_y {
                    0
                } else {
                    if cache.key != (tx, ty) {
                        cache.key = (tx, ty);
                        cache.tile = self.tile(map, tx, ty);
                    }
                    match cache.tile {
                        Some(t) => t[(cy % TILE) * TILE + cx % TILE],
                        None => 0,
                    }
                }
            };
            fx += dx;
            fy += dy;
        }
    }

    fn tile(&self, map: &Map, tx: usize, ty: usize) -> Option<&[u8]> {
        let block = self.blocks[(ty / BLOCK) * self.blocks_x + tx / BLOCK].as_ref()?;
        block[(ty % BLOCK) * BLOCK + tx % BLOCK]
            .get_or_init(|| self.build_tile(map, tx, ty))
            .as_deref()
    }

    /// Rasterises every tile near a road now (e.g. while a service warms
    /// up).
    pub fn build_all(&self, map: &Map) {
        for ty in 0..self.tiles_y {
            for tx in 0..self.tiles_x {
                if self.blocks[(ty / BLOCK) * self.blocks_x + tx / BLOCK].is_some() {
                    self.tile(map, tx, ty);
                }
            }
        }
    }

    fn build_tile(&self, map: &Map, tx: usize, ty: usize) -> Option<Box<[u8]>> {
        let tile_m = TILE as f64 * RESOLUTION;
        let origin = Vec2::new(
            self.origin.x + tx as f64 * tile_m,
            self.origin.y + ty as f64 * tile_m,
        );
        let area = Aabb {
            min: origin,
            max: Vec2::new(origin.x + tile_m, origin.y + tile_m),
        };
        let chunks = map.index.in_box(&area);
        let chunks: Vec<u32> = chunks
            .into_iter()
            .filter(|&c| overlaps(&map.index.boxes[c as usize], &area))
            .collect();
        if chunks.is_empty() {
            return None;
        }
        let mut canvas = Canvas {
            data: vec![0u8; TILE * TILE].into_boxed_slice(),
            origin,
            size: TILE,
            res: RESOLUTION,
        };
        // Surfaces first (drivable last, so overlapping junction roads show
        // road over their neighbours' sidewalks), then markings on top.
        for pass in 0..3 {
            for &ci in &chunks {
                let c = map.index.chunks[ci as usize];
                draw_chunk(map, &mut canvas, c.road as usize, c.s0, c.s1, pass);
            }
        }
        Some(canvas.data)
    }
}

fn overlaps(a: &Aabb, b: &Aabb) -> bool {
    a.min.x <= b.max.x && a.max.x >= b.min.x && a.min.y <= b.max.y && a.max.y >= b.min.y
}

/// A square byte raster with a world placement.
pub(crate) struct Canvas {
    pub data: Box<[u8]>,
    pub origin: Vec2,
    pub size: usize,
    pub res: f64,
}

impl Canvas {
    /// Fills the polygon `pts` (any simple polygon; even-odd rule) with
    /// `value`, sampling cell centres.
    pub fn fill(&mut self, pts: &[Vec2], value: u8) {
        fill_polygon(
            pts,
            self.size,
            self.size,
            |x, y| {
                self.data[y * self.size + x] = value;
            },
            self.origin,
            self.res,
        );
    }
}

/// Scan-converts a polygon given in world coordinates onto a `w`×`h` grid
/// whose cell (0, 0) has its lower-left corner at `origin` and whose cells
/// are `res` wide, calling `put(x, y)` for each cell whose centre is inside.
pub(crate) fn fill_polygon(
    pts: &[Vec2],
    w: usize,
    h: usize,
    mut put: impl FnMut(usize, usize),
    origin: Vec2,
    res: f64,
) {
    if pts.len() < 3 {
        return;
    }
    let mut ymin = f64::INFINITY;
    let mut ymax = f64::NEG_INFINITY;
    for p in pts {
        ymin = ymin.min(p.y);
        ymax = ymax.max(p.y);
    }
    let row0 = (((ymin - origin.y) / res - 0.5).ceil().max(0.0)) as usize;
    let row1 = ((ymax - origin.y) / res - 0.5).floor();
    if row1 < 0.0 || !row1.is_finite() {
        return;
    }
    let row1 = (row1 as usize).min(h.saturating_sub(1));
    let mut xs: Vec<f64> = Vec::with_capacity(8);
    for row in row0..=row1 {
        let y = origin.y + (row as f64 + 0.5) * res;
        xs.clear();
        for i in 0..pts.len() {
            let a = pts[i];
            let b = pts[(i + 1) % pts.len()];
            if (a.y <= y && b.y > y) || (b.y <= y && a.y > y) {
                xs.push(a.x + (y - a.y) / (b.y - a.y) * (b.x - a.x));
            }
        }
        xs.sort_by(f64::total_cmp);
        for pair in xs.chunks_exact(2) {
            let c0 = ((pair[0] - origin.x) / res - 0.5).ceil().max(0.0);
            let c1 = ((pair[1] - origin.x) / res - 0.5).floor();
            if c1 < 0.0 || c0 > c1 {
                continue;
            }
            let c1 = (c1 as usize).min(w.saturating_sub(1));
            for col in c0 as usize..=c1 {
                put(col, row);
            }
        }
    }
}

/// Step along s for surfaces and markings, metres.
const STEP: f64 = 0.5;

fn draw_chunk(map: &Map, canvas: &mut Canvas, road: usize, s0: f64, s1: f64, pass: u8) {
    let n = ((s1 - s0) / STEP).ceil().max(1.0) as usize;
    for i in 0..n {
        let a = s0 + (s1 - s0) * i as f64 / n as f64;
        let b = s0 + (s1 - s0) * (i + 1) as f64 / n as f64;
        // Tiny overlap hides seams between steps.
        let (a, b) = (a - 0.02, b + 0.02);
        let mid = 0.5 * (a + b);
        let section = map.section_at(road, mid.clamp(0.0, map.road(road).length));
        let r = map.road(road);
        let ls = &r.lane_sections[section];
        if pass < 2 {
            for lane in ls.side_lanes() {
                let g = Ground::of_lane(&lane.kind);
                if g == Ground::Terrain || (g == Ground::Road) != (pass == 1) {
                    continue;
                }
                let (Some(sa), Some(sb)) = (
                    map.lane_span(road, section, lane.id, a),
                    map.lane_span(road, section, lane.id, b),
                ) else {
                    continue;
                };
                let quad = [
                    map.st_to_xy(road, a, sa.inner),
                    map.st_to_xy(road, a, sa.outer),
                    map.st_to_xy(road, b, sb.outer),
                    map.st_to_xy(road, b, sb.inner),
                ];
                canvas.fill(&quad, g as u8);
            }
            continue;
        }
        // Markings: each lane's mark sits on its outer border; the centre
        // lane's on the lane offset.
        let ds = mid - ls.s;
        let lanes = ls.center.iter().chain(ls.side_lanes());
        for lane in lanes {
            let i = lane.road_marks.partition_point(|m| m.s_offset <= ds + 1e-9);
            let Some(mark) = i.checked_sub(1).map(|i| &lane.road_marks[i]) else {
                continue;
            };
            let (ta, tb) = if lane.id == 0 {
                (
                    eval_piecewise(&r.lane_offsets, a).0,
                    eval_piecewise(&r.lane_offsets, b).0,
                )
            } else {
                match (
                    map.lane_span(road, section, lane.id, a),
                    map.lane_span(road, section, lane.id, b),
                ) {
                    (Some(sa), Some(sb)) => (sa.outer, sb.outer),
                    _ => continue,
                }
            };
            let dashed = matches!(mark.kind, RoadMarkType::Broken | RoadMarkType::BrokenBroken);
            let on = !dashed || (mid - ls.s - mark.s_offset).rem_euclid(DASH + GAP) < DASH;
            if !on {
                continue;
            }
            let value = match (mark.kind, mark.color) {
                (RoadMarkType::None | RoadMarkType::Grass | RoadMarkType::Custom, _) => continue,
                (RoadMarkType::Curb, _) => Ground::Curb,
                (_, RoadMarkColor::Yellow) => Ground::YellowMarking,
                _ => Ground::WhiteMarking,
            } as u8;
            let w = mark.width.clamp(0.08, 0.5);
            let double = matches!(
                mark.kind,
                RoadMarkType::SolidSolid
                    | RoadMarkType::SolidBroken
                    | RoadMarkType::BrokenSolid
                    | RoadMarkType::BrokenBroken
            );
            let offsets: &[f64] = if double { &[-1.0, 1.0] } else { &[0.0] };
            for k in offsets {
                let c = k * w;
                let quad = [
                    map.st_to_xy(road, a, ta + c - 0.5 * w),
                    map.st_to_xy(road, a, ta + c + 0.5 * w),
                    map.st_to_xy(road, b, tb + c + 0.5 * w),
                    map.st_to_xy(road, b, tb + c - 0.5 * w),
                ];
                canvas.fill(&quad, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_a_square_exactly() {
        let mut hits = Vec::new();
        let sq = [
            Vec2::new(1.0, 1.0),
            Vec2::new(3.0, 1.0),
            Vec2::new(3.0, 2.0),
            Vec2::new(1.0, 2.0),
        ];
        fill_polygon(&sq, 10, 10, |x, y| hits.push((x, y)), Vec2::default(), 1.0);
        assert_eq!(hits, vec![(1, 1), (2, 1)]);
        // Clipped at the grid border.
        let big = [
            Vec2::new(-5.0, -5.0),
            Vec2::new(50.0, -5.0),
            Vec2::new(50.0, 50.0),
            Vec2::new(-5.0, 50.0),
        ];
        let mut n = 0;
        fill_polygon(&big, 4, 3, |_, _| n += 1, Vec2::default(), 1.0);
        assert_eq!(n, 12);
    }
}
