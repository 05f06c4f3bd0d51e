//! `rde cp`: files between the host and a container, both ways, as `docker cp`. Above the
//! runtime (containers' roots) and the builder (its in-root tree writer, shared with COPY).
//!
//! The container side is always reached through in-root resolution (libpathrs) from the
//! container's root: `/proc/<init>/root` while it runs (its volumes and bind mounts included),
//! else its overlay mounted for the copy. Nothing the container holds (a symlink to `/etc`, a
//! `..`) can make a read or a write land outside it. On the host side, what comes out of the
//! container is written with `openat` relative to directories rde made itself, never following
//! a symlink, so a container's link cannot redirect the rest of the copy into the host.

use crate::build::copy::join;
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
    #[error("container {0} is starting, restarting or stopping; hint: try again in a moment")]
    Changed(String),
    #[error("{0}")]
    Child(String),
    #[error("{0}: the source has no name to copy it under; hint: name a file or directory, or use DIR/. for a directory's contents")]
    NoName(String),
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

/// A container's root opened for copying.
pub struct ContainerRoot {
    pub root: pathrs::Root,
    name: String,
}

/// Runs `work` on the container's root: the running container's own view (its mounts
/// included), or for a stopped one its overlay with its volumes, binds and /etc files mounted
/// in a forked child's private mount namespace, so nothing stays mounted whatever happens to
/// the copy (Ctrl-C, a crash). Returns what `work` returns (the bytes copied).
pub fn with_root(containers: &Containers, record: &ContainerRecord, work: impl FnOnce(&ContainerRoot) -> Result<u64, CpError>) -> Result<u64, CpError> {
    let state = containers.state(&record.id);
    let name = record.name.clone();
    if let (Observed::Running, Some(init)) = (containers.observe(&record.id), state.init()) {
        // /proc/PID first, then the check that PID is still the container's init: a pid reused
        // in between would fail the check, never hand out another process's root.
        let proc_dir = format!("/proc/{}", init.pid);
        let dir = rustix::fs::open(&proc_dir, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).map_err(errno(&proc_dir))?;
        let root =
            rustix::fs::openat(&dir, "root", OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).map_err(errno(format!("{proc_dir}/root")))?;
        if !init.alive() {
            return Err(CpError::Changed(name));
        }
        return work(&ContainerRoot { root: pathrs::Root::from_fd(root), name });
    }
    if state.shim().is_some_and(|p| p.alive()) {
        return Err(CpError::Changed(name));
    }
    let copied =
        crate::process::in_child(|| mount_stopped(containers, record).and_then(|root| work(&root)).map(|bytes| bytes.to_string()).map_err(|e| e.to_string()))
            .map_err(|e| CpError::Io { what: "fork".into(), source: e.into() })?
            .map_err(CpError::Child)?;
    Ok(copied.trim().parse().unwrap_or(0))
}

/// In the forked child: a private mount namespace (nothing propagates back), the stopped
/// container's overlay, then its volumes, binds and /etc files where the container sees them,
/// read-only where the container has them read-only.
fn mount_stopped(containers: &Containers, record: &ContainerRecord) -> Result<ContainerRoot, CpError> {
    use nix::mount::MsFlags;
    let sys = |what: String| move |e: nix::Error| CpError::Io { what, source: e.into() };
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).map_err(sys("a private mount namespace".into()))?;
    nix::mount::mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_SLAVE, None::<&str>).map_err(sys("make / a slave".into()))?;
    let dir = containers.dir(&record.id);
    let target = dir.join("cp-root");
    std::fs::create_dir_all(&target).map_err(io(format!("make {}", target.display())))?;
    rootfs::mount_overlay(&record.layers, &dir.join("upper"), &dir.join("work"), &target, crate::paths::is_rootless(), record.spec.no_device_nodes)?;
    let root = pathrs::Root::open(&target).map_err(|source| CpError::Root { name: record.name.clone(), source })?;
    let spec = &record.spec;
    let etc = spec.etc_files.iter().map(|(dest, source)| (dest.as_str(), source.as_str(), false));
    let mounts = spec.mounts.iter().filter_map(|m| match &m.kind {
        crate::runtime::spec::MountKind::Bind { source } => Some((m.destination.as_str(), source.as_str(), m.read_only)),
        crate::runtime::spec::MountKind::Tmpfs { .. } => None,
    });
    for (dest, source, read_only) in etc.chain(mounts) {
        // Targets exist: the container made them when it first started.
        let Ok(handle) = root.resolve(dest) else { continue };
        let at = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&handle.as_fd()));
        nix::mount::mount(Some(source), at.as_str(), None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
            .map_err(sys(format!("mount {source} at {dest}")))?;
        if read_only {
            let handle = root.resolve(dest).map_err(|source| CpError::InRoot { container: record.name.clone(), path: dest.to_string(), source })?;
            let at = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&handle.as_fd()));
            nix::mount::mount(None::<&str>, at.as_str(), None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY, None::<&str>)
                .map_err(sys(format!("make {dest} read-only")))?;
        }
    }
    Ok(ContainerRoot { root, name: record.name.clone() })
}

/// `rde cp CONTAINER:SRC DEST`: a file, a symlink or a tree out of the container. `SRC/.`
/// copies a directory's contents. `follow`: a symlink SRC is copied as what it points to.
/// Setuid and setgid bits stay in the container unless `archive` (`-a`). Returns the bytes copied.
pub fn copy_out(root: &ContainerRoot, src: &str, dest: &Path, follow: bool, archive: bool) -> Result<u64, CpError> {
    let out = Out { root, keep_special_bits: archive };
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
                for name in list(root, src_clean)? {
                    bytes += out.entry(&join(src_clean, &name), &dir, &name, false)?;
                }
            } else {
                let name = base_name(src_clean);
                bytes += out.entry(src_clean, &dir, &name, follow)?;
            }
        }
        Ok(_) if src_is_dir => return Err(CpError::DirOntoFile { src: src.to_string(), dest: dest_text }),
        Ok(_) => {
            let (parent, name) = split_host(dest)?;
            bytes += out.entry(src_clean, &open_host_dir(&parent)?, &name, follow)?;
        }
        Err(_) => {
            if dest_text.ends_with('/') && !src_is_dir {
                return Err(CpError::MissingDestDir(dest_text));
            }
            let (parent, name) = split_host(dest)?;
            if !parent.is_dir() {
                return Err(CpError::MissingDestDir(parent.display().to_string()));
            }
            bytes += out.entry(src_clean, &open_host_dir(&parent)?, &name, follow)?;
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
    // The copy takes the name as written (with -L, the link's, not its target's).
    let name = std::path::absolute(src).ok().and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
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
            let name = name.filter(|n| !n.is_empty() && n != "..").ok_or_else(|| CpError::NoName(src_text.clone()))?;
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
fn list(root: &ContainerRoot, dir: &str) -> Result<Vec<String>, CpError> {
    let in_root = |source| CpError::InRoot { container: root.name.clone(), path: dir.to_string(), source };
    let file = root.root.resolve(dir).and_then(|h| h.reopen(OpenFlags::O_RDONLY | OpenFlags::O_DIRECTORY)).map_err(in_root)?;
    let mut names = Vec::new();
    for entry in rustix::fs::Dir::read_from(&file).map_err(errno(format!("read {dir}")))? {
        let name = entry.map_err(errno(format!("read {dir}")))?.file_name().to_string_lossy().into_owned();
        if name != "." && name != ".." {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// Writes what comes out of a container into host directories rde opened itself.
struct Out<'a> {
    root: &'a ContainerRoot,
    keep_special_bits: bool,
}

impl Out<'_> {
    /// Copies the container's `inside` to `name` in the host directory `dir`; returns the bytes.
    fn entry(&self, inside: &str, dir: &OwnedFd, name: &str, follow: bool) -> Result<u64, CpError> {
        let root = self.root;
        let in_root = |source| CpError::InRoot { container: root.name.clone(), path: inside.to_string(), source };
        let handle = if follow { root.root.resolve(inside) } else { root.root.resolve_nofollow(inside) }.map_err(in_root)?;
        let st = rustix::fs::fstat(&handle).map_err(errno(inside))?;
        let bits = if self.keep_special_bits { 0o7777 } else { 0o1777 };
        let mode = Mode::from_raw_mode(st.st_mode & bits);
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
                for entry in list(root, inside)? {
                    bytes += self.entry(&join(inside, &entry), &child, &entry, false)?;
                }
                rustix::fs::fchmod(&child, mode).map_err(errno(format!("chmod {name}")))?;
                set_mtime(&child, st.st_mtime);
            }
            FileType::RegularFile => {
                let mut input = handle.reopen(OpenFlags::O_RDONLY).map_err(in_root)?;
                if existing.is_some() {
                    rustix::fs::unlinkat(dir, name, AtFlags::empty()).map_err(errno(format!("replace {name}")))?;
                }
                let fd = rustix::fs::openat(
                    dir,
                    name,
                    OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )
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
}

fn set_mtime(fd: impl AsFd, seconds: i64) {
    let time = rustix::fs::Timestamps {
        last_access: rustix::fs::Timespec { tv_sec: seconds, tv_nsec: 0 },
        last_modification: rustix::fs::Timespec { tv_sec: seconds, tv_nsec: 0 },
    };
    let _ = rustix::fs::futimens(fd, &time);
}
