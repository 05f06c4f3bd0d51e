//! `rde ps`: the project's containers, as docker compose lists them.

use crate::cli::compose_args::PsArgs;
use crate::cli::context::Context;
use crate::output::human_ago;
use crate::project::names;
use crate::runtime::state::Observed;

pub fn run(ctx: &Context, args: PsArgs) -> anyhow::Result<i32> {
    let session = ctx.existing_session(&args.services, false)?;
    let printer = &session.printer;
    if args.services_only {
        let mut services: Vec<String> = session.selected(&args.services, false)?.iter().map(|r| names::service_of(r).to_string()).collect();
        services.dedup();
        services.iter().for_each(|s| printer.result(s));
        return Ok(0);
    }
    let wanted = statuses(&args)?;
    let mut rows = Vec::new();
    for r in session.selected(&args.services, false)? {
        let observed = session.containers.observe(&r.id);
        // A status asked for looks at every container, as compose's --status does.
        if wanted.is_empty() && !args.all && !matches!(observed, Observed::Running | Observed::Restarting(_) | Observed::Unknown) {
            continue;
        }
        if !wanted.is_empty() && !wanted.contains(&state_word(&observed)) {
            continue;
        }
        let state = session.containers.state(&r.id);
        let status = match observed {
            Observed::Running => {
                let up = crate::output::human_duration(std::time::Duration::from_secs(crate::time::now_unix().saturating_sub(state.started_at.unwrap_or(0))));
                match &state.health {
                    Some(h) if h.status == crate::runtime::health::HealthStatus::Starting => format!("Up {up} (health: starting)"),
                    Some(h) => format!("Up {up} ({})", h.status),
                    None => format!("Up {up}"),
                }
            }
            Observed::Exited(code) => format!("Exited ({code}) {}", state.finished_at.map_or(String::new(), |t| human_ago(t as i64))),
            Observed::Restarting(code) => format!("Restarting ({code})"),
            Observed::Created => "Created".into(),
            Observed::Unknown => "Unknown (supervisor gone)".into(),
        };
        let ports = if observed == Observed::Running { state.ports.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", ") } else { String::new() };
        rows.push((r, observed, status, ports, state));
    }
    if args.quiet {
        rows.iter().for_each(|(r, ..)| printer.result(&r.id));
        return Ok(0);
    }
    let json: Vec<serde_json::Value> = rows
        .iter()
        .map(|(r, observed, status, ports, state)| {
            let health = state.health.as_ref().map(|h| h.status.to_string()).unwrap_or_default();
            let labels: Vec<String> = r.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            serde_json::json!({
                "ID": r.id, "Name": r.name, "Names": r.name, "Image": r.image, "Command": r.command().join(" "),
                "Project": session.project.name, "Service": names::service_of(r), "State": state_word(observed),
                "Health": health, "Status": status, "ExitCode": state.exit_code.unwrap_or(0), "Publishers": state.ports,
                "Ports": ports, "CreatedAt": r.created, "RunningFor": human_ago(r.created as i64), "Labels": labels.join(","),
                "Networks": r.network.network_names().join(","),
            })
        })
        .collect();
    let columns = [
        ("Name", "NAME"),
        ("Image", "IMAGE"),
        ("Command", "COMMAND"),
        ("Service", "SERVICE"),
        ("RunningFor", "CREATED"),
        ("Status", "STATUS"),
        ("Ports", "PORTS"),
    ];
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|(r, _, status, ports, _)| {
            let command = r.command().join(" ");
            let command =
                if command.chars().count() > 20 { format!("\"{}…\"", command.chars().take(19).collect::<String>()) } else { format!("\"{command}\"") };
            vec![r.name.clone(), r.image.clone(), command, names::service_of(r).to_string(), human_ago(r.created as i64), status.clone(), ports.clone()]
        })
        .collect();
    crate::cli::print_rows(printer, &args.format, &json, &columns, Some(table))?;
    Ok(0)
}

/// docker's word for a container's state.
fn state_word(observed: &Observed) -> &'static str {
    match observed {
        Observed::Running => "running",
        Observed::Exited(_) => "exited",
        Observed::Restarting(_) => "restarting",
        Observed::Created => "created",
        Observed::Unknown => "unknown",
    }
}

/// The states asked for with `--status S` and `--filter status=S` (compose v2's
/// values; `paused`, `removing` and `dead` are accepted and match nothing rde has).
fn statuses(args: &PsArgs) -> anyhow::Result<Vec<&'static str>> {
    const KNOWN: [&str; 7] = ["paused", "restarting", "removing", "running", "dead", "created", "exited"];
    let mut asked: Vec<&str> = args.status.iter().map(String::as_str).collect();
    for f in &args.filter {
        match f.split_once('=') {
            Some(("status", value)) => asked.push(value),
            _ => anyhow::bail!("invalid --filter {f:?}; hint: the supported filter is status=STATE, e.g. --filter status=running"),
        }
    }
    asked
        .into_iter()
        .map(|s| KNOWN.iter().copied().find(|k| *k == s).ok_or_else(|| anyhow::anyhow!("invalid status {s:?}; hint: use one of {}", KNOWN.join(", "))))
        .collect()
}
