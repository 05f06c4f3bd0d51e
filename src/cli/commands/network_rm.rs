use crate::cli::args::NetworkNamesArgs;
use crate::cli::context::Context;
use crate::net::connect;
use crate::net::network::{DEFAULT_NETWORK, Network, NetworkError, Networks};

/// Remove each network no container uses; report every failure, go on after one.
pub fn run(ctx: &Context, args: NetworkNamesArgs) -> anyhow::Result<i32> {
    let printer = ctx.printer(false);
    let networks = Networks::open(&ctx.paths)?;
    let mut failed = 0;
    for name in &args.networks {
        match remove_named(ctx, &networks, name) {
            Ok(()) => printer.result(name),
            Err(e) => {
                printer.error(format!("{e:#}"));
                failed += 1;
            }
        }
    }
    Ok(if failed == 0 { 0 } else { 1 })
}

/// `rde network prune`: every network but the default that no container uses.
pub fn prune(ctx: &Context) -> anyhow::Result<i32> {
    let printer = ctx.printer(false);
    let networks = Networks::open(&ctx.paths)?;
    let mut errors = 0;
    for name in unused(ctx)? {
        match remove_named(ctx, &networks, &name) {
            Ok(()) => printer.result(&name),
            Err(e) => {
                printer.error(format!("{e:#}"));
                errors += 1;
            }
        }
    }
    Ok(if errors == 0 { 0 } else { 1 })
}

/// Names of networks, other than the default, that no container refers to.
pub fn unused(ctx: &Context) -> anyhow::Result<Vec<String>> {
    let used: Vec<String> = ctx.containers()?.all()?.iter().flat_map(|r| r.network.network_names()).collect();
    let networks = Networks::open(&ctx.paths)?;
    Ok(networks.all()?.into_iter().map(|n| n.name).filter(|n| n != DEFAULT_NETWORK && !used.contains(n)).collect())
}

pub fn remove_named(ctx: &Context, networks: &Networks, name: &str) -> anyhow::Result<()> {
    let network = {
        let _lock = networks.lock()?;
        match networks.get(name) {
            // Its record is all that is known of it: forget it.
            Err(NetworkError::Corrupt { .. }) => return Ok(networks.remove(name)?),
            other => other?,
        }
    };
    remove(ctx, &network)
}

fn remove(ctx: &Context, network: &Network) -> anyhow::Result<()> {
    if network.name == DEFAULT_NETWORK {
        return Err(NetworkError::Default(network.name.clone()).into());
    }
    let users: Vec<String> = ctx.containers()?.all()?.into_iter().filter(|r| r.network.network_names().contains(&network.name)).map(|r| r.name).collect();
    if !users.is_empty() {
        anyhow::bail!("network {} is used by container(s) {}; hint: remove them first: rde container rm -f {}", network.name, users.join(", "), users.join(" "));
    }
    connect::remove_network(&ctx.paths, network)?;
    Ok(())
}
