//! `rde ps`: the project's containers, as docker compose lists them.

use crate::cli::compose_args::PsArgs;
use crate::cli::context::Context;
use crate::output::human_ago;
use crate::project::names;
use crate::runtime::state::Observed;

pub fn run(ctx: &Context, args: PsArgs) -> anyhow::Result<i32> {
    let session = ctx.existing_session(&args.services, false)?;
    let printer = &session.printer;
    let wanted = statuses(&args)?;
    let mut rows = Vec::new();
    for r in session.selected(&args.services, false)? {
        let d = super::describe(&session.containers, &r);
        // A status asked for looks at every container, as compose's --status does.
        if wanted.is_empty() && !args.all && !matches!(d.observed, Observed::Running | Observed::Restarting(_) | Observed::Unknown) {
            continue;
        }
        if !wanted.is_empty() && !wanted.contains(&d.word) {
            continue;
        }
        rows.push((r, d));
    }
    if args.services_only {
        let mut services: Vec<&str> = Vec::new();
        for (r, _) in &rows {
            if !services.contains(&names::service_of(r)) {
                services.push(names::service_of(r));
            }
        }
        services.iter().for_each(|s| printer.result(s));
        return Ok(0);
    }
    if args.quiet {
        rows.iter().for_each(|(r, ..)| printer.result(&r.id));
        return Ok(0);
    }
    let json: Vec<serde_json::Value> = rows
        .iter()
        .map(|(r, d)| {
            let (status, ports, state) = (&d.status, &d.ports, &d.state);
            let health = state.health.as_ref().map(|h| h.status.to_string()).unwrap_or_default();
            let labels: Vec<String> = r.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            serde_json::json!({
                "ID": r.id, "Name": r.name, "Names": r.name, "Image": r.image, "Command": r.command().join(" "),
                "Project": session.project.name, "Service": names::service_of(r), "State": d.word,
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
        .map(|(r, d)| {
            let (status, ports) = (&d.status, &d.ports);
            let command = r.command().join(" ");
            let command =
                if command.chars().count() > 20 { format!("\"{}…\"", command.chars().take(19).collect::<String>()) } else { format!("\"{command}\"") };
            vec![r.name.clone(), r.image.clone(), command, names::service_of(r).to_string(), human_ago(r.created as i64), status.clone(), ports.clone()]
        })
        .collect();
    crate::cli::print_rows(printer, &args.format, &json, &columns, Some(table))?;
    Ok(0)
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
