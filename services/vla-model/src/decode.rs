//! Camera image decoding: JPEG and PNG, recognised by their magic bytes
//! (§5.6 of the egodriver contract), into 8-bit RGB.
//!
//! Decoding is CPU work; the server calls [`decode_image`] on a blocking
//! thread. Dimension and allocation limits keep a hostile image (a
//! decompression bomb) from exhausting memory.

use std::io::Cursor;

use image::{ImageFormat, ImageReader, Limits, RgbImage};

use crate::observation::ImageEncoding;

/// Largest accepted width or height, px.
pub const MAX_IMAGE_SIDE: u32 = 16_384;

/// Largest allocation one decode may make.
const MAX_DECODE_BYTES: u64 = 1 << 30;

/// Why image bytes were refused.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("image bytes are empty")]
    Empty,
    #[error("image bytes are neither JPEG (FF D8 FF) nor PNG (89 50 4E 47); first bytes {0:02X?}")]
    UnknownFormat(Vec<u8>),
    #[error("{encoding:?} image does not decode: {source}")]
    Corrupt {
        encoding: ImageEncoding,
        source: image::ImageError,
    },
    #[error("image is {width}x{height} px; zero-sized images are not accepted")]
    ZeroSized { width: u32, height: u32 },
}

/// The encoding `bytes` declares by its magic number.
pub fn sniff(bytes: &[u8]) -> Result<ImageEncoding, DecodeError> {
    if bytes.is_empty() {
        Err(DecodeError::Empty)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Ok(ImageEncoding::Jpeg)
    } else if bytes.starts_with(&[0x89, 0x50, 0x4E, 0x47]) {
        Ok(ImageEncoding::Png)
    } else {
        Err(DecodeError::UnknownFormat(
            bytes.iter().take(8).copied().collect(),
        ))
    }
}

/// Decodes one complete JPEG or PNG file into RGB.
pub fn decode_image(bytes: &[u8]) -> Result<(ImageEncoding, RgbImage), DecodeError> {
    let encoding = sniff(bytes)?;
    let format = match encoding {
        ImageEncoding::Jpeg => ImageFormat::Jpeg,
        ImageEncoding::Png => ImageFormat::Png,
    };
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits);
    let img = reader
        .decode()
        .map_err(|source| DecodeError::Corrupt { encoding, source })?;
    if img.width() == 0 || img.height() == 0 {
        return Err(DecodeError::ZeroSized {
            width: img.width(),
            height: img.height(),
        });
    }
    Ok((encoding, img.into_rgb8()))
}

/// Encodes `img` as JPEG; used to build synthetic frames (warm-up, tests).
pub fn encode_jpeg(img: &RgbImage, quality: u8) -> Result<Vec<u8>, image::ImageError> {
    let mut out = Vec::new();
    let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality);
    img.write_with_encoder(enc)?;
    Ok(out)
}

/// Encodes `img` as PNG.
pub fn encode_png(img: &RgbImage) -> Result<Vec<u8>, image::ImageError> {
    let mut out = Vec::new();
    img.write_with_encoder(image::codecs::png::PngEncoder::new(&mut out))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 4) as u8, (y * 4) as u8, 128]))
    }

    #[test]
    fn round_trips_jpeg_and_png() {
        let img = gradient(64, 36);
        let (enc, back) = decode_image(&encode_jpeg(&img, 90).unwrap()).unwrap();
        assert_eq!(enc, ImageEncoding::Jpeg);
        assert_eq!(back.dimensions(), (64, 36));
        let (enc, back) = decode_image(&encode_png(&img).unwrap()).unwrap();
        assert_eq!(enc, ImageEncoding::Png);
        assert_eq!(back, img);
    }

    #[test]
    fn refuses_garbage() {
        assert!(matches!(decode_image(&[]), Err(DecodeError::Empty)));
        assert!(matches!(
            decode_image(b"hello world"),
            Err(DecodeError::UnknownFormat(_))
        ));
        let mut fake_jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0];
        fake_jpeg.extend(std::iter::repeat_n(0x42, 200));
        assert!(matches!(
            decode_image(&fake_jpeg),
            Err(DecodeError::Corrupt { .. })
        ));
        let mut fake_png = vec![0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];
        fake_png.extend(std::iter::repeat_n(0x00, 100));
        assert!(matches!(
            decode_image(&fake_png),
            Err(DecodeError::Corrupt { .. })
        ));
    }

    #[test]
    fn refuses_a_truncated_png() {
        let bytes = encode_png(&gradient(64, 36)).unwrap();
        assert!(decode_image(&bytes[..bytes.len() / 2]).is_err());
    }
}
