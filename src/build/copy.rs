//! COPY and ADD (and WORKDIR's mkdir): files written straight into a new layer.
//!
//! The stage's layers are mounted as an overlay with a fresh upper dir, and
//! every file is written through the merged view with in-root resolution
//! (libpathrs): the destination's symlinks in the image (`/lib -> usr/lib`)
//! resolve as in the container and never reach the host. The upper dir is the
//! layer. Sources come from the context (through `.dockerignore`), from a
//! stage or image (a read-only overlay of its layers), from a heredoc, or from
//! a URL fetched on the host (kept by content under the store, with its
//! validators, so a rebuild asks the server only whether it changed).

use super::Env;
use super::context::{Context, resolve_in_root};
use crate::image::digest::Digest;
use crate::image::store::{ImageLayer, LayerMeta, Store};
use pathrs::flags::OpenFlags;
use rustix::fs::{AtFlags, Mode, OFlags};
use std::fs::{File, Permissions};
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("{what}: {source}")]
    Io { what: String, source: io::Error },
    #[error("{path} in the image: {source}")]
    InRoot { path: String, source: pathrs::error::Error },
    #[error("--chown={spec}: {message}")]
    Chown { spec: String, message: String },
    #[error("--chmod={0} is not an octal mode; hint: e.g. --chmod=755")]
    Chmod(String),
    #[error("ADD {url}: {message}")]
    Download { url: String, message: String },
    #[error("ADD {url}: checksum mismatch: expected {expected}, got {actual}")]
    Checksum { url: String, expected: String, actual: String },
    #[error("COPY --from source {0:?} not found")]
    FromNotFound(String),
    #[error("cannot copy {source_path} onto {dest}: {message}")]
    Conflict { source_path: String, dest: String, message: String },
    #[error(transparent)]
    Rootfs(#[from] crate::runtime::rootfs::RootfsError),
    #[error(transparent)]
    Store(#[from] crate::image::store::StoreError),
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> CopyError {
    let what = what.into();
    move |source| CopyError::Io { what, source }
}

/// Layers a `COPY --from` reads (a stage's or an image's) and their cache identity.
#[derive(Clone, Debug)]
pub struct FromSource {
    pub layers: Vec<ImageLayer>,
    pub key: String,
    /// A named build context that is a directory on the host (read as is, never mounted).
    pub dir: Option<PathBuf>,
}

#[derive(Clone, Debug)]
pub enum SourceItem {
    /// A path in the build context (already matched and digested).
    Context(String),
    /// A path in the `--from` stage or image (wildcards allowed in the last element).
    Stage(String),
    /// A fetched URL: the file kept in the store, its name, its Last-Modified time.
    Url { url: String, file: PathBuf, name: String, mtime: Option<i64> },
    /// A heredoc: the file name and its content.
    Inline { name: String, content: String },
}

/// One COPY/ADD, expanded.
#[derive(Clone, Debug)]
pub struct CopyPlan {
    pub add: bool,
    pub sources: Vec<SourceItem>,
    /// Absolute, with its trailing slash if it had one.
    pub dest: String,
    /// The destination is a directory (trailing slash, several sources, a wildcard).
    pub dest_is_dir: bool,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub from: Option<FromSource>,
    pub checksum: Option<String>,
    /// SOURCE_DATE_EPOCH: the latest mtime the layer's diff id carries.
    pub source_date_epoch: Option<u64>,
}

/// Owner and mode rules for what one COPY writes.
struct Attrs {
    uid: u32,
    gid: u32,
    /// --chown was given (else entries are root's, or an archive's own).
    chown_set: bool,
    chmod: Option<u32>,
}

/// A fresh upper dir over `layers`, mounted at `merged`, unmounted on drop.
struct Overlay {
    scratch: PathBuf,
    merged: PathBuf,
    mounts: Vec<PathBuf>,
    /// `finish` handed the upper dir over: the caller removes the scratch dir.
    handed_over: bool,
}

impl Overlay {
    fn mount(store: &Store, layers: &[ImageLayer]) -> Result<Overlay, CopyError> {
        let scratch = store.scratch_dir("copy")?;
        let (upper, work, merged, empty) = (scratch.join("upper"), scratch.join("work"), scratch.join("merged"), scratch.join("empty"));
        for d in [&upper, &work, &merged, &empty] {
            std::fs::create_dir_all(d).map_err(io_err("make the layer's directories"))?;
        }
        let mut lowers: Vec<PathBuf> = layers.iter().rev().map(|l| store.layer_diff(&l.diff_id)).collect();
        if lowers.is_empty() {
            lowers.push(empty);
        }
        let rootless = store.overlay_xattrs == crate::image::unpack::OverlayXattrs::User;
        let mut overlay = Overlay { scratch, merged: merged.clone(), mounts: Vec::new(), handed_over: false };
        crate::runtime::rootfs::mount_overlay(&lowers, &upper, &work, &merged, rootless, true)?;
        overlay.mounts.push(merged);
        Ok(overlay)
    }

    fn root(&self) -> Result<pathrs::Root, CopyError> {
        pathrs::Root::open(&self.merged).map_err(|source| CopyError::InRoot { path: "/".into(), source })
    }

    /// Unmount and hand over the upper dir (the layer).
    fn finish(mut self) -> PathBuf {
        self.unmount();
        self.handed_over = true;
        self.scratch.join("upper")
    }

    fn unmount(&mut self) {
        for m in self.mounts.drain(..).rev() {
            let _ = crate::runtime::rootfs::unmount(&m);
        }
    }
}

impl Drop for Overlay {
    fn drop(&mut self) {
        self.unmount();
        if !self.handed_over {
            // A failed COPY: nothing of it stays.
            let _ = crate::fsutil::remove_tree(&self.scratch);
            return;
        }
        let _ = crate::fsutil::remove_tree(&self.scratch.join("work"));
        let _ = crate::fsutil::remove_tree(&self.scratch.join("merged"));
        let _ = crate::fsutil::remove_tree(&self.scratch.join("empty"));
        let _ = crate::fsutil::remove_tree(&self.scratch.join("from"));
        let _ = crate::fsutil::remove_tree(&self.scratch.join("extract"));
    }
}

/// WORKDIR: make the directory (root, 0755) when the stage does not have it.
pub fn make_workdir(env: &Env, layers: &[ImageLayer], dir: &str, clamp_mtime: Option<u64>) -> Result<Option<LayerMeta>, CopyError> {
    let lowers: Vec<PathBuf> = layers.iter().rev().map(|l| env.store.layer_diff(&l.diff_id)).collect();
    if crate::runtime::rootfs::file_type(&first_existing(&lowers, dir).unwrap_or_default(), dir).is_some_and(|t| t == rustix::fs::FileType::Directory)
        && exists_in(&lowers, dir)
    {
        return Ok(None);
    }
    let overlay = Overlay::mount(env.store, layers)?;
    let exists = crate::runtime::rootfs::file_type(&overlay.merged, dir).is_some();
    if !exists {
        overlay.root()?.mkdir_all(dir, &Permissions::from_mode(0o755)).map_err(|source| CopyError::InRoot { path: dir.into(), source })?;
    }
    let scratch = overlay.scratch.clone();
    let upper = overlay.finish();
    let out =
        super::run::commit_dir(env.store, &upper, clamp_mtime).map_err(|e| CopyError::Io { what: "commit".into(), source: io::Error::other(e.to_string()) });
    let _ = crate::fsutil::remove_tree(&scratch);
    out
}

fn exists_in(lowers: &[PathBuf], path: &str) -> bool {
    lowers.iter().any(|l| std::fs::symlink_metadata(l.join(path.trim_start_matches('/'))).is_ok())
}

fn first_existing(lowers: &[PathBuf], path: &str) -> Option<PathBuf> {
    lowers.iter().find(|l| std::fs::symlink_metadata(l.join(path.trim_start_matches('/'))).is_ok()).cloned()
}

/// Run one COPY/ADD over `layers`: `Some(layer)` with what it wrote.
pub fn copy(env: &Env, context: &Context, layers: &[ImageLayer], plan: &CopyPlan) -> Result<Option<LayerMeta>, CopyError> {
    let overlay = Overlay::mount(env.store, layers)?;
    let root = overlay.root()?;
    let attrs = attributes(&overlay.merged, plan)?;
    // A --from source: its layers, read-only, beside the overlay.
    let from_root = match &plan.from {
        Some(FromSource { dir: Some(dir), .. }) => Some(FromGuard(dir.clone(), false)),
        Some(from) => {
            let dir = overlay.scratch.join("from");
            super::run::mount_read_only(env.store, &from.layers, &dir, &overlay.scratch, 0)
                .map_err(|e| CopyError::Io { what: "mount the --from source".into(), source: io::Error::other(e.to_string()) })?;
            Some(FromGuard(dir, true))
        }
        None => None,
    };
    let dest_is_dir = plan.dest_is_dir
        || plan.dest.ends_with('/')
        || crate::runtime::rootfs::file_type(&overlay.merged, &plan.dest).is_some_and(|t| t == rustix::fs::FileType::Directory);
    let dest = plan.dest.trim_end_matches('/').to_string();
    let dest = if dest.is_empty() { "/".to_string() } else { dest };
    let mut writer = TreeWriter { root: &root, attrs: &attrs, keep_owners: false, dirs: Vec::new(), parents: std::collections::HashMap::new() };
    for item in &plan.sources {
        match item {
            SourceItem::Context(rel) => {
                let host = resolve_in_root(&context.root, rel, true).ok_or_else(|| CopyError::Conflict {
                    source_path: rel.clone(),
                    dest: dest.clone(),
                    message: "too many symlinks".into(),
                })?;
                let meta = std::fs::metadata(&host).map_err(io_err(format!("build context {rel}")))?;
                if meta.is_dir() {
                    // A symlink to a directory is followed (inside the context), as BuildKit does for sources.
                    let real = context.real_dir(rel);
                    let entries = context.walk(&real).map_err(|e| CopyError::Io { what: rel.clone(), source: io::Error::other(e.to_string()) })?;
                    for (path, meta) in entries.into_iter().skip(1) {
                        let below = path.strip_prefix(real.as_str()).unwrap_or(&path).trim_start_matches('/');
                        writer.entry(&context.root.join(&path), &meta, &join(&dest, below))?;
                    }
                    writer.ensure_dir(&dest)?;
                } else if plan.add && is_archive(&host) {
                    let extract = overlay.scratch.join("extract");
                    extract_archive(&host, &extract)?;
                    writer.keep_owners = true;
                    let written = writer.tree(&extract, &dest);
                    writer.keep_owners = false;
                    written?;
                    let _ = crate::fsutil::remove_tree(&extract);
                } else {
                    let target = if dest_is_dir { join(&dest, basename(rel)) } else { dest.clone() };
                    writer.entry(&host, &meta, &target)?;
                }
            }
            SourceItem::Stage(path) => {
                let Some(FromGuard(from, _)) = &from_root else { continue };
                let matches = stage_matches(from, path);
                if matches.is_empty() {
                    return Err(CopyError::FromNotFound(path.clone()));
                }
                for host in matches {
                    let meta = std::fs::metadata(&host).map_err(io_err(path.clone()))?;
                    if meta.is_dir() {
                        writer.tree(&host, &dest)?;
                    } else {
                        let name = host.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                        let target = if dest_is_dir { join(&dest, &name) } else { dest.clone() };
                        writer.entry(&host, &meta, &target)?;
                    }
                }
            }
            SourceItem::Url { file, name, mtime, .. } => {
                let target = if dest_is_dir { join(&dest, name) } else { dest.clone() };
                let meta = std::fs::metadata(file).map_err(io_err("the downloaded file"))?;
                writer.file(file, 0o600, mtime.unwrap_or(0), &target, meta.len(), (attrs.uid, attrs.gid))?;
            }
            SourceItem::Inline { name, content } => {
                let target = if dest_is_dir { join(&dest, name) } else { dest.clone() };
                let tmp = overlay.scratch.join(format!("heredoc-{}", Digest::of(name.as_bytes()).short()));
                std::fs::write(&tmp, content).map_err(io_err("heredoc"))?;
                writer.file(&tmp, 0o644, crate::time::now_unix() as i64, &target, content.len() as u64, (attrs.uid, attrs.gid))?;
            }
        }
    }
    writer.finish()?;
    drop(root);
    drop(from_root);
    let scratch = overlay.scratch.clone();
    let upper = overlay.finish();
    let out = super::run::commit_dir(env.store, &upper, plan.source_date_epoch)
        .map_err(|e| CopyError::Io { what: "commit the layer".into(), source: io::Error::other(e.to_string()) });
    let _ = crate::fsutil::remove_tree(&scratch);
    out
}

/// Where a --from source is read: a read-only overlay of its layers (unmounted
/// on drop), or a named context's host directory.
struct FromGuard(PathBuf, bool);

impl Drop for FromGuard {
    fn drop(&mut self) {
        if self.1 {
            let _ = crate::runtime::rootfs::unmount(&self.0);
        }
    }
}

/// Paths in a stage's root a `--from` source names (a wildcard allowed in its last element).
fn stage_matches(root: &Path, path: &str) -> Vec<PathBuf> {
    let clean = super::context::clean_rel(path).unwrap_or_default();
    let (dir, last) = clean.rsplit_once('/').unwrap_or(("", clean.as_str()));
    if !super::context::has_wildcards(last) {
        return resolve_in_root(root, &clean, true).filter(|p| p.exists()).into_iter().collect();
    }
    let Some(host_dir) = resolve_in_root(root, dir, true) else { return Vec::new() };
    let mut out: Vec<PathBuf> = std::fs::read_dir(&host_dir)
        .map(|rd| rd.flatten().filter(|e| super::context::glob_match(last, &e.file_name().to_string_lossy())).map(|e| e.path()).collect())
        .unwrap_or_default();
    out.sort();
    out
}

/// `--chown` (names resolved in the target's /etc/passwd and /etc/group) and `--chmod`.
fn attributes(merged: &Path, plan: &CopyPlan) -> Result<Attrs, CopyError> {
    let (mut uid, mut gid) = (0, 0);
    if let Some(spec) = &plan.chown {
        let passwd = crate::runtime::rootfs::read_file(merged, "/etc/passwd", 16 << 20)?.map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
        let group = crate::runtime::rootfs::read_file(merged, "/etc/group", 16 << 20)?.map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
        let user = crate::runtime::user::resolve(spec, &passwd, &group).map_err(|e| CopyError::Chown { spec: spec.clone(), message: e.to_string() })?;
        uid = user.uid;
        // A user without a group: the same number as the group (Dockerfile reference, COPY --chown).
        gid = if spec.contains(':') { user.gid } else { user.uid };
    }
    let chmod = match &plan.chmod {
        Some(m) => Some(u32::from_str_radix(m, 8).ok().filter(|m| *m <= 0o7777).ok_or_else(|| CopyError::Chmod(m.clone()))?),
        None => None,
    };
    Ok(Attrs { uid, gid, chmod, chown_set: plan.chown.is_some() })
}

/// `dir/name` for in-root paths (`/` + name at the top; `dir` when `name` is empty).
pub(crate) fn join(dir: &str, name: &str) -> String {
    if name.is_empty() {
        dir.to_string()
    } else if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}

fn basename(rel: &str) -> &str {
    rel.rsplit('/').next().unwrap_or(rel)
}

/// Copies the host file, directory tree or symlink `src` to `target` inside `root`, through
/// in-root resolution (nothing written can land outside the root, whatever symlinks the root
/// holds): `rde cp` into a container. `owner`: every entry's (uid, gid), or `None` to keep the
/// sources' owners (`cp -a`). Modes and times are kept.
pub fn copy_into_root(root: &pathrs::Root, src: &Path, target: &str, owner: Option<(u32, u32)>) -> Result<(), CopyError> {
    let (uid, gid) = owner.unwrap_or((0, 0));
    let attrs = Attrs { uid, gid, chown_set: owner.is_some(), chmod: None };
    let mut writer = TreeWriter { root, attrs: &attrs, keep_owners: owner.is_none(), dirs: Vec::new(), parents: std::collections::HashMap::new() };
    let meta = std::fs::symlink_metadata(src).map_err(io_err(src.display().to_string()))?;
    writer.entry(src, &meta, target)?;
    if meta.is_dir() {
        writer.tree(src, target)?;
    }
    writer.finish()
}

/// Writes entries into the overlay through in-root resolution.
struct TreeWriter<'a> {
    root: &'a pathrs::Root,
    attrs: &'a Attrs,
    /// ADD of a local archive without --chown: entries keep the archive's owners.
    keep_owners: bool,
    /// Directories written, with their source mtime: times are set last (children change them).
    dirs: Vec<(String, i64)>,
    /// Parent directories opened through in-root resolution, by path: files
    /// and links are then made with one-component names relative to them
    /// (`O_NOFOLLOW`, no `/` in a name), so nothing can lead outside the root.
    parents: std::collections::HashMap<String, std::os::fd::OwnedFd>,
}

/// At most this many parent directory descriptors are kept open.
const PARENT_FDS: usize = 256;

impl TreeWriter<'_> {
    fn in_root(path: &str) -> impl FnOnce(pathrs::error::Error) -> CopyError + '_ {
        move |source| CopyError::InRoot { path: path.to_string(), source }
    }

    fn mode(&self, source_mode: u32) -> u32 {
        self.attrs.chmod.unwrap_or(source_mode & 0o7777)
    }

    /// The owner an entry gets: --chown's (or root), or the archive's for an ADD of a tar.
    fn owner(&self, meta: &std::fs::Metadata) -> (u32, u32) {
        if self.keep_owners && !self.attrs.chown_set { (meta.uid(), meta.gid()) } else { (self.attrs.uid, self.attrs.gid) }
    }

    /// chown through an O_PATH handle (no symlink followed).
    fn chown(&self, target: &str, (uid, gid): (u32, u32)) -> Result<(), CopyError> {
        let handle = self.root.resolve_nofollow(target).map_err(Self::in_root(target))?;
        rustix::fs::chownat(
            handle.as_fd(),
            "",
            Some(rustix::fs::Uid::from_raw(uid)),
            Some(rustix::fs::Gid::from_raw(gid)),
            rustix::fs::AtFlags::EMPTY_PATH | rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(|e| io_err(format!("chown {target}"))(e.into()))
    }

    fn ensure_parent(&self, target: &str) -> Result<(), CopyError> {
        match target.rsplit_once('/') {
            Some((parent, _)) if !parent.is_empty() => self.ensure_dir(parent),
            _ => Ok(()),
        }
    }

    /// Make `dir` and its missing parents (0755); those it makes belong to the
    /// --chown user, as BuildKit creates a COPY's destination.
    fn ensure_dir(&self, dir: &str) -> Result<(), CopyError> {
        if self.root.resolve(dir).is_ok() {
            return Ok(());
        }
        let mut prefix = String::new();
        for part in dir.split('/').filter(|p| !p.is_empty()) {
            prefix.push('/');
            prefix.push_str(part);
            if self.root.resolve(&prefix).is_err() {
                self.root.mkdir_all(&prefix, &Permissions::from_mode(0o755)).map_err(Self::in_root(dir))?;
                if self.attrs.chown_set {
                    self.chown(&prefix, (self.attrs.uid, self.attrs.gid))?;
                }
            }
        }
        Ok(())
    }

    /// Everything below `src` (a host directory) into `dest`.
    fn tree(&mut self, src: &Path, dest: &str) -> Result<(), CopyError> {
        self.ensure_dir(dest)?;
        let mut names: Vec<_> = std::fs::read_dir(src).map_err(io_err(src.display().to_string()))?.flatten().map(|e| e.file_name()).collect();
        names.sort();
        for name in names {
            let path = src.join(&name);
            let meta = std::fs::symlink_metadata(&path).map_err(io_err(path.display().to_string()))?;
            let target = join(dest, &name.to_string_lossy());
            self.entry(&path, &meta, &target)?;
            if meta.is_dir() {
                self.tree(&path, &target)?;
            }
        }
        Ok(())
    }

    /// One entry (not recursing): a directory, a file, a symlink.
    fn entry(&mut self, src: &Path, meta: &std::fs::Metadata, target: &str) -> Result<(), CopyError> {
        let ft = meta.file_type();
        if ft.is_dir() {
            self.ensure_parent(target)?;
            let handle = match self.root.resolve_nofollow(target) {
                Ok(h) => h,
                Err(_) => {
                    self.root.create(target, &pathrs::InodeType::Directory(Permissions::from_mode(0o755))).map_err(Self::in_root(target))?;
                    self.root.resolve_nofollow(target).map_err(Self::in_root(target))?
                }
            };
            drop(handle);
            self.chown(target, self.owner(meta))?;
            let handle = self.root.resolve_nofollow(target).map_err(Self::in_root(target))?;
            let file = handle.reopen(OpenFlags::O_RDONLY | OpenFlags::O_DIRECTORY).map_err(Self::in_root(target))?;
            file.set_permissions(Permissions::from_mode(self.mode(meta.mode()))).map_err(io_err(target.to_string()))?;
            self.dirs.push((target.to_string(), meta.mtime()));
        } else if ft.is_file() {
            let owner = self.owner(meta);
            self.file(src, meta.mode(), meta.mtime(), target, meta.len(), owner)?;
        } else if ft.is_symlink() {
            let link = std::fs::read_link(src).map_err(io_err(src.display().to_string()))?;
            let owner = self.owner(meta);
            let (key, name) = self.parent(target)?;
            let dir = &self.parents[&key];
            let err = |e: rustix::io::Errno| io_err(format!("symlink {target}"))(e.into());
            match rustix::fs::unlinkat(dir, name.as_str(), AtFlags::empty()) {
                Ok(()) | Err(rustix::io::Errno::NOENT) => {}
                Err(e) => return Err(err(e)),
            }
            rustix::fs::symlinkat(link.as_path(), dir, name.as_str()).map_err(err)?;
            rustix::fs::chownat(
                dir,
                name.as_str(),
                Some(rustix::fs::Uid::from_raw(owner.0)),
                Some(rustix::fs::Gid::from_raw(owner.1)),
                AtFlags::SYMLINK_NOFOLLOW,
            )
            .map_err(err)?;
        }
        // Sockets, fifos and devices in a context are not copied (as BuildKit).
        Ok(())
    }

    /// The directory `target` goes into, opened through in-root resolution
    /// (made first when missing) and kept in `parents`: (its key there, the entry's name).
    fn parent(&mut self, target: &str) -> Result<(String, String), CopyError> {
        let (dir, name) = target.rsplit_once('/').unwrap_or(("", target));
        let dir = if dir.is_empty() { "/" } else { dir };
        if name.is_empty() || name == "." || name == ".." {
            return Err(CopyError::Conflict { source_path: target.into(), dest: target.into(), message: "not a file name".into() });
        }
        if !self.parents.contains_key(dir) {
            self.ensure_dir(dir)?;
            let file = self.root.resolve(dir).and_then(|h| h.reopen(OpenFlags::O_RDONLY | OpenFlags::O_DIRECTORY)).map_err(Self::in_root(dir))?;
            if self.parents.len() >= PARENT_FDS {
                self.parents.clear();
            }
            self.parents.insert(dir.to_string(), std::os::fd::OwnedFd::from(file));
        }
        Ok((dir.to_string(), name.to_string()))
    }

    /// A regular file with the given mode (before --chmod) and mtime.
    fn file(&mut self, src: &Path, mode: u32, mtime: i64, target: &str, len: u64, (uid, gid): (u32, u32)) -> Result<(), CopyError> {
        let (key, name) = self.parent(target)?;
        let dir = &self.parents[&key];
        let err = |what: &str| {
            let what = format!("{what} {target}");
            move |e: rustix::io::Errno| io_err(what)(e.into())
        };
        // Whatever is there (a file, a symlink) is replaced, never followed.
        match rustix::fs::statat(dir, name.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Directory => {
                return Err(CopyError::Conflict { source_path: src.display().to_string(), dest: target.into(), message: "a directory is there".into() });
            }
            Ok(_) => rustix::fs::unlinkat(dir, name.as_str(), AtFlags::empty()).map_err(err("replace"))?,
            Err(_) => {}
        }
        let fd = rustix::fs::openat(
            dir,
            name.as_str(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(err("create"))?;
        let mut out = File::from(fd);
        let mut input = File::open(src).map_err(io_err(src.display().to_string()))?.take(len);
        io::copy(&mut input, &mut out).map_err(io_err(format!("copy {} to {target}", src.display())))?;
        rustix::fs::fchown(&out, Some(rustix::fs::Uid::from_raw(uid)), Some(rustix::fs::Gid::from_raw(gid))).map_err(err("chown"))?;
        out.set_permissions(Permissions::from_mode(self.mode(mode))).map_err(io_err(format!("chmod {target}")))?;
        out.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(mtime.max(0) as u64)).map_err(io_err(format!("set the time of {target}")))?;
        Ok(())
    }

    /// Directory times last, deepest first.
    fn finish(&mut self) -> Result<(), CopyError> {
        for (dir, mtime) in self.dirs.drain(..).rev() {
            if let Ok(h) = self.root.resolve_nofollow(&dir)
                && let Ok(f) = h.reopen(OpenFlags::O_RDONLY | OpenFlags::O_DIRECTORY)
            {
                let _ = f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(mtime.max(0) as u64));
            }
        }
        Ok(())
    }
}

/// Whether ADD unpacks this local file: a tar, plain or gzip/zstd compressed, recognised by content.
fn is_archive(path: &Path) -> bool {
    let mut head = [0u8; 512];
    let Ok(mut f) = File::open(path) else { return false };
    let n = read_up_to(&mut f, &mut head);
    if head[..n.min(2)] == [0x1f, 0x8b] || head[..n.min(4)] == [0x28, 0xb5, 0x2f, 0xfd] {
        return true;
    }
    n >= 262 && &head[257..262] == b"ustar"
}

fn read_up_to(f: &mut File, buf: &mut [u8]) -> usize {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    n
}

/// Unpack a local archive on the host into `dest` (a private scratch dir):
/// the tar crate refuses entries that climb out; whiteout names are plain files here.
fn extract_archive(path: &Path, dest: &Path) -> Result<(), CopyError> {
    std::fs::create_dir_all(dest).map_err(io_err("extract"))?;
    let mut f = File::open(path).map_err(io_err(path.display().to_string()))?;
    let mut head = [0u8; 4];
    let n = read_up_to(&mut f, &mut head);
    drop(f);
    let file = File::open(path).map_err(io_err(path.display().to_string()))?;
    let reader: Box<dyn Read> = if head[..n.min(2)] == [0x1f, 0x8b] {
        Box::new(flate2::read::MultiGzDecoder::new(io::BufReader::new(file)))
    } else if head[..n] == [0x28, 0xb5, 0x2f, 0xfd] {
        Box::new(zstd::Decoder::new(file).map_err(io_err("zstd"))?)
    } else {
        Box::new(file)
    };
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    archive.set_preserve_mtime(true);
    archive.set_overwrite(true);
    archive.unpack(dest).map_err(io_err(format!("unpack {}", path.display())))
}

/// Fetch `url` for ADD into the store's download cache, asking the server
/// only whether it changed when a copy is kept (ETag / Last-Modified).
/// Returns the file, its sha256 and its Last-Modified time.
pub fn fetch_url(store: &Store, url: &str, checksum: Option<&str>) -> Result<(PathBuf, Digest, Option<i64>), CopyError> {
    let dir = store.root().join("build-downloads-v1");
    std::fs::create_dir_all(&dir).map_err(io_err("the download cache"))?;
    let stem = Digest::of(url.as_bytes()).hex().to_string();
    let (body, meta_path) = (dir.join(&stem), dir.join(format!("{stem}.json")));
    let kept: Option<serde_json::Value> = crate::fsutil::read_json(&meta_path).ok().flatten();
    let bad = |message: String| CopyError::Download { url: url.to_string(), message };
    // The system's CAs, certs.d and the proxy environment, as for registries.
    let clients =
        crate::image::http::HttpClients::new(crate::image::http::default_certs_dirs(), std::time::Duration::from_secs(60), ureq::RedirectAuthHeaders::Never);
    let agent = clients.agent(url).map_err(|e| bad(e.to_string()))?;
    let mut request = agent.get(url);
    if let Some(k) = &kept
        && body.is_file()
    {
        if let Some(etag) = k["etag"].as_str() {
            request = request.set("If-None-Match", etag);
        }
        if let Some(lm) = k["last_modified"].as_str() {
            request = request.set("If-Modified-Since", lm);
        }
    }
    let response = match request.call() {
        Ok(r) => r,
        Err(ureq::Error::Status(code, r)) => return Err(bad(format!("the server answered {code} {}", r.status_text()))),
        Err(e) => return Err(bad(e.to_string())),
    };
    let mtime = |lm: Option<&str>| lm.and_then(|s| chrono::DateTime::parse_from_rfc2822(s).ok()).map(|t| t.timestamp());
    let (digest, last_modified) = if response.status() == 304 {
        let k = kept.expect("304 only with validators");
        // The kept file is hashed again, not trusted by its note: a checksum or rde.lock pin checks these bytes.
        let reader = crate::image::digest::HashingReader::new(File::open(&body).map_err(io_err("the download cache"))?);
        let (digest, _, _) = reader.finish().map_err(io_err("the download cache"))?;
        (digest, k["last_modified"].as_str().map(str::to_string))
    } else {
        let etag = response.header("ETag").map(str::to_string);
        let last_modified = response.header("Last-Modified").map(str::to_string);
        let tmp = dir.join(format!("{stem}.part-{}", crate::fsutil::unique_suffix()));
        let mut out = File::create(&tmp).map_err(io_err("the download"))?;
        let mut hashing = crate::image::digest::HashingReader::new(response.into_reader());
        let copied = io::copy(&mut hashing, &mut out);
        let (digest, _, _) = hashing.finish().map_err(io_err("the download"))?;
        if let Err(e) = copied.and_then(|_| out.sync_all()) {
            let _ = std::fs::remove_file(&tmp);
            return Err(bad(e.to_string()));
        }
        std::fs::rename(&tmp, &body).map_err(io_err("the download"))?;
        let meta = serde_json::json!({"url": url, "digest": digest.to_string(), "etag": etag, "last_modified": last_modified});
        crate::fsutil::write_json(&meta_path, &meta).map_err(io_err("the download cache"))?;
        (digest, last_modified)
    };
    if let Some(expected) = checksum
        && expected != digest.to_string()
    {
        return Err(CopyError::Checksum { url: url.to_string(), expected: expected.to_string(), actual: digest.to_string() });
    }
    Ok((body, digest, mtime(last_modified.as_deref())))
}

/// The file name ADD gives a URL's content: the last element of its path.
pub fn url_file_name(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let after_host = path.splitn(4, '/').nth(3).unwrap_or("");
    after_host.rsplit('/').find(|s| !s.is_empty()).unwrap_or("index.html").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_names_come_from_the_path() {
        assert_eq!(url_file_name("https://raw.example.com/vishnubob/wait-for-it/master/wait-for-it.sh"), "wait-for-it.sh");
        assert_eq!(url_file_name("http://10.213.0.1:8079/files/a.tar.gz?x=1"), "a.tar.gz");
        assert_eq!(url_file_name("http://host/"), "index.html");
    }

    #[test]
    fn archives_are_recognised_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("notes.tar.gz");
        std::fs::write(&plain, b"not an archive").unwrap();
        assert!(!is_archive(&plain));
        let tgz = dir.path().join("x.bin");
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(File::create(&tgz).unwrap(), flate2::Compression::fast()));
        let mut h = tar::Header::new_ustar();
        h.set_size(2);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_cksum();
        builder.append_data(&mut h, "a/b.txt", &b"hi"[..]).unwrap();
        builder.into_inner().unwrap().finish().unwrap();
        assert!(is_archive(&tgz));
        let out = dir.path().join("out");
        extract_archive(&tgz, &out).unwrap();
        assert_eq!(std::fs::read(out.join("a/b.txt")).unwrap(), b"hi");
    }
}
