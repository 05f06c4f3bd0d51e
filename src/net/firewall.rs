//! rde's packet rules: one nftables table, `ip rde` (the network prefix),
//! rebuilt whole from the networks that have a bridge up, in one atomic `nft -f`
//! transaction. It masquerades what leaves a network for elsewhere, drops what one
//! network sends to another, and keeps an internal network's traffic on its bridge.
//! Rootful, published ports are also forwarded in the kernel (DNAT, as docker and
//! podman do): the proxy's listeners then only reserve the ports and serve what
//! the rules cannot. Rootless, the same table lives in the session's network
//! namespace, without forwards (traffic arrives there through the proxy).

use super::network::Network;
use super::ports::{PortMapping, Protocol};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::process::{Command, Stdio};

#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    #[error("nft is missing, so containers cannot reach outside their network; hint: install it with `apt-get install nftables`")]
    Missing,
    #[error("nft refused rde's rules: {0}")]
    Rejected(String),
}

/// A published port forwarded to a container's address.
#[derive(Clone, Debug, PartialEq)]
pub struct Forward {
    pub port: PortMapping,
    pub target: Ipv4Addr,
}

/// The table `ip <table>` for these active networks, whose bridges are named
/// `<table>N`, and these forwards (no networks: the table goes away).
pub fn render(table: &str, active: &[&Network], forwards: &[Forward]) -> String {
    // Creating before deleting makes the delete succeed when the table is absent.
    let mut script = format!("add table ip {table}\ndelete table ip {table}\n");
    if active.is_empty() {
        return script;
    }
    script.push_str(&format!("table ip {table} {{\n"));
    script.push_str("\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n");
    for n in active {
        let br = &n.bridge;
        if n.internal {
            script.push_str(&format!("\t\tiifname \"{br}\" oifname != \"{br}\" drop\n\t\toifname \"{br}\" iifname != \"{br}\" drop\n"));
        } else {
            // Networks are isolated from each other, as docker's are.
            script.push_str(&format!("\t\tiifname \"{br}\" oifname \"{table}*\" oifname != \"{br}\" drop\n"));
        }
    }
    script.push_str("\t}\n\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n");
    for n in active.iter().filter(|n| !n.internal) {
        script.push_str(&format!("\t\tip saddr {} oifname != \"{}\" masquerade\n", n.subnet, n.bridge));
    }
    if !forwards.is_empty() {
        // Forwarded from the host's loopback, or from a container to a port of its own
        // network (hairpin): the reply must come back through us.
        script.push_str("\t\tct status dnat ip saddr 127.0.0.0/8 masquerade\n");
        for n in active {
            script.push_str(&format!("\t\tct status dnat ip saddr {} oifname \"{}\" masquerade\n", n.subnet, n.bridge));
        }
    }
    script.push_str("\t}\n");
    // Loopback addresses arrive only on `lo`. Two holes otherwise: a neighbour
    // sending to 127.0.0.1 would reach a port published on 127.0.0.1 (DNAT runs
    // before the kernel's martian check), and a container writing raw frames to
    // the bridge (CAP_NET_RAW) would reach the host's localhost-only services
    // (route_localnet is on for rde's bridges, for the hairpin below). Dropped
    // before conntrack, where a hairpin's replies still carry the bridge address.
    script.push_str("\tchain raw_prerouting {\n\t\ttype filter hook prerouting priority raw; policy accept;\n");
    script.push_str(&format!("\t\tiifname \"{table}*\" ip daddr 127.0.0.0/8 drop\n"));
    for f in forwards.iter().filter(|f| matches!(f.port.host_ip, Some(IpAddr::V4(ip)) if ip.is_loopback())) {
        let proto = if f.port.protocol == Protocol::Udp { "udp" } else { "tcp" };
        if let Some(port) = f.port.host_port {
            script.push_str(&format!("\t\tiifname != \"lo\" ip daddr 127.0.0.0/8 {proto} dport {port} drop\n"));
        }
    }
    script.push_str("\t}\n");
    if !forwards.is_empty() {
        // Traffic from elsewhere (prerouting) and from the host itself (output).
        let rules: String = forwards.iter().filter_map(dnat_rule).map(|r| format!("\t\t{r}\n")).collect();
        script.push_str(&format!("\tchain prerouting {{\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n{rules}\t}}\n"));
        script.push_str(&format!("\tchain output {{\n\t\ttype nat hook output priority -100; policy accept;\n{rules}\t}}\n"));
    }
    script.push_str("}\n");
    script
}

/// `fib daddr type local tcp dport 8080 dnat to 10.89.0.2:80`, or for one address
/// `ip daddr 127.0.0.1 ...`; IPv6 host addresses are left to the proxy.
fn dnat_rule(f: &Forward) -> Option<String> {
    let p = &f.port;
    let daddr = match p.host_ip {
        None | Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)) => "fib daddr type local".to_string(),
        Some(IpAddr::V4(ip)) => format!("ip daddr {ip}"),
        Some(IpAddr::V6(_)) => return None,
    };
    let proto = if p.protocol == Protocol::Udp { "udp" } else { "tcp" };
    Some(format!("{daddr} {proto} dport {} dnat to {}:{}", p.host_port?, f.target, p.container_port))
}

/// Load the rules into the current network namespace; with an outward-facing
/// network, turn on IPv4 forwarding, as docker does.
pub fn apply(table: &str, active: &[&Network], forwards: &[Forward]) -> Result<(), FirewallError> {
    let script = render(table, active, forwards);
    let mut child = Command::new(nft_binary().ok_or(FirewallError::Missing)?)
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
    if active.iter().any(|n| !n.internal) {
        let _ = std::fs::write("/proc/sys/net/ipv4/ip_forward", "1");
    }
    // Forwards from 127.0.0.1 leave through the bridge with a loopback source until masqueraded.
    if !forwards.is_empty() {
        for n in active {
            let _ = std::fs::write(format!("/proc/sys/net/ipv4/conf/{}/route_localnet", n.bridge), "1");
        }
    }
    Ok(())
}

/// nft lives in /usr/sbin, which an unprivileged user's PATH often lacks.
fn nft_binary() -> Option<std::path::PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':').chain(["/usr/sbin", "/sbin"]).map(|dir| std::path::Path::new(dir).join("nft")).find(|p| p.is_file())
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
            internal,
            bridge: bridge.into(),
            labels: Default::default(),
            created: 0,
        }
    }

    #[test]
    fn no_networks_remove_the_table() {
        assert_eq!(render("rde", &[], &[]), "add table ip rde\ndelete table ip rde\n");
    }

    #[test]
    fn masquerade_isolation_and_internal() {
        let (a, b) = (net("a", "rde1", "10.89.1.0/24", false), net("b", "rde2", "10.89.2.0/24", true));
        let script = render("rde", &[&a, &b], &[]);
        assert!(script.contains("iifname \"rde1\" oifname \"rde*\" oifname != \"rde1\" drop"));
        assert!(script.contains("iifname \"rde2\" oifname != \"rde2\" drop"));
        assert!(script.contains("oifname \"rde2\" iifname != \"rde2\" drop"));
        assert!(script.contains("ip saddr 10.89.1.0/24 oifname != \"rde1\" masquerade"));
        assert!(!script.contains("10.89.2.0/24"));
        assert!(!script.contains("dnat"));
    }

    #[test]
    fn published_ports_become_dnat_rules_for_both_hooks() {
        let a = net("a", "rde1", "10.89.1.0/24", false);
        let any = PortMapping { host_ip: None, host_port: Some(8080), container_port: 80, protocol: Protocol::Tcp };
        let local = PortMapping { host_ip: Some("127.0.0.1".parse().unwrap()), host_port: Some(5353), container_port: 53, protocol: Protocol::Udp };
        let v6 = PortMapping { host_ip: Some("::1".parse().unwrap()), host_port: Some(9000), container_port: 9000, protocol: Protocol::Tcp };
        let target: Ipv4Addr = "10.89.1.2".parse().unwrap();
        let forwards: Vec<Forward> = [any, local, v6].into_iter().map(|port| Forward { port, target }).collect();
        let script = render("rde", &[&a], &forwards);
        assert_eq!(script.matches("fib daddr type local tcp dport 8080 dnat to 10.89.1.2:80").count(), 2);
        assert_eq!(script.matches("ip daddr 127.0.0.1 udp dport 5353 dnat to 10.89.1.2:53").count(), 2);
        assert!(!script.contains("9000"));
        assert!(script.contains("ct status dnat ip saddr 127.0.0.0/8 masquerade"));
        assert!(script.contains("ct status dnat ip saddr 10.89.1.0/24 oifname \"rde1\" masquerade"));
        // Loopback only from lo: to the localhost-bound port, and from rde's bridges to anything.
        assert!(script.contains("iifname != \"lo\" ip daddr 127.0.0.0/8 udp dport 5353 drop"));
        assert!(!script.contains("dport 8080 drop"));
        assert!(script.contains("iifname \"rde*\" ip daddr 127.0.0.0/8 drop"));
    }
}
