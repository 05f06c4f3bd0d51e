//! The command line: clap definitions in `args.rs` (and `compose_args.rs`), dispatch in
//! `dispatch.rs`, one file per command in `commands/`; what several commands print
//! alike (`logmux.rs`) beside them.

pub mod args;
pub mod commands;
pub mod compose_args;
pub mod context;
pub mod dispatch;
pub mod logmux;

pub use args::{Cli, Command, EXIT_RDE_FAILED};

/// Prints list rows as `--format` asks: `table` (the `columns`, each a row field and its
/// header) or `json` (each row as one JSON object per line, docker's field names).
pub fn print_rows(printer: &crate::output::Printer, format: &str, rows: &[serde_json::Value], columns: &[(&str, &str)]) -> anyhow::Result<()> {
    match format {
        "table" | "" => {
            let cell = |v: &serde_json::Value| match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            };
            let table: Vec<Vec<String>> = rows.iter().map(|r| columns.iter().map(|(field, _)| cell(&r[*field])).collect()).collect();
            let headers: Vec<&str> = columns.iter().map(|(_, h)| *h).collect();
            printer.table(&headers, &table);
        }
        "json" => rows.iter().for_each(|r| printer.result(r.to_string())),
        other => anyhow::bail!("unknown --format {other:?}; hint: use table or json"),
    }
    Ok(())
}
pub use dispatch::run;
