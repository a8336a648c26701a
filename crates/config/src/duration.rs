//! Prometheus duration syntax: `1y2w3d4h5m6s7ms`, units in descending order, each at
//! most once, integers only; `0` alone is zero. A year is 365 days, a week 7 days.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration written in Prometheus syntax (`15s`, `1h30m`, `2w`).
///
/// It keeps millisecond precision, like Prometheus's `model.Duration`, and prints back in
/// the same canonical form Prometheus uses (`1h30m`, never `90m`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PromDuration(Duration);

const UNITS: [(&str, u64); 7] = [
    ("y", 365 * 24 * 3600 * 1000),
    ("w", 7 * 24 * 3600 * 1000),
    ("d", 24 * 3600 * 1000),
    ("h", 3600 * 1000),
    ("m", 60 * 1000),
    ("s", 1000),
    ("ms", 1),
];

impl PromDuration {
    /// Builds a duration from whole milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        Self(Duration::from_millis(ms))
    }

    /// Builds a duration from whole seconds.
    pub const fn from_secs(s: u64) -> Self {
        Self(Duration::from_secs(s))
    }

    /// The duration as a `std::time::Duration`.
    pub const fn get(self) -> Duration {
        self.0
    }

    /// Parses Prometheus duration syntax. The error names what is wrong with the text.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text == "0" {
            return Ok(Self::default());
        }
        if text.is_empty() {
            return Err("empty duration string".to_owned());
        }
        let invalid = || {
            format!(
                "not a valid duration string: {text:?} (expected e.g. 15s, 1h30m, 2w; units y w d h m s ms, largest first)"
            )
        };
        let bytes = text.as_bytes();
        let mut pos = 0;
        let mut next_unit = 0; // index into UNITS: units must come in this order
        let mut total: u64 = 0;
        while pos < bytes.len() {
            let start = pos;
            while pos < bytes.len() && bytes[pos].is_ascii_digit() {
                pos += 1;
            }
            if start == pos {
                return Err(invalid());
            }
            let number: u64 = text[start..pos].parse().map_err(|_| invalid())?;
            let unit_start = pos;
            while pos < bytes.len() && bytes[pos].is_ascii_alphabetic() {
                pos += 1;
            }
            let unit = &text[unit_start..pos];
            let index = UNITS[next_unit..]
                .iter()
                .position(|(name, _)| *name == unit)
                .map(|i| i + next_unit)
                .ok_or_else(invalid)?;
            next_unit = index + 1;
            let millis = number
                .checked_mul(UNITS[index].1)
                .and_then(|m| total.checked_add(m))
                .filter(|m| *m <= i64::MAX as u64)
                .ok_or_else(|| format!("duration out of range: {text:?}"))?;
            total = millis;
        }
        Ok(Self::from_millis(total))
    }
}

impl fmt::Display for PromDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ms = self.0.as_millis() as u64;
        if ms == 0 {
            return f.write_str("0s");
        }
        for (name, size) in UNITS {
            if ms >= size {
                write!(f, "{}{name}", ms / size)?;
                ms %= size;
            }
        }
        Ok(())
    }
}

impl From<PromDuration> for Duration {
    fn from(d: PromDuration) -> Duration {
        d.0
    }
}

impl<'de> Deserialize<'de> for PromDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl Serialize for PromDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_prometheus_examples() {
        let cases = [
            ("0", 0),
            ("0s", 0),
            ("15s", 15_000),
            ("1h30m", 5_400_000),
            ("90m", 5_400_000),
            ("1y", 365 * 86_400_000),
            ("2w", 14 * 86_400_000),
            ("1d2h", 93_600_000),
            ("500ms", 500),
            ("1m30s250ms", 90_250),
        ];
        for (text, ms) in cases {
            assert_eq!(PromDuration::parse(text), Ok(PromDuration::from_millis(ms)), "{text}");
        }
    }

    #[test]
    fn rejects_bad_syntax() {
        for text in ["", "15", "1.5s", "-1s", "30m1h", "1h1h", "1sec", "s", "1 s", "1hm", "h1"] {
            assert!(PromDuration::parse(text).is_err(), "{text:?} should be rejected");
        }
        let too_big = PromDuration::parse("99999999999999y").unwrap_err();
        assert!(too_big.contains("out of range"), "{too_big}");
    }

    #[test]
    fn prints_canonically() {
        assert_eq!(PromDuration::parse("90m").unwrap().to_string(), "1h30m");
        assert_eq!(PromDuration::parse("0").unwrap().to_string(), "0s");
        assert_eq!(PromDuration::from_millis(1500).to_string(), "1s500ms");
    }

    proptest! {
        #[test]
        fn display_round_trips(ms in 0u64..(i64::MAX as u64 / 2)) {
            let d = PromDuration::from_millis(ms);
            prop_assert_eq!(PromDuration::parse(&d.to_string()), Ok(d));
        }

        #[test]
        fn never_panics(text in "\\PC{0,12}") {
            let _ = PromDuration::parse(&text);
        }
    }
}
