//! Image archives, for machines without a registry: `rde image save` writes
//! one, `rde image load` reads one (ours, `docker save`'s, `podman save`'s).
//!
//! What is written is what `docker save` writes since docker 25: an OCI image
//! layout (`oci-layout`, `index.json`, `blobs/sha256/<hex>`) and, over the same
//! blobs, docker's `manifest.json` (`[{Config, RepoTags, Layers}]`), so
//! `docker load`, `podman load` (docker-archive and oci-archive) and rde read it.
//! Layers are stored uncompressed, exactly the bytes their diff ids hash (from
//! each layer's tar-split record, see `tar_split`), so an image keeps its id.
//! The archive is deterministic: the same images give the same bytes. rde adds
//! two annotations to each index entry (the manifest digest and repo digests
//! the image was pulled with) so that a loaded image still satisfies rde.lock.
//!
//! Reading accepts both layouts: `manifest.json` when present (docker's and
//! podman's docker-archive, ours), else `index.json` (OCI archives, nested
//! indexes followed); layers plain, gzip or zstd. Every config and layer is
//! verified (the config against the image id or descriptor, each layer's
//! uncompressed bytes against its diff id) before anything is recorded; the
//! image record and tags are written last.

use super::config::{ImageConfig, MAX_CONFIG_BYTES};
use super::digest::Digest;
use super::lookup;
use super::manifest::{DOCKER_LIST, DOCKER_MANIFEST, OCI_CONFIG, OCI_INDEX, OCI_MANIFEST};
use super::pull::read_layer_blob;
use super::reference::Reference;
use super::store::{ImageLayer, ImageRecord, Store, StoreError};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

const ANNOTATION_NAME: &str = "io.containerd.image.name";
const ANNOTATION_REF: &str = "org.opencontainers.image.ref.name";
const ANNOTATION_MANIFEST: &str = "io.rde.image.manifest-digest";
const ANNOTATION_REPO_DIGESTS: &str = "io.rde.image.repo-digests";
/// manifest.json, index.json and manifests are read whole: bounded.
const MAX_JSON_BYTES: u64 = 16 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path} is not an image archive: {message}; hint: archives come from `rde image save`, `docker save` or `podman save`")]
    NotAnArchive { path: PathBuf, message: String },
    #[error("{path}: image {image}: {message}; nothing of it was recorded")]
    Image { path: PathBuf, image: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One image to save: its record and the names it is saved under
/// (`docker.io/library/postgres:15` form).
pub struct SaveItem {
    pub record: ImageRecord,
    pub tags: Vec<String>,
}

/// What a load recorded: the image id and the names it was tagged with.
#[derive(Clone, Debug, PartialEq)]
pub struct Loaded {
    pub id: Digest,
    pub tags: Vec<String>,
}

/// Write `images` as one archive to `out` (see the module's doc for the layout).
/// Every layer's bytes are checked against its diff id on the way; on an error
/// `out` holds a partial archive the caller throws away.
pub fn save(store: &Store, images: &[SaveItem], out: impl Write) -> Result<(), StoreError> {
    let mut tar = tar::Builder::new(out);
    let io_err = |source: io::Error| StoreError::Io { path: PathBuf::from("the archive"), source };
    dir_entry(&mut tar, "blobs/").map_err(io_err)?;
    dir_entry(&mut tar, "blobs/sha256/").map_err(io_err)?;
    let mut written: BTreeSet<Digest> = BTreeSet::new();
    let mut docker_manifest = Vec::new();
    let mut index_entries = Vec::new();
    for item in images {
        let record = &item.record;
        let config = store.get_blob(&record.id).ok_or_else(|| StoreError::MissingLayer(record.id.clone()))?;
        if written.insert(record.id.clone()) {
            file_entry(&mut tar, &blob_path(&record.id), &config).map_err(io_err)?;
        }
        let mut layers = Vec::new();
        for layer in &record.layers {
            let size = layer_size(store, &layer.diff_id)?;
            if written.insert(layer.diff_id.clone()) {
                let mut header = entry_header(size, 0o644);
                tar.get_mut().write_all(ustar_header(&mut header, &blob_path(&layer.diff_id)).as_bytes()).map_err(io_err)?;
                let n = store.write_layer_tar(&layer.diff_id, &mut *tar.get_mut())?;
                if n != size {
                    return Err(StoreError::LayerChanged { expected: layer.diff_id.clone(), actual: layer.diff_id.clone() });
                }
                tar.get_mut().write_all(&vec![0u8; ((512 - size % 512) % 512) as usize]).map_err(io_err)?;
            }
            layers.push((layer.diff_id.clone(), size));
        }
        let manifest = oci_manifest(&record.id, config.len() as u64, &layers);
        let manifest_digest = Digest::of(&manifest);
        if written.insert(manifest_digest.clone()) {
            file_entry(&mut tar, &blob_path(&manifest_digest), &manifest).map_err(io_err)?;
        }
        // The registry's manifest and index the image was pulled through, so that a load can
        // check the digests it is told before it records them.
        let provenance = std::iter::once(record.manifest_digest.clone()).chain(record.repo_digests.iter().filter_map(|r| r.split_once('@')?.1.parse().ok()));
        for digest in provenance {
            if let Some(bytes) = store.get_blob(&digest)
                && written.insert(digest.clone())
            {
                file_entry(&mut tar, &blob_path(&digest), &bytes).map_err(io_err)?;
            }
        }
        let mut annotations = json!({ ANNOTATION_MANIFEST: record.manifest_digest.to_string() });
        if !record.repo_digests.is_empty() {
            annotations[ANNOTATION_REPO_DIGESTS] = json!(record.repo_digests.join(","));
        }
        let descriptor = |extra: &[(&str, String)]| {
            let mut a = annotations.clone();
            for (k, v) in extra {
                a[*k] = json!(v);
            }
            json!({"mediaType": OCI_MANIFEST, "digest": manifest_digest.to_string(), "size": manifest.len(), "annotations": a})
        };
        if item.tags.is_empty() {
            index_entries.push(descriptor(&[]));
        }
        let mut repo_tags = Vec::new();
        for tag in &item.tags {
            let reference: Option<Reference> = tag.parse().ok();
            let short = reference.as_ref().and_then(|r| r.tag.clone()).unwrap_or_else(|| "latest".into());
            index_entries.push(descriptor(&[(ANNOTATION_NAME, tag.clone()), (ANNOTATION_REF, short)]));
            repo_tags.push(lookup::familiar_tag(tag));
        }
        docker_manifest.push(json!({
            "Config": blob_path(&record.id),
            "RepoTags": repo_tags,
            "Layers": layers.iter().map(|(d, _)| blob_path(d)).collect::<Vec<_>>(),
        }));
    }
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": index_entries});
    file_entry(&mut tar, "index.json", &serde_json::to_vec(&index).expect("json")).map_err(io_err)?;
    file_entry(&mut tar, "manifest.json", &serde_json::to_vec(&docker_manifest).expect("json")).map_err(io_err)?;
    file_entry(&mut tar, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#).map_err(io_err)?;
    tar.into_inner().map_err(io_err)?.flush().map_err(io_err)?;
    Ok(())
}

/// The OCI manifest rde gives an image of uncompressed layers: what `save`
/// writes and what `load` records when the archive has none.
fn oci_manifest(config: &Digest, config_size: u64, layers: &[(Digest, u64)]) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config.to_string(), "size": config_size},
        "layers": layers.iter().map(|(d, s)| json!({"mediaType": super::manifest::MEDIA_OCI_LAYER_TAR, "digest": d.to_string(), "size": s})).collect::<Vec<_>>(),
    }))
    .expect("json")
}

/// The size of layer `diff_id`'s tar: recorded, or measured by writing it to nowhere.
fn layer_size(store: &Store, diff_id: &Digest) -> Result<u64, StoreError> {
    let meta = store.layer_meta(diff_id).ok_or_else(|| StoreError::MissingLayer(diff_id.clone()))?;
    if meta.diff_size > 0 {
        return Ok(meta.diff_size);
    }
    if meta.compressed_digest == meta.diff_id && meta.compressed_size > 0 {
        return Ok(meta.compressed_size);
    }
    store.write_layer_tar(diff_id, io::sink())
}

fn blob_path(digest: &Digest) -> String {
    format!("blobs/sha256/{}", digest.hex())
}

fn entry_header(size: u64, mode: u32) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_size(size);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h
}

fn ustar_header<'h>(h: &'h mut tar::Header, path: &str) -> &'h tar::Header {
    h.set_path(path).expect("short archive paths");
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    h
}

fn file_entry(tar: &mut tar::Builder<impl Write>, path: &str, bytes: &[u8]) -> io::Result<()> {
    let mut h = entry_header(bytes.len() as u64, 0o644);
    tar.append(ustar_header(&mut h, path), bytes)
}

fn dir_entry(tar: &mut tar::Builder<impl Write>, path: &str) -> io::Result<()> {
    let mut h = entry_header(0, 0o755);
    h.set_path(path)?;
    h.set_entry_type(tar::EntryType::Directory);
    h.set_cksum();
    tar.append(&h, io::empty())
}

/// An archive opened for reading: where each member's data lies in the file.
struct Members {
    path: PathBuf,
    file: File,
    at: BTreeMap<String, (u64, u64)>,
}

impl Members {
    fn open(path: &Path) -> Result<Members, ArchiveError> {
        let io = |source| ArchiveError::Io { path: path.to_path_buf(), source };
        let file = File::open(path).map_err(io)?;
        let mut archive = tar::Archive::new(BufReader::new(file.try_clone().map_err(io)?));
        let mut at = BTreeMap::new();
        let not_archive = |e: io::Error| ArchiveError::NotAnArchive { path: path.to_path_buf(), message: e.to_string() };
        for entry in archive.entries().map_err(not_archive)? {
            let entry = entry.map_err(not_archive)?;
            if entry.header().entry_type().is_file() {
                let name = String::from_utf8_lossy(&entry.path_bytes()).trim_start_matches("./").to_string();
                at.insert(name, (entry.raw_file_position(), entry.size()));
            }
        }
        Ok(Members { path: path.to_path_buf(), file, at })
    }

    /// A member's bytes as a reader (bounded to its size).
    fn reader(&self, name: &str) -> Option<Result<impl Read + '_, ArchiveError>> {
        let (offset, size) = *self.at.get(name.trim_start_matches("./"))?;
        Some((|| {
            let mut f = &self.file;
            f.seek(SeekFrom::Start(offset)).map_err(|source| ArchiveError::Io { path: self.path.clone(), source })?;
            Ok(f.take(size))
        })())
    }

    /// A small member (JSON) read whole; `None` when absent.
    fn small(&self, name: &str, limit: u64) -> Result<Option<Vec<u8>>, ArchiveError> {
        let Some(&(_, size)) = self.at.get(name.trim_start_matches("./")) else { return Ok(None) };
        if size > limit {
            return Err(self.bad(format!("{name} is {size} bytes, more than rde reads ({limit})")));
        }
        let mut bytes = Vec::new();
        self.reader(name).expect("present")?.read_to_end(&mut bytes).map_err(|source| ArchiveError::Io { path: self.path.clone(), source })?;
        Ok(Some(bytes))
    }

    fn bad(&self, message: String) -> ArchiveError {
        ArchiveError::NotAnArchive { path: self.path.clone(), message }
    }
}

/// One image found in an archive, before anything is verified.
struct Found {
    config: String,
    /// The config's digest as the archive's descriptor gives it (OCI), if any.
    config_digest: Option<Digest>,
    /// Layer members with their media types (docker-archive: unknown, sniffed).
    layers: Vec<(String, String, Option<Digest>)>,
    tags: Vec<String>,
    manifest_digest: Option<Digest>,
    repo_digests: Vec<String>,
}

/// Load every image of the archive at `path` into `store`; what each became.
pub fn load(store: &Store, path: &Path, progress: &dyn Fn(&str)) -> Result<Vec<Loaded>, ArchiveError> {
    let members = Members::open(path)?;
    let found = match members.small("manifest.json", MAX_JSON_BYTES)? {
        Some(bytes) => from_docker_manifest(&members, &bytes)?,
        None => match members.small("index.json", MAX_JSON_BYTES)? {
            Some(bytes) => from_oci_index(&members, &bytes, 0)?,
            None => return Err(members.bad("it has neither manifest.json nor index.json".into())),
        },
    };
    let mut loaded = Vec::new();
    for image in found {
        loaded.push(load_image(store, &members, image, progress)?);
    }
    Ok(loaded)
}

fn from_docker_manifest(members: &Members, bytes: &[u8]) -> Result<Vec<Found>, ArchiveError> {
    let list: Vec<Value> = serde_json::from_slice(bytes).map_err(|e| members.bad(format!("manifest.json: {e}")))?;
    // Our own archives say more in index.json: the manifest and repo digests.
    let index: Value = members.small("index.json", MAX_JSON_BYTES)?.and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or(Value::Null);
    let mut out = Vec::new();
    for entry in list {
        let config = entry["Config"].as_str().ok_or_else(|| members.bad("manifest.json: an entry without Config".into()))?.to_string();
        let layers = entry["Layers"]
            .as_array()
            .ok_or_else(|| members.bad("manifest.json: an entry without Layers".into()))?
            .iter()
            .map(|l| l.as_str().map(|s| (s.to_string(), String::new(), None)))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| members.bad("manifest.json: a layer that is not a path".into()))?;
        let tags = entry["RepoTags"].as_array().map(|a| a.iter().filter_map(|t| t.as_str().map(str::to_string)).collect()).unwrap_or_default();
        let ours = index["manifests"].as_array().and_then(|m| {
            m.iter().find(|d| {
                let digest = d["digest"].as_str().and_then(|s| s.strip_prefix("sha256:")).unwrap_or_default();
                members
                    .small(&format!("blobs/sha256/{digest}"), MAX_JSON_BYTES)
                    .ok()
                    .flatten()
                    .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                    .is_some_and(|m| m["config"]["digest"].as_str().and_then(|c| c.strip_prefix("sha256:")).is_some_and(|c| config.ends_with(c)))
            })
        });
        let annotation = |key: &str| ours.and_then(|d| d["annotations"][key].as_str()).map(str::to_string);
        out.push(Found {
            config,
            config_digest: None,
            layers,
            tags,
            manifest_digest: annotation(ANNOTATION_MANIFEST).and_then(|d| d.parse().ok()),
            repo_digests: annotation(ANNOTATION_REPO_DIGESTS).map(|s| s.split(',').map(str::to_string).collect()).unwrap_or_default(),
        });
    }
    Ok(out)
}

fn from_oci_index(members: &Members, bytes: &[u8], depth: usize) -> Result<Vec<Found>, ArchiveError> {
    if depth > 4 {
        return Err(members.bad("indexes nested more than 4 deep".into()));
    }
    let index: Value = serde_json::from_slice(bytes).map_err(|e| members.bad(format!("index.json: {e}")))?;
    let mut out: Vec<Found> = Vec::new();
    for desc in index["manifests"].as_array().cloned().unwrap_or_default() {
        let digest: Digest = desc["digest"].as_str().and_then(|d| d.parse().ok()).ok_or_else(|| members.bad("a descriptor without a valid digest".into()))?;
        let blob = members.small(&blob_path(&digest), MAX_JSON_BYTES)?.ok_or_else(|| members.bad(format!("{digest} is named but not in the archive")))?;
        if Digest::of(&blob) != digest {
            return Err(members.bad(format!("{} does not match its digest", blob_path(&digest))));
        }
        let media = desc["mediaType"].as_str().unwrap_or_default();
        let parsed: Value = serde_json::from_slice(&blob).map_err(|e| members.bad(format!("{digest}: {e}")))?;
        if media == OCI_INDEX || media == DOCKER_LIST || parsed["manifests"].is_array() {
            // A multi-platform index: the host's platform only, as a pull takes.
            let host = super::platform::Platform::host();
            let mut nested = parsed.clone();
            if let Some(list) = nested["manifests"].as_array_mut() {
                list.retain(|m| {
                    m["platform"].is_null() || serde_json::from_value::<super::platform::Platform>(m["platform"].clone()).is_ok_and(|p| host.matches(&p))
                });
                list.truncate(1);
            }
            out.extend(from_oci_index(members, &serde_json::to_vec(&nested).expect("json"), depth + 1)?);
            continue;
        }
        if !(media == OCI_MANIFEST || media == DOCKER_MANIFEST || parsed["config"].is_object()) {
            continue;
        }
        let config_digest: Digest =
            parsed["config"]["digest"].as_str().and_then(|d| d.parse().ok()).ok_or_else(|| members.bad(format!("manifest {digest} has no config digest")))?;
        let layers = parsed["layers"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|l| {
                let d: Option<Digest> = l["digest"].as_str().and_then(|d| d.parse().ok());
                d.map(|d| (blob_path(&d), l["mediaType"].as_str().unwrap_or_default().to_string(), Some(d)))
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| members.bad(format!("manifest {digest}: a layer without a valid digest")))?;
        let annotations = &desc["annotations"];
        let tag = annotations[ANNOTATION_NAME]
            .as_str()
            .map(str::to_string)
            .or_else(|| annotations[ANNOTATION_REF].as_str().filter(|r| r.contains(':') || r.contains('/')).map(str::to_string));
        // Several index entries for one manifest (one per tag) are one image.
        if let Some(existing) = out.iter_mut().find(|f| f.manifest_digest.as_ref() == Some(&digest) || f.config_digest.as_ref() == Some(&config_digest)) {
            existing.tags.extend(tag);
            continue;
        }
        out.push(Found {
            config: blob_path(&config_digest),
            config_digest: Some(config_digest),
            layers,
            tags: tag.into_iter().collect(),
            manifest_digest: annotations[ANNOTATION_MANIFEST].as_str().and_then(|d| d.parse().ok()).or(Some(digest)),
            repo_digests: annotations[ANNOTATION_REPO_DIGESTS].as_str().map(|s| s.split(',').map(str::to_string).collect()).unwrap_or_default(),
        });
    }
    Ok(out)
}

fn load_image(store: &Store, members: &Members, image: Found, progress: &dyn Fn(&str)) -> Result<Loaded, ArchiveError> {
    let name = image.tags.first().cloned().unwrap_or_else(|| image.config.clone());
    let fail = |message: String| ArchiveError::Image { path: members.path.clone(), image: name.clone(), message };
    let config_bytes = members.small(&image.config, MAX_CONFIG_BYTES)?.ok_or_else(|| fail(format!("its config {} is not in the archive", image.config)))?;
    let id = Digest::of(&config_bytes);
    // A config named by its digest (`blobs/sha256/<hex>`, `<hex>.json`) must hash to it.
    let stem = Path::new(&image.config).file_name().map(|n| n.to_string_lossy().trim_end_matches(".json").to_string()).unwrap_or_default();
    let named = Digest::from_hex(&stem).ok();
    if image.config_digest.as_ref().or(named.as_ref()).is_some_and(|d| d != &id) {
        return Err(fail(format!("its config {} does not match its digest ({id})", image.config)));
    }
    let config = ImageConfig::parse(&config_bytes).map_err(|e| fail(format!("its config: {e}")))?;
    config.check_layers(image.layers.len()).map_err(|e| fail(e.to_string()))?;
    let mut layers = Vec::new();
    let mut sizes = Vec::new();
    for ((member, media_type, blob_digest), diff_id) in image.layers.iter().zip(&config.rootfs.diff_ids) {
        let reader = members.reader(member).ok_or_else(|| fail(format!("layer {member} is not in the archive")))??;
        let _lock = store.lock_layer(diff_id)?;
        let meta = match store.layer_meta(diff_id) {
            Some(meta) => meta,
            None => {
                progress(&format!("{}: Loading layer", diff_id.short()));
                let staging = store.layer_staging(diff_id)?;
                let checked = (|| {
                    let read = read_layer_blob(store, &staging, BufReader::with_capacity(256 * 1024, reader), media_type)
                        .map_err(|e| fail(format!("layer {member}: {e}")))?;
                    if let Some(expected) = blob_digest
                        && &read.blob_digest != expected
                    {
                        return Err(fail(format!("layer {member} does not match its digest (it hashes to {})", read.blob_digest)));
                    }
                    let stats = read.unpacked.map_err(|e| fail(format!("layer {member}: {e}")))?;
                    let (digest, diff_size) = read.diff.map_err(|e| fail(format!("layer {member}: {e}")))?;
                    if &digest != diff_id {
                        return Err(fail(format!("layer {member} is not the layer its config names: it hashes to {digest}, the config says {diff_id}")));
                    }
                    let media_type = if media_type.is_empty() { read.compression.oci_layer_media_type().to_string() } else { media_type.clone() };
                    Ok(super::store::LayerMeta {
                        diff_id: diff_id.clone(),
                        compressed_digest: read.blob_digest,
                        media_type,
                        compressed_size: read.blob_size,
                        overlay_xattrs: store.overlay_xattrs,
                        stats,
                        diff_size,
                        clamp_mtime: None,
                    })
                })();
                match checked {
                    Ok(meta) => {
                        store.commit_layer(&staging, &meta)?;
                        meta
                    }
                    Err(e) => {
                        store.discard_staging(&staging);
                        return Err(e);
                    }
                }
            }
        };
        sizes.push((diff_id.clone(), if meta.diff_size > 0 { meta.diff_size } else { meta.compressed_size }));
        layers.push(ImageLayer {
            diff_id: diff_id.clone(),
            digest: meta.compressed_digest.clone(),
            media_type: meta.media_type.clone(),
            size: meta.compressed_size,
        });
    }
    store.put_blob(&id, &config_bytes)?;
    // Digests the archive claims are kept only when its blobs prove them: a manifest of this
    // config, and indexes that list that manifest. (rde.lock's pins trust these fields.)
    let manifest = image.manifest_digest.clone().filter(|m| proves_manifest(members, m, &id));
    let repo_digests: Vec<String> = match &manifest {
        Some(m) => image.repo_digests.iter().filter(|rd| proves_repo_digest(members, rd, m)).cloned().collect(),
        None => Vec::new(),
    };
    if let Some(m) = &manifest
        && let Some(bytes) = members.small(&blob_path(m), MAX_JSON_BYTES)?
    {
        store.put_blob(m, &bytes)?;
    }
    let manifest_digest = manifest.unwrap_or_else(|| Digest::of(&oci_manifest(&id, config_bytes.len() as u64, &sizes)));
    let _lock = store.lock_metadata()?;
    let mut record = store.image(&id)?.unwrap_or_else(|| ImageRecord {
        id: id.clone(),
        manifest_digest,
        repo_digests: Vec::new(),
        layers: layers.clone(),
        platform: config.platform(),
        created: config.created.clone(),
        size: 0,
        pulled_at: 0,
        build: None,
    });
    for d in &repo_digests {
        if !record.repo_digests.contains(d) {
            record.repo_digests.push(d.clone());
        }
    }
    record.size = layers.iter().filter_map(|l| store.layer_meta(&l.diff_id)).map(|m| m.stats.file_bytes).sum();
    record.pulled_at = crate::time::now_unix();
    store.save_image(&record)?;
    let mut tags = store.tags()?;
    let mut named = Vec::new();
    for tag in &image.tags {
        if let Some(full) = tag.parse::<Reference>().ok().and_then(|r| r.tagged()) {
            tags.insert(full.clone(), id.clone());
            named.push(lookup::familiar_tag(&full));
        }
    }
    store.save_tags(&tags)?;
    Ok(Loaded { id, tags: named })
}

/// The archive holds manifest `digest` (it hashes to it) and it names config `id`.
fn proves_manifest(members: &Members, digest: &Digest, id: &Digest) -> bool {
    let Ok(Some(bytes)) = members.small(&blob_path(digest), MAX_JSON_BYTES) else { return false };
    Digest::of(&bytes) == *digest && serde_json::from_slice::<Value>(&bytes).is_ok_and(|m| m["config"]["digest"].as_str() == Some(id.to_string().as_str()))
}

/// `name@digest` is the verified manifest itself, or an index the archive holds that lists it.
fn proves_repo_digest(members: &Members, repo_digest: &str, manifest: &Digest) -> bool {
    let Some(digest) = repo_digest.split_once('@').and_then(|(_, d)| d.parse::<Digest>().ok()) else { return false };
    if digest == *manifest {
        return true;
    }
    let Ok(Some(bytes)) = members.small(&blob_path(&digest), MAX_JSON_BYTES) else { return false };
    Digest::of(&bytes) == digest
        && serde_json::from_slice::<Value>(&bytes)
            .is_ok_and(|i| i["manifests"].as_array().is_some_and(|list| list.iter().any(|m| m["digest"].as_str() == Some(manifest.to_string().as_str()))))
}
