use crate::cli::args::PruneArgs;
use crate::cli::context::Context;
use crate::image::lookup;
use crate::output::human_size;

pub fn run(ctx: &Context, args: PruneArgs) -> anyhow::Result<i32> {
    let printer = ctx.printer(false);
    let what = if args.all { "all images without a container" } else { "dangling images" };
    let volumes = if args.volumes { ", anonymous volumes not used by a container" } else { "" };
    if !super::confirm(&format!("This will remove {what}, unused networks{volumes}, build cache, unreferenced layers and blobs."), args.force)? {
        return Ok(0);
    }
    let mut errors = Vec::new();
    // Containers cut short while being created (a crash, a full disk) have no record.
    match ctx.containers()?.prune_half_made() {
        Ok(ids) => ids.iter().for_each(|id| printer.result(format!("Deleted Containers:\n{id}"))),
        Err(e) => errors.push(e.to_string()),
    }
    let store = ctx.store()?;
    let _lock = store.lock_metadata()?;
    let mut tags = store.tags()?;
    for image in store.images()? {
        let own = lookup::tags_of(&store, &image.id)?;
        if own.is_empty() || args.all {
            for t in &own {
                tags.remove(t);
            }
            store.save_tags(&tags)?;
            errors.extend(store.delete_image(&image).iter().map(ToString::to_string));
            printer.result(format!("Deleted Images:\ndeleted: {}", image.id));
        }
    }
    let freed = match store.remove_unreferenced() {
        Ok(freed) => freed,
        Err(errs) => {
            errors.extend(errs.iter().map(ToString::to_string));
            0
        }
    };
    // And the build cache, as `docker system prune` removes unused build cache.
    let (cache_freed, cache_errors) = crate::build::prune(&store, |_| true);
    errors.extend(cache_errors);
    let freed = freed + cache_freed;
    printer.result(format!("Total reclaimed space: {}", human_size(freed)));
    for e in &errors {
        printer.error(e);
    }
    let mut failed = !errors.is_empty();
    let networks = crate::net::network::Networks::open(&ctx.paths)?;
    let containers = ctx.containers()?;
    for name in crate::runtime::networks::unused(&ctx.paths, &containers)? {
        match crate::runtime::networks::remove_named(&ctx.paths, &containers, &networks, &name) {
            Ok(()) => printer.result(format!("Deleted Networks:\n{name}")),
            Err(e) => {
                printer.error(format!("{:#}", anyhow::Error::from(e)));
                failed = true;
            }
        }
    }
    if let Err(e) = crate::runtime::networks::default_down_if_unused(&ctx.paths, &containers) {
        printer.error(format!("{:#}", anyhow::Error::from(e)));
        failed = true;
    }
    // `--volumes`: anonymous volumes no container uses, as docker's (named ones stay).
    if args.volumes {
        let (removed, freed, errors) = super::volume::remove_unused(&containers, false, &Default::default())?;
        if !removed.is_empty() {
            printer.result(format!("Deleted Volumes:\n{}\n\nTotal reclaimed space: {}", removed.join("\n"), human_size(freed)));
        }
        errors.iter().for_each(|e| printer.error(e));
        failed |= !errors.is_empty();
    }
    Ok(if failed { 1 } else { 0 })
}
