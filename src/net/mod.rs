//! Networking (issue 4, in progress). Here so far: `-p` specs, subnet and
//! address arithmetic, `lo` up in a container's namespace, TCP/UDP port
//! proxies. Next: bridges and veths (netlink), the IPAM file, name resolution,
//! and wiring the proxies into the shim.

pub mod ipam;
pub mod loopback;
pub mod ports;
pub mod proxy;
