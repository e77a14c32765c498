//! The pinhole RGB camera.
//!
//! Each pixel's ray is `forward − x·left − y·up` in the camera body frame,
//! with `(x, y)` its normalised image coordinates, so a ray's parameter at
//! the ground plane is directly the optical depth. Below the horizon the ray
//! meets the ground (the plane under the actor) and takes the colour of the
//! map's class raster there, hazed with distance; above it is sky. Actor
//! boxes are then drawn face by face (back faces culled, clipped at the near
//! plane, Lambert-shaded) against the same depth buffer. The actor carrying
//! the camera is not drawn.

use super::raster::{Ground, TileCache};
use super::{BoxShape, Image};
use crate::error::WorldError;
use crate::map::Map;
use crate::math::{Mat3, Pose, Vec2};
use crate::world::{ActorId, ActorKind};

/// Pinhole intrinsics and mount of a camera.
#[derive(Clone, Debug, PartialEq)]
pub struct CameraSpec {
    pub width: u32,
    pub height: u32,
    /// Horizontal field of view, degrees; used when `fx` is 0.
    pub fov_deg: f64,
    /// Focal lengths and principal point, pixels. `fy` 0 takes `fx`; `cx`
    /// and `cy` both 0 take the image centre.
    pub fx: f64,
    pub fy: f64,
    pub cx: f64,
    pub cy: f64,
    /// Pose of the camera body in the actor's rig frame (x forward, y left,
    /// z up); zero angles look straight ahead, positive pitch looks down.
    pub mount: Pose,
}

/// Largest image side a camera may have.
pub const MAX_SIDE: u32 = 4096;
/// Near clipping distance, metres.
const NEAR: f64 = 0.05;
/// Ground farther than this is drawn as haze, metres.
const FAR: f64 = 1000.0;

/// A validated camera ready to render.
#[derive(Clone, Debug, PartialEq)]
pub struct Camera {
    spec: CameraSpec,
    fx: f64,
    fy: f64,
    cx: f64,
    cy: f64,
    mount: Mat3,
}

impl Camera {
    pub fn new(spec: CameraSpec) -> Result<Self, WorldError> {
        let inv = WorldError::invalid;
        if spec.width == 0 || spec.height == 0 || spec.width > MAX_SIDE || spec.height > MAX_SIDE {
            return Err(inv(
                "camera.width",
                format!(
                    "image size {}x{} must be between 1x1 and {MAX_SIDE}x{MAX_SIDE}",
                    spec.width, spec.height
                ),
            ));
        }
        for (field, v) in [
            ("camera.fov_deg", spec.fov_deg),
            ("camera.fx", spec.fx),
            ("camera.fy", spec.fy),
            ("camera.cx", spec.cx),
            ("camera.cy", spec.cy),
        ] {
            if !v.is_finite() || v < 0.0 {
                return Err(inv(
                    field,
                    format!("must be a finite non-negative number, got {v}"),
                ));
            }
        }
        if !spec.mount.is_finite() {
            return Err(inv("camera.mount", "has a non-finite component".into()));
        }
        let fx = if spec.fx > 0.0 {
            spec.fx
        } else {
            if !(1.0..=179.0).contains(&spec.fov_deg) {
                return Err(inv(
                    "camera.fov_deg",
                    format!(
                        "must be in [1, 179] degrees when fx is 0, got {}",
                        spec.fov_deg
                    ),
                ));
            }
            0.5 * spec.width as f64 / (0.5 * spec.fov_deg.to_radians()).tan()
        };
        let fy = if spec.fy > 0.0 { spec.fy } else { fx };
        let (cx, cy) = if spec.cx == 0.0 && spec.cy == 0.0 {
            (0.5 * spec.width as f64, 0.5 * spec.height as f64)
        } else {
            (spec.cx, spec.cy)
        };
        let mount = Mat3::from_ypr(spec.mount.yaw, spec.mount.pitch, spec.mount.roll);
        Ok(Self {
            spec,
            fx,
            fy,
            cx,
            cy,
            mount,
        })
    }

    pub fn spec(&self) -> &CameraSpec {
        &self.spec
    }

    /// `(fx, fy, cx, cy)` in pixels.
    pub fn intrinsics(&self) -> (f64, f64, f64, f64) {
        (self.fx, self.fy, self.cx, self.cy)
    }

    /// World position and orientation (columns: forward, left, up) of the
    /// camera on a rig at `rig`.
    pub fn world_pose(&self, rig: &Pose) -> ([f64; 3], Mat3) {
        let yaw = Mat3::from_ypr(rig.yaw, 0.0, 0.0);
        let m = &self.spec.mount;
        let off = yaw.mul_vec([m.x, m.y, m.z]);
        (
            [rig.x + off[0], rig.y + off[1], rig.z + off[2]],
            yaw.mul(&self.mount),
        )
    }

    /// Projects a world point to pixel coordinates and optical depth, if it
    /// is in front of the camera.
    pub fn project(&self, rig: &Pose, p: [f64; 3]) -> Option<(f64, f64, f64)> {
        let (c, r) = self.world_pose(rig);
        let o = to_optical(&r, c, p);
        (o[2] > NEAR).then(|| {
            (
                self.fx * o[0] / o[2] + self.cx,
                self.fy * o[1] / o[2] + self.cy,
                o[2],
            )
        })
    }

    /// Renders the view from a rig at `rig`; `exclude` is the actor carrying
    /// the camera.
    pub fn render(
        &self,
        map: &Map,
        rig: &Pose,
        boxes: &[BoxShape],
        exclude: Option<ActorId>,
    ) -> Image {
        let (w, h) = (self.spec.width as usize, self.spec.height as usize);
        let mut img = Image::new(self.spec.width, self.spec.height);
        let mut depth = vec![f32::INFINITY; w * h];
        let (cam, r) = self.world_pose(rig);
        let col = |i: usize| [r.0[0][i], r.0[1][i], r.0[2][i]];
        let (fwd, left, up) = (col(0), col(1), col(2));
        let ground = rig.z;
        let raster = map.raster();
        let haze_k = haze_table();
        let inv_fx = 1.0 / self.fx;
        let sky_c = sky_table();
        let hazed = hazed_ground_table();
        let mut row = vec![0u8; w];
        for v in 0..h {
            let mut cache = TileCache::default();
            let y = (v as f64 + 0.5 - self.cy) / self.fy;
            // Ray = fwd − x·left − y·up; hoist the row's part.
            let base = [fwd[0] - y * up[0], fwd[1] - y * up[1], fwd[2] - y * up[2]];
            let x0 = (0.5 - self.cx) * inv_fx;
            if left[2] == 0.0 {
                // No roll: every ray of the row falls at the same rate, so
                // the row meets the ground at one distance `t` and its hits
                // are evenly spaced along a line.
                let dz = base[2];
                let t = if dz < -1e-9 {
                    (ground - cam[2]) / dz
                } else {
                    f64::INFINITY
                };
                let ground_row = t < FAR;
                if ground_row {
                    let start = Vec2::new(
                        cam[0] + t * (base[0] - x0 * left[0]),
                        cam[1] + t * (base[1] - x0 * left[1]),
                    );
                    let step = Vec2::new(-t * inv_fx * left[0], -t * inv_fx * left[1]);
                    raster.sample_row(map, start, step, &mut row);
                    depth[v * w..(v + 1) * w].fill(t as f32);
                }
                let len_at = |u: usize| {
                    let x = x0 + u as f64 * inv_fx;
                    let (dx, dy) = (base[0] - x * left[0], base[1] - x * left[1]);
                    (dx * dx + dy * dy + dz * dz).sqrt()
                };
                if ground_row {
                    for (u, &cls) in row.iter().enumerate() {
                        let class = if cls < 8 { cls as usize } else { 0 };
                        img.put(u, v, hazed[class][haze_index(t * len_at(u))]);
                    }
                } else if dz < -1e-9 {
                    for u in 0..w {
                        img.put(u, v, HAZE);
                    }
                } else {
                    // The sky changes slowly along a row: one colour per
                    // run of four pixels, taken at the run's middle.
                    for u0 in (0..w).step_by(4) {
                        let n = (w - u0).min(4);
                        let c = sky_fast(dz / len_at(u0 + n / 2), sky_c);
                        for u in u0..u0 + n {
                            img.put(u, v, c);
                        }
                    }
                }
                continue;
            }
            for u in 0..w {
                let x = (u as f64 + 0.5 - self.cx) * inv_fx;
                let d = [
                    base[0] - x * left[0],
                    base[1] - x * left[1],
                    base[2] - x * left[2],
                ];
                let len = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
                let colour = if d[2] < -1e-9 {
                    let t = (ground - cam[2]) / d[2];
                    if t < FAR {
                        let hit = Vec2::new(cam[0] + t * d[0], cam[1] + t * d[1]);
                        let g = Ground::from_u8(raster.raw_at_cached(map, hit, &mut cache));
                        depth[v * w + u] = t as f32;
                        haze_fast(ground_colour(g), t * len, haze_k)
                    } else {
                        HAZE
                    }
                } else {
                    sky(d[2] / len)
                };
                img.put(u, v, colour);
            }
        }
        for b in boxes {
            if Some(b.id) == exclude {
                continue;
            }
            let rel = Vec2::new(b.centre.x - cam[0], b.centre.y - cam[1]);
            let dist = rel.length();
            if dist > FAR {
                continue;
            }
            // Wholly behind the camera (every corner is within the sum of
            // the sides of the box's middle): nothing to draw.
            let reach = b.length + b.width + b.height;
            let mid_z = b.z0 + 0.5 * b.height - cam[2];
            if rel.x * fwd[0] + rel.y * fwd[1] + mid_z * fwd[2] < -reach {
                continue;
            }
            self.draw_box(&mut img, &mut depth, cam, &r, b);
        }
        img
    }

    fn draw_box(&self, img: &mut Image, depth: &mut [f32], cam: [f64; 3], r: &Mat3, b: &BoxShape) {
        let fp = b.corners();
        let mut corners = [[0.0; 3]; 8];
        for (i, c) in fp.iter().enumerate() {
            corners[i] = [c.x, c.y, b.z0];
            corners[i + 4] = [c.x, c.y, b.z0 + b.height];
        }
        let ax = Vec2::from_angle(b.yaw);
        let side = ax.perp();
        let faces: [([usize; 4], [f64; 3]); 5] = [
            ([1, 2, 6, 5], [ax.x, ax.y, 0.0]),
            ([3, 0, 4, 7], [-ax.x, -ax.y, 0.0]),
            ([0, 1, 5, 4], [-side.x, -side.y, 0.0]),
            ([2, 3, 7, 6], [side.x, side.y, 0.0]),
            ([4, 5, 6, 7], [0.0, 0.0, 1.0]),
        ];
        let base = base_colour(b);
        for (idx, n) in faces {
            let fc = idx.iter().fold([0.0; 3], |acc, &i| {
                [
                    acc[0] + 0.25 * corners[i][0],
                    acc[1] + 0.25 * corners[i][1],
                    acc[2] + 0.25 * corners[i][2],
                ]
            });
            let to_cam = [cam[0] - fc[0], cam[1] - fc[1], cam[2] - fc[2]];
            if n[0] * to_cam[0] + n[1] * to_cam[1] + n[2] * to_cam[2] <= 0.0 {
                continue;
            }
            let lambert = (n[0] * SUN[0] + n[1] * SUN[1] + n[2] * SUN[2]).max(0.0);
            let k = if b.lit {
                1.0
            } else {
                AMBIENT + (1.0 - AMBIENT) * lambert
            };
            let colour = [
                (base[0] as f64 * k) as u8,
                (base[1] as f64 * k) as u8,
                (base[2] as f64 * k) as u8,
            ];
            let poly: Vec<[f64; 3]> = idx
                .iter()
                .map(|&i| to_optical(r, cam, corners[i]))
                .collect();
            let clipped = clip_near(&poly);
            if clipped.len() < 3 {
                continue;
            }
            let screen: Vec<[f64; 3]> = clipped
                .iter()
                .map(|o| {
                    [
                        self.fx * o[0] / o[2] + self.cx,
                        self.fy * o[1] / o[2] + self.cy,
                        o[2],
                    ]
                })
                .collect();
            for k in 1..screen.len() - 1 {
                raster_triangle(img, depth, [screen[0], screen[k], screen[k + 1]], colour);
            }
        }
    }
}

/// World point → optical frame (x right, y down, z forward) of a camera at
/// `cam` with body axes `r`.
fn to_optical(r: &Mat3, cam: [f64; 3], p: [f64; 3]) -> [f64; 3] {
    let d = [p[0] - cam[0], p[1] - cam[1], p[2] - cam[2]];
    let m = &r.0;
    let fwd = d[0] * m[0][0] + d[1] * m[1][0] + d[2] * m[2][0];
    let left = d[0] * m[0][1] + d[1] * m[1][1] + d[2] * m[2][1];
    let up = d[0] * m[0][2] + d[1] * m[1][2] + d[2] * m[2][2];
    [-left, -up, fwd]
}

/// Sutherland–Hodgman against the near plane.
fn clip_near(poly: &[[f64; 3]]) -> Vec<[f64; 3]> {
    let mut out = Vec::with_capacity(poly.len() + 1);
    for i in 0..poly.len() {
        let a = poly[i];
        let b = poly[(i + 1) % poly.len()];
        let (ia, ib) = (a[2] >= NEAR, b[2] >= NEAR);
        if ia {
            out.push(a);
        }
        if ia != ib {
            let t = (NEAR - a[2]) / (b[2] - a[2]);
            out.push([a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]), NEAR]);
        }
    }
    out
}

/// Fills a screen-space triangle (x, y in pixels, z optical depth) with
/// perspective-correct depth testing.
fn raster_triangle(img: &mut Image, depth: &mut [f32], t: [[f64; 3]; 3], colour: [u8; 3]) {
    let (w, h) = (img.width as usize, img.height as usize);
    let area =
        (t[1][0] - t[0][0]) * (t[2][1] - t[0][1]) - (t[2][0] - t[0][0]) * (t[1][1] - t[0][1]);
    if area.abs() < 1e-12 {
        return;
    }
    let minx = t
        .iter()
        .map(|p| p[0])
        .fold(f64::INFINITY, f64::min)
        .floor()
        .max(0.0);
    let maxx = t
        .iter()
        .map(|p| p[0])
        .fold(f64::NEG_INFINITY, f64::max)
        .ceil()
        .min(w as f64);
    let miny = t
        .iter()
        .map(|p| p[1])
        .fold(f64::INFINITY, f64::min)
        .floor()
        .max(0.0);
    let maxy = t
        .iter()
        .map(|p| p[1])
        .fold(f64::NEG_INFINITY, f64::max)
        .ceil()
        .min(h as f64);
    if minx >= maxx || miny >= maxy {
        return;
    }
    let inv_z = [1.0 / t[0][2], 1.0 / t[1][2], 1.0 / t[2][2]];
    let edge = |a: [f64; 3], b: [f64; 3], x: f64, y: f64| {
        (b[0] - a[0]) * (y - a[1]) - (b[1] - a[1]) * (x - a[0])
    };
    for py in miny as usize..maxy as usize {
        let y = py as f64 + 0.5;
        for px in minx as usize..maxx as usize {
            let x = px as f64 + 0.5;
            let w0 = edge(t[1], t[2], x, y) / area;
            let w1 = edge(t[2], t[0], x, y) / area;
            let w2 = 1.0 - w0 - w1;
            if w0 < 0.0 || w1 < 0.0 || w2 < 0.0 {
                continue;
            }
            let iz = w0 * inv_z[0] + w1 * inv_z[1] + w2 * inv_z[2];
            let z = (1.0 / iz) as f32;
            let i = py * w + px;
            if z < depth[i] {
                depth[i] = z;
                img.put(px, py, colour);
            }
        }
    }
}

/// Light on faces turned away from the sun.
pub const AMBIENT: f64 = 0.5;
/// Direction towards the sun, for shading.
const SUN: [f64; 3] = [0.42, 0.26, 0.87];
const HAZE: [u8; 3] = [196, 208, 220];

fn sky(elevation: f64) -> [u8; 3] {
    let k = (elevation * 2.5).clamp(0.0, 1.0);
    let mix = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * k) as u8;
    [mix(HAZE[0], 84), mix(HAZE[1], 136), mix(HAZE[2], 208)]
}

/// The exact haze blend (the renderer uses [`haze_fast`]).
#[cfg(test)]
fn haze(c: [u8; 3], dist: f64) -> [u8; 3] {
    let k = 0.75 * (1.0 - (-dist / 300.0).exp());
    let mix = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * k) as u8;
    [mix(c[0], HAZE[0]), mix(c[1], HAZE[1]), mix(c[2], HAZE[2])]
}

/// Sky colours by elevation (`sky` at 256 steps of its blend weight).
fn sky_table() -> &'static [[u8; 3]; 256] {
    static TABLE: std::sync::OnceLock<[[u8; 3]; 256]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| std::array::from_fn(|i| sky(i as f64 / (255.0 * 2.5))))
}

/// [`sky`] from the table.
#[inline]
fn sky_fast(elevation: f64, table: &[[u8; 3]; 256]) -> [u8; 3] {
    let k = (elevation * 2.5).clamp(0.0, 1.0);
    table[(k * 255.0 + 0.5) as usize]
}

/// Metres per entry of [`haze_table`].
const HAZE_STEP: f64 = 2.0;

/// Haze weights (out of 256) by distance in [`HAZE_STEP`] steps, for the
/// per-pixel ground colour without an exponential per pixel.
fn haze_table() -> &'static [u16; 1024] {
    static TABLE: std::sync::OnceLock<[u16; 1024]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        std::array::from_fn(|i| {
            let dist = (i as f64 + 0.5) * HAZE_STEP;
            (256.0 * 0.75 * (1.0 - (-dist / 300.0).exp())).round() as u16
        })
    })
}

/// Entry of [`haze_table`] for a distance.
#[inline]
fn haze_index(dist: f64) -> usize {
    ((dist * (1.0 / HAZE_STEP)) as usize).min(1023)
}

/// Every ground class's colour at every haze step: [class][haze index].
fn hazed_ground_table() -> &'static [[[u8; 3]; 1024]; 8] {
    static TABLE: std::sync::OnceLock<Box<[[[u8; 3]; 1024]; 8]>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let haze_k = haze_table();
        Box::new(std::array::from_fn(|class| {
            let c = ground_colour(Ground::from_u8(class as u8));
            std::array::from_fn(|i| haze_weighted(c, haze_k[i]))
        }))
    })
}

/// [`haze`] from the table: within one 8-bit level of it.
#[inline]
fn haze_fast(c: [u8; 3], dist: f64, table: &[u16; 1024]) -> [u8; 3] {
    haze_weighted(c, table[haze_index(dist)])
}

/// Blends `c` towards the haze colour by `k`/256.
#[inline]
fn haze_weighted(c: [u8; 3], k: u16) -> [u8; 3] {
    let k = k as i32;
    let mix = |a: u8, b: u8| (a as i32 + (((b as i32 - a as i32) * k) >> 8)) as u8;
    [mix(c[0], HAZE[0]), mix(c[1], HAZE[1]), mix(c[2], HAZE[2])]
}

/// Camera colours of ground classes.
pub fn ground_colour(g: Ground) -> [u8; 3] {
    match g {
        Ground::Terrain => [92, 112, 68],
        Ground::Road => [72, 72, 76],
        Ground::Sidewalk => [158, 152, 146],
        Ground::Shoulder => [112, 106, 98],
        Ground::Parking => [88, 88, 92],
        Ground::WhiteMarking => [236, 236, 236],
        Ground::YellowMarking => [224, 182, 42],
        Ground::Curb => [190, 188, 182],
    }
}

const CAR_COLOURS: [[u8; 3]; 7] = [
    [196, 32, 32],
    [34, 82, 196],
    [228, 228, 228],
    [44, 44, 48],
    [210, 176, 36],
    [32, 140, 64],
    [128, 128, 140],
];

/// Body colour of an actor's box.
pub fn base_colour(b: &BoxShape) -> [u8; 3] {
    if let Some(c) = b.colour {
        return c;
    }
    match b.kind {
        ActorKind::Vehicle => CAR_COLOURS[(b.id % CAR_COLOURS.len() as u64) as usize],
        ActorKind::Pedestrian => [232, 120, 44],
        ActorKind::Static => [250, 128, 0],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> CameraSpec {
        CameraSpec {
            width: 320,
            height: 180,
            fov_deg: 90.0,
            fx: 0.0,
            fy: 0.0,
            cx: 0.0,
            cy: 0.0,
            mount: Pose {
                x: 1.5,
                z: 1.5,
                ..Pose::default()
            },
        }
    }

    #[test]
    fn table_haze_matches_the_exact_blend() {
        let table = haze_table();
        for c in [[92u8, 112, 68], [236, 236, 236], [72, 72, 76], [0, 0, 0]] {
            for k in 0..3000 {
                let dist = k as f64 * 0.37;
                let (a, b) = (haze(c, dist), haze_fast(c, dist, table));
                for ch in 0..3 {
                    assert!(
                        (a[ch] as i32 - b[ch] as i32).abs() <= 2,
                        "{c:?} at {dist}: {a:?} vs {b:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn intrinsics_from_fov() {
        let c = Camera::new(spec()).unwrap();
        let (fx, fy, cx, cy) = c.intrinsics();
        assert!((fx - 160.0).abs() < 1e-9 && (fy - 160.0).abs() < 1e-9);
        assert_eq!((cx, cy), (160.0, 90.0));
    }

    #[test]
    fn projects_points_ahead_and_rejects_behind() {
        let c = Camera::new(spec()).unwrap();
        let rig = Pose::planar(10.0, 5.0, std::f64::consts::FRAC_PI_2);
        // 10 m ahead of the camera at its height: the principal point.
        let (u, v, z) = c.project(&rig, [10.0, 5.0 + 1.5 + 10.0, 1.5]).unwrap();
        assert!((u - 160.0).abs() < 1e-9 && (v - 90.0).abs() < 1e-9 && (z - 10.0).abs() < 1e-9);
        // 1 m to the left at 10 m: left of centre by fx/10.
        let (u, _, _) = c.project(&rig, [9.0, 16.5, 1.5]).unwrap();
        assert!((u - 144.0).abs() < 1e-9);
        assert!(c.project(&rig, [10.0, 0.0, 1.5]).is_none());
        // Pitching the camera down moves a point ahead upwards in the image.
        let mut s = spec();
        s.mount.pitch = 0.1;
        let c = Camera::new(s).unwrap();
        let (_, v, _) = c.project(&rig, [10.0, 16.5, 1.5]).unwrap();
        assert!(v < 90.0);
    }

    #[test]
    fn rejects_bad_specs() {
        let mut s = spec();
        s.width = 0;
        assert!(
            Camera::new(s)
                .unwrap_err()
                .to_string()
                .contains("camera.width")
        );
        let mut s = spec();
        s.fov_deg = 0.0;
        assert!(
            Camera::new(s)
                .unwrap_err()
                .to_string()
                .contains("camera.fov_deg")
        );
        let mut s = spec();
        s.fx = f64::NAN;
        assert!(
            Camera::new(s)
                .unwrap_err()
                .to_string()
                .contains("camera.fx")
        );
        let mut s = spec();
        s.mount.yaw = f64::INFINITY;
        assert!(
            Camera::new(s)
                .unwrap_err()
                .to_string()
                .contains("camera.mount")
        );
    }

    #[test]
    fn clips_polygons_at_the_near_plane() {
        let poly = [[0.0, 0.0, -1.0], [1.0, 0.0, 1.0], [0.0, 1.0, 1.0]];
        let c = clip_near(&poly);
        assert_eq!(c.len(), 4);
        assert!(c.iter().all(|p| p[2] >= NEAR - 1e-12));
    }
}
