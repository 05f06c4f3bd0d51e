//! Running a piece of work inside another network namespace. setns() changes
//! the namespace of the calling thread for good (rootless, the host's cannot
//! be re-entered), so a forked child enters the namespace, does the work and
//! exits with its verdict; the caller never moves. Work for the caller's own
//! namespace runs in place.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    #[error("cannot open network namespace {path}: {source}")]
    Open { path: String, source: std::io::Error },
    #[error("cannot fork a helper to enter a network namespace: {0}")]
    Fork(nix::Error),
    #[error("cannot enter network namespace: {0}")]
    Enter(nix::Error),
    #[error("{0}")]
    Work(String),
}

/// A network namespace held open by a file descriptor; `own`: the caller's.
pub struct Netns {
    file: File,
    own: bool,
}

impl Netns {
    pub fn open(path: impl AsRef<Path>) -> Result<Netns, NetnsError> {
        let path = path.as_ref();
        File::open(path).map(|file| Netns { file, own: false }).map_err(|source| NetnsError::Open { path: path.display().to_string(), source })
    }

    /// The namespace of process `pid`.
    pub fn of_process(pid: i32) -> Result<Netns, NetnsError> {
        Netns::open(format!("/proc/{pid}/ns/net"))
    }

    /// The caller's own namespace.
    pub fn current() -> Result<Netns, NetnsError> {
        Ok(Netns { own: true, ..Netns::open("/proc/self/ns/net")? })
    }

    pub fn file(&self) -> &File {
        &self.file
    }

    /// It is the caller's own namespace (work runs in place).
    pub fn is_own(&self) -> bool {
        self.own
    }

    /// Run `work` in this namespace, in a forked child (in place for the caller's
    /// own); its error message comes back. Call only while the process is
    /// single-threaded (the child allocates).
    pub fn run<F>(&self, work: F) -> Result<(), NetnsError>
    where
        F: FnOnce() -> Result<(), String>,
    {
        self.query(|| work().map(|()| String::new())).map(drop)
    }

    /// [`Netns::run`] for work that answers: its text comes back.
    pub fn query<F>(&self, work: F) -> Result<String, NetnsError>
    where
        F: FnOnce() -> Result<String, String>,
    {
        if self.own {
            return work().map_err(NetnsError::Work);
        }
        crate::process::in_child(|| {
            nix::sched::setns(self.file.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| NetnsError::Enter(e).to_string()).and_then(|()| work())
        })
        .map_err(NetnsError::Fork)?
        .map_err(NetnsError::Work)
    }
}
