//! `pull`: resolve a reference to a manifest for this platform, fetch and verify
//! its config, then stream every missing layer straight from the registry through
//! the hashers and the decompressor into the layer writer, several layers at once.
//! Nothing is published until both the compressed digest and the diff id check out.

use super::config::{ConfigError, ImageConfig, MAX_CONFIG_BYTES};
use super::digest::{Digest, HashingReader};
use super::manifest::{Compression, Descriptor, ImageManifest, Manifest, ManifestError};
use super::platform::Platform;
use super::reference::Reference;
use super::registry::{FetchedManifest, RegistryClient, RegistryError, RepoSession};
use super::store::{ImageLayer, ImageRecord, LayerMeta, Store, StoreError};
use super::unpack::{self, UnpackError, UnpackOptions};
use crate::output::{Printer, Progress};
use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read};
use std::sync::Mutex;

/// Layers fetched at once: enough to keep the link and both cores busy.
const PARALLEL_LAYERS: usize = 3;
/// Tries per layer when the connection drops or the data arrives damaged.
const LAYER_ATTEMPTS: usize = 3;
const STREAM_BUFFER: usize = 256 * 1024;

#[derive(Debug, thiserror::Error)]
#[error("cannot pull {image}: {kind}")]
pub struct PullError {
    pub image: String,
    /// Boxed: the failure kinds are large and errors travel far.
    pub kind: Box<PullFailure>,
}

#[derive(Debug, thiserror::Error)]
pub enum PullFailure {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "{what} from {registry} does not match its digest: expected {expected}, got {actual}; the registry served damaged or tampered content and nothing was stored"
    )]
    DigestMismatch { what: String, registry: String, expected: Digest, actual: Digest },
    #[error(
        "layer {digest} from {registry}: expected {expected} bytes, got {actual} (connection dropped or blob truncated); nothing was stored, pull again to complete"
    )]
    SizeMismatch { digest: Digest, registry: String, expected: u64, actual: u64 },
    #[error("layer {digest}: {source}")]
    Unpack { digest: Digest, source: UnpackError },
    #[error("layer {digest}: the download broke off ({source}); nothing was stored, pull again to complete")]
    Stream { digest: Digest, source: io::Error },
    #[error("bad image config {digest}: {source}")]
    Config { digest: Digest, source: serde_json::Error },
    #[error("image config {config}: {source}; hint: the image is malformed (nothing was downloaded); ask its publisher to rebuild it")]
    ConfigMismatch { config: Digest, source: ConfigError },
    #[error("image config {digest} is {size} bytes, more than rde reads ({MAX_CONFIG_BYTES}); hint: the image is malformed, or not an image")]
    ConfigTooLarge { digest: Digest, size: u64 },
}

impl PullFailure {
    /// Worth another try: the network or the data in flight, not our input.
    fn is_transient(&self) -> bool {
        match self {
            PullFailure::Registry(RegistryError::Io { .. } | RegistryError::Unreachable { .. }) => true,
            PullFailure::Registry(RegistryError::Http { status, .. }) => *status >= 500 || *status == 429,
            PullFailure::SizeMismatch { .. } | PullFailure::Stream { .. } | PullFailure::DigestMismatch { .. } => true,
            // A tar error once the layer's digest checked out is the layer itself, not the network.
            _ => false,
        }
    }
}

pub struct PullOptions {
    pub platform: Option<Platform>,
}

pub struct Pulled {
    /// Digest the reference resolved to (index or manifest), docker's "Digest:".
    pub digest: Digest,
    /// The platform manifest chosen (equal to `digest` without an index).
    pub manifest: Digest,
    pub downloaded_layers: usize,
}

pub fn pull(client: &RegistryClient, store: &Store, reference: &Reference, opts: &PullOptions, printer: &Printer) -> Result<Pulled, PullError> {
    pull_inner(client, store, reference, opts, printer).map_err(|kind| PullError { image: reference.familiar(), kind: Box::new(kind) })
}

fn pull_inner(client: &RegistryClient, store: &Store, reference: &Reference, opts: &PullOptions, printer: &Printer) -> Result<Pulled, PullFailure> {
    let wanted = opts.platform.clone().unwrap_or_else(Platform::host);
    if let Some(tag) = reference.tag_or_latest() {
        printer.status(format!("{tag}: Pulling from {}", reference.familiar_repository()));
    }
    let Selected { session, top, manifest, manifest_digest, manifest_bytes } = select(client, reference, &wanted)?;
    let registry = session.registry_host().to_string();

    let config_bytes = fetch_config(&session, store, &manifest.config, &registry)?;
    let config = ImageConfig::parse(&config_bytes).map_err(|source| PullFailure::Config { digest: manifest.config.digest.clone(), source })?;
    // Before any layer is downloaded: a manifest and config that disagree are not an image.
    config.check_layers(manifest.layers.len()).map_err(|source| PullFailure::ConfigMismatch { config: manifest.config.digest.clone(), source })?;
    if top.digest == manifest_digest && !config.os.is_empty() {
        let got = Platform { os: config.os.clone(), architecture: config.architecture.clone(), variant: config.variant.clone() };
        if !wanted.matches(&got) {
            printer.warn(format!("the image's platform ({got}) does not match the requested platform ({wanted})"));
        }
    }

    let downloaded_layers = fetch_layers(&session, store, &manifest, &config, &registry, printer)?;

    store.put_blob(&manifest_digest, &manifest_bytes)?;
    if top.digest != manifest_digest {
        store.put_blob(&top.digest, &top.bytes)?;
    }
    record_image(store, reference, &manifest, &manifest_digest, &top.digest, &config)?;
    Ok(Pulled { digest: top.digest, manifest: manifest_digest, downloaded_layers })
}

/// What a reference resolves to in its registry (or the mirror that answered),
/// without fetching any layer: what `rde.lock` records.
#[derive(Clone, Debug, PartialEq)]
pub struct Resolved {
    /// The registry host that answered (a mirror's, or the reference's own).
    pub registry: String,
    /// The digest the tag points at: an index, or a single manifest.
    pub index: Digest,
    /// The manifest for `platform` (equal to `index` for single-manifest images).
    pub manifest: Digest,
    /// `os/arch[/variant]` of the manifest chosen.
    pub platform: String,
}

/// Resolve `reference` for `platform` (the host's when `None`): the tag's
/// digest and the platform manifest's, both verified. Errors name the image.
pub fn resolve(client: &RegistryClient, reference: &Reference, platform: Option<&Platform>) -> Result<Resolved, PullError> {
    let wanted = platform.cloned().unwrap_or_else(Platform::host);
    let selected = select(client, reference, &wanted).map_err(|kind| PullError { image: reference.familiar(), kind: Box::new(kind) })?;
    Ok(Resolved {
        registry: selected.session.registry_host().to_string(),
        index: selected.top.digest.clone(),
        manifest: selected.manifest_digest,
        platform: wanted.to_string(),
    })
}

/// The manifest `reference` names for `wanted`, through an index when there is one.
struct Selected<'a> {
    session: RepoSession<'a>,
    top: FetchedManifest,
    manifest: ImageManifest,
    manifest_digest: Digest,
    manifest_bytes: Vec<u8>,
}

fn select<'a>(client: &'a RegistryClient, reference: &Reference, wanted: &Platform) -> Result<Selected<'a>, PullFailure> {
    let (session, top) = client.open_manifest(reference)?;
    let registry = session.registry_host().to_string();
    if let Some(expected) = &reference.digest {
        verify(&top.digest, expected, "manifest", &registry)?;
    }
    let (manifest, manifest_digest, manifest_bytes) = match Manifest::parse(&top.bytes, top.content_type.as_deref())? {
        Manifest::Image(m) => (m, top.digest.clone(), top.bytes.clone()),
        Manifest::Index(index) => {
            let entry = index.select(wanted)?;
            let fetched = session.manifest(&entry.digest.to_string())?;
            verify(&fetched.digest, &entry.digest, "platform manifest", &registry)?;
            match Manifest::parse(&fetched.bytes, fetched.content_type.as_deref().or(Some(&entry.media_type)))? {
                Manifest::Image(m) => (m, fetched.digest, fetched.bytes),
                Manifest::Index(_) => {
                    return Err(ManifestError::UnsupportedType("an index nested in an index".into()).into());
                }
            }
        }
    };
    Ok(Selected { session, top, manifest, manifest_digest, manifest_bytes })
}

fn verify(actual: &Digest, expected: &Digest, what: &str, registry: &str) -> Result<(), PullFailure> {
    if actual == expected {
        Ok(())
    } else {
        Err(PullFailure::DigestMismatch { what: what.into(), registry: registry.into(), expected: expected.clone(), actual: actual.clone() })
    }
}

fn fetch_config(session: &RepoSession<'_>, store: &Store, desc: &Descriptor, registry: &str) -> Result<Vec<u8>, PullFailure> {
    if let Some(bytes) = store.get_blob(&desc.digest) {
        return Ok(bytes);
    }
    if desc.size > MAX_CONFIG_BYTES {
        return Err(PullFailure::ConfigTooLarge { digest: desc.digest.clone(), size: desc.size });
    }
    let bytes = session.blob_bytes(&desc.digest, MAX_CONFIG_BYTES)?;
    verify(&Digest::of(&bytes), &desc.digest, "image config", registry)?;
    store.put_blob(&desc.digest, &bytes)?;
    Ok(bytes)
}

/// Download and unpack every layer not yet in the store, `PARALLEL_LAYERS` at a time.
fn fetch_layers(
    session: &RepoSession<'_>,
    store: &Store,
    manifest: &ImageManifest,
    config: &ImageConfig,
    registry: &str,
    printer: &Printer,
) -> Result<usize, PullFailure> {
    let mut queue = VecDeque::new();
    for (desc, diff_id) in manifest.layers.iter().zip(&config.rootfs.diff_ids) {
        if store.has_layer(diff_id) {
            printer.status(format!("{}: Already exists", desc.digest.short()));
        } else {
            queue.push_back((desc, diff_id, printer.progress(desc.digest.short(), desc.size)));
        }
    }
    let count = queue.len();
    let queue = Mutex::new(queue);
    let first_error: Mutex<Option<PullFailure>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL_LAYERS.min(count) {
            scope.spawn(|| {
                loop {
                    if first_error.lock().unwrap().is_some() {
                        return;
                    }
                    let Some((desc, diff_id, progress)) = queue.lock().unwrap().pop_front() else { return };
                    if let Err(e) = fetch_layer_with_retries(session, store, desc, diff_id, registry, &progress) {
                        progress.finish("Failed");
                        first_error.lock().unwrap().get_or_insert(e);
                        return;
                    }
                }
            });
        }
    });
    match first_error.into_inner().unwrap() {
        Some(e) => Err(e),
        None => Ok(count),
    }
}

fn fetch_layer_with_retries(
    session: &RepoSession<'_>,
    store: &Store,
    desc: &Descriptor,
    diff_id: &Digest,
    registry: &str,
    progress: &Progress,
) -> Result<(), PullFailure> {
    // Another rde may be unpacking the same layer: wait for it, then find it done.
    let _lock = store.lock_layer(diff_id)?;
    if store.has_layer(diff_id) {
        progress.finish("Already exists");
        return Ok(());
    }
    let mut attempt = 1;
    loop {
        let staging = store.layer_staging(diff_id)?;
        match fetch_layer(session, store, desc, diff_id, registry, &staging, progress) {
            Ok(meta) => {
                store.commit_layer(&staging, &meta)?;
                progress.finish("Pull complete");
                return Ok(());
            }
            Err(e) => {
                store.discard_staging(&staging);
                if attempt >= LAYER_ATTEMPTS || !e.is_transient() {
                    return Err(e);
                }
                attempt += 1;
                progress.reset();
                progress.set_message("Retrying");
                std::thread::sleep(std::time::Duration::from_millis(200 * attempt as u64));
            }
        }
    }
}

/// Counts bytes into the progress bar as they arrive.
struct Counted<'p, R> {
    inner: R,
    progress: &'p Progress,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.inc(n as u64);
        Ok(n)
    }
}

fn fetch_layer(
    session: &RepoSession<'_>,
    store: &Store,
    desc: &Descriptor,
    diff_id: &Digest,
    registry: &str,
    staging: &std::path::Path,
    progress: &Progress,
) -> Result<LayerMeta, PullFailure> {
    let stream_err = |source| PullFailure::Stream { digest: desc.digest.clone(), source };
    let stream = session.blob_stream(&desc.digest)?;
    progress.set_message("Downloading");
    // One byte past the declared size is enough to tell an oversized blob.
    let counted = Counted { inner: stream.take(desc.size + 1), progress };
    let read = read_layer_blob(store, staging, BufReader::with_capacity(STREAM_BUFFER, counted), &desc.media_type).map_err(stream_err)?;
    // Size and digest first: a truncated or corrupt download explains a tar error.
    if desc.size > 0 && read.blob_size != desc.size {
        return Err(PullFailure::SizeMismatch { digest: desc.digest.clone(), registry: registry.into(), expected: desc.size, actual: read.blob_size });
    }
    verify(&read.blob_digest, &desc.digest, &format!("layer {}", desc.digest.short()), registry)?;
    let stats = read.unpacked.map_err(|source| PullFailure::Unpack { digest: desc.digest.clone(), source })?;
    let (uncompressed_digest, diff_size) = read.diff.map_err(stream_err)?;
    verify(&uncompressed_digest, diff_id, &format!("uncompressed layer {}", desc.digest.short()), registry)?;
    Ok(LayerMeta {
        diff_id: diff_id.clone(),
        compressed_digest: read.blob_digest,
        media_type: desc.media_type.clone(),
        compressed_size: read.blob_size,
        overlay_xattrs: store.overlay_xattrs,
        stats,
        diff_size,
        clamp_mtime: None,
    })
}

/// What reading one layer blob gave, each part for the caller to check in its
/// own order (the blob's digest and size before a tar error, which they explain).
pub(crate) struct LayerBlobRead {
    pub blob_digest: Digest,
    pub blob_size: u64,
    /// How the blob was compressed (from the media type, else sniffed).
    pub compression: Compression,
    pub unpacked: Result<super::unpack::UnpackStats, UnpackError>,
    /// The uncompressed stream's digest (the diff id it must be) and size.
    pub diff: io::Result<(Digest, u64)>,
}

/// Unpack the layer blob `blob` (gzip, zstd or plain tar: by `media_type`, else
/// sniffed) into `staging/diff` with its tar-split record, hashing the blob and
/// the tar as they stream. Nothing is checked here: see [`LayerBlobRead`].
/// Errors: only reading the blob's first bytes.
pub(crate) fn read_layer_blob(store: &Store, staging: &std::path::Path, blob: impl BufRead, media_type: &str) -> io::Result<LayerBlobRead> {
    let mut compressed = HashingReader::new(blob);
    let compression = match Compression::from_media_type(media_type) {
        Some(c) => c,
        None => sniff(compressed.get_mut())?,
    };
    let decoder: Box<dyn Read + '_> = match compression {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(&mut compressed)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(&mut compressed)?),
        Compression::None => Box::new(&mut compressed),
    };
    let mut tar_stream = HashingReader::new(BufReader::with_capacity(STREAM_BUFFER, decoder));
    let opts = UnpackOptions { preserve_owners: can_chown(), overlay_xattrs: store.overlay_xattrs, tar_split: Some(staging.join(super::tar_split::FILE_NAME)) };
    let unpacked = unpack::unpack_layer(&mut tar_stream, &staging.join("diff"), &opts);
    // Hash what follows the tar's end (padding) too: the diff id covers every byte.
    let diff = tar_stream.finish().map(|(digest, size, _)| (digest, size));
    let (blob_digest, blob_size, _) = compressed.finish()?;
    Ok(LayerBlobRead { blob_digest, blob_size, compression, unpacked, diff })
}

/// gzip and zstd announce themselves in their first bytes.
fn sniff(reader: &mut impl BufRead) -> io::Result<Compression> {
    let head = reader.fill_buf()?;
    Ok(if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    })
}

/// Owners from the tar are kept when we may chown: real root, or root of a user namespace.
fn can_chown() -> bool {
    rustix::process::geteuid().is_root()
}

fn record_image(
    store: &Store,
    reference: &Reference,
    manifest: &ImageManifest,
    manifest_digest: &Digest,
    top_digest: &Digest,
    config: &ImageConfig,
) -> Result<ImageRecord, PullFailure> {
    let _lock = store.lock_metadata()?;
    let id = manifest.config.digest.clone();
    let repo_digest = format!("{}@{top_digest}", reference.name());
    let mut record = store.image(&id)?.unwrap_or_else(|| ImageRecord {
        id: id.clone(),
        manifest_digest: manifest_digest.clone(),
        repo_digests: Vec::new(),
        layers: Vec::new(),
        platform: config.platform(),
        created: config.created.clone(),
        size: 0,
        pulled_at: 0,
        build: None,
    });
    record.layers = manifest
        .layers
        .iter()
        .zip(&config.rootfs.diff_ids)
        .map(|(d, diff_id)| ImageLayer { diff_id: diff_id.clone(), digest: d.digest.clone(), media_type: d.media_type.clone(), size: d.size })
        .collect();
    record.size = record.layers.iter().filter_map(|l| store.layer_meta(&l.diff_id)).map(|m| m.stats.file_bytes).sum();
    record.pulled_at = crate::time::now_unix();
    // One digest per repository, the newest.
    record.repo_digests.retain(|d| !d.starts_with(&format!("{}@", reference.name())));
    record.repo_digests.push(repo_digest);
    store.save_image(&record)?;
    if let Some(tagged) = reference.tagged() {
        let mut tags = store.tags()?;
        tags.insert(tagged, id);
        store.save_tags(&tags)?;
    }
    Ok(record)
}
