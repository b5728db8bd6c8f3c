//! The client address the rate limits count against.
//!
//! Behind a load balancer every connection comes from the balancer, so the
//! limits would count all clients together. The operator lists the proxies
//! it trusts (`trusted_proxies`, CIDRs); only a connection from one of them
//! has its `X-Forwarded-For` read, right to left, skipping further trusted
//! hops: the first untrusted address is the client. A header from anyone
//! else is ignored, so a client cannot choose its own address. This is the
//! "rightmost untrusted" rule (MDN's X-Forwarded-For security notes); the
//! leftmost entries are whatever the client sent and are never used.

use std::net::IpAddr;

use actix_web::HttpRequest;
use ipnet::IpNet;

/// The proxies whose `X-Forwarded-For` the relay believes (a list of CIDRs
/// in the configuration file).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(transparent)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Trusts the proxies in `nets`.
    pub fn new(nets: Vec<IpNet>) -> Self {
        TrustedProxies(nets)
    }

    /// Parses a comma-separated list of CIDRs or addresses (an address alone
    /// is a /32 or /128).
    pub fn parse_list(text: &str) -> Option<Self> {
        let nets = text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .ok()
                    .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
            })
            .collect::<Option<Vec<_>>>()?;
        Some(TrustedProxies(nets))
    }

    /// Whether `ip` is one of the trusted proxies.
    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client's address for a connection from `peer` carrying the
    /// `X-Forwarded-For` values `forwarded` (in header order).
    pub fn client(&self, peer: Option<IpAddr>, forwarded: &[&str]) -> Option<IpAddr> {
        let peer = peer?;
        if !self.trusts(peer) {
            return Some(peer);
        }
        let mut client = peer;
        let hops = forwarded.iter().flat_map(|value| value.split(','));
        for hop in hops.collect::<Vec<_>>().into_iter().rev() {
            // An entry that is not an address ends the chain we can believe:
            // the hop that wrote it is the last one we know.
            let Some(ip) = parse_hop(hop) else {
                return Some(client);
            };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        Some(client)
    }

    /// The client address of `req` as text ("unknown" without a peer).
    pub fn client_of(&self, req: &HttpRequest) -> String {
        let forwarded: Vec<&str> = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .collect();
        self.client(req.peer_addr().map(|a| a.ip()), &forwarded)
            .map(|ip| ip.to_string())
            .unwrap_or_else(|| "unknown".into())
    }
}

/// One `X-Forwarded-For` entry: an IPv4 or IPv6 address, optionally with a
/// port (`1.2.3.4:5678`, `[::1]:5678`), surrounded by spaces.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(addr) = hop.parse::<std::net::SocketAddr>() {
        return Some(addr.ip());
    }
    hop.strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|inner| inner.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(nets: &[&str]) -> TrustedProxies {
        TrustedProxies::new(nets.iter().map(|n| n.parse().unwrap()).collect())
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn lists_parse_cidrs_and_bare_addresses_and_refuse_garbage() {
        let list = TrustedProxies::parse_list("10.0.0.0/8, 192.0.2.1,fd00::/8").unwrap();
        assert!(list.trusts("10.9.9.9".parse().unwrap()));
        assert!(list.trusts("192.0.2.1".parse().unwrap()));
        assert!(!list.trusts("192.0.2.2".parse().unwrap()));
        assert!(TrustedProxies::parse_list("10.0.0.0/33").is_none());
        assert!(TrustedProxies::parse_list("proxy.local").is_none());
    }

    /// `(trusted CIDRs, peer, X-Forwarded-For values, expected client)`.
    const CASES: [(&[&str], &str, &[&str], &str); 9] = [
        // Without trusted proxies the header is ignored.
        (&[], "10.0.0.1", &["203.0.113.9"], "10.0.0.1"),
        // An untrusted peer cannot choose its address.
        (
            &["10.0.0.0/8"],
            "198.51.100.7",
            &["203.0.113.9"],
            "198.51.100.7",
        ),
        // The rightmost untrusted hop is the client; a forged first entry is never read.
        (
            &["10.0.0.0/8"],
            "10.0.0.1",
            &["1.1.1.1, 203.0.113.9", "10.0.0.2"],
            "203.0.113.9",
        ),
        (&["fd00::/8"], "fd00::1", &["2001:db8::5"], "2001:db8::5"),
        (
            &["10.0.0.0/8"],
            "10.0.0.1",
            &["[2001:db8::5]:443"],
            "2001:db8::5",
        ),
        (
            &["10.0.0.0/8"],
            "10.0.0.1",
            &["203.0.113.9:5555"],
            "203.0.113.9",
        ),
        // A chain of proxies only, or garbage, stops at the last hop known.
        (&["10.0.0.0/8"], "10.0.0.1", &[], "10.0.0.1"),
        (&["10.0.0.0/8"], "10.0.0.1", &["10.0.0.3"], "10.0.0.3"),
        (
            &["10.0.0.0/8"],
            "10.0.0.1",
            &["203.0.113.9, junk"],
            "10.0.0.1",
        ),
    ];

    #[test]
    fn the_client_is_the_rightmost_hop_a_trusted_proxy_vouches_for() {
        for (trusted, peer, forwarded, expected) in CASES {
            let found = proxies(trusted).client(ip(peer), forwarded);
            assert_eq!(found, ip(expected), "{trusted:?} {peer} {forwarded:?}");
        }
        assert_eq!(
            proxies(&["10.0.0.0/8"]).client(None, &["203.0.113.9"]),
            None
        );
    }
}
