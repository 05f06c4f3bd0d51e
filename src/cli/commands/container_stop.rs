use crate::cli::StopArgs;
use crate::cli::context::Context;
use crate::runtime::lifecycle;

pub fn run(ctx: &Context, args: StopArgs) -> anyhow::Result<i32> {
    let printer = ctx.printer(false);
    let containers = ctx.containers()?;
    let mut failed = 0;
    for name in &args.containers {
        let result = containers.find(name).map_err(anyhow::Error::from).and_then(|r| Ok(lifecycle::stop(&containers, &r, args.time, &ctx.paths)?));
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
