use crate::cli::args::NetworkNamesArgs;
use crate::cli::context::Context;
use crate::net::network::Networks;
use crate::runtime::networks::remove_named;

/// Remove each network no container uses; report every failure, go on after one.
pub fn run(ctx: &Context, args: NetworkNamesArgs) -> anyhow::Result<i32> {
    let printer = ctx.printer(false);
    let networks = Networks::open(&ctx.paths)?;
    let containers = ctx.containers()?;
    let mut failed = 0;
    for name in &args.networks {
        match remove_named(&ctx.paths, &containers, &networks, name) {
            Ok(()) => printer.result(name),
            Err(e) => {
                printer.error(format!("{:#}", anyhow::Error::from(e)));
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
    let containers = ctx.containers()?;
    let mut errors = 0;
    for name in crate::runtime::networks::unused(&ctx.paths, &containers)? {
        match remove_named(&ctx.paths, &containers, &networks, &name) {
            Ok(()) => printer.result(&name),
            Err(e) => {
                printer.error(format!("{:#}", anyhow::Error::from(e)));
                errors += 1;
            }
        }
    }
    if let Err(e) = crate::runtime::networks::default_down_if_unused(&ctx.paths, &containers) {
        printer.error(format!("{:#}", anyhow::Error::from(e)));
        errors += 1;
    }
    Ok(if errors == 0 { 0 } else { 1 })
}
