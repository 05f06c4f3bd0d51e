use crate::cli::args::ContainerRmArgs;
use crate::cli::context::Context;
use crate::runtime::lifecycle;
use crate::runtime::state::StateError;

/// Keeps going after a failure and reports every error.
/// `-f` also removes a container whose record is corrupt.
pub fn run(ctx: &Context, args: ContainerRmArgs) -> anyhow::Result<i32> {
    let printer = ctx.printer(false);
    let containers = ctx.containers()?;
    let mut failed = 0;
    for name in &args.containers {
        let removed = match containers.find(name) {
            Ok(record) => lifecycle::remove(&containers, &record, args.force, &ctx.paths),
            Err(StateError::Corrupt { id, .. }) if args.force => lifecycle::remove_broken(&containers, &id, &ctx.paths),
            Err(e) => Err(e.into()),
        };
        match removed {
            Ok(()) => printer.result(name),
            Err(e) => {
                printer.error(e.to_string());
                failed += 1;
            }
        }
    }
    Ok(if failed == 0 { 0 } else { 1 })
}
