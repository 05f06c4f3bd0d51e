use crate::cli::args::ExecArgs;
use crate::cli::context::Context;
use crate::cli::signals;
use crate::runtime::exec::{self, ExecOptions};
use crate::runtime::shim::libcontainer_root;
use nix::sys::wait::{WaitStatus, waitpid};

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
    let opts = ExecOptions { command: args.command, env: args.env, workdir: args.workdir, user: args.user, interactive: args.interactive, tty };
    exec_in(ctx, &containers, &record, &opts)
}

/// Run `opts` in the container with our standard streams; its exit code becomes ours.
pub fn exec_in(ctx: &Context, containers: &crate::runtime::state::Containers, record: &crate::runtime::state::ContainerRecord, opts: &ExecOptions) -> anyhow::Result<i32> {
    let printer = ctx.printer(false);
    let spawned = match exec::spawn(containers, record, opts, &libcontainer_root(&ctx.paths)) {
        Ok(spawned) => spawned,
        Err(e) => {
            printer.error(e.to_string());
            return Ok(e.exit_code());
        }
    };
    let pid = spawned.pid;
    signals::catch_forwardable();
    let target = nix::unistd::Pid::from_raw(pid);
    if let Some(master) = &spawned.master {
        use std::os::fd::AsFd;
        let _raw = crate::runtime::tty::RawMode::enter();
        crate::runtime::tty::sync_size(master.as_fd());
        crate::runtime::tty::relay(master, || {
            if signals::take_resize() {
                crate::runtime::tty::sync_size(master.as_fd());
            }
            signals::forward_to(pid);
            true
        });
    }
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
