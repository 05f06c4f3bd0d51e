//! rde's packet rules: one nftables table, `inet <prefix>` (the network prefix),
//! for the networks whose bridge is up. It masquerades what leaves a network for
//! elsewhere, drops what one network sends to another, and keeps an internal
//! network's traffic on its bridge. Rootful, published ports are also forwarded
//! in the kernel (DNAT, as docker and podman do) through three nftables maps and
//! sets; the proxy's listeners then only reserve the ports and serve what the
//! rules cannot (IPv6 host addresses). Rootless, the same table lives in the
//! session's network namespace, with no forwards.
//!
//! What is in the kernel is remembered in `<run>/networks/firewall.json`
//! ([`Applied`]): a container joining a network whose rules do not change costs
//! nothing here, published ports come and go as map elements (one small `nft`
//! transaction), and only a bridge made or removed rebuilds the table (one
//! atomic `nft -f` transaction).
//!
//! Hosts where docker set the `FORWARD` policy of iptables' filter table to DROP
//! would drop rde's forwarded traffic in that other table; there rde adds its own
//! chain (`<PREFIX>-FORWARD`) accepting its bridges' traffic and jumps to it from
//! the end of `FORWARD`, as docker and netavark do.

use super::network::Network;
use super::ports::{PortMapping, Protocol};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    #[error("nft is missing, so containers cannot reach outside their network; hint: install it with `apt-get install nftables`")]
    Missing,
    #[error("nft refused rde's rules: {0}")]
    Rejected(String),
    #[error("iptables refused rde's FORWARD rules: {0}")]
    Iptables(String),
    #[error("firewall state {path}: {source}")]
    State { path: PathBuf, source: std::io::Error },
}

/// A published port forwarded to a container's address.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Forward {
    pub port: PortMapping,
    pub target: Ipv4Addr,
}

/// What rde last put into the kernel: the networks in the table and the forwards
/// in its maps (`<run>/networks/firewall.json`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Applied {
    pub networks: Vec<String>,
    pub forwards: Vec<Forward>,
}

impl Applied {
    /// The state at `path`; `None`: nothing known (no file, or unreadable).
    pub fn read(path: &Path) -> Option<Applied> {
        crate::fsutil::read_json(path).ok().flatten()
    }
}

/// The whole table `inet <table>` for these networks, whose bridges are named
/// `<table>N`, with these forwards (no networks: the table goes away). The table
/// of older rde versions (`ip <table>`) goes too.
pub fn render(table: &str, networks: &[&Network], forwards: &[Forward]) -> String {
    // Creating before deleting makes the delete succeed when the table is absent.
    let mut script = format!("add table ip {table}\ndelete table ip {table}\nadd table inet {table}\ndelete table inet {table}\n");
    if networks.is_empty() {
        return script;
    }
    script.push_str(&format!("table inet {table} {{\n"));
    // Published ports: (protocol, port) on any local address, (address, protocol,
    // port) on one address; ports bound to loopback, refused from elsewhere.
    script.push_str("\tmap ports_any { type inet_proto . inet_service : ipv4_addr . inet_service; }\n");
    script.push_str("\tmap ports_addr { type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service; }\n");
    script.push_str("\tset ports_loopback { type inet_proto . inet_service; }\n");
    script.push_str("\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n");
    for n in networks {
        let br = &n.bridge;
        if n.internal {
            script.push_str(&format!("\t\tiifname \"{br}\" oifname != \"{br}\" drop\n\t\toifname \"{br}\" iifname != \"{br}\" drop\n"));
        } else {
            // Networks are isolated from each other, as docker's are.
            script.push_str(&format!("\t\tiifname \"{br}\" oifname \"{table}*\" oifname != \"{br}\" drop\n"));
        }
    }
    script.push_str("\t}\n\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n");
    for n in networks.iter().filter(|n| !n.internal) {
        script.push_str(&format!("\t\tip saddr {} oifname != \"{}\" masquerade\n", n.subnet, n.bridge));
        if let Some(subnet6) = n.subnet6 {
            script.push_str(&format!("\t\tip6 saddr {subnet6} oifname != \"{}\" masquerade\n", n.bridge));
        }
    }
    // Forwarded from the host's loopback, or from a container to a port of its own
    // network (hairpin): the reply must come back through us.
    script.push_str("\t\tct status dnat ip saddr 127.0.0.0/8 masquerade\n");
    for n in networks {
        script.push_str(&format!("\t\tct status dnat ip saddr {} oifname \"{}\" masquerade\n", n.subnet, n.bridge));
    }
    script.push_str("\t}\n");
    // Loopback addresses arrive only on `lo`. Two holes otherwise: a neighbour
    // sending to 127.0.0.1 would reach a port published on 127.0.0.1 (DNAT runs
    // before the kernel's martian check), and a container writing raw frames to
    // the bridge (CAP_NET_RAW) would reach the host's localhost-only services
    // (route_localnet is on for rde's bridges, for the hairpin below). Dropped
    // before conntrack, where a hairpin's replies still carry the bridge address.
    script.push_str("\tchain raw_prerouting {\n\t\ttype filter hook prerouting priority raw; policy accept;\n");
    script.push_str(&format!("\t\tiifname \"{table}*\" ip daddr 127.0.0.0/8 drop\n\t\tiifname \"{table}*\" ip6 daddr ::1 drop\n"));
    script.push_str("\t\tiifname != \"lo\" ip daddr 127.0.0.0/8 meta l4proto . th dport @ports_loopback drop\n\t}\n");
    // Traffic from elsewhere (prerouting) and from the host itself (output).
    let rules = "\t\tmeta nfproto ipv4 fib daddr type local dnat ip to meta l4proto . th dport map @ports_any\n\t\tmeta nfproto ipv4 dnat ip to ip daddr . meta l4proto . th dport map @ports_addr\n";
    script.push_str(&format!("\tchain prerouting {{\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n{rules}\t}}\n"));
    script.push_str(&format!("\tchain output {{\n\t\ttype nat hook output priority -100; policy accept;\n{rules}\t}}\n"));
    script.push_str("}\n");
    script.push_str(&elements(table, "add", forwards));
    script
}

/// `add element` / `delete element` lines for these forwards' map and set entries.
/// IPv6 host addresses are left to the proxy.
pub fn elements(table: &str, verb: &str, forwards: &[Forward]) -> String {
    let mut out = String::new();
    for f in forwards {
        let p = &f.port;
        let Some(host_port) = p.host_port else { continue };
        let proto = if p.protocol == Protocol::Udp { "udp" } else { "tcp" };
        let value = if verb == "add" { format!(" : {} . {}", f.target, p.container_port) } else { String::new() };
        match p.host_ip {
            None | Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)) => {
                out.push_str(&format!("{verb} element inet {table} ports_any {{ {proto} . {host_port}{value} }}\n"))
            }
            Some(IpAddr::V4(ip)) => {
                out.push_str(&format!("{verb} element inet {table} ports_addr {{ {ip} . {proto} . {host_port}{value} }}\n"));
                if ip.is_loopback() {
                    out.push_str(&format!("{verb} element inet {table} ports_loopback {{ {proto} . {host_port} }}\n"));
                }
            }
            Some(IpAddr::V6(_)) => {}
        }
    }
    out
}

/// Bring the kernel to `networks` and `forwards`, doing only what changed since
/// `applied` (read from `state`, which this rewrites): nothing, a few map
/// elements, or (with `rebuild`, or when the networks changed or the state is
/// unknown) the whole table. Call in the namespace that holds the bridges, with
/// the networks lock held.
pub fn sync(table: &str, state: &Path, applied: Option<&Applied>, networks: &[&Network], forwards: &[Forward], rebuild: bool) -> Result<(), FirewallError> {
    let wanted = Applied { networks: networks.iter().map(|n| n.name.clone()).collect(), forwards: forwards.to_vec() };
    match applied {
        Some(old) if !rebuild && old.networks == wanted.networks => {
            let gone: Vec<Forward> = old.forwards.iter().filter(|f| !wanted.forwards.contains(f)).cloned().collect();
            let new: Vec<Forward> = wanted.forwards.iter().filter(|f| !old.forwards.contains(f)).cloned().collect();
            if gone.is_empty() && new.is_empty() {
                return Ok(());
            }
            let delta = elements(table, "delete", &gone) + &elements(table, "add", &new);
            // A table flushed behind our back: build it again.
            if !delta.is_empty() && run_nft(&delta).is_err() {
                apply(table, networks, forwards)?;
            }
        }
        _ => apply(table, networks, forwards)?,
    }
    crate::fsutil::write_json_volatile(state, &wanted).map_err(|source| FirewallError::State { path: state.to_path_buf(), source })
}

/// Load the whole table; with an outward-facing network, turn on IPv4
/// forwarding, as docker does, and open iptables' FORWARD chain where its policy drops.
fn apply(table: &str, networks: &[&Network], forwards: &[Forward]) -> Result<(), FirewallError> {
    run_nft(&render(table, networks, forwards))?;
    if networks.iter().any(|n| !n.internal) {
        let _ = std::fs::write("/proc/sys/net/ipv4/ip_forward", "1");
    }
    // As docker does for IPv6 networks. (A host that configures itself from router
    // advertisements then needs accept_ra=2 on its uplink, as docker documents.)
    if networks.iter().any(|n| !n.internal && n.subnet6.is_some()) {
        let _ = std::fs::write("/proc/sys/net/ipv6/conf/all/forwarding", "1");
    }
    // Forwards from 127.0.0.1 leave through the bridge with a loopback source until masqueraded.
    for n in networks {
        let _ = std::fs::write(format!("/proc/sys/net/ipv4/conf/{}/route_localnet", n.bridge), "1");
    }
    iptables_forward(table, !networks.is_empty())
}

/// Whether the kernel holds the table `inet <table>` in this namespace: one
/// nftables GETTABLE request over netlink (no `nft` process), so that rules
/// flushed behind rde's back (`nft flush ruleset`, a firewalld reload) are seen
/// when a network's first container starts. `None`: the kernel could not be asked.
pub fn table_exists(table: &str) -> Option<bool> {
    use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_NETFILTER};
    const NFNL_SUBSYS_NFTABLES: u16 = 10;
    const NFT_MSG_GETTABLE: u16 = 1;
    const NFT_MSG_NEWTABLE: u16 = 0;
    const NFTA_TABLE_NAME: u16 = 1;
    const NFPROTO_INET: u8 = 1;
    const NLMSG_ERROR: u16 = 2;
    let mut socket = Socket::new(NETLINK_NETFILTER).ok()?;
    socket.bind_auto().ok()?;
    socket.connect(&SocketAddr::new(0, 0)).ok()?;
    let name = [table.as_bytes(), b"\0"].concat();
    let attr_len = 4 + name.len();
    let padded = attr_len.div_ceil(4) * 4;
    let total = 16 + 4 + padded;
    let mut msg = Vec::with_capacity(total);
    msg.extend_from_slice(&(total as u32).to_ne_bytes());
    msg.extend_from_slice(&((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETTABLE).to_ne_bytes());
    msg.extend_from_slice(&(libc::NLM_F_REQUEST as u16 | libc::NLM_F_ACK as u16).to_ne_bytes());
    msg.extend_from_slice(&1u32.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    // nfgenmsg: family, version 0, resource id 0 (big endian).
    msg.extend_from_slice(&[NFPROTO_INET, 0, 0, 0]);
    msg.extend_from_slice(&(attr_len as u16).to_ne_bytes());
    msg.extend_from_slice(&NFTA_TABLE_NAME.to_ne_bytes());
    msg.extend_from_slice(&name);
    msg.resize(total, 0);
    socket.send(&msg, 0).ok()?;
    let mut buffer = vec![0u8; 16384];
    loop {
        let n = socket.recv(&mut &mut buffer[..], 0).ok()?;
        let mut at = 0;
        while at + 16 <= n {
            let len = u32::from_ne_bytes(buffer[at..at + 4].try_into().ok()?) as usize;
            let kind = u16::from_ne_bytes(buffer[at + 4..at + 6].try_into().ok()?);
            if kind == (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWTABLE {
                return Some(true);
            }
            if kind == NLMSG_ERROR && at + 20 <= n {
                let errno = i32::from_ne_bytes(buffer[at + 16..at + 20].try_into().ok()?);
                return match errno {
                    0 => Some(true),
                    e if e == -libc::ENOENT => Some(false),
                    _ => None,
                };
            }
            if len < 16 {
                return None;
            }
            at += len.div_ceil(4) * 4;
        }
    }
}

fn run_nft(script: &str) -> Result<(), FirewallError> {
    let mut child = Command::new(sbin_binary("nft").ok_or(FirewallError::Missing)?)
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| if e.kind() == std::io::ErrorKind::NotFound { FirewallError::Missing } else { FirewallError::Rejected(e.to_string()) })?;
    let _ = child.stdin.take().expect("piped").write_all(script.as_bytes());
    let out = child.wait_with_output().map_err(|e| FirewallError::Rejected(e.to_string()))?;
    if !out.status.success() {
        return Err(FirewallError::Rejected(String::from_utf8_lossy(&out.stderr).trim().to_string()));
    }
    Ok(())
}

/// The iptables chain that accepts rde's traffic where FORWARD's policy drops.
fn iptables_chain(table: &str) -> String {
    format!("{}-FORWARD", table.to_uppercase())
}

/// With `wanted`, and FORWARD's policy DROP: rde's chain, accepting what leaves
/// its bridges and what comes back to them (replies, published ports), jumped to
/// from the end of FORWARD. Without: the chain and the jump go. No iptables,
/// nothing to do.
fn iptables_forward(table: &str, wanted: bool) -> Result<(), FirewallError> {
    iptables_forward_with("iptables", table, wanted)?;
    iptables_forward_with("ip6tables", table, wanted)
}

/// [`iptables_forward`] with `iptables` or `ip6tables` (and its `-restore`).
fn iptables_forward_with(program: &str, table: &str, wanted: bool) -> Result<(), FirewallError> {
    let Some(iptables) = sbin_binary(program) else { return Ok(()) };
    let chain = iptables_chain(table);
    let listing = Command::new(&iptables).args(["-w", "-S", "FORWARD"]).output();
    let Ok(listing) = listing.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()) else { return Ok(()) };
    let jump = format!("-A FORWARD -j {chain}");
    let jumps = listing.lines().any(|l| l.trim() == jump);
    let drops = listing.lines().any(|l| l.trim() == "-P FORWARD DROP");
    let mut restore = String::from("*filter\n");
    if wanted && drops {
        let prefix = format!("{table}+");
        restore.push_str(&format!(":{chain} - [0:0]\n"));
        restore.push_str(&format!("-A {chain} -i {prefix} -j ACCEPT\n"));
        restore.push_str(&format!("-A {chain} -o {prefix} -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -j ACCEPT\n"));
        // Appended: docker's own chains (DOCKER-USER, its isolation) and the
        // admin's rules still come first; only the DROP policy is got past.
        if !jumps {
            restore.push_str(&format!("-A FORWARD -j {chain}\n"));
        }
    } else if jumps {
        restore.push_str(&format!("-D FORWARD -j {chain}\n:{chain} - [0:0]\n-X {chain}\n"));
    } else {
        return Ok(());
    }
    restore.push_str("COMMIT\n");
    let restore_bin = sbin_binary(&format!("{program}-restore")).ok_or_else(|| FirewallError::Iptables(format!("{program}-restore is missing")))?;
    let mut child = Command::new(restore_bin)
        .args(["-w", "--noflush"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| FirewallError::Iptables(e.to_string()))?;
    let _ = child.stdin.take().expect("piped").write_all(restore.as_bytes());
    let out = child.wait_with_output().map_err(|e| FirewallError::Iptables(e.to_string()))?;
    if !out.status.success() {
        return Err(FirewallError::Iptables(String::from_utf8_lossy(&out.stderr).trim().to_string()));
    }
    Ok(())
}

/// nft and iptables live in /usr/sbin, which an unprivileged user's PATH often lacks.
fn sbin_binary(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':').chain(["/usr/sbin", "/sbin"]).map(|dir| Path::new(dir).join(name)).find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(name: &str, bridge: &str, subnet: &str, internal: bool) -> Network {
        Network {
            name: name.into(),
            id: "x".into(),
            driver: "bridge".into(),
            subnet: subnet.parse().unwrap(),
            gateway: "10.0.0.1".parse().unwrap(),
            ip_range: None,
            subnet6: None,
            gateway6: None,
            ip_range6: None,
            internal,
            bridge: bridge.into(),
            labels: Default::default(),
            created: 0,
        }
    }

    #[test]
    fn no_networks_remove_the_table() {
        assert_eq!(render("rde", &[], &[]), "add table ip rde\ndelete table ip rde\nadd table inet rde\ndelete table inet rde\n");
    }

    #[test]
    fn masquerade_isolation_and_internal() {
        let (a, b) = (net("a", "rde1", "10.89.1.0/24", false), net("b", "rde2", "10.89.2.0/24", true));
        let script = render("rde", &[&a, &b], &[]);
        assert!(script.contains("iifname \"rde1\" oifname \"rde*\" oifname != \"rde1\" drop"));
        assert!(script.contains("iifname \"rde2\" oifname != \"rde2\" drop"));
        assert!(script.contains("oifname \"rde2\" iifname != \"rde2\" drop"));
        assert!(script.contains("ip saddr 10.89.1.0/24 oifname != \"rde1\" masquerade"));
        assert!(!script.contains("ip saddr 10.89.2.0/24 oifname != \"rde2\" masquerade"));
        let dual = Network { subnet6: Some("fd00:1::/64".parse().unwrap()), ..a.clone() };
        assert!(render("rde", &[&dual], &[]).contains("ip6 saddr fd00:1::/64 oifname != \"rde1\" masquerade"));
        assert!(!script.contains("add element"));
    }

    #[test]
    fn published_ports_become_map_elements() {
        let any = PortMapping { host_ip: None, host_port: Some(8080), container_port: 80, protocol: Protocol::Tcp };
        let local = PortMapping { host_ip: Some("127.0.0.1".parse().unwrap()), host_port: Some(5353), container_port: 53, protocol: Protocol::Udp };
        let v6 = PortMapping { host_ip: Some("::1".parse().unwrap()), host_port: Some(9000), container_port: 9000, protocol: Protocol::Tcp };
        let target: Ipv4Addr = "10.89.1.2".parse().unwrap();
        let forwards: Vec<Forward> = [any, local, v6].into_iter().map(|port| Forward { port, target }).collect();
        let added = elements("rde", "add", &forwards);
        assert_eq!(
            added,
            "add element inet rde ports_any { tcp . 8080 : 10.89.1.2 . 80 }\n\
             add element inet rde ports_addr { 127.0.0.1 . udp . 5353 : 10.89.1.2 . 53 }\n\
             add element inet rde ports_loopback { udp . 5353 }\n"
        );
        assert_eq!(elements("rde", "delete", &forwards[..1]), "delete element inet rde ports_any { tcp . 8080 }\n", "elements are deleted by key");
        let a = net("a", "rde1", "10.89.1.0/24", false);
        let script = render("rde", &[&a], &forwards);
        assert!(script.ends_with(&added));
        assert!(script.contains("ct status dnat ip saddr 127.0.0.0/8 masquerade"));
        assert!(script.contains("ct status dnat ip saddr 10.89.1.0/24 oifname \"rde1\" masquerade"));
        assert!(script.contains("iifname \"rde*\" ip daddr 127.0.0.0/8 drop"));
    }
}
