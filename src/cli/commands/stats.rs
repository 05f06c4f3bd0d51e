//! `rde stats [SERVICE...]` (compose's) and `rde container stats [CONTAINER...]`: docker's
//! columns, live (redrawn each second until Ctrl-C) or once with `--no-stream`.

use crate::cli::compose_args::StatsArgs;
use crate::cli::context::Context;
use crate::output::{human_size, human_size_binary};
use crate::runtime::state::{ContainerRecord, Containers, Observed};
use crate::runtime::stats::{self, Sample};
use std::time::{Duration, Instant};

const COLUMNS: [(&str, &str); 8] = [
    ("ID", "CONTAINER ID"),
    ("Name", "NAME"),
    ("CPUPerc", "CPU %"),
    ("MemUsage", "MEM USAGE / LIMIT"),
    ("MemPerc", "MEM %"),
    ("NetIO", "NET I/O"),
    ("BlockIO", "BLOCK I/O"),
    ("PIDs", "PIDS"),
];

pub fn services(ctx: &Context, args: StatsArgs) -> anyhow::Result<i32> {
    let session = ctx.existing_session(&args.names, false)?;
    let records = session.selected(&args.names, true)?.into_iter().filter(|r| args.all || session.containers.observe(&r.id) == Observed::Running).collect();
    show(ctx, &session.containers, records, &args)
}

pub fn containers(ctx: &Context, args: StatsArgs) -> anyhow::Result<i32> {
    let containers = ctx.containers()?;
    let records = if args.names.is_empty() {
        containers.all()?.into_iter().filter(|r| args.all || containers.observe(&r.id) == Observed::Running).collect()
    } else {
        args.names.iter().map(|n| containers.find(n)).collect::<Result<Vec<_>, _>>()?
    };
    show(ctx, &containers, records, &args)
}

fn show(ctx: &Context, containers: &Containers, records: Vec<ContainerRecord>, args: &StatsArgs) -> anyhow::Result<i32> {
    let printer = ctx.printer(false);
    let interval = Duration::from_millis(if args.no_stream { 500 } else { 1000 });
    let mut before: Vec<(Option<Sample>, Instant)> = records.iter().map(|r| (read(containers, r), Instant::now())).collect();
    crate::signals::catch_forwardable();
    let live = !args.no_stream && std::io::IsTerminal::is_terminal(&std::io::stdout());
    loop {
        std::thread::sleep(interval);
        if crate::signals::take_pending().is_some() {
            return Ok(0);
        }
        let rows: Vec<serde_json::Value> = records
            .iter()
            .zip(before.iter_mut())
            .map(|(r, (prev, at))| {
                let now = read(containers, r);
                let elapsed = at.elapsed().as_nanos() as u64;
                let row = row(r, prev.as_ref(), now.as_ref(), elapsed, args.no_trunc);
                (*prev, *at) = (now, Instant::now());
                row
            })
            .collect();
        if live {
            // Redrawn in place, as docker's.
            printer.clear_screen();
        }
        crate::cli::print_rows(&printer, &args.format, &rows, &COLUMNS, None)?;
        if args.no_stream {
            return Ok(0);
        }
    }
}

fn read(containers: &Containers, record: &ContainerRecord) -> Option<Sample> {
    let init = containers.state(&record.id).init().filter(|p| p.alive())?;
    (containers.observe(&record.id) == Observed::Running).then(|| stats::sample(record, init.pid))
}

/// A row with docker's fields (`{{.CPUPerc}}`, `{{.MemUsage}}`, ...); `--` where nothing is known.
fn row(r: &ContainerRecord, before: Option<&Sample>, now: Option<&Sample>, interval_ns: u64, no_trunc: bool) -> serde_json::Value {
    let unknown = || "--".to_string();
    let pair = |v: Option<(u64, u64)>| v.map_or_else(unknown, |(a, b)| format!("{} / {}", human_size(a), human_size(b)));
    let cpu = match (before, now) {
        (Some(b), Some(n)) => stats::cpu_percent(b, n, interval_ns).map_or_else(unknown, |p| format!("{p:.2}%")),
        _ => unknown(),
    };
    let now = now.cloned().unwrap_or_default();
    let mem_usage = match (now.memory, now.memory_limit) {
        (Some(m), Some(l)) => format!("{} / {}", human_size_binary(m), human_size_binary(l)),
        _ => unknown(),
    };
    let mem_percent = match (now.memory, now.memory_limit) {
        (Some(m), Some(l)) if l > 0 => format!("{:.2}%", m as f64 * 100.0 / l as f64),
        _ => unknown(),
    };
    serde_json::json!({
        "ID": if no_trunc { r.id.clone() } else { r.id[..12].to_string() },
        "Container": r.id[..12].to_string(),
        "Name": r.name,
        "CPUPerc": cpu,
        "MemUsage": mem_usage,
        "MemPerc": mem_percent,
        "NetIO": pair(now.net),
        "BlockIO": pair(now.block),
        "PIDs": now.pids.map_or_else(unknown, |p| p.to_string()),
    })
}
