//! Networking (issue 4, in progress): published ports so far; bridges, veths,
//! IPAM, name resolution and port proxies come next.

pub mod ports;
