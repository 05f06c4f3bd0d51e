//! Where rde keeps its state: rootful under /var/lib/rde and /run/rde, rootless
//! under the user's XDG directories. `RDE_ROOT`, `RDE_RUNROOT` and `RDE_CONFIG`
//! override them (tests use this to get a private store each).

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum PathsError {
    #[error("cannot create {path}: {source}")]
    Create { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a directory owned by uid {uid} (a symlink, or someone else's); hint: remove it, or point {var} elsewhere")]
    NotOwned { path: PathBuf, uid: u32, var: &'static str },
    #[error("{path} can be written by other users (mode {mode:o}); hint: `chmod go-w {path}`, or point {var} at a private directory")]
    Writable { path: PathBuf, mode: u32, var: &'static str },
}

#[derive(Clone, Debug)]
pub struct Paths {
    /// Persistent data: blobs, layers, images, volumes.
    pub data: PathBuf,
    /// Runtime state that dies with a reboot: container state, sockets.
    pub run: PathBuf,
    /// rde's own configuration file (registry mirrors, insecure registries).
    pub config_file: PathBuf,
    pub rootless: bool,
}

impl Paths {
    pub fn detect() -> Paths {
        let rootless = is_rootless();
        let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        let home = crate::image::auth::home_dir();
        let (data, run, config_file) = if rootless {
            let uid = rustix::process::getuid().as_raw();
            (
                env("XDG_DATA_HOME").unwrap_or_else(|| home.join(".local/share")).join("rde"),
                env("XDG_RUNTIME_DIR").map(|d| d.join("rde")).unwrap_or_else(|| PathBuf::from(format!("/tmp/rde-run-{uid}"))),
                env("XDG_CONFIG_HOME").unwrap_or_else(|| home.join(".config")).join("rde/config.toml"),
            )
        } else {
            (PathBuf::from("/var/lib/rde"), PathBuf::from("/run/rde"), PathBuf::from("/etc/rde/config.toml"))
        };
        Paths { data: env("RDE_ROOT").unwrap_or(data), run: env("RDE_RUNROOT").unwrap_or(run), config_file: env("RDE_CONFIG").unwrap_or(config_file), rootless }
    }
}

impl Paths {
    /// Create the data and runtime roots as private directories (0700: the store
    /// holds set-id binaries from images and records with containers'
    /// environments, which other local users must not reach), tightening an
    /// existing root that is more open. Rootless, the runtime directory's parent
    /// (`$XDG_RUNTIME_DIR`) must be the user's own and not writable by others,
    /// as podman checks; the `/tmp` fallback is created 0700 and verified.
    pub fn prepare(&self) -> Result<(), PathsError> {
        let uid = rustix::process::geteuid().as_raw();
        if self.rootless
            && std::env::var_os("RDE_RUNROOT").is_none()
            && let Some(parent) = self.run.parent().filter(|p| *p != Path::new("/tmp"))
        {
            check_private(parent, uid, "XDG_RUNTIME_DIR", false)?;
        }
        for (dir, var) in [(&self.data, "RDE_ROOT"), (&self.run, "RDE_RUNROOT")] {
            private_dir(dir, uid, var)?;
        }
        Ok(())
    }
}

/// `dir` as a private directory of `uid`: made 0700 when missing (its parents
/// as usual), tightened to 0700 when it is ours but open to others, refused
/// when it is a symlink or someone else's.
fn private_dir(dir: &Path, uid: u32, var: &'static str) -> Result<(), PathsError> {
    let create = |source| PathsError::Create { path: dir.to_path_buf(), source };
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent).map_err(create)?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(create(e)),
    }
    check_private(dir, uid, var, true)
}

fn check_private(dir: &Path, uid: u32, var: &'static str, tighten: bool) -> Result<(), PathsError> {
    let meta = std::fs::symlink_metadata(dir).map_err(|source| PathsError::Create { path: dir.to_path_buf(), source })?;
    if !meta.is_dir() || meta.uid() != uid {
        return Err(PathsError::NotOwned { path: dir.to_path_buf(), uid, var });
    }
    let mode = meta.mode() & 0o7777;
    if tighten && mode & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|source| PathsError::Create { path: dir.to_path_buf(), source })?;
    } else if mode & 0o022 != 0 {
        return Err(PathsError::Writable { path: dir.to_path_buf(), mode, var });
    }
    Ok(())
}

/// Rootless means: not uid 0, or uid 0 only inside a user namespace that maps
/// less than the whole id space (rde's own rootless user namespace among them).
pub fn is_rootless() -> bool {
    if !rustix::process::geteuid().is_root() {
        return true;
    }
    match std::fs::read_to_string("/proc/self/uid_map") {
        Ok(map) => {
            let fields: Vec<&str> = map.split_whitespace().collect();
            fields != ["0", "0", "4294967295"]
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_are_private_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let uid = rustix::process::geteuid().as_raw();
        let data = dir.path().join("a/data");
        private_dir(&data, uid, "RDE_ROOT").unwrap();
        assert_eq!(std::fs::metadata(&data).unwrap().mode() & 0o7777, 0o700);
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
        private_dir(&data, uid, "RDE_ROOT").unwrap();
        assert_eq!(std::fs::metadata(&data).unwrap().mode() & 0o7777, 0o700, "an open root is tightened");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&data, &link).unwrap();
        assert!(matches!(private_dir(&link, uid, "RDE_ROOT"), Err(PathsError::NotOwned { .. })));
        assert!(matches!(private_dir(&data, uid + 1, "RDE_ROOT"), Err(PathsError::NotOwned { .. })));
        let shared = dir.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(matches!(check_private(&shared, uid, "XDG_RUNTIME_DIR", false), Err(PathsError::Writable { .. })));
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o700)).unwrap();
        check_private(&shared, uid, "XDG_RUNTIME_DIR", false).unwrap();
    }
}
