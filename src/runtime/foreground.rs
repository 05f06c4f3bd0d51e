//! `exec` in the foreground (`rde container exec`, `rde exec`): the process
//! shares our standard streams (or a terminal relayed to ours), the signals we
//! receive are passed on to it, and its exit code becomes ours.

use super::exec::{self, ExecError, ExecOptions};
use super::shim::libcontainer_root;
use super::state::{ContainerRecord, Containers};
use crate::paths::Paths;
use crate::signals;
use nix::sys::wait::{WaitStatus, waitpid};

#[derive(Debug, thiserror::Error)]
pub enum ForegroundError {
    /// The process did not start; its exit code is `ExecError::exit_code` (docker's 125/126/127).
    #[error(transparent)]
    Spawn(#[from] ExecError),
    #[error("waiting for the process: {0}")]
    Wait(nix::errno::Errno),
}

/// Run `opts` in `record`'s container with our standard streams; returns its
/// exit code (128 + the signal when a signal ended it).
pub fn exec(containers: &Containers, record: &ContainerRecord, opts: &ExecOptions, paths: &Paths) -> Result<i32, ForegroundError> {
    let spawned = exec::spawn(containers, record, opts, &libcontainer_root(paths))?;
    let pid = spawned.pid;
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
