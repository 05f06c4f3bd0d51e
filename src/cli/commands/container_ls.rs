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
        let d = super::describe(&containers, &record);
        if !args.all && !matches!(d.observed, Observed::Running | Observed::Restarting(_) | Observed::Unknown) {
            continue;
        }
        rows.push((record, d));
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
        .map(|(record, d)| {
            let (status, ports) = (&d.status, &d.ports);
            let labels: Vec<String> = record.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            serde_json::json!({
                "ID": if args.no_trunc { record.id.clone() } else { record.id[..12].to_string() }, "Names": record.name, "Image": record.image,
                "Command": command(record.command()), "State": d.word, "Status": status, "CreatedAt": record.created,
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
        .map(|(r, d)| {
            let (status, ports) = (&d.status, &d.ports);
            let id = if args.no_trunc { r.id.clone() } else { r.id[..12].to_string() };
            vec![id, r.image.clone(), command(r.command()), human_ago(r.created as i64), status.clone(), ports.clone(), r.name.clone()]
        })
        .collect();
    crate::cli::print_rows(&printer, &args.format, &json, &columns, Some(table))?;
    Ok(0)
}
