//! Network definitions and their live endpoints.
//!
//! ```text
//! <data>/networks-v1/<name>.json   what the network is (subnet, bridge, internal)
//! <run>/networks/<name>.json       who is on it now: one endpoint per running container
//! <run>/networks/_firewall.json    which networks and published ports the firewall holds
//!                                  (`_`: no network's name can start with it)
//! <data>/locks/networks.lock       held for every change to either, and to bridges
//! ```
//!
//! Endpoints live in the run directory: after a reboot nobody is connected. An
//! endpoint whose shim died is stale and is dropped when next read.

use super::ipam::{self, Subnet, Subnet6};
use crate::fsutil::{self, LockGuard};
use crate::paths::Paths;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

/// The network `rde container run` uses without `--network`, as docker's `bridge`.
pub const DEFAULT_NETWORK: &str = "bridge";

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("network store {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("network record {} is corrupt: {source}; hint: remove it with `rde network rm {}`", .path.display(), record_name(.path))]
    Corrupt { path: PathBuf, source: serde_json::Error },
    #[error("no such network: {0}; hint: `rde network ls` lists them, `rde network create {0}` makes it")]
    NotFound(String),
    #[error("network {0} already exists")]
    Exists(String),
    #[error("invalid network name {0:?}; hint: use letters, digits, '_', '.' and '-', starting with a letter or digit")]
    BadName(String),
    #[error("subnet {0} overlaps network {1} ({2})")]
    Overlap(Subnet, String, Subnet),
    #[error("IPv6 subnet {0} overlaps network {1} ({2})")]
    Overlap6(Subnet6, String, Subnet6),
    #[error("{what} {value} is not inside the subnet {subnet}; hint: give one inside it, or leave it out")]
    NotInSubnet { what: &'static str, value: String, subnet: String },
    #[error("no free subnet left in {0}; hint: remove unused networks with `rde network prune`, or give --subnet")]
    PoolExhausted(Subnet),
    #[error("network {network} has no free address left in {subnet}")]
    Full { network: String, subnet: Subnet },
    #[error("address {ip} is not in network {network}'s subnet {subnet}")]
    OutsideSubnet { ip: std::net::IpAddr, network: String, subnet: String },
    #[error("address {ip} on network {network} is already in use by container {by}")]
    AddressInUse { ip: std::net::IpAddr, network: String, by: String },
    #[error("network {0} has no IPv6; hint: create it with `rde network create --ipv6`, or `enable_ipv6: true` in compose")]
    NoIpv6(String),
    #[error("network {0} cannot have IPv6: this kernel has it off (ipv6.disable=1); hint: leave out --ipv6 / enable_ipv6")]
    NoIpv6Kernel(String),
    #[error("network {network} has no free IPv6 address left in {subnet}")]
    Full6 { network: String, subnet: Subnet6 },
    #[error("network {0} is the default network and cannot be removed")]
    Default(String),
    #[error(transparent)]
    Settings(#[from] crate::settings::SettingsError),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> NetworkError + '_ {
    move |source| NetworkError::Io { path: path.to_path_buf(), source }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Network {
    pub name: String,
    pub id: String,
    pub driver: String,
    pub subnet: Subnet,
    pub gateway: Ipv4Addr,
    /// Where containers' IPv4 addresses come from (compose's `ipam.config.ip_range`); else the subnet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_range: Option<Subnet>,
    /// Dual stack (`--ipv6`, compose's `enable_ipv6`): the IPv6 subnet and the bridge's address in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet6: Option<Subnet6>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway6: Option<Ipv6Addr>,
    /// Where containers' IPv6 addresses come from; else the IPv6 subnet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_range6: Option<Subnet6>,
    /// No traffic leaves the bridge: no masquerade, nothing forwarded.
    pub internal: bool,
    /// The Linux bridge, in the host's namespace (rootful) or the session's (rootless).
    pub bridge: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub created: u64,
}

/// One running container on a network.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Endpoint {
    pub container_id: String,
    /// Name, aliases and hostname: what the other containers can resolve.
    pub names: Vec<String>,
    pub ip: Ipv4Addr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip6: Option<Ipv6Addr>,
    /// The host-side veth, on the bridge.
    pub veth: String,
    /// The shim that owns the endpoint: when it is gone, so is the endpoint.
    pub shim_pid: i32,
    /// The shim's start time (see [`crate::process::ProcessId`]): a reused pid is not the shim.
    #[serde(default)]
    pub shim_start: Option<u64>,
    /// The container's /etc/hosts, rewritten as peers come and go.
    pub hosts_file: PathBuf,
    /// Published ports the kernel forwards to this endpoint (rootful).
    #[serde(default)]
    pub forwards: Vec<super::ports::PortMapping>,
    /// The container's `--add-host` entries, resolved, for its /etc/hosts.
    #[serde(default)]
    pub extra_hosts: Vec<(String, std::net::IpAddr)>,
    /// The container's `--dns` servers: its resolver forwards its other names there.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<std::net::IpAddr>,
}

impl Endpoint {
    /// Its shim still runs (so the endpoint is real).
    pub fn live(&self) -> bool {
        crate::process::ProcessId { pid: self.shim_pid, start: self.shim_start }.alive()
    }
}

/// How a container is networked (`--network`, compose's `network_mode`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    /// On these networks, each through a veth on its bridge.
    Bridge(Vec<NetworkRequest>),
    /// Its own namespace with only `lo`.
    #[default]
    None,
    /// The host's namespace.
    Host,
    /// Another container's namespace (`container:NAME`, compose's `service:NAME`).
    Container(String),
}

impl NetworkMode {
    /// The networks a container in this mode joins.
    pub fn network_names(&self) -> Vec<String> {
        match self {
            NetworkMode::Bridge(requests) => requests.iter().map(|r| r.name.clone()).collect(),
            _ => Vec::new(),
        }
    }
}

/// One network a container joins, with its aliases and maybe a fixed address.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct NetworkRequest {
    pub name: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub ip: Option<Ipv4Addr>,
    #[serde(default)]
    pub ip6: Option<Ipv6Addr>,
}

/// Where a container is on one network (kept in its state, shown by inspect).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Attachment {
    pub network: String,
    pub ip: Ipv4Addr,
    pub prefix: u8,
    pub gateway: Ipv4Addr,
    pub interface: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip6: Option<Ipv6Addr>,
    #[serde(default)]
    pub prefix6: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway6: Option<Ipv6Addr>,
}

/// What `create` accepts: everything but the name is optional.
#[derive(Clone, Debug, Default)]
pub struct NetworkOptions {
    pub subnet: Option<Subnet>,
    pub gateway: Option<Ipv4Addr>,
    pub ip_range: Option<Subnet>,
    /// Dual stack; with `subnet6` given, that subnet, else a unique local /64.
    pub ipv6: bool,
    pub subnet6: Option<Subnet6>,
    pub gateway6: Option<Ipv6Addr>,
    pub ip_range6: Option<Subnet6>,
    pub internal: bool,
    pub labels: BTreeMap<String, String>,
}

pub struct Networks {
    defs: PathBuf,
    live: PathBuf,
    lock: PathBuf,
    /// Bridges are `<prefix>0`, `<prefix>1`, ...; the firewall table is `ip <prefix>`.
    pub prefix: String,
    pool: Subnet,
}

impl Networks {
    pub fn open(paths: &Paths) -> Result<Networks, NetworkError> {
        let (defs, live) = (paths.data.join("networks-v1"), paths.run.join("networks"));
        for dir in [&defs, &live] {
            std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        }
        let settings = crate::settings::Settings::load(&paths.config_file)?;
        Ok(Networks { defs, live, lock: paths.data.join("locks").join("networks.lock"), prefix: settings.network_prefix, pool: settings.network_pool })
    }

    /// What the firewall holds now (see [`super::firewall::Applied`]).
    pub fn firewall_state(&self) -> PathBuf {
        self.live.join("_firewall.json")
    }

    /// Held for every change to networks, endpoints and bridges.
    pub fn lock(&self) -> Result<LockGuard, NetworkError> {
        fsutil::lock_exclusive(&self.lock).map_err(io_err(&self.lock))
    }

    /// Every readable network, by name. A corrupt record is left out (see
    /// [`Networks::broken`]) rather than failing every command.
    pub fn all(&self) -> Result<Vec<Network>, NetworkError> {
        let (mut out, _) = self.scan()?;
        out.sort_by(|a: &Network, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The records that cannot be read (`Corrupt` or `Io`).
    pub fn broken(&self) -> Result<Vec<NetworkError>, NetworkError> {
        Ok(self.scan()?.1)
    }

    fn scan(&self) -> Result<(Vec<Network>, Vec<NetworkError>), NetworkError> {
        let (mut good, mut bad) = (Vec::new(), Vec::new());
        for entry in std::fs::read_dir(&self.defs).map_err(io_err(&self.defs))?.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "json") {
                match read_json(&path) {
                    Ok(Some(network)) => good.push(network),
                    // Removed since the listing.
                    Ok(None) => {}
                    Err(e) => bad.push(e),
                }
            }
        }
        Ok((good, bad))
    }

    /// A network by name (or id prefix); the default network is made on first use.
    /// Call with the lock held.
    pub fn get(&self, query: &str) -> Result<Network, NetworkError> {
        if let Some(n) = read_json(&self.def_path(query)?)? {
            return Ok(n);
        }
        if query == DEFAULT_NETWORK {
            return self.create(DEFAULT_NETWORK, &NetworkOptions::default());
        }
        let all = self.all()?;
        let mut found = all.into_iter().filter(|n| query.len() >= 3 && n.id.starts_with(query));
        match (found.next(), found.next()) {
            (Some(n), None) => Ok(n),
            _ => Err(NetworkError::NotFound(query.to_string())),
        }
    }

    /// Create a network (call with the lock held).
    pub fn create(&self, name: &str, opts: &NetworkOptions) -> Result<Network, NetworkError> {
        let path = self.def_path(name)?;
        if path.exists() {
            return Err(NetworkError::Exists(name.to_string()));
        }
        let all = self.all()?;
        let taken: Vec<Subnet> = all.iter().map(|n| n.subnet).collect();
        let subnet = match opts.subnet {
            Some(s) => {
                if let Some(other) = all.iter().find(|n| n.subnet.overlaps(&s)) {
                    return Err(NetworkError::Overlap(s, other.name.clone(), other.subnet));
                }
                s
            }
            None => {
                let pool = self.pool;
                // The default network takes the pool's first /24 even when made last.
                let reserved: Vec<Subnet> = if name == DEFAULT_NETWORK { Vec::new() } else { vec![ipam::free_subnet(pool, 24, &[]).expect("pool")] };
                let avoid: Vec<Subnet> = taken.iter().copied().chain(reserved).chain(host_routes()).collect();
                ipam::free_subnet(pool, 24, &avoid).ok_or(NetworkError::PoolExhausted(pool))?
            }
        };
        let bridge = if name == DEFAULT_NETWORK {
            format!("{}0", self.prefix)
        } else {
            (1..).map(|i| format!("{}{i}", self.prefix)).find(|b| !all.iter().any(|n| &n.bridge == b)).expect("a free bridge name")
        };
        let outside = |what, value: String, subnet: String| NetworkError::NotInSubnet { what, value, subnet };
        let gateway = opts.gateway.unwrap_or(subnet.gateway());
        if !subnet.contains(gateway) || gateway == subnet.network() || gateway == subnet.broadcast() {
            return Err(outside("gateway", gateway.to_string(), subnet.to_string()));
        }
        if let Some(range) = opts.ip_range.filter(|r| !subnet.contains(r.network()) || r.prefix() < subnet.prefix()) {
            return Err(outside("ip_range", range.to_string(), subnet.to_string()));
        }
        let id = crate::names::new_id();
        if (opts.ipv6 || opts.subnet6.is_some()) && !std::path::Path::new("/proc/sys/net/ipv6").exists() {
            return Err(NetworkError::NoIpv6Kernel(name.to_string()));
        }
        let subnet6 = match (opts.ipv6 || opts.subnet6.is_some(), opts.subnet6) {
            (false, _) => None,
            (true, Some(s)) => {
                if let Some(other) = all.iter().find(|n| n.subnet6.is_some_and(|o| o.overlaps(&s))) {
                    return Err(NetworkError::Overlap6(s, other.name.clone(), other.subnet6.expect("found")));
                }
                Some(s)
            }
            (true, None) => Some(Subnet6::unique_local(&id)),
        };
        let gateway6 = subnet6.map(|s| opts.gateway6.unwrap_or(s.gateway()));
        if let (Some(s), Some(range)) = (subnet6, opts.ip_range6)
            && (!s.contains(range.network()) || range.prefix() < s.prefix())
        {
            return Err(outside("ip_range", range.to_string(), s.to_string()));
        }
        if let (Some(s), Some(g)) = (subnet6, gateway6)
            && (!s.contains(g) || g == s.network())
        {
            return Err(outside("IPv6 gateway", g.to_string(), s.to_string()));
        }
        let network = Network {
            name: name.to_string(),
            id,
            driver: "bridge".into(),
            subnet,
            gateway,
            ip_range: opts.ip_range,
            subnet6,
            gateway6,
            ip_range6: opts.ip_range6.filter(|_| subnet6.is_some()),
            internal: opts.internal,
            bridge,
            labels: opts.labels.clone(),
            created: crate::time::now_unix(),
        };
        write_json(&path, &network)?;
        Ok(network)
    }

    /// Forget a network's definition (its bridge must be gone already).
    pub fn remove(&self, name: &str) -> Result<(), NetworkError> {
        let path = self.def_path(name)?;
        std::fs::remove_file(&path).map_err(io_err(&path))?;
        let _ = std::fs::remove_file(self.live_path(name)?);
        Ok(())
    }

    /// The live endpoints of a network, without the stale ones.
    pub fn endpoints(&self, name: &str) -> Result<Vec<Endpoint>, NetworkError> {
        let eps: Vec<Endpoint> = read_json(&self.live_path(name)?)?.unwrap_or_default();
        Ok(eps.into_iter().filter(Endpoint::live).collect())
    }

    /// Every endpoint recorded, stale ones included (for cleanup).
    pub fn recorded_endpoints(&self, name: &str) -> Result<Vec<Endpoint>, NetworkError> {
        Ok(read_json(&self.live_path(name)?)?.unwrap_or_default())
    }

    pub fn save_endpoints(&self, name: &str, endpoints: &[Endpoint]) -> Result<(), NetworkError> {
        let path = self.live_path(name)?;
        fsutil::write_json_volatile(&path, &endpoints).map_err(io_err(&path))
    }

    /// Names become file names: only valid ones (no `/`, no `..`).
    fn live_path(&self, name: &str) -> Result<PathBuf, NetworkError> {
        if !valid_name(name) {
            return Err(NetworkError::BadName(name.to_string()));
        }
        Ok(self.live.join(format!("{name}.json")))
    }

    fn def_path(&self, name: &str) -> Result<PathBuf, NetworkError> {
        if !valid_name(name) {
            return Err(NetworkError::BadName(name.to_string()));
        }
        Ok(self.defs.join(format!("{name}.json")))
    }
}

/// Pick an address: the one asked for, else the previous one if free, else the
/// lowest free of the network's `ip_range` (or subnet).
pub fn allocate(network: &Network, endpoints: &[Endpoint], wanted: Option<Ipv4Addr>, previous: Option<Ipv4Addr>) -> Result<Ipv4Addr, NetworkError> {
    let mut used: std::collections::BTreeSet<Ipv4Addr> = endpoints.iter().map(|e| e.ip).collect();
    used.insert(network.gateway);
    let subnet = network.subnet;
    if let Some(ip) = wanted {
        if !subnet.contains(ip) || ip == network.gateway || ip == subnet.network() {
            return Err(NetworkError::OutsideSubnet { ip: ip.into(), network: network.name.clone(), subnet: subnet.to_string() });
        }
        if let Some(e) = endpoints.iter().find(|e| e.ip == ip) {
            return Err(NetworkError::AddressInUse { ip: ip.into(), network: network.name.clone(), by: e.names.first().cloned().unwrap_or_default() });
        }
        return Ok(ip);
    }
    let range = network.ip_range.unwrap_or(subnet);
    if let Some(ip) = previous.filter(|ip| range.contains(*ip) && !used.contains(ip)) {
        return Ok(ip);
    }
    ipam::free_address(subnet, range, &used).ok_or_else(|| NetworkError::Full { network: network.name.clone(), subnet })
}

/// [`allocate`] for the network's IPv6 subnet: None on an IPv4-only network
/// (asking for an address there is an error).
pub fn allocate6(network: &Network, endpoints: &[Endpoint], wanted: Option<Ipv6Addr>, previous: Option<Ipv6Addr>) -> Result<Option<Ipv6Addr>, NetworkError> {
    let (Some(subnet), Some(gateway)) = (network.subnet6, network.gateway6) else {
        return match wanted {
            Some(_) => Err(NetworkError::NoIpv6(network.name.clone())),
            None => Ok(None),
        };
    };
    let mut used: std::collections::BTreeSet<Ipv6Addr> = endpoints.iter().filter_map(|e| e.ip6).collect();
    used.insert(gateway);
    if let Some(ip) = wanted {
        if !subnet.contains(ip) || ip == gateway || ip == subnet.network() {
            return Err(NetworkError::OutsideSubnet { ip: ip.into(), network: network.name.clone(), subnet: subnet.to_string() });
        }
        if let Some(e) = endpoints.iter().find(|e| e.ip6 == Some(ip)) {
            return Err(NetworkError::AddressInUse { ip: ip.into(), network: network.name.clone(), by: e.names.first().cloned().unwrap_or_default() });
        }
        return Ok(Some(ip));
    }
    let range = network.ip_range6.unwrap_or(subnet);
    if let Some(ip) = previous.filter(|ip| range.contains(*ip) && !used.contains(ip) && *ip != subnet.network()) {
        return Ok(Some(ip));
    }
    used.insert(subnet.network());
    ipam::free_address6(range, &used).map(Some).ok_or_else(|| NetworkError::Full6 { network: network.name.clone(), subnet })
}

/// The network a record file is for (`networks-v1/<name>.json`).
fn record_name(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

/// docker's rule for network names (`[a-zA-Z0-9][a-zA-Z0-9_.-]*`, see [`crate::names`]).
pub fn valid_name(name: &str) -> bool {
    crate::names::is_valid(crate::names::NameKind::Network, name)
}

/// The IPv4 routes of this namespace (/proc/net/route), so a new subnet does not shadow one.
fn host_routes() -> Vec<Subnet> {
    procfs::net::route()
        .unwrap_or_default()
        .into_iter()
        // A default route (mask 0) shadows nothing.
        .filter(|r| !r.mask.is_unspecified())
        .filter_map(|r| Subnet::new(r.destination, u32::from(r.mask).count_ones() as u8))
        .collect()
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, NetworkError> {
    fsutil::read_json(path).map_err(|e| match e {
        fsutil::JsonReadError::Corrupt(source) => NetworkError::Corrupt { path: path.to_path_buf(), source },
        fsutil::JsonReadError::Io(source) => NetworkError::Io { path: path.to_path_buf(), source },
    })
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), NetworkError> {
    fsutil::write_json(path, value).map_err(io_err(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store whose pool no bridge on this host routes (subnets avoid routed ones).
    fn paths(dir: &Path) -> Paths {
        std::fs::write(dir.join("config.toml"), "network-prefix = \"rde\"\nnetwork-pool = \"10.251.0.0/16\"\n").unwrap();
        Paths { data: dir.join("data"), run: dir.join("run"), config_file: dir.join("config.toml"), rootless: false }
    }

    fn endpoint(ip: &str) -> Endpoint {
        Endpoint {
            container_id: "c".into(),
            names: vec!["web".into()],
            ip: ip.parse().unwrap(),
            ip6: None,
            veth: "v".into(),
            shim_pid: std::process::id() as i32,
            shim_start: crate::process::ProcessId::current().start,
            hosts_file: "/x".into(),
            forwards: Vec::new(),
            extra_hosts: Vec::new(),
            dns: Vec::new(),
        }
    }

    #[test]
    fn networks_get_distinct_subnets_and_bridges() {
        let dir = tempfile::tempdir().unwrap();
        let nets = Networks::open(&paths(dir.path())).unwrap();
        let a = nets.create("a", &NetworkOptions::default()).unwrap();
        let default = nets.get(DEFAULT_NETWORK).unwrap();
        let b = nets.create("b", &NetworkOptions::default()).unwrap();
        assert_eq!(default.bridge, "rde0");
        assert_eq!(default.subnet.to_string(), "10.251.0.0/24");
        assert_ne!(a.subnet, b.subnet);
        assert!(!a.subnet.overlaps(&default.subnet) && !b.subnet.overlaps(&default.subnet));
        assert_eq!((a.bridge.as_str(), b.bridge.as_str()), ("rde1", "rde2"));
        assert!(matches!(nets.create("a", &NetworkOptions::default()), Err(NetworkError::Exists(_))));
        let clash = NetworkOptions { subnet: Some(a.subnet), ..Default::default() };
        assert!(matches!(nets.create("c", &clash), Err(NetworkError::Overlap(..))));
        assert!(matches!(nets.create("-bad", &NetworkOptions::default()), Err(NetworkError::BadName(_))));
        assert_eq!(nets.get(&a.id[..6]).unwrap().name, "a");
        nets.remove("a").unwrap();
        assert!(matches!(nets.get("a"), Err(NetworkError::NotFound(_))));
    }

    #[test]
    fn addresses_prefer_the_asked_then_the_previous_then_the_lowest() {
        let dir = tempfile::tempdir().unwrap();
        let nets = Networks::open(&paths(dir.path())).unwrap();
        let net = nets.create("n", &NetworkOptions { subnet: Some("10.77.0.0/29".parse().unwrap()), ..Default::default() }).unwrap();
        let eps = vec![endpoint("10.77.0.2")];
        assert_eq!(allocate(&net, &eps, None, None).unwrap().to_string(), "10.77.0.3");
        assert_eq!(allocate(&net, &eps, None, Some("10.77.0.5".parse().unwrap())).unwrap().to_string(), "10.77.0.5");
        assert_eq!(allocate(&net, &eps, None, Some("10.77.0.2".parse().unwrap())).unwrap().to_string(), "10.77.0.3");
        assert_eq!(allocate(&net, &eps, Some("10.77.0.4".parse().unwrap()), None).unwrap().to_string(), "10.77.0.4");
        assert!(matches!(allocate(&net, &eps, Some("10.77.0.2".parse().unwrap()), None), Err(NetworkError::AddressInUse { .. })));
        assert!(matches!(allocate(&net, &eps, Some("10.78.0.2".parse().unwrap()), None), Err(NetworkError::OutsideSubnet { .. })));
        let full: Vec<Endpoint> = (2..7).map(|i| endpoint(&format!("10.77.0.{i}"))).collect();
        assert!(matches!(allocate(&net, &full, None, None), Err(NetworkError::Full { .. })));
        nets.save_endpoints("n", &eps).unwrap();
        assert_eq!(nets.endpoints("n").unwrap(), eps);
    }
}
