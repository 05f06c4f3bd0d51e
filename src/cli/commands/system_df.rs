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
    // Nothing runs containers yet, so every image is reclaimable.
    let reclaimable = total;
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
            vec!["Images".into(), images.len().to_string(), "0".into(), human_size(total), format!("{} (100%)", human_size(reclaimable))],
            vec!["Containers".into(), "0".into(), "0".into(), "0B".into(), "0B".into()],
            vec!["Local Volumes".into(), "0".into(), "0".into(), "0B".into(), "0B".into()],
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
