//! The few rtnetlink requests rde needs, on a NETLINK_ROUTE socket
//! (`netlink-sys`) with messages built and parsed by `netlink-packet-route`:
//! create a bridge or a veth pair, set a link up or under a bridge, add an
//! address and a default route, delete a link. Each request carries its own
//! sequence number and asks for an acknowledgement; the reply with that number
//! is awaited, so a failure comes back as the kernel's errno.
//! Everything acts on the network namespace of the calling thread.

use std::cell::Cell;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, BorrowedFd};

use netlink_packet_core::{NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST, NetlinkMessage, NetlinkPayload};
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressMessage};
use netlink_packet_route::link::{InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::Socket;
use netlink_sys::protocols::NETLINK_ROUTE;

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

    /// The link does not exist.
    pub fn is_missing(&self) -> bool {
        self.source.raw_os_error() == Some(libc::ENODEV)
    }
}

/// A route socket in the calling thread's network namespace.
pub struct Netlink {
    socket: Socket,
    /// The last sequence number sent.
    sequence: Cell<u32>,
}

impl Netlink {
    /// A route socket in the calling thread's network namespace.
    pub fn open() -> Result<Netlink, NetlinkError> {
        let err = |source| NetlinkError { what: "cannot open a netlink socket".into(), source };
        let mut socket = Socket::new(NETLINK_ROUTE).map_err(err)?;
        socket.bind_auto().map_err(err)?;
        Ok(Netlink { socket, sequence: Cell::new(0) })
    }

    /// Number, serialize and send one request asking for an acknowledgement,
    /// then read replies until the one answering it: an ACK, an error, or (for
    /// a get request) the object asked for.
    fn call(&self, what: impl Fn() -> String, message: RouteNetlinkMessage, flags: u16) -> Result<Option<RouteNetlinkMessage>, NetlinkError> {
        let fail = |source| NetlinkError { what: what(), source };
        let sequence = self.sequence.get().wrapping_add(1);
        self.sequence.set(sequence);
        let bytes = request(message, flags, sequence);
        self.socket.send(&bytes, 0).map_err(fail)?;
        let mut buf = Vec::with_capacity(32 * 1024);
        loop {
            buf.clear();
            match self.socket.recv(&mut buf, 0) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(fail(e)),
            }
            if let Some(answer) = answer(&buf, sequence) {
                return answer.map_err(fail);
            }
        }
    }

    fn change(&self, what: impl Fn() -> String, message: RouteNetlinkMessage, flags: u16) -> Result<(), NetlinkError> {
        self.call(what, message, flags).map(|_| ())
    }

    /// A bridge with a fixed MAC address: left to itself, a bridge takes the lowest
    /// MAC of its ports, so the gateway's MAC would change whenever that port left,
    /// and every container's ARP entry for the gateway would point nowhere until it
    /// expired (about a minute without DNS or egress), as docker's fixed MAC avoids.
    pub fn create_bridge(&self, name: &str, mac: [u8; 6]) -> Result<(), NetlinkError> {
        let mut link = LinkMessage::default();
        link.attributes.push(LinkAttribute::IfName(name.to_string()));
        link.attributes.push(LinkAttribute::Address(mac.to_vec()));
        link.attributes.push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Bridge)]));
        self.change(|| format!("cannot create bridge {name}"), RouteNetlinkMessage::NewLink(link), NLM_F_CREATE | NLM_F_EXCL)
    }

    /// A veth pair: `name` here with the MAC `mac`, `peer` in the namespace `peer_netns`.
    pub fn create_veth(&self, name: &str, mac: [u8; 6], peer: &str, peer_netns: BorrowedFd<'_>) -> Result<(), NetlinkError> {
        let mut other = LinkMessage::default();
        other.attributes.push(LinkAttribute::IfName(peer.to_string()));
        other.attributes.push(LinkAttribute::NetNsFd(peer_netns.as_raw_fd()));
        let mut link = LinkMessage::default();
        link.attributes.push(LinkAttribute::IfName(name.to_string()));
        link.attributes.push(LinkAttribute::Address(mac.to_vec()));
        link.attributes.push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Veth), LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(other)))]));
        self.change(|| format!("cannot create veth pair {name}/{peer}"), RouteNetlinkMessage::NewLink(link), NLM_F_CREATE | NLM_F_EXCL)
    }

    pub fn set_up(&self, name: &str) -> Result<(), NetlinkError> {
        let mut link = LinkMessage::default();
        link.header.index = self.index(name)?;
        link.header.flags = LinkFlags::Up;
        link.header.change_mask = LinkFlags::Up;
        self.change(|| format!("cannot bring {name} up"), RouteNetlinkMessage::NewLink(link), 0)
    }

    /// Put `name` under the bridge `bridge`.
    pub fn set_master(&self, name: &str, bridge: &str) -> Result<(), NetlinkError> {
        let (index, master) = (self.index(name)?, self.index(bridge)?);
        let mut link = LinkMessage::default();
        link.header.index = index;
        link.attributes.push(LinkAttribute::Controller(master));
        self.change(|| format!("cannot attach {name} to bridge {bridge}"), RouteNetlinkMessage::NewLink(link), 0)
    }

    /// Add `ip/prefix` (with its broadcast address) to the link `name`.
    pub fn add_address(&self, name: &str, ip: Ipv4Addr, prefix: u8) -> Result<(), NetlinkError> {
        let mut address = AddressMessage::default();
        address.header.family = AddressFamily::Inet;
        address.header.prefix_len = prefix;
        address.header.index = self.index(name)?;
        let host_bits = if prefix >= 32 { 0 } else { u32::MAX >> prefix };
        let broadcast = Ipv4Addr::from(u32::from(ip) | host_bits);
        address.attributes.push(AddressAttribute::Local(IpAddr::V4(ip)));
        address.attributes.push(AddressAttribute::Address(IpAddr::V4(ip)));
        address.attributes.push(AddressAttribute::Broadcast(broadcast));
        self.change(|| format!("cannot add address {ip}/{prefix} to {name}"), RouteNetlinkMessage::NewAddress(address), NLM_F_CREATE | NLM_F_EXCL)
    }

    /// Add `ip/prefix` to the link `name`, usable at once: no duplicate address
    /// detection (the addresses come from rde's IPAM), which would hold it back a second.
    pub fn add_address6(&self, name: &str, ip: Ipv6Addr, prefix: u8) -> Result<(), NetlinkError> {
        let mut address = AddressMessage::default();
        address.header.family = AddressFamily::Inet6;
        address.header.prefix_len = prefix;
        address.header.index = self.index(name)?;
        address.attributes.push(AddressAttribute::Address(IpAddr::V6(ip)));
        address.attributes.push(AddressAttribute::Flags(AddressFlags::Nodad));
        self.change(|| format!("cannot add address {ip}/{prefix} to {name}"), RouteNetlinkMessage::NewAddress(address), NLM_F_CREATE | NLM_F_EXCL)
    }

    /// A default route (0.0.0.0/0 or ::/0, main table) via `gateway`.
    pub fn add_default_route(&self, gateway: IpAddr) -> Result<(), NetlinkError> {
        let mut route = RouteMessage::default();
        route.header.address_family = if gateway.is_ipv6() { AddressFamily::Inet6 } else { AddressFamily::Inet };
        route.header.table = RouteHeader::RT_TABLE_MAIN;
        route.header.protocol = RouteProtocol::Boot;
        route.header.scope = RouteScope::Universe;
        route.header.kind = RouteType::Unicast;
        route.attributes.push(RouteAttribute::Gateway(RouteAddress::from(gateway)));
        self.change(|| format!("cannot add a default route via {gateway}"), RouteNetlinkMessage::NewRoute(route), NLM_F_CREATE | NLM_F_EXCL)
    }

    pub fn delete_link(&self, name: &str) -> Result<(), NetlinkError> {
        let mut link = LinkMessage::default();
        link.header.index = self.index(name)?;
        self.change(|| format!("cannot delete {name}"), RouteNetlinkMessage::DelLink(link), 0)
    }

    pub fn exists(&self, name: &str) -> bool {
        self.index(name).is_ok()
    }

    /// The index of the link `name`, asked of the kernel by name (no dump).
    fn index(&self, name: &str) -> Result<u32, NetlinkError> {
        let mut link = LinkMessage::default();
        link.attributes.push(LinkAttribute::IfName(name.to_string()));
        match self.call(|| format!("no interface {name}"), RouteNetlinkMessage::GetLink(link), 0)? {
            Some(RouteNetlinkMessage::NewLink(found)) if found.header.index != 0 => Ok(found.header.index),
            _ => Err(NetlinkError { what: format!("no interface {name}"), source: io::Error::from_raw_os_error(libc::ENODEV) }),
        }
    }
}

/// The bytes of one request with sequence number `sequence`.
fn request(message: RouteNetlinkMessage, flags: u16, sequence: u32) -> Vec<u8> {
    let mut packet = NetlinkMessage::from(message);
    packet.header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
    packet.header.sequence_number = sequence;
    packet.finalize();
    let mut bytes = vec![0; packet.buffer_len()];
    packet.serialize(&mut bytes);
    bytes
}

/// The answer to request `sequence` in one datagram of replies, if it holds
/// one: `Ok(None)` for an ACK, `Ok(Some(..))` for an object sent back, `Err`
/// for the kernel's error (or a reply that does not parse). Replies to other
/// sequence numbers (a request abandoned earlier) are skipped.
fn answer(datagram: &[u8], sequence: u32) -> Option<Result<Option<RouteNetlinkMessage>, io::Error>> {
    let mut at = 0;
    let mut found = None;
    while at < datagram.len() {
        let packet = match NetlinkMessage::<RouteNetlinkMessage>::deserialize(&datagram[at..]) {
            Ok(p) => p,
            Err(e) => return Some(Err(io::Error::new(io::ErrorKind::InvalidData, format!("unreadable netlink reply: {e}")))),
        };
        let len = packet.header.length as usize;
        if packet.header.sequence_number == sequence {
            match packet.payload {
                NetlinkPayload::Error(e) => {
                    return Some(match e.code {
                        None => Ok(found.take()),
                        Some(_) => Err(e.to_io()),
                    });
                }
                NetlinkPayload::InnerMessage(m) => found = Some(m),
                _ => {}
            }
        }
        if len == 0 {
            break;
        }
        at += (len + 3) & !3;
    }
    // An object sent back without its ACK in the same datagram: the ACK
    // follows in the next one, but the object is the answer already.
    found.map(|m| Ok(Some(m)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::{ErrorMessage, NetlinkHeader};
    use std::num::NonZeroI32;

    fn ack(sequence: u32, code: i32) -> Vec<u8> {
        let mut error = ErrorMessage::default();
        error.code = NonZeroI32::new(code);
        let mut packet = NetlinkMessage::<RouteNetlinkMessage>::new(NetlinkHeader::default(), NetlinkPayload::Error(error));
        packet.header.sequence_number = sequence;
        packet.finalize();
        let mut bytes = vec![0; packet.buffer_len()];
        packet.serialize(&mut bytes);
        bytes
    }

    #[test]
    fn a_veth_request_round_trips_with_its_sequence_number_and_flags() {
        let mut peer = LinkMessage::default();
        peer.attributes.push(LinkAttribute::IfName("eth0".into()));
        let mut link = LinkMessage::default();
        link.attributes.push(LinkAttribute::IfName("rde0".into()));
        link.attributes.push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Veth), LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer)))]));
        let bytes = request(RouteNetlinkMessage::NewLink(link.clone()), NLM_F_CREATE, 7);
        assert_eq!(bytes.len() % 4, 0);
        let back = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&bytes).unwrap();
        assert_eq!(back.header.sequence_number, 7);
        assert_eq!(back.header.flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE);
        assert_eq!(back.header.length as usize, bytes.len());
        assert_eq!(back.payload, NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(link)));
    }

    #[test]
    fn replies_are_matched_by_sequence_number() {
        // A stale error for request 3, then the ACK for request 4.
        let mut datagram = ack(3, -libc::EEXIST);
        datagram.extend(ack(4, 0));
        assert!(matches!(answer(&datagram, 4), Some(Ok(None))));
        let err = answer(&datagram, 3).unwrap().unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EEXIST));
        assert!(answer(&datagram, 5).is_none());
    }
}
