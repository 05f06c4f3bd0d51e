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
    let json: Vec<serde_json::Value> = all
        .iter()
        .map(|n| {
            let labels: Vec<String> = n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            serde_json::json!({"ID": n.id, "Name": n.name, "Driver": n.driver, "Subnet": n.subnet, "Internal": n.internal, "Scope": "local", "Labels": labels.join(",")})
        })
        .collect();
    let table: Vec<Vec<String>> = all
        .iter()
        .map(|n| vec![n.id[..12].to_string(), n.name.clone(), n.driver.clone(), n.subnet.to_string(), if n.internal { "yes" } else { "no" }.into()])
        .collect();
    let columns = [("ID", "NETWORK ID"), ("Name", "NAME"), ("Driver", "DRIVER"), ("Subnet", "SUBNET"), ("Internal", "INTERNAL")];
    crate::cli::print_rows(&printer, &args.format, &json, &columns, Some(table))?;
    Ok(0)
}
