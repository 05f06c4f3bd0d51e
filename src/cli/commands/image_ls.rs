use crate::cli::args::ImageLsArgs;
use crate::cli::context::Context;
use crate::image::reference::Reference;
use crate::output::{human_ago, human_size};
use crate::time::parse_rfc3339;

pub fn run(ctx: &Context, args: ImageLsArgs) -> anyhow::Result<i32> {
    let printer = ctx.printer(false);
    let store = ctx.store()?;
    for (_, broken) in store.broken_images()? {
        printer.warn(broken.to_string());
    }
    let tags = store.tags()?;
    let filter: Option<Reference> = args.repository.as_deref().map(str::parse).transpose()?;
    let mut rows = Vec::new();
    for image in store.images()? {
        let mut names: Vec<(String, String)> = tags
            .iter()
            .filter(|(_, id)| **id == image.id)
            .filter_map(|(tagged, _)| tagged.parse::<Reference>().ok())
            .map(|r| (r.familiar_repository(), r.tag.clone().unwrap_or_default()))
            .collect();
        if names.is_empty() {
            let repo = image.repo_digests.first().and_then(|d| d.split('@').next()).and_then(|n| n.parse::<Reference>().ok());
            names.push((repo.map_or("<none>".into(), |r| r.familiar_repository()), "<none>".into()));
        }
        for (repository, tag) in names {
            if let Some(f) = &filter {
                let same_repo = f.familiar_repository() == repository;
                let same_tag = f.tag.is_none() || f.tag.as_deref() == Some(tag.as_str());
                if !same_repo || !same_tag {
                    continue;
                }
            }
            let digest = image
                .repo_digests
                .iter()
                .find(|d| d.split('@').next().and_then(|n| n.parse::<Reference>().ok()).is_some_and(|r| r.familiar_repository() == repository))
                .and_then(|d| d.split('@').nth(1))
                .unwrap_or("<none>")
                .to_string();
            rows.push((repository, tag, digest, image.clone()));
        }
    }
    if args.quiet {
        let mut seen = std::collections::BTreeSet::new();
        for (_, _, _, image) in &rows {
            if seen.insert(image.id.clone()) {
                printer.result(if args.no_trunc { image.id.to_string() } else { image.id.short().to_string() });
            }
        }
        return Ok(0);
    }
    let created = |c: &Option<String>| c.as_deref().and_then(parse_rfc3339).map_or("N/A".to_string(), human_ago);
    let json: Vec<serde_json::Value> = rows
        .iter()
        .map(|(repository, tag, digest, image)| {
            serde_json::json!({
                    "Repository": repository,
                    "Tag": tag,
                    "Digest": digest,
                    "ID": image.id.short(),
                    "CreatedAt": image.created,
                    "CreatedSince": created(&image.created),
                    "Size": human_size(image.size),
                    "VirtualSize": image.size,
                "Platform": image.platform,
            })
        })
        .collect();
    let mut columns = vec![("Repository", "REPOSITORY"), ("Tag", "TAG")];
    if args.digests {
        columns.push(("Digest", "DIGEST"));
    }
    columns.extend([("ID", "IMAGE ID"), ("CreatedSince", "CREATED"), ("Size", "SIZE")]);
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|(repository, tag, digest, image)| {
            let mut row = vec![repository.clone(), tag.clone()];
            if args.digests {
                row.push(digest.clone());
            }
            let id = if args.no_trunc { image.id.to_string() } else { image.id.short().to_string() };
            row.extend([id, created(&image.created), human_size(image.size)]);
            row
        })
        .collect();
    crate::cli::print_rows(&printer, &args.format, &json, &columns, Some(table))?;
    Ok(0)
}
