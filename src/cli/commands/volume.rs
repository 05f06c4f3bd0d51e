//! `rde volume create|ls|inspect|rm|prune` (docker's) and the project's `rde volumes` (compose's).

use crate::cli::args::{VolumeCreateArgs, VolumeLsArgs, VolumePruneArgs, VolumeRmArgs};
use crate::cli::compose_args::VolumesArgs;
use crate::cli::context::Context;
use crate::output::human_size;
use crate::runtime::volumes::{self, VolumeRecord, Volumes};

pub fn create(ctx: &Context, args: VolumeCreateArgs) -> anyhow::Result<i32> {
    anyhow::ensure!(args.driver == "local", "volume driver {:?} is not supported; hint: rde keeps volumes with the local driver", args.driver);
    let options = super::key_values(&args.opt, "--opt")?;
    let mut labels = super::key_values(&args.label, "--label")?;
    let name = match args.name {
        Some(name) => name,
        None => {
            labels.insert(volumes::ANONYMOUS_LABEL.into(), String::new());
            crate::names::new_id()
        }
    };
    ctx.containers()?.volumes().ensure_with(&name, &labels, &options)?;
    ctx.printer(false).result(&name);
    Ok(0)
}

pub fn ls(ctx: &Context, args: VolumeLsArgs) -> anyhow::Result<i32> {
    let containers = ctx.containers()?;
    let volumes = containers.volumes();
    let users = volumes::users(&volumes, &containers.all()?);
    let filters = Filters::parse(&args.filter)?;
    let list: Vec<VolumeRecord> = volumes.all()?.into_iter().filter(|v| filters.matches(v, users.contains_key(&v.name))).collect();
    print_list(ctx, &volumes, &list, args.quiet, &args.format)
}

/// docker's `volume ls` output: names (`-q`), a table, one JSON object per line, or a template.
fn print_list(ctx: &Context, volumes: &Volumes, list: &[VolumeRecord], quiet: bool, format: &str) -> anyhow::Result<i32> {
    let printer = ctx.printer(false);
    if quiet {
        list.iter().for_each(|v| printer.result(&v.name));
        return Ok(0);
    }
    let rows: Vec<serde_json::Value> = list.iter().map(|v| row(volumes, v)).collect();
    crate::cli::print_rows(&printer, format, &rows, &[("Driver", "DRIVER"), ("Name", "VOLUME NAME")], None)?;
    Ok(0)
}

/// A volume as docker's `volume ls --format json` gives it.
fn row(volumes: &Volumes, v: &VolumeRecord) -> serde_json::Value {
    let labels: Vec<String> = v.labels.iter().map(|(k, val)| format!("{k}={val}")).collect();
    serde_json::json!({
        "Driver": v.driver,
        "Labels": labels.join(","),
        "Links": "N/A",
        "Mountpoint": mountpoint(volumes, v),
        "Name": v.name,
        "Scope": "local",
        "Size": "N/A",
    })
}

fn mountpoint(volumes: &Volumes, v: &VolumeRecord) -> String {
    volumes.mount_source(&v.name).map(|d| d.display().to_string()).unwrap_or_default()
}

pub fn inspect(ctx: &Context, names: Vec<String>) -> anyhow::Result<i32> {
    let printer = ctx.printer(false);
    let volumes = ctx.containers()?.volumes();
    let mut out = Vec::new();
    let mut failed = false;
    for name in &names {
        match volumes.get(name) {
            Ok(v) => out.push(serde_json::json!({
                "CreatedAt": crate::time::format_rfc3339(v.created, 0).replace(".000000000", ""),
                "Driver": v.driver,
                "Labels": if v.labels.is_empty() { serde_json::Value::Null } else { serde_json::json!(v.labels) },
                "Mountpoint": mountpoint(&volumes, &v),
                "Name": v.name,
                "Options": if v.options.is_empty() { serde_json::Value::Null } else { serde_json::json!(v.options) },
                "Scope": "local",
            })),
            Err(e) => {
                printer.error(e.to_string());
                failed = true;
            }
        }
    }
    printer.result(serde_json::to_string_pretty(&out)?);
    Ok(if failed { 1 } else { 0 })
}

pub fn rm(ctx: &Context, args: VolumeRmArgs) -> anyhow::Result<i32> {
    let printer = ctx.printer(false);
    let containers = ctx.containers()?;
    let _lock = containers.lock()?;
    let volumes = containers.volumes();
    let users = volumes::users(&volumes, &containers.all()?);
    let mut failed = false;
    for name in &args.volumes {
        let result = match users.get(name) {
            Some(by) => Err(volumes::VolumeError::InUse { name: name.clone(), containers: by.join(", ") }),
            None => volumes.get(name).and_then(|_| volumes.remove(name)),
        };
        match result {
            Ok(_) => printer.result(name),
            Err(volumes::VolumeError::NotFound(_)) if args.force => {}
            Err(e) => {
                printer.error(e.to_string());
                failed = true;
            }
        }
    }
    Ok(if failed { 1 } else { 0 })
}

pub fn prune(ctx: &Context, args: VolumePruneArgs) -> anyhow::Result<i32> {
    let what = if args.all { "all local volumes not used by at least one container" } else { "anonymous local volumes not used by at least one container" };
    if !super::confirm(&format!("This will remove {what}."), args.force)? {
        return Ok(0);
    }
    let filters = Filters::parse(&args.filter)?;
    let (removed, freed, errors) = remove_unused(&ctx.containers()?, args.all, &filters)?;
    let printer = ctx.printer(false);
    if !removed.is_empty() {
        printer.result(format!("Deleted Volumes:\n{}\n", removed.join("\n")));
    }
    printer.result(format!("Total reclaimed space: {}", human_size(freed)));
    errors.iter().for_each(|e| printer.error(e));
    Ok(if errors.is_empty() { 0 } else { 1 })
}

/// Removes the volumes no container mounts (anonymous ones only unless `all`) that match
/// `filters`: (names removed, bytes freed, errors). Shared with `system prune --volumes`.
pub fn remove_unused(containers: &crate::runtime::state::Containers, all: bool, filters: &Filters) -> anyhow::Result<(Vec<String>, u64, Vec<String>)> {
    let _lock = containers.lock()?;
    let volumes = containers.volumes();
    let users = volumes::users(&volumes, &containers.all()?);
    let (mut removed, mut freed, mut errors) = (Vec::new(), 0, Vec::new());
    for v in volumes.all()?.into_iter().filter(|v| !users.contains_key(&v.name) && (all || v.anonymous()) && filters.matches(v, false)) {
        let size = volumes.size(&v.name);
        match volumes.remove(&v.name) {
            Ok(_) => {
                freed += size;
                removed.push(v.name);
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    Ok((removed, freed, errors))
}

/// `rde volumes`: the project's volumes (compose's `volumes` command).
pub fn project(ctx: &Context, args: VolumesArgs) -> anyhow::Result<i32> {
    let session = ctx.session(&args.services, false)?;
    let containers = ctx.containers()?;
    let volumes = containers.volumes();
    let mut names: Vec<String> = Vec::new();
    for s in session.project.services.values().filter(|s| args.services.is_empty() || args.services.contains(&s.name)) {
        for v in s.volumes.iter().filter(|v| v.kind == crate::compose::MountType::Volume) {
            names.push(match &v.source {
                Some(key) => session.project.volumes.get(key).map_or_else(|| key.clone(), |d| d.name.clone()),
                None => crate::project::names::anonymous_volume(&session.project.name, &s.name, &v.target),
            });
        }
    }
    names.sort();
    names.dedup();
    let list: Vec<VolumeRecord> = names.iter().filter_map(|n| volumes.get(n).ok()).collect();
    print_list(ctx, &volumes, &list, args.quiet, &args.format)
}

/// docker's `volume ls`/`prune` filters: `dangling=true|false`, `name=PART`, `label=KEY[=VALUE]`,
/// `label!=KEY[=VALUE]`, `driver=local`.
#[derive(Default)]
pub struct Filters {
    dangling: Option<bool>,
    names: Vec<String>,
    labels: Vec<(String, Option<String>, bool)>,
    drivers: Vec<String>,
}

impl Filters {
    pub fn parse(filters: &[String]) -> anyhow::Result<Filters> {
        let mut out = Filters::default();
        for f in filters {
            let hint = "hint: use dangling=true|false, name=NAME, label=KEY[=VALUE], label!=KEY[=VALUE] or driver=local";
            if let Some(rest) = f.strip_prefix("label!=") {
                let (k, v) = rest.split_once('=').map_or((rest, None), |(k, v)| (k, Some(v.to_string())));
                out.labels.push((k.to_string(), v, false));
                continue;
            }
            let (key, value) = f.split_once('=').ok_or_else(|| anyhow::anyhow!("invalid filter {f:?}; {hint}"))?;
            match key {
                "dangling" => out.dangling = Some(matches!(value, "true" | "1")),
                "name" => out.names.push(value.to_string()),
                "driver" => out.drivers.push(value.to_string()),
                "label" => {
                    let (k, v) = value.split_once('=').map_or((value, None), |(k, v)| (k, Some(v.to_string())));
                    out.labels.push((k.to_string(), v, true));
                }
                _ => anyhow::bail!("invalid filter {key:?}; {hint}"),
            }
        }
        Ok(out)
    }

    fn matches(&self, v: &VolumeRecord, in_use: bool) -> bool {
        self.dangling.is_none_or(|d| d != in_use)
            && (self.names.is_empty() || self.names.iter().any(|n| v.name.contains(n.as_str())))
            && (self.drivers.is_empty() || self.drivers.contains(&v.driver))
            && self.labels.iter().all(|(k, val, want)| {
                let has = v.labels.get(k).is_some_and(|have| val.as_ref().is_none_or(|val| val == have));
                has == *want
            })
    }
}

/// `system df`'s Local Volumes row: (total, active, size, reclaimable).
pub fn usage(volumes: &Volumes, containers: &[crate::runtime::state::ContainerRecord]) -> anyhow::Result<(usize, usize, u64, u64)> {
    let users = volumes::users(volumes, containers);
    let all = volumes.all()?;
    let (mut size, mut reclaimable) = (0, 0);
    for v in &all {
        let s = volumes.size(&v.name);
        size += s;
        if !users.contains_key(&v.name) {
            reclaimable += s;
        }
    }
    Ok((all.len(), all.iter().filter(|v| users.contains_key(&v.name)).count(), size, reclaimable))
}
