use crate::cli::ExecArgs;
use crate::cli::context::Context;
use crate::cli::signals;
use crate::runtime::exec::{self, ExecOptions};
use crate::runtime::shim::libcontainer_root;
use nix::sys::wait::{WaitStatus, waitpid};

/// The process shares our standard streams; its exit code becomes ours.
pub fn run(ctx: &Context, args: ExecArgs) -> anyhow::Result<i32> {
    anyhow::ensure!(!args.tty, "-t (a terminal) is not supported yet; hint: run without -t");
    let printer = ctx.printer(false);
    let containers = ctx.containers()?;
    let record = containers.find(&args.container)?;
    let opts = ExecOptions { command: args.command, env: args.env, workdir: args.workdir, user: args.user };
    let pid = match exec::spawn(&containers, &record, &opts, &libcontainer_root(&ctx.paths)) {
        Ok(pid) => pid,
        Err(e) => {
            printer.error(e.to_string());
            return Ok(e.exit_code());
        }
    };
    signals::catch_forwardable();
    let target = nix::unistd::Pid::from_raw(pid);
    loop {
        match waitpid(target, None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(128 + sig as i32),
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => signals::forward_to(pid),
            Err(e) => anyhow::bail!("waiting for the process: {e}"),
        }
    }
}
