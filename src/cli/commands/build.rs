//! `rde build [SERVICE...]`: build the services' images, as `docker compose build`.

use crate::cli::compose_args::BuildServicesArgs;
use crate::cli::context::Context;
use crate::project::{BuildFlags, order};

pub fn run(ctx: &Context, args: BuildServicesArgs) -> anyhow::Result<i32> {
    let mut session = ctx.session(&args.services, true)?;
    if args.locked {
        session.require_lock(&[])?;
    }
    let mut services: Vec<String> = if args.with_dependencies && !args.services.is_empty() {
        order::selection(&session.project.services, &args.services, false)
    } else if args.services.is_empty() {
        session.project.services.keys().cloned().collect()
    } else {
        args.services.clone()
    };
    services.retain(|s| session.project.services[s].build.is_some());
    if services.is_empty() {
        session.printer.notice("No services to build");
        return Ok(0);
    }
    let mut build_args = std::collections::BTreeMap::new();
    for a in &args.build_arg {
        match a.split_once('=') {
            Some((k, v)) => {
                build_args.insert(k.to_string(), v.to_string());
            }
            None => {
                if let Ok(v) = std::env::var(a) {
                    build_args.insert(a.clone(), v);
                }
            }
        }
    }
    let progress = if args.quiet { crate::build::progress::ProgressMode::Quiet } else { args.progress.parse().map_err(anyhow::Error::msg)? };
    crate::signals::catch_forwardable();
    let flags = BuildFlags { no_cache: args.no_cache, pull: args.pull, build_args, progress };
    session.build_services(&services, &flags)?;
    Ok(0)
}
