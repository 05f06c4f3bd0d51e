//! The embedded resolver of a network, daemonless, as podman's aardvark-dns is:
//! a small process (`rde-resolver`, forked from the first container's shim) serving DNS on the bridge's
//! address, port 53 (UDP and TCP), in the namespace that holds the bridges (the
//! host's, or rootless the session's). The first container on the network starts
//! it ([`ensure`], under the networks lock); the last one out stops it ([`stop`]).
//!
//! It answers from the live endpoints of the networks (read per query, so a
//! container started later resolves at once and a removed one stops resolving):
//! a client, known by its source address, sees the names, aliases, container
//! names and hostnames of the containers on its own networks, each also as
//! `NAME.NETWORK`, and PTR records for their addresses. Everything else is
//! forwarded to the host's upstream servers (see [`super::resolv::upstreams`]),
//! except for an internal network's clients, who get no answers from outside.
//!
//! ```text
//! <run>/networks/_<name>.resolver.json   the resolver's process (pid and start time)
//! ```

use super::dns::{self, View};
use super::netns::Netns;
use super::network::{Network, NetworkError, Networks};
use crate::paths::Paths;
use crate::process::ProcessId;
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// The address slirp4netns answers DNS on (it forwards to the host's resolvers).
const SLIRP_DNS: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 3);

/// How long a start may take before the container goes on without the resolver.
const READY_WITHIN: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum ResolverError {
    #[error("the DNS resolver of network {network} could not start: {reason}; containers there resolve peers through /etc/hosts only")]
    Start { network: String, reason: String },
    #[error(transparent)]
    Network(#[from] NetworkError),
}

fn state_path(nets: &Networks, network: &str) -> PathBuf {
    nets.firewall_state().with_file_name(format!("_{network}.resolver.json"))
}

/// Make sure the resolver of `net` runs (call with the networks lock held, while
/// single-threaded: it is forked, not executed, to cost a container start little);
/// its address, the bridge's, is what containers get as their nameserver.
pub fn ensure(paths: &Paths, nets: &Networks, net: &Network, bridges: &Netns) -> Result<IpAddr, ResolverError> {
    let state = state_path(nets, &net.name);
    if crate::fsutil::read_json::<ProcessId>(&state).ok().flatten().is_some_and(|p| p.alive()) {
        return Ok(IpAddr::V4(net.gateway));
    }
    let failed = |reason: String| ResolverError::Start { network: net.name.clone(), reason };
    let (ready_r, ready_w) = std::io::pipe().map_err(|e| failed(e.to_string()))?;
    let netns = (!bridges.is_own()).then(|| bridges.file().as_fd().as_raw_fd());
    // SAFETY: the caller is single-threaded; the child starts its threads after the fork.
    let child = match unsafe { nix::unistd::fork() }.map_err(|e| failed(e.to_string()))? {
        nix::unistd::ForkResult::Child => {
            drop(ready_r);
            let keep: Vec<i32> = std::iter::once(ready_w.as_raw_fd()).chain(netns).collect();
            crate::process::close_all_but(&keep);
            detach_stdio();
            // Its own session: no terminal's signals reach it; it outlives the container.
            let _ = nix::unistd::setsid();
            let entered = netns.is_none_or(|fd| {
                // SAFETY: fd is the bridges' namespace, kept open above.
                nix::sched::setns(unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }, nix::sched::CloneFlags::CLONE_NEWNET).is_ok()
            });
            let code = if entered { serve(paths, &net.name, ready_w) } else { 1 };
            // SAFETY: leaving a forked child without running its parent's destructors.
            unsafe { libc::_exit(code) }
        }
        nix::unistd::ForkResult::Parent { child } => child,
    };
    drop(ready_w);
    let ready = nix::poll::poll(
        &mut [nix::poll::PollFd::new(ready_r.as_fd(), nix::poll::PollFlags::POLLIN)],
        nix::poll::PollTimeout::try_from(READY_WITHIN.as_millis() as i32).unwrap_or(nix::poll::PollTimeout::MAX),
    );
    let mut line = String::new();
    if ready.is_ok_and(|n| n > 0) {
        let _ = std::io::BufReader::new(ready_r).read_line(&mut line);
    }
    if line.trim() != "ready" {
        let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(child, None);
        return Err(failed(if line.is_empty() { "it did not answer in time".into() } else { line.trim().to_string() }));
    }
    let process = ProcessId::of(child.as_raw()).ok_or_else(|| failed("it exited".into()))?;
    crate::fsutil::write_json_volatile(&state, &process).map_err(|e| failed(e.to_string()))?;
    Ok(IpAddr::V4(net.gateway))
}

/// /dev/null on stdin, stdout and stderr: nobody reads the resolver's output.
fn detach_stdio() {
    if let Ok(null) = std::fs::OpenOptions::new().read(true).write(true).open("/dev/null") {
        for fd in 0..=2 {
            // SAFETY: dup2 onto the standard descriptors of this single-threaded child.
            unsafe { libc::dup2(null.as_raw_fd(), fd) };
        }
    }
}

/// Stop the resolver of `network` and wait (up to a second) until it is gone, so
/// that a resolver started right after can bind the address (call with the
/// networks lock held, when its last container has left or the network goes).
pub fn stop(nets: &Networks, network: &str) {
    let state = state_path(nets, network);
    if let Some(process) = crate::fsutil::read_json::<ProcessId>(&state).ok().flatten()
        && let Some(pidfd) = process.pidfd()
        && process.signal(nix::sys::signal::Signal::SIGTERM).is_ok()
    {
        // A pidfd becomes readable when its process exits.
        let _ = nix::poll::poll(&mut [nix::poll::PollFd::new(pidfd.as_fd(), nix::poll::PollFlags::POLLIN)], nix::poll::PollTimeout::from(1000u16));
    }
    let _ = std::fs::remove_file(state);
}

/// The resolver: bind, say `ready` (or why not) on `ready`, serve until the
/// network has no live endpoint left. Returns the exit code.
fn serve(paths: &Paths, network: &str, mut ready: std::io::PipeWriter) -> i32 {
    let _ = nix::sys::prctl::set_name(c"rde-resolver");
    let setup = || -> Result<(Networks, Network, UdpSocket, TcpListener), String> {
        let nets = Networks::open(paths).map_err(|e| e.to_string())?;
        let net = nets.all().map_err(|e| e.to_string())?.into_iter().find(|n| n.name == network).ok_or(format!("no network {network}"))?;
        let addr = SocketAddr::new(IpAddr::V4(net.gateway), 53);
        let udp = UdpSocket::bind(addr).map_err(|e| format!("cannot listen on {addr}/udp: {e}"))?;
        let tcp = TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}/tcp: {e}"))?;
        Ok((nets, net, udp, tcp))
    };
    let (nets, net, udp, tcp) = match setup() {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(ready, "{e}");
            return 1;
        }
    };
    let nets = Arc::new(nets);
    let view_nets = nets.clone();
    let own = net.clone();
    let rootless = paths.rootless;
    let host = std::sync::Mutex::new(Upstreams::default());
    let view_for: dns::ViewFor = Arc::new(move |client| {
        let mut view = view(&view_nets, &own.name, client)?;
        // An internal network's clients get no answers from outside.
        if own.internal {
            view.upstreams = Some(Vec::new());
        } else if view.upstreams.is_none() {
            view.upstreams = Some(host.lock().map(|mut h| h.current(rootless)).unwrap_or_default());
        }
        Some(view)
    });
    let stop = Arc::new(AtomicBool::new(false));
    if let Err(e) = dns::serve(vec![udp], vec![tcp], view_for, Vec::new(), stop) {
        let _ = writeln!(ready, "cannot serve: {e}");
        return 1;
    }
    let _ = writeln!(ready, "ready");
    drop(ready);
    // Gone with the last container (normally stopped by it; this is the safety net
    // for a shim that died): checked under the lock, so a container joining right
    // now keeps it.
    loop {
        std::thread::sleep(Duration::from_secs(2));
        let Ok(_lock) = nets.lock() else { continue };
        if nets.endpoints(&net.name).is_ok_and(|e| e.is_empty()) {
            let state = state_path(&nets, &net.name);
            if crate::fsutil::read_json::<ProcessId>(&state).ok().flatten().is_some_and(|p| p.pid == std::process::id() as i32) {
                let _ = std::fs::remove_file(state);
            }
            return 0;
        }
    }
}

/// Where names from outside are asked, read again whenever /etc/resolv.conf or
/// systemd-resolved's list changes (a VPN, another Wi-Fi).
#[derive(Default)]
struct Upstreams {
    stamp: Option<(Option<std::time::SystemTime>, Option<std::time::SystemTime>)>,
    servers: Vec<SocketAddr>,
}

impl Upstreams {
    fn current(&mut self, rootless: bool) -> Vec<SocketAddr> {
        let modified = |p: &str| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        let stamp = (modified("/etc/resolv.conf"), modified(super::resolv::SYSTEMD_RESOLVED_UPSTREAMS));
        if self.stamp != Some(stamp) {
            self.servers = upstreams(rootless);
            self.stamp = Some(stamp);
        }
        self.servers.clone()
    }
}

/// Rootful, the host's servers as /etc/resolv.conf names them (a local stub such as
/// systemd-resolved's keeps split DNS and the host's own names), then the upstreams
/// containers could reach; rootless, slirp4netns's forwarder when it runs, else the
/// host's reachable servers.
fn upstreams(rootless: bool) -> Vec<SocketAddr> {
    let read = |p: &str| std::fs::read_to_string(p).ok();
    let etc = read("/etc/resolv.conf").unwrap_or_default();
    let systemd = read(super::resolv::SYSTEMD_RESOLVED_UPSTREAMS);
    let ips: Vec<IpAddr> = if rootless && super::netlink::Netlink::open().is_ok_and(|nl| nl.exists("tap0")) {
        vec![IpAddr::V4(SLIRP_DNS)]
    } else {
        super::resolv::upstreams(&etc, systemd.as_deref(), !rootless)
    };
    ips.into_iter().map(|ip| SocketAddr::new(ip, 53)).collect()
}

/// What `client` (a source address on `network`) may resolve: the containers on
/// the networks it is on, with its own `--dns` servers as upstreams. A stranger
/// (no live container of this network has that address) gets nothing.
fn view(nets: &Networks, network: &str, client: IpAddr) -> Option<View> {
    let mut view = View::default();
    let all = nets.all().ok()?;
    let endpoints: BTreeMap<&str, Vec<super::network::Endpoint>> = all.iter().map(|n| (n.name.as_str(), nets.endpoints(&n.name).unwrap_or_default())).collect();
    let me = endpoints.get(network)?.iter().find(|e| IpAddr::V4(e.ip) == client || e.ip6.map(IpAddr::V6) == Some(client))?;
    if !me.dns.is_empty() {
        view.upstreams = Some(me.dns.iter().map(|ip| SocketAddr::new(*ip, 53)).collect());
    }
    for n in all.iter().filter(|n| endpoints[n.name.as_str()].iter().any(|e| e.container_id == me.container_id)) {
        view.networks.push((IpAddr::V4(n.subnet.network()), n.subnet.prefix()));
        if let Some(s) = n.subnet6 {
            view.networks.push((IpAddr::V6(s.network()), s.prefix()));
        }
        for e in &endpoints[n.name.as_str()] {
            for ip in std::iter::once(IpAddr::V4(e.ip)).chain(e.ip6.map(IpAddr::V6)) {
                for name in e.names.iter().filter(|n| super::hosts::valid_host_name(n)) {
                    let name = name.to_ascii_lowercase();
                    for key in [name.clone(), format!("{name}.{}", n.name.to_ascii_lowercase())] {
                        let ips = view.names.entry(key).or_default();
                        if !ips.contains(&ip) {
                            ips.push(ip);
                        }
                    }
                }
                if let Some(first) = e.names.first() {
                    view.reverse.entry(ip).or_insert_with(|| first.to_ascii_lowercase());
                }
            }
        }
    }
    Some(view)
}
