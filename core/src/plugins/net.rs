//! The network policy for plugins' outbound HTTP: only hosts the install was
//! granted, only http(s) on their usual ports, and never an address inside
//! the institution's network or this machine — checked on the addresses the
//! name resolves to, so DNS cannot smuggle a private address in.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("`{0}` is not a valid http(s) URL")]
    BadUrl(String),
    #[error("host `{0}` was not granted to this plugin")]
    HostNotGranted(String),
    #[error("`{0}` resolves to a private, loopback or link-local address")]
    PrivateAddress(String),
    #[error("port {0} is not allowed; use 80 or 443")]
    Port(u16),
}

/// The parts of a URL the policy looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub https: bool,
    pub host: String,
    pub port: u16,
}

/// Parses an absolute http(s) URL into scheme, host and port, refusing
/// credentials in the URL and raw IP hosts (grants name DNS hosts).
pub fn parse_target(url: &str) -> Result<Target, Denied> {
    let bad = || Denied::BadUrl(url.chars().take(200).collect());
    let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err(bad());
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    if let Some(literal) = authority.strip_prefix('[') {
        // An IPv6 literal: grants name DNS hosts, never addresses.
        let end = literal.find(']').map_or(literal.len(), |i| i + 2);
        return Err(Denied::HostNotGranted(authority[..end.min(authority.len())].to_owned()));
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (host, port.parse::<u16>().map_err(|_| bad())?),
        None => (authority, if https { 443 } else { 80 }),
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty() || host.parse::<IpAddr>().is_ok() {
        return Err(Denied::HostNotGranted(host));
    }
    Ok(Target { https, host, port })
}

/// Checks a URL against the granted hosts (exact names, or `*.example.com`
/// for subdomains) before any connection is made.
pub fn check_grant(url: &str, granted: &[String]) -> Result<Target, Denied> {
    let target = parse_target(url)?;
    if !host_granted(&target.host, granted) {
        return Err(Denied::HostNotGranted(target.host));
    }
    if !matches!(target.port, 80 | 443) {
        return Err(Denied::Port(target.port));
    }
    Ok(target)
}

/// Whether a lower-case host name is among the granted ones (exact names,
/// or `*.example.com` for subdomains).
pub fn host_granted(host: &str, granted: &[String]) -> bool {
    granted.iter().any(|g| match g.strip_prefix("*.") {
        Some(domain) => host.ends_with(&format!(".{domain}")),
        None => *g == host,
    })
}

/// Resolves names for outbound requests (plugins', subscriptions' webhooks)
/// and refuses any that reach a private address, unless the operator listed
/// the host (`plugins.private_hosts`).
pub struct PublicResolver {
    pub private_hosts: Vec<String>,
}

impl reqwest::dns::Resolve for PublicResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_ascii_lowercase();
        let allow_private = self.private_hosts.contains(&host);
        Box::pin(async move {
            let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !allow_private {
                check_resolved(&host, &addresses)?;
            }
            Ok(Box::new(addresses.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Refuses the request if any resolved address is not public.
pub fn check_resolved(host: &str, addresses: &[SocketAddr]) -> Result<(), Denied> {
    if addresses.is_empty() || addresses.iter().any(|a| !is_public(a.ip())) {
        return Err(Denied::PrivateAddress(host.to_owned()));
    }
    Ok(())
}

/// Whether an address is on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    let first = segments[0];
    // `::a.b.c.d` (IPv4-compatible, deprecated) still reaches a.b.c.d on
    // some stacks: judge the IPv4 address it carries.
    if segments[..6] == [0; 6] && !ip.is_unspecified() && !ip.is_loopback() {
        let [a, b] = segments[6].to_be_bytes();
        let [c, d] = segments[7].to_be_bytes();
        return is_public_v4(Ipv4Addr::new(a, b, c, d));
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link local
        || (first & 0xffc0) == 0xfec0 // site local (deprecated, still routed inside some networks)
        || first == 0x0100 && segments[1..4] == [0; 3] // discard-only
        || first == 0x2002 // 6to4: wraps an IPv4 address
        || first == 0x2001 && segments[1] == 0 // Teredo: wraps an IPv4 address
        || first == 0x2001 && ip.segments()[1] == 0x0db8 // documentation
        || first == 0x0064 && ip.segments()[1] == 0xff9b) // NAT64 can reach private v4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_refused() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "fec0::1",
            "::127.0.0.1",
            "::10.0.0.1",
            "::169.254.169.254",
            "2002:7f00:1::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "157.240.22.35", "2a03:2880:f10c:83:face:b00c::25de"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn only_granted_hosts_on_web_ports() {
        let granted = vec!["graph.facebook.com".to_owned(), "*.twilio.com".to_owned()];
        assert!(check_grant("https://graph.facebook.com/v19.0/me", &granted).is_ok());
        assert!(check_grant("https://api.twilio.com/2010-04-01/Accounts", &granted).is_ok());
        for (url, expected) in [
            ("https://evil.example.com/", Denied::HostNotGranted("evil.example.com".into())),
            ("https://twilio.com/", Denied::HostNotGranted("twilio.com".into())),
            ("https://graph.facebook.com.evil.com/", Denied::HostNotGranted("graph.facebook.com.evil.com".into())),
            ("http://127.0.0.1/", Denied::HostNotGranted("127.0.0.1".into())),
            ("http://169.254.169.254/latest/meta-data", Denied::HostNotGranted("169.254.169.254".into())),
            ("http://[::1]/", Denied::HostNotGranted("[::1]".into())),
            ("https://graph.facebook.com:8443/", Denied::Port(8443)),
        ] {
            assert_eq!(check_grant(url, &granted), Err(expected), "{url}");
        }
        for url in
            ["ftp://graph.facebook.com/", "https://user:pw@graph.facebook.com/", "graph.facebook.com", "https:// x"]
        {
            assert!(matches!(check_grant(url, &granted), Err(Denied::BadUrl(_))), "{url}");
        }
    }

    #[test]
    fn resolution_to_a_private_address_is_refused() {
        let public: SocketAddr = "157.240.22.35:443".parse().unwrap();
        let private: SocketAddr = "10.0.0.5:443".parse().unwrap();
        assert!(check_resolved("graph.facebook.com", &[public]).is_ok());
        assert!(check_resolved("rebind.example.com", &[public, private]).is_err(), "any private answer refuses");
        assert!(check_resolved("nothing.example.com", &[]).is_err());
    }
}
