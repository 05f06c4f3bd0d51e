use crate::cli::ContainerRmArgs;
use crate::cli::context::Context;
use crate::runtime::lifecycle;

/// Keeps going after a failure and reports every error.
pub fn run(ctx: &Context, args: ContainerRmArgs) -> anyhow::Result<i32> {
    let printer = ctx.printer(false);
    let containers = ctx.containers()?;
    let mut failed = 0;
    for name in &args.containers {
        let result = containers.find(name).map_err(anyhow::Error::from).and_then(|r| Ok(lifecycle::remove(&containers, &r, args.force, &ctx.paths)?));
        match result {
            Ok(()) => printer.result(name),
            Err(e) => {
                printer.error(format!("{e:#}"));
                failed += 1;
            }
        }
    }
    Ok(if failed == 0 { 0 } else { 1 })
}
