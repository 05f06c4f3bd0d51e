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
                        let ipv6 = match (e.ip6, n.subnet6) {
                            (Some(ip), Some(s)) => format!("{ip}/{}", s.prefix()),
                            _ => String::new(),
                        };
                        (
                            e.container_id.clone(),
                            json!({"Name": name, "IPv4Address": format!("{}/{}", e.ip, n.subnet.prefix()), "IPv6Address": ipv6, "Names": e.names}),
                        )
                    })
                    .collect();
                let mut ipam = vec![json!({"Subnet": n.subnet, "Gateway": n.gateway})];
                if let Some(range) = n.ip_range {
                    ipam[0]["IPRange"] = json!(range);
                }
                if let (Some(s), Some(g)) = (n.subnet6, n.gateway6) {
                    ipam.push(json!({"Subnet": s, "Gateway": g}));
                    if let Some(range) = n.ip_range6 {
                        ipam[1]["IPRange"] = json!(range);
                    }
                }
                out.push(json!({
                    "Name": n.name, "Id": n.id, "Created": n.created, "Driver": n.driver, "Internal": n.internal,
                    "EnableIPv6": n.subnet6.is_some(),
                    "IPAM": {"Config": ipam},
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
