//! The one field of an X.509 certificate that probes need: when it expires. A small
//! DER walk over `Certificate → TBSCertificate → Validity → notAfter`; any structure
//! it does not expect is an error, never a panic.

/// Seconds since the Unix epoch at which the DER-encoded certificate stops being valid.
pub fn not_after_unix(der: &[u8]) -> Result<i64, String> {
    let (certificate, _) = element(der, 0x30).ok_or("certificate is not a DER SEQUENCE")?;
    let (tbs, _) = element(certificate, 0x30).ok_or("TBSCertificate is not a SEQUENCE")?;
    let mut rest = tbs;
    // [0] EXPLICIT version, optional.
    if rest.first() == Some(&0xa0) {
        rest = skip(rest).ok_or("bad version field")?;
    }
    for field in ["serialNumber", "signature", "issuer"] {
        rest = skip(rest).ok_or_else(|| format!("bad {field} field"))?;
    }
    let (validity, _) = element(rest, 0x30).ok_or("validity is not a SEQUENCE")?;
    let after_not_before = skip(validity).ok_or("bad notBefore")?;
    let tag = *after_not_before.first().ok_or("missing notAfter")?;
    let (time, _) = element(after_not_before, tag).ok_or("bad notAfter")?;
    let text = std::str::from_utf8(time).map_err(|_| "notAfter is not ASCII")?;
    match tag {
        0x17 => parse_time(text, false),
        0x18 => parse_time(text, true),
        _ => Err(format!("notAfter has unexpected tag {tag:#x}")),
    }
}

/// Reads one element with the expected tag; returns its contents and what follows.
fn element(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    if *input.first()? != tag {
        return None;
    }
    let (len, header) = length(&input[1..])?;
    let start = 1 + header;
    let end = start.checked_add(len)?;
    Some((input.get(start..end)?, input.get(end..)?))
}

/// Skips one element of any tag.
fn skip(input: &[u8]) -> Option<&[u8]> {
    let tag = *input.first()?;
    element(input, tag).map(|(_, rest)| rest)
}

/// A DER length: returns (length, bytes used by the length field).
fn length(input: &[u8]) -> Option<(usize, usize)> {
    let first = *input.first()?;
    if first < 0x80 {
        return Some((first as usize, 1));
    }
    let count = (first & 0x7f) as usize;
    if count == 0 || count > 4 {
        return None;
    }
    let mut len = 0usize;
    for byte in input.get(1..1 + count)? {
        len = (len << 8) | *byte as usize;
    }
    Some((len, 1 + count))
}

/// `YYMMDDHHMMSSZ` (UTCTime, years 1950–2049) or `YYYYMMDDHHMMSSZ` (GeneralizedTime).
fn parse_time(text: &str, four_digit_year: bool) -> Result<i64, String> {
    let digits = text.strip_suffix('Z').ok_or_else(|| format!("time {text:?} is not UTC"))?;
    let expected = if four_digit_year { 14 } else { 12 };
    if digits.len() != expected || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("time {text:?} has an unexpected form"));
    }
    let num = |s: &str| s.parse::<i64>().unwrap_or(0);
    let (year, rest) = if four_digit_year {
        (num(&digits[..4]), &digits[4..])
    } else {
        let yy = num(&digits[..2]);
        (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &digits[2..])
    };
    let (month, day) = (num(&rest[..2]), num(&rest[2..4]));
    let (hour, minute, second) = (num(&rest[4..6]), num(&rest[6..8]), num(&rest[8..10]));
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return Err(format!("time {text:?} is out of range"));
    }
    Ok(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(parse_time("491231235959Z", false), Ok(2_524_607_999));
        assert_eq!(parse_time("500101000000Z", false), Ok(-631_152_000));
        assert_eq!(parse_time("20380119031408Z", true), Ok(2_147_483_648));
        assert!(parse_time("2038011903140Z", true).is_err());
        assert!(parse_time("201301010000", false).is_err());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bytes in [&b""[..], b"\x30", b"\x30\x84\xff\xff\xff\xff", b"\x30\x03\x30\x01\x00", b"\x30\x80"] {
            assert!(not_after_unix(bytes).is_err(), "{bytes:?}");
        }
    }
}
