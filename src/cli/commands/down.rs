//! `rde down`: stop and remove the project's containers (dependents first),
//! then its networks; with `-v` its volumes, with `--rmi` its images. Every
//! step runs even when one fails; all errors are reported at the end.

use crate::cli::compose_args::DownArgs;
use crate::cli::context::Context;
use crate::net::network::Networks;
use crate::project::names;
use crate::runtime::lifecycle;

pub fn run(ctx: &Context, args: DownArgs) -> anyhow::Result<i32> {
    let session = ctx.existing_session(&[], true)?;
    let printer = &session.printer;
    let orphans = session.orphans()?;
    let mut records = session.existing(true)?;
    if !args.remove_orphans && !orphans.is_empty() {
        records.retain(|r| !orphans.iter().any(|o| o.id == r.id));
        let list: Vec<&str> = orphans.iter().map(|o| o.name.as_str()).collect();
        printer.warn(format!("Found orphan containers ({}) for this project; hint: run `rde down --remove-orphans` to remove them too", list.join(", ")));
    }
    let mut errors = session.stop_all(&records, args.timeout);
    // Stopped: nothing orders the removals, so they run side by side.
    let removed: Vec<(String, Result<(), String>)> =
        crate::project::parallel::map(&records, |r| (r.name.clone(), lifecycle::remove(&session.containers, r, true, &ctx.paths).map_err(|e| e.to_string())))
            .into_iter()
            .filter_map(Result::ok)
            .collect();
    for (name, result) in removed {
        match result {
            Ok(()) => printer.step("Container", &name, "Removed"),
            Err(e) => errors.push(format!("remove {name}: {e}")),
        }
    }
    let networks = Networks::open(&ctx.paths)?;
    let existing: Vec<crate::net::network::Network> = {
        let _lock = networks.lock()?;
        networks.all()?
    };
    // The file's networks, or without a file the ones `up` labelled with the project.
    let mut doomed: Vec<String> = Vec::new();
    if session.from_labels {
        doomed.extend(existing.iter().filter(|n| n.labels.get(names::PROJECT) == Some(&session.project.name)).map(|n| n.name.clone()));
    } else {
        let mut keys: Vec<&String> = session.project.networks.keys().collect();
        let default = "default".to_string();
        if !keys.contains(&&default) {
            keys.push(&default);
        }
        for key in keys {
            match session.project.networks.get(key) {
                Some(n) if n.external => {}
                Some(n) => doomed.push(n.name.clone()),
                None => doomed.push(format!("{}_{key}", session.project.name)),
            }
        }
    }
    for name in doomed {
        if existing.iter().any(|n| n.name == name) {
            match crate::runtime::networks::remove_named(&ctx.paths, &session.containers, &networks, &name) {
                Ok(()) => printer.step("Network", &name, "Removed"),
                Err(e) => errors.push(format!("{:#}", anyhow::Error::from(e))),
            }
        }
    }
    if args.volumes && session.from_labels {
        printer.warn("without the compose file rde cannot tell the project's volumes; they are kept");
    }
    if args.volumes {
        let mut volumes: Vec<String> = session.project.volumes.values().filter(|v| !v.external).map(|v| v.name.clone()).collect();
        for s in session.project.services.values() {
            for v in s.volumes.iter().filter(|v| v.source.is_none() && v.kind == crate::compose::MountType::Volume) {
                volumes.push(names::anonymous_volume(&session.project.name, &s.name, &v.target));
            }
        }
        for name in volumes {
            match session.containers.volumes().remove(&name) {
                Ok(true) => printer.step("Volume", &name, "Removed"),
                Ok(false) => {}
                Err(e) => errors.push(format!("remove volume {name}: {e}")),
            }
        }
    }
    if let Some(which) = &args.rmi {
        anyhow::ensure!(which == "all" || which == "local", "invalid --rmi {which:?}; hint: use all or local");
        // `all`: every service's image; `local`: only the images the project built
        // under its own name (`<project>-<service>`, no `image:`), as docker compose.
        let mut images: Vec<String> = session
            .project
            .services
            .values()
            .filter(|s| which == "all" || (s.build.is_some() && s.image.is_none()))
            .map(|s| crate::project::build::image_name(&session.project.name, s))
            .collect();
        images.sort();
        images.dedup();
        if !images.is_empty() {
            let failures = crate::image::remove::remove_all(&ctx.store()?, &images, false, &ctx.printer(false))?;
            if failures != 0 {
                errors.push("some images could not be removed".into());
            }
        }
    }
    for e in &errors {
        printer.error(e);
    }
    Ok(if errors.is_empty() { 0 } else { 1 })
}
