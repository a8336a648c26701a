//! The DNS wire format (RFC 1035, with SRV from RFC 2782 and AAAA from RFC 3596):
//! building a query and decoding a response.
//!
//! The decoder reads untrusted bytes: every length and compression pointer is checked,
//! pointers must point backwards (so they cannot loop), names are capped at 255 bytes,
//! and every failure is a [`WireError`] naming the byte offset and what was being read.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// A DNS record type, by its number. Unknown numbers are kept as they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RecordType(pub u16);

impl RecordType {
    /// IPv4 address.
    pub const A: Self = Self(1);
    /// Name server.
    pub const NS: Self = Self(2);
    /// Canonical name.
    pub const CNAME: Self = Self(5);
    /// Start of authority.
    pub const SOA: Self = Self(6);
    /// Mail exchange.
    pub const MX: Self = Self(15);
    /// Text.
    pub const TXT: Self = Self(16);
    /// IPv6 address.
    pub const AAAA: Self = Self(28);
    /// Service location.
    pub const SRV: Self = Self(33);
    /// EDNS(0) pseudo-record.
    pub const OPT: Self = Self(41);
    /// Any type (a query only).
    pub const ANY: Self = Self(255);

    const NAMES: [(Self, &'static str); 10] = [
        (Self::A, "A"),
        (Self::NS, "NS"),
        (Self::CNAME, "CNAME"),
        (Self::SOA, "SOA"),
        (Self::MX, "MX"),
        (Self::TXT, "TXT"),
        (Self::AAAA, "AAAA"),
        (Self::SRV, "SRV"),
        (Self::OPT, "OPT"),
        (Self::ANY, "ANY"),
    ];

    /// The type named `name` (case-insensitive), as written in configuration.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::NAMES.iter().find(|(_, n)| n.eq_ignore_ascii_case(name)).map(|(t, _)| *t)
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match Self::NAMES.iter().find(|(t, _)| t == self) {
            Some((_, name)) => f.write_str(name),
            None => write!(f, "TYPE{}", self.0),
        }
    }
}

/// A response code (the low four bits of the header flags).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rcode(pub u8);

impl Rcode {
    /// No error.
    pub const NOERROR: Self = Self(0);
    /// The server could not interpret the query.
    pub const FORMERR: Self = Self(1);
    /// The server failed.
    pub const SERVFAIL: Self = Self(2);
    /// The name does not exist.
    pub const NXDOMAIN: Self = Self(3);
    /// The server refused to answer.
    pub const REFUSED: Self = Self(5);

    const NAMES: [&'static str; 11] = [
        "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH",
        "NOTZONE",
    ];

    /// The code named `name` (case-insensitive), e.g. `NOERROR`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::NAMES.iter().position(|n| n.eq_ignore_ascii_case(name)).and_then(|i| u8::try_from(i).ok()).map(Self)
    }
}

impl fmt::Display for Rcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match Self::NAMES.get(usize::from(self.0)) {
            Some(name) => f.write_str(name),
            None => write!(f, "RCODE{}", self.0),
        }
    }
}

/// What is wrong with a DNS message or a name to put in one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The message ends before a field it announces.
    #[error("DNS message truncated: it ends at byte {len} while reading {what} at byte {offset}")]
    Truncated {
        /// Where the field starts.
        offset: usize,
        /// The message length.
        len: usize,
        /// The field being read.
        what: &'static str,
    },
    /// A compression pointer that does not point backwards.
    #[error("DNS name at byte {offset}: compression pointer to byte {target} does not point backwards")]
    BadPointer {
        /// Where the pointer is.
        offset: usize,
        /// Where it points.
        target: usize,
    },
    /// A label type other than a plain label or a pointer.
    #[error("DNS name at byte {offset}: unsupported label type 0x{byte:02x}")]
    BadLabel {
        /// Where the label starts.
        offset: usize,
        /// The length byte.
        byte: u8,
    },
    /// A name longer than the 255 bytes DNS allows.
    #[error("DNS name at byte {offset} is longer than 255 bytes")]
    NameTooLong {
        /// Where the name starts.
        offset: usize,
    },
    /// Record data whose length does not fit its type.
    #[error("{rtype} record at byte {offset}: {problem}")]
    BadRdata {
        /// Where the record data starts.
        offset: usize,
        /// The record type.
        rtype: RecordType,
        /// What does not fit.
        problem: String,
    },
    /// A name that cannot be put in a query.
    #[error("invalid DNS name {name:?}: {problem}")]
    InvalidName {
        /// The name.
        name: String,
        /// Why.
        problem: &'static str,
    },
}

/// The question of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    /// The name asked for, fully qualified (ends with a dot).
    pub name: String,
    /// The type asked for.
    pub qtype: RecordType,
    /// The class (1 = IN).
    pub class: u16,
}

/// Record data, decoded for the types Watchkeeper uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RData {
    /// An IPv4 address.
    A(Ipv4Addr),
    /// An IPv6 address.
    Aaaa(Ipv6Addr),
    /// A name server.
    Ns(String),
    /// A canonical name.
    Cname(String),
    /// A mail exchange.
    Mx {
        /// Lower is preferred.
        preference: u16,
        /// The exchange's name.
        exchange: String,
    },
    /// A service location.
    Srv {
        /// Lower is preferred.
        priority: u16,
        /// Relative weight among equal priorities.
        weight: u16,
        /// The service's port.
        port: u16,
        /// The host providing the service.
        target: String,
    },
    /// The serial number of a zone's start of authority.
    Soa {
        /// The zone's serial.
        serial: u32,
    },
    /// Any other type, undecoded.
    Other(Vec<u8>),
}

/// One resource record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The owner name, fully qualified.
    pub name: String,
    /// The record type.
    pub rtype: RecordType,
    /// The class (1 = IN).
    pub class: u16,
    /// Time to live, in seconds.
    pub ttl: u32,
    /// The data.
    pub data: RData,
}

/// A decoded DNS message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Message {
    /// The query id the answer echoes.
    pub id: u16,
    /// Whether this is a response (QR bit).
    pub response: bool,
    /// Whether the answer was cut to fit a UDP datagram (TC bit).
    pub truncated: bool,
    /// The response code (header bits only; EDNS extended codes are not combined).
    pub rcode: u8,
    /// The question section.
    pub questions: Vec<Question>,
    /// The answer section.
    pub answers: Vec<Record>,
    /// The authority section.
    pub authority: Vec<Record>,
    /// The additional section (the EDNS OPT record included).
    pub additional: Vec<Record>,
}

impl Message {
    /// The response code.
    pub fn rcode(&self) -> Rcode {
        Rcode(self.rcode)
    }
}

/// The UDP payload size Watchkeeper advertises with EDNS(0): the size the DNS flag day
/// 2020 recommends, which avoids IP fragmentation.
pub const EDNS_UDP_SIZE: u16 = 1232;

/// Encodes a query for `name`/`qtype` (class IN) with an EDNS(0) record advertising
/// [`EDNS_UDP_SIZE`]. Fails on a name DNS cannot carry.
pub fn encode_query(id: u16, name: &str, qtype: RecordType, recursion_desired: bool) -> Result<Vec<u8>, WireError> {
    let mut out = Vec::with_capacity(12 + name.len() + 2 + 4 + 11);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&(if recursion_desired { 0x0100u16 } else { 0 }).to_be_bytes());
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 1]); // 1 question, 1 additional (OPT)
    encode_name(name, &mut out)?;
    out.extend_from_slice(&qtype.0.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.push(0); // OPT: root name
    out.extend_from_slice(&RecordType::OPT.0.to_be_bytes());
    out.extend_from_slice(&EDNS_UDP_SIZE.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0, 0, 0]); // extended rcode, version, flags, rdlength
    Ok(out)
}

fn encode_name(name: &str, out: &mut Vec<u8>) -> Result<(), WireError> {
    let invalid = |problem| WireError::InvalidName { name: name.to_owned(), problem };
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    let mut total = 1;
    if !trimmed.is_empty() {
        for label in trimmed.split('.') {
            if label.is_empty() {
                return Err(invalid("empty label (two dots in a row, or a leading dot)"));
            }
            let len = u8::try_from(label.len())
                .ok()
                .filter(|l| *l <= 63)
                .ok_or_else(|| invalid("label longer than 63 bytes"))?;
            total += label.len() + 1;
            out.push(len);
            out.extend_from_slice(label.as_bytes());
        }
    }
    if total > 255 {
        return Err(invalid("longer than 255 bytes"));
    }
    out.push(0);
    Ok(())
}

/// Decodes a DNS message.
pub fn decode(bytes: &[u8]) -> Result<Message, WireError> {
    let mut r = Reader { bytes, pos: 0 };
    let id = r.u16("the header")?;
    let flags = r.u16("the header")?;
    let counts = [r.u16("the header")?, r.u16("the header")?, r.u16("the header")?, r.u16("the header")?];
    let mut message = Message {
        id,
        response: flags & 0x8000 != 0,
        truncated: flags & 0x0200 != 0,
        rcode: (flags & 0x000f) as u8,
        ..Message::default()
    };
    for _ in 0..counts[0] {
        let name = r.name()?;
        let qtype = RecordType(r.u16("a question")?);
        let class = r.u16("a question")?;
        message.questions.push(Question { name, qtype, class });
    }
    for (section, count) in
        [&mut message.answers, &mut message.authority, &mut message.additional].into_iter().zip(&counts[1..])
    {
        for _ in 0..*count {
            section.push(r.record()?);
        }
    }
    Ok(message)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&[u8], WireError> {
        let end = self.pos.checked_add(n).filter(|end| *end <= self.bytes.len());
        let end = end.ok_or(WireError::Truncated { offset: self.pos, len: self.bytes.len(), what })?;
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, WireError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, WireError> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Reads a possibly compressed name at the cursor; the cursor moves past its
    /// in-place part only.
    fn name(&mut self) -> Result<String, WireError> {
        let start = self.pos;
        let mut out = String::new();
        let mut wire_len = 1;
        let mut at = self.pos;
        let mut resume = None;
        loop {
            let len = *self.bytes.get(at).ok_or(WireError::Truncated {
                offset: at,
                len: self.bytes.len(),
                what: "a name",
            })?;
            match len & 0xc0 {
                0x00 if len == 0 => {
                    at += 1;
                    break;
                }
                0x00 => {
                    let label_start = at + 1;
                    let label = self
                        .bytes
                        .get(label_start..label_start + usize::from(len))
                        .ok_or(WireError::Truncated { offset: at, len: self.bytes.len(), what: "a name label" })?;
                    wire_len += usize::from(len) + 1;
                    if wire_len > 255 {
                        return Err(WireError::NameTooLong { offset: start });
                    }
                    push_label(&mut out, label);
                    at = label_start + usize::from(len);
                }
                0xc0 => {
                    let low = *self.bytes.get(at + 1).ok_or(WireError::Truncated {
                        offset: at,
                        len: self.bytes.len(),
                        what: "a compression pointer",
                    })?;
                    let target = usize::from(u16::from_be_bytes([len & 0x3f, low]));
                    if target >= at {
                        return Err(WireError::BadPointer { offset: at, target });
                    }
                    resume.get_or_insert(at + 2);
                    at = target;
                }
                _ => return Err(WireError::BadLabel { offset: at, byte: len }),
            }
        }
        self.pos = resume.unwrap_or(at);
        if out.is_empty() {
            out.push('.');
        }
        Ok(out)
    }

    fn record(&mut self) -> Result<Record, WireError> {
        let name = self.name()?;
        let rtype = RecordType(self.u16("a record header")?);
        let class = self.u16("a record header")?;
        let ttl = self.u32("a record header")?;
        let rdlen = usize::from(self.u16("a record header")?);
        let offset = self.pos;
        self.take(rdlen, "record data")?;
        let end = self.pos;
        self.pos = offset;
        let bad = |problem: String| WireError::BadRdata { offset, rtype, problem };
        let exact = |want: usize| {
            if rdlen == want { Ok(()) } else { Err(bad(format!("{rdlen} bytes of data, expected {want}"))) }
        };
        let data = match rtype {
            RecordType::A => {
                exact(4)?;
                let b = self.take(4, "an A record")?;
                RData::A(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
            }
            RecordType::AAAA => {
                exact(16)?;
                let b: [u8; 16] = self.take(16, "an AAAA record")?.try_into().unwrap_or([0; 16]);
                RData::Aaaa(Ipv6Addr::from(b))
            }
            RecordType::NS => RData::Ns(self.name()?),
            RecordType::CNAME => RData::Cname(self.name()?),
            RecordType::MX => RData::Mx { preference: self.u16("an MX record")?, exchange: self.name()? },
            RecordType::SRV => RData::Srv {
                priority: self.u16("an SRV record")?,
                weight: self.u16("an SRV record")?,
                port: self.u16("an SRV record")?,
                target: self.name()?,
            },
            RecordType::SOA => {
                self.name()?;
                self.name()?;
                RData::Soa { serial: self.u32("an SOA record")? }
            }
            _ => RData::Other(self.bytes[offset..end].to_vec()),
        };
        let fields_end = if matches!(data, RData::Soa { .. }) { self.pos + 16 } else { self.pos };
        if !matches!(data, RData::Other(_)) && fields_end != end {
            return Err(bad(format!("the data is {rdlen} bytes long but its fields take {}", fields_end - offset)));
        }
        self.pos = end;
        Ok(Record { name, rtype, class, ttl, data })
    }
}

/// Appends a label in presentation form: printable ASCII as is, `.` and `\` escaped,
/// other bytes as `\DDD`; then the dot that ends it.
fn push_label(out: &mut String, label: &[u8]) {
    for &b in label {
        match b {
            b'.' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x21..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\{b:03}")),
        }
    }
    out.push('.');
}

#[cfg(test)]
mod tests;
