use crate::cli::args::NetworkCreateArgs;
use crate::cli::context::Context;
use crate::net::network::{NetworkOptions, Networks};

pub fn run(ctx: &Context, args: NetworkCreateArgs) -> anyhow::Result<i32> {
    crate::names::validate(crate::names::NameKind::Network, &args.name)?;
    if args.driver != "bridge" {
        anyhow::bail!("network driver {:?} is not supported; hint: rde makes bridge networks (--driver bridge)", args.driver);
    }
    let mut opts = NetworkOptions { internal: args.internal, ..Default::default() };
    if let Some(subnet) = &args.subnet {
        opts.subnet = Some(subnet.parse()?);
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
