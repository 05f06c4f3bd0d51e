//! Networking: bridge networks with a veth per container, addresses from a
//! locked IPAM, names through an embedded DNS resolver per network and each
//! container's /etc/hosts, an nftables table for masquerade and isolation, and
//! published ports relayed by a proxy process.
//! Rootless, the bridges live in the session's network namespace.
//!
//! Pure parts (`ports`, `ipam`, `hosts`, `resolv`, `dns::answer`, `firewall::render`) are unit-tested;
//! the kernel-facing parts (`netlink`, `netns`) sit under `connect`, which the
//! shim calls between create and start and after exit.

pub mod connect;
pub mod dns;
pub mod firewall;
pub mod hosts;
pub mod ipam;
pub mod netlink;
pub mod netns;
pub mod network;
pub mod ports;
pub mod proxy;
pub mod publish;
pub mod resolv;
pub mod resolver;
