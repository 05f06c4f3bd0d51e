//! `rde up`: bring the project to what the compose file says, then (in the
//! foreground) follow every container's log until they exit or Ctrl-C stops
//! them (a second Ctrl-C kills).

use crate::cli::compose_args::UpArgs;
use crate::cli::context::Context;
use crate::cli::logmux::LogMux;
use crate::project::BuildPolicy;
use crate::project::{Converge, Session, names, order, wait};
use crate::runtime::lifecycle;
use crate::runtime::state::{ContainerRecord, Observed};
use crate::signals;
use std::collections::HashMap;
use std::time::Duration;

pub fn run(ctx: &Context, args: UpArgs) -> anyhow::Result<i32> {
    let mut session = ctx.session(&args.services, true)?;
    if args.locked {
        session.require_lock(&[])?;
    }
    let chosen = order::selection(&session.project.services, &args.services, args.no_deps);
    let how = Converge {
        force_recreate: args.force_recreate,
        no_recreate: args.no_recreate,
        renew_anon_volumes: args.renew_anon_volumes,
        no_start: args.no_start,
        scale: parse_scale(&args.scale)?,
        pull: args.pull.parse()?,
        build: if args.build {
            BuildPolicy::Always
        } else if args.no_build {
            BuildPolicy::Never
        } else {
            BuildPolicy::Missing
        },
        build_flags: Default::default(),
        stop_timeout: args.timeout,
    };
    let records = session.up(&chosen, &how, args.remove_orphans)?;
    if args.no_start {
        return Ok(0);
    }
    if args.wait {
        wait_ready(&session, &records, args.wait_timeout)?;
    }
    if args.detach || args.wait {
        return Ok(0);
    }
    session.unlock();
    follow(&session, &records, &args)
}

/// `--wait`: until each container runs, and is healthy when it has a healthcheck
/// (at most `timeout` seconds in all).
pub(super) fn wait_ready(session: &Session, records: &[ContainerRecord], timeout: Option<u64>) -> anyhow::Result<()> {
    let limit = seconds(timeout);
    for r in records {
        let condition = if r.healthcheck.is_some() { wait::Condition::Healthy } else { wait::Condition::Running };
        wait::wait_for(&session.containers, names::service_of(r), &[r], condition, limit)?;
        session.printer.step("Container", &r.name, if condition == wait::Condition::Healthy { "Healthy" } else { "Running" });
    }
    Ok(())
}

/// The foreground: logs with prefixes until the containers exit, or Ctrl-C.
fn follow(session: &Session, records: &[ContainerRecord], args: &UpArgs) -> anyhow::Result<i32> {
    // The steps' block stays as it is; the logs take the terminal from here.
    crate::output::finish_steps();
    let printer = &session.printer;
    for service in args.attach.iter().chain(&args.no_attach) {
        session.service(service)?;
    }
    let attached: Vec<ContainerRecord> = records
        .iter()
        .filter(|r| {
            let service = names::service_of(r).to_string();
            (args.attach.is_empty() || args.attach.contains(&service)) && !args.no_attach.contains(&service)
        })
        .cloned()
        .collect();
    let mut mux = LogMux::open(&session.containers, &session.project.name, &attached, !args.no_log_prefix, printer.color() && !args.no_color, args.timestamps)?;
    let lines = mux.tail(None);
    mux.print(&lines);
    signals::catch_forwardable();
    let abort = args.abort_on_container_exit || args.exit_code_from.is_some();
    let mut interrupted = 0;
    let mut exit_code = 0;
    let mut reported: Vec<String> = Vec::new();
    std::thread::scope(|scope| {
        let mut stopper: Option<std::thread::ScopedJoinHandle<'_, Vec<String>>> = None;
        loop {
            mux.print_available();
            if signals::take_pending().is_some() {
                interrupted += 1;
                if interrupted == 1 {
                    printer.notice("Gracefully stopping... (press Ctrl+C again to force)");
                    stopper = Some(scope.spawn(|| session.stop_all(records, args.timeout)));
                    exit_code = 130;
                } else {
                    // Kill now; the stopping thread sees them gone.
                    for r in records {
                        let _ = lifecycle::kill(&session.containers, r, nix::sys::signal::Signal::SIGKILL);
                    }
                }
            }
            let states: Vec<Observed> = records.iter().map(|r| session.containers.observe(&r.id)).collect();
            // As docker compose: say when an attached container exits.
            for (r, s) in records.iter().zip(&states) {
                if let Observed::Exited(code) = s
                    && !reported.contains(&r.id)
                    && attached.iter().any(|a| a.id == r.id)
                {
                    mux.print_available();
                    let label = r.name.strip_prefix(&format!("{}-", session.project.name)).unwrap_or(&r.name);
                    printer.result(format!("{label} exited with code {code}"));
                    reported.push(r.id.clone());
                }
            }
            let exited = records.iter().zip(&states).find_map(|(r, s)| match s {
                Observed::Exited(code) => Some((r, *code)),
                _ => None,
            });
            if abort
                && stopper.is_none()
                && let Some((r, code)) = exited
            {
                printer.notice(format!("{} exited with code {code}; aborting on container exit...", r.name));
                exit_code = code;
                stopper = Some(scope.spawn(|| session.stop_all(records, args.timeout)));
            }
            if !states.iter().any(|s| matches!(s, Observed::Running | Observed::Restarting(_) | Observed::Created)) {
                mux.print_available();
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if let Some(errors) = stopper.and_then(|s| s.join().ok()) {
            errors.iter().for_each(|e| printer.error(e));
        }
    });
    if let Some(service) = &args.exit_code_from {
        let code = records.iter().find(|r| names::service_of(r) == service).map(|r| session.containers.state(&r.id).exit_code.unwrap_or(0));
        return Ok(code.unwrap_or(exit_code));
    }
    Ok(exit_code)
}

/// `--scale web=3` flags.
fn parse_scale(flags: &[String]) -> anyhow::Result<HashMap<String, u32>> {
    flags
        .iter()
        .map(|f| {
            let (name, n) = f.split_once('=').ok_or_else(|| anyhow::anyhow!("invalid --scale {f:?}; hint: SERVICE=NUMBER"))?;
            Ok((name.to_string(), n.parse().map_err(|_| anyhow::anyhow!("invalid --scale {f:?}; hint: SERVICE=NUMBER"))?))
        })
        .collect()
}

/// How long a wait may take, from `--wait-timeout`.
fn seconds(n: Option<u64>) -> Option<Duration> {
    n.map(Duration::from_secs)
}
