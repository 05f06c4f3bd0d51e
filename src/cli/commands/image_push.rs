//! `rde image push` and the project's `rde push`: images to their registries (`image::push`).

use crate::cli::args::ImagePushArgs;
use crate::cli::compose_args::ProjectPushArgs;
use crate::cli::context::Context;
use crate::image::lookup;
use crate::image::push::{self, PushCompression};
use crate::image::reference::Reference;

pub fn run(ctx: &Context, args: ImagePushArgs) -> anyhow::Result<i32> {
    let compression: PushCompression = args.compression.parse().map_err(anyhow::Error::msg)?;
    let store = ctx.store()?;
    let printer = ctx.printer(args.quiet);
    let reference: Reference = args.image.parse()?;
    let (record, _) = lookup::find(&store, &args.image)?;
    push::push(&ctx.registry()?, &store, &record, &reference, compression, &printer)?;
    Ok(0)
}

/// `rde push [SERVICE...]`: every service with `image:` whose image is here,
/// as `docker compose push`; keeps going after a failure and reports each.
pub fn project(ctx: &Context, args: ProjectPushArgs) -> anyhow::Result<i32> {
    let session = ctx.session(&args.services, false)?;
    let store = ctx.store()?;
    let client = ctx.registry()?;
    let mut failed = 0;
    for service in session.project.services.values().filter(|s| args.services.is_empty() || args.services.contains(&s.name)) {
        let Some(image) = &service.image else { continue };
        let result = (|| -> anyhow::Result<()> {
            let reference: Reference = image.parse()?;
            let (record, _) = lookup::find(&store, image)?;
            session.printer.step("Image", image, "Pushing");
            push::push(&client, &store, &record, &reference, PushCompression::Gzip, &ctx.printer(true))?;
            session.printer.step("Image", image, "Pushed");
            Ok(())
        })();
        if let Err(e) = result {
            failed += 1;
            session.printer.error(format!("service {}: {e:#}", service.name));
        }
    }
    Ok(if failed == 0 || args.ignore_push_failures { 0 } else { 1 })
}
