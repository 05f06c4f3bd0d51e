//! `rde ls`: the projects that have containers here, as `docker compose ls` lists them.

use crate::cli::compose_args::ProjectLsArgs;
use crate::cli::context::Context;
use crate::project::names;
use crate::runtime::state::Observed;
use std::collections::BTreeMap;

/// A project's containers by state, and its compose files.
#[derive(Default)]
struct Listed {
    states: BTreeMap<&'static str, usize>,
    files: Vec<String>,
}

pub fn run(ctx: &Context, args: ProjectLsArgs) -> anyhow::Result<i32> {
    let containers = ctx.containers()?;
    let mut projects: BTreeMap<String, Listed> = BTreeMap::new();
    for r in containers.all()? {
        let Some(project) = r.labels.get(names::PROJECT) else { continue };
        let state = match containers.observe(&r.id) {
            Observed::Running => "running",
            Observed::Restarting(_) => "restarting",
            Observed::Created => "created",
            Observed::Exited(_) | Observed::Unknown => "exited",
        };
        let listed = projects.entry(project.clone()).or_default();
        *listed.states.entry(state).or_default() += 1;
        for f in r.labels.get(names::CONFIG_FILES).map(|f| f.split(',')).into_iter().flatten().filter(|f| !f.is_empty()) {
            if !listed.files.iter().any(|have| have == f) {
                listed.files.push(f.to_string());
            }
        }
    }
    let mut names_filter = Vec::new();
    for f in &args.filter {
        match f.split_once('=') {
            Some(("name", value)) => names_filter.push(value.to_string()),
            _ => anyhow::bail!("invalid filter {f:?}; hint: use name=PROJECT"),
        }
    }
    // Without --all, only projects with something running, as compose's.
    projects.retain(|name, p| {
        (args.all || p.states.contains_key("running")) && (names_filter.is_empty() || names_filter.iter().any(|n| name.contains(n.as_str())))
    });
    let printer = ctx.printer(false);
    if args.quiet {
        projects.keys().for_each(|name| printer.result(name));
        return Ok(0);
    }
    let rows: Vec<serde_json::Value> = projects
        .iter()
        .map(|(name, p)| {
            // compose's "running(2), exited(1)".
            let status: Vec<String> = p.states.iter().map(|(state, n)| format!("{state}({n})")).collect();
            serde_json::json!({"Name": name, "Status": status.join(", "), "ConfigFiles": p.files.join(",")})
        })
        .collect();
    if args.format == "json" {
        // compose prints one JSON array.
        printer.result(serde_json::to_string(&rows)?);
        return Ok(0);
    }
    crate::cli::print_rows(&printer, &args.format, &rows, &[("Name", "NAME"), ("Status", "STATUS"), ("ConfigFiles", "CONFIG FILES")], None)?;
    Ok(0)
}
