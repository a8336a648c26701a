//! The one error type of `wk-ingest`.
//!
//! An [`Error`] rejects a whole request: the payload cannot be decoded at all, is
//! too large, or arrived with a content type or encoding we do not speak. Problems
//! with single series inside a decodable request are not errors; they become
//! [`Rejection`](crate::Rejection)s in the returned [`Batch`](crate::Batch), and the
//! rest of the request is accepted. Every variant names what is wrong (the field,
//! the series index, the label, the line and column) and maps to an HTTP status with
//! [`Error::http_status`].

/// The result type of every fallible `wk-ingest` operation.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that makes a whole ingestion request undecodable.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The `Content-Type` header names a format this endpoint does not accept.
    #[error("unsupported Content-Type {content_type:?}; expected {expected}")]
    UnsupportedContentType {
        /// The header value as received (empty if absent).
        content_type: String,
        /// The accepted media types, for the message.
        expected: &'static str,
    },

    /// The `Content-Encoding` header names an encoding this endpoint does not accept.
    #[error("unsupported Content-Encoding {encoding:?}; expected {expected}")]
    UnsupportedEncoding {
        /// The header value as received (empty if absent).
        encoding: String,
        /// The accepted encodings, for the message.
        expected: &'static str,
    },

    /// The body is not a valid snappy block (truncated, corrupt, or not snappy at all).
    #[error("body is not a valid snappy block: {0}")]
    Snappy(#[source] snap::Error),

    /// The body is not a valid gzip stream.
    #[error("body is not a valid gzip stream: {0}")]
    Gzip(#[source] std::io::Error),

    /// The (decompressed) body exceeds [`Limits::max_body_bytes`](crate::Limits::max_body_bytes).
    #[error("decompressed body of {size} bytes exceeds the limit of {limit} bytes")]
    BodyTooLarge {
        /// The size in bytes, as far as it is known when the limit was hit.
        size: usize,
        /// The configured limit in bytes.
        limit: usize,
    },

    /// The body is not a valid protobuf encoding of the expected message.
    #[error("invalid protobuf {message}: {source}")]
    Protobuf {
        /// The fully qualified message name, such as `prometheus.WriteRequest`.
        message: &'static str,
        /// What prost reported, with the field path where it knows it.
        #[source]
        source: prost::DecodeError,
    },

    /// The body is not valid OTLP/JSON; the message carries the line and column.
    #[error("invalid OTLP/JSON body: {0}")]
    Json(#[source] serde_json::Error),

    /// A string field is not valid UTF-8, which protobuf does not allow.
    #[error("series {series}: {field} {index} is not valid UTF-8")]
    InvalidUtf8 {
        /// Index of the series in the request.
        series: usize,
        /// The field, such as `"label name"` or `"symbol"`.
        field: &'static str,
        /// Index of the item inside its list.
        index: usize,
    },

    /// A remote_write 2.0 symbol is not valid UTF-8.
    #[error("symbols[{index}] is not valid UTF-8")]
    InvalidUtf8Symbol {
        /// Index of the symbol in the symbol table.
        index: usize,
    },

    /// A remote_write 2.0 reference points outside the symbol table.
    #[error("series {series}: {field} reference {reference} is out of range (the symbol table has {symbols} entries)")]
    SymbolRefOutOfRange {
        /// Index of the series in the request.
        series: usize,
        /// The reference field, such as `"label name"` or `"help"`.
        field: &'static str,
        /// The reference as received.
        reference: u32,
        /// The length of the symbol table.
        symbols: usize,
    },

    /// A remote_write 2.0 series has an odd number of label references.
    #[error("series {series}: labels_refs has {len} entries, expected an even number (name, value pairs)")]
    OddLabelRefs {
        /// Index of the series in the request.
        series: usize,
        /// The number of references received.
        len: usize,
    },

    /// A non-empty remote_write 2.0 symbol table does not start with the empty string.
    #[error("symbols[0] must be the empty string, got {first:?}")]
    FirstSymbolNotEmpty {
        /// The first symbol as received.
        first: String,
    },

    /// A line of InfluxDB line protocol cannot be parsed.
    #[error("line protocol line {line}, column {column}: {reason}")]
    LineProtocol {
        /// 1-based line number in the (decompressed) body.
        line: usize,
        /// 1-based byte column in that line.
        column: usize,
        /// What is wrong, for the operator.
        reason: String,
    },

    /// The `precision` query parameter of a line protocol write is not known.
    #[error("unknown precision {precision:?}; expected one of {expected}")]
    InvalidPrecision {
        /// The value as received.
        precision: String,
        /// The accepted values, for the message.
        expected: &'static str,
    },

    /// The request holds more series than [`Limits::max_series_per_request`](crate::Limits::max_series_per_request).
    #[error("request holds at least {count} series, more than the limit of {limit}; split it into smaller requests")]
    TooManySeries {
        /// The number of series counted when the limit was hit (decoders may stop counting there).
        count: usize,
        /// The configured limit.
        limit: usize,
    },

    /// The request holds more samples than [`Limits::max_samples_per_request`](crate::Limits::max_samples_per_request).
    #[error("request holds at least {count} samples, more than the limit of {limit}; split it into smaller requests")]
    TooManySamples {
        /// The number of samples counted when the limit was hit (decoders may stop counting there).
        count: usize,
        /// The configured limit.
        limit: usize,
    },
}

impl Error {
    /// The HTTP status an API handler answers with: 415 for a content type or
    /// encoding we do not speak, 413 for a request over a size limit, and 400 for
    /// a payload that can never succeed as sent.
    pub fn http_status(&self) -> u16 {
        match self {
            Error::UnsupportedContentType { .. } | Error::UnsupportedEncoding { .. } => 415,
            Error::BodyTooLarge { .. } | Error::TooManySeries { .. } | Error::TooManySamples { .. } => 413,
            _ => 400,
        }
    }

    /// Whether sending the same request again can succeed. Always `false`: every
    /// decoding error is a property of the payload, so senders must not retry it
    /// (remote_write senders retry only 5xx and 429).
    pub fn is_retryable(&self) -> bool {
        false
    }
}
