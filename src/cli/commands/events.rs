//! `rde events` (compose's: the project's containers, `--json`) and `rde system events`
//! (docker's: `--since`, `--until`, `--filter`, `--format`): container events as they happen.

use crate::cli::args::SystemEventsArgs;
use crate::cli::compose_args::ProjectEventsArgs;
use crate::cli::context::Context;
use crate::cli::logmux::Window;
use crate::project::names;
use crate::runtime::events::{Event, EventReader};
use std::time::Duration;

pub fn project(ctx: &Context, args: ProjectEventsArgs) -> anyhow::Result<i32> {
    let session = ctx.existing_session(&args.services, false)?;
    let project = session.project.name.clone();
    let printer = ctx.printer(false);
    follow(&ctx.containers()?, Window::default(), |e| {
        let attr = |k: &str| e.actor.attributes.get(k).cloned().unwrap_or_default();
        if attr(names::PROJECT) != project || !(args.services.is_empty() || args.services.contains(&attr(names::SERVICE))) {
            return;
        }
        if args.json {
            let value = serde_json::json!({
                "action": e.action, "attributes": e.actor.attributes, "id": e.actor.id, "service": attr(names::SERVICE),
                "time": crate::time::format_rfc3339(e.time, (e.time_nano % 1_000_000_000) as u32), "type": e.kind,
            });
            printer.result(value.to_string());
        } else {
            printer.result(e.line());
        }
    })
}

pub fn system(ctx: &Context, args: SystemEventsArgs) -> anyhow::Result<i32> {
    let window = Window::parse(args.since.as_deref(), args.until.as_deref())?;
    let filters = args
        .filter
        .iter()
        .map(|f| {
            let (k, v) = f.split_once('=').ok_or_else(|| anyhow::anyhow!("invalid filter {f:?}; hint: KEY=VALUE: container, event, label, type"))?;
            anyhow::ensure!(matches!(k, "container" | "event" | "label" | "type"), "invalid filter {k:?}; hint: use container, event, label or type");
            Ok((k.to_string(), v.to_string()))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let format = crate::format::Format::parse(&args.format.clone().unwrap_or_default()).map_err(|e| anyhow::anyhow!("--format: {e}"))?;
    let printer = ctx.printer(false);
    let mut failed = None;
    let code = follow(&ctx.containers()?, window, |e| {
        let attr = |k: &str| e.actor.attributes.get(k).map(String::as_str);
        let keep = |kind: &str| {
            let values: Vec<&str> = filters.iter().filter(|(k, _)| k == kind).map(|(_, v)| v.as_str()).collect();
            values.is_empty()
                || values.iter().any(|v| match kind {
                    "container" => attr("name") == Some(v) || e.actor.id.starts_with(v),
                    "event" => e.action == *v || e.action.split(':').next() == Some(v),
                    "type" => e.kind == *v,
                    _ => match v.split_once('=') {
                        Some((k, want)) => attr(k) == Some(want),
                        None => attr(v).is_some(),
                    },
                })
        };
        if !["container", "event", "type", "label"].iter().all(|k| keep(k)) {
            return;
        }
        match &format {
            crate::format::Format::Table => printer.result(e.line()),
            other => match crate::format::render_rows(other, &crate::format::default_header, &[serde_json::to_value(e).unwrap_or_default()]) {
                Ok(Some(text)) => printer.result(text.trim_end_matches('\n')),
                Ok(None) => {}
                Err(err) => failed = Some(err.to_string()),
            },
        }
    })?;
    match failed {
        Some(e) => anyhow::bail!("--format: {e}"),
        None => Ok(code),
    }
}

/// Events in `window` (with `--since`, the kept history first), then new ones as they come,
/// until Ctrl-C or `--until`.
fn follow(containers: &crate::runtime::state::Containers, window: Window, mut each: impl FnMut(&Event)) -> anyhow::Result<i32> {
    let history = window.since.is_some();
    let mut reader = EventReader::open(containers, history);
    let inside = |e: &Event| {
        let t = e.time_nano as f64 / 1e9;
        window.since.is_none_or(|s| t >= s) && window.until.is_none_or(|u| t < u)
    };
    if history {
        reader.rotated().iter().filter(|e| inside(e)).for_each(&mut each);
    }
    crate::signals::catch_forwardable();
    loop {
        reader.read_available().iter().filter(|e| inside(e)).for_each(&mut each);
        if window.over() || crate::signals::take_pending().is_some() {
            return Ok(0);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
