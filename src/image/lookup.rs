//! Finding stored images the way docker's CLI does: by name[:tag], by
//! name@digest, or by a (short) image id.

use super::digest::Digest;
use super::reference::Reference;
use super::store::{ImageRecord, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("no such image: {0}; hint: `rde image ls` lists the images, `rde image pull {0}` fetches it")]
    NotFound(String),
    #[error("image id prefix {0:?} is ambiguous; hint: give more characters")]
    Ambiguous(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How the user named the image: that decides what `rm` removes.
#[derive(Debug, Clone)]
pub enum Named {
    Tag(String),
    RepoDigest(String),
    Id,
}

pub fn find(store: &Store, query: &str) -> Result<(ImageRecord, Named), LookupError> {
    let not_found = || LookupError::NotFound(query.to_string());
    if let Some(id) = id_query(query) {
        let matches: Vec<ImageRecord> = store.images()?.into_iter().filter(|r| r.id.hex().starts_with(&id)).collect();
        match matches.len() {
            1 => return Ok((matches.into_iter().next().expect("one"), Named::Id)),
            0 if query.starts_with("sha256:") => return Err(not_found()),
            0 => {}
            _ => return Err(LookupError::Ambiguous(query.to_string())),
        }
    }
    let reference: Reference = query.parse().map_err(|_| not_found())?;
    if let Some(digest) = &reference.digest {
        let wanted = format!("{}@{digest}", reference.name());
        return store.images()?.into_iter().find(|r| r.repo_digests.contains(&wanted)).map(|r| (r, Named::RepoDigest(wanted))).ok_or_else(not_found);
    }
    let tagged = reference.tagged().ok_or_else(not_found)?;
    let id = store.tags()?.get(&tagged).cloned().ok_or_else(not_found)?;
    let record = store.image(&id)?.ok_or_else(not_found)?;
    Ok((record, Named::Tag(tagged)))
}

/// `sha256:abc...` or a bare hex prefix of at least 4 characters.
fn id_query(query: &str) -> Option<String> {
    let hex = query.strip_prefix("sha256:").unwrap_or(query);
    let is_hex = hex.len() >= 4 && hex.len() <= 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    is_hex.then(|| hex.to_string())
}

/// Tags pointing at `id`, as stored (`docker.io/library/postgres:15`).
pub fn tags_of(store: &Store, id: &Digest) -> Result<Vec<String>, StoreError> {
    Ok(store.tags()?.into_iter().filter(|(_, v)| v == id).map(|(k, _)| k).collect())
}

/// `docker.io/library/postgres:15` -> `postgres:15`, as docker displays it.
pub fn familiar_tag(stored: &str) -> String {
    stored.parse::<Reference>().map(|r| r.familiar()).unwrap_or_else(|_| stored.to_string())
}
