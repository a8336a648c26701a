//! [`Decoder`]: one entry point per wire format, with a scratch buffer reused
//! across requests.

use crate::batch::Batch;
use crate::content::{
    OtlpEncoding, OtlpFormat, RemoteWriteVersion, gunzip_into, negotiate_otlp, negotiate_remote_write,
    snappy_decompress_into,
};
use crate::error::{Error, Result};
use crate::influx::{self, Precision};
use crate::limits::Limits;
use crate::remote_write::borrowed::{self, BorrowedBatch};
use crate::{otlp, remote_write};

/// A decoded remote_write request, as [`Decoder::remote_write_borrowed`] returns it.
#[derive(Debug)]
pub enum RemoteWriteBatch<'a> {
    /// Remote write 1.0, with labels borrowed from the decoder's buffer.
    Borrowed(BorrowedBatch<'a>),
    /// Remote write 2.0, or a 1.0 request only the reference decoder took.
    Owned(Batch),
}

/// Decodes ingestion requests of every supported format.
///
/// A `Decoder` owns the [`Limits`] and a decompression buffer that grows to the
/// largest body seen and is then reused, so a worker thread that keeps one decoder
/// allocates it once. It holds no other state; decoding is a pure function of the
/// body, the headers and `now_ms` (milliseconds since the epoch, used for the
/// future-timestamp limit and for line protocol points without a timestamp).
#[derive(Default)]
pub struct Decoder {
    limits: Limits,
    scratch: Vec<u8>,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The scratch buffer's bytes are a previous request's body: not worth printing.
        f.debug_struct("Decoder")
            .field("limits", &self.limits)
            .field("scratch_capacity", &self.scratch.capacity())
            .finish()
    }
}

impl Decoder {
    /// Creates a decoder with the given limits.
    pub fn new(limits: Limits) -> Self {
        Self { limits, scratch: Vec::new() }
    }

    /// The bytes the reusable decompression buffer holds allocated.
    pub fn scratch_capacity(&self) -> usize {
        self.scratch.capacity()
    }

    /// The limits this decoder applies.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Decodes a remote_write request (`POST /api/v1/write`), choosing 1.0 or 2.0
    /// from the headers as [`negotiate_remote_write`] does.
    pub fn remote_write(
        &mut self,
        body: &[u8],
        content_type: Option<&str>,
        content_encoding: Option<&str>,
        now_ms: i64,
    ) -> Result<Batch> {
        let version = negotiate_remote_write(content_type, content_encoding)?;
        remote_write::decode(version, body, &self.limits, now_ms, &mut self.scratch)
    }

    /// Decodes a remote_write request as [`Decoder::remote_write`] does (same
    /// content, rejections and errors), but a 1.0 request's labels borrow from
    /// this decoder's buffer instead of being copied into `String`s: the ingest
    /// server's path, which hands them to the appender (or a cache) directly.
    pub fn remote_write_borrowed(
        &mut self,
        body: &[u8],
        content_type: Option<&str>,
        content_encoding: Option<&str>,
        now_ms: i64,
    ) -> Result<RemoteWriteBatch<'_>> {
        let version = negotiate_remote_write(content_type, content_encoding)?;
        snappy_decompress_into(body, &self.limits, &mut self.scratch)?;
        match version {
            RemoteWriteVersion::V1 => match borrowed::try_decode(&self.scratch, &self.limits, now_ms) {
                Some(batch) => Ok(RemoteWriteBatch::Borrowed(batch)),
                None => remote_write::v1::decode(&self.scratch, &self.limits, now_ms).map(RemoteWriteBatch::Owned),
            },
            RemoteWriteVersion::V2 => {
                remote_write::v2::decode(&self.scratch, &self.limits, now_ms).map(RemoteWriteBatch::Owned)
            }
        }
    }

    /// Decodes an OTLP/HTTP metrics request (`POST /v1/metrics`), protobuf or JSON,
    /// optionally gzip-compressed, as the headers say.
    pub fn otlp(
        &mut self,
        body: &[u8],
        content_type: Option<&str>,
        content_encoding: Option<&str>,
        now_ms: i64,
    ) -> Result<Batch> {
        let (format, encoding) = negotiate_otlp(content_type, content_encoding)?;
        let bytes = decompress(body, encoding == OtlpEncoding::Gzip, &self.limits, &mut self.scratch)?;
        match format {
            OtlpFormat::Protobuf => otlp::decode_protobuf(bytes, &self.limits, now_ms),
            OtlpFormat::Json => otlp::decode_json(bytes, &self.limits, now_ms),
        }
    }

    /// Decodes an InfluxDB line protocol body (`/api/v2/write`, `/write`);
    /// `Content-Encoding` may be `gzip` or absent.
    pub fn influx(
        &mut self,
        body: &[u8],
        content_encoding: Option<&str>,
        precision: Precision,
        now_ms: i64,
    ) -> Result<Batch> {
        let gzip = match content_encoding.map(str::trim) {
            None | Some("") => false,
            Some(e) if e.eq_ignore_ascii_case("identity") => false,
            Some(e) if e.eq_ignore_ascii_case("gzip") => true,
            Some(e) => return Err(Error::UnsupportedEncoding { encoding: e.to_owned(), expected: "gzip or none" }),
        };
        let bytes = decompress(body, gzip, &self.limits, &mut self.scratch)?;
        influx::decode(bytes, precision, &self.limits, now_ms)
    }
}

/// Returns `body` itself, or its gzip decompression in `scratch`.
fn decompress<'a>(body: &'a [u8], gzip: bool, limits: &Limits, scratch: &'a mut Vec<u8>) -> Result<&'a [u8]> {
    if !gzip {
        limits.check_body(body.len())?;
        return Ok(body);
    }
    gunzip_into(body, limits, scratch)?;
    Ok(scratch)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn gzip_bodies_and_buffer_reuse() {
        let mut decoder = Decoder::new(Limits::default());
        let lp = gzip(b"m,host=a v=1 1000\n");
        let batch = decoder.influx(&lp, Some("gzip"), Precision::Seconds, 2_000_000).unwrap();
        assert_eq!(batch.series[0].samples[0].t_ms, 1_000_000);
        let json = gzip(br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"g","gauge":{"dataPoints":[{"asInt":2}]}}]}]}]}"#);
        let batch = decoder.otlp(&json, Some("application/json"), Some("gzip"), 0).unwrap();
        assert_eq!(batch.series[0].metric_name(), "g");
        assert!(format!("{decoder:?}").contains("scratch_capacity"));
    }

    #[test]
    fn header_errors_are_415_and_bad_bodies_400() {
        let mut decoder = Decoder::new(Limits::default());
        let err = decoder.influx(b"m v=1", Some("br"), Precision::Nanoseconds, 0).unwrap_err();
        assert_eq!(err.http_status(), 415);
        let err = decoder.otlp(b"{}", Some("text/plain"), None, 0).unwrap_err();
        assert_eq!(err.http_status(), 415);
        let err = decoder.remote_write(b"\xff\xff\xff", None, Some("snappy"), 0).unwrap_err();
        assert_eq!(err.http_status(), 400);
        let err = decoder.influx(b"not gzip", Some("gzip"), Precision::Nanoseconds, 0).unwrap_err();
        assert!(matches!(err, Error::Gzip(_)), "{err}");
    }

    #[test]
    fn body_limit_applies_to_uncompressed_bodies() {
        let mut decoder = Decoder::new(Limits { max_body_bytes: 4, ..Limits::default() });
        let err = decoder.influx(b"m v=1", None, Precision::Nanoseconds, 0).unwrap_err();
        assert_eq!(err.http_status(), 413);
    }
}
