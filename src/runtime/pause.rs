//! `pause` and `unpause`: every process of a container frozen or thawed through its cgroup's
//! freezer, as docker's: cgroup v2's `cgroup.freeze` (also rootless, in the session's own
//! cgroup2 mount) or cgroup v1's `freezer.state`. A paused container still counts as running;
//! [`is_paused`] tells them apart, and stop/kill thaw it so their signal arrives.

use super::state::{ContainerRecord, Containers, Observed};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum PauseError {
    #[error("container {0} is not running; hint: `rde start` it first")]
    NotRunning(String),
    #[error("container {0} is not paused")]
    NotPaused(String),
    #[error("container {0} is already paused")]
    AlreadyPaused(String),
    #[error("container {name}: no freezer for its cgroup ({path}); hint: pausing needs cgroup v2, or cgroup v1's freezer controller")]
    NoFreezer { name: String, path: PathBuf },
    #[error("container {name}: {path}: {source}")]
    Io { name: String, path: PathBuf, source: std::io::Error },
    #[error("container {0}: its processes did not freeze within 5 seconds")]
    Timeout(String),
}

/// A container's freezer file: what is written to freeze and thaw it, and what it reads when frozen.
struct Freezer {
    path: PathBuf,
    freeze: &'static str,
    thaw: &'static str,
    frozen: &'static str,
}

fn freezer(record: &ContainerRecord) -> Option<Freezer> {
    let relative = record.spec.cgroups_path.trim_start_matches('/');
    let v2 = Path::new("/sys/fs/cgroup").join(relative).join("cgroup.freeze");
    if v2.exists() {
        return Some(Freezer { path: v2, freeze: "1", thaw: "0", frozen: "1" });
    }
    let v1 = Path::new("/sys/fs/cgroup/freezer").join(relative).join("freezer.state");
    v1.exists().then_some(Freezer { path: v1, freeze: "FROZEN", thaw: "THAWED", frozen: "FROZEN" })
}

/// Whether the container's processes are frozen (false when it has no freezer).
pub fn is_paused(record: &ContainerRecord) -> bool {
    freezer(record).is_some_and(|f| std::fs::read_to_string(&f.path).is_ok_and(|s| s.trim() == f.frozen))
}

/// Freezes every process of a running container; returns once the kernel says they are frozen.
pub fn pause(containers: &Containers, record: &ContainerRecord) -> Result<(), PauseError> {
    if containers.observe(&record.id) != Observed::Running {
        return Err(PauseError::NotRunning(record.name.clone()));
    }
    if is_paused(record) {
        return Err(PauseError::AlreadyPaused(record.name.clone()));
    }
    let f = find(record)?;
    write(record, &f, f.freeze)?;
    // v1 passes through FREEZING; v2 reports `frozen 1` in cgroup.events when done.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done_freezing(&f) {
        if Instant::now() > deadline {
            let _ = write(record, &f, f.thaw);
            return Err(PauseError::Timeout(record.name.clone()));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    super::events::record(containers, record, "pause", &[]);
    Ok(())
}

fn done_freezing(f: &Freezer) -> bool {
    if f.freeze == "1" {
        let events = f.path.with_file_name("cgroup.events");
        return std::fs::read_to_string(events).is_ok_and(|e| e.lines().any(|l| l == "frozen 1"));
    }
    std::fs::read_to_string(&f.path).is_ok_and(|s| s.trim() == f.frozen)
}

/// Thaws a paused container.
pub fn unpause(containers: &Containers, record: &ContainerRecord) -> Result<(), PauseError> {
    if !is_paused(record) {
        return Err(PauseError::NotPaused(record.name.clone()));
    }
    let f = find(record)?;
    write(record, &f, f.thaw)?;
    super::events::record(containers, record, "unpause", &[]);
    Ok(())
}

/// Thaws the container if it is paused (before a signal that must arrive); errors are ignored.
pub fn thaw_if_paused(containers: &Containers, record: &ContainerRecord) {
    if is_paused(record) {
        let _ = unpause(containers, record);
    }
}

fn find(record: &ContainerRecord) -> Result<Freezer, PauseError> {
    freezer(record).ok_or_else(|| PauseError::NoFreezer {
        name: record.name.clone(),
        path: PathBuf::from("/sys/fs/cgroup").join(record.spec.cgroups_path.trim_start_matches('/')),
    })
}

fn write(record: &ContainerRecord, f: &Freezer, value: &str) -> Result<(), PauseError> {
    std::fs::write(&f.path, value).map_err(|source| PauseError::Io { name: record.name.clone(), path: f.path.clone(), source })
}
