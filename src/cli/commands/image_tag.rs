//! `rde image tag SOURCE TARGET`: another name for an image, as `docker tag`.

use crate::cli::args::ImageTagArgs;
use crate::cli::context::Context;
use crate::image::lookup;
use crate::image::reference::Reference;

pub fn run(ctx: &Context, args: ImageTagArgs) -> anyhow::Result<i32> {
    let store = ctx.store()?;
    let (record, _) = lookup::find(&store, &args.source)?;
    let target: Reference = args.target.parse()?;
    anyhow::ensure!(target.digest.is_none(), "{}: a tag cannot carry a digest; hint: name:tag", args.target);
    let tagged = target.tagged().expect("a tag without a digest");
    let _lock = store.lock_metadata()?;
    let mut tags = store.tags()?;
    tags.insert(tagged, record.id);
    store.save_tags(&tags)?;
    Ok(0)
}
