//! Pinned digests: what a project's `rde.lock` says each image reference and
//! ADD URL must be. The lock file itself (format, collection, checks) is
//! `project/lock.rs`; this is what pulls and builds consult, below the project.
//!
//! An image reference is pinned by its canonical tagged name
//! (`docker.io/library/postgres:latest`), so `postgres` and
//! `docker.io/library/postgres:latest` share a pin. A reference that carries a
//! digest is pinned already and never looked up.

use super::digest::Digest;
use super::lookup;
use super::pull::{self, PullError, PullOptions};
use super::reference::Reference;
use super::registry::RegistryClient;
use super::store::{ImageRecord, Store, StoreError};
use crate::output::Printer;
use std::collections::BTreeMap;

/// One image reference's pin: the digest its tag pointed at when locked, and
/// the manifest chosen for the platform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pin {
    pub index: Digest,
    pub manifest: Digest,
}

/// The pins in force for one command. `strict` (`--locked`): a reference or URL
/// without a pin is an error instead of being resolved.
#[derive(Clone, Debug, Default)]
pub struct Pins {
    images: BTreeMap<String, Pin>,
    urls: BTreeMap<String, Digest>,
    pub strict: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum PinError {
    #[error("{what} is not in rde.lock and --locked forbids resolving it; hint: run `rde lock` and commit rde.lock")]
    NotLocked { what: String },
    #[error(
        "{image}: rde.lock pins manifest {locked}, but {index} from the registry selects {got} for this platform; hint: `rde lock --update` re-resolves it"
    )]
    PlatformMismatch { image: String, index: Digest, locked: Digest, got: Digest },
    #[error("{image}: rde.lock pins {digest}, which the registry no longer has ({message}); hint: `rde lock --update` takes what the tag points at now")]
    Gone { image: String, digest: Digest, message: String },
    #[error(transparent)]
    Pull(#[from] PullError),
    #[error("{0}")]
    Registry(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Lookup(#[from] lookup::LookupError),
}

impl Pins {
    /// No pins (no lock file): everything resolves as written.
    pub fn none() -> Pins {
        Pins::default()
    }

    pub fn insert_image(&mut self, reference: &Reference, pin: Pin) {
        if let Some(key) = key(reference) {
            self.images.insert(key, pin);
        }
    }

    pub fn insert_url(&mut self, url: &str, digest: Digest) {
        self.urls.insert(url.to_string(), digest);
    }

    pub fn is_empty(&self) -> bool {
        self.images.is_empty() && self.urls.is_empty()
    }

    /// The pin for `reference` (none when it carries its own digest or is not pinned).
    pub fn image(&self, reference: &Reference) -> Option<&Pin> {
        key(reference).and_then(|k| self.images.get(&k))
    }

    /// The pinned content digest of an ADD URL.
    pub fn url(&self, url: &str) -> Option<&Digest> {
        self.urls.get(url)
    }

    /// Before resolving `what` (an image or URL without a pin) over the
    /// network: refused under `--locked`.
    pub fn may_resolve(&self, what: impl FnOnce() -> String) -> Result<(), PinError> {
        if self.strict { Err(PinError::NotLocked { what: what() }) } else { Ok(()) }
    }
}

/// The pin key of a reference: its canonical tagged name; none for digests.
fn key(reference: &Reference) -> Option<String> {
    if reference.digest.is_some() { None } else { reference.tagged() }
}

/// The image `reference` names, as `pin` says: the stored image with the pinned
/// platform manifest (tagged `reference` again, if a newer pull moved the tag),
/// else pulled by the pinned digest, which the registry must still have.
/// `client` is called only when a pull is needed. (the image, whether it was pulled).
pub fn ensure(
    client: impl FnOnce() -> Result<RegistryClient, PinError>,
    store: &Store,
    reference: &Reference,
    pin: &Pin,
    opts: &PullOptions,
    printer: &Printer,
) -> Result<(ImageRecord, bool), PinError> {
    let tagged = reference.tagged().expect("a pinned reference has a tag");
    if let Some(record) = stored(store, reference, pin)? {
        retag(store, reference, &record)?;
        return Ok((record, false));
    }
    let mut by_digest = reference.clone();
    by_digest.tag = Some(reference.tag_or_latest().unwrap_or("latest").to_string());
    by_digest.digest = Some(pin.index.clone());
    let pulled = pull::pull(&client()?, store, &by_digest, opts, printer).map_err(|e| match *e.kind {
        pull::PullFailure::Registry(super::registry::RegistryError::NotFound { message, .. }) => {
            PinError::Gone { image: reference.familiar(), digest: pin.index.clone(), message }
        }
        kind => PinError::Pull(PullError { image: e.image, kind: Box::new(kind) }),
    })?;
    if pulled.manifest != pin.manifest {
        return Err(PinError::PlatformMismatch { image: reference.familiar(), index: pin.index.clone(), locked: pin.manifest.clone(), got: pulled.manifest });
    }
    Ok((lookup::find(store, &tagged)?.0, true))
}

/// Point `reference`'s tag at `record` again (a later pull may have moved it).
pub fn retag(store: &Store, reference: &Reference, record: &ImageRecord) -> Result<(), StoreError> {
    let tagged = reference.tagged().expect("a pinned reference has a tag");
    let _lock = store.lock_metadata()?;
    let mut tags = store.tags()?;
    if tags.get(&tagged) != Some(&record.id) {
        tags.insert(tagged, record.id.clone());
        store.save_tags(&tags)?;
    }
    Ok(())
}

/// The stored image `pin` names: the one with the pinned platform manifest; for
/// a single-manifest image (no platforms to confuse) also one pulled from
/// `reference`'s repository by that digest (an image id can come from several
/// manifests that differ only in compression).
pub fn stored(store: &Store, reference: &Reference, pin: &Pin) -> Result<Option<ImageRecord>, StoreError> {
    let repo_digest = format!("{}@{}", reference.name(), pin.index);
    let single = pin.index == pin.manifest;
    Ok(store.images()?.into_iter().find(|r| r.manifest_digest == pin.manifest || (single && r.repo_digests.contains(&repo_digest))))
}
