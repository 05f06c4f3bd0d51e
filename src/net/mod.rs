//! Networking (issue 4, in progress): port specs, address arithmetic, lo, port proxies; bridges, veths,
//! the IPAM file, name resolution and port proxies come next.

pub mod ipam;
pub mod loopback;
pub mod ports;
pub mod proxy;
