use crate::cli::args::LogsArgs;
use crate::cli::context::Context;
use crate::cli::logmux::Window;
use crate::runtime::logs::{LogLine, LogReader};
use crate::runtime::state::Observed;
use std::io::Write;

pub fn run(ctx: &Context, args: LogsArgs) -> anyhow::Result<i32> {
    let containers = ctx.containers()?;
    let record = containers.find(&args.container)?;
    let tail = match args.tail.as_deref() {
        None | Some("all") => None,
        Some(n) => Some(n.parse::<usize>().map_err(|_| anyhow::anyhow!("invalid --tail {n:?}; hint: a number of lines, or all"))?),
    };
    let window = Window::parse(args.since.as_deref(), args.until.as_deref())?;
    let mut reader = LogReader::open(&containers.log_path(&record.id))?;
    let mut lines: Vec<LogLine> = reader.tail(None).into_iter().filter(|l| window.contains(l)).collect();
    lines.drain(..lines.len().saturating_sub(tail.unwrap_or(usize::MAX)));
    print(&lines, args.timestamps);
    if !args.follow {
        return Ok(0);
    }
    loop {
        let running = matches!(containers.observe(&record.id), Observed::Running | Observed::Created);
        let lines: Vec<LogLine> = reader.read_available().into_iter().filter(|l| window.contains(l)).collect();
        print(&lines, args.timestamps);
        if window.over() {
            break;
        }
        if !running && lines.is_empty() {
            // One last read: the shim writes the final lines before it records the exit.
            print(&reader.read_available(), args.timestamps);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Ok(0)
}

fn print(lines: &[LogLine], timestamps: bool) {
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    for line in lines {
        let text = if timestamps { format!("{} {}", line.time, line.log) } else { line.log.clone() };
        let _ = if line.stream == "stderr" { err.write_all(text.as_bytes()) } else { out.write_all(text.as_bytes()) };
    }
    let _ = out.flush();
}
