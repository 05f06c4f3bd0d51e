//! The layer writer: turns one layer tarball into an overlayfs lower directory.
//!
//! Every entry is created relative to a directory descriptor opened with
//! `openat2(RESOLVE_IN_ROOT)`, so symlinks inside the layer resolve as if the
//! layer were `/` and nothing can be written outside it, whatever the tar says.
//! `..` that climbs above the layer is refused outright. Whiteouts become
//! overlayfs whiteouts (0:0 character devices), opaque markers become the
//! `overlay.opaque` xattr. Directory modes and times are applied last, so a
//! read-only directory in the tar does not stop its own children from being written.
//!
//! Expansion is bounded by the headers: the tar is read by `reader` (which yields
//! no more data for an entry than its header declares), and file data is written
//! by `sparse`, which skips holes and blocks of zeros, so a sparse file declaring
//! terabytes or a layer of zeros uses no disk before the digest check can fail.

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags, Timestamps, XattrFlags};
use rustix::io::Errno;
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use reader::{Entry, TarReader};

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE_MARKER: &str = ".wh..wh..opq";
/// Cached directory descriptors per writer; bounded so parallel unpacks stay far
/// below the soft RLIMIT_NOFILE.
const DIR_CACHE_LIMIT: usize = 64;

/// Which xattr namespace overlayfs reads: `trusted.` for real root, `user.` for
/// overlay mounted with `userxattr` inside a user namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OverlayXattrs {
    Trusted,
    User,
}

impl OverlayXattrs {
    pub fn opaque_name(self) -> &'static str {
        match self {
            OverlayXattrs::Trusted => "trusted.overlay.opaque",
            OverlayXattrs::User => "user.overlay.opaque",
        }
    }
}

#[derive(Clone, Debug)]
pub struct UnpackOptions {
    /// chown entries to the owners in the tar (root, or root in a user namespace).
    pub preserve_owners: bool,
    pub overlay_xattrs: OverlayXattrs,
    /// Write the layer's tar-split record here (see `tar_split`), reading the
    /// stream to its end.
    pub tar_split: Option<PathBuf>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UnpackStats {
    pub entries: u64,
    pub file_bytes: u64,
    /// Device nodes that could not be created (rootless) and were left out.
    pub skipped_devices: u64,
    /// Extended attributes the filesystem or our privileges refused.
    pub skipped_xattrs: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error("tar entry {0:?} points outside the layer (`..` above its root); the layer is refused")]
    Escape(String),
    #[error("hardlink {entry:?} points to {target:?}, which is not in the layer")]
    LinkTarget { entry: String, target: String },
    #[error("unreadable layer tar: {0}")]
    Tar(#[source] io::Error),
    #[error("{op} {entry:?}: {source}")]
    Fs { op: &'static str, entry: String, source: io::Error },
    #[error(transparent)]
    Split(#[from] crate::image::tar_split::TarSplitError),
    #[error(
        "{entry:?} is owned by {uid}:{gid}, which the user namespace does not map; hint: give the user a larger subordinate range, e.g. `usermod --add-subuids 100000-165535 --add-subgids 100000-165535 $USER`"
    )]
    Unmapped { entry: String, uid: u64, gid: u64 },
}

/// Unpack the tar stream `layer` into the existing, empty directory `dest`.
pub fn unpack_layer<R: Read>(layer: R, dest: &Path, opts: &UnpackOptions) -> Result<UnpackStats, UnpackError> {
    let root = rustix::fs::open(dest, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| fs_err("open layer directory", dest.display().to_string(), e))?;
    let mut writer = LayerWriter {
        root: Rc::new(root),
        opts: opts.clone(),
        dirs: HashMap::new(),
        deferred_dirs: Vec::new(),
        stats: UnpackStats::default(),
        buf: vec![0u8; 256 * 1024],
    };
    let mut tar = match &opts.tar_split {
        Some(path) => TarReader::with_split(layer, crate::image::tar_split::Recorder::create(path)?),
        None => TarReader::new(layer),
    };
    while let Some(entry) = tar.next_entry().map_err(UnpackError::Tar)? {
        if let Some(clean) = clean_path(Path::new(OsStr::from_bytes(&entry.path))) {
            // What the entry replaces: itself, or (a whiteout) the path it removes.
            let name = clean.file_name().map(|n| n.as_bytes()).unwrap_or_default();
            let target = match name.strip_prefix(WHITEOUT_PREFIX.as_bytes()) {
                Some(rest) if name != OPAQUE_MARKER.as_bytes() => clean.with_file_name(OsStr::from_bytes(rest)),
                _ => clean.clone(),
            };
            tar.split_entry(&target, entry.header.entry_type() == tar::EntryType::Directory);
            if !entry.extents.is_empty() {
                tar.split_file(&clean, &entry.extents);
            }
        }
        writer.write_entry(&entry, &mut tar)?;
    }
    if let Some(recorder) = tar.finish_split().map_err(UnpackError::Tar)? {
        recorder.finish()?;
    }
    writer.finish()
}

struct LayerWriter {
    root: Rc<OwnedFd>,
    opts: UnpackOptions,
    /// Open directories by their path inside the layer.
    dirs: HashMap<PathBuf, Rc<OwnedFd>>,
    /// Directories whose mode and times are applied at the end: (path, mode, mtime).
    deferred_dirs: Vec<(PathBuf, u32, i64)>,
    stats: UnpackStats,
    buf: Vec<u8>,
}

/// What the tar header (and its PAX records) say about an entry's metadata.
struct Meta {
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: i64,
    xattrs: Vec<(OsString, Vec<u8>)>,
}

impl LayerWriter {
    /// Write one entry; `data` yields its data (regular files only).
    fn write_entry(&mut self, entry: &Entry, data: &mut impl Read) -> Result<(), UnpackError> {
        self.stats.entries += 1;
        let raw_path = Path::new(OsStr::from_bytes(&entry.path));
        let display = raw_path.display().to_string();
        let path = clean_path(raw_path).ok_or_else(|| UnpackError::Escape(display.clone()))?;
        let meta = read_meta(entry)?;
        let kind = entry.header.entry_type();

        let Some(name) = path.file_name().map(OsStr::to_os_string) else {
            // The layer root itself ("./"): only its metadata matters.
            if kind.is_dir() {
                self.chown_xattrs(self.root.clone().as_fd(), &meta, &display)?;
                self.deferred_dirs.push((PathBuf::new(), meta.mode, meta.mtime));
            }
            return Ok(());
        };
        let parent_path = path.parent().unwrap_or(Path::new("")).to_path_buf();
        let parent = self.dir(&parent_path, &display)?;
        let parent = parent.as_fd();

        let name_str = name.to_string_lossy();
        if name_str == OPAQUE_MARKER {
            let xattr = self.opts.overlay_xattrs.opaque_name();
            return rustix::fs::fsetxattr(parent, xattr, b"y", XattrFlags::empty()).map_err(|e| fs_err("mark opaque", &display, e));
        }
        if let Some(hidden) = name_str.strip_prefix(WHITEOUT_PREFIX) {
            if hidden.starts_with(".wh.") {
                return Ok(()); // other AUFS bookkeeping (.wh..wh.plnk and friends)
            }
            self.clear_slot(parent, OsStr::new(hidden), false, &display)?;
            return rustix::fs::mknodat(parent, hidden, FileType::CharacterDevice, Mode::empty(), rustix::fs::makedev(0, 0))
                .map_err(|e| fs_err("create whiteout", &display, e));
        }

        use tar::EntryType as T;
        match kind {
            T::Directory => {
                let kept = self.clear_slot(parent, &name, true, &display)?;
                if !kept {
                    rustix::fs::mkdirat(parent, &name, Mode::from_raw_mode(0o700)).map_err(|e| fs_err("mkdir", &display, e))?;
                }
                let dir = self.dir(&path, &display)?;
                self.chown_xattrs(dir.as_fd(), &meta, &display)?;
                self.deferred_dirs.push((path, meta.mode, meta.mtime));
            }
            T::Regular | T::Continuous | T::GNUSparse => {
                self.clear_slot(parent, &name, false, &display)?;
                let fd = rustix::fs::openat(
                    parent,
                    &name,
                    OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )
                .map_err(|e| fs_err("create", &display, e))?;
                let file = File::from(fd);
                sparse::write_extents(data, &file, &entry.extents, entry.size, &mut self.buf).map_err(|e| fs_io_err("write", &display, e))?;
                self.stats.file_bytes += entry.size;
                self.chown_xattrs(file.as_fd(), &meta, &display)?;
                // After chown: chown clears setuid/setgid bits.
                rustix::fs::fchmod(&file, Mode::from_raw_mode(meta.mode)).map_err(|e| fs_err("chmod", &display, e))?;
                rustix::fs::futimens(&file, &times(meta.mtime)).map_err(|e| fs_err("set times", &display, e))?;
            }
            T::Symlink => {
                let target = OsStr::from_bytes(&entry.link);
                self.clear_slot(parent, &name, false, &display)?;
                rustix::fs::symlinkat(target, parent, &name).map_err(|e| fs_err("symlink", &display, e))?;
                self.chown_at(parent, &name, &meta, &display)?;
                rustix::fs::utimensat(parent, &name, &times(meta.mtime), AtFlags::SYMLINK_NOFOLLOW).map_err(|e| fs_err("set times", &display, e))?;
            }
            T::Link => {
                let raw_target = Path::new(OsStr::from_bytes(&entry.link));
                let link_err = || UnpackError::LinkTarget { entry: display.clone(), target: raw_target.display().to_string() };
                let target = clean_path(raw_target).ok_or_else(link_err)?;
                let target_name = target.file_name().ok_or_else(link_err)?.to_os_string();
                let target_parent = self.existing_dir(target.parent().unwrap_or(Path::new(""))).ok_or_else(link_err)?;
                self.clear_slot(parent, &name, false, &display)?;
                rustix::fs::linkat(target_parent.as_fd(), &target_name, parent, &name, AtFlags::empty())
                    .map_err(|e| if e == Errno::NOENT { link_err() } else { fs_err("hardlink", &display, e) })?;
            }
            T::Char | T::Block | T::Fifo => {
                let file_type = match kind {
                    T::Char => FileType::CharacterDevice,
                    T::Block => FileType::BlockDevice,
                    _ => FileType::Fifo,
                };
                let header = &entry.header;
                let major = header.device_major().ok().flatten().unwrap_or(0);
                let minor = header.device_minor().ok().flatten().unwrap_or(0);
                self.clear_slot(parent, &name, false, &display)?;
                match rustix::fs::mknodat(parent, &name, file_type, Mode::from_raw_mode(meta.mode), rustix::fs::makedev(major, minor)) {
                    Ok(()) => {}
                    // Unprivileged users may not create devices; containers get /dev from the runtime anyway.
                    Err(Errno::PERM) if file_type != FileType::Fifo => {
                        self.stats.skipped_devices += 1;
                        return Ok(());
                    }
                    Err(e) => return Err(fs_err("mknod", &display, e)),
                }
                self.chown_at(parent, &name, &meta, &display)?;
                rustix::fs::chmodat(parent, &name, Mode::from_raw_mode(meta.mode), AtFlags::empty()).map_err(|e| fs_err("chmod", &display, e))?;
                rustix::fs::utimensat(parent, &name, &times(meta.mtime), AtFlags::SYMLINK_NOFOLLOW).map_err(|e| fs_err("set times", &display, e))?;
            }
            // Extension headers are folded into their entry by the reader; other
            // types (GNU volume labels, multi-volume continuations) carry nothing to write.
            _ => {}
        }
        Ok(())
    }

    /// An open directory of the layer, creating missing ancestors (tars may omit them).
    fn dir(&mut self, path: &Path, display: &str) -> Result<Rc<OwnedFd>, UnpackError> {
        if path.as_os_str().is_empty() {
            return Ok(self.root.clone());
        }
        if let Some(fd) = self.dirs.get(path) {
            return Ok(fd.clone());
        }
        let fd = match open_in_root(self.root.as_fd(), path) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => {
                let parent = self.dir(path.parent().unwrap_or(Path::new("")), display)?;
                let name = path.file_name().expect("non-empty path has a name");
                match rustix::fs::mkdirat(parent.as_fd(), name, Mode::from_raw_mode(0o755)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(fs_err("mkdir", display, e)),
                }
                open_in_root(self.root.as_fd(), path).map_err(|e| fs_err("open parent directory", display, e))?
            }
            Err(e) => return Err(fs_err("open parent directory", display, e)),
        };
        if self.dirs.len() >= DIR_CACHE_LIMIT {
            self.dirs.clear();
        }
        let fd = Rc::new(fd);
        self.dirs.insert(path.to_path_buf(), fd.clone());
        Ok(fd)
    }

    fn existing_dir(&mut self, path: &Path) -> Option<Rc<OwnedFd>> {
        if path.as_os_str().is_empty() {
            return Some(self.root.clone());
        }
        self.dirs.get(path).cloned().or_else(|| open_in_root(self.root.as_fd(), path).ok().map(Rc::new))
    }

    /// Make room for a new entry called `name`: remove what is there, except a
    /// directory when a directory is wanted (tar semantics: it is updated).
    /// Returns whether an existing directory was kept.
    fn clear_slot(&mut self, parent: BorrowedFd<'_>, name: &OsStr, keep_dir: bool, display: &str) -> Result<bool, UnpackError> {
        let stat = match rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::NOENT) => return Ok(false),
            Err(e) => return Err(fs_err("stat", display, e)),
        };
        let is_dir = FileType::from_raw_mode(stat.st_mode) == FileType::Directory;
        if is_dir && keep_dir {
            return Ok(true);
        }
        // Cached descriptors may point into what is removed now.
        self.dirs.clear();
        if is_dir {
            remove_all_at(parent, name).map_err(|e| fs_err("remove", display, e))?;
        } else {
            rustix::fs::unlinkat(parent, name, AtFlags::empty()).map_err(|e| fs_err("remove", display, e))?;
        }
        Ok(false)
    }

    fn chown_xattrs(&mut self, fd: BorrowedFd<'_>, meta: &Meta, display: &str) -> Result<(), UnpackError> {
        if self.opts.preserve_owners {
            let (uid, gid) = ids(meta);
            rustix::fs::fchown(fd, Some(uid), Some(gid)).map_err(|e| owner_err(e, display, meta))?;
        }
        for (name, value) in &meta.xattrs {
            if rustix::fs::fsetxattr(fd, name.as_os_str(), value, XattrFlags::empty()).is_err() {
                self.stats.skipped_xattrs += 1;
            }
        }
        Ok(())
    }

    fn chown_at(&self, parent: BorrowedFd<'_>, name: &OsStr, meta: &Meta, display: &str) -> Result<(), UnpackError> {
        if self.opts.preserve_owners {
            let (uid, gid) = ids(meta);
            rustix::fs::chownat(parent, name, Some(uid), Some(gid), AtFlags::SYMLINK_NOFOLLOW).map_err(|e| owner_err(e, display, meta))?;
        }
        Ok(())
    }

    /// Apply directory modes and times, children before parents, then make the
    /// whole layer durable with one syncfs instead of an fsync per file.
    fn finish(mut self) -> Result<UnpackStats, UnpackError> {
        self.dirs.clear();
        let deferred = std::mem::take(&mut self.deferred_dirs);
        let mut done = std::collections::HashSet::new();
        // Reverse order: children before parents, and the last entry for a path wins.
        for (path, mode, mtime) in deferred.iter().rev() {
            if !done.insert(path) {
                continue;
            }
            let Some(fd) = self.existing_dir(path) else { continue };
            let display = path.display().to_string();
            rustix::fs::fchmod(fd.as_fd(), Mode::from_raw_mode(*mode)).map_err(|e| fs_err("chmod", &display, e))?;
            rustix::fs::futimens(fd.as_fd(), &times(*mtime)).map_err(|e| fs_err("set times", &display, e))?;
        }
        rustix::fs::syncfs(self.root.as_fd()).map_err(|e| fs_err("sync", "layer", e))?;
        Ok(self.stats)
    }
}

fn open_in_root(root: BorrowedFd<'_>, path: &Path) -> Result<OwnedFd, Errno> {
    rustix::fs::openat2(root, path, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty(), ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS)
}

/// Remove `name` (a directory) and everything below it, without following symlinks.
fn remove_all_at(parent: BorrowedFd<'_>, name: &OsStr) -> Result<(), Errno> {
    let dir = rustix::fs::openat(parent, name, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())?;
    let mut children = Vec::new();
    for entry in rustix::fs::Dir::read_from(&dir)? {
        let entry = entry?;
        let child = entry.file_name().to_bytes();
        if child != b"." && child != b".." {
            children.push((OsStr::from_bytes(child).to_os_string(), entry.file_type() == FileType::Directory));
        }
    }
    for (child, is_dir) in children {
        if is_dir {
            remove_all_at(dir.as_fd(), &child)?;
        } else {
            rustix::fs::unlinkat(&dir, &child, AtFlags::empty())?;
        }
    }
    rustix::fs::unlinkat(parent, name, AtFlags::REMOVEDIR)
}

/// Normalise an entry path to a relative path inside the layer: leading `/` and
/// `./` dropped, `a/../b` folded; `None` if it climbs above the root.
fn clean_path(raw: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in raw.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    Some(out)
}

fn read_meta(entry: &Entry) -> Result<Meta, UnpackError> {
    let header = &entry.header;
    let mut meta = Meta {
        mode: header.mode().map_err(UnpackError::Tar)? & 0o7777,
        // Some writers leave numeric fields blank; tar treats that as 0.
        uid: header.uid().unwrap_or(0),
        gid: header.gid().unwrap_or(0),
        mtime: header.mtime().unwrap_or(0) as i64,
        xattrs: Vec::new(),
    };
    for (key, value) in &entry.pax {
        let number = || std::str::from_utf8(value).ok().and_then(|v| v.split('.').next()?.parse::<i64>().ok());
        match key.as_str() {
            "uid" => meta.uid = number().unwrap_or(meta.uid as i64) as u64,
            "gid" => meta.gid = number().unwrap_or(meta.gid as i64) as u64,
            "mtime" => meta.mtime = number().unwrap_or(meta.mtime),
            _ => {
                if let Some(name) = key.strip_prefix("SCHILY.xattr.") {
                    meta.xattrs.push((OsString::from(name), value.clone()));
                }
            }
        }
    }
    Ok(meta)
}

fn ids(meta: &Meta) -> (rustix::fs::Uid, rustix::fs::Gid) {
    (rustix::fs::Uid::from_raw_unchecked(meta.uid as u32), rustix::fs::Gid::from_raw_unchecked(meta.gid as u32))
}

fn times(mtime: i64) -> Timestamps {
    let t = rustix::fs::Timespec { tv_sec: mtime, tv_nsec: 0 };
    Timestamps { last_access: t, last_modification: t }
}

fn owner_err(e: Errno, display: &str, meta: &Meta) -> UnpackError {
    if e == Errno::INVAL { UnpackError::Unmapped { entry: display.to_string(), uid: meta.uid, gid: meta.gid } } else { fs_err("chown", display, e) }
}

fn fs_err(op: &'static str, entry: impl Into<String>, e: Errno) -> UnpackError {
    UnpackError::Fs { op, entry: entry.into(), source: e.into() }
}

fn fs_io_err(op: &'static str, entry: &str, e: io::Error) -> UnpackError {
    // A read error here is the tar stream failing (truncated, corrupt), not the disk.
    if e.kind() == io::ErrorKind::UnexpectedEof || e.kind() == io::ErrorKind::InvalidData || e.kind() == io::ErrorKind::InvalidInput {
        UnpackError::Tar(e)
    } else {
        UnpackError::Fs { op, entry: entry.to_string(), source: e }
    }
}

mod reader;
mod sparse;
#[cfg(test)]
mod tests;
