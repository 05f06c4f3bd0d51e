use crate::cli::args::ContainerLsArgs;
use crate::cli::context::Context;
use crate::output::human_ago;
use crate::runtime::state::Observed;

pub fn run(ctx: &Context, args: ContainerLsArgs) -> anyhow::Result<i32> {
    let printer = ctx.printer(false);
    let containers = ctx.containers()?;
    for broken in containers.broken()? {
        printer.warn(broken.to_string());
    }
    let mut rows = Vec::new();
    for record in containers.all()? {
        let observed = containers.observe(&record.id);
        if !args.all && !matches!(observed, Observed::Running | Observed::Restarting(_) | Observed::Unknown) {
            continue;
        }
        let state = containers.state(&record.id);
        let status = match observed {
            Observed::Running => {
                let up = crate::output::human_duration(std::time::Duration::from_secs(crate::time::now_unix().saturating_sub(state.started_at.unwrap_or(0))));
                match &state.health {
                    Some(h) => format!(
                        "Up {up} ({})",
                        if h.status == crate::runtime::health::HealthStatus::Starting { "health: starting".to_string() } else { h.status.to_string() }
                    ),
                    None => format!("Up {up}"),
                }
            }
            Observed::Exited(code) => format!("Exited ({code}) {}", state.finished_at.map_or(String::new(), |t| human_ago(t as i64))),
            Observed::Created => "Created".into(),
            Observed::Restarting(code) => format!("Restarting ({code})"),
            Observed::Unknown => "Unknown (supervisor gone)".into(),
        };
        let ports = if observed == Observed::Running { state.ports.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", ") } else { String::new() };
        rows.push((record, observed, status, ports));
    }
    if args.quiet {
        for (record, ..) in &rows {
            printer.result(if args.no_trunc { record.id.clone() } else { record.id[..12].to_string() });
        }
        return Ok(0);
    }
    let command = |args: &[String]| {
        let text = args.join(" ");
        if text.chars().count() > 20 { format!("\"{}…\"", text.chars().take(19).collect::<String>()) } else { format!("\"{text}\"") }
    };
    let json: Vec<serde_json::Value> = rows
        .iter()
        .map(|(record, observed, status, ports)| {
            let labels: Vec<String> = record.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            serde_json::json!({
                "ID": if args.no_trunc { record.id.clone() } else { record.id[..12].to_string() }, "Names": record.name, "Image": record.image,
                "Command": command(record.command()), "State": observed.to_string(), "Status": status, "CreatedAt": record.created,
                "RunningFor": human_ago(record.created as i64), "Ports": ports, "Labels": labels.join(","),
                "Networks": record.network.network_names().join(","),
            })
        })
        .collect();
    let columns = [
        ("ID", "CONTAINER ID"),
        ("Image", "IMAGE"),
        ("Command", "COMMAND"),
        ("RunningFor", "CREATED"),
        ("Status", "STATUS"),
        ("Ports", "PORTS"),
        ("Names", "NAMES"),
    ];
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|(r, _, status, ports)| {
            let id = if args.no_trunc { r.id.clone() } else { r.id[..12].to_string() };
            vec![id, r.image.clone(), command(r.command()), human_ago(r.created as i64), status.clone(), ports.clone(), r.name.clone()]
        })
        .collect();
    crate::cli::print_rows(&printer, &args.format, &json, &columns, Some(table))?;
    Ok(0)
}
