//! A small DNS client of our own, for DNS service discovery and the DNS probe: the
//! wire format for the record types those need (A, AAAA, SRV, MX, NS, CNAME, SOA),
//! queries over UDP with a TCP retry on truncation, and the system resolver
//! configuration. A full resolver crate would add minutes of build time for far
//! more than we use; the decoder is property-tested against arbitrary bytes.
//!
//! Map:
//! - [`message`]: building queries, decoding answers ([`message::WireError`] names the
//!   byte offset of every problem).
//! - [`client`]: one exchange with one server; [`Resolver`] walks search domains and
//!   servers.
//! - [`resolv_conf`]: reading `/etc/resolv.conf`.

pub mod client;
pub mod message;
pub mod resolv_conf;

pub use client::{DnsError, Resolver, Transport, exchange};
pub use message::{Message, RData, Rcode, Record, RecordType, WireError};
pub use resolv_conf::ResolverConfig;
