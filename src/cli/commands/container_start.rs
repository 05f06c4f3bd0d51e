use crate::cli::args::{ContainerStartArgs, StopArgs};
use crate::cli::context::Context;
use crate::runtime::lifecycle;
use crate::runtime::state::Observed;

pub fn run(ctx: &Context, args: ContainerStartArgs) -> anyhow::Result<i32> {
    super::each_container(ctx, &args.containers, |containers, record| {
        // Starting a running container does nothing, as with docker.
        if containers.observe(&record.id) != Observed::Running {
            lifecycle::start(containers, record, &ctx.paths, false, None)?;
        }
        Ok(())
    })
}

pub fn restart(ctx: &Context, args: StopArgs) -> anyhow::Result<i32> {
    super::each_container(ctx, &args.containers, |containers, record| {
        lifecycle::stop(containers, record, args.time, &ctx.paths)?;
        lifecycle::start(containers, record, &ctx.paths, false, None)?;
        Ok(())
    })
}
