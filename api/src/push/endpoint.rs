//! Where the relay may send Web Push: the SSRF policy for subscription
//! endpoints.
//!
//! A patient chooses its endpoint URL, so without a policy any self-registered
//! patient could make the relay POST to loopback, the LAN or a cloud metadata
//! service (169.254.169.254). An endpoint is accepted only when it is `https`
//! and **every** address its host resolves to is public unicast; the relay then
//! connects to exactly those checked addresses (the HTTP client is pinned to
//! them, so a second DNS answer cannot swap in another address). The check runs
//! at subscription and again before every send.
//!
//! The operator's allow-list ([`AllowList`], `CARECHAIN_PUSH_ALLOW`) names
//! hosts or CIDR blocks that are reachable anyway — a UnifiedPush distributor
//! on the LAN, a test receiver on loopback — and, because such distributors
//! often have no certificate, `http` is accepted for them too.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// The longest endpoint URL accepted.
pub const MAX_ENDPOINT_LEN: usize = 2048;

/// Why an endpoint is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// Not an absolute URL with a host, or with credentials, or too long.
    #[error(
        "endpoint: expected an absolute https URL without credentials of at most {MAX_ENDPOINT_LEN} bytes, found {0}"
    )]
    Malformed(&'static str),
    /// Another scheme than `https` for a host not on the allow-list.
    #[error("endpoint: expected https, found {0}")]
    Scheme(String),
    /// The host did not resolve.
    #[error("endpoint: its host does not resolve")]
    Unresolved,
    /// The host is, or resolves to, an address that is not public.
    #[error("endpoint: expected a public address, found a {0} address")]
    NotPublic(&'static str),
}

/// A CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    fn parse(text: &str) -> Option<Cidr> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix.parse::<u8>().ok()?)),
            None => (text, None),
        };
        let net: IpAddr = addr
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .ok()?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Cidr { net, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.net, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Hosts and CIDR blocks the operator lets the relay push to although they
/// are not public (or not `https`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    hosts: Vec<String>,
    nets: Vec<Cidr>,
}

impl AllowList {
    /// Parses entries: host names (`push.lan`, `localhost`), addresses
    /// (`127.0.0.1`, `::1`) or CIDR blocks (`10.1.0.0/16`, `fd00::/8`).
    pub fn parse<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<AllowList, String> {
        let mut list = AllowList::default();
        for entry in entries.into_iter().map(str::trim).filter(|e| !e.is_empty()) {
            if let Some(cidr) = Cidr::parse(entry) {
                list.nets.push(cidr);
            } else if entry.contains('/') || entry.contains(char::is_whitespace) {
                return Err(format!(
                    "push allow-list: expected a host, an address or a CIDR block, found {entry:?}"
                ));
            } else {
                list.hosts
                    .push(entry.trim_end_matches('.').to_ascii_lowercase());
            }
        }
        Ok(list)
    }

    /// Parses a comma-separated list (the `CARECHAIN_PUSH_ALLOW` form).
    pub fn parse_csv(text: &str) -> Result<AllowList, String> {
        AllowList::parse(text.split(','))
    }

    /// Whether nothing is allowed beyond public addresses.
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty() && self.nets.is_empty()
    }

    fn allows_host(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.hosts.contains(&host)
    }

    fn allows_ip(&self, ip: IpAddr) -> bool {
        self.nets.iter().any(|net| net.contains(ip))
    }
}

/// An endpoint that passed the policy: where to connect, and the VAPID audience.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedEndpoint {
    /// The URL, as given.
    pub url: reqwest::Url,
    /// Its origin (`https://host[:port]`), the VAPID `aud`.
    pub origin: String,
    /// The host name to pin, when the URL names one (not an address literal).
    pub domain: Option<String>,
    /// The checked addresses the request may connect to.
    pub addrs: Vec<SocketAddr>,
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is; others unchanged.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// `None` for a public unicast address, else what kind of address it is.
pub fn non_public(ip: IpAddr) -> Option<&'static str> {
    match canonical(ip) {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => non_public_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u8) -> bool {
    Cidr {
        net: IpAddr::V4(Ipv4Addr::from(net)),
        prefix,
    }
    .contains(IpAddr::V4(ip))
}

fn non_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let kinds: [([u8; 4], u8, &'static str); 16] = [
        ([0, 0, 0, 0], 8, "unspecified"),
        ([127, 0, 0, 0], 8, "loopback"),
        ([10, 0, 0, 0], 8, "private"),
        ([172, 16, 0, 0], 12, "private"),
        ([192, 168, 0, 0], 16, "private"),
        ([100, 64, 0, 0], 10, "shared (CGNAT)"),
        ([169, 254, 0, 0], 16, "link-local"),
        ([192, 0, 0, 0], 24, "protocol-assignment"),
        ([192, 0, 2, 0], 24, "documentation"),
        ([198, 51, 100, 0], 24, "documentation"),
        ([203, 0, 113, 0], 24, "documentation"),
        ([192, 88, 99, 0], 24, "6to4-relay"),
        ([198, 18, 0, 0], 15, "benchmarking"),
        ([224, 0, 0, 0], 4, "multicast"),
        ([255, 255, 255, 255], 32, "broadcast"),
        ([240, 0, 0, 0], 4, "reserved"),
    ];
    kinds
        .iter()
        .find(|(net, prefix, _)| in_v4(ip, *net, *prefix))
        .map(|(_, _, kind)| *kind)
}

fn in_v6(ip: Ipv6Addr, net: u128, prefix: u8) -> bool {
    Cidr {
        net: IpAddr::V6(Ipv6Addr::from(net)),
        prefix,
    }
    .contains(IpAddr::V6(ip))
}

fn non_public_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    // NAT64 (RFC 6052): as public as the IPv4 address it embeds.
    if in_v6(ip, 0x0064_ff9b_0000_0000_0000_0000_0000_0000, 96) {
        let [.., a, b, c, d] = ip.octets();
        return non_public_v4(Ipv4Addr::new(a, b, c, d));
    }
    let kinds: [(u128, u8, &'static str); 11] = [
        (0, 96, "IPv4-compatible"),
        (
            0x0064_ff9b_0001_0000_0000_0000_0000_0000,
            48,
            "NAT64 local-use",
        ),
        (0x0100_0000_0000_0000_0000_0000_0000_0000, 64, "discard"),
        (
            0x2001_0000_0000_0000_0000_0000_0000_0000,
            23,
            "protocol-assignment",
        ),
        (
            0x2001_0db8_0000_0000_0000_0000_0000_0000,
            32,
            "documentation",
        ),
        (0x2002_0000_0000_0000_0000_0000_0000_0000, 16, "6to4"),
        (
            0x3fff_0000_0000_0000_0000_0000_0000_0000,
            20,
            "documentation",
        ),
        (0xfc00_0000_0000_0000_0000_0000_0000_0000, 7, "unique-local"),
        (0xfe80_0000_0000_0000_0000_0000_0000_0000, 10, "link-local"),
        (0xfec0_0000_0000_0000_0000_0000_0000_0000, 10, "site-local"),
        (0xff00_0000_0000_0000_0000_0000_0000_0000, 8, "multicast"),
    ];
    kinds
        .iter()
        .find(|(net, prefix, _)| in_v6(ip, *net, *prefix))
        .map(|(_, _, kind)| *kind)
}

/// The URL's form: absolute, with a host, no credentials, not too long.
fn parse(endpoint: &str) -> Result<reqwest::Url, EndpointError> {
    if endpoint.len() > MAX_ENDPOINT_LEN {
        return Err(EndpointError::Malformed("a longer URL"));
    }
    let url = reqwest::Url::parse(endpoint).map_err(|_| EndpointError::Malformed("no URL"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(EndpointError::Malformed("credentials"));
    }
    if url.host().is_none() {
        return Err(EndpointError::Malformed("no host"));
    }
    Ok(url)
}

/// Checks `endpoint` against the policy, resolving its host once; the
/// addresses returned are the ones to connect to.
pub async fn check(endpoint: &str, allow: &AllowList) -> Result<CheckedEndpoint, EndpointError> {
    let url = parse(endpoint)?;
    let port = url
        .port_or_known_default()
        .ok_or(EndpointError::Malformed("no port"))?;
    let (domain, listed, ips) = match url.host() {
        Some(url::Host::Ipv4(ip)) => (None, false, vec![IpAddr::V4(ip)]),
        Some(url::Host::Ipv6(ip)) => (None, false, vec![IpAddr::V6(ip)]),
        Some(url::Host::Domain(name)) => {
            let name = name.to_owned();
            let listed = allow.allows_host(&name);
            let lookup = tokio::time::timeout(
                Duration::from_secs(5),
                tokio::net::lookup_host((name.clone(), port)),
            )
            .await;
            let ips: Vec<IpAddr> = match lookup {
                Ok(Ok(addrs)) => addrs.map(|a| a.ip()).collect(),
                _ => Vec::new(),
            };
            (Some(name), listed, ips)
        }
        None => return Err(EndpointError::Malformed("no host")),
    };
    if ips.is_empty() {
        return Err(EndpointError::Unresolved);
    }
    let allowed = |ip: IpAddr| listed || allow.allows_ip(ip);
    for ip in &ips {
        if !allowed(*ip)
            && let Some(kind) = non_public(*ip)
        {
            return Err(EndpointError::NotPublic(kind));
        }
    }
    match url.scheme() {
        "https" => {}
        "http" if ips.iter().all(|ip| allowed(*ip)) => {}
        other => return Err(EndpointError::Scheme(other.to_owned())),
    }
    let mut addrs: Vec<SocketAddr> = ips
        .into_iter()
        .map(|ip| SocketAddr::new(ip, port))
        .collect();
    addrs.dedup();
    Ok(CheckedEndpoint {
        origin: url.origin().ascii_serialization(),
        url,
        domain,
        addrs,
    })
}

/// An HTTP client that connects only to `checked`'s addresses: no proxy, no
/// redirects, and the host name pinned to the checked addresses.
pub fn pinned_client(
    checked: &CheckedEndpoint,
    timeout: Duration,
) -> reqwest::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy();
    if let Some(domain) = &checked.domain {
        builder = builder.resolve_to_addrs(domain, &checked.addrs);
    }
    builder.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for (addr, kind) in [
            ("127.0.0.1", "loopback"),
            ("0.0.0.0", "unspecified"),
            ("10.2.3.4", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("100.64.0.1", "shared (CGNAT)"),
            ("169.254.169.254", "link-local"),
            ("224.0.0.251", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:169.254.169.254", "link-local"),
            ("::ffff:10.0.0.1", "private"),
            ("::127.0.0.1", "IPv4-compatible"),
            ("64:ff9b::a00:1", "private"),
            ("fe80::1", "link-local"),
            ("fd12:3456::1", "unique-local"),
            ("ff02::1", "multicast"),
            ("2001:db8::1", "documentation"),
            ("2002:7f00:1::", "6to4"),
        ] {
            assert_eq!(non_public(ip(addr)), Some(kind), "{addr}");
        }
        for addr in [
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:1.1.1.1",
            "64:ff9b::808:808",
        ] {
            assert_eq!(non_public(ip(addr)), None, "{addr}");
        }
    }

    #[test]
    fn the_allow_list_matches_hosts_and_blocks() {
        let list =
            AllowList::parse_csv("Push.LAN., 10.1.0.0/16, ::1, fd00::/8").unwrap_or_default();
        assert!(list.allows_host("push.lan"));
        assert!(!list.allows_host("lan"));
        assert!(list.allows_ip(ip("10.1.200.3")));
        assert!(list.allows_ip(ip("::ffff:10.1.0.9")));
        assert!(!list.allows_ip(ip("10.2.0.1")));
        assert!(list.allows_ip(ip("::1")));
        assert!(list.allows_ip(ip("fd12::1")));
        assert!(!list.allows_ip(ip("127.0.0.1")));
        assert!(AllowList::parse_csv("10.0.0.0/33").is_err());
        assert!(AllowList::parse_csv("a b").is_err());
        assert!(AllowList::parse_csv("").unwrap_or_default().is_empty());
    }

    #[actix_web::test]
    async fn endpoints_must_be_https_on_public_addresses() {
        let none = AllowList::default();
        for (endpoint, expected) in [
            ("https://127.0.0.1/x", EndpointError::NotPublic("loopback")),
            (
                "https://localhost:8443/x",
                EndpointError::NotPublic("loopback"),
            ),
            ("https://[::1]/x", EndpointError::NotPublic("loopback")),
            (
                "https://169.254.169.254/latest",
                EndpointError::NotPublic("link-local"),
            ),
            (
                "https://[::ffff:a9fe:a9fe]/x",
                EndpointError::NotPublic("link-local"),
            ),
            ("http://8.8.8.8/x", EndpointError::Scheme("http".into())),
            ("ftp://8.8.8.8/x", EndpointError::Scheme("ftp".into())),
            (
                "https://u:p@8.8.8.8/x",
                EndpointError::Malformed("credentials"),
            ),
            ("not a url", EndpointError::Malformed("no URL")),
        ] {
            assert_eq!(check(endpoint, &none).await, Err(expected), "{endpoint}");
        }
        let ok = check("https://8.8.8.8:8443/a/b", &none).await;
        assert_eq!(
            ok.as_ref().map(|c| c.origin.as_str()),
            Ok("https://8.8.8.8:8443")
        );
        assert_eq!(
            ok.map(|c| c.addrs),
            Ok(vec![SocketAddr::from(([8, 8, 8, 8], 8443))])
        );
    }

    #[actix_web::test]
    async fn the_allow_list_admits_lan_distributors_over_http() {
        let list = AllowList::parse_csv("127.0.0.0/8, localhost").unwrap_or_default();
        let checked = check("http://127.0.0.1:9/up", &list).await;
        assert_eq!(
            checked.map(|c| c.origin),
            Ok("http://127.0.0.1:9".to_owned())
        );
        let named = check("http://localhost:9/up", &list).await;
        assert!(
            named
                .as_ref()
                .is_ok_and(|c| c.domain.as_deref() == Some("localhost")
                    && c.addrs.iter().all(|a| a.ip().is_loopback())),
            "{named:?}"
        );
        assert_eq!(
            check(
                "http://[::1]:9/up",
                &AllowList::parse_csv("127.0.0.0/8").unwrap_or_default()
            )
            .await,
            Err(EndpointError::NotPublic("loopback"))
        );
    }
}
