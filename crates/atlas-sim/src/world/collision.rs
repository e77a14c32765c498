//! Oriented-box overlap tests (separating axis theorem) and point-to-box
//! distances, for collisions and for NPCs looking down their path.

use crate::math::Vec2;

/// An oriented box: footprint in the plane plus a height range.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Obb {
    pub centre: Vec2,
    /// Unit vector along the box's length.
    pub axis: Vec2,
    pub half_length: f64,
    pub half_width: f64,
    pub z0: f64,
    pub z1: f64,
}

impl Obb {
    pub fn new(centre: Vec2, yaw: f64, length: f64, width: f64, z0: f64, height: f64) -> Self {
        Self {
            centre,
            axis: Vec2::from_angle(yaw),
            half_length: 0.5 * length,
            half_width: 0.5 * width,
            z0,
            z1: z0 + height,
        }
    }

    /// The box grown by `m` on every side of its footprint.
    pub fn grown(&self, m: f64) -> Self {
        Self {
            half_length: self.half_length + m,
            half_width: self.half_width + m,
            ..*self
        }
    }

    /// The four footprint corners, counter-clockwise from rear right.
    pub fn corners(&self) -> [Vec2; 4] {
        let l = self.axis * self.half_length;
        let w = self.axis.perp() * self.half_width;
        [
            self.centre - l - w,
            self.centre + l - w,
            self.centre + l + w,
            self.centre - l + w,
        ]
    }

    /// Radius of the circle around the footprint.
    pub fn radius(&self) -> f64 {
        (self.half_length * self.half_length + self.half_width * self.half_width).sqrt()
    }

    fn project(&self, axis: Vec2) -> (f64, f64) {
        let c = self.centre.dot(axis);
        let r = self.half_length * self.axis.dot(axis).abs()
            + self.half_width * self.axis.perp().dot(axis).abs();
        (c - r, c + r)
    }

    /// Whether the two boxes overlap (touching does not count).
    pub fn overlaps(&self, o: &Self) -> bool {
        if self.z1 <= o.z0 || o.z1 <= self.z0 {
            return false;
        }
        // Far apart along x or y: no square roots needed.
        let reach = self.half_length + self.half_width + o.half_length + o.half_width;
        let d = self.centre - o.centre;
        if d.x.abs() >= reach || d.y.abs() >= reach {
            return false;
        }
        let rr = self.radius() + o.radius();
        if (self.centre - o.centre).length_sq() >= rr * rr {
            return false;
        }
        for axis in [self.axis, self.axis.perp(), o.axis, o.axis.perp()] {
            let (a0, a1) = self.project(axis);
            let (b0, b1) = o.project(axis);
            if a1 <= b0 + 1e-9 || b1 <= a0 + 1e-9 {
                return false;
            }
        }
        true
    }

    /// Distance from `p` to the footprint (0 inside).
    pub fn distance(&self, p: Vec2) -> f64 {
        let d = p - self.centre;
        let u = d.dot(self.axis).abs() - self.half_length;
        let v = d.dot(self.axis.perp()).abs() - self.half_width;
        let (u, v) = (u.max(0.0), v.max(0.0));
        (u * u + v * v).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    fn bx(x: f64, y: f64, yaw: f64) -> Obb {
        Obb::new(Vec2::new(x, y), yaw, 4.0, 2.0, 0.0, 1.5)
    }

    #[test]
    fn axis_aligned_overlap_and_separation() {
        assert!(bx(0.0, 0.0, 0.0).overlaps(&bx(3.9, 0.0, 0.0)));
        assert!(!bx(0.0, 0.0, 0.0).overlaps(&bx(4.1, 0.0, 0.0)));
        assert!(!bx(0.0, 0.0, 0.0).overlaps(&bx(4.0, 0.0, 0.0)));
        assert!(bx(0.0, 0.0, 0.0).overlaps(&bx(0.0, 1.9, 0.0)));
        assert!(!bx(0.0, 0.0, 0.0).overlaps(&bx(0.0, 2.1, 0.0)));
    }

    #[test]
    fn rotated_boxes_need_all_axes() {
        // A box rotated 45° whose corner would be inside the other's
        // circle-and-axis tests but is separated along its own axis.
        let a = bx(0.0, 0.0, 0.0);
        let b = bx(3.5, 2.6, PI / 4.0);
        assert!(!a.overlaps(&b));
        let b = bx(2.5, 1.5, PI / 4.0);
        assert!(a.overlaps(&b));
        // Perpendicular T-bone.
        assert!(a.overlaps(&bx(2.5, 0.0, PI / 2.0)));
        assert!(!a.overlaps(&bx(3.1, 0.0, PI / 2.0)));
    }

    #[test]
    fn height_ranges_matter() {
        let a = bx(0.0, 0.0, 0.0);
        let mut b = bx(0.0, 0.0, 0.0);
        b.z0 = 2.0;
        b.z1 = 3.0;
        assert!(!a.overlaps(&b));
    }

    #[test]
    fn point_distance() {
        let a = bx(0.0, 0.0, PI / 2.0);
        assert_eq!(a.distance(Vec2::new(0.0, 1.0)), 0.0);
        assert!((a.distance(Vec2::new(0.0, 5.0)) - 3.0).abs() < 1e-12);
        assert!((a.distance(Vec2::new(4.0, 6.0)) - 5.0).abs() < 1e-12);
    }
}
