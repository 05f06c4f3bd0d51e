//! `push`: an image from the store to a registry (distribution spec: blob
//! uploads, cross-repository mounts, manifest PUT), with the same
//! authentication as pulls but a `pull,push` scope, and never through a mirror.
//!
//! Each layer goes as cheaply as it can: a pulled layer whose original blob the
//! registry already has (or can mount from the repository it came from) is not
//! sent again, and keeps its digest; any other layer is written out from the
//! store (its exact tar, see `tar_split`), compressed (gzip by default, or
//! zstd) into a temporary file while hashed, then skipped if the registry has
//! that digest, else uploaded. Compression is deterministic (no timestamps,
//! fixed levels), so the same image pushes as the same digests. The manifest is
//! an OCI image manifest; the registry verifies every digest.

use super::digest::{Digest, HashingWriter};
use super::manifest::{Compression, OCI_CONFIG, OCI_MANIFEST};
use super::reference::Reference;
use super::registry::{Body, RegistryClient, RegistryError};
use super::store::{ImageRecord, Store, StoreError};
use crate::output::Printer;
use serde_json::json;
use std::io::{self, Write};

#[derive(Debug, thiserror::Error)]
#[error("cannot push {image}: {kind}")]
pub struct PushError {
    pub image: String,
    pub kind: Box<PushFailure>,
}

#[derive(Debug, thiserror::Error)]
pub enum PushFailure {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("compressing layer {layer}: {source}")]
    Compress { layer: Digest, source: io::Error },
    #[error("the image's config {0} is missing from the store; hint: pull or build the image again")]
    MissingConfig(Digest),
}

/// How layers that must be sent are compressed (`--compression`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PushCompression {
    #[default]
    Gzip,
    Zstd,
}

impl std::str::FromStr for PushCompression {
    type Err = String;
    fn from_str(s: &str) -> Result<PushCompression, String> {
        match s {
            "gzip" => Ok(PushCompression::Gzip),
            "zstd" => Ok(PushCompression::Zstd),
            other => Err(format!("--compression {other:?}: use gzip or zstd")),
        }
    }
}

impl PushCompression {
    fn name(self) -> &'static str {
        match self {
            PushCompression::Gzip => "gzip",
            PushCompression::Zstd => "zstd",
        }
    }

    fn compression(self) -> Compression {
        match self {
            PushCompression::Gzip => Compression::Gzip,
            PushCompression::Zstd => Compression::Zstd,
        }
    }

    fn media_type(self) -> &'static str {
        self.compression().oci_layer_media_type()
    }

    fn matches(self, c: Option<Compression>) -> bool {
        c == Some(self.compression())
    }
}

/// What a push gave: the manifest's digest and size, as docker prints them.
pub struct Pushed {
    pub digest: Digest,
    pub size: usize,
}

/// Push `record` as `reference` (its tag, `latest` without one).
pub fn push(
    client: &RegistryClient,
    store: &Store,
    record: &ImageRecord,
    reference: &Reference,
    compression: PushCompression,
    printer: &Printer,
) -> Result<Pushed, PushError> {
    push_inner(client, store, record, reference, compression, printer).map_err(|kind| PushError { image: reference.familiar(), kind: Box::new(kind) })
}

fn push_inner(
    client: &RegistryClient,
    store: &Store,
    record: &ImageRecord,
    reference: &Reference,
    compression: PushCompression,
    printer: &Printer,
) -> Result<Pushed, PushFailure> {
    let tag = reference.tag_or_latest().unwrap_or("latest").to_string();
    printer.status(format!("The push refers to repository [{}]", reference.name()));
    let session = client.push_session(reference, sources(record, reference))?;
    let session_sources = sources(record, reference);
    let mut descriptors = Vec::new();
    for layer in &record.layers {
        let meta = store.layer_meta(&layer.diff_id).ok_or_else(|| StoreError::MissingLayer(layer.diff_id.clone()))?;
        let short = layer.diff_id.short().to_string();
        // Blobs this layer already is, compressed as wanted: the one it was pulled
        // as, and the one an earlier push made. The registry may have one, or
        // mount it from a repository the image came from or went to.
        let mut candidates: Vec<(Digest, u64)> = Vec::new();
        if meta.compressed_digest != meta.diff_id && compression.matches(Compression::from_media_type(&meta.media_type)) {
            candidates.push((meta.compressed_digest.clone(), meta.compressed_size));
        }
        candidates.extend(known_blob(store, &layer.diff_id, compression).filter(|k| !candidates.contains(k)));
        let mut reused = None;
        'found: for (digest, size) in &candidates {
            if session.has_blob(digest)? {
                printer.status(format!("{short}: Layer already exists"));
                reused = Some((digest.clone(), *size));
                break;
            }
            for from in &session_sources {
                if session.mount_blob(digest, from)? {
                    printer.status(format!("{short}: Mounted from {from}"));
                    reused = Some((digest.clone(), *size));
                    break 'found;
                }
            }
        }
        let (digest, size) = match reused {
            Some(found) => found,
            None => {
                let (digest, size, file) = compress(store, &layer.diff_id, compression)?;
                remember_blob(store, &layer.diff_id, compression, &digest, size);
                if session.has_blob(&digest)? {
                    printer.status(format!("{short}: Layer already exists"));
                } else {
                    printer.status(format!("{short}: Pushing"));
                    session.upload_blob(&digest, &Body::File(&file.path()))?;
                    printer.status(format!("{short}: Pushed"));
                }
                (digest, size)
            }
        };
        descriptors.push(json!({"mediaType": compression.media_type(), "digest": digest.to_string(), "size": size}));
    }
    let config = store.get_blob(&record.id).ok_or_else(|| PushFailure::MissingConfig(record.id.clone()))?;
    if !session.has_blob(&record.id)? {
        session.upload_blob(&record.id, &Body::Bytes(&config))?;
    }
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": record.id.to_string(), "size": config.len()},
        "layers": descriptors,
    }))
    .expect("json");
    let digest = session.put_manifest(&tag, OCI_MANIFEST, &manifest)?;
    printer.status(format!("{tag}: digest: {digest} size: {}", manifest.len()));
    record_repo_digest(store, record, reference, &digest)?;
    Ok(Pushed { digest, size: manifest.len() })
}

/// Repositories of the push's registry the image came from or went to: where its blobs may be mounted from.
fn sources(record: &ImageRecord, reference: &Reference) -> Vec<String> {
    let prefix = format!("{}/", reference.registry);
    record
        .repo_digests
        .iter()
        .filter_map(|d| d.split_once('@').map(|(name, _)| name))
        .filter_map(|name| name.strip_prefix(&prefix))
        .filter(|repo| *repo != reference.repository)
        .map(str::to_string)
        .collect()
}

/// What an earlier push compressed layer `diff_id` to (kept beside the layer,
/// `pushed.json`: compression -> [digest, size]).
fn known_blob(store: &Store, diff_id: &Digest, compression: PushCompression) -> Option<(Digest, u64)> {
    let known: std::collections::BTreeMap<String, (Digest, u64)> = crate::fsutil::read_json(&store.layer_dir(diff_id).join("pushed.json")).ok().flatten()?;
    known.get(compression.name()).cloned()
}

fn remember_blob(store: &Store, diff_id: &Digest, compression: PushCompression, digest: &Digest, size: u64) {
    let path = store.layer_dir(diff_id).join("pushed.json");
    let mut known: std::collections::BTreeMap<String, (Digest, u64)> = crate::fsutil::read_json(&path).ok().flatten().unwrap_or_default();
    known.insert(compression.name().to_string(), (digest.clone(), size));
    // A cache: a push that cannot write it only compresses again next time.
    let _ = crate::fsutil::write_json(&path, &known);
}

/// A scratch directory of the store, removed when dropped.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn path(&self) -> std::path::PathBuf {
        self.0.join("blob")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = crate::fsutil::remove_tree(&self.0);
    }
}

/// Layer `diff_id` compressed into a scratch file of the store: (digest, size, file).
fn compress(store: &Store, diff_id: &Digest, compression: PushCompression) -> Result<(Digest, u64, Scratch), PushFailure> {
    let err = |source| PushFailure::Compress { layer: diff_id.clone(), source };
    let scratch = Scratch(store.scratch_dir("push")?);
    let file = std::fs::File::create(scratch.path()).map_err(err)?;
    let mut hashed = HashingWriter::new(io::BufWriter::with_capacity(1 << 20, file));
    match compression {
        PushCompression::Gzip => {
            let mut gz = flate2::GzBuilder::new().mtime(0).write(&mut hashed, flate2::Compression::default());
            store.write_layer_tar(diff_id, &mut gz)?;
            gz.finish().map_err(err)?;
        }
        PushCompression::Zstd => {
            let mut z = zstd::stream::write::Encoder::new(&mut hashed, 3).map_err(err)?;
            store.write_layer_tar(diff_id, &mut z)?;
            z.finish().map_err(err)?;
        }
    }
    hashed.inner.flush().map_err(err)?;
    let (digest, size, _) = hashed.finish();
    Ok((digest, size, scratch))
}

/// After a push the image has that repository's digest too (docker's RepoDigests).
fn record_repo_digest(store: &Store, record: &ImageRecord, reference: &Reference, digest: &Digest) -> Result<(), StoreError> {
    let _lock = store.lock_metadata()?;
    let Some(mut current) = store.image(&record.id)? else { return Ok(()) };
    let name = reference.name();
    current.repo_digests.retain(|d| !d.starts_with(&format!("{name}@")));
    current.repo_digests.push(format!("{name}@{digest}"));
    store.save_image(&current)
}
