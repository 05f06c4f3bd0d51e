use crate::cli::args::BuilderPruneArgs;
use crate::cli::context::Context;
use crate::output::human_size;
use std::io::{BufRead, IsTerminal, Write};

/// Entries unused this long go with a plain `builder prune` (docker keeps 48 h by default... of unused cache).
const KEEP_UNUSED_SECS: u64 = 48 * 3600;

pub fn run(ctx: &Context, args: BuilderPruneArgs) -> anyhow::Result<i32> {
    let printer = ctx.printer(false);
    if !args.force {
        anyhow::ensure!(std::io::stdin().is_terminal(), "builder prune removes build cache; hint: add --force to confirm without a terminal");
        eprint!("WARNING! This will remove {}build cache.\nAre you sure you want to continue? [y/N] ", if args.all { "all " } else { "unused " });
        std::io::stderr().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Ok(0);
        }
    }
    let store = ctx.store()?;
    let now = crate::time::now_unix();
    let (all, errors) = crate::build::prune(&store, |r| args.all || now.saturating_sub(r.last_used) > KEEP_UNUSED_SECS);
    for e in &errors {
        printer.error(e);
    }
    printer.result(format!("Total reclaimed space: {}", human_size(all)));
    Ok(if errors.is_empty() { 0 } else { 1 })
}
