//! `rde exec SERVICE CMD`: a command in a service's running container, with a
//! terminal when ours is one (`-T` for none), as docker compose does.

use crate::cli::compose_args::ProjectExecArgs;
use crate::cli::context::Context;
use crate::runtime::exec::ExecOptions;
use std::io::IsTerminal;

pub fn run(ctx: &Context, args: ProjectExecArgs) -> anyhow::Result<i32> {
    let session = ctx.session(&[], false)?;
    let record = session.container(&args.service, args.index)?;
    let tty = !args.no_tty && !args.detach && std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let opts = ExecOptions {
        command: args.command,
        env: args.env,
        workdir: args.workdir,
        user: args.user,
        interactive: !args.detach,
        tty,
        privileged: args.privileged,
        detach: args.detach,
    };
    super::exec_foreground(ctx, &session.containers, &record, &opts)
}
