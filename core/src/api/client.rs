//! Who is calling, as rate limits count it: the client's address, read
//! through the proxies the operator trusts and no others.
//!
//! Behind a reverse proxy every request comes from the proxy, and the
//! client's address is in `X-Forwarded-For` (or `Forwarded: for=`), where
//! each proxy appends the address it received the request from. Only the
//! entries added by trusted proxies can be believed: walking the list from
//! the right, the first address that is not a trusted proxy is the client.
//! Anything to its left was written by the client and is ignored. An IPv6
//! client is counted by its /64, the block one subscriber gets, so it cannot
//! step past a limit by changing the rest of its address.

use std::net::IpAddr;

use actix_web::HttpRequest;

use crate::config::HttpConfig;

/// The client's address as rate limits key it: an IPv4 address whole, an
/// IPv6 one by its /64 (`2001:db8:1:2::/64`).
pub fn client_ip(req: &HttpRequest, http: &HttpConfig) -> String {
    match client_addr(req, http) {
        Some(ip) => rate_key(ip),
        None => "unknown".into(),
    }
}

/// The client's address, read through trusted proxies.
pub fn client_addr(req: &HttpRequest, http: &HttpConfig) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    let trusted = |ip: IpAddr| trusts(http, ip);
    if !trusted(peer) {
        return Some(canonical(peer));
    }
    let hops = forwarded_hops(req);
    // Right to left: the nearest hop first. The first one we do not trust
    // is the client; a value that is not an address ends the walk there.
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop {
            Some(ip) if trusted(*ip) => client = *ip,
            Some(ip) => return Some(canonical(*ip)),
            None => break,
        }
    }
    Some(canonical(client))
}

fn trusts(http: &HttpConfig, ip: IpAddr) -> bool {
    let ip = canonical(ip);
    if http.trusted_proxies.is_empty() {
        // The old switch: a proxy on this machine.
        return http.trust_forwarded_for && ip.is_loopback();
    }
    http.trusted_proxies.iter().any(|net| net.contains(&ip))
}

/// The addresses a request passed through, oldest first, from
/// `X-Forwarded-For` (all its headers) or else `Forwarded`'s `for=`; an entry
/// that is not an address is `None`.
fn forwarded_hops(req: &HttpRequest) -> Vec<Option<IpAddr>> {
    let headers = req.headers();
    let xff: Vec<_> = headers
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| parse_hop(s.trim()))
        .collect();
    if !xff.is_empty() {
        return xff;
    }
    headers
        .get_all("forwarded")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (name, value) = pair.trim().split_once('=')?;
                name.trim().eq_ignore_ascii_case("for").then(|| parse_hop(value.trim().trim_matches('"')))
            })
        })
        .collect()
}

/// `1.2.3.4`, `1.2.3.4:5678`, `[2001:db8::1]:443` or `2001:db8::1`.
fn parse_hop(value: &str) -> Option<IpAddr> {
    if let Ok(ip) = value.parse() {
        return Some(ip);
    }
    if let Some(rest) = value.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    value.rsplit_once(':').and_then(|(host, _port)| host.parse().ok())
}

/// IPv4 addresses written as IPv6 (`::ffff:1.2.3.4`) are the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn rate_key(ip: IpAddr) -> String {
    match canonical(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match ipnet::Ipv6Net::new(v6, 64) {
            Ok(net) => net.trunc().to_string(),
            Err(_) => v6.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_proxy;
    use actix_web::test::TestRequest;

    fn config(proxies: &[&str]) -> HttpConfig {
        HttpConfig {
            trusted_proxies: proxies.iter().map(|p| parse_proxy(p).expect("test proxy parses")).collect(),
            ..HttpConfig::default()
        }
    }

    fn from(peer: &str, headers: &[(&str, &str)], http: &HttpConfig) -> String {
        let mut req = TestRequest::default().peer_addr(peer.parse().expect("test peer parses"));
        for (name, value) in headers {
            req = req.insert_header((*name, *value));
        }
        client_ip(&req.to_http_request(), http)
    }

    #[test]
    fn headers_from_an_untrusted_peer_are_ignored() {
        let http = config(&["10.0.0.0/8"]);
        assert_eq!(from("203.0.113.9:4000", &[("x-forwarded-for", "1.1.1.1")], &http), "203.0.113.9");
        assert_eq!(from("203.0.113.9:4000", &[], &HttpConfig::default()), "203.0.113.9");
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let http = config(&["10.0.0.0/8", "192.0.2.7"]);
        // The client wrote `1.1.1.1` itself; the proxies added the rest.
        let spoofed = [("x-forwarded-for", "1.1.1.1, 198.51.100.20, 192.0.2.7")];
        assert_eq!(from("10.1.2.3:80", &spoofed, &http), "198.51.100.20");
        let forwarded = [("forwarded", "for=1.1.1.1, for=\"[2001:db8:aa:bb::5]:443\";proto=https")];
        assert_eq!(from("10.1.2.3:80", &forwarded, &http), "2001:db8:aa:bb::/64");
        // Only trusted hops: the farthest one stands for the client.
        assert_eq!(from("10.1.2.3:80", &[("x-forwarded-for", "10.9.9.9")], &http), "10.9.9.9");
        // Garbage ends the walk at the last trusted hop.
        assert_eq!(from("10.1.2.3:80", &[("x-forwarded-for", "1.1.1.1, nonsense")], &http), "10.1.2.3");
    }

    #[test]
    fn an_ipv6_client_counts_by_its_64() {
        let http = HttpConfig::default();
        assert_eq!(from("[2001:db8:1:2:aaaa::1]:5000", &[], &http), "2001:db8:1:2::/64");
        assert_eq!(from("[2001:db8:1:2:ffff::9]:5000", &[], &http), "2001:db8:1:2::/64");
        assert_eq!(from("[::ffff:198.51.100.1]:5000", &[], &http), "198.51.100.1");
    }

    #[test]
    fn the_old_switch_trusts_a_proxy_on_this_machine_only() {
        let http = HttpConfig { trust_forwarded_for: true, ..HttpConfig::default() };
        assert_eq!(from("127.0.0.1:80", &[("x-forwarded-for", "198.51.100.1")], &http), "198.51.100.1");
        assert_eq!(from("203.0.113.1:80", &[("x-forwarded-for", "198.51.100.1")], &http), "203.0.113.1");
    }
}
