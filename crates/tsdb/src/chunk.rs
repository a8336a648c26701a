//! Compressed sample chunks.
//!
//! - [`bits`]: the bit writer and reader the codecs are built on.
//! - [`xor`]: the Gorilla-style XOR chunk used by the head (delta-of-delta timestamps,
//!   XOR float values).

pub mod bits;
pub mod xor;

pub use xor::{XorAppender, XorIter};

/// Samples per head chunk before it is cut, as in Prometheus.
pub const SAMPLES_PER_CHUNK: u16 = 120;
