//! `rde wait` (compose's: the services' containers) and `rde container wait`: block until the
//! containers stop, print each one's exit code; and `attach`: a running container's output from
//! now on, Ctrl-C passed to it, until it stops (its exit code).

use crate::cli::compose_args::{AttachArgs, WaitArgs};
use crate::cli::context::Context;
use crate::runtime::logs::LogReader;
use crate::runtime::state::{ContainerRecord, Containers, Observed};
use std::time::Duration;

/// Until the container is no longer running (or restarting); its exit code.
fn wait_exit(containers: &Containers, record: &ContainerRecord) -> i32 {
    loop {
        match containers.observe(&record.id) {
            Observed::Running | Observed::Restarting(_) => std::thread::sleep(Duration::from_millis(50)),
            Observed::Exited(code) => return code,
            Observed::Created | Observed::Unknown => return containers.state(&record.id).exit_code.unwrap_or(0),
        }
    }
}

pub fn containers(ctx: &Context, names: Vec<String>) -> anyhow::Result<i32> {
    let containers = ctx.containers()?;
    let records = names.iter().map(|n| containers.find(n)).collect::<Result<Vec<_>, _>>()?;
    for r in &records {
        ctx.printer(false).result(wait_exit(&containers, r).to_string());
    }
    Ok(0)
}

pub fn services(ctx: &Context, args: WaitArgs) -> anyhow::Result<i32> {
    let session = ctx.existing_session(&args.services, false)?;
    let records = session.selected(&args.services, false)?;
    anyhow::ensure!(!records.is_empty(), "no containers to wait for; hint: `rde up -d` starts them");
    // The first to stop ends the wait with --down-project; else all of them.
    let mut first = None;
    let mut codes = vec![None; records.len()];
    while codes.iter().any(Option::is_none) && !(args.down_project && first.is_some()) {
        for (r, code) in records.iter().zip(codes.iter_mut()).filter(|(_, c)| c.is_none()) {
            if !matches!(session.containers.observe(&r.id), Observed::Running | Observed::Restarting(_)) {
                *code = Some(wait_exit(&session.containers, r));
                first.get_or_insert(*code);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    for (r, code) in records.iter().zip(&codes) {
        if let Some(code) = code {
            session.printer.result(format!("{} exited with code {code}", r.name));
        }
    }
    // --down-project: the whole project goes, as `down` takes it.
    if args.down_project {
        drop(session);
        let session = ctx.existing_session(&[], true)?;
        let errors = session.take_down(&session.existing(true)?, None)?;
        errors.iter().for_each(|e| session.printer.error(e));
    }
    Ok(first.flatten().unwrap_or(0))
}

/// `rde attach SERVICE` (a replica's container; a container's name works too).
pub fn attach_service(ctx: &Context, args: AttachArgs) -> anyhow::Result<i32> {
    let name = match ctx.existing_session(&[], false) {
        Ok(session) if session.project.services.contains_key(&args.name) => session.container(&args.name, args.index)?.name,
        _ => args.name.clone(),
    };
    attach(ctx, &name, args.sig_proxy)
}

/// The container's output as it comes (not what it wrote before), our Ctrl-C passed on, until it stops.
pub fn attach(ctx: &Context, name: &str, sig_proxy: bool) -> anyhow::Result<i32> {
    let containers = ctx.containers()?;
    let record = containers.find(name)?;
    anyhow::ensure!(
        matches!(containers.observe(&record.id), Observed::Running | Observed::Restarting(_)),
        "container {} is not running; hint: `rde start` it first",
        record.name
    );
    let mut log = LogReader::open(&containers.log_path(&record.id))?;
    log.read_available();
    crate::signals::catch_forwardable();
    loop {
        let running = matches!(containers.observe(&record.id), Observed::Running | Observed::Restarting(_));
        crate::runtime::foreground::copy_out(&mut log);
        if !running {
            return Ok(wait_exit(&containers, &record));
        }
        if let Some(signal) = crate::signals::take_pending() {
            if !sig_proxy {
                return Ok(0);
            }
            if let Ok(signal) = nix::sys::signal::Signal::try_from(signal) {
                let _ = crate::runtime::lifecycle::kill(&containers, &record, signal);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
