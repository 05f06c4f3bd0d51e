//! Process identity. A pid in a state file names a process only while that
//! process lives: once it exits, the kernel may give the number to an unrelated
//! one, and signalling the recorded pid would hit a stranger (a host process,
//! when rde runs as root). A [`ProcessId`] is the pid plus the process's start
//! time (`/proc/<pid>/stat` field 22, clock ticks since boot), which no later
//! process with the same pid shares; signals go through a pidfd opened and then
//! checked against that start time, so the process cannot change between the
//! check and the signal.
//!
//! Used by runtime/ (container inits, shims) and net/ (endpoints held by shims).
//! Also [`in_child`]: work that must change the process (enter a namespace, make a private
//! mount namespace) done in a forked child instead.

use serde::{Deserialize, Serialize};
use std::os::fd::OwnedFd;

/// A process as recorded: its pid and its start time (clock ticks after boot).
/// `start: None` comes from records written before rde kept start times; such a
/// record is trusted on its pid alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessId {
    pub pid: i32,
    #[serde(default)]
    pub start: Option<u64>,
}

impl ProcessId {
    /// The live process `pid` now is, or `None` when there is none.
    pub fn of(pid: i32) -> Option<ProcessId> {
        let (start, _) = stat(pid)?;
        Some(ProcessId { pid, start: Some(start) })
    }

    /// This process.
    pub fn current() -> ProcessId {
        ProcessId::of(std::process::id() as i32).expect("our own /proc entry")
    }

    /// The recorded process still runs (a zombie counts as gone): same pid, same start time.
    pub fn alive(&self) -> bool {
        match stat(self.pid) {
            Some((start, zombie)) => !zombie && self.start.is_none_or(|s| s == start),
            None => false,
        }
    }

    /// A pidfd for exactly this process, or `None` when it is gone (or the pid
    /// now belongs to someone else).
    pub fn pidfd(&self) -> Option<OwnedFd> {
        let pid = rustix::process::Pid::from_raw(self.pid)?;
        let fd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok()?;
        // Opened first, checked second: the pidfd pins the process we checked.
        self.alive().then_some(fd)
    }

    /// Send `signal` to this process, never to a later holder of its pid.
    /// `Err(ESRCH)` when it is gone.
    pub fn signal(&self, signal: nix::sys::signal::Signal) -> Result<(), rustix::io::Errno> {
        let fd = self.pidfd().ok_or(rustix::io::Errno::SRCH)?;
        let signal = rustix::process::Signal::from_named_raw(signal as i32).ok_or(rustix::io::Errno::INVAL)?;
        rustix::process::pidfd_send_signal(&fd, signal)
    }
}

/// (start time, is a zombie) from `/proc/<pid>/stat`.
fn stat(pid: i32) -> Option<(u64, bool)> {
    if pid <= 0 {
        return None;
    }
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// The command name (field 2) may hold spaces and parentheses: fields after it
/// are counted from the last `)`. State is field 3, start time field 22.
fn parse_stat(text: &str) -> Option<(u64, bool)> {
    let (_, rest) = text.rsplit_once(") ")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((start, *state == "Z" || *state == "X"))
}

/// In a freshly forked child: close every descriptor but stdio and `keep`, so
/// that it holds none of its parent's pipes (a reader waiting for their end
/// would hang) and locks.
pub fn close_all_but(keep: &[std::os::fd::RawFd]) {
    let fds: Vec<std::os::fd::RawFd> =
        procfs::process::Process::myself().and_then(|me| me.fd()).map(|fds| fds.flatten().map(|fd| fd.fd).collect()).unwrap_or_default();
    for fd in fds.into_iter().filter(|fd| *fd > 2 && !keep.contains(fd)) {
        // SAFETY: closing descriptors this freshly forked process will never use.
        unsafe { libc::close(fd) };
    }
}

/// Runs `work` in a forked child and brings back its answer (`Ok`) or its error message
/// (`Err`; also how the child died when it said nothing). The outer error: the fork failed.
/// Call only while the process is single-threaded (the child allocates).
pub fn in_child(work: impl FnOnce() -> Result<String, String>) -> Result<Result<String, String>, nix::Error> {
    use std::io::{Read, Write};
    let (mut verdict_r, verdict_w) = std::io::pipe().map_err(|e| nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
    // SAFETY: the caller is single-threaded; the child runs `work` and _exits.
    match unsafe { nix::unistd::fork() }? {
        nix::unistd::ForkResult::Child => {
            drop(verdict_r);
            let mut verdict_w = verdict_w;
            // The answer, or the error message with exit code 1.
            let (code, text) = match work() {
                Ok(answer) => (0, answer),
                Err(message) => (1, message),
            };
            let _ = verdict_w.write_all(text.as_bytes());
            // SAFETY: _exit skips destructors and atexit handlers, right for a forked child.
            unsafe { libc::_exit(code) }
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop(verdict_w);
            let mut text = String::new();
            let _ = verdict_r.read_to_string(&mut text);
            Ok(match nix::sys::wait::waitpid(child, None) {
                Ok(nix::sys::wait::WaitStatus::Exited(_, 0)) => Ok(text),
                _ if !text.is_empty() => Err(text),
                other => Err(format!("the helper process failed ({other:?})")),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_names() {
        let line = "4242 (a) b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 100 0 0";
        assert_eq!(parse_stat(line), Some((987654, false)));
        assert_eq!(parse_stat("1 (x) Z 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 55 0"), Some((55, true)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn a_reused_pid_is_not_the_recorded_process() {
        let me = ProcessId::current();
        assert!(me.alive() && me.pidfd().is_some());
        let stranger = ProcessId { pid: me.pid, start: me.start.map(|s| s + 1) };
        assert!(!stranger.alive());
        assert_eq!(stranger.signal(nix::sys::signal::Signal::SIGTERM), Err(rustix::io::Errno::SRCH));
        assert!(ProcessId { pid: me.pid, start: None }.alive(), "old records: the pid alone");
    }

    #[test]
    fn exited_children_are_gone() {
        let mut child = std::process::Command::new("sleep").arg("10").spawn().unwrap();
        let id = ProcessId::of(child.id() as i32).unwrap();
        assert!(id.alive());
        id.signal(nix::sys::signal::Signal::SIGKILL).unwrap();
        child.wait().unwrap();
        assert!(!id.alive());
        assert!(id.signal(nix::sys::signal::Signal::SIGKILL).is_err());
    }
}
