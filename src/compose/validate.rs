//! Project-level rules: profiles, references between services and resources, dependency
//! cycles, and the implicit `default` network.

use indexmap::IndexMap;

use super::error::{ComposeError, Pos, Result, Warning};
use super::fields::did_you_mean;
use super::model::{FileObject, MountType, Network, NetworkMode, Service, Volume};
use super::yaml::{Node, Value};

/// Splits services into enabled and disabled ones. A service without profiles is always
/// enabled; `*` enables every profile; a service named on the command line is enabled
/// together with its profiles and its dependencies.
pub fn apply_profiles(
    services: IndexMap<String, Service>,
    active: &mut Vec<String>,
    targeted: &[String],
) -> Result<(IndexMap<String, Service>, IndexMap<String, Service>)> {
    let mut queue: Vec<String> = Vec::new();
    for name in targeted {
        if !services.contains_key(name) {
            let err = ComposeError::project("services", format!("no such service: {name}"));
            return Err(match did_you_mean(name, services.keys().map(String::as_str)) {
                Some(s) => err.with_hint(format!("did you mean `{s}`?")),
                None => err,
            });
        }
        queue.push(name.clone());
    }
    // Targeted services and everything they depend on bring their profiles along.
    let mut visited: Vec<String> = Vec::new();
    while let Some(name) = queue.pop() {
        let Some(service) = services.get(&name).filter(|_| !visited.contains(&name)) else {
            continue;
        };
        visited.push(name);
        for profile in &service.profiles {
            if !active.contains(profile) {
                active.push(profile.clone());
            }
        }
        queue.extend(service.depends_on.keys().cloned());
    }
    let all = active.iter().any(|p| p == "*");
    let (enabled, disabled): (Vec<_>, Vec<_>) =
        services.into_iter().partition(|(_, s)| s.profiles.is_empty() || all || s.profiles.iter().any(|p| active.contains(p)));
    Ok((enabled.into_iter().collect(), disabled.into_iter().collect()))
}

/// The position of a field in the merged document, for messages (best effort).
fn locate(root: &Node, path: &[&str]) -> Option<Pos> {
    let mut node = root;
    let mut pos = None;
    for segment in path {
        match &node.value {
            Value::Map(map) => {
                let (key, value) = map.get_key_value(*segment)?;
                pos = Some(key.pos.clone());
                node = value;
            }
            Value::Seq(items) => {
                let item = items.iter().find(|i| i.scalar_text().is_some_and(|t| t == *segment || t.split(':').next() == Some(segment)))?;
                pos = Some(item.pos.clone());
                node = item;
            }
            _ => return pos,
        }
    }
    pos
}

fn located(root: &Node, path: &[&str], field: String, message: String, hint: Option<String>) -> ComposeError {
    ComposeError::Invalid { pos: locate(root, path), field, message, hint }
}

/// Checks the enabled services against each other and the top-level resources (image or
/// build, depends_on, network_mode, networks, volumes, secrets, configs, container_name
/// with replicas, cycles) and adds the `default` network when a service uses it. With
/// `consistency` false (`config --no-consistency`), references to undefined services and
/// resources are let through.
#[allow(clippy::too_many_arguments)]
pub fn check_project(
    root: &Node,
    services: &mut IndexMap<String, Service>,
    disabled: &IndexMap<String, Service>,
    networks: &mut IndexMap<String, Network>,
    volumes: &IndexMap<String, Volume>,
    secrets: &IndexMap<String, FileObject>,
    configs: &IndexMap<String, FileObject>,
    project: &str,
    consistency: bool,
    warnings: &mut Vec<Warning>,
) -> Result<()> {
    let names: Vec<String> = services.keys().cloned().collect();
    for (name, service) in services.iter_mut() {
        let at = |field: &str| format!("services.{name}.{field}");
        if service.image.is_none() && service.build.is_none() {
            return Err(located(
                root,
                &["services", name],
                format!("services.{name}"),
                "has neither an image nor a build context specified".into(),
                Some("add `image: NAME` or `build: .`".into()),
            ));
        }
        let mut optional_missing = Vec::new();
        for (dep, dependency) in &service.depends_on {
            if services_contains(&names, dep) || !consistency {
                continue;
            }
            let path = ["services", name.as_str(), "depends_on", dep.as_str()];
            if !dependency.required {
                optional_missing.push(dep.clone());
                continue;
            }
            if let Some(other) = disabled.get(dep) {
                return Err(located(
                    root,
                    &path,
                    at("depends_on"),
                    format!("depends on service {dep:?}, which is disabled by its profiles"),
                    Some(format!("enable it with --profile {}", other.profiles.join(" or --profile "))),
                ));
            }
            let hint = did_you_mean(dep, names.iter().map(String::as_str)).map(|s| format!("did you mean `{s}`?"));
            return Err(located(root, &path, at("depends_on"), format!("depends on undefined service {dep:?}"), hint));
        }
        for dep in optional_missing {
            service.depends_on.shift_remove(&dep);
            warnings.push(Warning {
                file: None,
                service: Some(name.clone()),
                field: Some(at("depends_on")),
                message: format!("optional dependency {dep:?} is not part of the project; ignored"),
            });
        }
        if let Some(NetworkMode::Service(other)) = &service.network_mode
            && !services_contains(&names, other)
        {
            return Err(located(root, &["services", name, "network_mode"], at("network_mode"), format!("refers to undefined service {other:?}"), None));
        }
        if service.network_mode.is_some() && !service.networks.is_empty() {
            return Err(located(
                root,
                &["services", name, "network_mode"],
                at("network_mode"),
                "`network_mode` and `networks` cannot be used together".into(),
                Some("remove one of them".into()),
            ));
        }
        for network in service.networks.keys() {
            if consistency && network != "default" && !networks.contains_key(network) {
                let hint = did_you_mean(network, networks.keys().map(String::as_str))
                    .map(|s| format!("did you mean `{s}`?"))
                    .or_else(|| Some(format!("declare it under the top-level `networks:` ({network}: {{}})")));
                return Err(located(root, &["services", name, "networks", network], at("networks"), format!("refers to undefined network {network:?}"), hint));
            }
        }
        for mount in &service.volumes {
            let Some(source) = mount.source.as_deref().filter(|_| mount.kind == MountType::Volume) else {
                continue;
            };
            if consistency && !volumes.contains_key(source) {
                let hint = did_you_mean(source, volumes.keys().map(String::as_str))
                    .map(|s| format!("did you mean `{s}`?"))
                    .or_else(|| Some(format!("declare it under the top-level `volumes:` ({source}: {{}}), or write ./{source} for a directory")));
                return Err(located(root, &["services", name, "volumes", source], at("volumes"), format!("refers to undefined volume {source:?}"), hint));
            }
        }
        for (kind, references, declared) in [("secret", &service.secrets, secrets), ("config", &service.configs, configs)] {
            for reference in references {
                if consistency && !declared.contains_key(&reference.source) {
                    return Err(located(
                        root,
                        &["services", name, &format!("{kind}s"), &reference.source],
                        at(&format!("{kind}s")),
                        format!("refers to undefined {kind} {:?}", reference.source),
                        Some(format!("declare it under the top-level `{kind}s:`")),
                    ));
                }
            }
        }
        // A limit written twice (service level and deploy.resources) should agree: compose
        // refuses distinct values; rde warns (the service-level value is the one it applies).
        let limits = service.deploy.as_ref().and_then(|d| d.resources.limits.as_ref());
        let reservations = service.deploy.as_ref().and_then(|d| d.resources.reservations.as_ref());
        let pairs = [
            ("cpus", "deploy.resources.limits.cpus", service.cpus.zip(limits.and_then(|l| l.cpus)).is_some_and(|(a, b)| a != b)),
            ("mem_limit", "deploy.resources.limits.memory", service.mem_limit.zip(limits.and_then(|l| l.memory)).is_some_and(|(a, b)| a != b)),
            ("pids_limit", "deploy.resources.limits.pids", service.pids_limit.zip(limits.and_then(|l| l.pids)).is_some_and(|(a, b)| a != b)),
            (
                "mem_reservation",
                "deploy.resources.reservations.memory",
                service.mem_reservation.zip(reservations.and_then(|r| r.memory)).is_some_and(|(a, b)| a != b),
            ),
        ];
        for (field, deploy_field, _) in pairs.iter().filter(|(_, _, differ)| *differ) {
            warnings.push(Warning {
                file: locate(root, &["services", name, field]).map(|p| p.file.to_string()),
                service: Some(name.clone()),
                field: Some(at(field)),
                message: format!("differs from {deploy_field}; docker compose refuses distinct values (write the limit once)"),
            });
        }
        if service.container_name.is_some() && service.scale.or(service.deploy.as_ref().and_then(|d| d.replicas)).is_some_and(|n| n > 1) {
            return Err(located(
                root,
                &["services", name, "container_name"],
                at("container_name"),
                "a service with `container_name` cannot be scaled beyond 1 replica".into(),
                None,
            ));
        }
    }
    check_cycles(services)?;
    if services.values().any(|s| s.networks.contains_key("default")) && !networks.contains_key("default") {
        networks.insert("default".into(), Network { name: format!("{project}_default"), ..Default::default() });
    }
    Ok(())
}

fn services_contains(names: &[String], name: &str) -> bool {
    names.iter().any(|n| n == name)
}

/// Depth-first search over depends_on; reports the first cycle as `a -> b -> a`.
fn check_cycles(services: &IndexMap<String, Service>) -> Result<()> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    fn visit(name: &str, services: &IndexMap<String, Service>, marks: &mut IndexMap<String, Mark>, stack: &mut Vec<String>) -> Result<()> {
        match marks.get(name).copied().unwrap_or(Mark::New) {
            Mark::Done => return Ok(()),
            Mark::Active => {
                let start = stack.iter().position(|s| s == name).unwrap_or(0);
                let mut chain = stack[start..].to_vec();
                chain.push(name.to_string());
                return Err(ComposeError::DependencyCycle { chain: chain.join(" -> ") });
            }
            Mark::New => {}
        }
        marks.insert(name.to_string(), Mark::Active);
        stack.push(name.to_string());
        if let Some(service) = services.get(name) {
            for dep in service.depends_on.keys() {
                visit(dep, services, marks, stack)?;
            }
        }
        stack.pop();
        marks.insert(name.to_string(), Mark::Done);
        Ok(())
    }
    let mut marks = IndexMap::new();
    let mut names: Vec<&String> = services.keys().collect();
    names.sort();
    for name in names {
        visit(name, services, &mut marks, &mut Vec::new())?;
    }
    Ok(())
}

/// Service names with dependencies first (ties sorted by name), as `config --services` prints them.
pub fn dependency_order(services: &IndexMap<String, Service>) -> Vec<String> {
    let mut names: Vec<&String> = services.keys().collect();
    names.sort();
    let mut out: Vec<String> = Vec::new();
    fn visit(name: &str, services: &IndexMap<String, Service>, out: &mut Vec<String>, seen: &mut Vec<String>) {
        if seen.iter().any(|s| s == name) {
            return;
        }
        seen.push(name.to_string());
        if let Some(service) = services.get(name) {
            let mut deps: Vec<&String> = service.depends_on.keys().collect();
            deps.sort();
            for dep in deps {
                visit(dep, services, out, seen);
            }
            out.push(name.to_string());
        }
    }
    let mut seen = Vec::new();
    for name in names {
        visit(name, services, &mut out, &mut seen);
    }
    out
}
