use crate::cli::args::ImageRmArgs;
use crate::cli::context::Context;
use crate::image::lookup::{self, Named, familiar_tag};

/// docker's rules: removing a tag untags; the image goes when nothing names it
/// any more. Keeps going after a failure and reports every error.
pub fn run(ctx: &Context, args: ImageRmArgs) -> anyhow::Result<i32> {
    let printer = ctx.printer(false);
    let store = ctx.store()?;
    let _lock = store.lock_metadata()?;
    let mut failures = 0;
    for query in &args.images {
        if let Some(id) = broken_match(&store, query)? {
            match store.remove_broken_image(&id) {
                Ok(()) => printer.result(format!("Deleted: {id}")),
                Err(e) => {
                    printer.error(e.to_string());
                    failures += 1;
                }
            }
            continue;
        }
        if let Err(e) = remove_one(&store, query, args.force, &printer) {
            printer.error(format!("{e:#}"));
            failures += 1;
        }
    }
    Ok(if failures == 0 { 0 } else { 1 })
}

/// The image a query names by id (or id prefix) when its record is corrupt.
fn broken_match(store: &crate::image::store::Store, query: &str) -> anyhow::Result<Option<crate::image::digest::Digest>> {
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

fn remove_one(store: &crate::image::store::Store, query: &str, force: bool, printer: &crate::output::Printer) -> anyhow::Result<()> {
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
            anyhow::bail!(
                "image {} is referenced by several tags ({}); hint: remove the tags one by one, or use --force",
                record.id.short(),
                own_tags.iter().map(|t| familiar_tag(t)).collect::<Vec<_>>().join(", ")
            );
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
        anyhow::bail!("{first}");
    }
    Ok(())
}
