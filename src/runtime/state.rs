//! Container records on disk. One directory per container:
//!
//! ```text
//! <data>/containers-v1/<id>/
//!   container.json   what the container is (written once by `create`)
//!   state.json       what it is doing (written by its shim: running, exited + code)
//!   bundle/config.json, upper/, work/, merged/ (overlay mount point), etc/, ctr.log
//! ```
//!
//! Every write is atomic; creation and naming happen under `locks/containers.lock`.

use super::health::{Health, HealthConfig};
use super::restart::RestartPolicy;
use super::spec::ContainerSpec;
use crate::fsutil::{self, LockGuard};
use crate::image::digest::Digest;
use crate::net::network::{Attachment, NetworkMode};
use crate::net::ports::PortMapping;
use crate::process::ProcessId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("container store {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("container record {path} is corrupt: {source}; hint: remove it with `rde container rm -f {id}`")]
    Corrupt { id: String, path: PathBuf, source: serde_json::Error },
    #[error("no such container: {0}; hint: `rde container ls -a` lists them")]
    NotFound(String),
    #[error("container name {0:?} is already in use by container {1}; hint: remove it with `rde container rm {0}` or choose another --name")]
    NameInUse(String, String),
    #[error("container id prefix {0:?} is ambiguous")]
    Ambiguous(String),
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ContainerRecord {
    pub id: String,
    pub name: String,
    /// The image as the user named it, and what it resolved to.
    pub image: String,
    pub image_id: Digest,
    /// Overlay lower dirs, topmost first.
    pub layers: Vec<PathBuf>,
    pub spec: ContainerSpec,
    pub created: u64,
    pub auto_remove: bool,
    pub stop_signal: String,
    pub stop_timeout: u64,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Keep stdin open for an attached client (`-i`).
    #[serde(default)]
    pub interactive: bool,
    #[serde(default)]
    pub network: NetworkMode,
    /// Published ports as asked (`host_port: None`: any free port).
    #[serde(default)]
    pub ports: Vec<PortMapping>,
    #[serde(default)]
    pub restart: RestartPolicy,
    #[serde(default)]
    pub healthcheck: Option<HealthConfig>,
    /// Log rotation (`--log-opt max-size/max-file`, compose `logging.options`).
    #[serde(default)]
    pub log: super::logs::LogOptions,
    /// `--add-host` entries (`host-gateway` resolved when the container joins its networks).
    #[serde(default)]
    pub extra_hosts: Vec<(String, String)>,
    /// `--dns`, `--dns-search`, `--dns-option`.
    #[serde(default)]
    pub dns: crate::net::resolv::DnsConfig,
}

impl ContainerRecord {
    /// The command as the user gave it (without `--init`'s `/sbin/docker-init --`).
    pub fn command(&self) -> &[String] {
        let args = &self.spec.process.args;
        match args.first() {
            Some(first) if first == super::create::INIT_IN_CONTAINER && args.get(1).is_some_and(|a| a == "--") => &args[2..],
            _ => args,
        }
    }
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Created,
    Running,
    /// Exited, and its restart policy will start it again shortly.
    Restarting,
    Exited,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ContainerState {
    pub status: Option<Status>,
    /// The container's init (a pid in the host's pid namespace).
    pub pid: Option<i32>,
    /// The init's start time, so that a reused pid is never taken for it.
    #[serde(default)]
    pub pid_start: Option<u64>,
    pub shim_pid: Option<i32>,
    #[serde(default)]
    pub shim_start: Option<u64>,
    pub exit_code: Option<i32>,
    pub started_at: Option<u64>,
    pub finished_at: Option<u64>,
    pub error: Option<String>,
    /// Where it is on its networks while it runs (kept after, so a restart reuses the addresses).
    #[serde(default)]
    pub networks: Vec<Attachment>,
    /// The published ports with their actual host ports.
    #[serde(default)]
    pub ports: Vec<PortMapping>,
    #[serde(default)]
    pub health: Option<Health>,
    /// Restarts by the restart policy since the last start by a user.
    #[serde(default)]
    pub restart_count: u32,
}

impl ContainerState {
    /// The container's init as recorded.
    pub fn init(&self) -> Option<ProcessId> {
        self.pid.map(|pid| ProcessId { pid, start: self.pid_start })
    }

    /// Its shim as recorded.
    pub fn shim(&self) -> Option<ProcessId> {
        self.shim_pid.map(|pid| ProcessId { pid, start: self.shim_start })
    }
}

/// What `ls` shows: the recorded state checked against the living processes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Observed {
    Created,
    Running,
    Exited(i32),
    /// Between an exit and the restart its policy asks for.
    Restarting(i32),
    /// The state says running but its supervisor is gone.
    Unknown,
}

impl std::fmt::Display for Observed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Observed::Created => write!(f, "created"),
            Observed::Running => write!(f, "running"),
            Observed::Exited(code) => write!(f, "exited ({code})"),
            Observed::Restarting(code) => write!(f, "restarting ({code})"),
            Observed::Unknown => write!(f, "unknown"),
        }
    }
}

pub struct Containers {
    root: PathBuf,
    locks: PathBuf,
    volumes: PathBuf,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StateError + '_ {
    move |source| StateError::Io { path: path.to_path_buf(), source }
}

impl Containers {
    pub fn open(data: &Path) -> Result<Containers, StateError> {
        let root = data.join("containers-v1");
        std::fs::create_dir_all(&root).map_err(io_err(&root))?;
        Ok(Containers { root, locks: data.join("locks"), volumes: data.join("volumes-v1") })
    }

    /// The data root (`<root>`) the records live under.
    pub fn data_dir(&self) -> &Path {
        self.root.parent().unwrap_or(&self.root)
    }

    pub fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    pub fn lock(&self) -> Result<LockGuard, StateError> {
        let p = self.locks.join("containers.lock");
        fsutil::lock_exclusive(&p).map_err(io_err(&p))
    }

    /// Every readable container record, newest first. Records that cannot be
    /// read are left out (see [`Containers::broken`]): one bad file must not
    /// stop every command.
    pub fn all(&self) -> Result<Vec<ContainerRecord>, StateError> {
        let (mut out, _) = self.scan()?;
        out.sort_by_key(|r: &ContainerRecord| std::cmp::Reverse(r.created));
        Ok(out)
    }

    /// Containers whose record is corrupt or unreadable (truncated by a full
    /// disk, edited by hand): `Corrupt` or `Io` errors naming them.
    pub fn broken(&self) -> Result<Vec<StateError>, StateError> {
        Ok(self.scan()?.1)
    }

    fn scan(&self) -> Result<(Vec<ContainerRecord>, Vec<StateError>), StateError> {
        let (mut good, mut bad) = (Vec::new(), Vec::new());
        for entry in std::fs::read_dir(&self.root).map_err(io_err(&self.root))?.flatten() {
            let id = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path().join("container.json");
            match std::fs::read(&path) {
                Ok(bytes) => match serde_json::from_slice(&bytes) {
                    Ok(record) => good.push(record),
                    Err(source) => bad.push(StateError::Corrupt { id, path, source }),
                },
                // A directory being created or removed right now (or half made: `prune_half_made`).
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => bad.push(StateError::Io { path, source: e }),
            }
        }
        Ok((good, bad))
    }

    /// By exact name, exact id or unique id prefix. A container whose record is
    /// corrupt is found by its id (or a prefix) as a `Corrupt` error.
    pub fn find(&self, query: &str) -> Result<ContainerRecord, StateError> {
        let (all, broken) = self.scan()?;
        if let Some(c) = all.iter().find(|c| c.name == query || c.id == query) {
            return Ok(c.clone());
        }
        let matches: Vec<&ContainerRecord> = all.iter().filter(|c| query.len() >= 3 && c.id.starts_with(query)).collect();
        match matches.as_slice() {
            [one] => Ok((*one).clone()),
            [] => {
                match broken.into_iter().find(|e| matches!(e, StateError::Corrupt { id, .. } if id == query || (query.len() >= 3 && id.starts_with(query)))) {
                    Some(corrupt) => Err(corrupt),
                    None => Err(StateError::NotFound(query.to_string())),
                }
            }
            _ => Err(StateError::Ambiguous(query.to_string())),
        }
    }

    /// Remove container directories that never got their record (a create cut
    /// short by a crash or a full disk). Under the containers lock, so a create
    /// in progress is never mistaken for one; returns the ids removed.
    pub fn prune_half_made(&self) -> Result<Vec<String>, StateError> {
        let _lock = self.lock()?;
        let mut removed = Vec::new();
        for entry in std::fs::read_dir(&self.root).map_err(io_err(&self.root))?.flatten() {
            let dir = entry.path();
            if dir.join("container.json").symlink_metadata().is_err() {
                let _ = super::rootfs::unmount(&dir.join("merged"));
                fsutil::remove_tree(&dir).map_err(io_err(&dir))?;
                removed.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        Ok(removed)
    }

    /// Create the record (call with the lock held): fails if the name is taken.
    pub fn create(&self, record: &ContainerRecord) -> Result<PathBuf, StateError> {
        if let Some(other) = self.all()?.into_iter().find(|c| c.name == record.name) {
            return Err(StateError::NameInUse(record.name.clone(), other.id[..12].to_string()));
        }
        let dir = self.dir(&record.id);
        for sub in ["bundle", "upper", "work", "merged", "etc"] {
            std::fs::create_dir_all(dir.join(sub)).map_err(io_err(&dir))?;
        }
        self.save_state(&record.id, &ContainerState { status: Some(Status::Created), ..Default::default() })?;
        // The log exists from the start, so a reader can open it before the container writes.
        // Not world-readable: a container's output may hold secrets.
        std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o640).open(dir.join("ctr.log")).map_err(io_err(&dir))?;
        // container.json last: a directory without it is not a container yet.
        write_json(&dir.join("container.json"), record)?;
        Ok(dir)
    }

    pub fn state(&self, id: &str) -> ContainerState {
        std::fs::read(self.dir(id).join("state.json")).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
    }

    pub fn save_state(&self, id: &str, state: &ContainerState) -> Result<(), StateError> {
        write_json(&self.dir(id).join("state.json"), state)
    }

    pub fn observe(&self, id: &str) -> Observed {
        let state = self.state(id);
        match state.status {
            Some(Status::Exited) => Observed::Exited(state.exit_code.unwrap_or(-1)),
            Some(Status::Running) if state.shim().is_some_and(|p| p.alive()) => Observed::Running,
            Some(Status::Restarting) if state.shim().is_some_and(|p| p.alive()) => Observed::Restarting(state.exit_code.unwrap_or(-1)),
            Some(Status::Running | Status::Restarting) => Observed::Unknown,
            Some(Status::Created) | None => Observed::Created,
        }
    }

    /// The named volumes (`<root>/volumes-v1`).
    pub fn volumes(&self) -> super::volumes::Volumes {
        super::volumes::Volumes::new(self.volumes.clone())
    }

    /// A named volume's data directory, made (without labels) on first use.
    pub fn volume_dir(&self, name: &str) -> Result<PathBuf, super::volumes::VolumeError> {
        let volumes = self.volumes();
        volumes.ensure(name, &Default::default())?;
        volumes.mount_source(name)
    }

    pub fn is_volume(&self, path: &Path) -> bool {
        path.starts_with(&self.volumes)
    }

    /// Marks a stop or kill by a user: the restart policy must not undo it.
    pub fn stop_marker(&self, id: &str) -> PathBuf {
        self.dir(id).join("stop-requested")
    }

    pub fn log_path(&self, id: &str) -> PathBuf {
        self.dir(id).join("ctr.log")
    }
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), StateError> {
    fsutil::write_json(path, value).map_err(io_err(path))
}

/// docker-style names for containers started without `--name`.
pub fn generated_name(id: &str) -> String {
    const ADJECTIVES: [&str; 16] =
        ["brave", "calm", "eager", "fancy", "gentle", "happy", "jolly", "keen", "lucid", "merry", "nifty", "proud", "quirky", "sharp", "tender", "witty"];
    const NOUNS: [&str; 16] = [
        "hopper", "lovelace", "turing", "curie", "noether", "ritchie", "thompson", "torvalds", "hamilton", "knuth", "liskov", "dijkstra", "goldberg", "kay",
        "babbage", "shannon",
    ];
    let n = u64::from_str_radix(&id[..8], 16).unwrap_or(0) as usize;
    format!("{}_{}_{}", ADJECTIVES[n % 16], NOUNS[(n / 16) % 16], &id[8..12])
}
