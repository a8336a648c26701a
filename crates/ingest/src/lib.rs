//! `wk-ingest`: pure wire-format decoders for push ingestion.
//!
//! Every decoder is a function from bytes to a [`Batch`] (or an [`Error`] that
//! names what is wrong and maps to an HTTP status). No I/O, no async, no panics on
//! any input: every decoder is property-tested and fuzzed.
//!
//! Map of the crate:
//!
//! - [`batch`]: the output types, [`Batch`], [`Series`], [`Sample`], [`Metadata`],
//!   [`Rejection`] and [`RejectReason`].
//! - [`limits`]: [`Limits`] and the per-series validation every decoder runs.
//! - [`content`]: `Content-Type`/`Content-Encoding` negotiation, snappy and gzip.
//! - [`remote_write`]: Prometheus remote_write 1.0 ([`remote_write::v1`]) and 2.0
//!   ([`remote_write::v2`]), messages in [`remote_write::proto`].
//! - [`otlp`]: OTLP metrics (protobuf and JSON) translated to Prometheus series.
//! - [`influx`]: InfluxDB line protocol.
//! - [`exposition`]: the Prometheus text format and OpenMetrics, as scraped from `/metrics`.
//! - [`decoder`]: [`Decoder`], which owns the limits and a reusable scratch buffer.
//! - [`error`]: [`Error`] and [`Result`].
//!
//! Whole-request problems (undecodable payload, wrong content type, over a limit)
//! are errors; problems with one series are [`Rejection`]s and the rest of the
//! request is accepted, so the caller can store the rest and tell the sender.
//!
//! ```
//! use wk_ingest::{Decoder, Limits, influx::Precision};
//!
//! let mut decoder = Decoder::new(Limits::default());
//! let body = b"cpu,host=a usage_idle=97.5 1700000000000000000\n";
//! let batch = decoder.influx(body, None, Precision::Nanoseconds, 1_700_000_000_000)?;
//! assert_eq!(batch.series[0].metric_name(), "cpu_usage_idle");
//! assert_eq!(batch.series[0].samples[0].t_ms, 1_700_000_000_000);
//! # Ok::<(), wk_ingest::Error>(())
//! ```

pub mod batch;
pub mod content;
pub mod decoder;
pub mod error;
pub mod exposition;
#[doc(hidden)]
pub mod fuzzing;
pub mod influx;
pub mod limits;
pub mod names;
pub mod otlp;
pub mod remote_write;

pub use batch::{
    Batch, DecodeStats, METRIC_NAME_LABEL, Metadata, MetricType, RejectReason, Rejection, STALE_NAN_BITS, Sample,
    Series,
};
pub use content::{OtlpEncoding, OtlpFormat, RemoteWriteVersion, negotiate_otlp, negotiate_remote_write};
pub use decoder::{Decoder, RemoteWriteBatch};
pub use error::{Error, Result};
#[doc(hidden)]
pub use fuzzing::fuzz_decode;
pub use limits::Limits;
