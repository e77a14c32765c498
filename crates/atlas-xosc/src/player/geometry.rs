//! Bounding-box geometry of entities: box extents, centres, frames and the
//! distance between two oriented boxes.

use atlas_sim::Vec2;

use super::EntityState;
use crate::model::BoundingBox;

/// Distance from the reference point to the front of the box.
pub(super) fn front(b: &BoundingBox) -> f64 {
    b.cx + 0.5 * b.length
}

/// Distance from the reference point to the rear of the box.
pub(super) fn rear(b: &BoundingBox) -> f64 {
    0.5 * b.length - b.cx
}

pub(super) fn centre(e: &EntityState) -> Vec2 {
    let (s, c) = e.yaw.sin_cos();
    Vec2::new(
        e.x + c * e.bbox.cx - s * e.bbox.cy,
        e.y + s * e.bbox.cx + c * e.bbox.cy,
    )
}

/// `d` in the frame of a heading `yaw`: (along, left).
pub(super) fn local(yaw: f64, d: Vec2) -> (f64, f64) {
    let (s, c) = yaw.sin_cos();
    (c * d.x + s * d.y, -s * d.x + c * d.y)
}

fn corners(e: &EntityState) -> [Vec2; 4] {
    let ctr = centre(e);
    let f = Vec2::from_angle(e.yaw) * (0.5 * e.bbox.length);
    let l = Vec2::from_angle(e.yaw).perp() * (0.5 * e.bbox.width);
    [ctr + f + l, ctr + f - l, ctr - f - l, ctr - f + l]
}

fn seg_dist(p: Vec2, a: Vec2, b: Vec2) -> f64 {
    let ab = b - a;
    let t = if ab.length_sq() > 0.0 {
        ((p - a).dot(ab) / ab.length_sq()).clamp(0.0, 1.0)
    } else {
        0.0
    };
    (p - (a + ab * t)).length()
}

fn inside(p: Vec2, q: &[Vec2; 4]) -> bool {
    (0..4).all(|k| (q[(k + 1) % 4] - q[k]).cross(p - q[k]) <= 0.0)
        || (0..4).all(|k| (q[(k + 1) % 4] - q[k]).cross(p - q[k]) >= 0.0)
}

/// Distance between two entities' bounding boxes (0 when they overlap).
pub(super) fn obb_distance(a: &EntityState, b: &EntityState) -> f64 {
    let (ca, cb) = (corners(a), corners(b));
    if ca.iter().any(|p| inside(*p, &cb)) || cb.iter().any(|p| inside(*p, &ca)) {
        return 0.0;
    }
    let mut d = f64::INFINITY;
    for (p, q) in [(&ca, &cb), (&cb, &ca)] {
        for &pt in p.iter() {
            for k in 0..4 {
                d = d.min(seg_dist(pt, q[k], q[(k + 1) % 4]));
            }
        }
    }
    d
}
