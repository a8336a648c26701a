//! The error type of `wk-tsdb`.

/// Failures inside the engine that are not per-sample rejections (those are
/// `wk_storage::AppendError`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TsdbError {
    /// A chunk's bytes do not decode: truncated, or a field out of range. Decoding
    /// stops at the first such error and never panics.
    #[error("corrupt chunk at bit {bit_offset}: {detail}")]
    CorruptChunk {
        /// What the decoder found.
        detail: &'static str,
        /// Bit position in the chunk where decoding failed.
        bit_offset: usize,
    },
    /// Head options are inconsistent.
    #[error("invalid head options: {detail}")]
    InvalidOptions {
        /// Which option and why.
        detail: String,
    },
}

/// Result alias of this crate.
pub type Result<T, E = TsdbError> = std::result::Result<T, E>;
