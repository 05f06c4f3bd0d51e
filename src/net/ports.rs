//! Published ports as docker reads them: `-p [IP:][HOST:]CONTAINER[/PROTO]`,
//! with ranges (`8000-8002:8000-8002`), and `-P` for every exposed port.

use std::fmt;
use std::net::IpAddr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

/// One published port after ranges are expanded. `host_port: None` means "any free port".
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PortMapping {
    pub host_ip: Option<IpAddr>,
    pub host_port: Option<u16>,
    pub container_port: u16,
    pub protocol: Protocol,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PortError {
    #[error("invalid port specification {spec:?}: {what}; hint: use [IP:]HOST_PORT:CONTAINER_PORT[/udp], e.g. 8000:8000 or 127.0.0.1:5432:5432")]
    Invalid { spec: String, what: &'static str },
}

impl fmt::Display for PortMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let proto = match self.protocol {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        };
        let ip = match self.host_ip {
            Some(IpAddr::V6(ip)) => format!("[{ip}]"),
            Some(ip) => ip.to_string(),
            None => "0.0.0.0".into(),
        };
        match self.host_port {
            Some(p) => write!(f, "{ip}:{p}->{}/{proto}", self.container_port),
            None => write!(f, "{ip}:?->{}/{proto}", self.container_port),
        }
    }
}

/// Parse one `-p` value into its mappings (several for a range).
pub fn parse(spec: &str) -> Result<Vec<PortMapping>, PortError> {
    let bad = |what| PortError::Invalid { spec: spec.to_string(), what };
    let (rest, protocol) = match spec.rsplit_once('/') {
        Some((r, "tcp")) => (r, Protocol::Tcp),
        Some((r, "udp")) => (r, Protocol::Udp),
        Some(_) => return Err(bad("the protocol must be tcp or udp")),
        None => (spec, Protocol::Tcp),
    };
    // An IPv6 host address is bracketed: [::1]:8080:80.
    let (host_ip, rest) = if let Some(after) = rest.strip_prefix('[') {
        let (ip, tail) = after.split_once("]:").ok_or_else(|| bad("unclosed [ in the host address"))?;
        (Some(ip.parse::<IpAddr>().map_err(|_| bad("bad host IP address"))?), tail)
    } else {
        let parts: Vec<&str> = rest.split(':').collect();
        match parts.len() {
            3 => {
                let ip = if parts[0].is_empty() { None } else { Some(parts[0].parse::<IpAddr>().map_err(|_| bad("bad host IP address"))?) };
                (ip, &rest[parts[0].len() + 1..])
            }
            1 | 2 => (None, rest),
            _ => return Err(bad("too many ':'")),
        }
    };
    let (host, container) = match rest.split_once(':') {
        Some((h, c)) => (Some(h), c),
        None => (None, rest),
    };
    let container = range(container).ok_or_else(|| bad("bad container port or range"))?;
    let host = match host.filter(|h| !h.is_empty()) {
        Some(h) => Some(range(h).ok_or_else(|| bad("bad host port or range"))?),
        None => None,
    };
    let count = container.1 - container.0 + 1;
    if let Some(h) = host {
        let host_count = h.1 - h.0 + 1;
        if host_count != count && !(count == 1 && host_count >= 1) {
            return Err(bad("the host and container ranges differ in size"));
        }
        // `8000-8010:80`: docker picks one free host port of the range; we take the first.
        if count == 1 && host_count > 1 {
            return Ok(vec![PortMapping { host_ip, host_port: Some(h.0), container_port: container.0, protocol }]);
        }
    }
    Ok((0..count).map(|i| PortMapping { host_ip, host_port: host.map(|h| h.0 + i), container_port: container.0 + i, protocol }).collect())
}

/// `80` or `8000-8010`, ports 1..=65535, low <= high.
fn range(text: &str) -> Option<(u16, u16)> {
    let (low, high) = match text.split_once('-') {
        Some((l, h)) => (l.parse::<u16>().ok()?, h.parse::<u16>().ok()?),
        None => {
            let p = text.parse::<u16>().ok()?;
            (p, p)
        }
    };
    (low >= 1 && low <= high).then_some((low, high))
}

/// `-P`: every port the image exposes (`"5432/tcp"` keys), on any free host port.
pub fn publish_all(exposed: &[String]) -> Vec<PortMapping> {
    exposed
        .iter()
        .filter_map(|key| {
            let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
            Some(PortMapping {
                host_ip: None,
                host_port: None,
                container_port: port.parse().ok()?,
                protocol: if proto == "udp" { Protocol::Udp } else { Protocol::Tcp },
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(spec: &str) -> PortMapping {
        let v = parse(spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
        assert_eq!(v.len(), 1, "{spec}");
        v.into_iter().next().unwrap()
    }

    #[test]
    fn docker_forms() {
        assert_eq!(one("8000:8000").to_string(), "0.0.0.0:8000->8000/tcp");
        assert_eq!(one("127.0.0.1:5432:5432").to_string(), "127.0.0.1:5432->5432/tcp");
        assert_eq!(one("53:53/udp").to_string(), "0.0.0.0:53->53/udp");
        assert_eq!(one("80").host_port, None);
        assert_eq!(one("127.0.0.1::80").host_port, None);
        assert_eq!(one("[::1]:8080:80").to_string(), "[::1]:8080->80/tcp");
        let r = parse("8000-8002:9000-9002").unwrap();
        assert_eq!(r.iter().map(|m| (m.host_port.unwrap(), m.container_port)).collect::<Vec<_>>(), [(8000, 9000), (8001, 9001), (8002, 9002)]);
        assert_eq!(one("8000-8010:80").host_port, Some(8000));
    }

    #[test]
    fn bad_specs() {
        for bad in ["", "x:80", "80:y", "0:80", "80/sctp", "1:2:3:4", "8000-8001:80-82", "300-200:1", "1.2.3:80:80", "70000:80"] {
            assert!(parse(bad).is_err(), "{bad:?} should be refused");
        }
        let e = parse("8000:http").unwrap_err().to_string();
        assert!(e.contains("8000:http") && e.contains("hint"), "{e}");
    }

    #[test]
    fn publish_all_exposed() {
        let v = publish_all(&["5432/tcp".into(), "53/udp".into(), "junk".into()]);
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].protocol, Protocol::Udp);
    }
}
