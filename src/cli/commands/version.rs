//! `rde version` in docker's layout (`--format json`, `--short`, `{{.Version}}`-style
//! fields) and `rde completion SHELL` (clap_complete's scripts).

use crate::cli::args::{CompletionArgs, VersionArgs};
use crate::cli::context::Context;

/// What `rde version` reports, with docker's field names.
fn fields(ctx: &Context) -> Vec<(&'static str, String)> {
    vec![
        ("Version", env!("CARGO_PKG_VERSION").to_string()),
        ("Os", std::env::consts::OS.to_string()),
        ("Arch", crate::image::platform::Platform::host().architecture.clone()),
        ("Runtime", "libcontainer (youki)".to_string()),
        ("Rootless", ctx.paths.rootless.to_string()),
    ]
}

pub fn run(ctx: &Context, args: VersionArgs) -> anyhow::Result<i32> {
    let printer = ctx.printer(false);
    let fields = fields(ctx);
    let get = |name: &str| fields.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone()).unwrap_or_default();
    if args.short {
        printer.result(get("Version"));
        return Ok(0);
    }
    match args.format.as_deref() {
        Some("json") => {
            let map: serde_json::Map<String, serde_json::Value> = fields.iter().map(|(k, v)| (k.to_string(), serde_json::Value::String(v.clone()))).collect();
            printer.result(serde_json::Value::Object(map).to_string());
        }
        Some(template) => {
            // docker's `{{.Client.Version}}` and the flat `{{.Version}}` both work.
            let mut map: serde_json::Map<String, serde_json::Value> =
                fields.iter().map(|(k, v)| (k.to_string(), serde_json::Value::String(v.clone()))).collect();
            map.insert("Client".into(), serde_json::Value::Object(map.clone()));
            let template = crate::format::Template::parse(template).map_err(|e| anyhow::anyhow!("--format: {e}"))?;
            printer.result(template.render(&serde_json::Value::Object(map)).map_err(|e| anyhow::anyhow!("--format: {e}"))?);
        }
        None => {
            let mut text = String::from("Client:\n");
            for (name, value) in &fields {
                let label = match *name {
                    "Os" => continue,
                    "Arch" => "OS/Arch:".to_string(),
                    other => format!("{other}:"),
                };
                let value = if *name == "Arch" { format!("{}/{value}", get("Os")) } else { value.clone() };
                text.push_str(&format!(" {label:<12}{value}\n"));
            }
            printer.result(text.trim_end());
        }
    }
    Ok(0)
}

/// The completion script for `args.shell` on stdout.
pub fn completion(args: CompletionArgs) -> anyhow::Result<i32> {
    use clap::CommandFactory;
    use std::io::Write;
    let mut command = crate::cli::args::Cli::command();
    // Into memory first: clap_complete panics when its writer fails (`| head`).
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "rde", &mut script);
    match std::io::stdout().lock().write_all(&script) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(0),
    }
}
