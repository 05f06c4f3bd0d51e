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
pub use dispatch::run;

/// Prints list rows as `--format` asks (see [`crate::format`]): `table` (the command's
/// `table` rows, else the `columns` fields of `rows`, under the columns' headers), `json`
/// (each row as one JSON object per line, docker's field names), or a Go template over the
/// rows (`table TEMPLATE` aligned under headers: a column's header when the field is one of
/// `columns`, else docker's rule).
pub fn print_rows(
    printer: &crate::output::Printer,
    format: &str,
    rows: &[serde_json::Value],
    columns: &[(&str, &str)],
    table: Option<Vec<Vec<String>>>,
) -> anyhow::Result<()> {
    use crate::format::{Format, default_header, render_rows};
    let parsed = Format::parse(format).map_err(|e| anyhow::anyhow!("--format: {e}"))?;
    if parsed == Format::Table {
        let cell = |v: &serde_json::Value| match v {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => String::new(),
            other => other.to_string(),
        };
        let table = table.unwrap_or_else(|| rows.iter().map(|r| columns.iter().map(|(field, _)| cell(&r[*field])).collect()).collect());
        let headers: Vec<&str> = columns.iter().map(|(_, h)| *h).collect();
        printer.table(&headers, &table);
        return Ok(());
    }
    let headers = |field: &str| columns.iter().find(|(f, _)| *f == field).map_or_else(|| default_header(field), |(_, h)| h.to_string());
    if let Some(text) = render_rows(&parsed, &headers, rows).map_err(|e| anyhow::anyhow!("--format: {e}"))? {
        let text = text.strip_suffix('\n').unwrap_or(&text);
        if !text.is_empty() {
            printer.result(text);
        }
    }
    Ok(())
}
