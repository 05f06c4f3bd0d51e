use crate::cli::args::RunArgs;
use crate::cli::context::Context;
use crate::image::lookup;
use crate::image::platform::Platform;
use crate::image::pull::{self, PullOptions};
use crate::image::reference::Reference;
use crate::net::network::{DEFAULT_NETWORK, NetworkMode, NetworkRequest, Networks};
use crate::runtime::create::{self, CreateOptions};
use crate::runtime::foreground::Attach;
use crate::runtime::logs::LogOptions;
use std::io::IsTerminal;

pub fn run(ctx: &Context, args: RunArgs) -> anyhow::Result<i32> {
    let printer = ctx.printer(false);
    // Before pulling anything: a name that cannot be used fails at once.
    if let Some(name) = &args.name {
        crate::names::validate(crate::names::NameKind::Container, name)?;
    }
    for spec in &args.volume {
        create::check_volume(spec)?;
    }
    // Detached, the shim holds the terminal (its output goes to the log).
    let tty = args.tty && (args.detach || std::io::stdin().is_terminal());
    if args.tty && !tty {
        printer.warn("the input device is not a TTY; running without a terminal");
    }
    let (log, not_applied) = LogOptions::from_flags(&args.log_opt)?;
    if !not_applied.is_empty() {
        printer.warn(format!("rde does not apply --log-opt {} yet; ignored", not_applied.join(", ")));
    }
    let store = ctx.store()?;
    let containers = ctx.containers()?;
    let image = match lookup::find(&store, &args.image) {
        Ok((image, _)) => image,
        Err(lookup::LookupError::NotFound(_)) => {
            // As docker: pull what is missing, with progress on stderr.
            let reference: Reference = args.image.parse()?;
            let platform = args.platform.as_deref().map(str::parse::<Platform>).transpose()?;
            printer.notice(format!("Unable to find image '{}' locally", reference.familiar()));
            pull::pull(&ctx.registry()?, &store, &reference, &PullOptions { platform }, &ctx.printer(true))?;
            lookup::find(&store, &args.image)?.0
        }
        Err(e) => return Err(e.into()),
    };
    let opts = CreateOptions {
        name: args.name.clone(),
        command: args.command.clone(),
        entrypoint: args.entrypoint.as_ref().map(|e| if e.is_empty() { Vec::new() } else { vec![e.clone()] }),
        env: args.env.clone(),
        env_files: args.env_file.clone(),
        volumes: args.volume.clone(),
        tmpfs: args.tmpfs.clone(),
        workdir: args.workdir.clone(),
        user: args.user.clone(),
        hostname: args.hostname.clone(),
        read_only: args.read_only,
        cap_add: args.cap_add.clone(),
        cap_drop: args.cap_drop.clone(),
        security_opt: args.security_opt.clone(),
        memory: args.memory.as_deref().map(create::parse_bytes).transpose()?,
        cpus: args.cpus,
        pids_limit: args.pids_limit,
        stop_signal: args.stop_signal.clone(),
        stop_timeout: args.stop_timeout,
        auto_remove: args.rm,
        init: args.init,
        interactive: args.interactive,
        tty,
        network: network_mode(ctx, &args)?,
        ports: args.publish.iter().map(|p| crate::net::ports::parse(p)).collect::<Result<Vec<_>, _>>()?.concat(),
        publish_all: args.publish_all,
        restart: args.restart.as_deref().unwrap_or("no").parse()?,
        labels: args.label.iter().map(|l| l.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())).unwrap_or((l.clone(), String::new()))).collect(),
        healthcheck: args.health_cmd.as_ref().and_then(|cmd| {
            crate::runtime::health::HealthConfig::from_test(
                &["CMD-SHELL".into(), cmd.clone()],
                args.health_interval.map(std::time::Duration::from_secs_f64),
                args.health_timeout.map(std::time::Duration::from_secs_f64),
                args.health_start_period.map(std::time::Duration::from_secs_f64),
                args.health_retries,
            )
        }),
        log,
        extra_hosts: args.add_host.iter().map(|h| parse_add_host(h)).collect::<Result<_, _>>()?,
        dns: crate::net::resolv::DnsConfig { servers: args.dns.clone(), search: args.dns_search.clone(), options: args.dns_option.clone() },
        ..Default::default()
    };
    for option in crate::runtime::security_opt::not_applied(&opts.security_opt) {
        printer.warn(format!("--security-opt {option} is not applied by rde; ignored"));
    }
    if ctx.paths.rootless && (opts.memory.is_some() || opts.cpus.is_some() || opts.pids_limit.is_some()) {
        printer.warn("resource limits are not enforced rootless on this host (the user may not create cgroups)");
    }
    let record = create::create(&store, &containers, &args.image, &image, &opts)?;
    super::start_attached(ctx, &containers, &record, Attach { detach: args.detach, interactive: args.interactive, tty, remove_on_failure: args.rm })
}

/// `--network`, `--network-alias`, `--ip`: checked now, so a typo fails before anything is made.
fn network_mode(ctx: &Context, args: &RunArgs) -> anyhow::Result<NetworkMode> {
    let names: Vec<&str> = if args.network.is_empty() { vec![DEFAULT_NETWORK] } else { args.network.iter().map(String::as_str).collect() };
    let single = |mode: NetworkMode| -> anyhow::Result<NetworkMode> {
        if names.len() > 1 {
            anyhow::bail!("--network {} cannot be combined with other networks", names[0]);
        }
        if !args.network_alias.is_empty() || args.ip.is_some() {
            anyhow::bail!("--network-alias and --ip need a bridge network; hint: `rde network create NAME`, then --network NAME");
        }
        Ok(mode)
    };
    match names[0] {
        "none" => return single(NetworkMode::None),
        "host" => return single(NetworkMode::Host),
        n if n.starts_with("container:") => return single(NetworkMode::Container(n["container:".len()..].to_string())),
        _ => {}
    }
    let networks = Networks::open(&ctx.paths)?;
    let _lock = networks.lock()?;
    let mut requests = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let network = networks.get(name)?;
        requests.push(NetworkRequest {
            name: network.name,
            aliases: if i == 0 { args.network_alias.clone() } else { Vec::new() },
            ip: if i == 0 { args.ip } else { None },
            ip6: if i == 0 { args.ip6 } else { None },
        });
    }
    Ok(NetworkMode::Bridge(requests))
}

/// `--add-host HOST:IP` (docker also takes `HOST=IP`; an IPv6 address keeps its colons).
fn parse_add_host(spec: &str) -> anyhow::Result<(String, String)> {
    let split = spec.split_once('=').or_else(|| spec.split_once(':'));
    match split {
        Some((host, ip)) if !host.is_empty() && (ip == "host-gateway" || ip.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok()) => {
            Ok((host.to_string(), ip.trim_matches(['[', ']']).to_string()))
        }
        _ => anyhow::bail!("invalid --add-host {spec:?}; hint: use HOST:IP, e.g. db.local:10.0.0.5 or host.docker.internal:host-gateway"),
    }
}
