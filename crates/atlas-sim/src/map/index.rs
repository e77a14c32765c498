//! A uniform-grid spatial index over short pieces ("chunks") of every road,
//! so that "which road and lane is at (x, y)?" touches only the few roads
//! near the point. Each chunk covers at most a couple of metres of one
//! road's reference line together with the road's full lateral extent.

use crate::math::Vec2;

/// A piece of a road: `[s0, s1]` of road `road`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Chunk {
    pub road: u32,
    pub s0: f64,
    pub s1: f64,
}

/// Axis-aligned bounding box.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Aabb {
    pub min: Vec2,
    pub max: Vec2,
}

impl Aabb {
    pub fn empty() -> Self {
        Self {
            min: Vec2::new(f64::INFINITY, f64::INFINITY),
            max: Vec2::new(f64::NEG_INFINITY, f64::NEG_INFINITY),
        }
    }

    pub fn add(&mut self, p: Vec2) {
        self.min.x = self.min.x.min(p.x);
        self.min.y = self.min.y.min(p.y);
        self.max.x = self.max.x.max(p.x);
        self.max.y = self.max.y.max(p.y);
    }

    pub fn grow(&self, m: f64) -> Self {
        Self {
            min: Vec2::new(self.min.x - m, self.min.y - m),
            max: Vec2::new(self.max.x + m, self.max.y + m),
        }
    }

    pub fn union(&mut self, o: &Self) {
        self.add(o.min);
        self.add(o.max);
    }

    pub fn contains(&self, p: Vec2) -> bool {
        p.x >= self.min.x && p.x <= self.max.x && p.y >= self.min.y && p.y <= self.max.y
    }

    pub fn is_valid(&self) -> bool {
        self.min.x <= self.max.x && self.min.y <= self.max.y
    }
}

/// The grid: cells in row-major order, each listing the chunks whose box
/// overlaps it (compressed: `starts[i]..starts[i + 1]` into `items`).
#[derive(Clone, Debug)]
pub(crate) struct SpatialIndex {
    origin: Vec2,
    cell: f64,
    nx: usize,
    ny: usize,
    starts: Vec<u32>,
    items: Vec<u32>,
    pub chunks: Vec<Chunk>,
    /// Bounding box of each chunk (same order as `chunks`).
    pub boxes: Vec<Aabb>,
    pub bounds: Aabb,
}

/// Upper bound on grid cells; larger maps get coarser cells.
const MAX_CELLS: f64 = 4_000_000.0;

/// Upper bound on (cell, chunk) entries: roads so wide that their chunks
/// each cover many cells get coarser cells rather than gigabytes of lists.
const MAX_ITEMS: u64 = 16_000_000;

/// Upper bound on cells along one side of the grid.
const MAX_SIDE: f64 = 8192.0;

impl SpatialIndex {
    pub fn build(chunks: Vec<(Chunk, Aabb)>) -> Self {
        let mut bounds = Aabb::empty();
        for (_, b) in &chunks {
            bounds.union(b);
        }
        if !bounds.is_valid() {
            bounds = Aabb {
                min: Vec2::default(),
                max: Vec2::new(1.0, 1.0),
            };
        }
        let w = bounds.max.x - bounds.min.x;
        let h = bounds.max.y - bounds.min.y;
        // At most MAX_SIDE cells along either side, whatever the aspect
        // ratio (a long thin map would otherwise ask for a huge row).
        let mut cell = 8.0f64
            .max((w * h / MAX_CELLS).sqrt())
            .max(w / MAX_SIDE)
            .max(h / MAX_SIDE);
        let (nx, ny, ranges) = loop {
            let nx = ((w / cell).floor() as usize + 1).max(1);
            let ny = ((h / cell).floor() as usize + 1).max(1);
            let mut total = 0u64;
            let mut ranges = Vec::with_capacity(chunks.len());
            for (_, b) in &chunks {
                let (x0, y0) = Self::cell_of(bounds.min, cell, nx, ny, b.min);
                let (x1, y1) = Self::cell_of(bounds.min, cell, nx, ny, b.max);
                ranges.push((x0, y0, x1, y1));
                total +=
                    ((x1 + 1).saturating_sub(x0) as u64) * ((y1 + 1).saturating_sub(y0) as u64);
            }
            if total <= MAX_ITEMS.max(4 * chunks.len() as u64) || (nx == 1 && ny == 1) {
                break (nx, ny, ranges);
            }
            cell *= 2.0;
        };
        let mut counts = vec![0u32; nx * ny + 1];
        for &(x0, y0, x1, y1) in &ranges {
            for y in y0..=y1 {
                for x in x0..=x1 {
                    counts[y * nx + x + 1] += 1;
                }
            }
        }
        for i in 1..counts.len() {
            counts[i] += counts[i - 1];
        }
        let mut fill = counts.clone();
        let mut items = vec![0u32; *counts.last().unwrap_or(&0) as usize];
        for (ci, &(x0, y0, x1, y1)) in ranges.iter().enumerate() {
            for y in y0..=y1 {
                for x in x0..=x1 {
                    let slot = &mut fill[y * nx + x];
                    items[*slot as usize] = ci as u32;
                    *slot += 1;
                }
            }
        }
        Self {
            origin: bounds.min,
            cell,
            nx,
            ny,
            starts: counts,
            items,
            boxes: chunks.iter().map(|(_, b)| *b).collect(),
            chunks: chunks.into_iter().map(|(c, _)| c).collect(),
            bounds,
        }
    }

    fn cell_of(origin: Vec2, cell: f64, nx: usize, ny: usize, p: Vec2) -> (usize, usize) {
        let x = ((p.x - origin.x) / cell)
            .floor()
            .clamp(0.0, (nx - 1) as f64) as usize;
        let y = ((p.y - origin.y) / cell)
            .floor()
            .clamp(0.0, (ny - 1) as f64) as usize;
        (x, y)
    }

    /// Chunk ids whose box may contain `p`.
    pub fn at(&self, p: Vec2) -> &[u32] {
        if !p.is_finite()
            || p.x < self.bounds.min.x
            || p.y < self.bounds.min.y
            || p.x > self.bounds.max.x
            || p.y > self.bounds.max.y
        {
            return &[];
        }
        let (x, y) = Self::cell_of(self.origin, self.cell, self.nx, self.ny, p);
        let i = y * self.nx + x;
        &self.items[self.starts[i] as usize..self.starts[i + 1] as usize]
    }

    /// Chunk ids whose box may come within `r` of `p`, sorted and unique.
    pub fn near(&self, p: Vec2, r: f64) -> Vec<u32> {
        if !p.is_finite() {
            return Vec::new();
        }
        let q = Aabb {
            min: Vec2::new(p.x - r, p.y - r),
            max: Vec2::new(p.x + r, p.y + r),
        };
        self.in_box(&q)
    }

    /// Chunk ids whose box may overlap `q`, sorted and unique.
    pub fn in_box(&self, q: &Aabb) -> Vec<u32> {
        if q.max.x < self.bounds.min.x
            || q.max.y < self.bounds.min.y
            || q.min.x > self.bounds.max.x
            || q.min.y > self.bounds.max.y
        {
            return Vec::new();
        }
        let (x0, y0) = Self::cell_of(self.origin, self.cell, self.nx, self.ny, q.min);
        let (x1, y1) = Self::cell_of(self.origin, self.cell, self.nx, self.ny, q.max);
        let mut out = Vec::new();
        for y in y0..=y1 {
            for x in x0..=x1 {
                let i = y * self.nx + x;
                out.extend_from_slice(
                    &self.items[self.starts[i] as usize..self.starts[i + 1] as usize],
                );
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bx(x0: f64, y0: f64, x1: f64, y1: f64) -> Aabb {
        Aabb {
            min: Vec2::new(x0, y0),
            max: Vec2::new(x1, y1),
        }
    }

    #[test]
    fn finds_chunks_by_point_and_box() {
        let c = |r| Chunk {
            road: r,
            s0: 0.0,
            s1: 1.0,
        };
        let idx = SpatialIndex::build(vec![
            (c(0), bx(0.0, 0.0, 10.0, 2.0)),
            (c(1), bx(50.0, 50.0, 60.0, 60.0)),
            (c(2), bx(5.0, -1.0, 6.0, 30.0)),
        ]);
        // A cell lists every chunk whose box overlaps it.
        let here = idx.at(Vec2::new(1.0, 1.0));
        assert!(here.contains(&0) && !here.contains(&1));
        let mut both = idx.at(Vec2::new(5.5, 1.0)).to_vec();
        both.sort();
        assert_eq!(both, vec![0, 2]);
        assert_eq!(idx.at(Vec2::new(59.0, 59.0)), &[1]);
        assert!(idx.at(Vec2::new(-100.0, 0.0)).is_empty());
        assert!(idx.at(Vec2::new(f64::NAN, 0.0)).is_empty());
        assert_eq!(idx.near(Vec2::new(45.0, 45.0), 6.0), vec![1]);
        assert_eq!(idx.in_box(&bx(-5.0, -5.0, 100.0, 100.0)), vec![0, 1, 2]);
    }
}
