//! Kernel boundaries: device nodes, and the host's loopback.

use super::common::*;
use super::crafted::{crafted_image, require_root};
use std::process::Command;

/// Run rde where /sys/fs/cgroup is a cgroup2 mount, as on a cgroup v2 host: a
/// private mount namespace for this one command (and the shims it starts), so
/// the host's hierarchy is untouched.
fn on_cgroup2(env: &Env, args: &[&str]) -> Run {
    let inner = env.command(args);
    let mut c = Command::new("unshare");
    c.args(["--mount", "--propagation", "private", "sh", "-c", "mount -t cgroup2 none /sys/fs/cgroup && exec \"$0\" \"$@\"", env!("CARGO_BIN_EXE_rde")]);
    c.args(args);
    for (k, v) in inner.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    let out = c.output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn host_devices_stay_closed_with_and_without_a_device_cgroup() {
    require_root();
    // /dev/kmsg's numbers, as a node in an image layer (harmless to read, but not on docker's allow-list).
    let image = crafted_image("device-node", "device('kmsg', 'c', 1, 11)\n", &["--cmd", r#"["sh"]"#]);
    let env = Env::new();
    let probe = "head -c 1 /kmsg >/dev/null && echo IMAGE-NODE-OPENED; mknod /dev/k c 1 11 && head -c 1 /dev/k >/dev/null && echo NEW-NODE-OPENED; head -c 1 /dev/zero | wc -c";
    // cgroup v1 (this host): the devices controller refuses both.
    let out = env.ok(&["container", "run", "--rm", &image, "sh", "-c", probe]);
    assert!(!out.stdout.contains("OPENED"), "{}{}", out.stdout, out.stderr);
    assert_eq!(out.stdout.trim(), "1", "/dev/zero still works: {}", out.stderr);
    // cgroup v2 without an eBPF device filter: no CAP_MKNOD, and nodev mounts.
    let out = on_cgroup2(&env, &["container", "run", "--rm", &image, "sh", "-c", probe]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(!out.stdout.contains("OPENED"), "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("Operation not permitted"), "mknod refused: {}", out.stderr);
    assert_eq!(out.stdout.trim(), "1", "/dev/zero still works: {}", out.stderr);
    assert!(mounts_under(env.dir.path()).is_empty());
}

/// A SYN to 127.0.0.1:<port> written as a raw frame to the bridge's MAC (the
/// default CAP_NET_RAW allows it): REACHED when a SYN-ACK comes back.
const RAW_SYN: &str = r#"
import socket, struct, sys, time
dport, gw_mac, src_ip = int(sys.argv[1]), bytes.fromhex(sys.argv[2].replace(':', '')), socket.inet_aton(sys.argv[3])
dst_ip = socket.inet_aton('127.0.0.1')
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
s.bind(('eth0', 0x0800))
my_mac = s.getsockname()[4]
def csum(b):
    if len(b) % 2: b += b'\0'
    t = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while t >> 16: t = (t & 0xffff) + (t >> 16)
    return ~t & 0xffff
sport = 40000
tcp = struct.pack('!HHIIBBHHH', sport, dport, 1, 0, 5 << 4, 0x02, 65535, 0, 0)
tcp = tcp[:16] + struct.pack('!H', csum(src_ip + dst_ip + struct.pack('!BBH', 0, 6, len(tcp)) + tcp)) + tcp[18:]
ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0, src_ip, dst_ip)
ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
frame = gw_mac + my_mac + b'\x08\x00' + ip + tcp
s.settimeout(0.2)
deadline = time.time() + 3
while time.time() < deadline:
    s.send(frame)
    try:
        while True:
            pkt = s.recv(2048)
            if pkt[23] == 6 and pkt[26:30] == dst_ip:
                sp, dp = struct.unpack('!HH', pkt[34:38])
                if sp == dport and dp == sport and pkt[47] & 0x12 == 0x12:
                    print('REACHED'); sys.exit(0)
    except socket.timeout:
        pass
print('BLOCKED')
"#;

fn inspect(env: &Env, name: &str) -> serde_json::Value {
    serde_json::from_str::<serde_json::Value>(&env.ok(&["container", "inspect", name]).stdout).unwrap()[0].clone()
}

/// The host interface that holds `ip` (a bridge rde made).
fn mac_of_interface_with(ip: &str) -> String {
    let out = Command::new("ip").args(["-o", "-4", "addr", "show"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let dev = text.lines().find(|l| l.contains(&format!(" {ip}/"))).and_then(|l| l.split_whitespace().nth(1)).expect("the bridge").to_string();
    std::fs::read_to_string(format!("/sys/class/net/{dev}/address")).unwrap().trim().to_string()
}

/// Prints every datagram it gets, and answers it.
const UDP_ECHO: &str = "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.bind(('0.0.0.0', 5353))\nwhile True:\n    data, peer = s.recvfrom(512)\n    print(data.decode(), flush=True)\n    s.sendto(b'pong:' + data, peer)\n";

#[test]
fn the_hosts_loopback_is_reached_only_from_the_host() {
    require_root();
    let env = Env::new();
    let python = format!("{}/library/python:3.11", shared_registry());
    // A service the host keeps to itself, on 127.0.0.1.
    let private = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let private_port = private.local_addr().unwrap().port();
    // A port published on 127.0.0.1 only (so the rules for the hairpin are in force).
    let published = free_port();
    env.ok(&["container", "run", "-d", "--name", "echo", "-p", &format!("127.0.0.1:{published}:5353/udp"), &python, "python3", "-c", UDP_ECHO]);
    let reply = udp_ask(format!("127.0.0.1:{published}").parse().unwrap(), b"from-host");
    assert_eq!(reply.as_deref(), Some(&b"pong:from-host"[..]), "the host reaches its own published port");
    let net = &inspect(&env, "echo")["NetworkSettings"]["Networks"]["bridge"];
    let (gateway, echo_ip) = (net["Gateway"].as_str().unwrap().to_string(), net["IPAddress"].as_str().unwrap().to_string());
    // A container forging frames to the host's 127.0.0.1 does not reach the private service.
    let out = env.ok(&["container", "exec", "echo", "python3", "-c", RAW_SYN, &private_port.to_string(), &mac_of_interface_with(&gateway), &echo_ip]);
    assert_eq!(out.stdout.trim(), "BLOCKED", "a container reached the host's 127.0.0.1:{private_port}: {}", out.stderr);
    // A neighbour sending to 127.0.0.1 through the host does not reach the port published there.
    let tag = format!("{:03x}", (std::process::id() + 7) % 4096);
    let remote = RemoteHost::new(&tag);
    let host_side = format!("10.250.{}.1", remote.octet);
    let sh = |script: &str| Command::new("ip").args(["netns", "exec", &format!("rde-remote-{tag}"), "sh", "-c", script]).output().unwrap();
    // Its own 127.0.0.1 routed to us, as a hostile neighbour would configure it.
    let setup = sh(&format!(
        "sysctl -qw net.ipv4.conf.eth0.route_localnet=1 && ip route del local 127.0.0.1 dev lo table local && \
         ip route del local 127.0.0.0/8 dev lo table local && ip route add 127.0.0.1/32 via {host_side} dev eth0"
    ));
    assert!(setup.status.success(), "{}", String::from_utf8_lossy(&setup.stderr));
    let send = sh(&format!(
        "python3 -c \"import socket,time\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nfor _ in range(5):\n    s.sendto(b'from-neighbour', ('127.0.0.1', {published})); time.sleep(0.1)\""
    ));
    assert!(send.status.success(), "{}", String::from_utf8_lossy(&send.stderr));
    udp_ask(format!("127.0.0.1:{published}").parse().unwrap(), b"from-host-again").expect("still served");
    // The log is written by the shim a moment after the reply.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let logs = loop {
        let logs = env.ok(&["container", "logs", "echo"]).stdout;
        if logs.contains("from-host-again") || std::time::Instant::now() > deadline {
            break logs;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(logs.contains("from-host-again"), "{logs}");
    assert!(!logs.contains("from-neighbour"), "a neighbour reached the port published on 127.0.0.1:\n{logs}");
    drop(remote);
    drop(private);
    env.ok(&["container", "rm", "-f", "echo"]);
}
