//! `rde logs`: the project's logs, each line prefixed with its container
//! (`web-1  | `) in a color of its own; `-f` follows them, as a foreground
//! `up` does.

use crate::cli::compose_args::ProjectLogsArgs;
use crate::cli::context::Context;
use crate::cli::logmux::LogMux;
use crate::runtime::state::Observed;

pub fn run(ctx: &Context, args: ProjectLogsArgs) -> anyhow::Result<i32> {
    let session = ctx.existing_session(&args.services, false)?;
    let mut records = session.selected(&args.services, true)?;
    if let Some(index) = args.index {
        records.retain(|r| crate::project::names::number_of(r) == index);
        anyhow::ensure!(!records.is_empty(), "no container with index {index}; hint: `rde ps` lists the replicas");
    }
    let window = crate::cli::logmux::Window::parse(args.since.as_deref(), args.until.as_deref())?;
    let tail = match args.tail.as_deref() {
        None | Some("all") => None,
        Some(n) => Some(n.parse::<usize>().map_err(|_| anyhow::anyhow!("invalid --tail {n:?}; hint: a number of lines, or all"))?),
    };
    let color = session.printer.color() && !args.no_color;
    let mut mux = LogMux::open(&session.containers, &session.project.name, &records, !args.no_log_prefix, color, args.timestamps)?.with_window(window);
    let mut lines = mux.tail(tail);
    // Several containers: in time order, as they were written.
    lines.sort_by(|a, b| a.1.time.cmp(&b.1.time));
    mux.print(&lines);
    if args.follow {
        crate::signals::catch_forwardable();
        while crate::signals::take_pending().is_none() && !window.over() {
            let printed = mux.print_available();
            if !printed && !records.iter().any(|r| matches!(session.containers.observe(&r.id), Observed::Running | Observed::Restarting(_) | Observed::Created))
            {
                mux.print_available();
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
    Ok(0)
}
