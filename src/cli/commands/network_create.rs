use crate::cli::args::NetworkCreateArgs;
use crate::cli::context::Context;
use crate::net::network::{NetworkOptions, Networks};

pub fn run(ctx: &Context, args: NetworkCreateArgs) -> anyhow::Result<i32> {
    crate::names::validate(crate::names::NameKind::Network, &args.name)?;
    if args.driver != "bridge" {
        anyhow::bail!("network driver {:?} is not supported; hint: rde makes bridge networks (--driver bridge)", args.driver);
    }
    let mut opts = NetworkOptions { internal: args.internal, ipv6: args.ipv6, ..Default::default() };
    for subnet in &args.subnet {
        if subnet.contains(':') {
            opts.subnet6 = Some(subnet.parse()?);
        } else {
            opts.subnet = Some(subnet.parse()?);
        }
    }
    for gateway in &args.gateway {
        match gateway {
            std::net::IpAddr::V4(g) => opts.gateway = Some(*g),
            std::net::IpAddr::V6(g) => opts.gateway6 = Some(*g),
        }
    }
    for range in &args.ip_range {
        if range.contains(':') {
            opts.ip_range6 = Some(range.parse()?);
        } else {
            opts.ip_range = Some(range.parse()?);
        }
    }
    if let (Some(subnet6), false) = (opts.subnet6, args.ipv6) {
        anyhow::bail!("--subnet {subnet6} is an IPv6 subnet; hint: add --ipv6 to make the network dual stack");
    }
    for label in &args.label {
        let (k, v) = label.split_once('=').unwrap_or((label, ""));
        opts.labels.insert(k.to_string(), v.to_string());
    }
    let networks = Networks::open(&ctx.paths)?;
    let _lock = networks.lock()?;
    let network = networks.create(&args.name, &opts)?;
    ctx.printer(false).result(&network.id);
    Ok(0)
}
