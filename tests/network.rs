//! Networks, rootful: published ports from the host (TCP, UDP, restart, a taken
//! port), names and aliases between containers, isolation between networks,
//! egress through masquerade to a "remote" host in a namespace this test makes.
//! Traffic goes only to loopback and to bridges and namespaces the tests create.

mod common;
use common::*;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::Command;
use std::time::Duration;

fn busybox() -> String {
    format!("{}/library/busybox", shared_registry())
}

fn python() -> String {
    format!("{}/library/python:3.11", shared_registry())
}

fn require_root() {
    assert!(is_root(), "the network suite needs root; run it through scripts/test");
}

fn inspect(env: &Env, name: &str) -> serde_json::Value {
    let out = env.ok(&["container", "inspect", name]);
    serde_json::from_str::<serde_json::Value>(&out.stdout).unwrap()[0].clone()
}

fn ip_of(env: &Env, name: &str, network: &str) -> String {
    inspect(env, name)["NetworkSettings"]["Networks"][network]["IPAddress"].as_str().unwrap_or_default().to_string()
}

fn links_with_prefix(prefix: &str) -> Vec<String> {
    let out = Command::new("ip").args(["-o", "link", "show"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap().to_string())
        .filter(|n| n.starts_with(prefix))
        .collect()
}

fn nft_table_exists(name: &str) -> bool {
    Command::new("nft").args(["list", "table", "inet", name]).output().unwrap().status.success()
}

#[test]
fn published_ports_answer_tcp_and_udp_and_survive_a_restart() {
    require_root();
    let env = Env::new();
    let (tcp_port, udp_port) = (free_port(), free_port());
    env.ok(&["image", "pull", "-q", &busybox()]);
    env.ok(&["image", "pull", "-q", &python()]);
    // On every address: loopback, and the bridge's own address (the host's, on a bridge we made).
    env.ok(&["container", "run", "-d", "--name", "web", "-p", &format!("{tcp_port}:80"), &busybox(), "httpd", "-f", "-p", "80", "-h", "/etc"]);
    let reply = http_get(format!("127.0.0.1:{tcp_port}").parse().unwrap(), "/hostname").unwrap();
    let id = &inspect(&env, "web")["Id"].as_str().unwrap()[..12].to_string();
    assert!(reply.contains(id.as_str()), "{reply}");
    let gateway = inspect(&env, "web")["NetworkSettings"]["Networks"]["bridge"]["Gateway"].as_str().unwrap().to_string();
    http_get(format!("{gateway}:{tcp_port}").parse().unwrap(), "/hostname").unwrap();
    assert_eq!(env.ok(&["container", "port", "web"]).stdout, format!("80/tcp -> 0.0.0.0:{tcp_port}\n"));
    assert_eq!(env.ok(&["container", "port", "web", "80"]).stdout, format!("0.0.0.0:{tcp_port}\n"));
    assert!(env.ok(&["container", "ls"]).stdout.contains(&format!("0.0.0.0:{tcp_port}->80/tcp")));

    // A taken port: a clear error naming it, and nothing half-made.
    let out = env.fails(&["container", "run", "-d", "--name", "clash", "-p", &format!("{tcp_port}:80"), &busybox(), "httpd", "-f", "-p", "80"]);
    assert!(out.stderr.contains(&format!("port {tcp_port}/tcp on 0.0.0.0 is already in use by rde-proxy")), "{}", out.stderr);
    assert!(out.stderr.contains("hint:"), "{}", out.stderr);
    env.ok(&["container", "rm", "clash"]);
    assert_eq!(links_with_prefix("rv").iter().filter(|l| l.contains(&id[..10])).count(), 1);

    // Restart: the same port answers again.
    env.ok(&["container", "restart", "-t", "1", "web"]);
    http_get(format!("127.0.0.1:{tcp_port}").parse().unwrap(), "/hostname").unwrap();

    // UDP, bound to one address only.
    let echo = "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.bind(('0.0.0.0', 5353))\nwhile True:\n    data, peer = s.recvfrom(512)\n    s.sendto(b'pong:' + data, peer)\n";
    env.ok(&["container", "run", "-d", "--name", "udp", "-p", &format!("127.0.0.1:{udp_port}:5353/udp"), &python(), "python3", "-c", echo]);
    let reply = udp_ask(format!("127.0.0.1:{udp_port}").parse().unwrap(), b"ping");
    assert_eq!(reply.as_deref(), Some(&b"pong:ping"[..]));
    assert!(udp_ask_once(format!("{gateway}:{udp_port}").parse().unwrap()).is_none(), "bound to 127.0.0.1 only");

    // The last container out leaves the default network's bridge and rules up for
    // the next one (as docker's and podman's stay), but its ports go with it.
    env.ok(&["container", "rm", "-f", "web", "udp"]);
    assert_eq!(links_with_prefix(&env.net_prefix), [format!("{}0", env.net_prefix)]);
    assert!(nft_table_exists(&env.net_prefix));
    let maps = Command::new("nft").args(["list", "table", "inet", &env.net_prefix]).output().unwrap();
    assert!(!String::from_utf8_lossy(&maps.stdout).contains(&format!("{tcp_port}")), "{}", String::from_utf8_lossy(&maps.stdout));
    assert!(TcpStream::connect_timeout(&format!("127.0.0.1:{tcp_port}").parse().unwrap(), Duration::from_secs(1)).is_err());
    // `network prune` takes them down.
    env.ok(&["network", "prune"]);
    assert!(links_with_prefix(&env.net_prefix).is_empty(), "{:?}", links_with_prefix(&env.net_prefix));
    assert!(!nft_table_exists(&env.net_prefix));
}

fn udp_ask_once(addr: SocketAddr) -> Option<Vec<u8>> {
    let socket = UdpSocket::bind("0.0.0.0:0").unwrap();
    socket.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    socket.send_to(b"ping", addr).ok()?;
    let mut buf = [0u8; 64];
    socket.recv(&mut buf).ok().map(|n| buf[..n].to_vec())
}

#[test]
fn containers_find_each_other_by_name_and_alias_and_networks_are_isolated() {
    require_root();
    let env = Env::new();
    env.ok(&["image", "pull", "-q", &busybox()]);
    env.ok(&["network", "create", "front"]);
    env.ok(&["network", "create", "back"]);
    let ls = env.ok(&["network", "ls"]).stdout;
    assert!(ls.contains("front") && ls.contains("back") && ls.contains("bridge"), "{ls}");
    let httpd = ["httpd", "-f", "-p", "80", "-h", "/etc"];
    let image = busybox();
    let run = |name: &str, extra: &[&str]| {
        let mut args = vec!["container", "run", "-d", "--name", name];
        args.extend_from_slice(extra);
        args.push(&image);
        args.extend_from_slice(&httpd);
        env.ok(&args);
    };
    run("api", &["--network", "front", "--network-alias", "backend"]);
    run("secret", &["--network", "back"]);
    // By name and by alias, from a container started later.
    let probe = "for h in api backend; do echo x | nc -w 2 $h 80 | head -1; done";
    let out = env.ok(&["container", "run", "--rm", "--network", "front", &busybox(), "sh", "-c", probe]);
    assert_eq!(out.stdout, "HTTP/1.1 400 Bad Request\r\nHTTP/1.1 400 Bad Request\r\n", "{}", out.stderr);
    // And the earlier container sees the later one.
    run("late", &["--network", "front"]);
    let hosts = env.ok(&["container", "exec", "api", "cat", "/etc/hosts"]).stdout;
    assert!(hosts.contains(&format!("{}\tlate", ip_of(&env, "late", "front"))), "{hosts}");
    // The other network's container is out of reach, by address too.
    let secret_ip = ip_of(&env, "secret", "back");
    let out = env.run(&["container", "run", "--rm", "--network", "front", &busybox(), "sh", "-c", &format!("echo x | nc -w 2 {secret_ip} 80")]);
    assert_ne!(out.code, 0, "reached {secret_ip} across networks: {}", out.stdout);
    let out = env.run(&["container", "run", "--rm", "--network", "front", &busybox(), "ping", "-c", "1", "-W", "1", "secret"]);
    assert_ne!(out.code, 0, "resolved a container of another network");

    // Restarted with a new address: the names follow it.
    let old_ip = ip_of(&env, "api", "front");
    env.ok(&["container", "stop", "-t", "1", "api"]);
    run("squatter", &["--network", "front", "--ip", &old_ip]);
    env.ok(&["container", "start", "api"]);
    let new_ip = ip_of(&env, "api", "front");
    assert_ne!(new_ip, old_ip);
    let out = env.ok(&["container", "exec", "late", "ping", "-c", "1", "-W", "2", "backend"]);
    assert!(out.stdout.contains(&format!("({new_ip})")), "{}", out.stdout);

    // Teardown: in use, then free; the bridges and rules go.
    let out = env.fails(&["network", "rm", "front"]);
    assert!(out.stderr.contains("is used by container(s)"), "{}", out.stderr);
    env.ok(&["container", "rm", "-f", "api", "secret", "late", "squatter"]);
    env.ok(&["network", "rm", "front", "back"]);
    assert!(links_with_prefix(&env.net_prefix).is_empty(), "{:?}", links_with_prefix(&env.net_prefix));
    assert!(!nft_table_exists(&env.net_prefix));
    assert!(!env.ok(&["network", "ls", "-q"]).stdout.contains("front"));
}

#[test]
fn egress_leaves_through_masquerade_but_not_from_an_internal_network() {
    require_root();
    let env = Env::new();
    let mut remote = RemoteHost::new(&env.net_prefix[2..]);
    let octet = remote.octet;
    env.ok(&["image", "pull", "-q", &busybox()]);
    let target = format!("10.250.{octet}.2");
    let out = env.ok(&["container", "run", "--rm", &busybox(), "sh", "-c", &format!("nc -w 3 {target} 9000")]);
    assert_eq!(out.stdout, "hello from remote\n", "{}", out.stderr);
    // Rules flushed behind rde's back (`nft flush ruleset`, a firewalld reload) are
    // loaded again by the network's next first container.
    assert!(Command::new("nft").args(["delete", "table", "inet", &env.net_prefix]).status().unwrap().success());
    let out = env.ok(&["container", "run", "--rm", &busybox(), "sh", "-c", &format!("nc -w 3 {target} 9000")]);
    assert_eq!(out.stdout, "hello from remote\n", "{}", out.stderr);
    assert!(nft_table_exists(&env.net_prefix));
    env.ok(&["network", "create", "--internal", "sealed"]);
    let out = env.run(&["container", "run", "--rm", "--network", "sealed", &busybox(), "sh", "-c", &format!("nc -w 2 {target} 9000")]);
    assert_ne!(out.code, 0, "an internal network reached out: {}", out.stdout);
    // The remote saw the host's address on its link, never the container's.
    let peers = remote.peers();
    assert_eq!(peers.lines().collect::<Vec<_>>(), [format!("10.250.{octet}.1"), format!("10.250.{octet}.1")]);
}

#[test]
fn none_host_and_another_containers_network() {
    require_root();
    let env = Env::new();
    env.ok(&["image", "pull", "-q", &busybox()]);
    let out = env.ok(&["container", "run", "--rm", "--network", "none", &busybox(), "ls", "/sys/class/net"]);
    assert_eq!(out.stdout, "lo\n");
    env.ok(&["container", "run", "-d", "--name", "web", &busybox(), "httpd", "-f", "-p", "80", "-h", "/etc"]);
    // The host's network: the default network's bridge is one of its interfaces.
    let out = env.ok(&["container", "run", "--rm", "--network", "host", &busybox(), "ls", "/sys/class/net"]);
    assert!(out.stdout.lines().any(|l| l == format!("{}0", env.net_prefix)), "{}", out.stdout);
    // Another container's: its service is on our loopback.
    let out = env.ok(&["container", "run", "--rm", "--network", "container:web", &busybox(), "sh", "-c", "echo x | nc -w 2 127.0.0.1 80 | head -1"]);
    assert_eq!(out.stdout, "HTTP/1.1 400 Bad Request\r\n");
    let out = env.fails(&["container", "run", "--rm", "--network", "nope", &busybox(), "true"]);
    assert!(out.stderr.contains("no such network: nope"), "{}", out.stderr);
}

#[test]
fn ipv6_between_containers_through_published_ports_and_out() {
    require_root();
    let env = Env::new();
    let mut remote = RemoteHost::new(&env.net_prefix[2..]);
    env.ok(&["image", "pull", "-q", &busybox()]);
    // A hex group as IPv6 addresses print it (no leading zeros).
    let tag = &format!("{:x}", u16::from_str_radix(&env.net_prefix[2..], 16).unwrap());
    let subnet6 = format!("fd42:{tag}::/64");
    env.ok(&["network", "create", "--ipv6", "--subnet", &subnet6, "dual"]);
    let net: serde_json::Value = serde_json::from_str(&env.ok(&["network", "inspect", "dual"]).stdout).unwrap();
    assert_eq!(net[0]["EnableIPv6"], true);
    assert_eq!(net[0]["IPAM"]["Config"][1]["Subnet"], subnet6.as_str());
    assert_eq!(net[0]["IPAM"]["Config"][1]["Gateway"], format!("fd42:{tag}::1").as_str());
    let port = free_port();
    env.ok(&["container", "run", "-d", "--name", "web", "--network", "dual", "-p", &format!("{port}:80"), &busybox(), "httpd", "-f", "-p", "80", "-h", "/etc"]);
    let web6 = inspect(&env, "web")["NetworkSettings"]["Networks"]["dual"]["GlobalIPv6Address"].as_str().unwrap().to_string();
    assert!(web6.starts_with(&format!("fd42:{tag}::")), "{web6}");

    // Between containers, by name (AAAA from the network's resolver, and /etc/hosts).
    let out = env.ok(&["container", "run", "--rm", "--network", "dual", &busybox(), "sh", "-c", "ping6 -c 1 -W 2 web && nslookup -type=AAAA web"]);
    assert!(out.stdout.contains(&format!("({web6})")) && out.stdout.contains(&format!("Address: {web6}")), "{}", out.stdout);
    let out = env.ok(&["container", "run", "--rm", "--network", "dual", &busybox(), "sh", "-c", &format!("echo x | nc -w 2 {web6} 80 | head -1")]);
    assert_eq!(out.stdout, "HTTP/1.1 400 Bad Request\r\n");

    // Through the published port on [::1] (no address given: [::] as well as 0.0.0.0).
    http_get(format!("[::1]:{port}").parse().unwrap(), "/hostname").unwrap();
    http_get(format!("127.0.0.1:{port}").parse().unwrap(), "/hostname").unwrap();

    // Out, masqueraded: the remote sees the host's end of its link.
    let out = env.ok(&["container", "run", "--rm", "--network", "dual", &busybox(), "sh", "-c", &format!("nc -w 3 {} 9000", remote.ip6())]);
    assert_eq!(out.stdout, "hello from remote\n", "{}", out.stderr);
    assert_eq!(remote.peers().lines().collect::<Vec<_>>(), [format!("fd99:{:x}::1", remote.octet)]);

    // An IPv4-only network has no IPv6 to give.
    let out = env.fails(&["container", "run", "--rm", "--ip6", &format!("fd42:{tag}::99"), &busybox(), "true"]);
    assert!(out.stderr.contains("has no IPv6"), "{}", out.stderr);
    env.ok(&["container", "rm", "-f", "web"]);
    env.ok(&["network", "rm", "dual"]);
}

#[test]
fn compose_ipam_config_and_fixed_addresses() {
    require_root();
    let mut env = Env::new().with_mirror(&shared_registry());
    let tag = format!("{:x}", u16::from_str_radix(&env.net_prefix[2..], 16).unwrap());
    let second = env.net_pool().split('.').nth(1).unwrap().to_string();
    let dir = env.dir.path().join("proj");
    std::fs::create_dir_all(&dir).unwrap();
    let yaml = format!(
        "services:\n  fixed:\n    image: busybox\n    command: sleep 300\n    init: true\n    networks:\n      net:\n        ipv4_address: 10.{second}.200.130\n        ipv6_address: fd43:{tag}::10\n  \
         free:\n    image: busybox\n    command: sleep 300\n    init: true\n    networks: [net]\n\
         networks:\n  net:\n    enable_ipv6: true\n    ipam:\n      config:\n        - subnet: 10.{second}.200.0/24\n          ip_range: 10.{second}.200.128/25\n          gateway: 10.{second}.200.254\n        - subnet: fd43:{tag}::/64\n          ip_range: fd43:{tag}::100/120\n          gateway: fd43:{tag}::fe\n"
    );
    std::fs::write(dir.join("docker-compose.yml"), yaml).unwrap();
    env.cwd = Some(dir);
    env.ok(&["up", "-d"]);
    let fixed = inspect(&env, "proj-fixed-1")["NetworkSettings"]["Networks"]["proj_net"].clone();
    assert_eq!(
        (fixed["IPAddress"].as_str(), fixed["Gateway"].as_str()),
        (Some(format!("10.{second}.200.130").as_str()), Some(format!("10.{second}.200.254").as_str()))
    );
    assert_eq!(
        (fixed["GlobalIPv6Address"].as_str(), fixed["IPv6Gateway"].as_str()),
        (Some(format!("fd43:{tag}::10").as_str()), Some(format!("fd43:{tag}::fe").as_str()))
    );
    // From the ip_ranges.
    let free = inspect(&env, "proj-free-1")["NetworkSettings"]["Networks"]["proj_net"].clone();
    assert_eq!(free["IPAddress"].as_str(), Some(format!("10.{second}.200.128").as_str()), "{free}");
    assert_eq!(free["GlobalIPv6Address"].as_str(), Some(format!("fd43:{tag}::100").as_str()), "{free}");
    let out = env.ok(&["exec", "-T", "free", "ping6", "-c", "1", "-W", "2", "fixed"]);
    assert!(out.stdout.contains(&format!("fd43:{tag}::10")), "{}", out.stdout);
    env.ok(&["down"]);
}
