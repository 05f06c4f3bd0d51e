use crate::cli::args::ImageInspectArgs;
use crate::cli::context::Context;
use crate::image::config::ImageConfig;
use crate::image::lookup::{self, familiar_tag};
use serde_json::json;

pub fn run(ctx: &Context, args: ImageInspectArgs) -> anyhow::Result<i32> {
    let printer = ctx.printer(false);
    let store = ctx.store()?;
    let mut out = Vec::new();
    let mut missing = Vec::new();
    for query in &args.images {
        let (record, _) = match lookup::find(&store, query) {
            Ok(found) => found,
            Err(e) => {
                missing.push(e.to_string());
                continue;
            }
        };
        let config_bytes =
            store.get_blob(&record.id).ok_or_else(|| anyhow::anyhow!("the config of image {query} is missing from the store; hint: pull it again"))?;
        let config = ImageConfig::parse(&config_bytes)?;
        let layer_dirs: Vec<String> = record.layers.iter().rev().map(|l| store.layer_diff(&l.diff_id).display().to_string()).collect();
        let tags: Vec<String> = lookup::tags_of(&store, &record.id)?.iter().map(|t| familiar_tag(t)).collect();
        out.push(json!({
            "Id": record.id.to_string(),
            "RepoTags": tags,
            "RepoDigests": record.repo_digests,
            "Created": config.created,
            "Architecture": config.architecture,
            "Os": config.os,
            "Variant": config.variant,
            "Size": record.size,
            "Config": config.config,
            "RootFS": { "Type": config.rootfs.kind, "Layers": config.rootfs.diff_ids },
            "GraphDriver": { "Name": "overlay", "Data": { "LowerDir": layer_dirs.join(":") } },
        }));
    }
    if !out.is_empty() || missing.is_empty() {
        printer.json(&serde_json::Value::Array(out));
    }
    if missing.is_empty() {
        Ok(0)
    } else {
        for m in &missing {
            printer.error(m);
        }
        Ok(1)
    }
}
