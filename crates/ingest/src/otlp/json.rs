//! The OTLP/JSON (protobuf JSON) mapping where it differs from the field-by-field
//! serde derives: 64-bit integers may be strings or numbers, doubles may be
//! numbers or the strings `"NaN"`, `"Infinity"` and `"-Infinity"`, `null` means
//! the default, and each `oneof` case is a field of its own.

use serde::Deserialize;
use serde::de::{self, Deserializer};

use super::proto::{
    AnyValue, ArrayValue, ExponentialHistogram, Gauge, Histogram, KeyValue, KeyValueList, Metric, MetricData,
    NumberDataPoint, NumberValue, Sum, Summary, Value,
};

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

/// `Metric` as OTLP/JSON spells it: one optional field per `data` case.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MetricJson {
    name: String,
    description: String,
    unit: String,
    gauge: Option<Gauge>,
    sum: Option<Sum>,
    histogram: Option<Histogram>,
    exponential_histogram: Option<ExponentialHistogram>,
    summary: Option<Summary>,
}

impl<'de> Deserialize<'de> for Metric {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let m = MetricJson::deserialize(d)?;
        let data = m
            .gauge
            .map(MetricData::Gauge)
            .or(m.sum.map(MetricData::Sum))
            .or(m.histogram.map(MetricData::Histogram))
            .or(m.exponential_histogram.map(MetricData::ExponentialHistogram))
            .or(m.summary.map(MetricData::Summary));
        Ok(Metric { name: m.name, description: m.description, unit: m.unit, data })
    }
}

/// `NumberDataPoint` as OTLP/JSON spells it.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct NumberDataPointJson {
    attributes: Vec<KeyValue>,
    #[serde(deserialize_with = "u64_any")]
    time_unix_nano: u64,
    #[serde(deserialize_with = "opt_f64_any")]
    as_double: Option<f64>,
    #[serde(deserialize_with = "opt_i64_any")]
    as_int: Option<i64>,
    flags: u32,
}

impl<'de> Deserialize<'de> for NumberDataPoint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let p = NumberDataPointJson::deserialize(d)?;
        let value = p.as_double.map(NumberValue::AsDouble).or(p.as_int.map(NumberValue::AsInt));
        Ok(NumberDataPoint { attributes: p.attributes, time_unix_nano: p.time_unix_nano, value, flags: p.flags })
    }
}

/// `AnyValue` as OTLP/JSON spells it.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AnyValueJson {
    string_value: Option<String>,
    bool_value: Option<bool>,
    #[serde(deserialize_with = "opt_i64_any")]
    int_value: Option<i64>,
    #[serde(deserialize_with = "opt_f64_any")]
    double_value: Option<f64>,
    array_value: Option<ArrayValue>,
    kvlist_value: Option<KeyValueList>,
    /// Base64 text, kept as it is: that is the label form of bytes.
    bytes_value: Option<String>,
}

impl<'de> Deserialize<'de> for AnyValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = AnyValueJson::deserialize(d)?;
        let value = v
            .string_value
            .map(Value::StringValue)
            .or(v.bool_value.map(Value::BoolValue))
            .or(v.int_value.map(Value::IntValue))
            .or(v.double_value.map(Value::DoubleValue))
            .or(v.array_value.map(Value::ArrayValue))
            .or(v.kvlist_value.map(Value::KvlistValue))
            .or(v.bytes_value.map(Value::StringValue));
        Ok(AnyValue { value })
    }
}

/// An optional signed 64-bit integer.
pub fn opt_i64_any<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    struct Wrapped(#[serde(deserialize_with = "i64_any")] i64);
    Ok(Option::<Wrapped>::deserialize(d)?.map(|w| w.0))
}
