//! Removing images by docker's rules: removing a tag untags; the image goes
//! when nothing names it any more. `rde image rm` and `rde down --rmi` use it.

use super::digest::Digest;
use super::lookup::{self, Named, familiar_tag};
use super::store::{Store, StoreError};
use crate::output::Printer;

#[derive(Debug, thiserror::Error)]
pub enum RemoveError {
    #[error("image {id} is referenced by several tags ({tags}); hint: remove the tags one by one, or use --force")]
    SeveralTags { id: String, tags: String },
    /// The first of the errors deleting the image's files (the others are printed).
    #[error("{0}")]
    Delete(String),
    #[error(transparent)]
    Lookup(#[from] lookup::LookupError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Remove each of `queries` (names, ids, digests) under the store's metadata
/// lock, printing every failure and going on; returns how many failed.
pub fn remove_all(store: &Store, queries: &[String], force: bool, printer: &Printer) -> Result<usize, StoreError> {
    let _lock = store.lock_metadata()?;
    let mut failures = 0;
    for query in queries {
        if let Some(id) = broken_match(store, query)? {
            match store.remove_broken_image(&id) {
                Ok(()) => printer.result(format!("Deleted: {id}")),
                Err(e) => {
                    printer.error(e.to_string());
                    failures += 1;
                }
            }
            continue;
        }
        if let Err(e) = remove(store, query, force, printer) {
            printer.error(chain(&e));
            failures += 1;
        }
    }
    Ok(failures)
}

/// The image a query names by id (or id prefix) when its record is corrupt.
fn broken_match(store: &Store, query: &str) -> Result<Option<Digest>, StoreError> {
    let prefix = query.strip_prefix("sha256:").unwrap_or(query);
    if prefix.len() < 3 || !prefix.chars().all(|c| c.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let mut found = store.broken_images()?.into_iter().map(|(id, _)| id).filter(|id| id.hex().starts_with(prefix));
    Ok(match (found.next(), found.next()) {
        (Some(id), None) => Some(id),
        _ => None,
    })
}

/// An error and its causes on one line, `a: b: c`.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Remove one image or tag, printing `Untagged:` and `Deleted:` lines as docker does.
pub fn remove(store: &Store, query: &str, force: bool, printer: &Printer) -> Result<(), RemoveError> {
    let (mut record, named) = lookup::find(store, query)?;
    let mut tags = store.tags()?;
    let own_tags = lookup::tags_of(store, &record.id)?;
    match named {
        Named::Tag(tag) if own_tags.len() > 1 || !force && own_tags.len() > 1 => {
            tags.remove(&tag);
            store.save_tags(&tags)?;
            printer.result(format!("Untagged: {}", familiar_tag(&tag)));
            return Ok(());
        }
        Named::Id if own_tags.len() > 1 && !force => {
            return Err(RemoveError::SeveralTags {
                id: record.id.short().to_string(),
                tags: own_tags.iter().map(|t| familiar_tag(t)).collect::<Vec<_>>().join(", "),
            });
        }
        Named::RepoDigest(rd) if !own_tags.is_empty() => {
            record.repo_digests.retain(|d| d != &rd);
            store.save_image(&record)?;
            printer.result(format!("Untagged: {rd}"));
            return Ok(());
        }
        _ => {}
    }
    for tag in &own_tags {
        tags.remove(tag);
        printer.result(format!("Untagged: {}", familiar_tag(tag)));
    }
    store.save_tags(&tags)?;
    for rd in &record.repo_digests {
        printer.result(format!("Untagged: {rd}"));
    }
    let errors = store.delete_image(&record);
    printer.result(format!("Deleted: {}", record.id));
    if let Some(first) = errors.first() {
        for e in &errors[1..] {
            printer.error(e.to_string());
        }
        return Err(RemoveError::Delete(first.to_string()));
    }
    Ok(())
}
