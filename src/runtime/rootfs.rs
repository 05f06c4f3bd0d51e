//! The container's root filesystem: an overlay of the image's stored layers
//! (read-only lower dirs, shared by every container of the image) and the
//! container's own upper dir. Creating a container copies no image content.

use nix::mount::{MntFlags, MsFlags};
use pathrs::flags::OpenFlags;
use rustix::fs::{AtFlags, FileType, Mode, OFlags, Timestamps};
use std::ffi::OsStr;
use std::fs::Permissions;
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    #[error("cannot mount the overlay rootfs at {target}: {source}")]
    Mount { target: PathBuf, source: nix::Error },
    #[error("the image has too many layers for one overlay mount ({len} bytes of options)")]
    TooManyLayers { len: usize },
    #[error("cannot create {path} in the container: {source}")]
    Mkdir { path: PathBuf, source: std::io::Error },
    #[error("{path} in the container: {source}")]
    InRoot { path: String, source: pathrs::error::Error },
    #[error("the image's {path} is larger than {limit} bytes; hint: an image with such a file is not supported")]
    TooLarge { path: String, limit: u64 },
    #[error("cannot copy the image's {path} into the volume: {source}")]
    CopyUp { path: String, source: std::io::Error },
}

/// `userxattr`: rootless, overlayfs keeps its markers in `user.overlay.*` xattrs
/// (what the layer writer wrote), since `trusted.*` needs real root. `nodev`:
/// device nodes in the image or written by the container cannot be opened
/// (where no device cgroup stands guard, see [`devices_confined`]).
pub fn mount_overlay(layers: &[PathBuf], upper: &Path, work: &Path, target: &Path, userxattr: bool, nodev: bool) -> Result<(), RootfsError> {
    let lower: Vec<String> = layers.iter().map(|l| l.display().to_string()).collect();
    let mut options = format!("lowerdir={},upperdir={},workdir={}", lower.join(":"), upper.display(), work.display());
    if userxattr {
        options.push_str(",userxattr");
    }
    // The kernel takes one page of mount options.
    if options.len() >= 4096 {
        return Err(RootfsError::TooManyLayers { len: options.len() });
    }
    let flags = if nodev { MsFlags::MS_NODEV } else { MsFlags::empty() };
    nix::mount::mount(Some("overlay"), target, Some("overlay"), flags, Some(options.as_str()))
        .map_err(|source| RootfsError::Mount { target: target.to_path_buf(), source })
}

/// Whether the device allow-list in a container's spec is enforced here, so
/// that container root with CAP_MKNOD still cannot open host devices. True
/// with cgroup v1's devices controller (hybrid hosts included). False on a
/// cgroup v2 host: there the allow-list is an eBPF program, which the
/// libcontainer build rde uses does not load; rde then drops CAP_MKNOD and
/// mounts the rootfs and volumes `nodev` instead. Rootless it does not matter:
/// the kernel never honours device nodes on mounts made in a user namespace.
pub fn devices_confined() -> bool {
    const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
    let unified = rustix::fs::statfs("/sys/fs/cgroup").is_ok_and(|st| st.f_type == CGROUP2_SUPER_MAGIC);
    !unified && Path::new("/sys/fs/cgroup/devices/devices.allow").exists()
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

/// Every path inside a container's or an image's tree is resolved by
/// [pathrs](https://github.com/cyphar/libpathrs) (`openat2(RESOLVE_IN_ROOT)`
/// with a safe fallback): `..`, absolute and relative symlinks all stay inside
/// `root`, so nothing an image or a container wrote can make rde touch a host path.
fn open_root(root: &Path, inside: &str) -> Result<pathrs::Root, RootfsError> {
    pathrs::Root::open(root).map_err(|source| RootfsError::InRoot { path: inside.to_string(), source })
}

/// Create the directory `inside` (a path in the container) under `root` if it
/// is missing, with its parents (mode 0755), resolving every component inside
/// `root`. A dangling symlink on the way is followed (inside `root`) and its
/// target created, as docker does for `WORKDIR` and mount targets.
pub fn ensure_dir(root: &Path, inside: &str) -> Result<(), RootfsError> {
    let r = open_root(root, inside)?;
    let path = follow_dangling(&r, inside);
    r.mkdir_all(&path, &Permissions::from_mode(0o755)).map(drop).map_err(|source| RootfsError::InRoot { path: inside.to_string(), source })
}

/// Create an empty file at `inside` (a bind mount target for a file) if nothing
/// is there yet, resolving inside `root` as [`ensure_dir`] does (an image whose
/// /etc/hostname is a dangling link gets the link's target made).
pub fn ensure_file(root: &Path, inside: &str) -> Result<(), RootfsError> {
    let r = open_root(root, inside)?;
    let err = |source| RootfsError::InRoot { path: inside.to_string(), source };
    let path = follow_dangling(&r, inside);
    if r.resolve(&path).is_ok() {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        r.mkdir_all(parent, &Permissions::from_mode(0o755)).map_err(err)?;
    }
    match r.create_file(&path, OpenFlags::O_WRONLY | OpenFlags::O_CLOEXEC, &Permissions::from_mode(0o644)) {
        Ok(_) => Ok(()),
        // Made by someone else meanwhile.
        Err(_) if r.resolve(&path).is_ok() => Ok(()),
        Err(e) => Err(err(e)),
    }
}

/// `inside` with each dangling symlink on its way replaced by the link's
/// target, so that creating the result creates what the link points at. Only
/// names change: every later step still resolves inside the root (a link to
/// `/tmp/x` means `<root>/tmp/x`). At most 40 links, as the kernel allows.
fn follow_dangling(r: &pathrs::Root, inside: &str) -> PathBuf {
    let mut path = Path::new("/").join(inside);
    'restart: for _ in 0..40 {
        let parts: Vec<Component> = path.components().filter(|c| !matches!(c, Component::RootDir)).collect();
        let mut prefix = PathBuf::from("/");
        for (i, part) in parts.iter().enumerate() {
            prefix.push(part);
            if r.resolve(&prefix).is_ok() {
                continue;
            }
            if let Ok(target) = r.readlink(&prefix) {
                let mut next = prefix.parent().unwrap_or(Path::new("/")).join(target);
                // (Joining an empty rest would add a trailing slash.)
                next.extend(&parts[i + 1..]);
                path = next;
                continue 'restart;
            }
            // Missing from here on: made as named.
            break 'restart;
        }
        break;
    }
    path
}

/// The largest /etc/passwd or /etc/group rde reads from an image (16 MiB).
pub const MAX_ACCOUNT_FILE: u64 = 16 << 20;

/// The regular file at `inside`, resolved inside `root`, read up to `limit`
/// bytes: `Ok(None)` when it does not exist or is not a regular file (a FIFO or a
/// device node is never opened), `TooLarge` past the limit.
pub fn read_file(root: &Path, inside: &str, limit: u64) -> Result<Option<Vec<u8>>, RootfsError> {
    let r = open_root(root, inside)?;
    let Ok(handle) = r.resolve(inside) else { return Ok(None) };
    // The handle is an O_PATH descriptor: inspect it before opening anything.
    match rustix::fs::fstat(&handle) {
        Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::RegularFile => {}
        _ => return Ok(None),
    }
    let file = handle.reopen(OpenFlags::O_RDONLY | OpenFlags::O_CLOEXEC).map_err(|source| RootfsError::InRoot { path: inside.to_string(), source })?;
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes).map_err(|source| RootfsError::Mkdir { path: PathBuf::from(inside), source })?;
    if bytes.len() as u64 > limit {
        return Err(RootfsError::TooLarge { path: inside.to_string(), limit });
    }
    Ok(Some(bytes))
}

/// What `inside` is in `root`, without following a final symlink and without
/// leaving `root`: `None` when missing.
pub fn file_type(root: &Path, inside: &str) -> Option<FileType> {
    let handle = pathrs::Root::open(root).ok()?.resolve_nofollow(inside).ok()?;
    rustix::fs::fstat(&handle).ok().map(|st| FileType::from_raw_mode(st.st_mode))
}

/// Seed an empty named volume with the image's content at `inside`, as docker
/// does: owners, modes and times kept, the volume directory taking the source
/// directory's owner and mode (the postgres image relies on it). The source is
/// resolved inside the container's `root`; the copy walks descriptors and never
/// follows a symlink, so neither the image nor a container sharing the volume
/// can redirect it to a host path. Symlinks are copied as symlinks; device
/// nodes and sockets are skipped; hard links become separate files.
pub fn copy_up(root: &Path, inside: &str, volume: &Path) -> Result<(), RootfsError> {
    let err = |e: std::io::Error| RootfsError::CopyUp { path: inside.to_string(), source: e };
    let dest = rustix::fs::open(volume, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty()).map_err(|e| err(e.into()))?;
    if rustix::fs::Dir::read_from(&dest).map_err(|e| err(e.into()))?.flatten().any(|e| !matches!(e.file_name().to_bytes(), b"." | b"..")) {
        return Ok(());
    }
    let r = open_root(root, inside)?;
    let Ok(handle) = r.resolve(inside) else { return Ok(()) };
    let src = match handle.reopen(OpenFlags::O_RDONLY | OpenFlags::O_DIRECTORY | OpenFlags::O_CLOEXEC) {
        Ok(dir) => OwnedFd::from(dir),
        // Not a directory: nothing to seed.
        Err(_) => return Ok(()),
    };
    copy_tree(src.as_fd(), dest.as_fd()).map_err(err)?;
    copy_attributes(src.as_fd(), dest.as_fd()).map_err(err)
}

fn copy_tree(src: BorrowedFd<'_>, dest: BorrowedFd<'_>) -> std::io::Result<()> {
    let mut names = Vec::new();
    for entry in rustix::fs::Dir::read_from(src)? {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(OsStr::from_bytes(name).to_os_string());
        }
    }
    let nofollow = OFlags::NOFOLLOW | OFlags::CLOEXEC;
    for name in names {
        let st = rustix::fs::statat(src, &name, AtFlags::SYMLINK_NOFOLLOW)?;
        let owner = (Some(rustix::fs::Uid::from_raw(st.st_uid)), Some(rustix::fs::Gid::from_raw(st.st_gid)));
        match FileType::from_raw_mode(st.st_mode) {
            FileType::Directory => {
                rustix::fs::mkdirat(dest, &name, Mode::from_raw_mode(0o700))?;
                let from = rustix::fs::openat(src, &name, OFlags::RDONLY | OFlags::DIRECTORY | nofollow, Mode::empty())?;
                let to = rustix::fs::openat(dest, &name, OFlags::RDONLY | OFlags::DIRECTORY | nofollow, Mode::empty())?;
                copy_tree(from.as_fd(), to.as_fd())?;
                copy_attributes(from.as_fd(), to.as_fd())?;
            }
            FileType::RegularFile => {
                let from = rustix::fs::openat(src, &name, OFlags::RDONLY | OFlags::NONBLOCK | nofollow, Mode::empty())?;
                let to = rustix::fs::openat(dest, &name, OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | nofollow, Mode::from_raw_mode(0o600))?;
                let (mut from, mut to) = (std::fs::File::from(from), std::fs::File::from(to));
                std::io::copy(&mut from, &mut to)?;
                copy_attributes(from.as_fd(), to.as_fd())?;
            }
            FileType::Symlink => {
                let target = rustix::fs::readlinkat(src, &name, Vec::new())?;
                rustix::fs::symlinkat(target.as_c_str(), dest, &name)?;
                rustix::fs::chownat(dest, &name, owner.0, owner.1, AtFlags::SYMLINK_NOFOLLOW)?;
                rustix::fs::utimensat(dest, &name, &times_of(&st), AtFlags::SYMLINK_NOFOLLOW)?;
            }
            FileType::Fifo => {
                rustix::fs::mknodat(dest, &name, FileType::Fifo, Mode::from_raw_mode(st.st_mode & 0o7777), 0)?;
                rustix::fs::chownat(dest, &name, owner.0, owner.1, AtFlags::SYMLINK_NOFOLLOW)?;
            }
            // Device nodes and sockets have no place in a volume.
            _ => {}
        }
    }
    Ok(())
}

/// An inode's access and modification times, to set on its copy.
fn times_of(st: &rustix::fs::Stat) -> Timestamps {
    Timestamps {
        last_access: rustix::fs::Timespec { tv_sec: st.st_atime, tv_nsec: st.st_atime_nsec as _ },
        last_modification: rustix::fs::Timespec { tv_sec: st.st_mtime, tv_nsec: st.st_mtime_nsec as _ },
    }
}

/// Owner, then mode (a chown clears set-id bits), then times, from one open inode to another.
fn copy_attributes(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> std::io::Result<()> {
    let st = rustix::fs::fstat(from)?;
    rustix::fs::fchown(to, Some(rustix::fs::Uid::from_raw(st.st_uid)), Some(rustix::fs::Gid::from_raw(st.st_gid)))?;
    rustix::fs::fchmod(to, Mode::from_raw_mode(st.st_mode & 0o7777))?;
    rustix::fs::futimens(to, &times_of(&st))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A tree with hostile symlinks, and a "host" directory outside it.
    fn hostile() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let (root, host) = (dir.path().join("root"), dir.path().join("host"));
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::create_dir_all(&host).unwrap();
        std::fs::write(host.join("secret"), "host secret\n").unwrap();
        symlink(&host, root.join("app")).unwrap();
        symlink("../../../../../host", root.join("rel")).unwrap();
        symlink(host.join("secret"), root.join("etc/passwd")).unwrap();
        (dir, root, host)
    }

    #[test]
    fn directories_and_files_are_made_inside_the_root() {
        let (_dir, root, host) = hostile();
        ensure_dir(&root, "/app/x/y").unwrap();
        ensure_dir(&root, "/rel/z").unwrap();
        ensure_file(&root, "/app/hosts").unwrap();
        symlink(host.join("hostname"), root.join("etc/hostname")).unwrap();
        ensure_file(&root, "/etc/hostname").unwrap();
        assert!(root.join(host.strip_prefix("/").unwrap()).join("hostname").is_file(), "a dangling link's target is made inside");
        ensure_dir(&root, "../../../escape").unwrap();
        assert_eq!(std::fs::read_dir(&host).unwrap().count(), 1, "nothing new on the host side");
        // The absolute link resolves as if `root` were `/`.
        assert!(root.join(host.strip_prefix("/").unwrap()).join("x/y").is_dir());
        assert!(root.join("escape").is_dir());
        ensure_dir(&root, "/app/x/y").unwrap();
    }

    #[test]
    fn reads_stay_inside_and_are_bounded() {
        let (_dir, root, _host) = hostile();
        assert_eq!(read_file(&root, "/etc/passwd", 100).unwrap(), None, "the link's target does not exist in the root");
        std::fs::write(root.join("etc/group"), "root:x:0:\n").unwrap();
        assert_eq!(read_file(&root, "etc/group", 100).unwrap().unwrap(), b"root:x:0:\n");
        assert!(matches!(read_file(&root, "etc/group", 4), Err(RootfsError::TooLarge { .. })));
        nix::unistd::mkfifo(&root.join("etc/fifo"), nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
        assert_eq!(read_file(&root, "etc/fifo", 100).unwrap(), None, "a FIFO is never opened (it would block)");
    }

    #[test]
    fn copy_up_never_leaves_the_root() {
        let (dir, root, _host) = hostile();
        let volume = dir.path().join("volume");
        std::fs::create_dir(&volume).unwrap();
        copy_up(&root, "/app", &volume).unwrap();
        assert_eq!(std::fs::read_dir(&volume).unwrap().count(), 0, "the host directory was not copied");
        std::fs::create_dir_all(root.join("data/sub")).unwrap();
        std::fs::write(root.join("data/sub/f"), "x").unwrap();
        std::fs::set_permissions(root.join("data/sub/f"), Permissions::from_mode(0o640)).unwrap();
        std::fs::set_permissions(root.join("data"), Permissions::from_mode(0o711)).unwrap();
        symlink("/etc/shadow", root.join("data/link")).unwrap();
        copy_up(&root, "/data", &volume).unwrap();
        assert_eq!(std::fs::read_to_string(volume.join("sub/f")).unwrap(), "x");
        assert_eq!(std::fs::metadata(volume.join("sub/f")).unwrap().permissions().mode() & 0o7777, 0o640);
        assert_eq!(std::fs::metadata(&volume).unwrap().permissions().mode() & 0o7777, 0o711);
        assert_eq!(std::fs::read_link(volume.join("link")).unwrap(), Path::new("/etc/shadow"));
        // A volume with content is left alone.
        std::fs::write(root.join("data/new"), "y").unwrap();
        copy_up(&root, "/data", &volume).unwrap();
        assert!(!volume.join("new").exists());
    }
}
