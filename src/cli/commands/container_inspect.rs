use crate::cli::args::ContainerInspectArgs;
use crate::cli::context::Context;
use crate::net::network::NetworkMode;
use crate::runtime::logs::LogOptions;
use serde_json::json;

pub fn run(ctx: &Context, args: ContainerInspectArgs) -> anyhow::Result<i32> {
    let printer = ctx.printer(false);
    let containers = ctx.containers()?;
    let mut out = Vec::new();
    let mut failed = 0;
    for name in &args.containers {
        match containers.find(name) {
            Ok(r) => {
                let state = containers.state(&r.id);
                out.push(json!({
                    "Id": r.id,
                    "Name": r.name,
                    "Image": r.image_id.to_string(),
                    "ImageName": r.image,
                    "Created": r.created,
                    "State": {
                        "Status": containers.observe(&r.id).to_string(),
                        "Pid": state.pid,
                        "ExitCode": state.exit_code,
                        "StartedAt": state.started_at,
                        "FinishedAt": state.finished_at,
                        "Error": state.error,
                    },
                    "Config": {
                        "Cmd": r.spec.process.args,
                        "Env": r.spec.process.env,
                        "WorkingDir": r.spec.process.cwd,
                        "User": format!("{}:{}", r.spec.process.uid, r.spec.process.gid),
                        "Hostname": r.spec.hostname,
                        "StopSignal": r.stop_signal,
                        "StopTimeout": r.stop_timeout,
                        "Labels": r.labels,
                    },
                    "Mounts": mounts(&containers.volumes(), &r.spec.mounts),
                    "HostConfig": {
                        "NetworkMode": network_mode(&r.network),
                        "PortBindings": r.ports.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
                        "LogConfig": log_config(&r.log),
                    },
                    "NetworkSettings": {
                        "Ports": state.ports.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
                        "Networks": state.networks.iter().map(|a| (a.network.clone(), json!({
                            "IPAddress": a.ip, "IPPrefixLen": a.prefix, "Gateway": a.gateway, "Interface": a.interface,
                            "GlobalIPv6Address": a.ip6.map(|ip| ip.to_string()).unwrap_or_default(),
                            "GlobalIPv6PrefixLen": a.prefix6,
                            "IPv6Gateway": a.gateway6.map(|ip| ip.to_string()).unwrap_or_default(),
                            "MacAddress": crate::net::connect::container_mac_text(a.ip),
                            "Aliases": match &r.network {
                                NetworkMode::Bridge(reqs) => reqs.iter().find(|q| q.name == a.network).map(|q| q.aliases.clone()).unwrap_or_default(),
                                _ => Vec::new(),
                            },
                        }))).collect::<serde_json::Map<_, _>>(),
                    },
                    "LogPath": containers.log_path(&r.id),
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

/// docker's `Mounts`: each with its type (`bind`, `volume` with the volume's name, `tmpfs`).
fn mounts(volumes: &crate::runtime::volumes::Volumes, mounts: &[crate::runtime::spec::Mount]) -> Vec<serde_json::Value> {
    use crate::runtime::spec::MountKind;
    mounts
        .iter()
        .map(|m| {
            let mut out = match &m.kind {
                MountKind::Bind { source } => match volumes.owning(std::path::Path::new(source)) {
                    Some(name) => json!({"Type": "volume", "Name": name, "Source": source, "Driver": "local"}),
                    None => json!({"Type": "bind", "Source": source, "Propagation": "rprivate"}),
                },
                MountKind::Tmpfs { .. } => json!({"Type": "tmpfs", "Source": ""}),
            };
            out["Destination"] = json!(m.destination);
            out["Mode"] = json!(if m.read_only { "ro" } else { "" });
            out["RW"] = json!(!m.read_only);
            out
        })
        .collect()
}

/// docker's `HostConfig.LogConfig`: the driver and the options in force (sizes in bytes).
fn log_config(log: &LogOptions) -> serde_json::Value {
    let mut config = serde_json::Map::new();
    if let Some(size) = log.max_size {
        config.insert("max-size".into(), json!(size.to_string()));
        config.insert("max-file".into(), json!(log.max_file.to_string()));
    }
    json!({ "Type": "json-file", "Config": config })
}

fn network_mode(mode: &NetworkMode) -> String {
    match mode {
        NetworkMode::Bridge(reqs) => reqs.iter().map(|r| r.name.as_str()).collect::<Vec<_>>().join(","),
        NetworkMode::None => "none".into(),
        NetworkMode::Host => "host".into(),
        NetworkMode::Container(c) => format!("container:{c}"),
    }
}
