//! The few rtnetlink requests rde needs, spoken directly on a NETLINK_ROUTE
//! socket: create a bridge or a veth pair, set a link up or under a bridge,
//! add an address and a default route, delete a link. Each request asks for an
//! acknowledgement, so a failure comes back as the kernel's errno.
//! Everything acts on the network namespace of the calling thread.

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

#[derive(Debug, thiserror::Error)]
#[error("{what}: {source}")]
pub struct NetlinkError {
    pub what: String,
    #[source]
    pub source: io::Error,
}

impl NetlinkError {
    /// The link or address already exists.
    pub fn is_exists(&self) -> bool {
        self.source.raw_os_error() == Some(libc::EEXIST)
    }

    pub fn is_missing(&self) -> bool {
        self.source.raw_os_error() == Some(libc::ENODEV)
    }
}

// Attribute numbers from <linux/if_link.h>, <linux/if_addr.h>, <linux/rtnetlink.h>.
const IFLA_IFNAME: u16 = 3;
const IFLA_MASTER: u16 = 10;
const IFLA_LINKINFO: u16 = 18;
const IFLA_NET_NS_FD: u16 = 28;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const VETH_INFO_PEER: u16 = 1;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_BROADCAST: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const NLA_F_NESTED: u16 = 1 << 15;
const RT_TABLE_MAIN: u8 = 254;
const RTPROT_BOOT: u8 = 3;
const RTN_UNICAST: u8 = 1;

/// One request being built: header, fixed part, then attributes (4-byte aligned).
struct Request {
    buf: Vec<u8>,
}

impl Request {
    fn new(kind: u16, flags: u16) -> Request {
        let mut buf = Vec::with_capacity(256);
        buf.extend_from_slice(&0u32.to_ne_bytes()); // length, set in finish()
        buf.extend_from_slice(&kind.to_ne_bytes());
        buf.extend_from_slice(&(flags | libc::NLM_F_REQUEST as u16 | libc::NLM_F_ACK as u16).to_ne_bytes());
        buf.extend_from_slice(&1u32.to_ne_bytes()); // sequence number
        buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills it
        Request { buf }
    }

    fn bytes(&mut self, data: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(data);
        self.align();
        self
    }

    fn align(&mut self) {
        while self.buf.len() % 4 != 0 {
            self.buf.push(0);
        }
    }

    fn attr(&mut self, kind: u16, data: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(&((4 + data.len()) as u16).to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.bytes(data)
    }

    fn attr_str(&mut self, kind: u16, text: &str) -> &mut Self {
        let mut data = text.as_bytes().to_vec();
        data.push(0);
        self.attr(kind, &data)
    }

    /// Open a nested attribute; close it with `end(start)`.
    fn begin(&mut self, kind: u16) -> usize {
        let start = self.buf.len();
        self.attr(kind | NLA_F_NESTED, &[]);
        start
    }

    fn end(&mut self, start: usize) -> &mut Self {
        let len = (self.buf.len() - start) as u16;
        self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        self
    }

    fn finish(&mut self) -> &[u8] {
        let len = self.buf.len() as u32;
        self.buf[..4].copy_from_slice(&len.to_ne_bytes());
        &self.buf
    }
}

/// `struct ifinfomsg`: family, type, index, flags, change mask.
fn ifinfo(index: u32, flags: u32, change: u32) -> [u8; 16] {
    let mut m = [0u8; 16];
    m[4..8].copy_from_slice(&(index as i32).to_ne_bytes());
    m[8..12].copy_from_slice(&flags.to_ne_bytes());
    m[12..16].copy_from_slice(&change.to_ne_bytes());
    m
}

pub struct Netlink {
    fd: OwnedFd,
}

impl Netlink {
    /// A route socket in the calling thread's network namespace.
    pub fn open() -> Result<Netlink, NetlinkError> {
        let err = |source| NetlinkError { what: "cannot open a netlink socket".into(), source };
        // SAFETY: plain socket/bind syscalls on a descriptor we own.
        unsafe {
            let fd = libc::socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_CLOEXEC, libc::NETLINK_ROUTE);
            if fd < 0 {
                return Err(err(io::Error::last_os_error()));
            }
            let fd = OwnedFd::from_raw_fd(fd);
            let mut addr: libc::sockaddr_nl = std::mem::zeroed();
            addr.nl_family = libc::AF_NETLINK as u16;
            let len = std::mem::size_of::<libc::sockaddr_nl>() as u32;
            if libc::bind(fd.as_raw_fd(), &addr as *const _ as *const libc::sockaddr, len) < 0 {
                return Err(err(io::Error::last_os_error()));
            }
            Ok(Netlink { fd })
        }
    }

    /// Send one request and wait for its acknowledgement.
    fn call(&self, what: impl FnOnce() -> String, request: &mut Request) -> Result<(), NetlinkError> {
        let fail = |source| NetlinkError { what: what(), source };
        let bytes = request.finish();
        // SAFETY: send/recv on our socket with buffers we own.
        let sent = unsafe { libc::send(self.fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len(), 0) };
        if sent < 0 {
            return Err(fail(io::Error::last_os_error()));
        }
        let mut reply = [0u8; 8192];
        loop {
            let n = unsafe { libc::recv(self.fd.as_raw_fd(), reply.as_mut_ptr().cast(), reply.len(), 0) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(fail(e));
            }
            let mut at = 0usize;
            while at + 16 <= n as usize {
                let len = u32::from_ne_bytes(reply[at..at + 4].try_into().expect("4 bytes")) as usize;
                let kind = u16::from_ne_bytes(reply[at + 4..at + 6].try_into().expect("2 bytes"));
                if kind == libc::NLMSG_ERROR as u16 && at + 20 <= n as usize {
                    let code = i32::from_ne_bytes(reply[at + 16..at + 20].try_into().expect("4 bytes"));
                    return if code == 0 { Ok(()) } else { Err(fail(io::Error::from_raw_os_error(-code))) };
                }
                if len < 16 {
                    break;
                }
                at += (len + 3) & !3;
            }
        }
    }

    pub fn create_bridge(&self, name: &str) -> Result<(), NetlinkError> {
        let mut r = Request::new(libc::RTM_NEWLINK, (libc::NLM_F_CREATE | libc::NLM_F_EXCL) as u16);
        r.bytes(&ifinfo(0, 0, 0)).attr_str(IFLA_IFNAME, name);
        let info = r.begin(IFLA_LINKINFO);
        r.attr_str(IFLA_INFO_KIND, "bridge");
        r.end(info);
        self.call(|| format!("cannot create bridge {name}"), &mut r)
    }

    /// A veth pair: `name` here, `peer` in the namespace `peer_netns`.
    pub fn create_veth(&self, name: &str, peer: &str, peer_netns: BorrowedFd<'_>) -> Result<(), NetlinkError> {
        let mut r = Request::new(libc::RTM_NEWLINK, (libc::NLM_F_CREATE | libc::NLM_F_EXCL) as u16);
        r.bytes(&ifinfo(0, 0, 0)).attr_str(IFLA_IFNAME, name);
        let info = r.begin(IFLA_LINKINFO);
        r.attr_str(IFLA_INFO_KIND, "veth");
        let data = r.begin(IFLA_INFO_DATA);
        let peer_attr = r.begin(VETH_INFO_PEER);
        r.bytes(&ifinfo(0, 0, 0)).attr_str(IFLA_IFNAME, peer).attr(IFLA_NET_NS_FD, &peer_netns.as_raw_fd().to_ne_bytes());
        r.end(peer_attr).end(data).end(info);
        self.call(|| format!("cannot create veth pair {name}/{peer}"), &mut r)
    }

    pub fn set_up(&self, name: &str) -> Result<(), NetlinkError> {
        let index = self.index(name)?;
        let up = libc::IFF_UP as u32;
        let mut r = Request::new(libc::RTM_NEWLINK, 0);
        r.bytes(&ifinfo(index, up, up));
        self.call(|| format!("cannot bring {name} up"), &mut r)
    }

    /// Put `name` under the bridge `bridge`.
    pub fn set_master(&self, name: &str, bridge: &str) -> Result<(), NetlinkError> {
        let (index, master) = (self.index(name)?, self.index(bridge)?);
        let mut r = Request::new(libc::RTM_NEWLINK, 0);
        r.bytes(&ifinfo(index, 0, 0)).attr(IFLA_MASTER, &master.to_ne_bytes());
        self.call(|| format!("cannot attach {name} to bridge {bridge}"), &mut r)
    }

    pub fn add_address(&self, name: &str, ip: Ipv4Addr, prefix: u8) -> Result<(), NetlinkError> {
        let index = self.index(name)?;
        let mut ifaddr = [0u8; 8];
        ifaddr[0] = libc::AF_INET as u8;
        ifaddr[1] = prefix;
        ifaddr[4..8].copy_from_slice(&index.to_ne_bytes());
        let host_bits = if prefix >= 32 { 0 } else { u32::MAX >> prefix };
        let broadcast = Ipv4Addr::from(u32::from(ip) | host_bits);
        let mut r = Request::new(libc::RTM_NEWADDR, (libc::NLM_F_CREATE | libc::NLM_F_EXCL) as u16);
        r.bytes(&ifaddr).attr(IFA_LOCAL, &ip.octets()).attr(IFA_ADDRESS, &ip.octets()).attr(IFA_BROADCAST, &broadcast.octets());
        self.call(|| format!("cannot add address {ip}/{prefix} to {name}"), &mut r)
    }

    pub fn add_default_route(&self, gateway: Ipv4Addr) -> Result<(), NetlinkError> {
        // struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags.
        let rtmsg = [libc::AF_INET as u8, 0, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, 0, RTN_UNICAST, 0, 0, 0, 0];
        let mut r = Request::new(libc::RTM_NEWROUTE, (libc::NLM_F_CREATE | libc::NLM_F_EXCL) as u16);
        r.bytes(&rtmsg).attr(RTA_GATEWAY, &gateway.octets());
        self.call(|| format!("cannot add a default route via {gateway}"), &mut r)
    }

    pub fn delete_link(&self, name: &str) -> Result<(), NetlinkError> {
        let index = self.index(name)?;
        let mut r = Request::new(libc::RTM_DELLINK, 0);
        r.bytes(&ifinfo(index, 0, 0));
        self.call(|| format!("cannot delete {name}"), &mut r)
    }

    pub fn exists(&self, name: &str) -> bool {
        self.index(name).is_ok()
    }

    fn index(&self, name: &str) -> Result<u32, NetlinkError> {
        let c = std::ffi::CString::new(name).map_err(|_| NetlinkError { what: format!("bad interface name {name:?}"), source: io::Error::from_raw_os_error(libc::EINVAL) })?;
        // SAFETY: if_nametoindex reads the NUL-terminated name we pass.
        match unsafe { libc::if_nametoindex(c.as_ptr()) } {
            0 => Err(NetlinkError { what: format!("no interface {name}"), source: io::Error::from_raw_os_error(libc::ENODEV) }),
            i => Ok(i),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_aligned_and_nested_lengths_cover_their_children() {
        let mut r = Request::new(libc::RTM_NEWLINK, 0);
        r.bytes(&ifinfo(0, 0, 0)).attr_str(IFLA_IFNAME, "rde0");
        let info = r.begin(IFLA_LINKINFO);
        r.attr_str(IFLA_INFO_KIND, "bridge");
        r.end(info);
        let bytes = r.finish().to_vec();
        assert_eq!(bytes.len() % 4, 0);
        assert_eq!(u32::from_ne_bytes(bytes[..4].try_into().unwrap()) as usize, bytes.len());
        // header 16 + ifinfomsg 16 + IFNAME (4+5 -> 12) = 44: the nest starts there.
        let nest_len = u16::from_ne_bytes(bytes[44..46].try_into().unwrap()) as usize;
        assert_eq!(nest_len, bytes.len() - 44);
        assert_eq!(u16::from_ne_bytes(bytes[46..48].try_into().unwrap()), IFLA_LINKINFO | NLA_F_NESTED);
        assert_eq!(&bytes[52..58], b"bridge");
    }
}
