use crate::cli::args::NetworkNamesArgs;
use crate::cli::context::Context;
use crate::net::network::Networks;
use serde_json::json;

pub fn run(ctx: &Context, args: NetworkNamesArgs) -> anyhow::Result<i32> {
    let printer = ctx.printer(false);
    let networks = Networks::open(&ctx.paths)?;
    let containers = ctx.containers()?;
    let _lock = networks.lock()?;
    let mut out = Vec::new();
    let mut failed = 0;
    for name in &args.networks {
        match networks.get(name).and_then(|n| Ok((networks.endpoints(&n.name)?, n))) {
            Ok((endpoints, n)) => {
                let members: serde_json::Map<String, serde_json::Value> = endpoints
                    .iter()
                    .map(|e| {
                        let name = containers.find(&e.container_id).map(|r| r.name).unwrap_or_default();
                        (e.container_id.clone(), json!({"Name": name, "IPv4Address": format!("{}/{}", e.ip, n.subnet.prefix()), "Names": e.names}))
                    })
                    .collect();
                out.push(json!({
                    "Name": n.name, "Id": n.id, "Created": n.created, "Driver": n.driver, "Internal": n.internal,
                    "IPAM": {"Config": [{"Subnet": n.subnet, "Gateway": n.gateway}]},
                    "Bridge": n.bridge, "Labels": n.labels, "Containers": members,
                }));
            }
            Err(e) => {
                printer.error(e.to_string());
                failed += 1;
            }
        }
    }
    printer.json(&serde_json::Value::Array(out));
    Ok(if failed == 0 { 0 } else { 1 })
}
