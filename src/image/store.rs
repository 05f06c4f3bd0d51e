//! The content store: verified blobs, unpacked layers, image records and tags.
//!
//! ```text
//! <root>/CACHEDIR.TAG
//! <root>/blobs-v1/sha256/<hex>        manifests, indexes and configs, named by their digest
//! <root>/layers-v1/<diff-id hex>/     one unpacked layer: diff/ (an overlay lower dir) + meta.json
//! <root>/images-v1/<id hex>.json      one image record (id = config digest)
//! <root>/images-v1/tags.json          "docker.io/library/postgres:15" -> image id
//! <root>/build-cache-v1/<key hex>.json one build step's result (config + layers), by cache key
//! <root>/tmp/                         staging, same filesystem so renames are atomic
//! <root>/locks/                       advisory locks: one per layer, one for image metadata
//! ```
//!
//! Layers are keyed by diff id (the digest of the uncompressed tar): an unpacked
//! layer does not depend on the layers below it, so any image that contains the
//! same layer shares the directory. A layer appears under `layers-v1/` only by one
//! rename of a complete, verified staging directory, so a reader never sees half a layer.

use super::digest::Digest;
use super::unpack::{OverlayXattrs, UnpackStats};
use crate::fsutil::{self, LockGuard};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};

const CACHEDIR_TAG: &str = "Signature: 8a477f597d28d172789f06886806bc55\n# This directory holds rde's image store.\n# For information about cache directory tags see https://bford.info/cachedir/\n";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("image store {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("image record {} is corrupt: {source}; hint: remove it with `rde image rm {}` and pull the image again", .path.display(), record_id(.path))]
    Corrupt { path: PathBuf, source: serde_json::Error },
    #[error("blob {expected} failed verification (its bytes hash to {actual}); nothing was stored")]
    DigestMismatch { expected: Digest, actual: Digest },
    #[error("layer {0} is not in the store; hint: pull the image again")]
    MissingLayer(Digest),
    #[error("layer {0} was pulled before rde kept what it takes to write it out again; hint: `rde image rm` the image and pull it again")]
    NoTarSplit(Digest),
    #[error(
        "layer {expected} no longer gives its own tar (it hashes to {actual}): its files changed in the store; hint: `rde image rm` the image and pull it again"
    )]
    LayerChanged { expected: Digest, actual: Digest },
    #[error(transparent)]
    TarSplit(#[from] super::tar_split::TarSplitError),
    #[error(transparent)]
    LayerTar(#[from] super::layer_tar::LayerTarError),
}

/// Image records as read: the good ones, and (id, error) for those that cannot be.
struct Scan {
    good: Vec<ImageRecord>,
    broken: Vec<(Digest, StoreError)>,
}

/// The image id a record file is for (`images-v1/<hex>.json`), short as `image ls` prints it.
fn record_id(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().chars().take(12).collect()).unwrap_or_default()
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io { path: path.to_path_buf(), source }
}

/// What the store knows about one unpacked layer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LayerMeta {
    pub diff_id: Digest,
    /// Digest and media type of the compressed blob it was unpacked from.
    pub compressed_digest: Digest,
    pub media_type: String,
    pub compressed_size: u64,
    pub overlay_xattrs: OverlayXattrs,
    pub stats: UnpackStats,
    /// Bytes of the uncompressed tar (0 when the store did not record it).
    #[serde(default)]
    pub diff_size: u64,
    /// A built layer's SOURCE_DATE_EPOCH clamp, to write its tar again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clamp_mtime: Option<u64>,
}

/// One layer of an image record.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ImageLayer {
    pub diff_id: Digest,
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ImageRecord {
    /// The config digest, docker's image id.
    pub id: Digest,
    pub manifest_digest: Digest,
    /// `name@digest` of what each repository pointed at (index or manifest).
    pub repo_digests: Vec<String>,
    pub layers: Vec<ImageLayer>,
    pub platform: String,
    pub created: Option<String>,
    /// Unpacked size: the sum of the layers' file bytes.
    pub size: u64,
    pub pulled_at: u64,
    /// Where a built image came from (absent for pulled ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<BuildOrigin>,
}

/// What a build read from the host: so that `up` can tell when the files
/// changed after the image was built.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct BuildOrigin {
    pub context: PathBuf,
    /// The Dockerfile (absent when it came from stdin or `dockerfile_inline`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dockerfile: Option<PathBuf>,
    /// Context-relative paths that COPY/ADD took (files or directories).
    pub sources: Vec<String>,
    /// Unix seconds when the build finished.
    pub built_at: u64,
}

impl BuildOrigin {
    /// The first of the build's files changed after it was built: the
    /// Dockerfile or a file COPY/ADD took (by mtime). Directories COPY took are
    /// left out: during development they are usually bind-mounted and edited
    /// all the time, and a warning on every `up` would only be noise.
    pub fn changed_since_built(&self) -> Option<PathBuf> {
        use std::os::unix::fs::MetadataExt;
        let newer = |p: &Path| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.mtime() > self.built_at as i64);
        self.dockerfile.iter().cloned().chain(self.sources.iter().map(|s| self.context.join(s))).find(|p| newer(p))
    }
}

/// One build step's result, kept so the same step with the same inputs is not
/// run again: the image config after the step and the layers below it. `key`
/// chains the parent step's key, the instruction and its inputs (see `build::cache`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CacheRecord {
    pub key: Digest,
    /// The config blob (stored under blobs-v1) after the step.
    pub config: Digest,
    pub layers: Vec<ImageLayer>,
    /// The instruction, for `system df -v` and `builder prune` output.
    pub description: String,
    /// Unix seconds.
    pub created: u64,
    pub last_used: u64,
    /// Bytes of the layer the step added (0 for a metadata step).
    pub size: u64,
}

pub struct Store {
    root: PathBuf,
    pub overlay_xattrs: OverlayXattrs,
}

impl Store {
    pub fn open(root: &Path, overlay_xattrs: OverlayXattrs) -> Result<Store, StoreError> {
        for dir in ["blobs-v1/sha256", "layers-v1", "images-v1", "build-cache-v1", "tmp", "locks"] {
            let p = root.join(dir);
            std::fs::create_dir_all(&p).map_err(io_err(&p))?;
        }
        let tag = root.join("CACHEDIR.TAG");
        if !tag.exists() {
            fsutil::write_atomic(&tag, CACHEDIR_TAG.as_bytes(), 0o644).map_err(io_err(&tag))?;
        }
        Ok(Store { root: root.to_path_buf(), overlay_xattrs })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    // ---- blobs ----

    fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs-v1/sha256").join(digest.hex())
    }

    /// Store `bytes` under `digest` after checking that they hash to it.
    pub fn put_blob(&self, digest: &Digest, bytes: &[u8]) -> Result<(), StoreError> {
        let actual = Digest::of(bytes);
        if &actual != digest {
            return Err(StoreError::DigestMismatch { expected: digest.clone(), actual });
        }
        let path = self.blob_path(digest);
        fsutil::write_atomic(&path, bytes, 0o644).map_err(io_err(&path))
    }

    /// A stored blob, re-verified: a blob damaged on disk reads as absent.
    pub fn get_blob(&self, digest: &Digest) -> Option<Vec<u8>> {
        let bytes = std::fs::read(self.blob_path(digest)).ok()?;
        (&Digest::of(&bytes) == digest).then_some(bytes)
    }

    // ---- layers ----

    pub fn layer_dir(&self, diff_id: &Digest) -> PathBuf {
        self.root.join("layers-v1").join(diff_id.hex())
    }

    /// The directory to use as an overlay lower dir.
    pub fn layer_diff(&self, diff_id: &Digest) -> PathBuf {
        self.layer_dir(diff_id).join("diff")
    }

    pub fn has_layer(&self, diff_id: &Digest) -> bool {
        self.layer_dir(diff_id).join("meta.json").is_file()
    }

    pub fn layer_meta(&self, diff_id: &Digest) -> Option<LayerMeta> {
        let bytes = std::fs::read(self.layer_dir(diff_id).join("meta.json")).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Held while a layer is downloaded and unpacked, so two pulls never unpack it twice.
    pub fn lock_layer(&self, diff_id: &Digest) -> Result<LockGuard, StoreError> {
        let p = self.root.join("locks").join(format!("layer-{}.lock", diff_id.hex()));
        fsutil::lock_exclusive(&p).map_err(io_err(&p))
    }

    /// A fresh, empty staging directory for a layer (call with its lock held): what a
    /// killed pull left there is thrown away first.
    pub fn layer_staging(&self, diff_id: &Digest) -> Result<PathBuf, StoreError> {
        let staging = self.root.join("tmp").join(format!("layer-{}", diff_id.hex()));
        fsutil::remove_tree(&staging).map_err(io_err(&staging))?;
        let diff = staging.join("diff");
        std::fs::create_dir_all(&diff).map_err(io_err(&diff))?;
        Ok(staging)
    }

    /// Publish a verified staging directory as the layer, in one rename.
    pub fn commit_layer(&self, staging: &Path, meta: &LayerMeta) -> Result<(), StoreError> {
        let meta_path = staging.join("meta.json");
        let bytes = serde_json::to_vec_pretty(meta).expect("layer meta serialises");
        fsutil::write_atomic(&meta_path, &bytes, 0o644).map_err(io_err(&meta_path))?;
        let target = self.layer_dir(&meta.diff_id);
        std::fs::rename(staging, &target).map_err(io_err(&target))
    }

    pub fn discard_staging(&self, staging: &Path) {
        let _ = fsutil::remove_tree(staging);
    }

    // ---- images and tags ----

    /// Held while image records or tags change.
    pub fn lock_metadata(&self) -> Result<LockGuard, StoreError> {
        let p = self.root.join("locks/images.lock");
        fsutil::lock_exclusive(&p).map_err(io_err(&p))
    }

    fn tags_path(&self) -> PathBuf {
        self.root.join("images-v1/tags.json")
    }

    fn record_path(&self, id: &Digest) -> PathBuf {
        self.root.join("images-v1").join(format!("{}.json", id.hex()))
    }

    pub fn tags(&self) -> Result<BTreeMap<String, Digest>, StoreError> {
        read_json_or_default(&self.tags_path())
    }

    pub fn save_tags(&self, tags: &BTreeMap<String, Digest>) -> Result<(), StoreError> {
        write_json(&self.tags_path(), tags)
    }

    pub fn image(&self, id: &Digest) -> Result<Option<ImageRecord>, StoreError> {
        let path = self.record_path(id);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|source| StoreError::Corrupt { path, source }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::Io { path, source: e }),
        }
    }

    pub fn save_image(&self, record: &ImageRecord) -> Result<(), StoreError> {
        write_json(&self.record_path(&record.id), record)
    }

    /// Every readable image record, newest first. A corrupt record is left out
    /// (see [`Store::broken_images`]) rather than failing every command.
    pub fn images(&self) -> Result<Vec<ImageRecord>, StoreError> {
        let mut out = self.scan_images()?.good;
        out.sort_by(|a, b| b.pulled_at.cmp(&a.pulled_at).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// Image records that cannot be read: (image id, `Corrupt` or `Io` error).
    pub fn broken_images(&self) -> Result<Vec<(Digest, StoreError)>, StoreError> {
        Ok(self.scan_images()?.broken)
    }

    fn scan_images(&self) -> Result<Scan, StoreError> {
        let dir = self.root.join("images-v1");
        let (mut good, mut bad) = (Vec::new(), Vec::new());
        for entry in std::fs::read_dir(&dir).map_err(io_err(&dir))? {
            let entry = entry.map_err(io_err(&dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(hex) = name.strip_suffix(".json") else { continue };
            let Ok(id) = Digest::from_hex(hex) else { continue };
            match self.image(&id) {
                Ok(Some(record)) => good.push(record),
                Ok(None) => {}
                Err(e) => bad.push((id, e)),
            }
        }
        Ok(Scan { good, broken: bad })
    }

    /// Forget an image whose record is corrupt: the record and the tags that
    /// name it (its layers go with the next prune).
    pub fn remove_broken_image(&self, id: &Digest) -> Result<(), StoreError> {
        let mut tags = self.tags()?;
        tags.retain(|_, t| t != id);
        self.save_tags(&tags)?;
        let path = self.record_path(id);
        std::fs::remove_file(&path).map_err(io_err(&path))
    }

    /// Delete an image record and whatever only it used: its config and manifest
    /// blobs and its layers. Call with the metadata lock held. Returns every error,
    /// having tried everything.
    pub fn delete_image(&self, record: &ImageRecord) -> Vec<StoreError> {
        let mut errors = Vec::new();
        let path = self.record_path(&record.id);
        if let Err(e) = std::fs::remove_file(&path)
            && e.kind() != io::ErrorKind::NotFound
        {
            errors.push(StoreError::Io { path, source: e });
            return errors;
        }
        errors.extend(self.remove_unreferenced().err().into_iter().flatten());
        errors
    }

    /// Remove layers and blobs that no image record references, and staging
    /// leftovers nobody is working on. Returns the bytes freed.
    pub fn remove_unreferenced(&self) -> Result<u64, Vec<StoreError>> {
        let mut errors = Vec::new();
        let Scan { good: images, broken } = self.scan_images().map_err(|e| vec![e])?;
        // A layer may belong to the image whose record cannot be read: keep everything.
        if !broken.is_empty() {
            return Err(broken.into_iter().map(|(_, e)| e).collect());
        }
        let cache = self.cache_records().map_err(|e| vec![e])?;
        let mut used_layers: BTreeSet<String> = images.iter().flat_map(|i| i.layers.iter().map(|l| l.diff_id.hex().to_string())).collect();
        used_layers.extend(cache.iter().flat_map(|c| c.layers.iter().map(|l| l.diff_id.hex().to_string())));
        let mut used_blobs: BTreeSet<String> = cache.iter().map(|c| c.config.hex().to_string()).collect();
        for image in &images {
            used_blobs.insert(image.id.hex().to_string());
            used_blobs.insert(image.manifest_digest.hex().to_string());
            for rd in &image.repo_digests {
                if let Some((_, d)) = rd.rsplit_once("@sha256:") {
                    used_blobs.insert(d.to_string());
                }
            }
        }
        let mut freed = 0;
        let layers = self.root.join("layers-v1");
        for entry in std::fs::read_dir(&layers).map_err(|e| vec![StoreError::Io { path: layers.clone(), source: e }])?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if used_layers.contains(&name) {
                continue;
            }
            let Ok(diff_id) = Digest::from_hex(&name) else { continue };
            // Skip a layer that a concurrent pull is publishing right now.
            let lock = self.root.join("locks").join(format!("layer-{name}.lock"));
            let Ok(Some(_guard)) = fsutil::try_lock_exclusive(&lock) else { continue };
            let dir = self.layer_dir(&diff_id);
            freed += self.layer_meta(&diff_id).map_or(0, |m| m.stats.file_bytes);
            // Move aside first so a half-removed layer is never seen under its name.
            let doomed = self.root.join("tmp").join(format!("remove-{name}-{}", fsutil::unique_suffix()));
            let result = std::fs::rename(&dir, &doomed).and_then(|_| fsutil::remove_tree(&doomed));
            match result {
                Ok(()) => {
                    let _ = std::fs::remove_file(&lock);
                }
                Err(e) => errors.push(StoreError::Io { path: dir, source: e }),
            }
        }
        let blobs = self.root.join("blobs-v1/sha256");
        if let Ok(rd) = std::fs::read_dir(&blobs) {
            for entry in rd.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if !used_blobs.contains(&name) {
                    freed += entry.metadata().map_or(0, |m| m.len());
                    if let Err(e) = std::fs::remove_file(entry.path()) {
                        errors.push(StoreError::Io { path: entry.path(), source: e });
                    }
                }
            }
        }
        errors.extend(self.clean_tmp());
        if errors.is_empty() { Ok(freed) } else { Err(errors) }
    }

    /// Remove staging directories whose owner is gone (their lock is free).
    fn clean_tmp(&self) -> Vec<StoreError> {
        let tmp = self.root.join("tmp");
        let mut errors = Vec::new();
        let Ok(rd) = std::fs::read_dir(&tmp) else { return errors };
        for entry in rd.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let guard = match name.strip_prefix("layer-") {
                Some(hex) => match fsutil::try_lock_exclusive(&self.root.join("locks").join(format!("layer-{hex}.lock"))) {
                    Ok(Some(g)) => Some(g),
                    _ => continue,
                },
                None if name.starts_with("remove-") => None,
                None => continue,
            };
            if let Err(e) = fsutil::remove_tree(&entry.path()) {
                errors.push(StoreError::Io { path: entry.path(), source: e });
            }
            drop(guard);
        }
        errors
    }

    // ---- build cache ----

    fn cache_path(&self, key: &Digest) -> PathBuf {
        self.root.join("build-cache-v1").join(format!("{}.json", key.hex()))
    }

    /// The cached result of a build step, if every part of it is still stored
    /// (a record whose layers or config went is treated as a miss).
    pub fn cache_record(&self, key: &Digest) -> Option<CacheRecord> {
        let record: CacheRecord = fsutil::read_json(&self.cache_path(key)).ok().flatten()?;
        let complete = self.has_blob(&record.config) && record.layers.iter().all(|l| self.has_layer(&l.diff_id));
        complete.then_some(record)
    }

    pub fn save_cache_record(&self, record: &CacheRecord) -> Result<(), StoreError> {
        write_json(&self.cache_path(&record.key), record)
    }

    /// Every readable cache record (unreadable ones are skipped: the cache is only a cache).
    pub fn cache_records(&self) -> Result<Vec<CacheRecord>, StoreError> {
        let dir = self.root.join("build-cache-v1");
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(io_err(&dir))?.flatten() {
            if let Ok(Some(record)) = fsutil::read_json::<CacheRecord>(&entry.path()) {
                out.push(record);
            }
        }
        out.sort_by(|a, b| b.last_used.cmp(&a.last_used).then(a.key.cmp(&b.key)));
        Ok(out)
    }

    /// Forget the cache records `doomed` picks (by key), then remove what only
    /// they used. Returns (records removed, bytes freed).
    pub fn prune_cache(&self, doomed: impl Fn(&CacheRecord) -> bool) -> Result<(usize, u64), Vec<StoreError>> {
        let mut errors = Vec::new();
        let mut removed = 0;
        for record in self.cache_records().map_err(|e| vec![e])? {
            if doomed(&record) {
                let path = self.cache_path(&record.key);
                match std::fs::remove_file(&path) {
                    Ok(()) => removed += 1,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => errors.push(StoreError::Io { path, source: e }),
                }
            }
        }
        let freed = match self.remove_unreferenced() {
            Ok(freed) => freed,
            Err(e) => {
                errors.extend(e);
                0
            }
        };
        if errors.is_empty() { Ok((removed, freed)) } else { Err(errors) }
    }

    fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// Publish a directory written by a build (an overlay upper dir or a
    /// COPY's output) as the layer `digest` describes: renamed into the store,
    /// never copied. When the store already has that layer, `dir` is removed.
    pub fn commit_built_layer(&self, dir: &Path, digest: &super::layer_tar::LayerDigest, clamp_mtime: Option<u64>) -> Result<LayerMeta, StoreError> {
        let diff_id = &digest.diff_id;
        let _lock = self.lock_layer(diff_id)?;
        if let Some(meta) = self.layer_meta(diff_id) {
            self.discard_staging(dir);
            return Ok(meta);
        }
        let staging = self.layer_staging(diff_id)?;
        let diff = staging.join("diff");
        std::fs::remove_dir(&diff).map_err(io_err(&diff))?;
        std::fs::rename(dir, &diff).map_err(io_err(dir))?;
        let meta = LayerMeta {
            diff_id: diff_id.clone(),
            // Kept uncompressed: a layer is compressed when it is pushed or saved.
            compressed_digest: diff_id.clone(),
            media_type: super::manifest::MEDIA_OCI_LAYER_TAR.to_string(),
            compressed_size: digest.size,
            overlay_xattrs: self.overlay_xattrs,
            stats: super::unpack::UnpackStats { entries: digest.entries, file_bytes: digest.file_bytes, ..Default::default() },
            diff_size: digest.size,
            clamp_mtime,
        };
        self.commit_layer(&staging, &meta)?;
        Ok(meta)
    }

    /// Write layer `diff_id`'s tar stream, exactly the bytes its diff id hashes,
    /// to `out`; its size. A pulled layer comes back from its tar-split record,
    /// a built one is written again as it was built. The bytes are checked
    /// against the diff id as they go: a mismatch is an error after the fact,
    /// so `out` must be something the caller can throw away (a temp file, an
    /// upload the registry verifies).
    pub fn write_layer_tar(&self, diff_id: &Digest, out: impl io::Write) -> Result<u64, StoreError> {
        let meta = self.layer_meta(diff_id).ok_or_else(|| StoreError::MissingLayer(diff_id.clone()))?;
        let dir = self.layer_dir(diff_id);
        let split = dir.join(super::tar_split::FILE_NAME);
        let (actual, size) = if split.is_file() {
            super::tar_split::reassemble(&split, &dir.join("diff"), out)?
        } else if meta.compressed_digest == meta.diff_id {
            let opts = super::layer_tar::TarOptions { overlay_xattrs: meta.overlay_xattrs, clamp_mtime: meta.clamp_mtime };
            let written = super::layer_tar::write_layer(&dir.join("diff"), opts, out)?;
            (written.diff_id, written.size)
        } else {
            return Err(StoreError::NoTarSplit(diff_id.clone()));
        };
        if &actual != diff_id {
            return Err(StoreError::LayerChanged { expected: diff_id.clone(), actual });
        }
        Ok(size)
    }

    /// A directory on the store's filesystem for a build's scratch work (renames into the store stay atomic).
    pub fn scratch_dir(&self, what: &str) -> Result<PathBuf, StoreError> {
        let dir = self.root.join("tmp").join(format!("build-{what}-{}", fsutil::unique_suffix()));
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        Ok(dir)
    }

    /// Bytes of unpacked layers and of blobs, for `system df`.
    pub fn usage(&self) -> (u64, u64) {
        (fsutil::disk_usage(&self.root.join("layers-v1")), fsutil::disk_usage(&self.root.join("blobs-v1")))
    }
}

fn read_json_or_default<T: serde::de::DeserializeOwned + Default>(path: &Path) -> Result<T, StoreError> {
    match fsutil::read_json(path) {
        Ok(value) => Ok(value.unwrap_or_default()),
        Err(fsutil::JsonReadError::Corrupt(source)) => Err(StoreError::Corrupt { path: path.into(), source }),
        Err(fsutil::JsonReadError::Io(source)) => Err(StoreError::Io { path: path.into(), source }),
    }
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), StoreError> {
    fsutil::write_json(path, value).map_err(io_err(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_are_verified_before_they_are_stored() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), OverlayXattrs::User).unwrap();
        let good = Digest::of(b"config");
        store.put_blob(&good, b"config").unwrap();
        assert_eq!(store.get_blob(&good).unwrap(), b"config");
        let err = store.put_blob(&good, b"tampered").unwrap_err();
        assert!(matches!(err, StoreError::DigestMismatch { .. }));
        assert_eq!(store.get_blob(&good).unwrap(), b"config");
        // Damaged on disk: reads as absent, so it is fetched again.
        std::fs::write(store.blob_path(&good), b"bitrot").unwrap();
        assert!(store.get_blob(&good).is_none());
        assert!(dir.path().join("CACHEDIR.TAG").is_file());
    }

    #[test]
    fn layers_appear_only_when_committed_and_go_when_unreferenced() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), OverlayXattrs::User).unwrap();
        let diff_id = Digest::of(b"layer");
        let _lock = store.lock_layer(&diff_id).unwrap();
        let staging = store.layer_staging(&diff_id).unwrap();
        std::fs::write(staging.join("diff/file"), b"x").unwrap();
        assert!(!store.has_layer(&diff_id));
        let meta = LayerMeta {
            diff_id: diff_id.clone(),
            compressed_digest: Digest::of(b"gz"),
            media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
            compressed_size: 2,
            overlay_xattrs: OverlayXattrs::User,
            stats: UnpackStats { file_bytes: 1, ..Default::default() },
            diff_size: 0,
            clamp_mtime: None,
        };
        store.commit_layer(&staging, &meta).unwrap();
        assert!(store.has_layer(&diff_id));
        assert_eq!(std::fs::read(store.layer_diff(&diff_id).join("file")).unwrap(), b"x");
        drop(_lock);
        // A killed pull's staging dir is cleaned when its lock is free.
        std::fs::create_dir_all(dir.path().join("tmp/layer-abc/diff")).unwrap();
        assert_eq!(store.remove_unreferenced().unwrap(), 1);
        assert!(!store.has_layer(&diff_id));
        assert_eq!(std::fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }
}
