//! `rde image save` / `rde image load`, and the project's `rde save` / `rde load`
//! (every image the project runs): archives through `image::archive`.

use crate::cli::args::{ImageLoadArgs, ImageSaveArgs};
use crate::cli::compose_args::ProjectSaveArgs;
use crate::cli::context::Context;
use crate::image::archive::{self, SaveItem};
use crate::image::lookup::{self, Named};
use crate::image::store::Store;
use crate::output::Printer;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

pub fn save(ctx: &Context, args: ImageSaveArgs) -> anyhow::Result<i32> {
    anyhow::ensure!(matches!(args.format.as_str(), "docker-archive" | "oci-archive"), "--format {:?}: use docker-archive or oci-archive", args.format);
    let store = ctx.store()?;
    let mut items: Vec<SaveItem> = Vec::new();
    for name in &args.images {
        let (record, named) = lookup::find(&store, name)?;
        let tags = match named {
            Named::Tag(tag) => vec![tag],
            _ => lookup::tags_of(&store, &record.id)?,
        };
        add(&mut items, record, tags);
    }
    write_archive(&store, &items, args.output.as_deref())?;
    Ok(0)
}

pub fn load(ctx: &Context, args: ImageLoadArgs) -> anyhow::Result<i32> {
    let store = ctx.store()?;
    read_archive(&store, args.input.as_deref(), &ctx.printer(args.quiet))?;
    Ok(0)
}

/// `rde save`: the images of the project's services (pulled and built) in one archive.
pub fn project_save(ctx: &Context, args: ProjectSaveArgs) -> anyhow::Result<i32> {
    let session = ctx.session(&args.services, false)?;
    let store = ctx.store()?;
    let mut items: Vec<SaveItem> = Vec::new();
    for service in session.project.services.values().filter(|s| args.services.is_empty() || args.services.contains(&s.name)) {
        let image =
            if service.build.is_some() { crate::project::build::image_name(&session.project.name, service) } else { service.image.clone().unwrap_or_default() };
        let (record, named) = lookup::find(&store, &image).map_err(|e| anyhow::anyhow!("service {}: {e}", service.name))?;
        let tags = match named {
            Named::Tag(tag) => vec![tag],
            _ => Vec::new(),
        };
        add(&mut items, record, tags);
    }
    write_archive(&store, &items, args.output.as_deref())?;
    session.printer.notice(format!("Saved {} images", items.len()));
    Ok(0)
}

/// One image more in the archive, or more names for one already in it.
fn add(items: &mut Vec<SaveItem>, record: crate::image::store::ImageRecord, tags: Vec<String>) {
    match items.iter_mut().find(|i| i.record.id == record.id) {
        Some(item) => {
            for tag in tags {
                if !item.tags.contains(&tag) {
                    item.tags.push(tag);
                }
            }
        }
        None => items.push(SaveItem { record, tags }),
    }
}

/// To `output` through a temporary file renamed at the end (nothing half-written
/// is left under the name), or to stdout when it is not a terminal.
fn write_archive(store: &Store, items: &[SaveItem], output: Option<&Path>) -> anyhow::Result<()> {
    let Some(output) = output else {
        let stdout = std::io::stdout();
        anyhow::ensure!(!stdout.is_terminal(), "refusing to write an image archive to a terminal; hint: -o FILE, or redirect the output");
        let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
        archive::save(store, items, &mut out)?;
        out.flush()?;
        return Ok(());
    };
    let dir = output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = output.file_name().ok_or_else(|| anyhow::anyhow!("-o {}: not a file name", output.display()))?;
    let temp = dir.join(format!(".{}.{}.tmp", name.to_string_lossy(), crate::fsutil::unique_suffix()));
    let written = (|| -> anyhow::Result<()> {
        let file = std::fs::File::create(&temp).map_err(|e| anyhow::anyhow!("{}: {e}", temp.display()))?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        archive::save(store, items, &mut out)?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&temp, output).map_err(|e| anyhow::anyhow!("{}: {e}", output.display()))?;
        Ok(())
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

/// From `input`, or stdin (kept in a temporary file of the store: the archive is read twice).
fn read_archive(store: &Store, input: Option<&Path>, printer: &Printer) -> anyhow::Result<()> {
    let mut temp: Option<PathBuf> = None;
    let path = match input {
        Some(p) => p.to_path_buf(),
        None => {
            let stdin = std::io::stdin();
            anyhow::ensure!(!stdin.is_terminal(), "no archive: give -i FILE, or pipe one in");
            let dir = store.scratch_dir("load")?;
            let p = dir.join("archive.tar");
            temp = Some(dir);
            std::io::copy(&mut stdin.lock(), &mut std::fs::File::create(&p)?)?;
            p
        }
    };
    let result = archive::load(store, &path, &|line| printer.status(line));
    if let Some(dir) = temp {
        let _ = crate::fsutil::remove_tree(&dir);
    }
    for image in result? {
        if image.tags.is_empty() {
            printer.status(format!("Loaded image ID: {}", image.id));
        }
        for tag in &image.tags {
            printer.status(format!("Loaded image: {tag}"));
        }
    }
    Ok(())
}
