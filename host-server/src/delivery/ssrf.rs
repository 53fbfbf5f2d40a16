//! The SSRF guard of webhook delivery: only http and https, the host resolved once and the
//! connection made to the checked address (so DNS rebinding cannot swap it), and no private,
//! loopback, link-local (cloud metadata), CGNAT, multicast, reserved or unspecified address,
//! in IPv4, IPv6 or IPv4-mapped form, unless the operator allowed its network
//! (`--webhook-allow-cidrs`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ipnet::IpNet;
use reqwest::Url;

/// The end of every refusal.
const PUBLIC_ONLY: &str = "webhooks may only go to public addresses";

/// Why an IPv4 address is refused, if it is.
fn v4_refusal(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, _, _) => "an unspecified or \"this network\" address",
        (10, _, _) | (172, 16..=31, _) | (192, 168, _) => "a private (RFC 1918) address",
        (100, 64..=127, _) => "a carrier-grade NAT (RFC 6598) address",
        (127, _, _) => "a loopback address",
        (169, 254, _) => "a link-local address (cloud metadata lives there)",
        (192, 0, 0) | (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "a reserved or documentation address",
        (198, 18..=19, _) => "a benchmarking (RFC 2544) address",
        (224..=239, _, _) => "a multicast address",
        (240..=255, _, _) => "a reserved or broadcast address",
        _ => return None,
    })
}

/// Why an address is refused, if it is (IPv4-mapped and NAT64 forms are judged as the IPv4
/// address they carry).
pub fn refusal(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_refusal(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return v4_refusal(v4);
            }
            let s = v6.segments();
            if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
                let [a, b] = s[6].to_be_bytes();
                let [c, d] = s[7].to_be_bytes();
                return v4_refusal(Ipv4Addr::new(a, b, c, d));
            }
            if v6 == Ipv6Addr::LOCALHOST {
                return Some("a loopback address");
            }
            if v6.is_unspecified() {
                return Some("an unspecified address");
            }
            Some(match s[0] {
                0xfc00..=0xfdff => "a unique local (ULA) address",
                0xfe80..=0xfebf => "a link-local address",
                0xfec0..=0xfeff => "a site-local address",
                0xff00..=0xffff => "a multicast address",
                // IPv4-compatible (::a.b.c.d) and other addresses in ::/96.
                0 if s[1..6] == [0, 0, 0, 0, 0] => "an IPv4-compatible address",
                _ => return None,
            })
        }
    }
}

/// Checks webhook targets.
#[derive(Debug, Clone, Default)]
pub struct SsrfGuard {
    allowed: Vec<IpNet>,
}

impl SsrfGuard {
    /// A guard that lets the `allowed` networks through despite the rules.
    pub fn new(allowed: Vec<IpNet>) -> Self {
        SsrfGuard { allowed }
    }

    /// Why `ip` may not be delivered to, if it may not.
    pub fn refused(&self, ip: IpAddr) -> Option<String> {
        self.verdict(ip).map(|(ip, why)| format!("{ip} is {why}; {PUBLIC_ONLY}"))
    }

    /// The address as judged (an IPv4-mapped one as its IPv4 address) and why it is refused.
    fn verdict(&self, ip: IpAddr) -> Option<(IpAddr, &'static str)> {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        if self.allowed.iter().any(|net| net.contains(&ip)) {
            return None;
        }
        refusal(ip).map(|why| (ip, why))
    }

    /// The URL's syntax: absolute http or https with a host, no credentials. The message says
    /// what is wrong.
    pub fn parse(url: &str) -> Result<Url, String> {
        let parsed = Url::parse(url).map_err(|e| format!("not an absolute URL ({e})"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!("the scheme must be http or https, not {:?}", parsed.scheme()));
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err("the URL has no host".to_owned());
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err("credentials in the URL are not allowed; sign with the webhook secret".to_owned());
        }
        if url.len() > 2048 {
            return Err("at most 2048 characters".to_owned());
        }
        Ok(parsed)
    }

    /// Resolves the URL's host once and checks every address it has; the connection must go
    /// to the returned one.
    pub async fn resolve(&self, url: &Url) -> Result<SocketAddr, String> {
        let host = url.host_str().ok_or("the URL has no host")?;
        let port = url.port_or_known_default().ok_or("the URL has no port")?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => tokio::net::lookup_host((host, port))
                .await
                .map_err(|e| format!("cannot resolve {host:?}: {e}"))?
                .collect(),
        };
        let first = *addrs.first().ok_or_else(|| format!("{host:?} has no address"))?;
        let named = host.parse::<IpAddr>().is_err();
        for addr in &addrs {
            if let Some((ip, why)) = self.verdict(addr.ip()) {
                return Err(if named {
                    format!("{host} resolves to {ip}, which is {why}; {PUBLIC_ONLY}")
                } else {
                    format!("{ip} is {why}; {PUBLIC_ONLY}")
                });
            }
        }
        Ok(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refused_class_is_refused_in_every_form() {
        let guard = SsrfGuard::default();
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "::127.0.0.1",
        ] {
            let ip: IpAddr = ip.parse().expect("ip");
            assert!(guard.refused(ip).is_some(), "{ip} passed");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "172.32.0.1", "100.128.0.1"] {
            let ip: IpAddr = ip.parse().expect("ip");
            assert!(guard.refused(ip).is_none(), "{ip} refused");
        }
        let allowed = SsrfGuard::new(vec!["127.0.0.0/8".parse().expect("net")]);
        assert!(allowed.refused("127.0.0.1".parse().expect("ip")).is_none());
        assert!(allowed.refused("::ffff:127.0.0.1".parse().expect("ip")).is_none());
        assert!(allowed.refused("10.0.0.1".parse().expect("ip")).is_some());
    }

    #[test]
    fn only_plain_http_urls_parse() {
        assert!(SsrfGuard::parse("https://example.com/hook").is_ok());
        for bad in ["ftp://example.com/", "file:///etc/passwd", "https://user:pw@example.com/", "/relative"] {
            assert!(SsrfGuard::parse(bad).is_err(), "{bad}");
        }
    }
}
