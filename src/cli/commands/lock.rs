//! `rde lock`: pin what the project runs in rde.lock (`project/lock.rs`);
//! `--check` says what no longer matches, `--update [SERVICE...]` re-resolves.

use crate::cli::compose_args::LockArgs;
use crate::cli::context::Context;
use crate::project::lock::LockFile;
use std::collections::BTreeSet;

pub fn run(ctx: &Context, args: LockArgs) -> anyhow::Result<i32> {
    let session = ctx.session(&args.services, true)?;
    let (path, kept) = LockFile::of(&session.project)?;
    let needs = session.needs(&[])?;
    let shown = path.strip_prefix(std::env::current_dir().unwrap_or_default()).unwrap_or(&path).display().to_string();
    if args.check {
        let Some(lock) = kept else {
            session.printer.error(format!("there is no {shown}; hint: `rde lock` writes it"));
            return Ok(1);
        };
        let mut problems = lock.differences(&needs);
        problems.extend(session.drift(&lock)?);
        if problems.is_empty() {
            session.printer.notice(format!("{shown} matches the compose files and the registries"));
            return Ok(0);
        }
        for p in &problems {
            session.printer.error(p);
        }
        session.printer.notice("hint: `rde lock` adds what is missing, `rde lock --update` takes the tags' new digests");
        return Ok(1);
    }
    let everything = args.update && args.services.is_empty();
    let renew = |services: &BTreeSet<String>| everything || (args.update && services.iter().any(|s| args.services.contains(s)));
    let lock = session.resolve_lock(&needs, kept.as_ref(), &renew)?;
    if kept.as_ref() == Some(&lock) {
        session.printer.notice(format!("{shown} is up to date"));
    } else {
        lock.save(&path)?;
        let count = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        session.printer.notice(format!("Wrote {shown}: {}, {}", count(lock.images.len(), "image"), count(lock.urls.len(), "URL")));
    }
    Ok(0)
}
