use crate::cli::args::ImageRmArgs;
use crate::cli::context::Context;

/// docker's rules (`image::remove`): removing a tag untags; the image goes when
/// nothing names it any more. Keeps going after a failure and reports every error.
pub fn run(ctx: &Context, args: ImageRmArgs) -> anyhow::Result<i32> {
    let printer = ctx.printer(false);
    let store = ctx.store()?;
    let failures = crate::image::remove::remove_all(&store, &args.images, args.force, &printer)?;
    Ok(if failures == 0 { 0 } else { 1 })
}
