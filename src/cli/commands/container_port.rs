use crate::cli::args::PortArgs;
use crate::cli::context::Context;
use crate::net::ports::Protocol;

/// docker's format: `80/tcp -> 0.0.0.0:8080`, or only `0.0.0.0:8080` for one port.
pub fn run(ctx: &Context, args: PortArgs) -> anyhow::Result<i32> {
    let printer = ctx.printer(false);
    let containers = ctx.containers()?;
    let record = containers.find(&args.container)?;
    let state = containers.state(&record.id);
    let proto = |p: Protocol| if p == Protocol::Udp { "udp" } else { "tcp" };
    let wanted = match &args.private_port {
        Some(spec) => {
            let (port, protocol) = spec.split_once('/').unwrap_or((spec, "tcp"));
            let port: u16 = port.parse().map_err(|_| anyhow::anyhow!("invalid port {spec:?}; hint: PORT or PORT/udp, e.g. 80/tcp"))?;
            Some((port, protocol.to_string()))
        }
        None => None,
    };
    let mut found = false;
    for p in &state.ports {
        let host = match p.host_ip {
            Some(std::net::IpAddr::V6(ip)) => format!("[{ip}]:{}", p.host_port.unwrap_or(0)),
            Some(ip) => format!("{ip}:{}", p.host_port.unwrap_or(0)),
            None => format!("0.0.0.0:{}", p.host_port.unwrap_or(0)),
        };
        match &wanted {
            Some((port, protocol)) if *port == p.container_port && protocol == proto(p.protocol) => printer.result(host),
            Some(_) => continue,
            None => printer.result(format!("{}/{} -> {host}", p.container_port, proto(p.protocol))),
        }
        found = true;
    }
    if !found && let Some((port, protocol)) = wanted {
        anyhow::bail!("no public port '{port}/{protocol}' published for {}", record.name);
    }
    Ok(0)
}
