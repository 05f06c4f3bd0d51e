use crate::cli::args::ExecArgs;
use crate::cli::context::Context;
use crate::runtime::exec::ExecOptions;

/// The process shares our standard streams; its exit code becomes ours.
pub fn run(ctx: &Context, args: ExecArgs) -> anyhow::Result<i32> {
    let printer = ctx.printer(false);
    let containers = ctx.containers()?;
    let record = containers.find(&args.container)?;
    use std::io::IsTerminal;
    let tty = args.tty && std::io::stdin().is_terminal();
    if args.tty && !tty {
        printer.warn("the input device is not a TTY; running without a terminal");
    }
    let opts = ExecOptions {
        command: args.command,
        env: args.env,
        workdir: args.workdir,
        user: args.user,
        interactive: args.interactive && !args.detach,
        tty: tty && !args.detach,
        privileged: args.privileged,
        detach: args.detach,
    };
    super::exec_foreground(ctx, &containers, &record, &opts)
}
