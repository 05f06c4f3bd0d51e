//! `rde cp`: files between the host and a container, both ways, as `docker cp`. Above the
//! runtime (containers' roots) and the builder (its in-root tree writer, shared with COPY).
//!
//! The container side is always reached through in-root resolution (libpathrs) from the
//! container's root: `/proc/<init>/root` while it runs (its volumes and bind mounts included),
//! else its overlay mounted for the copy. Nothing the container holds (a symlink to `/etc`, a
//! `..`) can make a read or a write land outside it. On the host side, what comes out of the
//! container is written with `openat` relative to directories rde made itself, never following
//! a symlink, so a container's link cannot redirect the rest of the copy into the host.

use crate::runtime::rootfs;
use crate::runtime::state::{ContainerRecord, Containers, Observed};
use pathrs::flags::OpenFlags;
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum CpError {
    #[error("no such file or directory in container {container}: {path}")]
    NotFoundInContainer { container: String, path: String },
    #[error("{0}: no such file or directory")]
    NotFoundOnHost(PathBuf),
    #[error("destination directory {0} does not exist; hint: create it first, or name a file")]
    MissingDestDir(String),
    #[error("cannot copy the directory {src} onto the file {dest}")]
    DirOntoFile { src: String, dest: String },
    #[error("container {name}: cannot open its root: {source}")]
    Root { name: String, source: pathrs::error::Error },
    #[error("in container {container}: {path}: {source}")]
    InRoot { container: String, path: String, source: pathrs::error::Error },
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error(transparent)]
    Copy(#[from] crate::build::copy::CopyError),
    #[error(transparent)]
    Rootfs(#[from] rootfs::RootfsError),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> CpError {
    let what = what.into();
    move |source| CpError::Io { what, source }
}

fn errno(what: impl Into<String>) -> impl FnOnce(rustix::io::Errno) -> CpError {
    let what = what.into();
    move |e| CpError::Io { what, source: e.into() }
}

/// A container's root opened for copying; a stopped container's overlay is unmounted on drop.
pub struct ContainerRoot {
    pub root: pathrs::Root,
    name: String,
    mounted: Option<PathBuf>,
}

impl Drop for ContainerRoot {
    fn drop(&mut self) {
        if let Some(dir) = self.mounted.take() {
            let _ = rootfs::unmount(&dir);
            let _ = std::fs::remove_dir(&dir);
        }
    }
}

/// Opens the root of `record`: the running container's own view, or its overlay mounted now.
pub fn open(containers: &Containers, record: &ContainerRecord) -> Result<ContainerRoot, CpError> {
    let name = record.name.clone();
    let root_err = |source| CpError::Root { name: record.name.clone(), source };
    let init = containers.state(&record.id).init().filter(|p| p.alive());
    if let (Observed::Running, Some(init)) = (containers.observe(&record.id), init) {
        // A magic link to the container's root (in its mount namespace): followed once, here.
        let path = format!("/proc/{}/root", init.pid);
        let fd = rustix::fs::open(&path, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).map_err(errno(path))?;
        return Ok(ContainerRoot { root: pathrs::Root::from_fd(fd), name, mounted: None });
    }
    let dir = containers.dir(&record.id);
    let target = dir.join("cp-root");
    std::fs::create_dir_all(&target).map_err(io(format!("make {}", target.display())))?;
    rootfs::mount_overlay(&record.layers, &dir.join("upper"), &dir.join("work"), &target, crate::paths::is_rootless(), record.spec.no_device_nodes)?;
    // Dropped (unmounting everything below, lazily) if a step fails.
    let opened = ContainerRoot { root: pathrs::Root::open(&target).map_err(root_err)?, name, mounted: Some(target) };
    // Its volumes, bind mounts and /etc files, where the container sees them (the targets
    // exist: the container made them when it first started).
    let spec = &record.spec;
    let binds = spec.etc_files.iter().map(|(dest, source)| (dest.as_str(), source.as_str())).chain(spec.mounts.iter().filter_map(|m| match &m.kind {
        crate::runtime::spec::MountKind::Bind { source } => Some((m.destination.as_str(), source.as_str())),
        crate::runtime::spec::MountKind::Tmpfs { .. } => None,
    }));
    for (dest, source) in binds {
        let Ok(handle) = opened.root.resolve(dest) else { continue };
        let at = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&handle.as_fd()));
        nix::mount::mount(Some(source), at.as_str(), None::<&str>, nix::mount::MsFlags::MS_BIND | nix::mount::MsFlags::MS_REC, None::<&str>)
            .map_err(|e| CpError::Io { what: format!("mount {source} at {dest}"), source: e.into() })?;
    }
    Ok(opened)
}

/// `rde cp CONTAINER:SRC DEST`: a file, a symlink or a tree out of the container. `SRC/.`
/// copies a directory's contents. `follow`: a symlink SRC is copied as what it points to.
/// Returns the bytes copied.
pub fn copy_out(root: &ContainerRoot, src: &str, dest: &Path, follow: bool) -> Result<u64, CpError> {
    let in_root = |path: &str| {
        let (container, path) = (root.name.clone(), path.to_string());
        move |source| CpError::InRoot { container, path, source }
    };
    let contents_only = src.ends_with("/.");
    let src_clean = src.trim_end_matches("/.").trim_end_matches('/');
    let src_clean = if src_clean.is_empty() { "/" } else { src_clean };
    let handle = if follow { root.root.resolve(src_clean) } else { root.root.resolve_nofollow(src_clean) }
        .map_err(|_| CpError::NotFoundInContainer { container: root.name.clone(), path: src.to_string() })?;
    let src_is_dir = FileType::from_raw_mode(rustix::fs::fstat(&handle).map_err(errno(src))?.st_mode) == FileType::Directory;
    drop(handle);
    let dest_text = dest.display().to_string();
    let mut bytes = 0;
    match std::fs::metadata(dest) {
        Ok(meta) if meta.is_dir() => {
            let dir = open_host_dir(dest)?;
            if contents_only && src_is_dir {
                for name in list(&root.root, src_clean).map_err(in_root(src_clean))? {
                    bytes += out_entry(root, &join(src_clean, &name), &dir, &name, false)?;
                }
            } else {
                let name = base_name(src_clean);
                bytes += out_entry(root, src_clean, &dir, &name, follow)?;
            }
        }
        Ok(_) if src_is_dir => return Err(CpError::DirOntoFile { src: src.to_string(), dest: dest_text }),
        Ok(_) => {
            let (parent, name) = split_host(dest)?;
            bytes += out_entry(root, src_clean, &open_host_dir(&parent)?, &name, follow)?;
        }
        Err(_) => {
            if dest_text.ends_with('/') && !src_is_dir {
                return Err(CpError::MissingDestDir(dest_text));
            }
            let (parent, name) = split_host(dest)?;
            if !parent.is_dir() {
                return Err(CpError::MissingDestDir(parent.display().to_string()));
            }
            bytes += out_entry(root, src_clean, &open_host_dir(&parent)?, &name, follow)?;
        }
    }
    Ok(bytes)
}

/// `rde cp SRC CONTAINER:DEST`: a host file, symlink or tree into the container, owned by root
/// unless `archive` (`-a`: the sources' owners). `SRC/.` copies a directory's contents;
/// `follow` (`-L`): a symlink SRC is copied as what it points to. Returns the bytes copied.
pub fn copy_in(root: &ContainerRoot, src: &Path, dest: &str, archive: bool, follow: bool) -> Result<u64, CpError> {
    let src_text = src.display().to_string();
    let contents_only = src_text.ends_with("/.");
    let meta = if follow { std::fs::metadata(src) } else { std::fs::symlink_metadata(src) }.map_err(|_| CpError::NotFoundOnHost(src.to_path_buf()))?;
    let src = if follow { std::fs::canonicalize(src).map_err(io(src_text.clone()))? } else { src.to_path_buf() };
    let owner = (!archive).then_some((0, 0));
    let dest_clean = dest.trim_end_matches('/');
    let dest_clean = if dest_clean.is_empty() { "/" } else { dest_clean };
    let dest_kind = root.root.resolve(dest_clean).ok().and_then(|h| rustix::fs::fstat(&h).ok()).map(|st| FileType::from_raw_mode(st.st_mode));
    let bytes = apparent_size(&src);
    match dest_kind {
        Some(FileType::Directory) if contents_only && meta.is_dir() => {
            for entry in std::fs::read_dir(&src).map_err(io(src_text.clone()))?.flatten() {
                crate::build::copy::copy_into_root(&root.root, &entry.path(), &join(dest_clean, &entry.file_name().to_string_lossy()), owner)?;
            }
        }
        Some(FileType::Directory) => {
            let name = src.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            crate::build::copy::copy_into_root(&root.root, &src, &join(dest_clean, &name), owner)?;
        }
        Some(_) if meta.is_dir() => return Err(CpError::DirOntoFile { src: src_text, dest: dest.to_string() }),
        Some(_) => crate::build::copy::copy_into_root(&root.root, &src, dest_clean, owner)?,
        None => {
            let parent = dest_clean.rsplit_once('/').map(|(p, _)| if p.is_empty() { "/" } else { p }).unwrap_or("/");
            let parent_is_dir = root
                .root
                .resolve(parent)
                .ok()
                .and_then(|h| rustix::fs::fstat(&h).ok())
                .is_some_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory);
            if !parent_is_dir || (dest.ends_with('/') && !meta.is_dir()) {
                return Err(CpError::MissingDestDir(if parent_is_dir { dest.to_string() } else { parent.to_string() }));
            }
            crate::build::copy::copy_into_root(&root.root, &src, dest_clean, owner)?;
        }
    }
    Ok(bytes)
}

/// The bytes of the files under `path` (symlinks not followed).
fn apparent_size(path: &Path) -> u64 {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::read_dir(path).map(|rd| rd.flatten().map(|e| apparent_size(&e.path())).sum()).unwrap_or(0),
        Ok(m) if m.is_file() => m.len(),
        _ => 0,
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir == "/" { format!("/{name}") } else { format!("{dir}/{name}") }
}

fn base_name(path: &str) -> String {
    path.rsplit('/').find(|p| !p.is_empty()).unwrap_or("root").to_string()
}

fn split_host(dest: &Path) -> Result<(PathBuf, String), CpError> {
    let absolute = std::path::absolute(dest).map_err(io(dest.display().to_string()))?;
    let name = absolute.file_name().map(|n| n.to_string_lossy().into_owned()).ok_or_else(|| CpError::MissingDestDir(dest.display().to_string()))?;
    Ok((absolute.parent().unwrap_or(Path::new("/")).to_path_buf(), name))
}

fn open_host_dir(path: &Path) -> Result<OwnedFd, CpError> {
    rustix::fs::open(path, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).map_err(errno(path.display().to_string()))
}

/// The names in a container directory.
fn list(root: &pathrs::Root, dir: &str) -> Result<Vec<String>, pathrs::error::Error> {
    let file = root.resolve(dir)?.reopen(OpenFlags::O_RDONLY | OpenFlags::O_DIRECTORY)?;
    let mut names = Vec::new();
    if let Ok(entries) = rustix::fs::Dir::read_from(&file) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name != "." && name != ".." {
                names.push(name);
            }
        }
    }
    names.sort();
    Ok(names)
}

/// Copies the container's `inside` to `name` in the host directory `dir`; returns the bytes.
fn out_entry(root: &ContainerRoot, inside: &str, dir: &OwnedFd, name: &str, follow: bool) -> Result<u64, CpError> {
    let in_root = |source| CpError::InRoot { container: root.name.clone(), path: inside.to_string(), source };
    let handle = if follow { root.root.resolve(inside) } else { root.root.resolve_nofollow(inside) }.map_err(in_root)?;
    let st = rustix::fs::fstat(&handle).map_err(errno(inside))?;
    let mode = Mode::from_raw_mode(st.st_mode & 0o7777);
    let existing = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).ok().map(|s| FileType::from_raw_mode(s.st_mode));
    let mut bytes = 0;
    match FileType::from_raw_mode(st.st_mode) {
        FileType::Directory => {
            match existing {
                Some(FileType::Directory) => {}
                Some(_) => return Err(CpError::DirOntoFile { src: inside.to_string(), dest: name.to_string() }),
                None => rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(0o700)).map_err(errno(format!("mkdir {name}")))?,
            }
            let child = rustix::fs::openat(dir, name, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())
                .map_err(errno(format!("open {name}")))?;
            drop(handle);
            for entry in list(&root.root, inside).map_err(|source| CpError::InRoot { container: root.name.clone(), path: inside.to_string(), source })? {
                bytes += out_entry(root, &join(inside, &entry), &child, &entry, false)?;
            }
            rustix::fs::fchmod(&child, mode).map_err(errno(format!("chmod {name}")))?;
            set_mtime(&child, st.st_mtime);
        }
        FileType::RegularFile => {
            let mut input = handle.reopen(OpenFlags::O_RDONLY).map_err(in_root)?;
            if existing.is_some() {
                rustix::fs::unlinkat(dir, name, AtFlags::empty()).map_err(errno(format!("replace {name}")))?;
            }
            let fd =
                rustix::fs::openat(dir, name, OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::from_raw_mode(0o600))
                    .map_err(errno(format!("create {name}")))?;
            let mut out = std::fs::File::from(fd);
            bytes += std::io::copy(&mut input, &mut out).map_err(io(format!("copy {inside}")))?;
            rustix::fs::fchmod(out.as_fd(), mode).map_err(errno(format!("chmod {name}")))?;
            set_mtime(out.as_fd(), st.st_mtime);
        }
        FileType::Symlink => {
            let target = rustix::fs::readlinkat(&handle, "", Vec::new()).map_err(errno(format!("readlink {inside}")))?;
            if existing.is_some() {
                rustix::fs::unlinkat(dir, name, AtFlags::empty()).map_err(errno(format!("replace {name}")))?;
            }
            rustix::fs::symlinkat(target.as_c_str(), dir, name).map_err(errno(format!("symlink {name}")))?;
        }
        // Devices, sockets and fifos are not copied.
        _ => {}
    }
    Ok(bytes)
}

fn set_mtime(fd: impl AsFd, seconds: i64) {
    let time = rustix::fs::Timestamps {
        last_access: rustix::fs::Timespec { tv_sec: seconds, tv_nsec: 0 },
        last_modification: rustix::fs::Timespec { tv_sec: seconds, tv_nsec: 0 },
    };
    let _ = rustix::fs::futimens(fd, &time);
}
