//! The container's root filesystem: an overlay of the image's stored layers
//! (read-only lower dirs, shared by every container of the image) and the
//! container's own upper dir. Creating a container copies no image content.

use nix::mount::{MntFlags, MsFlags};
use std::path::{Component, Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    #[error("cannot mount the overlay rootfs at {target}: {source}")]
    Mount { target: PathBuf, source: nix::Error },
    #[error("the image has too many layers for one overlay mount ({len} bytes of options)")]
    TooManyLayers { len: usize },
    #[error("cannot create {path} in the container: {source}")]
    Mkdir { path: PathBuf, source: std::io::Error },
}

/// `userxattr`: rootless, overlayfs keeps its markers in `user.overlay.*` xattrs
/// (what the layer writer wrote), since `trusted.*` needs real root.
pub fn mount_overlay(layers: &[PathBuf], upper: &Path, work: &Path, target: &Path, userxattr: bool) -> Result<(), RootfsError> {
    let lower: Vec<String> = layers.iter().map(|l| l.display().to_string()).collect();
    let mut options = format!("lowerdir={},upperdir={},workdir={}", lower.join(":"), upper.display(), work.display());
    if userxattr {
        options.push_str(",userxattr");
    }
    // The kernel takes one page of mount options.
    if options.len() >= 4096 {
        return Err(RootfsError::TooManyLayers { len: options.len() });
    }
    nix::mount::mount(Some("overlay"), target, Some("overlay"), MsFlags::empty(), Some(options.as_str()))
        .map_err(|source| RootfsError::Mount { target: target.to_path_buf(), source })
}

/// Rootless on a cgroup v1 host, the user may not create cgroups, and
/// libcontainer cannot run without them: in the session's own cgroup and mount
/// namespaces, mount cgroup2 over /sys/fs/cgroup, where libcontainer's v2
/// manager tolerates what it may not do. Limits are then not enforced (best
/// effort rootless, as with podman on cgroup v1).
pub fn hide_host_cgroups() -> Result<(), RootfsError> {
    let target = Path::new("/sys/fs/cgroup");
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP).map_err(|source| RootfsError::Mount { target: target.to_path_buf(), source })?;
    nix::mount::mount(Some("cgroup2"), target, Some("cgroup2"), MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC, None::<&str>)
        .map_err(|source| RootfsError::Mount { target: target.to_path_buf(), source })
}

pub fn unmount(target: &Path) -> nix::Result<()> {
    match nix::mount::umount2(target, MntFlags::MNT_DETACH) {
        Err(nix::Error::EINVAL) | Err(nix::Error::ENOENT) => Ok(()), // not mounted
        other => other,
    }
}

/// Seed an empty volume with the image's content at `inside`, keeping owners,
/// modes and the directory's own ownership (the postgres image relies on it).
pub fn copy_up(root: &Path, inside: &str, volume: &Path) -> Result<(), RootfsError> {
    let src = root.join(inside.trim_start_matches('/'));
    let err = |e: std::io::Error| RootfsError::Mkdir { path: PathBuf::from(inside), source: e };
    if std::fs::read_dir(volume).map_err(err)?.next().is_some() || !src.is_dir() {
        return Ok(());
    }
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", src.display()))
        .arg(volume)
        .status()
        .map_err(err)?;
    if !status.success() {
        return Err(err(std::io::Error::other("cp -a failed")));
    }
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(&src).map_err(err)?;
    std::os::unix::fs::chown(volume, Some(meta.uid()), Some(meta.gid())).map_err(err)?;
    std::fs::set_permissions(volume, std::fs::Permissions::from(std::os::unix::fs::PermissionsExt::from_mode(meta.mode())))
        .map_err(err)?;
    Ok(())
}

/// Create `inside` (a path in the container) under `root` if it is missing.
/// `..` cannot climb out: components are applied lexically.
pub fn ensure_dir(root: &Path, inside: &str) -> Result<(), RootfsError> {
    let mut path = root.to_path_buf();
    for c in Path::new(inside).components() {
        match c {
            Component::Normal(n) => path.push(n),
            Component::ParentDir => {
                if path != root {
                    path.pop();
                }
            }
            _ => {}
        }
    }
    if std::fs::symlink_metadata(&path).is_ok() {
        return Ok(());
    }
    std::fs::create_dir_all(&path).map_err(|source| RootfsError::Mkdir { path: PathBuf::from(inside), source })
}

/// Create an empty file at `inside` (a bind mount target for a file).
pub fn ensure_file(root: &Path, inside: &str) -> Result<(), RootfsError> {
    let path = root.join(inside.trim_start_matches('/'));
    if std::fs::symlink_metadata(&path).is_ok() {
        return Ok(());
    }
    if let Some(parent) = Path::new(inside).parent() {
        ensure_dir(root, &parent.display().to_string())?;
    }
    std::fs::File::create(&path).map(drop).map_err(|source| RootfsError::Mkdir { path: PathBuf::from(inside), source })
}
