//! Names by DNS: every network's embedded resolver, asked with raw DNS queries
//! from inside containers (a small python client, no extra packages), and the
//! resolver configuration containers get on a systemd-resolved host. All traffic
//! stays on loopback, on bridges rde makes and in a namespace the test makes
//! (the "outside" DNS server).

mod common;
use common::*;
use std::io::Read;
use std::process::{Child, Command, Stdio};

fn busybox() -> String {
    format!("{}/library/busybox", shared_registry())
}

fn require_root() {
    assert!(is_root(), "this suite needs root; run it through scripts/test");
}

fn python() -> String {
    format!("{}/library/python:3.11", shared_registry())
}

/// `python3 /t/dnsq.py NAME[/TYPE]...` prints `NAME[/TYPE] RCODE ANSWER,...` per query,
/// asking the first nameserver of /etc/resolv.conf over UDP.
const CLIENT: &str = r#"
import random, socket, struct, sys

def name_at(data, i):
    labels = []
    while True:
        n = data[i]
        if n & 0xC0 == 0xC0:
            labels.append(name_at(data, ((n & 0x3F) << 8) | data[i + 1])[0])
            return ".".join(labels), i + 2
        if n == 0:
            return ".".join(labels), i + 1
        labels.append(data[i + 1:i + 1 + n].decode())
        i += n + 1

def ask(name, qtype):
    server = [l.split()[1] for l in open("/etc/resolv.conf") if l.startswith("nameserver")][0]
    question = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack(">HH", qtype, 1)
    tid = random.randrange(65536)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(8)
    s.sendto(struct.pack(">HHHHHH", tid, 0x0100, 1, 0, 0, 0) + question, (server, 53))
    data = s.recv(4096)
    assert struct.unpack(">H", data[:2])[0] == tid
    rcode, count = data[3] & 15, struct.unpack(">H", data[6:8])[0]
    i = name_at(data, 12)[1] + 4
    answers = []
    for _ in range(count):
        i = name_at(data, i)[1]
        rtype, _, _, length = struct.unpack(">HHIH", data[i:i + 10])
        i += 10
        if rtype == 1:
            answers.append(socket.inet_ntoa(data[i:i + length]))
        elif rtype == 12:
            answers.append(name_at(data, i)[0])
        i += length
    return rcode, answers

for arg in sys.argv[1:]:
    name, _, qtype = arg.partition("/")
    if qtype == "PTR":
        name = ".".join(reversed(name.split("."))) + ".in-addr.arpa"
    rcode, answers = ask(name, {"": 1, "AAAA": 28, "PTR": 12}[qtype])
    print(arg, rcode, ",".join(answers), flush=True)
"#;

/// An "outside" DNS server: `outside.example` is 192.0.2.77, anything else NXDOMAIN;
/// prints each name asked.
const SERVER: &str = r#"
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 53))
print("ready", flush=True)
while True:
    data, peer = s.recvfrom(4096)
    i, labels = 12, []
    while data[i]:
        labels.append(data[i + 1:i + 1 + data[i]].decode())
        i += data[i] + 1
    qtype = struct.unpack(">H", data[i + 1:i + 3])[0]
    name = ".".join(labels).lower()
    print(name, flush=True)
    if name == "outside.example" and qtype == 1:
        flags, count, answer = 0x8180, 1, b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + socket.inet_aton("192.0.2.77")
    else:
        flags, count, answer = 0x8183, 0, b""
    s.sendto(data[:2] + struct.pack(">HHHHH", flags, 1, count, 0, 0) + data[12:i + 5] + answer, peer)
"#;

/// The outside DNS server, in the remote host's namespace.
struct OutsideDns(Child);

impl OutsideDns {
    fn start(remote: &RemoteHost) -> OutsideDns {
        let mut child = remote.command("python3").args(["-c", SERVER]).stdout(Stdio::piped()).spawn().unwrap();
        let mut ready = [0u8; 6];
        child.stdout.as_mut().unwrap().read_exact(&mut ready).unwrap();
        OutsideDns(child)
    }
}

impl Drop for OutsideDns {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn client_dir(env: &Env) -> String {
    let dir = env.dir.path().join("dnsq");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("dnsq.py"), CLIENT).unwrap();
    format!("{}:/t:ro", dir.display())
}

/// `exec` the client in `container`: query -> (rcode, answers).
fn ask(env: &Env, container: &str, queries: &[&str]) -> Vec<(String, String)> {
    let mut args = vec!["container", "exec", container, "python3", "/t/dnsq.py"];
    args.extend_from_slice(queries);
    let out = env.ok(&args).stdout;
    out.lines().map(|l| l.split(' ').collect::<Vec<_>>()).map(|f| (f[1].to_string(), f.get(2).unwrap_or(&"").to_string())).collect()
}

fn ip_of(env: &Env, container: &str, network: &str) -> String {
    let out = env.ok(&["container", "inspect", container]).stdout;
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v[0]["NetworkSettings"]["Networks"][network]["IPAddress"].as_str().unwrap().to_string()
}

#[test]
fn peers_resolve_by_dns_on_their_own_networks_only() {
    require_root();
    let env = Env::new();
    env.ok(&["image", "pull", "-q", &python()]);
    env.ok(&["image", "pull", "-q", &busybox()]);
    env.ok(&["network", "create", "front"]);
    env.ok(&["network", "create", "back"]);
    let volume = client_dir(&env);
    env.ok(&["container", "run", "-d", "--name", "api", "--network", "front", "--network-alias", "backend", &busybox(), "sleep", "300"]);
    env.ok(&["container", "run", "-d", "--name", "secret", "--network", "back", &busybox(), "sleep", "300"]);
    env.ok(&["container", "run", "-d", "--name", "client", "--network", "front", "-v", &volume, &python(), "sleep", "300"]);
    let resolv = env.ok(&["container", "exec", "client", "cat", "/etc/resolv.conf"]).stdout;
    let gateway = env.ok(&["network", "inspect", "front"]).stdout;
    let gateway: serde_json::Value = serde_json::from_str(&gateway).unwrap();
    let gateway = gateway[0]["IPAM"]["Config"][0]["Gateway"].as_str().unwrap().to_string();
    assert_eq!(resolv.lines().filter(|l| l.starts_with("nameserver")).collect::<Vec<_>>(), [format!("nameserver {gateway}")], "{resolv}");

    let api = ip_of(&env, "api", "front");
    let answers = ask(&env, "client", &["api", "backend", "API.front", "api/AAAA", &format!("{api}/PTR"), "secret", "nosuch"]);
    assert_eq!(answers[0], ("0".into(), api.clone()), "by name");
    assert_eq!(answers[1], ("0".into(), api.clone()), "by alias");
    assert_eq!(answers[2], ("0".into(), api.clone()), "NAME.NETWORK, any case");
    assert_eq!(answers[3], ("0".into(), String::new()), "no IPv6 address: no answer, and not asked upstream");
    assert_eq!(answers[4], ("0".into(), "api".into()), "PTR");
    assert_eq!(answers[5].0, "3", "a container of another network is NXDOMAIN: {:?}", answers[5]);
    assert_eq!(answers[6].0, "3");

    // The host is no client: the resolver answers its own containers only (no open
    // forwarder, no reflector for spoofed sources).
    let stranger = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    stranger.set_read_timeout(Some(std::time::Duration::from_millis(800))).unwrap();
    let query = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03api\x00\x00\x01\x00\x01";
    stranger.send_to(query, format!("{gateway}:53")).unwrap();
    assert!(stranger.recv(&mut [0u8; 512]).is_err(), "a stranger got an answer");

    // A container started later resolves at once; a removed one stops resolving.
    env.ok(&["container", "run", "-d", "--name", "late", "--network", "front", &busybox(), "sleep", "300"]);
    let late = ip_of(&env, "late", "front");
    assert_eq!(ask(&env, "client", &["late"])[0], ("0".into(), late));
    env.ok(&["container", "rm", "-f", "late"]);
    assert_eq!(ask(&env, "client", &["late"])[0].0, "3");

    // The resolver goes with the network's last container.
    env.ok(&["container", "rm", "-f", "api", "client"]);
    let state = env.dir.path().join("run/networks/_front.resolver.json");
    assert!(!state.exists(), "{}", state.display());
    let listening = Command::new("ss").args(["-Hlun", &format!("src {gateway}:53")]).output().unwrap();
    assert!(String::from_utf8_lossy(&listening.stdout).trim().is_empty(), "{}", String::from_utf8_lossy(&listening.stdout));
    env.ok(&["container", "rm", "-f", "secret"]);
}

#[test]
fn a_systemd_resolved_host_gives_containers_its_upstreams() {
    require_root();
    let mut env = Env::new();
    env.ok(&["image", "pull", "-q", &python()]);
    let remote = RemoteHost::new(&env.net_prefix[2..]);
    let _dns = OutsideDns::start(&remote);
    // rde runs in a mount namespace where /etc/resolv.conf is systemd-resolved's stub
    // and /run/systemd/resolve/resolv.conf lists the real server: the remote.
    let stub = env.dir.path().join("stub-resolv.conf");
    std::fs::write(&stub, "nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lan.example\n").unwrap();
    let script = format!(
        "mount -t tmpfs rde-test /run && mkdir -p /run/systemd/resolve && echo 'nameserver {}' >/run/systemd/resolve/resolv.conf && mount --bind {} /etc/resolv.conf && exec \"$@\"",
        remote.ip(),
        stub.display()
    );
    env.wrap = ["unshare", "--mount", "--propagation", "private", "sh", "-c", &script, "sh"].map(String::from).to_vec();
    let volume = client_dir(&env);

    // On a network: the embedded resolver, which forwards outside names upstream.
    env.ok(&["container", "run", "-d", "--name", "client", "-v", &volume, &python(), "sleep", "300"]);
    let resolv = env.ok(&["container", "exec", "client", "cat", "/etc/resolv.conf"]).stdout;
    assert!(!resolv.contains("127.0.0.53"), "{resolv}");
    assert!(resolv.contains("search lan.example") && resolv.contains("options edns0 trust-ad"), "{resolv}");
    assert_eq!(ask(&env, "client", &["outside.example"])[0], ("0".into(), "192.0.2.77".into()));
    assert_eq!(ask(&env, "client", &["missing.example"])[0].0, "3");

    // Without a network: the upstreams themselves.
    let out = env.ok(&["container", "run", "--rm", "--network", "none", &python(), "cat", "/etc/resolv.conf"]).stdout;
    assert!(out.contains(&format!("nameserver {}\n", remote.ip())) && !out.contains("127.0.0.53"), "{out}");

    // The user's settings win; on a network the resolver stays, forwarding to the user's servers.
    let gateway = resolv.lines().find_map(|l| l.strip_prefix("nameserver ")).unwrap().to_string();
    let remote_ip = remote.ip();
    let user = ["--dns", remote_ip.as_str(), "--dns-search", "svc.example", "--dns-option", "ndots:3"];
    let image = python();
    let out = env.ok(&[&["container", "run", "--rm"], &user[..], &[image.as_str(), "cat", "/etc/resolv.conf"]].concat()).stdout;
    assert_eq!(out, format!("search svc.example\nnameserver {gateway}\noptions ndots:3\n"));
    let out = env.ok(&[&["container", "run", "--rm", "--network", "none"], &user[..], &[image.as_str(), "cat", "/etc/resolv.conf"]].concat()).stdout;
    assert_eq!(out, format!("search svc.example\nnameserver {remote_ip}\noptions ndots:3\n"));
    env.ok(&["container", "rm", "-f", "client"]);
}

#[test]
fn compose_dns_settings_and_host_gateway() {
    require_root();
    let mut env = Env::new().with_mirror(&shared_registry());
    let dir = env.dir.path().join("proj");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("docker-compose.yml"),
        "services:\n  app:\n    image: busybox\n    command: sleep 300\n    init: true\n    dns: [192.0.2.53]\n    dns_search: corp.example\n    dns_opt: [ndots:2]\n    extra_hosts:\n      - host.docker.internal:host-gateway\n      - static.example:192.0.2.9\n",
    )
    .unwrap();
    env.cwd = Some(dir);
    let out = env.ok(&["up", "-d"]);
    assert!(!out.stderr.contains("dns"), "dns is applied, not warned about: {}", out.stderr);
    let gateway = env.ok(&["network", "inspect", "proj_default"]).stdout;
    let gateway: serde_json::Value = serde_json::from_str(&gateway).unwrap();
    let gateway = gateway[0]["IPAM"]["Config"][0]["Gateway"].as_str().unwrap().to_string();
    // The network's resolver, forwarding to 192.0.2.53 (as docker's embedded DNS does).
    let resolv = env.ok(&["exec", "-T", "app", "cat", "/etc/resolv.conf"]).stdout;
    assert_eq!(resolv, format!("search corp.example\nnameserver {gateway}\noptions ndots:2\n"));
    let hosts = env.ok(&["exec", "-T", "app", "cat", "/etc/hosts"]).stdout;
    assert!(hosts.contains(&format!("{gateway}\thost.docker.internal\n")) && hosts.contains("192.0.2.9\tstatic.example\n"), "{hosts}");
    env.ok(&["down"]);
}
