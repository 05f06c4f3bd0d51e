//! Named volumes: `<root>/volumes-v1/<name>/_data` (what containers mount) and
//! `<name>/volume.json` (a [`VolumeRecord`]: labels, options, creation time), docker's
//! `local` driver without options.
//!
//! The local driver's one option set docker users write, `type=none,o=bind,device=/host/dir`,
//! makes a volume stand for a host directory: containers mount the directory itself (docker
//! mounts it on `_data`; the effect is the same) and removing the volume leaves it alone.
//!
//! A volume is made on first use by a container (`-v name:/path`), by `rde volume create`, or
//! by compose for the project's `volumes:` (with its labels). Volumes made by earlier versions
//! have no record: they are listed with their directory's time and no labels.

use crate::fsutil;
use crate::names::{self, NameKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

/// docker's label on volumes nobody named (`-v /path`, compose's volumes without a source):
/// `volume prune` removes only these unless `--all`.
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

/// What `volume inspect` shows of a volume (docker's field names).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VolumeRecord {
    pub name: String,
    /// Always `local`.
    pub driver: String,
    /// Unix seconds.
    pub created: i64,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

impl VolumeRecord {
    pub fn anonymous(&self) -> bool {
        self.labels.contains_key(ANONYMOUS_LABEL)
    }

    /// The host directory a `type=none,o=bind,device=DIR` volume stands for.
    pub fn bound_device(&self) -> Option<&str> {
        bound_device(&self.options)
    }
}

fn bound_device(options: &BTreeMap<String, String>) -> Option<&str> {
    let bind = options.get("o").is_some_and(|o| o.split(',').any(|p| p == "bind" || p == "rbind"));
    (bind && options.get("type").is_some_and(|t| t == "none")).then(|| options.get("device").map(String::as_str)).flatten()
}

/// Checks driver options before a volume is made with them: none, or a bind of an existing
/// absolute directory.
pub fn check_options(name: &str, options: &BTreeMap<String, String>) -> Result<(), VolumeError> {
    if options.is_empty() {
        return Ok(());
    }
    let list = || options.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
    let Some(device) = bound_device(options).filter(|_| options.keys().all(|k| matches!(k.as_str(), "type" | "o" | "device"))) else {
        return Err(VolumeError::UnsupportedOptions { name: name.to_string(), options: list() });
    };
    if !device.starts_with('/') || !Path::new(device).is_dir() {
        return Err(VolumeError::MissingDevice { name: name.to_string(), device: device.to_string() });
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    #[error("no such volume: {0}; hint: `rde volume ls` lists them")]
    NotFound(String),
    #[error("volume {name} is in use by container {containers}; hint: remove the container first (`rde container rm -f`, `rde down`)")]
    InUse { name: String, containers: String },
    #[error("volume {name}: {source}")]
    Name { name: String, source: names::NameError },
    #[error("volume {name}: {path}: {source}")]
    Io { name: String, path: PathBuf, source: io::Error },
    #[error(
        "volume {name}: driver options {options} are not supported; hint: the local driver here takes type=none,o=bind,device=/absolute/dir (a host directory), or none"
    )]
    UnsupportedOptions { name: String, options: String },
    #[error("volume {name}: device {device} is not a directory; hint: create it first")]
    MissingDevice { name: String, device: String },
}

/// The volumes directory (`<root>/volumes-v1`).
pub struct Volumes {
    root: PathBuf,
}

impl Volumes {
    pub fn new(root: PathBuf) -> Volumes {
        Volumes { root }
    }

    /// `<root>/volumes-v1/<name>`; names are data, never paths (docker's rule: no `/`, no `..`).
    fn path(&self, name: &str) -> Result<PathBuf, VolumeError> {
        names::validate(NameKind::Volume, name).map_err(|source| VolumeError::Name { name: name.to_string(), source })?;
        Ok(self.root.join(name))
    }

    /// The directory containers mount: `<name>/_data`.
    pub fn data_dir(&self, name: &str) -> Result<PathBuf, VolumeError> {
        Ok(self.path(name)?.join("_data"))
    }

    /// What a container mounts for the volume: its bound host directory, else `_data`.
    pub fn mount_source(&self, name: &str) -> Result<PathBuf, VolumeError> {
        match self.get(name)?.bound_device() {
            Some(device) => Ok(PathBuf::from(device)),
            None => self.data_dir(name),
        }
    }

    /// Makes the volume when missing (record first, then `_data`), with `labels`; returns its
    /// record and whether it was made now. An existing volume keeps its record.
    pub fn ensure(&self, name: &str, labels: &BTreeMap<String, String>) -> Result<(VolumeRecord, bool), VolumeError> {
        self.ensure_with(name, labels, &BTreeMap::new())
    }

    /// [`Volumes::ensure`] with driver options (checked by [`check_options`]).
    pub fn ensure_with(&self, name: &str, labels: &BTreeMap<String, String>, options: &BTreeMap<String, String>) -> Result<(VolumeRecord, bool), VolumeError> {
        check_options(name, options)?;
        let dir = self.path(name)?;
        let io = |path: &Path| {
            let (name, path) = (name.to_string(), path.to_path_buf());
            move |source| VolumeError::Io { name, path, source }
        };
        if dir.join("_data").is_dir() {
            return Ok((self.read(name, &dir), false));
        }
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let record = VolumeRecord {
            name: name.to_string(),
            driver: "local".into(),
            created: crate::time::now_unix() as i64,
            labels: labels.clone(),
            options: options.clone(),
        };
        let meta = dir.join("volume.json");
        fsutil::write_json(&meta, &record).map_err(io(&meta))?;
        // `_data` last: it is what makes a volume exist; a racing maker keeps the first record.
        match std::fs::create_dir(dir.join("_data")) {
            Ok(()) => Ok((record, true)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok((self.read(name, &dir), false)),
            Err(e) => Err(io(&dir)(e)),
        }
    }

    /// The record of an existing volume.
    pub fn get(&self, name: &str) -> Result<VolumeRecord, VolumeError> {
        let dir = self.path(name)?;
        if !dir.join("_data").is_dir() {
            return Err(VolumeError::NotFound(name.to_string()));
        }
        Ok(self.read(name, &dir))
    }

    fn read(&self, name: &str, dir: &Path) -> VolumeRecord {
        std::fs::read(dir.join("volume.json")).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_else(|| VolumeRecord {
            // Made before volumes had records: the directory's time stands in.
            name: name.to_string(),
            driver: "local".into(),
            created: dir
                .metadata()
                .ok()
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs() as i64),
            labels: BTreeMap::new(),
            options: BTreeMap::new(),
        })
    }

    /// Every volume, by name.
    pub fn all(&self) -> Result<Vec<VolumeRecord>, VolumeError> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(VolumeError::Io { name: String::new(), path: self.root.clone(), source }),
        };
        let mut out: Vec<VolumeRecord> =
            entries.flatten().filter(|e| e.path().join("_data").is_dir()).filter_map(|e| e.file_name().to_str().map(|n| self.read(n, &e.path()))).collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Removes the volume and its data; `false` when there was none. The caller checks use.
    pub fn remove(&self, name: &str) -> Result<bool, VolumeError> {
        let dir = self.path(name)?;
        if !dir.exists() {
            return Ok(false);
        }
        fsutil::remove_tree(&dir).map_err(|source| VolumeError::Io { name: name.to_string(), path: dir.clone(), source })?;
        Ok(true)
    }

    /// The volume a mount source belongs to (`<root>/volumes-v1/<name>/_data[/...]`).
    pub fn owning(&self, source: &Path) -> Option<String> {
        let rest = source.strip_prefix(&self.root).ok()?;
        let mut parts = rest.components();
        let name = parts.next()?.as_os_str().to_str()?.to_string();
        (parts.next()?.as_os_str() == "_data").then_some(name)
    }

    /// The bytes a volume's files take on disk.
    pub fn size(&self, name: &str) -> u64 {
        self.data_dir(name).map(|d| fsutil::disk_usage(&d)).unwrap_or(0)
    }
}

/// Container names by the volume they mount.
pub fn users(volumes: &Volumes, containers: &[super::state::ContainerRecord]) -> BTreeMap<String, Vec<String>> {
    let bound: BTreeMap<PathBuf, String> =
        volumes.all().unwrap_or_default().into_iter().filter_map(|v| Some((PathBuf::from(v.bound_device()?), v.name.clone()))).collect();
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for c in containers {
        for m in &c.spec.mounts {
            if let super::spec::MountKind::Bind { source } = &m.kind
                && let Some(name) = volumes.owning(Path::new(source)).or_else(|| bound.get(Path::new(source)).cloned())
            {
                out.entry(name).or_default().push(c.name.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_volume_is_made_once_with_its_labels_and_found_by_its_mounts() {
        let dir = tempfile::tempdir().unwrap();
        let volumes = Volumes::new(dir.path().join("volumes-v1"));
        let labels = BTreeMap::from([("com.docker.compose.project".to_string(), "shop".to_string())]);
        let (record, made) = volumes.ensure("shop_db", &labels).unwrap();
        assert!(made && record.labels == labels && record.driver == "local");
        let (again, made) = volumes.ensure("shop_db", &BTreeMap::new()).unwrap();
        assert!(!made && again == record, "an existing volume keeps its record");
        assert_eq!(volumes.all().unwrap(), std::slice::from_ref(&record));
        let data = volumes.data_dir("shop_db").unwrap();
        assert_eq!(volumes.owning(&data.join("pg")), Some("shop_db".into()));
        assert_eq!(volumes.owning(&dir.path().join("elsewhere")), None);
        assert!(matches!(volumes.ensure("../x", &labels), Err(VolumeError::Name { .. })));
        assert!(volumes.remove("shop_db").unwrap() && !volumes.remove("shop_db").unwrap());
        assert!(matches!(volumes.get("shop_db"), Err(VolumeError::NotFound(_))));
    }

    #[test]
    fn a_bind_volume_stands_for_its_host_directory() {
        let dir = tempfile::tempdir().unwrap();
        let volumes = Volumes::new(dir.path().join("volumes-v1"));
        let device = dir.path().join("host");
        std::fs::create_dir(&device).unwrap();
        let options = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>();
        let bind = options(&[("type", "none"), ("o", "bind"), ("device", device.to_str().unwrap())]);
        volumes.ensure_with("code", &BTreeMap::new(), &bind).unwrap();
        assert_eq!(volumes.mount_source("code").unwrap(), device);
        assert!(matches!(
            volumes.ensure_with("nfs", &BTreeMap::new(), &options(&[("type", "nfs"), ("o", "addr=1.2.3.4")])),
            Err(VolumeError::UnsupportedOptions { .. })
        ));
        let missing = options(&[("type", "none"), ("o", "bind"), ("device", "/nonexistent/rde")]);
        assert!(matches!(volumes.ensure_with("gone", &BTreeMap::new(), &missing), Err(VolumeError::MissingDevice { .. })));
        // Removing the volume leaves the host directory.
        std::fs::write(device.join("f"), "kept").unwrap();
        volumes.remove("code").unwrap();
        assert!(device.join("f").exists());
    }

    #[test]
    fn volumes_without_a_record_are_listed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("old/_data")).unwrap();
        let volumes = Volumes::new(dir.path().to_path_buf());
        let all = volumes.all().unwrap();
        assert_eq!(all.len(), 1);
        assert!(all[0].name == "old" && all[0].created > 0 && all[0].labels.is_empty());
    }
}
