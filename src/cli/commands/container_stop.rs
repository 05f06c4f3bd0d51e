use crate::cli::args::StopArgs;
use crate::cli::context::Context;
use crate::runtime::lifecycle;

pub fn run(ctx: &Context, args: StopArgs) -> anyhow::Result<i32> {
    super::each_container(ctx, &args.containers, |containers, record| Ok(lifecycle::stop(containers, record, args.time, &ctx.paths)?))
}
