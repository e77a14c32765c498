//! Image encoding for sensor frames: JPEG at a quality, PNG, or the raw
//! RGB8 bytes.

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder};
use thiserror::Error;

use super::Image;

/// How to encode a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// JPEG with quality 1–100.
    Jpeg {
        quality: u8,
    },
    Png,
    /// Interleaved RGB8, row-major, no header.
    Rgb8,
}

#[derive(Debug, Error)]
pub enum EncodeError {
    #[error("jpeg_quality: {0} is outside 1-100")]
    Quality(u8),
    #[error("image buffer holds {got} bytes, {width}x{height} RGB8 needs {want}")]
    Size {
        width: u32,
        height: u32,
        got: usize,
        want: usize,
    },
    #[error("encoding failed: {0}")]
    Codec(#[from] image::ImageError),
}

/// Encodes an image.
pub fn encode(img: &Image, enc: Encoding) -> Result<Vec<u8>, EncodeError> {
    let want = img.width as usize * img.height as usize * 3;
    if img.data.len() != want {
        return Err(EncodeError::Size {
            width: img.width,
            height: img.height,
            got: img.data.len(),
            want,
        });
    }
    match enc {
        Encoding::Rgb8 => Ok(img.data.clone()),
        Encoding::Jpeg { quality } => {
            if !(1..=100).contains(&quality) {
                return Err(EncodeError::Quality(quality));
            }
            let mut out = Vec::with_capacity(want / 8);
            JpegEncoder::new_with_quality(&mut out, quality).encode(
                &img.data,
                img.width,
                img.height,
                ExtendedColorType::Rgb8,
            )?;
            Ok(out)
        }
        Encoding::Png => {
            let mut out = Vec::with_capacity(want / 2);
            PngEncoder::new(&mut out).write_image(
                &img.data,
                img.width,
                img.height,
                ExtendedColorType::Rgb8,
            )?;
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient() -> Image {
        let mut img = Image::new(64, 32);
        for y in 0..32 {
            for x in 0..64 {
                img.put(x, y, [(x * 4) as u8, (y * 8) as u8, 128]);
            }
        }
        img
    }

    #[test]
    fn png_round_trips_exactly() {
        let img = gradient();
        let png = encode(&img, Encoding::Png).unwrap();
        let back = image::load_from_memory(&png).unwrap().to_rgb8();
        assert_eq!(back.as_raw(), &img.data);
    }

    #[test]
    fn jpeg_decodes_close_to_the_source() {
        let img = gradient();
        let jpg = encode(&img, Encoding::Jpeg { quality: 95 }).unwrap();
        assert_eq!(&jpg[..2], &[0xFF, 0xD8]);
        let back = image::load_from_memory(&jpg).unwrap().to_rgb8();
        assert_eq!((back.width(), back.height()), (64, 32));
        let err: f64 = back
            .as_raw()
            .iter()
            .zip(&img.data)
            .map(|(a, b)| (*a as f64 - *b as f64).abs())
            .sum::<f64>()
            / img.data.len() as f64;
        assert!(err < 4.0, "{err}");
    }

    #[test]
    fn rejects_bad_quality_and_sizes() {
        let img = gradient();
        assert!(matches!(
            encode(&img, Encoding::Jpeg { quality: 0 }),
            Err(EncodeError::Quality(0))
        ));
        let mut bad = img.clone();
        bad.data.pop();
        assert!(matches!(
            encode(&bad, Encoding::Rgb8),
            Err(EncodeError::Size { .. })
        ));
        assert_eq!(encode(&img, Encoding::Rgb8).unwrap(), img.data);
    }
}
