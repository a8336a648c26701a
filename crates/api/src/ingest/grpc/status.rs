//! gRPC status: the codes we answer with, and how a status travels back to the client,
//! either in the trailers after a response message or alone in the response headers
//! ("Trailers-Only"). Retry advice rides in `grpc-status-details-bin` as a
//! `google.rpc.Status` holding a `google.rpc.RetryInfo`, which OTLP exporters read
//! to decide whether and when to retry.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use prost::Message;

/// The gRPC status codes this server sends (numbers from the gRPC specification).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    /// Success.
    Ok = 0,
    /// The request ran past its deadline.
    DeadlineExceeded = 4,
    /// The payload can never succeed as sent (undecodable protobuf, bad gzip).
    InvalidArgument = 3,
    /// Too large a message, or too many requests at once (then with retry advice).
    ResourceExhausted = 8,
    /// Unknown method, or a message compression we do not speak.
    Unimplemented = 12,
    /// A violation of the gRPC framing.
    Internal = 13,
    /// Storage cannot take writes now; retry later.
    Unavailable = 14,
}

impl Code {
    /// The code's name as the specification spells it, for metrics and logs.
    pub fn name(self) -> &'static str {
        match self {
            Code::Ok => "OK",
            Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
            Code::InvalidArgument => "INVALID_ARGUMENT",
            Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Code::Unimplemented => "UNIMPLEMENTED",
            Code::Internal => "INTERNAL",
            Code::Unavailable => "UNAVAILABLE",
        }
    }
}

/// A gRPC status: a code, a message for the operator, and optionally how long the
/// client should wait before it retries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// The code.
    pub code: Code,
    /// What went wrong, in words an operator can act on.
    pub message: String,
    /// Sent as `google.rpc.RetryInfo.retry_delay`: the request may succeed later.
    pub retry_after: Option<Duration>,
}

impl Status {
    /// A status without retry advice.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), retry_after: None }
    }

    /// The same status, telling the client to retry after `delay`.
    pub fn retry_after(mut self, delay: Duration) -> Self {
        self.retry_after = Some(delay);
        self
    }

    /// `grpc-status`, `grpc-message` and, with retry advice, `grpc-status-details-bin`.
    pub fn trailers(&self) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert("grpc-status", HeaderValue::from(self.code as u16));
        if !self.message.is_empty() {
            let encoded = percent_encode(&self.message);
            if let Ok(value) = HeaderValue::from_str(&encoded) {
                map.insert("grpc-message", value);
            }
        }
        if let Some(delay) = self.retry_after {
            let details = RpcStatus {
                code: self.code as i32,
                message: self.message.clone(),
                details: vec![Any {
                    type_url: "type.googleapis.com/google.rpc.RetryInfo".to_owned(),
                    value: RetryInfo {
                        retry_delay: Some(ProtoDuration {
                            seconds: i64::try_from(delay.as_secs()).unwrap_or(i64::MAX),
                            nanos: delay.subsec_nanos() as i32,
                        }),
                    }
                    .encode_to_vec(),
                }],
            };
            if let Ok(value) = HeaderValue::from_str(&base64(&details.encode_to_vec())) {
                map.insert(HeaderName::from_static("grpc-status-details-bin"), value);
            }
        }
        map
    }

    /// A "Trailers-Only" response: HTTP 200 whose headers carry the status and whose
    /// body is empty.
    pub fn into_response(self) -> Response {
        let mut response = Response::new(Body::empty());
        let headers = response.headers_mut();
        headers.insert("content-type", HeaderValue::from_static("application/grpc"));
        headers.extend(self.trailers());
        response
    }

    /// Like [`Status::into_response`] with another HTTP status, for requests that are
    /// not gRPC at all (a wrong `Content-Type` gets 415, as the gRPC specification asks).
    pub fn into_http_response(self, status: StatusCode) -> Response {
        let message = format!("{}\n", self.message);
        let mut response = self.into_response();
        *response.status_mut() = status;
        response.headers_mut().insert("content-type", HeaderValue::from_static("text/plain; charset=utf-8"));
        *response.body_mut() = Body::from(message);
        response
    }
}

/// `google.rpc.Status`.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<Any>,
}

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, prost::Message)]
struct Any {
    #[prost(string, tag = "1")]
    type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    value: Vec<u8>,
}

/// `google.rpc.RetryInfo`.
#[derive(Clone, PartialEq, prost::Message)]
struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    retry_delay: Option<ProtoDuration>,
}

/// `google.protobuf.Duration`.
#[derive(Clone, PartialEq, prost::Message)]
struct ProtoDuration {
    #[prost(int64, tag = "1")]
    seconds: i64,
    #[prost(int32, tag = "2")]
    nanos: i32,
}

/// `grpc-message` encoding: bytes outside printable ASCII, and `%` itself, become
/// `%XX` (gRPC over HTTP/2, "Responses").
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        if (0x20..=0x7e).contains(&b) && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Standard base64 with padding (RFC 4648 section 4), which gRPC accepts for `-bin`
/// headers.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | (u32::from(b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        let cases =
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE=")];
        for (plain, encoded) in cases {
            assert_eq!(base64(plain.as_bytes()), encoded, "{plain:?}");
        }
        assert_eq!(base64(&[0xff, 0xfe, 0xfd]), "//79");
    }

    #[test]
    fn messages_are_percent_encoded() {
        assert_eq!(percent_encode("50% off: ünï\n"), "50%25 off: %C3%BCn%C3%AF%0A");
    }

    #[test]
    fn retry_advice_round_trips_through_the_details_header() {
        let status = Status::new(Code::Unavailable, "disk full").retry_after(Duration::from_millis(5500));
        let trailers = status.trailers();
        assert_eq!(trailers["grpc-status"], "14");
        assert_eq!(trailers["grpc-message"], "disk full");
        let b64 = trailers["grpc-status-details-bin"].to_str().unwrap();
        let bytes = decode_base64(b64);
        let details = RpcStatus::decode(bytes.as_slice()).unwrap();
        assert_eq!(details.code, 14);
        assert_eq!(details.details[0].type_url, "type.googleapis.com/google.rpc.RetryInfo");
        let info = RetryInfo::decode(details.details[0].value.as_slice()).unwrap();
        assert_eq!(info.retry_delay, Some(ProtoDuration { seconds: 5, nanos: 500_000_000 }));
        assert!(Status::new(Code::InvalidArgument, "x").trailers().get("grpc-status-details-bin").is_none());
    }

    fn decode_base64(text: &str) -> Vec<u8> {
        let value = |c: u8| {
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".iter().position(|&a| a == c).unwrap()
                as u32
        };
        let mut out = Vec::new();
        for chunk in text.as_bytes().chunks(4) {
            let digits: Vec<u32> = chunk.iter().filter(|&&c| c != b'=').map(|&c| value(c)).collect();
            let n = digits.iter().enumerate().fold(0u32, |n, (i, d)| n | (d << (18 - 6 * i)));
            for i in 0..digits.len().saturating_sub(1) {
                out.push((n >> (16 - 8 * i)) as u8);
            }
        }
        out
    }
}
