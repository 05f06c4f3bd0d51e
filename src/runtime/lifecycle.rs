//! Starting, stopping, killing and removing containers from the CLI side. The
//! CLI never calls libcontainer to create: it spawns a shim and waits for its
//! report. Stop and remove work from the recorded pids, so they still clean up
//! when the shim or a CLI was killed.

use super::shim::{REPORT_FD_ENV, Report};
use super::state::{ContainerRecord, Containers, Observed, Status};
use crate::paths::Paths;
use nix::sys::signal::Signal;
use std::io::BufRead;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error("{message}")]
    Failed { message: String, exit_code: i32 },
    #[error("cannot start the container's supervisor: {0}")]
    Spawn(std::io::Error),
    #[error("the container's supervisor died before reporting; see {0}")]
    ShimDied(String),
    #[error("invalid signal {0:?}; hint: use a name like SIGTERM or TERM, or a number")]
    BadSignal(String),
    #[error("container {0} is running; hint: stop it first, or remove it with --force")]
    Running(String),
    #[error("{0}")]
    Cleanup(String),
    #[error(transparent)]
    State(#[from] super::state::StateError),
}

impl LifecycleError {
    /// The exit code `run` passes on: 125, or docker's 126/127 for a command that cannot run.
    pub fn exit_code(&self) -> i32 {
        match self {
            LifecycleError::Failed { exit_code, .. } => *exit_code,
            _ => 125,
        }
    }
}

/// The shim's report pipe, kept by a foreground `run` to learn the exit code.
pub struct Started {
    pub pid: i32,
    pub reports: std::io::BufReader<std::fs::File>,
    /// Connected to the shim before the container started (`start(.., attach: true)`).
    pub attached: Option<std::os::unix::net::UnixStream>,
}

impl Started {
    pub fn report_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.reports.get_ref().as_fd()
    }

    /// Wait (up to `timeout`) for the shim's last report; `Some(code)` once the container exited.
    pub fn exit_code(&mut self, timeout: Duration) -> Option<Option<i32>> {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        use std::os::fd::AsFd;
        if self.reports.buffer().is_empty() {
            let mut fds = [PollFd::new(self.reports.get_ref().as_fd(), PollFlags::POLLIN)];
            let ms = PollTimeout::try_from(timeout.as_millis() as i32).unwrap_or(PollTimeout::NONE);
            if poll(&mut fds, ms).unwrap_or(0) == 0 {
                return None;
            }
        }
        let mut line = String::new();
        match self.reports.read_line(&mut line) {
            Ok(0) | Err(_) => Some(None), // the shim is gone without a word
            Ok(_) => match serde_json::from_str::<Report>(&line) {
                Ok(Report::Exited { exit_code }) => Some(Some(exit_code)),
                _ => None,
            },
        }
    }
}

/// Start a created container through a new shim. With `attach`, connect to the
/// shim's attach socket while the container waits, so not a byte of output is missed.
/// `size`: our terminal's size, sent before the container starts so that its
/// first command already sees it.
pub fn start(containers: &Containers, record: &ContainerRecord, paths: &Paths, attach: bool, size: Option<(u16, u16)>) -> Result<Started, LifecycleError> {
    let (read_end, write_end) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| LifecycleError::Spawn(e.into()))?;
    let raw = write_end.as_raw_fd();
    let mut command = Command::new("/proc/self/exe");
    command.args([super::shim::SHIM_ARG, &record.id]).env(REPORT_FD_ENV, raw.to_string()).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    if attach {
        command.env(super::shim::WAIT_ATTACH_ENV, "1");
    }
    // SAFETY: setsid and fcntl are async-signal-safe.
    unsafe {
        command.pre_exec(move || {
            // Its own session: the terminal's Ctrl-C must not reach the supervisor.
            nix::unistd::setsid()?;
            if libc::fcntl(raw, libc::F_SETFD, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command.spawn().map_err(LifecycleError::Spawn)?;
    drop(write_end);
    let mut reports = std::io::BufReader::new(std::fs::File::from(read_end));
    let mut attached = None;
    let mut line = String::new();
    let _ = reports.read_line(&mut line);
    if let Ok(Report::Created) = serde_json::from_str::<Report>(&line) {
        let socket = super::shim::attach_socket(paths, &record.id);
        let mut stream = std::os::unix::net::UnixStream::connect(&socket).map_err(LifecycleError::Spawn)?;
        if let Some((rows, cols)) = size {
            use std::io::Write;
            stream.write_all(&super::attach::Frame::Resize { rows, cols }.encode()).map_err(LifecycleError::Spawn)?;
        }
        attached = Some(stream);
        line.clear();
        let _ = reports.read_line(&mut line);
    }
    match serde_json::from_str::<Report>(&line) {
        Ok(Report::Started { pid }) => Ok(Started { pid, reports, attached }),
        Ok(Report::Failed { message, exit_code }) => Err(LifecycleError::Failed { message, exit_code }),
        _ => Err(LifecycleError::ShimDied(containers.dir(&record.id).join("state.json").display().to_string())),
    }
}

pub fn parse_signal(name: &str) -> Result<Signal, LifecycleError> {
    let bad = || LifecycleError::BadSignal(name.to_string());
    if let Ok(n) = name.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| bad());
    }
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("SIG") { upper } else { format!("SIG{upper}") };
    Signal::from_str(&full).map_err(|_| bad())
}

/// A stop or kill by a user: the restart policy must not start it again.
fn mark_stopped_by_user(containers: &Containers, record: &ContainerRecord) {
    let _ = std::fs::write(containers.stop_marker(&record.id), b"");
}

pub fn kill(containers: &Containers, record: &ContainerRecord, signal: Signal) -> Result<(), LifecycleError> {
    let state = containers.state(&record.id);
    if matches!(signal, Signal::SIGKILL | Signal::SIGTERM | Signal::SIGINT) {
        mark_stopped_by_user(containers, record);
    }
    match (containers.observe(&record.id), state.init()) {
        (Observed::Running | Observed::Unknown, Some(init)) if init.alive() => {
            init.signal(signal).map_err(|e| LifecycleError::Cleanup(e.to_string()))?;
            super::events::record(containers, record, "kill", &[("signal", (signal as i32).to_string())]);
            // A paused container gets SIGKILL or its stop signal once thawed, as docker's.
            if signal == Signal::SIGKILL || parse_signal(&record.stop_signal).is_ok_and(|s| s == signal) {
                super::pause::thaw_if_paused(containers, record);
            }
            Ok(())
        }
        _ => Err(LifecycleError::Cleanup(format!("container {} is not running", record.name))),
    }
}

/// The stop signal, the grace period, then SIGKILL; returns once the shim has
/// recorded the exit (or, without a shim, once the init is gone).
pub fn stop(containers: &Containers, record: &ContainerRecord, timeout: Option<u64>, paths: &Paths) -> Result<(), LifecycleError> {
    mark_stopped_by_user(containers, record);
    super::pause::thaw_if_paused(containers, record);
    let Some(init) = containers.state(&record.id).init().filter(|p| p.alive()) else {
        // Waiting to restart: the shim sees the mark and ends.
        wait_stopped(containers, record, Duration::from_secs(5));
        return reconcile(containers, record, paths);
    };
    let signal = parse_signal(&record.stop_signal)?;
    let grace = Duration::from_secs(timeout.unwrap_or(record.stop_timeout));
    super::events::record(containers, record, "kill", &[("signal", (signal as i32).to_string())]);
    let _ = init.signal(signal);
    if !wait_stopped(containers, record, grace) {
        super::events::record(containers, record, "kill", &[("signal", "9".into())]);
        let _ = init.signal(Signal::SIGKILL);
        // Paused during the grace period: the SIGKILL arrives once thawed.
        super::pause::thaw_if_paused(containers, record);
        if !wait_stopped(containers, record, Duration::from_secs(10)) {
            return Err(LifecycleError::Cleanup(format!("container {} did not stop after SIGKILL", record.name)));
        }
    }
    let result = reconcile(containers, record, paths);
    super::events::record(containers, record, "stop", &[]);
    result
}

fn wait_stopped(containers: &Containers, record: &ContainerRecord, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    loop {
        let state = containers.state(&record.id);
        let init_gone = state.init().is_none_or(|p| !p.alive());
        let shim_gone = state.shim().is_none_or(|p| !p.alive());
        if matches!(state.status, Some(Status::Exited)) || (init_gone && shim_gone) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// When the shim is gone (killed), do its cleanup: delete the libcontainer
/// state, unmount the rootfs, record an exit.
fn reconcile(containers: &Containers, record: &ContainerRecord, paths: &Paths) -> Result<(), LifecycleError> {
    let mut state = containers.state(&record.id);
    if state.shim().is_some_and(|p| p.alive()) || matches!(state.status, Some(Status::Exited)) {
        return Ok(());
    }
    let errors = super::shim::release(paths, &record.id, &containers.dir(&record.id), &record.network.network_names(), true);
    if state.status == Some(Status::Running) {
        state.status = Some(Status::Exited);
        state.exit_code = Some(state.exit_code.unwrap_or(137));
        state.finished_at = Some(crate::time::now_unix());
        containers.save_state(&record.id, &state)?;
    }
    if errors.is_empty() { Ok(()) } else { Err(LifecycleError::Cleanup(errors.join("; "))) }
}

/// Remove a container and everything it owns; with `force`, kill it first.
/// Keeps going after a failure and reports every error.
pub fn remove(containers: &Containers, record: &ContainerRecord, force: bool, paths: &Paths) -> Result<(), LifecycleError> {
    let observed = containers.observe(&record.id);
    if matches!(observed, Observed::Running) && !force {
        return Err(LifecycleError::Running(record.name.clone()));
    }
    let mut errors = Vec::new();
    mark_stopped_by_user(containers, record);
    if let Some(init) = containers.state(&record.id).init().filter(|p| p.alive()) {
        let _ = init.signal(Signal::SIGKILL);
        // Frozen processes take their SIGKILL only once thawed.
        super::pause::thaw_if_paused(containers, record);
        wait_stopped(containers, record, Duration::from_secs(10));
    }
    wait_for_shim(containers.state(&record.id).shim());
    if let Err(e) = reconcile(containers, record, paths) {
        errors.push(e.to_string());
    }
    let dir = containers.dir(&record.id);
    if let Err(e) = crate::fsutil::remove_tree(&dir) {
        errors.push(format!("remove {}: {e}", dir.display()));
    }
    super::events::record(containers, record, "destroy", &[]);
    if errors.is_empty() { Ok(()) } else { Err(LifecycleError::Cleanup(errors.join("; "))) }
}

/// Wait until the container's shim has released what it held (the rootfs
/// mount above all) after the container exited: its upper dir is then final.
pub fn wait_released(containers: &Containers, record: &ContainerRecord) {
    wait_for_shim(containers.state(&record.id).shim());
}

/// The shim writes its last state while it exits: let it finish (at most 10 s).
fn wait_for_shim(shim: Option<crate::process::ProcessId>) {
    let Some(shim) = shim else { return };
    let deadline = Instant::now() + Duration::from_secs(10);
    while shim.alive() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Remove a container whose record is corrupt (`Containers::find` said so):
/// what its state file still tells is stopped (by pid and start time, so a
/// stranger is never signalled), its libcontainer state deleted, its rootfs
/// unmounted, its endpoints on every network dropped, its directory removed.
/// Keeps going after a failure and reports every error.
pub fn remove_broken(containers: &Containers, id: &str, paths: &Paths) -> Result<(), LifecycleError> {
    let mut errors = Vec::new();
    let state = containers.state(id);
    if let Some(init) = state.init().filter(|p| p.alive()) {
        let _ = init.signal(Signal::SIGKILL);
    }
    wait_for_shim(state.shim());
    let dir = containers.dir(id);
    // Which networks it was on is in the lost record: look on every one.
    match crate::net::network::Networks::open(paths).and_then(|n| n.all()) {
        Ok(all) => errors.extend(super::shim::release(paths, id, &dir, &all.into_iter().map(|n| n.name).collect::<Vec<_>>(), true)),
        Err(e) => errors.push(e.to_string()),
    }
    if let Err(e) = crate::fsutil::remove_tree(&dir) {
        errors.push(format!("remove {}: {e}", dir.display()));
    }
    if errors.is_empty() { Ok(()) } else { Err(LifecycleError::Cleanup(errors.join("; "))) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_and_number() {
        assert_eq!(parse_signal("SIGINT").unwrap(), Signal::SIGINT);
        assert_eq!(parse_signal("term").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("9").unwrap(), Signal::SIGKILL);
        assert!(parse_signal("SIGNOPE").is_err());
        assert!(parse_signal("99").is_err());
    }
}
