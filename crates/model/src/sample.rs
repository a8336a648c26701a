//! Samples and the staleness marker.

/// One float sample: a timestamp in milliseconds since the Unix epoch and a value.
///
/// Timestamps may be negative (before 1970). The value may be any `f64`, including
/// NaN payloads, which storage keeps bit-exactly.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Timestamp in milliseconds since the Unix epoch.
    pub t: i64,
    /// Value; compare with [`f64::to_bits`] when NaNs matter.
    pub v: f64,
}

impl Sample {
    /// Creates a sample at `t` milliseconds with value `v`.
    pub const fn new(t: i64, v: f64) -> Self {
        Self { t, v }
    }

    /// Returns true when both timestamps and value bit patterns are identical.
    pub fn bit_eq(&self, other: &Sample) -> bool {
        self.t == other.t && self.v.to_bits() == other.v.to_bits()
    }
}

/// Bit pattern of the Prometheus staleness marker, a signalling NaN.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// The Prometheus staleness marker. Never compare it with `==` (NaN is unequal to
/// everything); use [`is_stale_nan`].
pub const STALE_NAN: f64 = f64::from_bits(STALE_NAN_BITS);

/// Returns true when `v` is exactly the staleness marker, compared by bits, so that
/// ordinary NaNs are not mistaken for it.
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_nan_is_recognised_by_bits_only() {
        assert!(is_stale_nan(STALE_NAN));
        assert!(STALE_NAN.is_nan());
        assert!(!is_stale_nan(f64::NAN));
        assert!(!is_stale_nan(0.0));
        assert!(Sample::new(1, STALE_NAN).bit_eq(&Sample::new(1, STALE_NAN)));
        assert!(!Sample::new(1, STALE_NAN).bit_eq(&Sample::new(1, f64::NAN)));
    }
}
