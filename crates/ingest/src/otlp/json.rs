//! Number forms of the OTLP/JSON (protobuf JSON) mapping: 64-bit integers may be
//! strings or numbers, doubles may be numbers or the strings `"NaN"`,
//! `"Infinity"` and `"-Infinity"`, and `null` means the default.

use serde::Deserialize;
use serde::de::{self, Deserializer};

/// A JSON number or string, before it is interpreted.
#[derive(Deserialize)]
#[serde(untagged)]
enum NumOrString<'a> {
    U(u64),
    I(i64),
    F(f64),
    #[serde(borrow)]
    S(std::borrow::Cow<'a, str>),
}

fn parse_str<T: std::str::FromStr, E: de::Error>(s: &str, what: &str) -> Result<T, E> {
    s.trim().parse().map_err(|_| E::custom(format!("invalid {what} {s:?}")))
}

/// An unsigned 64-bit integer (fixed64, uint64) as a number or a string.
pub fn u64_any<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    match Option::<NumOrString<'_>>::deserialize(d)? {
        None => Ok(0),
        Some(NumOrString::U(u)) => Ok(u),
        Some(NumOrString::I(_) | NumOrString::F(_)) => Err(de::Error::custom("expected an unsigned integer")),
        Some(NumOrString::S(s)) => parse_str(&s, "unsigned integer"),
    }
}

/// A signed 64-bit integer (int64, sfixed64) as a number or a string.
pub fn i64_any<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    match Option::<NumOrString<'_>>::deserialize(d)? {
        None => Ok(0),
        Some(NumOrString::U(u)) => i64::try_from(u).map_err(|_| de::Error::custom("integer out of range")),
        Some(NumOrString::I(i)) => Ok(i),
        Some(NumOrString::F(_)) => Err(de::Error::custom("expected an integer")),
        Some(NumOrString::S(s)) => parse_str(&s, "integer"),
    }
}

/// A double as a number or one of the special strings.
pub fn f64_any<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(opt_f64_any(d)?.unwrap_or(0.0))
}

/// An optional double (proto3 `optional double`).
pub fn opt_f64_any<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(match Option::<NumOrString<'_>>::deserialize(d)? {
        None => None,
        Some(NumOrString::U(u)) => Some(u as f64),
        Some(NumOrString::I(i)) => Some(i as f64),
        Some(NumOrString::F(f)) => Some(f),
        Some(NumOrString::S(s)) => Some(match &*s {
            "NaN" => f64::NAN,
            "Infinity" => f64::INFINITY,
            "-Infinity" => f64::NEG_INFINITY,
            other => parse_str(other, "double")?,
        }),
    })
}

/// A repeated unsigned 64-bit integer field.
pub fn vec_u64_any<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
    #[derive(Deserialize)]
    struct Wrapped(#[serde(deserialize_with = "u64_any")] u64);
    let items = Option::<Vec<Wrapped>>::deserialize(d)?.unwrap_or_default();
    Ok(items.into_iter().map(|w| w.0).collect())
}
