use crate::cli::context::Context;
use crate::output::human_size;

pub fn run(ctx: &Context) -> anyhow::Result<i32> {
    let printer = ctx.printer(false);
    let store = ctx.store()?;
    let images = store.images()?;
    let tags = store.tags()?;
    let mut layers = std::collections::BTreeMap::new();
    for image in &images {
        for l in &image.layers {
            layers.entry(l.diff_id.clone()).or_insert_with(|| store.layer_meta(&l.diff_id).map_or(0, |m| m.stats.file_bytes));
        }
    }
    let total: u64 = layers.values().sum();
    let dangling: Vec<_> = images.iter().filter(|i| !tags.values().any(|t| *t == i.id)).collect();
    // Images a container uses (running or not) are not reclaimable.
    let containers = ctx.containers()?;
    let records = containers.all()?;
    let used: std::collections::BTreeSet<String> = records.iter().map(|c| c.image_id.to_string()).collect();
    let active_images = images.iter().filter(|i| used.contains(&i.id.to_string())).count();
    let mut active_layers = std::collections::BTreeSet::new();
    for image in images.iter().filter(|i| used.contains(&i.id.to_string())) {
        active_layers.extend(image.layers.iter().map(|l| l.diff_id.clone()));
    }
    let reclaimable: u64 = layers.iter().filter(|(d, _)| !active_layers.contains(*d)).map(|(_, s)| s).sum();
    let running: Vec<bool> = records.iter().map(|c| matches!(containers.observe(&c.id), crate::runtime::state::Observed::Running)).collect();
    let sizes: Vec<u64> = records.iter().map(|c| crate::fsutil::disk_usage(&containers.dir(&c.id).join("upper"))).collect();
    let container_size: u64 = sizes.iter().sum();
    let container_reclaimable: u64 = sizes.iter().zip(&running).filter(|(_, r)| !**r).map(|(s, _)| s).sum();
    let (volumes, active_volumes, volume_size, volume_reclaimable) = super::volume::usage(&containers.volumes(), &records)?;
    let percent = |part: u64, whole: u64| (part * 100).checked_div(whole).unwrap_or(0);
    let (layer_disk, blob_disk) = store.usage();
    // Build cache: the layers only cache records hold, plus cache mounts and kept downloads.
    let cache = store.cache_records()?;
    let mut cache_layers = std::collections::BTreeMap::new();
    for record in &cache {
        for l in record.layers.iter().filter(|l| !layers.contains_key(&l.diff_id)) {
            cache_layers.entry(l.diff_id.clone()).or_insert_with(|| store.layer_meta(&l.diff_id).map_or(0, |m| m.stats.file_bytes));
        }
    }
    let cache_size: u64 = cache_layers.values().sum::<u64>()
        + crate::fsutil::disk_usage(&store.root().join("build-mounts-v1"))
        + crate::fsutil::disk_usage(&store.root().join("build-downloads-v1"));
    printer.table(
        &["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"],
        &[
            vec![
                "Images".into(),
                images.len().to_string(),
                active_images.to_string(),
                human_size(total),
                format!("{} ({}%)", human_size(reclaimable), percent(reclaimable, total)),
            ],
            vec![
                "Containers".into(),
                records.len().to_string(),
                running.iter().filter(|r| **r).count().to_string(),
                human_size(container_size),
                format!("{} ({}%)", human_size(container_reclaimable), percent(container_reclaimable, container_size)),
            ],
            vec![
                "Local Volumes".into(),
                volumes.to_string(),
                active_volumes.to_string(),
                human_size(volume_size),
                format!("{} ({}%)", human_size(volume_reclaimable), percent(volume_reclaimable, volume_size)),
            ],
            vec!["Build Cache".into(), cache.len().to_string(), "0".into(), human_size(cache_size), human_size(cache_size)],
        ],
    );
    printer.status(format!(
        "\nStore {}: layers {} on disk, blobs {}, dangling images {}",
        store.root().display(),
        human_size(layer_disk),
        human_size(blob_disk),
        dangling.len()
    ));
    Ok(0)
}
