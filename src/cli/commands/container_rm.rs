use crate::cli::ContainerRmArgs;
use crate::cli::context::Context;
use crate::runtime::lifecycle;

/// Keeps going after a failure and reports every error.
pub fn run(ctx: &Context, args: ContainerRmArgs) -> anyhow::Result<i32> {
    super::each_container(ctx, &args.containers, |containers, record| Ok(lifecycle::remove(containers, record, args.force, &ctx.paths)?))
}
