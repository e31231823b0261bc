//! CIDR parsing and overlap, the arithmetic behind subnet and peering checks.

use std::net::IpAddr;

use ipnet::IpNet;

/// Parses a CIDR whose host bits are clear (`10.0.0.0/24`).
pub fn parse_network(s: &str) -> Option<IpNet> {
    let net: IpNet = s.parse().ok()?;
    (net.trunc() == net).then_some(net)
}

/// Parses a firewall or route range: a CIDR, or a bare address meaning a
/// single host, as Compute accepts.
pub fn parse_range(s: &str) -> Option<IpNet> {
    if let Ok(net) = s.parse::<IpNet>() {
        return Some(net);
    }
    s.parse::<IpAddr>().ok().map(IpNet::from)
}

/// Whether two ranges share any address.
pub fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The subnet's gateway: the first usable address of its primary range.
pub fn gateway(net: &IpNet) -> String {
    match net {
        IpNet::V4(v4) => {
            let first = u32::from(v4.network()).saturating_add(1);
            std::net::Ipv4Addr::from(first).to_string()
        }
        IpNet::V6(v6) => {
            let first = u128::from(v6.network()).saturating_add(1);
            std::net::Ipv6Addr::from(first).to_string()
        }
    }
}

/// RFC 1918 and the other ranges Compute treats as private for
/// `*SubnetRoutesWithPublicIp`; anything else is a privately used public range.
pub fn is_private(net: &IpNet) -> bool {
    const PRIVATE: [&str; 6] = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "192.0.0.0/24", "198.18.0.0/15"];
    PRIVATE.iter().filter_map(|p| p.parse::<IpNet>().ok()).any(|p| p.contains(net))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn detects_overlap_both_ways() {
        assert!(overlaps(&net("10.0.0.0/16"), &net("10.0.5.0/24")));
        assert!(overlaps(&net("10.0.5.0/24"), &net("10.0.0.0/16")));
        assert!(!overlaps(&net("10.0.0.0/24"), &net("10.0.1.0/24")));
    }

    #[test]
    fn refuses_host_bits() {
        assert!(parse_network("10.0.0.1/24").is_none());
        assert!(parse_network("10.0.0.0/33").is_none());
        assert_eq!(gateway(&net("10.0.0.0/24")), "10.0.0.1");
    }
}
