//! Published ports: the shim binds every host socket before the container
//! starts (so a taken port fails the start cleanly, naming the port and its
//! holder), then forks one proxy process that relays each to the container's
//! address. Rootless, the proxy enters the session's network namespace after
//! binding: its listeners stay on the host, its upstream connections are made
//! next to the bridge. The proxy dies with the shim (PDEATHSIG).

use super::netns::Netns;
use super::ports::{PortMapping, Protocol};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(
        "port {port}/{protocol} on {ip} is already in use{holder}; hint: stop what holds it, or publish another host port (e.g. -p {next}:{container_port})"
    )]
    InUse { ip: IpAddr, port: u16, protocol: &'static str, holder: String, next: u16, container_port: u16 },
    #[error("cannot publish port {port}/{protocol} on {ip}: {source}{hint}")]
    Bind { ip: IpAddr, port: u16, protocol: &'static str, source: std::io::Error, hint: &'static str },
    #[error("cannot start the port proxy: {0}")]
    Proxy(nix::Error),
}

enum Socket {
    Tcp(TcpListener),
    Udp(UdpSocket),
}

/// Host sockets bound for a container, and the mappings with their actual host ports.
pub struct Listeners {
    sockets: Vec<(Socket, u16)>,
    pub ports: Vec<PortMapping>,
}

/// Bind every mapping. A mapping without a host port takes the one it had
/// before (`previous`) when still free, else any free port.
pub fn bind(ports: &[PortMapping], previous: &[PortMapping]) -> Result<Listeners, PublishError> {
    let mut out = Listeners { sockets: Vec::new(), ports: Vec::new() };
    for m in ports {
        let ip = m.host_ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let before =
            previous.iter().find(|p| p.container_port == m.container_port && p.protocol == m.protocol && p.host_ip == m.host_ip).and_then(|p| p.host_port);
        let attempt = |port: u16| -> std::io::Result<(Socket, u16)> {
            let addr = SocketAddr::new(ip, port);
            match m.protocol {
                Protocol::Tcp => TcpListener::bind(addr).and_then(|l| Ok((l.local_addr()?.port(), Socket::Tcp(l)))),
                Protocol::Udp => UdpSocket::bind(addr).and_then(|s| Ok((s.local_addr()?.port(), Socket::Udp(s)))),
            }
            .map(|(port, socket)| (socket, port))
        };
        let bound = match (m.host_port, before) {
            (Some(port), _) => attempt(port),
            (None, Some(port)) => attempt(port).or_else(|_| attempt(0)),
            (None, None) => attempt(0),
        };
        let protocol = match m.protocol {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        };
        let (socket, port) = bound.map_err(|source| {
            let port = m.host_port.unwrap_or(0);
            match source.kind() {
                std::io::ErrorKind::AddrInUse => PublishError::InUse {
                    ip,
                    port,
                    protocol,
                    holder: holder_of(port, m.protocol).map(|h| format!(" by {h}")).unwrap_or_default(),
                    next: port.wrapping_add(1),
                    container_port: m.container_port,
                },
                std::io::ErrorKind::PermissionDenied => PublishError::Bind {
                    ip,
                    port,
                    protocol,
                    source,
                    hint: "; hint: ports below 1024 need root (or a lower net.ipv4.ip_unprivileged_port_start)",
                },
                std::io::ErrorKind::AddrNotAvailable => PublishError::Bind { ip, port, protocol, source, hint: "; hint: the address must belong to this host" },
                _ => PublishError::Bind { ip, port, protocol, source, hint: "" },
            }
        })?;
        out.ports.push(PortMapping { host_port: Some(port), ..m.clone() });
        out.sockets.push((socket, m.container_port));
        // No address given: [::] too, as docker binds both (where the host has IPv6).
        if m.host_ip.is_none()
            && let Ok(twin) = bind_ipv6_any(m.protocol, port)
        {
            out.sockets.push((twin, m.container_port));
        }
    }
    Ok(out)
}

/// A socket on [::]:`port` for IPv6 only (IPV6_V6ONLY), beside one on 0.0.0.0.
fn bind_ipv6_any(protocol: Protocol, port: u16) -> std::io::Result<Socket> {
    use nix::sys::socket::{AddressFamily, Backlog, SockFlag, SockType, SockaddrIn6, bind, listen, setsockopt, socket, sockopt};
    let kind = if protocol == Protocol::Udp { SockType::Datagram } else { SockType::Stream };
    let fd = socket(AddressFamily::Inet6, kind, SockFlag::SOCK_CLOEXEC, None)?;
    setsockopt(&fd, sockopt::Ipv6V6Only, &true)?;
    if protocol == Protocol::Tcp {
        setsockopt(&fd, sockopt::ReuseAddr, &true)?;
    }
    bind(fd.as_raw_fd(), &SockaddrIn6::from(std::net::SocketAddrV6::new(std::net::Ipv6Addr::UNSPECIFIED, port, 0, 0)))?;
    Ok(match protocol {
        Protocol::Tcp => {
            listen(&fd, Backlog::MAXCONN)?;
            Socket::Tcp(TcpListener::from(fd))
        }
        Protocol::Udp => Socket::Udp(UdpSocket::from(fd)),
    })
}

/// Fork the proxy for `listeners`, relaying to `target` (the container's address),
/// from inside `upstream_ns` when given. Returns its pid; call while single-threaded.
pub fn spawn_proxy(listeners: Listeners, target: Ipv4Addr, upstream_ns: Option<&Netns>) -> Result<i32, PublishError> {
    let mut keep: Vec<RawFd> = listeners
        .sockets
        .iter()
        .map(|(s, _)| match s {
            Socket::Tcp(l) => l.as_raw_fd(),
            Socket::Udp(u) => u.as_raw_fd(),
        })
        .collect();
    if let Some(ns) = upstream_ns {
        keep.push(ns.file().as_raw_fd());
    }
    // SAFETY: the shim is single-threaded here; the child only starts threads after the fork.
    match unsafe { nix::unistd::fork() }.map_err(PublishError::Proxy)? {
        nix::unistd::ForkResult::Parent { child } => Ok(child.as_raw()),
        nix::unistd::ForkResult::Child => {
            let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::prctl::set_name(c"rde-proxy");
            crate::process::close_all_but(&keep);
            if let Some(ns) = upstream_ns
                && nix::sched::setns(ns.file().as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).is_err()
            {
                // SAFETY: leaving a forked child without running destructors.
                unsafe { libc::_exit(1) }
            }
            for (socket, port) in listeners.sockets {
                let upstream = SocketAddr::new(IpAddr::V4(target), port);
                match socket {
                    Socket::Tcp(l) => {
                        super::proxy::serve_tcp(l, move || TcpStream::connect_timeout(&upstream, Duration::from_secs(5)));
                    }
                    Socket::Udp(u) => {
                        super::proxy::serve_udp(u, move || {
                            let s = UdpSocket::bind("0.0.0.0:0")?;
                            s.connect(upstream)?;
                            Ok(s)
                        });
                    }
                }
            }
            loop {
                // SAFETY: the main thread only waits; the relays run in their threads.
                unsafe { libc::pause() };
            }
        }
    }
}

/// Which process holds a listening port, when we may know it: "python3 (pid 42)".
fn holder_of(port: u16, protocol: Protocol) -> Option<String> {
    let inode = match protocol {
        Protocol::Tcp => [procfs::net::tcp(), procfs::net::tcp6()]
            .into_iter()
            .flatten()
            .flatten()
            .find(|e| e.local_address.port() == port && e.state == procfs::net::TcpState::Listen)
            .map(|e| e.inode),
        // An unconnected UDP socket shows as "close" (07), as a listening one.
        Protocol::Udp => [procfs::net::udp(), procfs::net::udp6()]
            .into_iter()
            .flatten()
            .flatten()
            .find(|e| e.local_address.port() == port && e.state == procfs::net::UdpState::Close)
            .map(|e| e.inode),
    }?;
    for process in procfs::process::all_processes().ok()?.flatten() {
        let Ok(mut fds) = process.fd() else { continue };
        if fds.any(|fd| fd.is_ok_and(|fd| fd.target == procfs::process::FDTarget::Socket(inode))) {
            let comm = process.stat().map(|s| s.comm).unwrap_or_default();
            return Some(format!("{comm} (pid {})", process.pid()));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_port_names_itself_and_its_holder() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let wanted = PortMapping { host_ip: Some("127.0.0.1".parse().unwrap()), host_port: Some(port), container_port: 80, protocol: Protocol::Tcp };
        let err = bind(&[wanted], &[]).err().expect("taken");
        let text = err.to_string();
        assert!(text.contains(&format!("port {port}/tcp on 127.0.0.1 is already in use")), "{text}");
        assert!(text.contains(&format!("pid {}", std::process::id())), "{text}");
    }

    #[test]
    fn any_port_prefers_the_previous_one() {
        let free = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let any = PortMapping { host_ip: Some("127.0.0.1".parse().unwrap()), host_port: None, container_port: 80, protocol: Protocol::Udp };
        let before = PortMapping { host_port: Some(free), ..any.clone() };
        let bound = bind(std::slice::from_ref(&any), &[before]).unwrap();
        assert_eq!(bound.ports[0].host_port, Some(free));
        let other = bind(&[any], &[]).unwrap();
        assert_ne!(other.ports[0].host_port, Some(0));
    }
}
