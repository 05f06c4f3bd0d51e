//! `rde create|start|stop|restart|kill|rm|pull`: the project's containers,
//! service by service, in dependency order (stop: the reverse).

use crate::cli::compose_args::{CreateArgs, ProjectKillArgs, ProjectPullArgs, ProjectRmArgs, ServicesTimeoutArgs, StartArgs};
use crate::cli::context::Context;
use crate::project::BuildPolicy;
use crate::project::{Converge, PullPolicy, order};
use crate::runtime::lifecycle;
use crate::runtime::state::Observed;

pub fn create(ctx: &Context, args: CreateArgs) -> anyhow::Result<i32> {
    let mut session = ctx.session(&args.services, true)?;
    if args.locked {
        session.require_lock(&[])?;
    }
    let chosen = order::selection(&session.project.services, &args.services, false);
    let how = Converge { force_recreate: args.force_recreate, no_recreate: args.no_recreate, no_start: true, pull: args.pull.parse()?, ..Default::default() };
    session.up(&chosen, &how, false)?;
    Ok(0)
}

pub fn start(ctx: &Context, args: StartArgs) -> anyhow::Result<i32> {
    let session = ctx.existing_session(&args.services, true)?;
    let records = session.selected(&args.services, false)?;
    anyhow::ensure!(!records.is_empty(), "no containers to start; hint: `rde up -d` creates and starts them");
    let mut failed = 0;
    for r in &records {
        if matches!(session.containers.observe(&r.id), Observed::Running | Observed::Restarting(_)) {
            continue;
        }
        match lifecycle::start(&session.containers, r, &ctx.paths, false, None) {
            Ok(_) => session.printer.step("Container", &r.name, "Started"),
            Err(e) => {
                session.printer.error(format!("start {}: {e}", r.name));
                failed += 1;
            }
        }
    }
    if failed == 0 && args.wait {
        super::up::wait_ready(&session, &records, args.wait_timeout)?;
    }
    Ok(if failed == 0 { 0 } else { 1 })
}

pub fn stop(ctx: &Context, args: ServicesTimeoutArgs) -> anyhow::Result<i32> {
    let session = ctx.existing_session(&args.services, true)?;
    let records = session.selected(&args.services, false)?;
    let errors = session.stop_all(&records, args.timeout);
    errors.iter().for_each(|e| session.printer.error(e));
    Ok(if errors.is_empty() { 0 } else { 1 })
}

pub fn restart(ctx: &Context, args: ServicesTimeoutArgs) -> anyhow::Result<i32> {
    let code = stop(ctx, ServicesTimeoutArgs { services: args.services.clone(), timeout: args.timeout })?;
    Ok(code.max(start(ctx, StartArgs { services: args.services, wait: false, wait_timeout: None })?))
}

pub fn kill(ctx: &Context, args: ProjectKillArgs) -> anyhow::Result<i32> {
    let session = ctx.existing_session(&args.services, true)?;
    let signal = lifecycle::parse_signal(&args.signal)?;
    let mut failed = 0;
    for r in session.selected(&args.services, false)? {
        if !matches!(session.containers.observe(&r.id), Observed::Running) {
            continue;
        }
        match lifecycle::kill(&session.containers, &r, signal) {
            Ok(()) => session.printer.step("Container", &r.name, "Killed"),
            Err(e) => {
                session.printer.error(format!("kill {}: {e}", r.name));
                failed += 1;
            }
        }
    }
    Ok(if failed == 0 { 0 } else { 1 })
}

/// Removes stopped containers (`-s` stops running ones first).
pub fn rm(ctx: &Context, args: ProjectRmArgs) -> anyhow::Result<i32> {
    let session = ctx.existing_session(&args.services, true)?;
    let records = session.selected(&args.services, false)?;
    let mut errors = if args.stop { session.stop_all(&records, None) } else { Vec::new() };
    for r in &records {
        if matches!(session.containers.observe(&r.id), Observed::Running | Observed::Restarting(_)) {
            continue;
        }
        match lifecycle::remove(&session.containers, r, false, &ctx.paths) {
            Ok(()) => session.printer.step("Container", &r.name, "Removed"),
            Err(e) => errors.push(format!("remove {}: {e}", r.name)),
        }
        if args.volumes {
            let service = crate::project::names::service_of(r);
            if let Some(s) = session.project.services.get(service) {
                for v in s.volumes.iter().filter(|v| v.source.is_none() && v.kind == crate::compose::MountType::Volume) {
                    let _ = session.containers.volumes().remove(&crate::project::names::anonymous_volume(&session.project.name, service, &v.target));
                }
            }
        }
    }
    errors.iter().for_each(|e| session.printer.error(e));
    Ok(if errors.is_empty() { 0 } else { 1 })
}

pub fn pull(ctx: &Context, args: ProjectPullArgs) -> anyhow::Result<i32> {
    let mut session = ctx.session(&args.services, false)?;
    if args.locked {
        session.require_lock(&[])?;
    }
    if args.quiet {
        session.printer = ctx.printer(true);
    }
    let services: Vec<String> = if args.services.is_empty() { session.project.services.keys().cloned().collect() } else { args.services.clone() };
    // Images the project builds are not pulled (docker compose skips them too).
    let with_image: Vec<String> =
        services.into_iter().filter(|s| session.project.services[s].image.is_some() && session.project.services[s].build.is_none()).collect();
    session.images(&with_image, PullPolicy::Always, BuildPolicy::Never, &Default::default())?;
    Ok(0)
}
