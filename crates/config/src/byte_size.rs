//! Sizes written as Prometheus writes them: `512MB`, `1GB`, `0`, with binary multiples
//! (`KB` = 1024 bytes, as Prometheus's `units.Base2Bytes`); `KiB`-style suffixes work too.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A size in bytes, parsed from `15MB`, `1GiB`, `4096B` or a bare number of bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(pub u64);

const UNITS: [(&str, u64); 7] =
    [("EB", 1 << 60), ("PB", 1 << 50), ("TB", 1 << 40), ("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10), ("B", 1)];

impl ByteSize {
    /// Parses a size; the error names what is wrong with the text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let digits_end = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
        let invalid = || format!("not a valid size: {text:?} (expected e.g. 512MB, 1GB, 4096B or 0)");
        if digits_end == 0 {
            return Err(invalid());
        }
        let number: u64 = text[..digits_end].parse().map_err(|_| invalid())?;
        let unit = text[digits_end..].trim_start().to_ascii_uppercase().replace("IB", "B");
        if unit.is_empty() {
            // As Prometheus: a bare number needs a unit, except 0.
            return if number == 0 {
                Ok(Self(0))
            } else {
                Err(format!("size {text:?} needs a unit (B, KB, MB, GB, TB, PB, EB)"))
            };
        }
        let (_, multiple) = UNITS.iter().find(|(name, _)| *name == unit).ok_or_else(invalid)?;
        number.checked_mul(*multiple).map(Self).ok_or_else(|| format!("size out of range: {text:?}"))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, size) in UNITS {
            if self.0 != 0 && self.0.is_multiple_of(size) {
                return write!(f, "{}{name}", self.0 / size);
            }
        }
        f.write_str("0B")
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Number(0) => Ok(Self(0)),
            Raw::Number(n) => {
                Err(serde::de::Error::custom(format!("size {n} needs a unit (B, KB, MB, GB, TB, PB, EB)")))
            }
            Raw::Text(text) => Self::parse(&text).map_err(serde::de::Error::custom),
        }
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        assert_eq!(ByteSize::parse("15MB"), Ok(ByteSize(15 << 20)));
        assert_eq!(ByteSize::parse("1GiB"), Ok(ByteSize(1 << 30)));
        assert_eq!(ByteSize::parse("0"), Ok(ByteSize(0)));
        assert_eq!(ByteSize::parse("4096B"), Ok(ByteSize(4096)));
        assert!(ByteSize::parse("4096").unwrap_err().contains("needs a unit"));
        assert_eq!(ByteSize(15 << 20).to_string(), "15MB");
        assert_eq!(ByteSize(1000).to_string(), "1000B");
        for bad in ["", "MB", "1.5GB", "12XB", "-1MB", "99999999999EB"] {
            assert!(ByteSize::parse(bad).is_err(), "{bad:?}");
        }
    }
}
