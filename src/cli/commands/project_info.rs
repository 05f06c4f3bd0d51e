//! `rde port|top|images`: facts about the project's containers.

use crate::cli::compose_args::{ProjectImagesArgs, ProjectPortArgs, ServicesArgs};
use crate::cli::context::Context;
use crate::runtime::state::Observed;

/// `rde port web 8000`: the host address its port is published on.
pub fn port(ctx: &Context, args: ProjectPortArgs) -> anyhow::Result<i32> {
    let session = ctx.session(&[], false)?;
    let record = session.container(&args.service, args.index)?;
    let state = session.containers.state(&record.id);
    let protocol = args.protocol.as_str();
    let found = state
        .ports
        .iter()
        .find(|p| p.container_port == args.private_port && (if p.protocol == crate::net::ports::Protocol::Udp { "udp" } else { "tcp" }) == protocol);
    match found {
        Some(p) => {
            let ip = p.host_ip.map(|ip| ip.to_string()).unwrap_or_else(|| "0.0.0.0".into());
            session.printer.result(format!("{ip}:{}", p.host_port.unwrap_or(0)));
            Ok(0)
        }
        None => anyhow::bail!("no port {}/{protocol} published for service {}", args.private_port, args.service),
    }
}

/// `rde top`: the processes of each running container (those in its PID namespace),
/// in `ps -ef`'s columns as `docker compose top` prints them.
pub fn top(ctx: &Context, args: ServicesArgs) -> anyhow::Result<i32> {
    let session = ctx.existing_session(&args.services, false)?;
    for r in session.selected(&args.services, false)? {
        if session.containers.observe(&r.id) != Observed::Running {
            continue;
        }
        let Some(init) = session.containers.state(&r.id).init().filter(|p| p.alive()).map(|p| p.pid) else { continue };
        let rows = processes_in_pid_namespace_of(init)?;
        session.printer.result(&r.name);
        session.printer.table(&["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"], &rows);
    }
    Ok(0)
}

/// `rde images`: the images the project's containers use.
pub fn images(ctx: &Context, args: ProjectImagesArgs) -> anyhow::Result<i32> {
    let session = ctx.existing_session(&args.services, false)?;
    let store = ctx.store()?;
    let mut rows = Vec::new();
    for r in session.selected(&args.services, true)? {
        if args.quiet {
            session.printer.result(r.image_id.to_string());
            continue;
        }
        let size = crate::image::lookup::find(&store, &r.image_id.to_string()).map(|(i, _)| crate::output::human_size(i.size)).unwrap_or_default();
        let (repo, tag) = r.image.rsplit_once(':').filter(|(_, t)| !t.contains('/')).unwrap_or((&r.image, "latest"));
        rows.push(vec![r.name.clone(), repo.to_string(), tag.to_string(), r.image_id.short().to_string(), size]);
    }
    if !args.quiet {
        session.printer.table(&["CONTAINER", "REPOSITORY", "TAG", "IMAGE ID", "SIZE"], &rows);
    }
    Ok(0)
}

/// The processes sharing `init`'s PID namespace, sorted by host pid, as `ps -ef`
/// rows: UID (user name from the host's passwd, else the number), PID, PPID, C
/// (CPU percent over the process's life), STIME, TTY, TIME (CPU time), CMD.
fn processes_in_pid_namespace_of(init: i32) -> anyhow::Result<Vec<Vec<String>>> {
    use procfs::WithCurrentSystemInfo;
    let pid_ns = |p: &procfs::process::Process| p.namespaces().ok().and_then(|mut n| n.0.remove(std::ffi::OsStr::new("pid"))).map(|n| n.identifier);
    let ns = pid_ns(&procfs::process::Process::new(init)?);
    let ticks = procfs::ticks_per_second().max(1);
    let now = chrono::Local::now();
    let mut rows = Vec::new();
    for process in procfs::process::all_processes()?.flatten() {
        if ns.is_none() || pid_ns(&process) != ns {
            continue;
        }
        let Ok(stat) = process.stat() else { continue };
        let uid = process
            .uid()
            .map(|uid| nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)).ok().flatten().map(|u| u.name).unwrap_or_else(|| uid.to_string()))
            .unwrap_or_default();
        let cpu_seconds = (stat.utime + stat.stime) / ticks;
        let started = stat.starttime().get().ok();
        let alive_seconds = started.map(|s| (now - s).num_seconds().max(0) as u64).unwrap_or(0);
        let cmd = process.cmdline().unwrap_or_default().join(" ");
        let cmd = if cmd.trim().is_empty() { format!("[{}]", stat.comm) } else { cmd };
        rows.push(vec![
            uid,
            stat.pid.to_string(),
            stat.ppid.to_string(),
            cpu_percent(cpu_seconds, alive_seconds).to_string(),
            started.map(|s| start_time(s, now)).unwrap_or_else(|| "?".into()),
            tty_name(stat.tty_nr()),
            cpu_time(cpu_seconds),
            cmd,
        ]);
    }
    rows.sort_by_key(|r| r[1].parse::<i32>().unwrap_or(0));
    Ok(rows)
}

/// ps's C: CPU time over the time since the process started, in whole percent.
fn cpu_percent(cpu_seconds: u64, alive_seconds: u64) -> u64 {
    (cpu_seconds * 100).checked_div(alive_seconds).unwrap_or(0)
}

/// ps's STIME: the clock time today, else the day this year, else the year.
fn start_time(started: chrono::DateTime<chrono::Local>, now: chrono::DateTime<chrono::Local>) -> String {
    use chrono::Datelike;
    if started.date_naive() == now.date_naive() {
        started.format("%H:%M").to_string()
    } else if started.year() == now.year() {
        started.format("%b%d").to_string()
    } else {
        started.format("%Y").to_string()
    }
}

/// ps's TTY: `pts/N`, `ttyN`, or `?` without a terminal.
fn tty_name((major, minor): (i32, i32)) -> String {
    match major {
        0 => "?".into(),
        4 if minor < 64 => format!("tty{minor}"),
        136..=143 => format!("pts/{}", (major - 136) * 256 + minor),
        _ => "?".into(),
    }
}

/// ps's TIME: CPU time as `[D-]HH:MM:SS`.
fn cpu_time(seconds: u64) -> String {
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    let hms = format!("{:02}:{:02}:{:02}", rest / 3600, rest % 3600 / 60, rest % 60);
    if days > 0 { format!("{days}-{hms}") } else { hms }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn ps_columns_read_as_docker_top_prints_them() {
        assert_eq!(cpu_time(0), "00:00:00");
        assert_eq!(cpu_time(3_725), "01:02:05");
        assert_eq!(cpu_time(2 * 86_400 + 61), "2-00:01:01");
        assert_eq!(tty_name((0, 0)), "?");
        assert_eq!(tty_name((136, 3)), "pts/3");
        assert_eq!(tty_name((4, 1)), "tty1");
        assert_eq!(cpu_percent(5, 10), 50);
        assert_eq!(cpu_percent(5, 0), 0);
        let now = chrono::Local.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap();
        assert_eq!(start_time(chrono::Local.with_ymd_and_hms(2026, 12, 1, 9, 5, 0).unwrap(), now), "09:05");
        assert_eq!(start_time(chrono::Local.with_ymd_and_hms(2026, 11, 30, 9, 5, 0).unwrap(), now), "Nov30");
        assert_eq!(start_time(chrono::Local.with_ymd_and_hms(2025, 11, 30, 9, 5, 0).unwrap(), now), "2025");
    }
}
