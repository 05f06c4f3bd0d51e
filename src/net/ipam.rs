//! Address management, pure part: subnets (`10.89.0.0/24`), picking a free /24
//! for a new network from the pool, and a free address for a container. The
//! stateful part (the locked allocation file) builds on these.

use std::collections::BTreeSet;
use std::fmt;
use std::net::Ipv4Addr;
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

    fn broadcast(&self) -> Ipv4Addr {
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

/// The lowest address of `subnet` that is not the network, the gateway, the
/// broadcast address or already `used`.
pub fn free_address(subnet: Subnet, used: &BTreeSet<Ipv4Addr>) -> Option<Ipv4Addr> {
    let first = u32::from(subnet.gateway()) + 1;
    let last = u32::from(subnet.broadcast());
    (first..last).map(Ipv4Addr::from).find(|ip| !used.contains(ip))
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
        assert_eq!(free_address(n, &BTreeSet::new()), Some(Ipv4Addr::new(10, 89, 0, 2)));
        let used: BTreeSet<Ipv4Addr> = [Ipv4Addr::new(10, 89, 0, 2)].into();
        assert_eq!(free_address(n, &used), None, "only .2 is usable in a /30");
        let n = s("10.89.7.0/24");
        let used: BTreeSet<Ipv4Addr> = (2..=10).map(|i| Ipv4Addr::new(10, 89, 7, i)).collect();
        assert_eq!(free_address(n, &used), Some(Ipv4Addr::new(10, 89, 7, 11)));
    }
}
