//! `rde down`: stop and remove the project's containers (dependents first),
//! then its networks; with `-v` its volumes, with `--rmi` its images. Every
//! step runs even when one fails; all errors are reported at the end.

use crate::cli::compose_args::DownArgs;
use crate::cli::context::Context;
use crate::project::names;

pub fn run(ctx: &Context, args: DownArgs) -> anyhow::Result<i32> {
    let session = ctx.existing_session(&[], true)?;
    let printer = &session.printer;
    let orphans = session.orphans()?;
    let mut records = session.existing(true)?;
    if !args.remove_orphans && !orphans.is_empty() {
        records.retain(|r| !orphans.iter().any(|o| o.id == r.id));
        let list: Vec<&str> = orphans.iter().map(|o| o.name.as_str()).collect();
        printer.warn(format!("Found orphan containers ({}) for this project; hint: run `rde down --remove-orphans` to remove them too", list.join(", ")));
    }
    let mut errors = session.take_down(&records, args.timeout)?;
    if args.volumes && session.from_labels {
        printer.warn("without the compose file rde cannot tell the project's volumes; they are kept");
    }
    if args.volumes {
        let mut volumes: Vec<String> = session.project.volumes.values().filter(|v| !v.external).map(|v| v.name.clone()).collect();
        for s in session.project.services.values() {
            for v in s.volumes.iter().filter(|v| v.source.is_none() && v.kind == crate::compose::MountType::Volume) {
                volumes.push(names::anonymous_volume(&session.project.name, &s.name, &v.target));
            }
        }
        for name in volumes {
            match session.containers.volumes().remove(&name) {
                Ok(true) => printer.step("Volume", &name, "Removed"),
                Ok(false) => {}
                Err(e) => errors.push(format!("remove volume {name}: {e}")),
            }
        }
    }
    if let Some(which) = &args.rmi {
        anyhow::ensure!(which == "all" || which == "local", "invalid --rmi {which:?}; hint: use all or local");
        // `all`: every service's image; `local`: only the images the project built
        // under its own name (`<project>-<service>`, no `image:`), as docker compose.
        let mut images: Vec<String> = session
            .project
            .services
            .values()
            .filter(|s| which == "all" || (s.build.is_some() && s.image.is_none()))
            .map(|s| crate::project::build::image_name(&session.project.name, s))
            .collect();
        images.sort();
        images.dedup();
        if !images.is_empty() {
            let failures = crate::image::remove::remove_all(&ctx.store()?, &images, false, &ctx.printer(false))?;
            if failures != 0 {
                errors.push("some images could not be removed".into());
            }
        }
    }
    for e in &errors {
        printer.error(e);
    }
    Ok(if errors.is_empty() { 0 } else { 1 })
}
