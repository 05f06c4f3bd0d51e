//! `rde run SERVICE [CMD]`: a one-off container of a service (its dependencies
//! started first, unless `--no-deps`), attached to our terminal; no published
//! ports unless `--service-ports`.

use crate::cli::compose_args::ProjectRunArgs;
use crate::cli::context::Context;
use crate::project::Converge;
use crate::project::{names, order, plan::Plan};
use crate::runtime::create;
use std::io::IsTerminal;

pub fn run(ctx: &Context, args: ProjectRunArgs) -> anyhow::Result<i32> {
    // Before dependencies start: a name or volume that cannot be used fails at once.
    if let Some(name) = &args.name {
        crate::names::validate(crate::names::NameKind::Container, name)?;
    }
    for spec in &args.volume {
        create::check_volume(spec)?;
    }
    let ports = args.publish.iter().map(|p| crate::net::ports::parse(p)).collect::<Result<Vec<_>, _>>()?.concat();
    let build = if args.build { crate::project::build::BuildPolicy::Always } else { crate::project::build::BuildPolicy::Missing };
    let pull: crate::project::session::PullPolicy = args.pull.parse()?;
    let mut session = ctx.session(std::slice::from_ref(&args.service), true)?;
    if args.locked {
        session.require_lock(&[])?;
    }
    let service = session.service(&args.service)?.clone();
    if !args.no_deps {
        let mut deps = order::selection(&session.project.services, std::slice::from_ref(&args.service), false);
        deps.retain(|d| *d != args.service);
        if !deps.is_empty() {
            session.converge(&deps, &Converge::default())?;
        }
    }
    session.handle_orphans(args.remove_orphans, None)?;
    let images = session.images(std::slice::from_ref(&args.service), pull, build, &Default::default())?;
    session.ensure_networks(std::slice::from_ref(&args.service))?;
    session.ensure_volumes(std::slice::from_ref(&args.service))?;
    let image = &images[&args.service];
    let hash = names::config_hash(&service, &image.id.to_string());
    let mut opts = Plan { project: &session.project, service: &service, number: 1, hash: &hash, oneoff: true }.options()?;
    if args.service_ports {
        opts.ports = Plan { project: &session.project, service: &service, number: 1, hash: &hash, oneoff: false }.options()?.ports;
    }
    if !args.command.is_empty() {
        opts.command = args.command.clone();
    }
    if let Some(e) = &args.entrypoint {
        opts.entrypoint = Some(if e.is_empty() { Vec::new() } else { vec![e.clone()] });
    }
    // Read as compose reads env files: quotes, `export`, ${VAR} from our environment.
    for file in &args.env_from_file {
        let vars = crate::compose::dotenv::read(file, &|k| std::env::var(k).ok())?;
        opts.env.extend(vars.into_iter().map(|(k, v)| format!("{k}={v}")));
    }
    opts.env.extend(args.env.iter().cloned());
    opts.ports.extend(ports);
    opts.cap_add.extend(args.cap_add.iter().cloned());
    opts.cap_drop.extend(args.cap_drop.iter().cloned());
    opts.labels.extend(super::key_values(&args.label, "--label")?);
    // One-off containers are not the service on its networks (no name, no fixed address)
    // unless --use-aliases, as docker compose's.
    if let crate::net::network::NetworkMode::Bridge(requests) = &mut opts.network {
        for r in requests {
            if !args.use_aliases {
                r.aliases.clear();
            }
            (r.ip, r.ip6) = (None, None);
        }
    }
    opts.volumes.extend(args.volume.iter().cloned());
    opts.user = args.user.clone().or(opts.user);
    opts.workdir = args.workdir.clone().or(opts.workdir);
    if let Some(name) = &args.name {
        opts.name = Some(name.clone());
    }
    let terminal = std::io::stdin().is_terminal();
    // docker compose run: a terminal whenever stdin is one, unless -T or -d.
    opts.tty = !args.no_tty && !args.detach && terminal;
    opts.interactive = !args.detach;
    opts.auto_remove = args.rm;
    let store = ctx.store()?;
    let record = create::create(&store, &session.containers, service.image.as_deref().unwrap_or_default(), image, &opts)?;
    session.unlock();
    let how = crate::runtime::foreground::Attach { detach: args.detach, interactive: opts.interactive, tty: opts.tty, remove_on_failure: args.rm };
    super::start_attached(ctx, &session.containers, &record, how)
}
