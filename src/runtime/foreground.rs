//! In the foreground: `exec` (`rde container exec`, `rde exec`) and `run`
//! (`rde container run`, `rde run`) without `-d`. The process shares our
//! standard streams (or a terminal relayed to ours, or for `run` its log and
//! the shim's attach socket), the signals we receive are passed on to it, and
//! its exit code becomes ours.

use super::exec::{self, ExecError, ExecOptions};
use super::lifecycle::{self, LifecycleError};
use super::logs::LogReader;
use super::shim::libcontainer_root;
use super::state::{ContainerRecord, Containers};
use crate::paths::Paths;
use crate::signals;
use nix::sys::wait::{WaitStatus, waitpid};
use std::io::Write;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ForegroundError {
    /// The process did not start; its exit code is `ExecError::exit_code` (docker's 125/126/127).
    #[error(transparent)]
    Spawn(#[from] ExecError),
    #[error("waiting for the process: {0}")]
    Wait(nix::errno::Errno),
    /// The container did not start; its exit code is `LifecycleError::exit_code`.
    #[error(transparent)]
    Start(LifecycleError),
    #[error("the container's supervisor did not wait for us to attach")]
    NotAttached,
    /// A malformed frame on the attach socket.
    #[error("{0}")]
    Attach(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Run `opts` in `record`'s container with our standard streams; returns its
/// exit code (128 + the signal when a signal ended it).
pub fn exec(containers: &Containers, record: &ContainerRecord, opts: &ExecOptions, paths: &Paths) -> Result<i32, ForegroundError> {
    let spawned = exec::spawn(containers, record, opts, &libcontainer_root(paths))?;
    let pid = spawned.pid;
    if opts.detach {
        return Ok(0);
    }
    signals::catch_forwardable();
    let target = nix::unistd::Pid::from_raw(pid);
    if let Some(master) = &spawned.master {
        use std::os::fd::AsFd;
        let _raw = super::tty::RawMode::enter();
        super::tty::sync_size(master.as_fd());
        super::tty::relay(master, || {
            if signals::take_resize() {
                super::tty::sync_size(master.as_fd());
            }
            signals::forward_to(pid);
            true
        });
    }
    loop {
        match waitpid(target, None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(128 + sig as i32),
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => signals::forward_to(pid),
            Err(e) => return Err(ForegroundError::Wait(e)),
        }
    }
}

/// How `run` (and compose's `run`) follow the container they started.
pub struct Attach {
    pub detach: bool,
    pub interactive: bool,
    pub tty: bool,
    /// `--rm`: a container that could not start goes too.
    pub remove_on_failure: bool,
}

/// Start a created container; detached, `None` (the caller prints its id), else
/// relay its streams (and signals) until it exits and return its exit code. A
/// container that cannot start is removed first when `remove_on_failure`
/// (`ForegroundError::Start` carries docker's exit code for it).
pub fn run(containers: &Containers, record: &ContainerRecord, paths: &Paths, how: Attach) -> Result<Option<i32>, ForegroundError> {
    let tty = how.tty;
    let mut log = LogReader::open(&containers.log_path(&record.id))?;
    let size = tty.then(super::tty::current_size);
    let mut started = match lifecycle::start(containers, record, paths, !how.detach && (how.interactive || tty), size) {
        Ok(started) => started,
        Err(e) => {
            if how.remove_on_failure {
                let _ = lifecycle::remove(containers, record, true, paths);
            }
            return Err(ForegroundError::Start(e));
        }
    };
    if how.detach {
        return Ok(None);
    }
    signals::catch_forwardable();
    if how.interactive || tty {
        return attach(&mut started, tty).map(Some);
    }
    let exit_code = loop {
        let done = started.exit_code(Duration::from_millis(50));
        copy_out(&mut log);
        signals::forward_to(started.pid);
        if let Some(code) = done {
            copy_out(&mut log);
            break code.unwrap_or(125);
        }
    };
    Ok(Some(exit_code))
}

/// The container's new log lines to our stdout and stderr, by the stream they came from.
pub fn copy_out(log: &mut LogReader) {
    let lines = log.read_available();
    if lines.is_empty() {
        return;
    }
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    for line in lines {
        let _ = if line.stream == "stderr" { err.write_all(line.log.as_bytes()) } else { out.write_all(line.log.as_bytes()) };
    }
    let _ = out.flush();
}

/// Foreground with -i/-t: our stdin goes to the container through the shim's
/// attach socket, its output comes back the same way.
fn attach(started: &mut lifecycle::Started, tty: bool) -> Result<i32, ForegroundError> {
    use super::attach::{Decoder, Frame};
    use super::tty;
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use std::io::Read;
    use std::os::fd::AsFd;
    let mut socket = started.attached.take().ok_or(ForegroundError::NotAttached)?;
    let _raw = tty.then(tty::RawMode::enter);
    let mut decoder = Decoder::default();
    let mut stdin_open = true;
    let mut socket_open = true;
    let mut exit_code = None;
    let mut buf = vec![0u8; 64 * 1024];
    while socket_open {
        let stdin = std::io::stdin();
        let mut fds = vec![PollFd::new(socket.as_fd(), PollFlags::POLLIN)];
        if exit_code.is_none() {
            fds.push(PollFd::new(started.report_fd(), PollFlags::POLLIN));
        }
        if stdin_open && exit_code.is_none() {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
        }
        // Once the container exited, wait a moment for the last output, then stop.
        let timeout = if exit_code.is_some() { 1000u16 } else { 200 };
        let n = poll(&mut fds, PollTimeout::from(timeout)).unwrap_or(0);
        let ready: Vec<bool> = fds.iter().map(|f| f.revents().is_some_and(|r| !r.is_empty())).collect();
        drop(fds);
        if tty && signals::take_resize() {
            let (rows, cols) = tty::current_size();
            let _ = socket.write_all(&Frame::Resize { rows, cols }.encode());
        }
        if !tty {
            signals::forward_to(started.pid);
        }
        if n == 0 && exit_code.is_some() {
            break;
        }
        if ready[0] {
            match socket.read(&mut buf) {
                Ok(0) | Err(_) => socket_open = false,
                Ok(n) => {
                    for frame in decoder.feed(&buf[..n]).map_err(ForegroundError::Attach)? {
                        match frame {
                            Frame::Stdout(d) => {
                                let mut out = std::io::stdout().lock();
                                out.write_all(&d)?;
                                out.flush()?;
                            }
                            Frame::Stderr(d) => std::io::stderr().write_all(&d)?,
                            _ => {}
                        }
                    }
                }
            }
        }
        if exit_code.is_none() && ready.get(1).copied().unwrap_or(false) {
            exit_code = started.exit_code(Duration::ZERO).map(|c| c.unwrap_or(125));
        }
        if stdin_open && ready.get(2).copied().unwrap_or(false) {
            match std::io::stdin().lock().read(&mut buf) {
                Ok(0) | Err(_) => {
                    stdin_open = false;
                    let _ = socket.write_all(&Frame::CloseStdin.encode());
                }
                Ok(n) => {
                    let _ = socket.write_all(&Frame::Stdin(buf[..n].to_vec()).encode());
                }
            }
        }
    }
    let code = match exit_code {
        Some(code) => code,
        None => started.exit_code(Duration::from_secs(5)).flatten().unwrap_or(125),
    };
    Ok(code)
}
