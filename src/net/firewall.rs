//! rde's packet rules: one nftables table, `ip rde` (the network prefix), rebuilt whole from the
//! networks that have a bridge up, in one atomic `nft -f` transaction. It
//! masquerades what leaves a network for elsewhere, drops what one network
//! sends to another, and keeps an internal network's traffic on its bridge.
//! Rootless, the same table lives in the session's network namespace.

use super::network::Network;
use std::io::Write;
use std::process::{Command, Stdio};

#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    #[error("nft is missing, so containers cannot reach outside their network; hint: install it with `apt-get install nftables`")]
    Missing,
    #[error("nft refused rde's rules: {0}")]
    Rejected(String),
}

/// The table `ip <table>` for these active networks, whose bridges are named
/// `<table>N` (none: the table goes away).
pub fn render(table: &str, active: &[&Network]) -> String {
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
    script.push_str("\t}\n}\n");
    script
}

/// Load the rules into the current network namespace; with an outward-facing
/// network, turn on IPv4 forwarding, as docker does.
pub fn apply(table: &str, active: &[&Network]) -> Result<(), FirewallError> {
    let script = render(table, active);
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
        assert_eq!(render("rde", &[]), "add table ip rde\ndelete table ip rde\n");
    }

    #[test]
    fn masquerade_isolation_and_internal() {
        let (a, b) = (net("a", "rde1", "10.89.1.0/24", false), net("b", "rde2", "10.89.2.0/24", true));
        let script = render("rde", &[&a, &b]);
        assert!(script.contains("iifname \"rde1\" oifname \"rde*\" oifname != \"rde1\" drop"));
        assert!(script.contains("iifname \"rde2\" oifname != \"rde2\" drop"));
        assert!(script.contains("oifname \"rde2\" iifname != \"rde2\" drop"));
        assert!(script.contains("ip saddr 10.89.1.0/24 oifname != \"rde1\" masquerade"));
        assert!(!script.contains("10.89.2.0/24"));
    }
}
