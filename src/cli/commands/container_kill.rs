use crate::cli::KillArgs;
use crate::cli::context::Context;
use crate::runtime::lifecycle;

pub fn run(ctx: &Context, args: KillArgs) -> anyhow::Result<i32> {
    let printer = ctx.printer(false);
    let containers = ctx.containers()?;
    let signal = lifecycle::parse_signal(&args.signal)?;
    let mut failed = 0;
    for name in &args.containers {
        let result = containers.find(name).map_err(anyhow::Error::from).and_then(|r| Ok(lifecycle::kill(&containers, &r, signal)?));
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
