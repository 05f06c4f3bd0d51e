pub mod build;
pub mod builder_prune;
pub mod config;
pub mod container_exec;
pub mod container_inspect;
pub mod container_kill;
pub mod container_logs;
pub mod container_ls;
pub mod container_port;
pub mod container_rm;
pub mod container_run;
pub mod container_start;
pub mod container_stop;
pub mod cp;
pub mod down;
pub mod events;
pub mod exec;
pub mod image_archive;
pub mod image_build;
pub mod image_inspect;
pub mod image_ls;
pub mod image_pull;
pub mod image_push;
pub mod image_rm;
pub mod image_tag;
pub mod lock;
pub mod login;
pub mod logout;
pub mod logs;
pub mod network_create;
pub mod network_inspect;
pub mod network_ls;
pub mod network_rm;
pub mod pause;
pub mod project_info;
pub mod project_lifecycle;
pub mod project_ls;
pub mod ps;
pub mod run;
pub mod stats;
pub mod system_df;
pub mod system_info;
pub mod system_prune;
pub mod up;
pub mod version;
pub mod volume;
pub mod wait;

use crate::cli::context::Context;
use crate::runtime::exec::ExecOptions;
use crate::runtime::foreground::{self, Attach, ForegroundError};
use crate::runtime::state::{ContainerRecord, Containers};

/// A container as the list commands show it: docker's status text (`Up 5 minutes (healthy)`,
/// `Up 2 seconds (Paused)`, `Exited (0) 3 minutes ago`), its state word (`running`, `paused`,
/// `exited`, ...) and its published ports.
struct Described {
    observed: crate::runtime::state::Observed,
    state: crate::runtime::state::ContainerState,
    status: String,
    word: &'static str,
    ports: String,
}

fn describe(containers: &Containers, record: &ContainerRecord) -> Described {
    use crate::runtime::state::Observed;
    let observed = containers.observe(&record.id);
    let state = containers.state(&record.id);
    let paused = observed == Observed::Running && crate::runtime::pause::is_paused(record);
    let status = match observed {
        Observed::Running => {
            let up = crate::output::human_duration(std::time::Duration::from_secs(crate::time::now_unix().saturating_sub(state.started_at.unwrap_or(0))));
            match (&state.health, paused) {
                (_, true) => format!("Up {up} (Paused)"),
                (Some(h), _) if h.status == crate::runtime::health::HealthStatus::Starting => format!("Up {up} (health: starting)"),
                (Some(h), _) => format!("Up {up} ({})", h.status),
                (None, _) => format!("Up {up}"),
            }
        }
        Observed::Exited(code) => format!("Exited ({code}) {}", state.finished_at.map_or(String::new(), |t| crate::output::human_ago(t as i64))),
        Observed::Restarting(code) => format!("Restarting ({code})"),
        Observed::Created => "Created".into(),
        Observed::Unknown => "Unknown (supervisor gone)".into(),
    };
    let word = match observed {
        Observed::Running if paused => "paused",
        Observed::Running => "running",
        Observed::Exited(_) => "exited",
        Observed::Restarting(_) => "restarting",
        Observed::Created => "created",
        Observed::Unknown => "unknown",
    };
    let ports = if observed == Observed::Running { state.ports.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", ") } else { String::new() };
    Described { observed, state, status, word, ports }
}

/// `KEY=VALUE` flags (`--label`, `--opt`) as a map; a bare `KEY` has an empty value.
fn key_values(list: &[String], flag: &str) -> anyhow::Result<std::collections::BTreeMap<String, String>> {
    list.iter()
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            anyhow::ensure!(!k.is_empty(), "invalid {flag} {kv:?}; hint: KEY=VALUE");
            Ok((k.to_string(), v.to_string()))
        })
        .collect()
}

/// Asks "Are you sure?" on a terminal unless `force`; without a terminal, `force` is required.
fn confirm(warning: &str, force: bool) -> anyhow::Result<bool> {
    use std::io::{BufRead, IsTerminal, Write};
    if force {
        return Ok(true);
    }
    anyhow::ensure!(std::io::stdin().is_terminal(), "{warning} hint: add --force to confirm without a terminal");
    eprint!("WARNING! {warning}\nAre you sure you want to continue? [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// Apply `action` to each named container, printing the name on success and
/// every error, going on after a failure (docker's stop/kill/rm); exit 1 if any failed.
fn each_container(ctx: &Context, names: &[String], action: impl Fn(&Containers, &ContainerRecord) -> anyhow::Result<()>) -> anyhow::Result<i32> {
    let printer = ctx.printer(false);
    let containers = ctx.containers()?;
    let mut failed = 0;
    for name in names {
        match containers.find(name).map_err(anyhow::Error::from).and_then(|record| action(&containers, &record)) {
            Ok(()) => printer.result(name),
            Err(e) => {
                printer.error(format!("{e:#}"));
                failed += 1;
            }
        }
    }
    Ok(if failed == 0 { 0 } else { 1 })
}

/// `exec` in the foreground (`runtime::foreground`): the process's exit code, or
/// when it could not start, the error printed and docker's exit code for it.
fn exec_foreground(ctx: &Context, containers: &Containers, record: &ContainerRecord, opts: &ExecOptions) -> anyhow::Result<i32> {
    match foreground::exec(containers, record, opts, &ctx.paths) {
        Ok(code) => Ok(code),
        Err(ForegroundError::Spawn(e)) => {
            ctx.printer(false).error(e.to_string());
            Ok(e.exit_code())
        }
        Err(e) => Err(e.into()),
    }
}

/// `run` in the foreground or detached (`runtime::foreground::run`): the
/// container's exit code; detached, its id printed; when it could not start,
/// the error printed and docker's exit code for it.
fn start_attached(ctx: &Context, containers: &Containers, record: &ContainerRecord, how: Attach) -> anyhow::Result<i32> {
    match foreground::run(containers, record, &ctx.paths, how) {
        Ok(Some(code)) => Ok(code),
        Ok(None) => {
            ctx.printer(false).result(&record.id);
            Ok(0)
        }
        Err(ForegroundError::Start(e)) => {
            ctx.printer(false).error(e.to_string());
            Ok(e.exit_code())
        }
        Err(e) => Err(e.into()),
    }
}
