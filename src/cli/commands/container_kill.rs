use crate::cli::args::KillArgs;
use crate::cli::context::Context;
use crate::runtime::lifecycle;

pub fn run(ctx: &Context, args: KillArgs) -> anyhow::Result<i32> {
    let signal = lifecycle::parse_signal(&args.signal)?;
    super::each_container(ctx, &args.containers, |containers, record| Ok(lifecycle::kill(containers, record, signal)?))
}
