//! Inference on encoded features: one forward pass for any number of
//! samples, answers as plain poses.

use candle_core::DType;

use crate::Error;
use crate::features::{Batch, Features};
use crate::model::DrivingModel;

/// Planned rig-frame poses `(x, y, yaw)` at 0.1 s, 0.2 s, … for each
/// sample, in input order. Every value is checked to be finite.
pub fn predict(model: &DrivingModel, samples: &[&Features]) -> Result<Vec<Vec<[f32; 3]>>, Error> {
    let batch = Batch::new(model.config(), samples, model.device(), model.dtype())?;
    let out = model.forward(&batch)?.to_dtype(DType::F32)?;
    let rows: Vec<Vec<Vec<f32>>> = out.to_vec3()?;
    rows.into_iter()
        .enumerate()
        .map(|(i, row)| {
            row.into_iter()
                .map(|p| {
                    let pose = [p[0], p[1], p[2]];
                    if pose.iter().all(|v| v.is_finite()) {
                        Ok(pose)
                    } else {
                        Err(Error::Input(format!(
                            "the model produced a non-finite pose for sample {i}"
                        )))
                    }
                })
                .collect()
        })
        .collect()
}
