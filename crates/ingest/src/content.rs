//! Content negotiation and body decompression.
//!
//! Decompression writes into a caller-owned buffer so that a worker can reuse one
//! allocation across requests, and checks [`Limits::max_body_bytes`] *before*
//! allocating, so a small compressed body cannot claim gigabytes.

use std::io::Read;

use crate::error::{Error, Result};
use crate::limits::Limits;

/// The remote_write protocol version a request uses, from its `Content-Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RemoteWriteVersion {
    /// Remote write 1.0: `prometheus.WriteRequest`.
    V1,
    /// Remote write 2.0: `io.prometheus.write.v2.Request`.
    V2,
}

const RW_EXPECTED: &str =
    "application/x-protobuf (proto=prometheus.WriteRequest or proto=io.prometheus.write.v2.Request)";

/// Chooses the remote_write version from the `Content-Type` and `Content-Encoding`
/// headers (pass `None` for an absent header).
///
/// `application/x-protobuf` without a `proto` parameter, or with
/// `proto=prometheus.WriteRequest`, is 1.0; `proto=io.prometheus.write.v2.Request` is
/// 2.0. As in Prometheus, an absent `Content-Type` means 1.0 (old senders omit it).
/// Anything else fails with [`Error::UnsupportedContentType`] (415). The encoding must
/// be `snappy`, otherwise [`Error::UnsupportedEncoding`] (415).
pub fn negotiate_remote_write(
    content_type: Option<&str>,
    content_encoding: Option<&str>,
) -> Result<RemoteWriteVersion> {
    let encoding = content_encoding.unwrap_or("").trim();
    if !encoding.eq_ignore_ascii_case("snappy") {
        return Err(Error::UnsupportedEncoding { encoding: encoding.to_owned(), expected: "snappy" });
    }
    let Some(content_type) = content_type else { return Ok(RemoteWriteVersion::V1) };
    let unsupported = || Error::UnsupportedContentType { content_type: content_type.to_owned(), expected: RW_EXPECTED };
    let mut parts = content_type.split(';');
    let media = parts.next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("application/x-protobuf") {
        return Err(unsupported());
    }
    let mut version = RemoteWriteVersion::V1;
    for param in parts {
        let Some((key, value)) = param.split_once('=') else { continue };
        if key.trim().eq_ignore_ascii_case("proto") {
            version = match value.trim().trim_matches('"') {
                "prometheus.WriteRequest" => RemoteWriteVersion::V1,
                "io.prometheus.write.v2.Request" => RemoteWriteVersion::V2,
                _ => return Err(unsupported()),
            };
        }
    }
    Ok(version)
}

/// The body format of an OTLP/HTTP request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OtlpFormat {
    /// Binary protobuf (`application/x-protobuf`).
    Protobuf,
    /// The OTLP/JSON mapping (`application/json`).
    Json,
}

/// Whether an OTLP/HTTP body is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OtlpEncoding {
    /// Not compressed.
    Identity,
    /// `Content-Encoding: gzip`.
    Gzip,
}

/// Chooses the OTLP body format and compression from the request headers; other
/// content types fail with 415, as do encodings other than `gzip` and `identity`.
pub fn negotiate_otlp(
    content_type: Option<&str>,
    content_encoding: Option<&str>,
) -> Result<(OtlpFormat, OtlpEncoding)> {
    let ct = content_type.unwrap_or("");
    let media = ct.split(';').next().unwrap_or("").trim();
    let format = if media.eq_ignore_ascii_case("application/x-protobuf") {
        OtlpFormat::Protobuf
    } else if media.eq_ignore_ascii_case("application/json") {
        OtlpFormat::Json
    } else {
        let expected = "application/x-protobuf or application/json";
        return Err(Error::UnsupportedContentType { content_type: ct.to_owned(), expected });
    };
    let enc = content_encoding.unwrap_or("").trim();
    let encoding = if enc.eq_ignore_ascii_case("gzip") {
        OtlpEncoding::Gzip
    } else if enc.is_empty() || enc.eq_ignore_ascii_case("identity") {
        OtlpEncoding::Identity
    } else {
        return Err(Error::UnsupportedEncoding { encoding: enc.to_owned(), expected: "gzip or none" });
    };
    Ok((format, encoding))
}

/// Decompresses a snappy *block* (not the framed stream format) into `out`, which
/// is cleared first and keeps its capacity for the next call.
///
/// Fails with [`Error::BodyTooLarge`] if the block claims more than the body limit
/// (checked before allocating), and with [`Error::Snappy`] if it is truncated or corrupt.
pub fn snappy_decompress_into(body: &[u8], limits: &Limits, out: &mut Vec<u8>) -> Result<()> {
    let len = snap::raw::decompress_len(body).map_err(Error::Snappy)?;
    limits.check_body(len)?;
    out.clear();
    out.resize(len, 0);
    let n = snap::raw::Decoder::new().decompress(body, out).map_err(Error::Snappy)?;
    out.truncate(n);
    Ok(())
}

/// Decompresses a gzip body (one or more members) into `out`, which is cleared
/// first; stops with [`Error::BodyTooLarge`] as soon as the output passes the limit.
pub fn gunzip_into(body: &[u8], limits: &Limits, out: &mut Vec<u8>) -> Result<()> {
    out.clear();
    let limit = limits.max_body_bytes;
    let mut reader = flate2::read::MultiGzDecoder::new(body).take(limit as u64 + 1);
    reader.read_to_end(out).map_err(Error::Gzip)?;
    limits.check_body(out.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_write_negotiation() {
        let s = Some("snappy");
        let v2 = "application/x-protobuf;proto=io.prometheus.write.v2.Request";
        assert_eq!(negotiate_remote_write(Some(v2), s).unwrap(), RemoteWriteVersion::V2);
        assert_eq!(negotiate_remote_write(Some("application/x-protobuf"), s).unwrap(), RemoteWriteVersion::V1);
        let v1 = "application/x-protobuf; proto=prometheus.WriteRequest";
        assert_eq!(negotiate_remote_write(Some(v1), s).unwrap(), RemoteWriteVersion::V1);
        assert_eq!(negotiate_remote_write(None, s).unwrap(), RemoteWriteVersion::V1);
        for bad in ["application/json", "text/plain", "application/x-protobuf;proto=foo.Bar"] {
            let err = negotiate_remote_write(Some(bad), s).unwrap_err();
            assert_eq!(err.http_status(), 415, "{bad}");
            assert!(err.to_string().contains(bad));
        }
        let err = negotiate_remote_write(Some("application/x-protobuf"), Some("gzip")).unwrap_err();
        assert!(matches!(err, Error::UnsupportedEncoding { .. }));
        assert_eq!(negotiate_remote_write(None, None).unwrap_err().http_status(), 415);
    }

    #[test]
    fn otlp_negotiation() {
        let got = negotiate_otlp(Some("application/json; charset=utf-8"), Some("gzip")).unwrap();
        assert_eq!(got, (OtlpFormat::Json, OtlpEncoding::Gzip));
        assert_eq!(negotiate_otlp(Some("application/x-protobuf"), None).unwrap().0, OtlpFormat::Protobuf);
        assert_eq!(negotiate_otlp(Some("text/plain"), None).unwrap_err().http_status(), 415);
        assert_eq!(negotiate_otlp(Some("application/json"), Some("br")).unwrap_err().http_status(), 415);
    }

    #[test]
    fn snappy_round_trip_and_errors() {
        let data = b"hello hello hello hello".repeat(10);
        let compressed = snap::raw::Encoder::new().compress_vec(&data).unwrap();
        let mut out = Vec::new();
        snappy_decompress_into(&compressed, &Limits::default(), &mut out).unwrap();
        assert_eq!(out, data);
        let truncated = &compressed[..compressed.len() / 2];
        assert!(matches!(snappy_decompress_into(truncated, &Limits::default(), &mut out), Err(Error::Snappy(_))));
        let small = Limits { max_body_bytes: 10, ..Limits::default() };
        assert_eq!(snappy_decompress_into(&compressed, &small, &mut out).unwrap_err().http_status(), 413);
    }

    #[test]
    fn gzip_round_trip_and_errors() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&[b'a'; 1000]).unwrap();
        let gz = enc.finish().unwrap();
        let mut out = Vec::new();
        gunzip_into(&gz, &Limits::default(), &mut out).unwrap();
        assert_eq!(out.len(), 1000);
        let small = Limits { max_body_bytes: 999, ..Limits::default() };
        assert_eq!(gunzip_into(&gz, &small, &mut out).unwrap_err().http_status(), 413);
        assert!(matches!(gunzip_into(b"not gzip", &Limits::default(), &mut out), Err(Error::Gzip(_))));
    }
}
