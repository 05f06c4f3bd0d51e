use crate::cli::args::NetworkLsArgs;
use crate::cli::context::Context;
use crate::net::network::{DEFAULT_NETWORK, Networks};

pub fn run(ctx: &Context, args: NetworkLsArgs) -> anyhow::Result<i32> {
    let printer = ctx.printer(false);
    let networks = Networks::open(&ctx.paths)?;
    for broken in networks.broken()? {
        printer.warn(broken.to_string());
    }
    let all = {
        let _lock = networks.lock()?;
        networks.get(DEFAULT_NETWORK)?;
        networks.all()?
    };
    if args.quiet {
        all.iter().for_each(|n| printer.result(&n.name));
        return Ok(0);
    }
    match args.format.as_str() {
        "json" => {
            for n in &all {
                printer.result(serde_json::json!({"ID": n.id, "Name": n.name, "Driver": n.driver, "Subnet": n.subnet, "Internal": n.internal}).to_string());
            }
        }
        "table" => {
            let rows: Vec<Vec<String>> = all
                .iter()
                .map(|n| vec![n.id[..12].to_string(), n.name.clone(), n.driver.clone(), n.subnet.to_string(), if n.internal { "yes" } else { "no" }.into()])
                .collect();
            printer.table(&["NETWORK ID", "NAME", "DRIVER", "SUBNET", "INTERNAL"], &rows);
        }
        other => anyhow::bail!("unknown --format {other:?}; hint: use table or json"),
    }
    Ok(0)
}
