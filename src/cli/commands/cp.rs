//! `rde cp SRC DEST` (compose's, with services, and docker's, with containers) and
//! `rde container cp`: one side is `NAME:PATH`, the other a host path.

use crate::cli::compose_args::CpArgs;
use crate::cli::context::Context;
use crate::cp;
use crate::runtime::state::ContainerRecord;

/// One side of a copy: in a container (`NAME:PATH`) or on the host.
enum Side<'a> {
    Container { name: &'a str, path: &'a str },
    Host(&'a str),
}

/// docker's rule: a path that starts with `/` or `.` is the host's, else `NAME:` names a container.
fn side(arg: &str) -> Side<'_> {
    match arg.split_once(':') {
        Some((name, path)) if !name.is_empty() && !arg.starts_with('/') && !arg.starts_with('.') => Side::Container { name, path },
        _ => Side::Host(arg),
    }
}

pub fn run(ctx: &Context, args: CpArgs, services: bool) -> anyhow::Result<i32> {
    let (name, into, container_path, host_path) = match (side(&args.src), side(&args.dest)) {
        (Side::Container { name, path }, Side::Host(host)) => (name, false, path, host),
        (Side::Host(host), Side::Container { name, path }) => (name, true, path, host),
        (Side::Container { .. }, Side::Container { .. }) => anyhow::bail!("copying between containers is not supported; hint: copy to the host first"),
        (Side::Host(_), Side::Host(_)) => anyhow::bail!("one side must be a container: NAME:PATH; hint: rde cp web:/app/log.txt ./log.txt"),
    };
    anyhow::ensure!(host_path != "-", "tar streams (-) are not supported yet; hint: copy to or from a directory");
    let container_path = if container_path.starts_with('/') { container_path.to_string() } else { format!("/{container_path}") };
    let printer = ctx.printer(false);
    let containers = ctx.containers()?;
    let mut total = 0;
    let targets = targets(ctx, name, services, into, &args)?;
    for record in &targets {
        total += cp::with_root(&containers, record, |root| {
            if into {
                cp::copy_in(root, std::path::Path::new(host_path), &container_path, args.archive, args.follow_link)
            } else {
                cp::copy_out(root, &container_path, std::path::Path::new(host_path), args.follow_link, args.archive)
            }
        })?;
    }
    let to = if into { format!("{name}:{container_path}") } else { host_path.to_string() };
    printer.status(format!("Successfully copied {} to {to}", crate::output::human_size(total)));
    Ok(0)
}

/// The containers `name` means, as compose's `cp`: a service's replica `--index`; without it,
/// every replica when copying in and the first when copying out (`--all`: one-off `run`
/// containers too). Else the container of that name or id.
fn targets(ctx: &Context, name: &str, services: bool, into: bool, args: &CpArgs) -> anyhow::Result<Vec<ContainerRecord>> {
    if services
        && let Ok(session) = ctx.existing_session(&[], false)
        && session.project.services.contains_key(name)
    {
        if let Some(index) = args.index {
            return Ok(vec![session.container(name, index)?]);
        }
        let mut all: Vec<ContainerRecord> = session
            .selected(&[name.to_string()], true)?
            .into_iter()
            .filter(|r| args.all || r.labels.get(crate::project::names::ONEOFF).is_none_or(|v| v != "True"))
            .collect();
        anyhow::ensure!(!all.is_empty(), "service {name} has no container; hint: `rde up -d {name}`");
        if !into {
            all.truncate(1);
        }
        return Ok(all);
    }
    Ok(vec![ctx.containers()?.find(name)?])
}
