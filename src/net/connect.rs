//! Putting a container on its networks and taking it off again, called by its
//! shim between create and start, and after exit. Under the networks lock:
//! make the bridge if it is not there (and add its rules), make a veth pair
//! from the container's namespace to the bridge's, give the container its
//! address and default route, record the endpoint and rewrite the /etc/hosts of
//! everyone on those networks. Bridges and their rules stay while the network
//! exists, as docker's and podman's do (`network rm`, `network prune` and
//! `system prune` take them down), so a start costs no bridge and no firewall
//! work unless the container publishes ports. Taking a container off undoes
//! each step, collecting every error.

use super::firewall::{self, FirewallError};

use super::hosts;
use super::netlink::Netlink;
use super::netns::{Netns, NetnsError};
use super::network::{self, Attachment, Endpoint, Network, NetworkError, NetworkRequest, Networks};
use super::ports::PortMapping;
use super::resolv;
use super::resolver;
use crate::paths::Paths;
use std::collections::BTreeMap;
use std::os::fd::AsFd;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(transparent)]
    Network(#[from] NetworkError),
    #[error(transparent)]
    Netns(#[from] NetnsError),
    #[error(transparent)]
    Firewall(#[from] FirewallError),
    #[error("the rootless session has no network namespace; hint: run `rde system info` to restart the session")]
    NoSession,
    #[error("network {network} is in use by container {by}")]
    InUse { network: String, by: String },
}

/// What the veth maker answers when the bridge side's name is still taken.
const STALE_VETH: &str = "stale veth";

/// Who is being connected.
pub struct Member<'a> {
    pub container_id: &'a str,
    /// Name, aliases, hostname: what the peers resolve.
    pub names: Vec<String>,
    /// The shim that holds the endpoint.
    pub shim: crate::process::ProcessId,
    pub hosts_file: PathBuf,
    /// Published ports (with their host ports) for the kernel to forward to the
    /// first network's address; empty rootless.
    pub forwards: Vec<PortMapping>,
    /// `--add-host` entries (NAME, IP or `host-gateway`: the first network's gateway).
    pub extra_hosts: Vec<(String, String)>,
    /// The container's /etc/resolv.conf, rewritten once its resolver is known.
    pub resolv_conf: PathBuf,
    /// `--dns`, `--dns-search`, `--dns-option`.
    pub dns: resolv::DnsConfig,
}

/// The namespace that holds the bridges: the host's, or the rootless session's.
pub fn bridge_netns(paths: &Paths) -> Result<Netns, ConnectError> {
    if paths.rootless {
        let path = crate::rootless::session_netns(&paths.run).ok_or(ConnectError::NoSession)?;
        Ok(Netns::open(path)?)
    } else {
        Ok(Netns::current()?)
    }
}

/// Bring up `lo` in a container's namespace (every container gets this, even with no network).
pub fn loopback_up(container: &Netns) -> Result<(), ConnectError> {
    Ok(container.run(|| Netlink::open().and_then(|nl| nl.set_up("lo")).map_err(|e| e.to_string()))?)
}

/// Connect the container whose namespace is `container` to each requested network.
/// `previous`: its addresses from an earlier run, kept when still free.
pub fn connect(
    paths: &Paths,
    member: &Member,
    requests: &[NetworkRequest],
    container: &Netns,
    previous: &[Attachment],
) -> Result<Vec<Attachment>, ConnectError> {
    let nets = Networks::open(paths)?;
    let _lock = nets.lock()?;
    let bridges = bridge_netns(paths)?;
    let mut attached = Vec::new();
    let mut new_bridges = false;
    let mut joined = Vec::new();
    let mut default_route = false;
    let mut default_route6 = false;
    let mut extra_hosts = Vec::new();
    let mut dns_network = None;
    for (i, request) in requests.iter().enumerate() {
        let net = nets.get(&request.name)?;
        if i == 0 {
            // `host-gateway`: the host as the container reaches it.
            extra_hosts = member
                .extra_hosts
                .iter()
                .filter_map(|(name, ip)| {
                    let ip = if ip == "host-gateway" { Some(std::net::IpAddr::V4(net.gateway)) } else { ip.trim_matches(['[', ']']).parse().ok() };
                    ip.map(|ip| (name.clone(), ip))
                })
                .collect();
        }
        // Names are served by the first network that reaches outside (else the first).
        if dns_network.as_ref().is_none_or(|d: &Network| d.internal && !net.internal) {
            dns_network = Some(net.clone());
        }
        let mut endpoints = nets.endpoints(&net.name)?;
        endpoints.retain(|e| e.container_id != member.container_id);
        let before = previous.iter().find(|a| a.network == net.name);
        let ip = network::allocate(&net, &endpoints, request.ip, before.map(|a| a.ip))?;
        let ip6 = network::allocate6(&net, &endpoints, request.ip6, before.and_then(|a| a.ip6))?;
        // Someone on it: its bridge is up.
        if endpoints.is_empty() {
            new_bridges |= bridge_up(&bridges, &net, &nets.prefix)?;
        }
        joined.push(net.name.clone());
        let interface = format!("eth{i}");
        let veth = format!("rv{}{i}", &member.container_id[..10]);
        let route = !net.internal && !default_route;
        default_route |= route;
        let route6 = !net.internal && ip6.is_some() && !default_route6;
        default_route6 |= route6;
        let (prefix, gateway) = (net.subnet.prefix(), net.gateway);
        let (prefix6, gateway6) = (net.subnet6.map_or(0, |s| s.prefix()), net.gateway6);
        let bridge_fd = bridges.file().as_fd();
        let plug = || {
            container.query(|| {
                let nl = Netlink::open().map_err(|e| e.to_string())?;
                match nl.create_veth(&interface, container_mac(ip), &veth, bridge_fd) {
                    Err(e) if e.is_exists() => return Ok(STALE_VETH.into()),
                    other => other.map_err(|e| e.to_string())?,
                }
                nl.add_address(&interface, ip, prefix).and_then(|()| nl.set_up(&interface)).and_then(|()| nl.set_up("lo")).map_err(|e| e.to_string())?;
                if route {
                    nl.add_default_route(gateway.into()).map_err(|e| e.to_string())?;
                }
                if let Some(ip6) = ip6 {
                    nl.add_address6(&interface, ip6, prefix6).map_err(|e| e.to_string())?;
                }
                if let (true, Some(gateway6)) = (route6, gateway6) {
                    nl.add_default_route(gateway6.into()).map_err(|e| e.to_string())?;
                }
                Ok(String::new())
            })
        };
        // A restart's old veth may still be on its way out with the old namespace.
        if plug()? == STALE_VETH {
            bridges.run(|| delete_links(std::slice::from_ref(&veth)))?;
            if plug()? == STALE_VETH {
                return Err(ConnectError::Netns(super::netns::NetnsError::Work(format!("cannot create veth {veth}: an earlier one is still there"))));
            }
        }
        bridges.run(|| {
            let nl = Netlink::open().map_err(|e| e.to_string())?;
            nl.set_master(&veth, &net.bridge).and_then(|()| nl.set_up(&veth)).map_err(|e| e.to_string())
        })?;
        let mut names = member.names.clone();
        names.extend(request.aliases.iter().cloned());
        let forwards = if i == 0 { member.forwards.clone() } else { Vec::new() };
        endpoints.push(Endpoint {
            container_id: member.container_id.to_string(),
            names,
            ip,
            ip6,
            veth,
            shim_pid: member.shim.pid,
            shim_start: member.shim.start,
            hosts_file: member.hosts_file.clone(),
            forwards,
            extra_hosts: extra_hosts.clone(),
            dns: member.dns.servers.clone(),
        });
        nets.save_endpoints(&net.name, &endpoints)?;
        attached.push(Attachment { network: net.name.clone(), ip, prefix, gateway, interface, ip6, prefix6, gateway6 });
    }
    let applied = firewall::Applied::read(&nets.firewall_state());
    if new_bridges || !member.forwards.is_empty() || joined.iter().any(|n| applied.as_ref().is_none_or(|a| !a.networks.contains(n))) {
        sync_firewall(&nets, &bridges, applied.as_ref(), &joined, &[], new_bridges)?;
    }
    refresh_hosts(&nets)?;
    // Without its resolver the container still finds its peers in /etc/hosts.
    let embedded = dns_network.and_then(|net| resolver::ensure(paths, &nets, &net, &bridges).ok());
    write_resolv_conf(member, embedded);
    Ok(attached)
}

/// The container's /etc/resolv.conf (see [`resolv`]), rewritten in place: it is bind-mounted.
fn write_resolv_conf(member: &Member, embedded: Option<std::net::IpAddr>) {
    let _ = hosts::write_in_place(&member.resolv_conf, &resolv::for_container(&member.dns, embedded));
}

/// Take the container off `networks`: its endpoints, its published ports, and
/// (with `delete_veths`) its veths. A veth dies with the container's network
/// namespace, which the kernel tears down when the last process in it exits:
/// deleting it here only costs the start of the next container (an RCU grace
/// period, about 15 ms), unless another container still holds the namespace
/// (`--network container:`). Every step runs; the errors come back together.
pub fn disconnect(paths: &Paths, container_id: &str, networks: &[String], delete_veths: bool) -> Vec<String> {
    let mut errors = Vec::new();
    let nets = match Networks::open(paths) {
        Ok(n) => n,
        Err(e) => return vec![e.to_string()],
    };
    let _lock = match nets.lock() {
        Ok(l) => l,
        Err(e) => return vec![e.to_string()],
    };
    let bridges = match bridge_netns(paths) {
        Ok(b) => Some(b),
        Err(e) => {
            errors.push(e.to_string());
            None
        }
    };
    let mut rules_changed = false;
    for name in networks {
        let net = match nets.get(name) {
            Ok(n) => n,
            Err(NetworkError::NotFound(_)) => continue,
            Err(e) => {
                errors.push(e.to_string());
                continue;
            }
        };
        let recorded = nets.recorded_endpoints(&net.name).unwrap_or_default();
        let (mine, others): (Vec<Endpoint>, Vec<Endpoint>) = recorded.into_iter().partition(|e| e.container_id == container_id);
        let live: Vec<Endpoint> = others.into_iter().filter(Endpoint::live).collect();
        // Its published ports leave the firewall with it.
        rules_changed |= mine.iter().any(|e| !e.forwards.is_empty());
        let doomed: Vec<String> = mine.iter().map(|e| e.veth.clone()).collect();
        if let (true, false, Some(b)) = (delete_veths, doomed.is_empty(), &bridges)
            && let Err(e) = b.run(|| delete_links(&doomed))
        {
            errors.push(e.to_string());
        }
        if let Err(e) = nets.save_endpoints(&net.name, &live) {
            errors.push(e.to_string());
        }
        // The last one out stops the network's resolver.
        if live.is_empty() {
            resolver::stop(&nets, &net.name);
        }
    }
    if let (true, Some(b)) = (rules_changed, &bridges)
        && let Err(e) = sync_firewall(&nets, b, firewall::Applied::read(&nets.firewall_state()).as_ref(), &[], &[], false)
    {
        errors.push(e.to_string());
    }
    if let Err(e) = refresh_hosts(&nets) {
        errors.push(e.to_string());
    }
    errors
}

/// Remove a network: its bridge (if up) and its rules, and with `forget` its
/// definition. The caller checks that no container uses it.
pub fn remove_network(paths: &Paths, net: &Network, forget: bool) -> Result<(), ConnectError> {
    let nets = Networks::open(paths)?;
    let _lock = nets.lock()?;
    // A container that joined since the caller looked keeps it.
    if let Some(e) = nets.endpoints(&net.name)?.first() {
        return Err(ConnectError::InUse { network: net.name.clone(), by: e.names.first().cloned().unwrap_or_else(|| e.container_id.clone()) });
    }
    resolver::stop(&nets, &net.name);
    let bridges = bridge_netns(paths)?;
    let bridge = vec![net.bridge.clone()];
    bridges.run(|| delete_links(&bridge))?;
    if forget {
        nets.remove(&net.name)?;
    }
    let applied = firewall::Applied::read(&nets.firewall_state());
    if applied.as_ref().is_some_and(|a| a.networks.contains(&net.name)) {
        sync_firewall(&nets, &bridges, applied.as_ref(), &[], std::slice::from_ref(&net.name), false)?;
    }
    Ok(())
}

/// Delete links, skipping those already gone (a veth dies with its container's namespace).
fn delete_links(names: &[String]) -> Result<(), String> {
    let nl = Netlink::open().map_err(|e| e.to_string())?;
    let mut errors = Vec::new();
    for name in names {
        match nl.delete_link(name) {
            Err(e) if !e.is_missing() => errors.push(e.to_string()),
            _ => {}
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(errors.join("; ")) }
}

/// A container's MAC on a network, from its address (02:42 and the IPv4 address,
/// as docker's): a container that comes back with the same address has the same
/// MAC, so the ARP entries its peers and the host hold for it stay right (with a
/// random MAC they would point at the old one until they expired).
fn container_mac(ip: std::net::Ipv4Addr) -> [u8; 6] {
    let [a, b, c, d] = ip.octets();
    [0x02, 0x42, a, b, c, d]
}

/// [`container_mac`] as `02:42:0a:59:00:02`.
pub fn container_mac_text(ip: std::net::Ipv4Addr) -> String {
    container_mac(ip).iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// The bridge's MAC: locally administered, unicast, from the network's id.
fn bridge_mac(net: &Network) -> [u8; 6] {
    let hex = |i: usize| u8::from_str_radix(net.id.get(i * 2..i * 2 + 2).unwrap_or("00"), 16).unwrap_or(0);
    [0x02, hex(0), hex(1), hex(2), hex(3), hex(4)]
}

/// Make the network's bridge unless it is there; whether the rules must be
/// loaded whole: the bridge is new, or the table `inet <table>` has gone (a
/// flushed ruleset).
fn bridge_up(bridges: &Netns, net: &Network, table: &str) -> Result<bool, ConnectError> {
    let answer = bridges.query(|| {
        let nl = Netlink::open().map_err(|e| e.to_string())?;
        let made = match nl.create_bridge(&net.bridge, bridge_mac(net)) {
            Err(e) if e.is_exists() => false,
            Err(e) => return Err(e.to_string()),
            Ok(()) => true,
        };
        // A host whose default is IPv6 off would refuse the bridge's IPv6 address.
        if net.subnet6.is_some() {
            let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{}/disable_ipv6", net.bridge), "0");
        }
        // Also for a bridge a failed start left half-made.
        match nl.add_address(&net.bridge, net.gateway, net.subnet.prefix()) {
            Err(e) if !e.is_exists() => return Err(e.to_string()),
            _ => {}
        }
        if let (Some(subnet6), Some(gateway6)) = (net.subnet6, net.gateway6) {
            match nl.add_address6(&net.bridge, gateway6, subnet6.prefix()) {
                Err(e) if !e.is_exists() => return Err(e.to_string()),
                _ => {}
            }
        }
        nl.set_up(&net.bridge).map_err(|e| e.to_string())?;
        let rebuild = made || firewall::table_exists(table) == Some(false);
        Ok(if rebuild { "rebuild" } else { "" }.into())
    })?;
    Ok(answer == "rebuild")
}

/// Bring the rules to the networks of `applied` plus `up` minus `down` (those
/// still defined), with the published ports of their live endpoints.
fn sync_firewall(
    nets: &Networks,
    bridges: &Netns,
    applied: Option<&firewall::Applied>,
    up: &[String],
    down: &[String],
    rebuild: bool,
) -> Result<(), ConnectError> {
    let all = nets.all()?;
    let held = |name: &String| applied.is_some_and(|a| a.networks.contains(name));
    let table: Vec<&Network> = all.iter().filter(|n| (held(&n.name) || up.contains(&n.name)) && !down.contains(&n.name)).collect();
    let mut forwards = Vec::new();
    for n in &table {
        for e in nets.endpoints(&n.name)? {
            forwards.extend(e.forwards.into_iter().map(|port| firewall::Forward { port, target: e.ip }));
        }
    }
    let state = nets.firewall_state();
    Ok(bridges.run(|| firewall::sync(&nets.prefix, &state, applied, &table, &forwards, rebuild).map_err(|e| e.to_string()))?)
}

/// Rewrite every connected container's /etc/hosts from the endpoints of all networks.
fn refresh_hosts(nets: &Networks) -> Result<(), ConnectError> {
    // container id -> its endpoints, one per network it is on.
    let mut by_container: BTreeMap<String, Vec<(String, Endpoint)>> = BTreeMap::new();
    for n in nets.all()? {
        for e in nets.endpoints(&n.name)? {
            by_container.entry(e.container_id.clone()).or_default().push((n.name.clone(), e));
        }
    }
    for (id, mine) in &by_container {
        let entries = |e: &Endpoint| {
            let v6 = e.ip6.map(|ip| hosts::Entry { ip: ip.into(), names: e.names.clone() });
            std::iter::once(hosts::Entry { ip: e.ip.into(), names: e.names.clone() }).chain(v6)
        };
        let own: Vec<hosts::Entry> = mine.iter().flat_map(|(_, e)| entries(e)).collect();
        let extra: Vec<hosts::Entry> = mine[0].1.extra_hosts.iter().map(|(name, ip)| hosts::Entry { ip: *ip, names: vec![name.clone()] }).collect();
        let my_networks: Vec<&String> = mine.iter().map(|(n, _)| n).collect();
        let peers: Vec<hosts::Entry> = by_container
            .iter()
            .filter(|(other, _)| *other != id)
            .flat_map(|(_, theirs)| theirs.iter().filter(|(n, _)| my_networks.contains(&n)))
            .flat_map(|(_, e)| entries(e))
            .collect();
        // A container being removed right now may have lost its file: nothing to update.
        let _ = hosts::write_in_place(&mine[0].1.hosts_file, &hosts::render(&extra, &own, &peers));
    }
    Ok(())
}
