//! Address management, pure part: IPv4 subnets (`10.89.0.0/24`), picking a free
//! /24 for a new network from the pool, and a free address for a container; IPv6
//! subnets (`fd12:3456:789a::/64`), a unique local /64 for a dual-stack network
//! (RFC 4193) and a free address in it. The stateful part (network records and
//! their endpoints, under the networks lock) builds on these.

use std::collections::BTreeSet;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// rde's default pool: a /24 per network, from 10.89.0.0/16 (podman uses 10.88/16).
pub const DEFAULT_POOL: &str = "10.89.0.0/16";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Subnet {
    network: u32,
    prefix: u8,
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("invalid subnet {0:?}; hint: write it in CIDR form, e.g. 10.89.5.0/24")]
pub struct InvalidSubnet(pub String);

impl Subnet {
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Option<Subnet> {
        (prefix <= 32).then(|| Subnet { network: u32::from(addr) & mask(prefix), prefix })
    }

    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.network)
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    fn size(&self) -> u64 {
        1u64 << (32 - self.prefix)
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix) == self.network
    }

    pub fn overlaps(&self, other: &Subnet) -> bool {
        let p = self.prefix.min(other.prefix);
        self.network & mask(p) == other.network & mask(p)
    }

    /// The bridge's address: the first host address.
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.network + 1)
    }

    /// The last address of the subnet.
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.network + (self.size() - 1) as u32)
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) }
}

impl FromStr for Subnet {
    type Err = InvalidSubnet;
    fn from_str(s: &str) -> Result<Subnet, InvalidSubnet> {
        let bad = || InvalidSubnet(s.to_string());
        let (addr, prefix) = s.split_once('/').ok_or_else(bad)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        let subnet = Subnet::new(addr, prefix).ok_or_else(bad)?;
        // 10.89.0.5/24 is a host address, not a subnet.
        if subnet.network() != addr || prefix > 30 {
            return Err(bad());
        }
        Ok(subnet)
    }
}

impl TryFrom<String> for Subnet {
    type Error = InvalidSubnet;
    fn try_from(s: String) -> Result<Subnet, InvalidSubnet> {
        s.parse()
    }
}

impl From<Subnet> for String {
    fn from(s: Subnet) -> String {
        s.to_string()
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network(), self.prefix)
    }
}

/// The first /`prefix` of `pool` that overlaps none of `taken`.
pub fn free_subnet(pool: Subnet, prefix: u8, taken: &[Subnet]) -> Option<Subnet> {
    if prefix < pool.prefix || prefix > 30 {
        return None;
    }
    let step = 1u64 << (32 - prefix);
    (0..pool.size() / step).map(|i| Subnet { network: pool.network + (i * step) as u32, prefix }).find(|candidate| !taken.iter().any(|t| t.overlaps(candidate)))
}

/// The lowest address of `range` (a part of `subnet`, or `subnet` itself) that
/// is not `subnet`'s network or broadcast address, nor `used` (which holds the
/// gateway).
pub fn free_address(subnet: Subnet, range: Subnet, used: &BTreeSet<Ipv4Addr>) -> Option<Ipv4Addr> {
    let (first, last) = (u32::from(range.network()), u32::from(range.broadcast()));
    (first..=last).map(Ipv4Addr::from).find(|ip| *ip != subnet.network() && *ip != subnet.broadcast() && !used.contains(ip))
}

/// An IPv6 subnet: a network address and a prefix length (at most /120).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Subnet6 {
    network: u128,
    prefix: u8,
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("invalid IPv6 subnet {0:?}; hint: write it in CIDR form, e.g. fd00:db8:1::/64")]
pub struct InvalidSubnet6(pub String);

fn mask6(prefix: u8) -> u128 {
    if prefix == 0 { 0 } else { u128::MAX << (128 - prefix) }
}

impl Subnet6 {
    pub fn network(&self) -> Ipv6Addr {
        Ipv6Addr::from(self.network)
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    pub fn contains(&self, ip: Ipv6Addr) -> bool {
        u128::from(ip) & mask6(self.prefix) == self.network
    }

    pub fn overlaps(&self, other: &Subnet6) -> bool {
        let p = self.prefix.min(other.prefix);
        self.network & mask6(p) == other.network & mask6(p)
    }

    /// The bridge's address: the first after the network's (`...::1`).
    pub fn gateway(&self) -> Ipv6Addr {
        Ipv6Addr::from(self.network + 1)
    }

    /// A unique local /64 (RFC 4193: fd00::/8, a 40-bit global id, subnet 0) whose
    /// global id is the first ten hex digits of `seed` (a network id).
    pub fn unique_local(seed: &str) -> Subnet6 {
        let id = u64::from_str_radix(seed.get(..10).unwrap_or("0"), 16).unwrap_or(0);
        Subnet6 { network: (0xfd_u128 << 120) | (u128::from(id) << 80), prefix: 64 }
    }
}

impl FromStr for Subnet6 {
    type Err = InvalidSubnet6;
    fn from_str(s: &str) -> Result<Subnet6, InvalidSubnet6> {
        let bad = || InvalidSubnet6(s.to_string());
        let (addr, prefix) = s.split_once('/').ok_or_else(bad)?;
        let addr: Ipv6Addr = addr.parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        if prefix > 120 || u128::from(addr) & !mask6(prefix) != 0 {
            return Err(bad());
        }
        Ok(Subnet6 { network: u128::from(addr), prefix })
    }
}

impl TryFrom<String> for Subnet6 {
    type Error = InvalidSubnet6;
    fn try_from(s: String) -> Result<Subnet6, InvalidSubnet6> {
        s.parse()
    }
}

impl From<Subnet6> for String {
    fn from(s: Subnet6) -> String {
        s.to_string()
    }
}

impl fmt::Display for Subnet6 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network(), self.prefix)
    }
}

/// The lowest address of `range` (an IPv6 subnet or a part of one) that is not
/// `used` (which holds the gateway and the subnet's own address); the first
/// 65536 are looked at.
pub fn free_address6(range: Subnet6, used: &BTreeSet<Ipv6Addr>) -> Option<Ipv6Addr> {
    let size = if range.prefix >= 112 { 1u128 << (128 - range.prefix) } else { 1 << 16 };
    (0..size).map(|i| Ipv6Addr::from(range.network + i)).find(|ip| !used.contains(ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Subnet {
        text.parse().unwrap()
    }

    #[test]
    fn parsing_and_arithmetic() {
        let n = s("10.89.3.0/24");
        assert_eq!(n.gateway(), Ipv4Addr::new(10, 89, 3, 1));
        assert!(n.contains(Ipv4Addr::new(10, 89, 3, 200)) && !n.contains(Ipv4Addr::new(10, 89, 4, 1)));
        assert!(s("10.89.0.0/16").overlaps(&n) && !n.overlaps(&s("10.89.4.0/24")));
        assert_eq!(n.to_string(), "10.89.3.0/24");
        for bad in ["10.89.3.5/24", "10.89.3.0", "10.89.3.0/33", "10.89.3.0/31", "x/24", "10.89.3.0/x"] {
            assert!(bad.parse::<Subnet>().is_err(), "{bad}");
        }
        let json = serde_json::to_string(&n).unwrap();
        assert_eq!(json, "\"10.89.3.0/24\"");
        assert_eq!(serde_json::from_str::<Subnet>(&json).unwrap(), n);
    }

    #[test]
    fn subnets_for_new_networks() {
        let pool = s(DEFAULT_POOL);
        assert_eq!(free_subnet(pool, 24, &[]), Some(s("10.89.0.0/24")));
        let taken = [s("10.89.0.0/24"), s("10.89.1.0/24"), s("10.89.3.0/24")];
        assert_eq!(free_subnet(pool, 24, &taken), Some(s("10.89.2.0/24")));
        // A user's bigger subnet blocks everything it covers.
        assert_eq!(free_subnet(pool, 24, &[s("10.89.0.0/22")]), Some(s("10.89.4.0/24")));
        let all: Vec<Subnet> = (0..=255).map(|i| s(&format!("10.89.{i}.0/24"))).collect();
        assert_eq!(free_subnet(pool, 24, &all), None);
    }

    #[test]
    fn addresses_for_containers() {
        let n = s("10.89.0.0/30");
        let gateway: BTreeSet<Ipv4Addr> = [n.gateway()].into();
        assert_eq!(free_address(n, n, &gateway), Some(Ipv4Addr::new(10, 89, 0, 2)));
        let used: BTreeSet<Ipv4Addr> = [n.gateway(), Ipv4Addr::new(10, 89, 0, 2)].into();
        assert_eq!(free_address(n, n, &used), None, "only .2 is usable in a /30");
        let n = s("10.89.7.0/24");
        let used: BTreeSet<Ipv4Addr> = (1..=10).map(|i| Ipv4Addr::new(10, 89, 7, i)).collect();
        assert_eq!(free_address(n, n, &used), Some(Ipv4Addr::new(10, 89, 7, 11)));
        // An ip_range: addresses come from it only; a gateway elsewhere.
        let used: BTreeSet<Ipv4Addr> = [Ipv4Addr::new(10, 89, 7, 254)].into();
        assert_eq!(free_address(n, s("10.89.7.128/25"), &used), Some(Ipv4Addr::new(10, 89, 7, 128)));
        assert_eq!(free_address(n, s("10.89.7.0/25"), &used), Some(Ipv4Addr::new(10, 89, 7, 1)), "the network address is skipped");
    }

    #[test]
    fn ipv6_subnets_and_addresses() {
        let n: Subnet6 = "fd00:db8:1::/64".parse().unwrap();
        assert_eq!(n.gateway().to_string(), "fd00:db8:1::1");
        assert!(n.contains("fd00:db8:1::abcd".parse().unwrap()) && !n.contains("fd00:db8:2::1".parse().unwrap()));
        assert!(n.overlaps(&"fd00:db8::/32".parse().unwrap()) && !n.overlaps(&"fd00:db8:2::/64".parse().unwrap()));
        for bad in ["fd00:db8:1::1/64", "fd00::/121", "fd00::", "10.0.0.0/8", "x/64"] {
            assert!(bad.parse::<Subnet6>().is_err(), "{bad}");
        }
        assert_eq!(serde_json::to_string(&n).unwrap(), "\"fd00:db8:1::/64\"");
        let used: BTreeSet<Ipv6Addr> = [n.network(), n.gateway(), "fd00:db8:1::2".parse().unwrap()].into();
        assert_eq!(free_address6(n, &used).unwrap().to_string(), "fd00:db8:1::3");
        let range: Subnet6 = "fd00:db8:1::100/120".parse().unwrap();
        assert_eq!(free_address6(range, &used).unwrap().to_string(), "fd00:db8:1::100");
        let ula = Subnet6::unique_local("0123456789abcdef");
        assert_eq!(ula.to_string(), "fd01:2345:6789::/64");
        let tiny: Subnet6 = "fd00::/120".parse().unwrap();
        let full: BTreeSet<Ipv6Addr> = (0..256u16).map(|i| Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, i)).collect();
        assert_eq!(free_address6(tiny, &full), None);
    }
}
