use crate::cli::args::PullArgs;
use crate::cli::context::Context;
use crate::image::platform::Platform;
use crate::image::pull::{self, PullOptions};
use crate::image::reference::Reference;

pub fn run(ctx: &Context, args: PullArgs) -> anyhow::Result<i32> {
    let printer = ctx.printer(args.quiet);
    let reference: Reference = args.image.parse()?;
    let platform = args.platform.as_deref().map(str::parse::<Platform>).transpose()?;
    let store = ctx.store()?;
    let client = ctx.registry()?;
    let pulled = pull::pull(&client, &store, &reference, &PullOptions { platform }, &printer)?;
    printer.status(format!("Digest: {}", pulled.digest));
    let status = if pulled.downloaded_layers > 0 { "Downloaded newer image for" } else { "Image is up to date for" };
    printer.status(format!("Status: {status} {}", reference.familiar()));
    printer.result(reference.to_string());
    Ok(0)
}
