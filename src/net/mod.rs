//! Networking (issue 4, in progress): published ports and address arithmetic so far; bridges, veths,
//! the IPAM file, name resolution and port proxies come next.

pub mod ipam;
pub mod loopback;
pub mod ports;
