//! Transition shapes of OpenSCENARIO dynamics, and the durations that
//! dimensions (time, distance, rate) give them.

use crate::model::{Dimension, Dynamics, Shape};

/// Fraction of the change done at normalised time `x` in [0, 1].
pub fn fraction(shape: Shape, x: f64) -> f64 {
    let x = x.clamp(0.0, 1.0);
    match shape {
        Shape::Step => 1.0,
        Shape::Linear => x,
        Shape::Cubic => x * x * (3.0 - 2.0 * x),
        Shape::Sinusoidal => 0.5 * (1.0 - (std::f64::consts::PI * x).cos()),
    }
}

/// Peak rate of the shape relative to the mean rate (change / duration).
pub fn peak_factor(shape: Shape) -> f64 {
    match shape {
        Shape::Step | Shape::Linear => 1.0,
        Shape::Cubic => 1.5,
        Shape::Sinusoidal => std::f64::consts::FRAC_PI_2,
    }
}

/// How long a change of `delta` takes: `None` when it never completes
/// (a zero rate with something to change). For the distance dimension the
/// duration follows from the mean speed `mean_speed` over the change.
pub fn duration(d: &Dynamics, delta: f64, mean_speed: f64) -> Option<f64> {
    if d.shape == Shape::Step || delta.abs() < 1e-12 {
        return Some(0.0);
    }
    match d.dimension {
        Dimension::Time => Some(d.value),
        Dimension::Distance => {
            if mean_speed > 1e-9 {
                Some(d.value / mean_speed)
            } else {
                None
            }
        }
        Dimension::Rate => {
            if d.value > 0.0 {
                Some(peak_factor(d.shape) * delta.abs() / d.value)
            } else {
                None
            }
        }
    }
}

/// Duration of a lateral move of `delta` metres whose peak lateral
/// acceleration is `acc`.
pub fn duration_for_lateral_acc(shape: Shape, delta: f64, acc: f64) -> f64 {
    let d = delta.abs();
    if shape == Shape::Step || d < 1e-12 || acc <= 0.0 {
        return 0.0;
    }
    match shape {
        // y = d(1 - cos(pi x))/2: peak y'' = d pi^2 / (2 T^2).
        Shape::Sinusoidal => std::f64::consts::PI * (d / (2.0 * acc)).sqrt(),
        // y = d(3x^2 - 2x^3): peak y'' = 6 d / T^2.
        Shape::Cubic => (6.0 * d / acc).sqrt(),
        // Accelerate then brake at acc: T = 2 sqrt(d / acc).
        _ => 2.0 * (d / acc).sqrt(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dynamics(shape: Shape, dimension: Dimension, value: f64) -> Dynamics {
        Dynamics {
            shape,
            dimension,
            value,
        }
    }

    #[test]
    fn shapes_start_at_zero_end_at_one_and_are_symmetric() {
        for s in [Shape::Linear, Shape::Cubic, Shape::Sinusoidal] {
            assert_eq!(fraction(s, 0.0), 0.0);
            assert!((fraction(s, 1.0) - 1.0).abs() < 1e-12);
            assert!((fraction(s, 0.5) - 0.5).abs() < 1e-12);
            assert!((fraction(s, 0.25) + fraction(s, 0.75) - 1.0).abs() < 1e-12);
        }
        assert_eq!(fraction(Shape::Step, 0.0), 1.0);
        assert!((fraction(Shape::Cubic, 0.25) - 0.156_25).abs() < 1e-12);
        assert!((fraction(Shape::Sinusoidal, 0.25) - (1.0 - 0.5f64.sqrt()) / 2.0).abs() < 1e-12);
    }

    #[test]
    fn durations_by_dimension() {
        // 10 m/s change at 2 m/s^2 linear: 5 s; sinusoidal peaks at pi/2 the mean.
        let lin = dynamics(Shape::Linear, Dimension::Rate, 2.0);
        assert_eq!(duration(&lin, 10.0, 0.0), Some(5.0));
        let sin = dynamics(Shape::Sinusoidal, Dimension::Rate, 2.0);
        assert!((duration(&sin, -10.0, 0.0).unwrap() - 2.5 * std::f64::consts::PI).abs() < 1e-12);
        let cub = dynamics(Shape::Cubic, Dimension::Rate, 3.0);
        assert_eq!(duration(&cub, 10.0, 0.0), Some(5.0));
        // 100 m while going from 10 to 30 m/s: mean 20 m/s, 5 s.
        let dist = dynamics(Shape::Linear, Dimension::Distance, 100.0);
        assert_eq!(duration(&dist, 20.0, 20.0), Some(5.0));
        let time = dynamics(Shape::Cubic, Dimension::Time, 4.0);
        assert_eq!(duration(&time, 3.0, 0.0), Some(4.0));
        // A zero rate never gets there; no change is done at once.
        let zero = dynamics(Shape::Linear, Dimension::Rate, 0.0);
        assert_eq!(duration(&zero, 1.0, 0.0), None);
        assert_eq!(duration(&zero, 0.0, 0.0), Some(0.0));
        assert_eq!(
            duration(&dynamics(Shape::Step, Dimension::Time, 9.0), 5.0, 0.0),
            Some(0.0)
        );
    }

    #[test]
    fn lateral_acceleration_limits() {
        // 1.5 m sinusoidal at 0.3 m/s^2: T = pi sqrt(1.5 / 0.6).
        let t = duration_for_lateral_acc(Shape::Sinusoidal, 1.5, 0.3);
        assert!((t - std::f64::consts::PI * 2.5f64.sqrt()).abs() < 1e-12);
        // The peak of the second derivative of d(1-cos(pi t/T))/2 is acc.
        let peak = 1.5 * std::f64::consts::PI.powi(2) / (2.0 * t * t);
        assert!((peak - 0.3).abs() < 1e-12);
        assert!((duration_for_lateral_acc(Shape::Cubic, 2.0, 3.0) - 2.0).abs() < 1e-12);
        assert_eq!(duration_for_lateral_acc(Shape::Step, 2.0, 3.0), 0.0);
    }
}
