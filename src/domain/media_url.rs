//! Media URLs clients ask Parley to send (images, documents, …), parsed once and checked against
//! the contract: `https` only, no userinfo, no local host names and no IP literal that points
//! somewhere private or special.
//!
//! The checks run on the host as the WHATWG URL parser (the `url` crate) understands it, never on
//! the raw text: it already reads `2130706433`, `0177.0.0.1`, `0x7f.0.0.1` and `127.1` as the
//! IPv4 address 127.0.0.1, maps IDN and fullwidth spellings (`ｌｏｃａｌｈｏｓｔ`) to ASCII and
//! lowercases names, so every spelling a fetcher would follow is judged by what it means.
//!
//! Decisions the contract leaves open:
//! - A public IP literal (`https://8.8.8.8/x.png`, `https://[2606:4700:4700::1111]/a.jpg`) is
//!   allowed: the contract forbids only the listed kinds, and some CDNs serve from bare addresses.
//! - An IPv6 address that embeds an IPv4 one (IPv4-mapped `::ffff:0:0/96`, the deprecated
//!   IPv4-compatible `::/96`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) is judged by the IPv4
//!   address it reaches, so `[::ffff:127.0.0.1]` is loopback and `[::ffff:8.8.8.8]` is public.
//! - Any other IPv6 address outside global unicast `2000::/3` is reserved, as are the special
//!   blocks inside it (documentation, benchmarking, IETF protocol assignments such as Teredo,
//!   local-use NAT64): none of them is where a media file is published.
//! - The bare names `localhost`, `local` and `internal` count as local, like their subdomains.
//! - Names are not resolved: parsing stays pure and offline, and a name may resolve differently
//!   by the time it is fetched, so whatever fetches must guard against that itself.

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
};

use ipnet::{Ipv4Net, Ipv6Net};
use thiserror::Error;
use url::{Host, Url};

/// Longest accepted URL in bytes, both as sent and once normalised by the parser.
const MAX_LEN: usize = 2048;

/// Host names that never reach a public server: the name itself and everything under it.
const LOCAL_NAMES: [&str; 3] = ["localhost", "local", "internal"];

/// IPv4 blocks std has no stable predicate for (`is_shared`, `is_benchmarking`, `is_reserved`
/// are unstable), with the reason a client is given.
const BLOCKED_V4: [(Ipv4Net, ForbiddenAddress); 5] = [
    // "This network": only 0.0.0.0 itself is `is_unspecified`.
    (v4(0, 0, 0, 0, 8), ForbiddenAddress::Unspecified),
    (v4(100, 64, 0, 0, 10), ForbiddenAddress::SharedCgnat),
    // IETF protocol assignments.
    (v4(192, 0, 0, 0, 24), ForbiddenAddress::Reserved),
    // Benchmarking.
    (v4(198, 18, 0, 0, 15), ForbiddenAddress::Reserved),
    // Future use; holds 255.255.255.255, which is checked first to name it broadcast.
    (v4(240, 0, 0, 0, 4), ForbiddenAddress::Reserved),
];

/// Special IPv6 blocks inside global unicast `2000::/3`, plus local-use NAT64 (outside it, but
/// named so that the rule is visible).
const RESERVED_V6: [Ipv6Net; 5] = [
    // Local-use NAT64 (RFC 8215): translates into whatever network the operator runs.
    v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48),
    // IETF protocol assignments, including Teredo, ORCHID and benchmarking (2001:2::/48).
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23),
    // Documentation (RFC 3849, RFC 9637).
    v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32),
    v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20),
    // Discard-only (RFC 6666); outside 2000::/3 too, listed for the record.
    v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64),
];

const GLOBAL_UNICAST_V6: Ipv6Net = v6([0x2000, 0, 0, 0, 0, 0, 0, 0], 3);
const IPV4_COMPATIBLE_V6: Ipv6Net = v6([0, 0, 0, 0, 0, 0, 0, 0], 96);
const NAT64_V6: Ipv6Net = v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96);
const SIX_TO_FOUR_V6: Ipv6Net = v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16);

const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Ipv4Net {
    // Panics at compile time on a bad prefix: every caller is a `const`.
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), prefix)
}

const fn v6(s: [u16; 8], prefix: u8) -> Ipv6Net {
    Ipv6Net::new_assert(
        Ipv6Addr::new(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]),
        prefix,
    )
}

/// An `https` URL of media that is safe to hand to a fetcher: see the module docs for the rules.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MediaUrl(Url);

/// Why a media URL was rejected; the message is fit to show an API client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum MediaUrlError {
    #[error("media URL must be at most 2048 characters")]
    TooLong,
    #[error("media URL is not a valid URL")]
    Malformed,
    #[error("media URL must use https")]
    NotHttps,
    #[error("media URL must not contain a user name or password")]
    Userinfo,
    #[error("media URL must have a host")]
    MissingHost,
    #[error("media URL must not point at a local host name (localhost, .local, .internal)")]
    LocalHost,
    #[error("media URL must not point at {0} IP address")]
    ForbiddenAddress(ForbiddenAddress),
}

/// The kind of IP address a media URL may not point at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForbiddenAddress {
    Loopback,
    Private,
    LinkLocal,
    SharedCgnat,
    Unspecified,
    Multicast,
    Broadcast,
    /// Documentation, benchmarking, protocol-assignment and future-use blocks.
    Reserved,
}

impl fmt::Display for ForbiddenAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Worded to follow "must not point at …".
        f.write_str(match self {
            Self::Loopback => "a loopback",
            Self::Private => "a private",
            Self::LinkLocal => "a link-local",
            Self::SharedCgnat => "a shared (carrier-grade NAT)",
            Self::Unspecified => "an unspecified",
            Self::Multicast => "a multicast",
            Self::Broadcast => "a broadcast",
            Self::Reserved => "a reserved",
        })
    }
}

impl MediaUrl {
    /// Parses an `https` media URL and rejects anything that could reach a private or local host.
    pub fn parse(input: &str) -> Result<MediaUrl, MediaUrlError> {
        if input.len() > MAX_LEN {
            return Err(MediaUrlError::TooLong);
        }
        let url = Url::parse(input).map_err(|e| match e {
            url::ParseError::EmptyHost => MediaUrlError::MissingHost,
            _ => MediaUrlError::Malformed,
        })?;
        // Percent-encoding and punycode can make the normalised URL longer than the input.
        if url.as_str().len() > MAX_LEN {
            return Err(MediaUrlError::TooLong);
        }
        if url.scheme() != "https" {
            return Err(MediaUrlError::NotHttps);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(MediaUrlError::Userinfo);
        }
        match url.host() {
            None => return Err(MediaUrlError::MissingHost),
            Some(Host::Domain(name)) => check_name(name)?,
            Some(Host::Ipv4(ip)) => check_ip(IpAddr::V4(ip))?,
            Some(Host::Ipv6(ip)) => check_ip(IpAddr::V6(ip))?,
        }
        Ok(MediaUrl(url))
    }

    /// The URL as normalised by the parser (lowercase scheme and host, punycode, percent-encoding).
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The parsed URL.
    pub fn url(&self) -> &Url {
        &self.0
    }
}

impl fmt::Display for MediaUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `name` is already lowercase ASCII (punycode for IDNs): the parser did that.
fn check_name(name: &str) -> Result<(), MediaUrlError> {
    // A fully qualified `localhost.` resolves like `localhost`.
    let name = name.trim_end_matches('.');
    if name.is_empty() {
        return Err(MediaUrlError::MissingHost);
    }
    let is_local = LOCAL_NAMES.iter().any(|local| {
        name == *local
            || name
                .strip_suffix(local)
                .is_some_and(|rest| rest.ends_with('.'))
    });
    if is_local {
        return Err(MediaUrlError::LocalHost);
    }
    Ok(())
}

fn check_ip(ip: IpAddr) -> Result<(), MediaUrlError> {
    forbidden_address(ip).map_or(Ok(()), |kind| Err(MediaUrlError::ForbiddenAddress(kind)))
}

/// What kind of forbidden address `ip` is under the media-URL rules, or `None` for a public one:
/// for whatever connects to a resolved name (outbound webhooks), which must judge the addresses
/// it is about to reach by the same rules.
pub fn forbidden_address(ip: IpAddr) -> Option<ForbiddenAddress> {
    match ip {
        IpAddr::V4(ip) => classify_v4(ip),
        IpAddr::V6(ip) => classify_v6(ip),
    }
}

/// What kind of forbidden address `ip` is, or `None` for a public one.
fn classify_v4(ip: Ipv4Addr) -> Option<ForbiddenAddress> {
    use ForbiddenAddress::*;
    let kind = if ip.is_loopback() {
        Loopback
    } else if ip.is_private() {
        Private
    } else if ip.is_link_local() {
        LinkLocal
    } else if ip.is_multicast() {
        Multicast
    } else if ip.is_broadcast() {
        Broadcast
    } else if ip.is_documentation() {
        Reserved
    } else {
        return BLOCKED_V4
            .iter()
            .find(|(net, _)| net.contains(&ip))
            .map(|(_, kind)| *kind);
    };
    Some(kind)
}

/// What kind of forbidden address `ip` is, or `None` for a public one.
fn classify_v6(ip: Ipv6Addr) -> Option<ForbiddenAddress> {
    use ForbiddenAddress::*;
    // Checked before the embedded forms: `::` and `::1` also sit in the IPv4-compatible block.
    if ip.is_unspecified() {
        return Some(Unspecified);
    }
    if ip.is_loopback() {
        return Some(Loopback);
    }
    if let Some(embedded) = embedded_v4(ip) {
        return classify_v4(embedded);
    }
    let kind = if ip.is_multicast() {
        Multicast
    } else if ip.is_unique_local() {
        Private
    } else if ip.is_unicast_link_local() {
        LinkLocal
    } else if !GLOBAL_UNICAST_V6.contains(&ip) || RESERVED_V6.iter().any(|net| net.contains(&ip)) {
        Reserved
    } else {
        return None;
    };
    Some(kind)
}

/// The IPv4 address an IPv6 address stands for, in the forms that route to one.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(mapped) = ip.to_ipv4_mapped() {
        return Some(mapped);
    }
    let o = ip.octets();
    if IPV4_COMPATIBLE_V6.contains(&ip) || NAT64_V6.contains(&ip) {
        return Some(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
    }
    if SIX_TO_FOUR_V6.contains(&ip) {
        return Some(Ipv4Addr::new(o[2], o[3], o[4], o[5]));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use ForbiddenAddress::*;

    #[test]
    fn accepts_public_https_urls() {
        let cases = [
            ("https://example.com/a.jpg", "https://example.com/a.jpg"),
            (
                "https://cdn.example.co.uk/path/q.pdf?sig=abc",
                "https://cdn.example.co.uk/path/q.pdf?sig=abc",
            ),
            ("https://8.8.8.8/x.png", "https://8.8.8.8/x.png"),
            (
                "https://[2606:4700:4700::1111]/a.jpg",
                "https://[2606:4700:4700::1111]/a.jpg",
            ),
            (
                "https://EXAMPLE.com:8443/a.jpg",
                "https://example.com:8443/a.jpg",
            ),
            ("HTTPS://example.com/a.jpg", "https://example.com/a.jpg"),
            (
                "https://bücher.example/a.jpg",
                "https://xn--bcher-kva.example/a.jpg",
            ),
            (
                "https://例え.jp/画像.png",
                "https://xn--r8jz45g.jp/%E7%94%BB%E5%83%8F.png",
            ),
            ("https://example.com./a.jpg", "https://example.com./a.jpg"),
            (
                "https://example.com/a b.jpg",
                "https://example.com/a%20b.jpg",
            ),
            ("https://example.com", "https://example.com/"),
            // Names that merely contain a local word.
            (
                "https://localhost.example.com/a.jpg",
                "https://localhost.example.com/a.jpg",
            ),
            ("https://mylocal/a.jpg", "https://mylocal/a.jpg"),
            (
                "https://notinternal.com/a.jpg",
                "https://notinternal.com/a.jpg",
            ),
            ("https://local.example/a.jpg", "https://local.example/a.jpg"),
            // 11/8 and 172.32/16 are outside the private blocks they border.
            ("https://11.0.0.1/a.jpg", "https://11.0.0.1/a.jpg"),
            ("https://172.32.0.1/a.jpg", "https://172.32.0.1/a.jpg"),
            ("https://100.128.0.1/a.jpg", "https://100.128.0.1/a.jpg"),
            // IPv6 forms that embed a public IPv4 address reach that address.
            (
                "https://[::ffff:8.8.8.8]/a.jpg",
                "https://[::ffff:808:808]/a.jpg",
            ),
            (
                "https://[64:ff9b::8.8.8.8]/a.jpg",
                "https://[64:ff9b::808:808]/a.jpg",
            ),
            (
                "https://[2002:808:808::1]/a.jpg",
                "https://[2002:808:808::1]/a.jpg",
            ),
        ];
        for (input, normalised) in cases {
            let url = MediaUrl::parse(input).unwrap_or_else(|e| panic!("{input:?} rejected: {e}"));
            assert_eq!(url.as_str(), normalised, "{input:?}");
            assert_eq!(url.url().as_str(), normalised, "{input:?}");
            assert_eq!(url.to_string(), normalised, "{input:?}");
        }
    }

    #[test]
    fn rejects_bad_urls() {
        use MediaUrlError::*;
        let too_long = format!("https://example.com/{}", "a".repeat(MAX_LEN));
        // Fits as sent, but every space becomes `%20` once normalised.
        let too_long_normalised = format!("https://example.com/{}a", "a ".repeat(700));
        let cases: &[(&str, MediaUrlError)] = &[
            ("", Malformed),
            ("example.com/a.jpg", Malformed),
            ("https://exa mple.com/", Malformed),
            ("https://[::1/", Malformed),
            ("https://256.0.0.1/", Malformed),
            ("https://[fe80::1%25eth0]/", Malformed), // zone ids are not URL syntax
            ("https://", MissingHost),
            ("https:///", MissingHost),
            ("https://:443/", MissingHost),
            ("https://./a.jpg", MissingHost),
            ("http://example.com/a.jpg", NotHttps),
            ("ftp://example.com/a.jpg", NotHttps),
            ("file:///etc/passwd", NotHttps),
            ("data:image/png;base64,AAAA", NotHttps),
            ("javascript:alert(1)", NotHttps),
            ("wss://example.com/a.jpg", NotHttps),
            ("https://user:pw@example.com/", Userinfo),
            ("https://user@example.com", Userinfo),
            ("https://:pw@example.com/", Userinfo),
            ("https://example.com@127.0.0.1/", Userinfo),
            (&too_long, TooLong),
            (&too_long_normalised, TooLong),
        ];
        for (input, expected) in cases {
            assert_eq!(MediaUrl::parse(input), Err(*expected), "{input:?}");
        }
    }

    #[test]
    fn rejects_local_host_names() {
        let cases = [
            "https://localhost/a.jpg",
            "HTTPS://LOCALHOST/",
            "https://localhost./a.jpg",
            "https://localhost..:8443/a.jpg",
            "https://foo.localhost/",
            "https://a.b.LocalHost./",
            "https://printer.local/",
            "https://printer.LOCAL./",
            "https://local/",
            "https://metadata.google.internal/",
            "https://internal/",
            "https://svc.Internal./",
            // IDNA mapping turns these into `localhost`.
            "https://ｌｏｃａｌｈｏｓｔ/",
            "https://ⓛocalhost/",
            "https://LOCALHOST%2e/",
        ];
        for input in cases {
            assert_eq!(
                MediaUrl::parse(input),
                Err(MediaUrlError::LocalHost),
                "{input:?}"
            );
        }
    }

    #[test]
    fn rejects_forbidden_ip_literals_in_any_spelling() {
        let cases = [
            // Loopback, spelled every way the WHATWG parser accepts.
            ("https://127.0.0.1/", Loopback),
            ("https://127.0.0.1./", Loopback),
            ("https://2130706433/", Loopback),
            ("https://0177.0.0.1/", Loopback),
            ("https://0x7f.0.0.1/", Loopback),
            ("https://0x7F000001/", Loopback),
            ("https://017700000001/", Loopback),
            ("https://127.1/", Loopback),
            ("https://127.0.1/", Loopback),
            ("https://127.255.255.254/", Loopback),
            ("https://１２７.０.０.１/", Loopback),
            ("https://127%2e0%2e0%2e1/", Loopback),
            ("https://[::1]/", Loopback),
            ("https://[0:0:0:0:0:0:0:1]/", Loopback),
            ("https://[::ffff:127.0.0.1]/", Loopback),
            ("https://[::ffff:7f00:1]/", Loopback),
            ("https://[::127.0.0.1]/", Loopback),
            ("https://[64:ff9b::127.0.0.1]/", Loopback),
            ("https://[2002:7f00:1::]/", Loopback),
            // Private.
            ("https://10.0.0.1/", Private),
            ("https://10.255.255.255/", Private),
            ("https://012.1/", Private),
            ("https://167772161/", Private),
            ("https://172.16.0.1/", Private),
            ("https://172.31.255.255/", Private),
            ("https://192.168.1.1/", Private),
            ("https://0xc0.0xa8.1.1/", Private),
            ("https://[::ffff:10.0.0.1]/", Private),
            ("https://[::ffff:c0a8:101]/", Private),
            ("https://[64:ff9b::192.168.0.1]/", Private),
            ("https://[fc00::1]/", Private),
            ("https://[fd12:3456:789a::1]/", Private),
            // Link-local, including the cloud metadata address.
            ("https://169.254.169.254/latest/meta-data", LinkLocal),
            ("https://2852039166/latest/meta-data", LinkLocal),
            ("https://[::ffff:169.254.169.254]/", LinkLocal),
            ("https://[fe80::1]/", LinkLocal),
            ("https://[febf::1]/", LinkLocal),
            // Shared address space.
            ("https://100.64.0.1/", SharedCgnat),
            ("https://100.127.255.255/", SharedCgnat),
            // Unspecified.
            ("https://0/", Unspecified),
            ("https://0.0.0.0/", Unspecified),
            ("https://0.1.2.3/", Unspecified),
            ("https://[::]/", Unspecified),
            ("https://[::ffff:0.0.0.0]/", Unspecified),
            // Multicast.
            ("https://224.0.0.1/", Multicast),
            ("https://239.255.255.250/", Multicast),
            ("https://[ff02::1]/", Multicast),
            ("https://[ff0e::1]/", Multicast),
            ("https://[::ffff:224.0.0.1]/", Multicast),
            // Broadcast.
            ("https://255.255.255.255/", Broadcast),
            ("https://4294967295/", Broadcast),
            ("https://[::ffff:255.255.255.255]/", Broadcast),
            // Reserved, documentation and benchmarking.
            ("https://240.0.0.1/", Reserved),
            ("https://255.255.255.254/", Reserved),
            ("https://192.0.0.1/", Reserved),
            ("https://192.0.2.1/", Reserved),
            ("https://198.18.0.1/", Reserved),
            ("https://198.19.255.255/", Reserved),
            ("https://198.51.100.1/", Reserved),
            ("https://203.0.113.1/", Reserved),
            ("https://[2001:db8::1]/", Reserved),
            ("https://[3fff::1]/", Reserved),
            ("https://[2001::1]/", Reserved),
            ("https://[2001:2::1]/", Reserved),
            ("https://[64:ff9b:1::1]/", Reserved),
            ("https://[100::1]/", Reserved),
            ("https://[fec0::1]/", Reserved),
            ("https://[5f00::1]/", Reserved),
            ("https://[::ffff:192.0.2.1]/", Reserved),
            ("https://[64:ff9b::203.0.113.1]/", Reserved),
        ];
        for (input, kind) in cases {
            assert_eq!(
                MediaUrl::parse(input),
                Err(MediaUrlError::ForbiddenAddress(kind)),
                "{input:?}"
            );
        }
    }

    #[test]
    fn error_messages_name_the_reason() {
        let cases = [
            ("http://example.com/", "media URL must use https"),
            (
                "https://[::1]/",
                "media URL must not point at a loopback IP address",
            ),
            (
                "https://100.64.0.1/",
                "media URL must not point at a shared (carrier-grade NAT) IP address",
            ),
            (
                "https://[::]/",
                "media URL must not point at an unspecified IP address",
            ),
        ];
        for (input, message) in cases {
            let error = MediaUrl::parse(input).expect_err(input);
            assert_eq!(error.to_string(), message, "{input:?}");
        }
    }
}
