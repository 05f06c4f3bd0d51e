//! A host where docker left iptables' FORWARD policy at DROP: rde's containers
//! still reach outside and their published ports still answer from elsewhere.
//! Its own test binary: the policy is the host's, and cargo runs test binaries
//! one after another, so no other network test sees it.

mod common;
use common::*;
use std::process::Command;

fn busybox() -> String {
    format!("{}/library/busybox", shared_registry())
}

fn require_root() {
    assert!(is_root(), "this suite needs root; run it through scripts/test");
}

/// Sets FORWARD's policy to DROP and puts the old one back, also when the test fails.
struct ForwardPolicy(String);

impl ForwardPolicy {
    fn drop_all() -> ForwardPolicy {
        let listing = Command::new("iptables").args(["-w", "-S", "FORWARD"]).output().expect("iptables (scripts/ci-deps installs it)");
        let listing = String::from_utf8_lossy(&listing.stdout).into_owned();
        let old = listing.lines().find_map(|l| l.strip_prefix("-P FORWARD ")).unwrap_or("ACCEPT").trim().to_string();
        assert!(Command::new("iptables").args(["-w", "-P", "FORWARD", "DROP"]).status().unwrap().success());
        ForwardPolicy(old)
    }
}

impl Drop for ForwardPolicy {
    fn drop(&mut self) {
        let _ = Command::new("iptables").args(["-w", "-P", "FORWARD", &self.0]).status();
    }
}

fn iptables_rules() -> String {
    String::from_utf8_lossy(&Command::new("iptables").args(["-w", "-S"]).output().unwrap().stdout).into_owned()
}

#[test]
fn egress_and_published_ports_work_where_forward_drops() {
    require_root();
    let env = Env::new();
    env.ok(&["image", "pull", "-q", &busybox()]);
    let mut remote = RemoteHost::new(&env.net_prefix[2..]);
    let _policy = ForwardPolicy::drop_all();
    let port = free_port();
    env.ok(&["container", "run", "-d", "--name", "web", "-p", &format!("{port}:80"), &busybox(), "httpd", "-f", "-p", "80", "-h", "/etc"]);
    let chain = format!("{}-FORWARD", env.net_prefix.to_uppercase());
    assert!(iptables_rules().contains(&format!("-A FORWARD -j {chain}")), "{}", iptables_rules());

    // Out: a container reaches the remote host (masqueraded, through FORWARD).
    let out = env.ok(&["container", "run", "--rm", &busybox(), "sh", "-c", &format!("echo | nc -w 3 {} 9000", remote.ip())]);
    assert!(out.stdout.contains("hello from remote"), "{}{}", out.stdout, out.stderr);
    assert!(remote.peers().contains(&format!("10.250.{}.1", remote.octet)));

    // In: the remote host reaches the published port on the host's address (DNAT, through FORWARD).
    let fetch = format!(
        "import socket\ns = socket.create_connection(('10.250.{}.1', {port}), timeout=5)\ns.sendall(b'GET /hostname HTTP/1.0\\r\\n\\r\\n')\nprint(s.recv(100).decode().split()[1])",
        remote.octet
    );
    let out = remote.command("python3").args(["-c", &fetch]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "200", "{}", String::from_utf8_lossy(&out.stderr));

    // The chain goes with rde's last bridge.
    env.ok(&["container", "rm", "-f", "web"]);
    env.ok(&["network", "prune"]);
    assert!(!iptables_rules().contains(&chain), "{}", iptables_rules());
}
