//! `rde config`: the normalised project printed like `docker compose config` (v2): fields
//! in compose's order, maps sorted by key, defaults filled in, long syntax everywhere.

use indexmap::IndexMap;
use serde_json::{Map, Value, json};

use super::model::*;
use super::syntax::format_duration;
use super::validate::dependency_order;
use super::yaml_emit;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigFormat {
    Yaml,
    Json,
}

/// What `config` prints beyond the format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderOptions {
    /// False for `config --no-normalize`: resources without their default names, no implicit
    /// `default` network, no default `Dockerfile`.
    pub normalize: bool,
    /// `config SERVICE...`: these services and the ones they depend on (depends_on,
    /// `network_mode: service:`); empty = every enabled service. The top-level resources
    /// printed are still those of every enabled service, as compose v2 prints them.
    pub services: Vec<String>,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions { normalize: true, services: Vec::new() }
    }
}

/// The whole project as `docker compose config` prints it.
pub fn render_config(project: &Project, format: ConfigFormat) -> String {
    render_config_with(project, format, &RenderOptions::default())
}

/// As [`render_config`], with `config`'s options.
pub fn render_config_with(project: &Project, format: ConfigFormat, options: &RenderOptions) -> String {
    let mut value = project_value(project, format, &options.services);
    if !options.normalize {
        denormalize(project, &mut value);
    }
    if project.interpolated {
        escape_dollars(&mut value);
    }
    // Compose's JSON writes the top level as a map: keys sorted.
    if let (ConfigFormat::Json, Value::Object(map)) = (format, &mut value) {
        map.sort_keys();
    }
    match format {
        ConfigFormat::Yaml => yaml_emit::to_yaml(&value),
        ConfigFormat::Json => serde_json::to_string_pretty(&value).expect("JSON values always serialise") + "\n",
    }
}

/// `config --hash`: `(service, hash)` for the named enabled services (`*`: all, by name), as
/// compose's ServiceHash: the SHA-256 (hex) of the service's config as compact JSON without
/// `build`, `pull_policy` and `scale`, and with `deploy.replicas` set to 1. Compose hashes its
/// own Go serialisation, so the values differ from compose's; the format is the same.
/// Errors with the name of a service that is not enabled.
pub fn service_hashes(project: &Project, services: &str) -> Result<Vec<(String, String)>, String> {
    use sha2::Digest;
    let names: Vec<String> = if services.trim() == "*" {
        project.services.keys().cloned().collect()
    } else {
        services.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect()
    };
    names
        .into_iter()
        .map(|name| {
            let service = project.services.get(&name).ok_or_else(|| format!("no such service: {name}"))?;
            let mut value = service_value(service, ConfigFormat::Json);
            if let Value::Object(map) = &mut value {
                for key in ["build", "pull_policy", "scale"] {
                    map.shift_remove(key);
                }
                if let Some(Value::Object(deploy)) = map.get_mut("deploy") {
                    deploy.insert("replicas".into(), json!(1));
                }
            }
            let text = serde_json::to_string(&value).expect("JSON values always serialise");
            Ok((name, hex::encode(sha2::Sha256::digest(text.as_bytes()))))
        })
        .collect()
}

/// The variables the project's compose files (and the files they include) use in string
/// values (`config --variables`), in order of appearance; a variable used again keeps its
/// first entry. Standard input (`-`) is not read again.
pub fn project_variables(project: &Project) -> super::error::Result<Vec<super::interpolate::Variable>> {
    use super::yaml::{Node, Value as Y};
    fn walk(node: &Node, out: &mut IndexMap<String, super::interpolate::Variable>) {
        match &node.value {
            Y::Str(s) => super::interpolate::variables(s, out),
            Y::Seq(items) => items.iter().for_each(|i| walk(i, out)),
            Y::Map(map) => map.values().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    /// The paths an `include:` names (short syntax, or `path:` as a string or a list).
    fn included(doc: &Node) -> Vec<String> {
        let Some(Y::Seq(entries)) = doc.get("include").map(|n| &n.value) else { return Vec::new() };
        let mut out = Vec::new();
        for entry in entries {
            match &entry.value {
                Y::Str(path) => out.push(path.clone()),
                Y::Map(_) => match entry.get("path").map(|p| &p.value) {
                    Some(Y::Str(path)) => out.push(path.clone()),
                    Some(Y::Seq(paths)) => out.extend(paths.iter().filter_map(|p| p.as_str().map(String::from))),
                    _ => {}
                },
                _ => {}
            }
        }
        out
    }
    let mut out = IndexMap::new();
    let mut queue: Vec<std::path::PathBuf> = project.files.iter().filter(|f| f.as_os_str() != "-").cloned().collect();
    queue.reverse();
    let mut seen = Vec::new();
    while let Some(file) = queue.pop() {
        if seen.contains(&file) {
            continue;
        }
        let text = std::fs::read_to_string(&file)
            .map_err(|e| super::error::ComposeError::Read { path: file.clone(), message: format!("cannot read compose file: {e}") })?;
        let name: std::sync::Arc<str> = std::sync::Arc::from(file.to_string_lossy().as_ref());
        let dir = file.parent().map(std::path::Path::to_path_buf).unwrap_or_default();
        for doc in super::yaml::parse(&text, &name)? {
            walk(&doc, &mut out);
            let mut includes: Vec<std::path::PathBuf> = included(&doc).iter().map(|p| super::paths::absolute(&dir, p, None)).collect();
            includes.reverse();
            queue.extend(includes);
        }
        seen.push(file);
    }
    Ok(out.into_values().collect())
}

/// `config --variables`: compose's table (`NAME REQUIRED DEFAULT VALUE ALTERNATE VALUE`),
/// columns padded as docker's tabwriter (minimum width 20, padding 3).
pub fn variables_table(variables: &[super::interpolate::Variable]) -> String {
    let rows: Vec<[String; 4]> = std::iter::once(["NAME".into(), "REQUIRED".into(), "DEFAULT VALUE".into(), "ALTERNATE VALUE".into()])
        .chain(
            variables
                .iter()
                .map(|v| [v.name.clone(), v.required.to_string(), v.default_value.clone().unwrap_or_default(), v.alternate_value.clone().unwrap_or_default()]),
        )
        .collect();
    let widths: Vec<usize> = (0..3).map(|c| rows.iter().map(|r| r[c].chars().count() + 3).max().unwrap_or(0).max(20)).collect();
    let mut out = String::new();
    for row in &rows {
        for (c, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if c < 3 {
                out.push_str(&" ".repeat(widths[c] - cell.chars().count()));
            }
        }
        out.push('\n');
    }
    out
}

/// `config --variables --format json|yaml`: `{NAME: {name, required, defaultValue, alternateValue}}`.
pub fn variables_value(variables: &[super::interpolate::Variable]) -> Value {
    Value::Object(
        variables
            .iter()
            .map(|v| {
                let entry = object(vec![
                    ("name", Some(json!(v.name))),
                    ("required", Some(json!(v.required))),
                    ("defaultValue", v.default_value.as_ref().map(|d| json!(d))),
                    ("alternateValue", v.alternate_value.as_ref().map(|a| json!(a))),
                ]);
                (v.name.clone(), entry)
            })
            .collect(),
    )
}

/// Undoes the normalisation the model holds, for `--no-normalize`: default resource names,
/// the implicit `default` network, `dockerfile: Dockerfile`.
fn denormalize(project: &Project, value: &mut Value) {
    let Value::Object(root) = value else { return };
    let default_network_implicit =
        project.networks.get("default").is_some_and(|n| n.name == format!("{}_default", project.name) && n.driver.is_none() && n.extra.is_empty());
    if let Some(Value::Object(services)) = root.get_mut("services") {
        for service in services.values_mut().filter_map(Value::as_object_mut) {
            if default_network_implicit
                && service.get("networks").and_then(Value::as_object).is_some_and(|n| n.len() == 1 && n.get("default") == Some(&Value::Null))
            {
                service.shift_remove("networks");
            }
            if let Some(Value::Object(build)) = service.get_mut("build")
                && build.get("dockerfile").and_then(Value::as_str) == Some("Dockerfile")
            {
                build.shift_remove("dockerfile");
            }
        }
    }
    for section in ["networks", "volumes", "secrets", "configs"] {
        let Some(Value::Object(entries)) = root.get_mut(section) else { continue };
        if section == "networks" && default_network_implicit {
            entries.shift_remove("default");
        }
        for (key, entry) in entries.iter_mut() {
            let Value::Object(entry) = entry else { continue };
            let external = entry.get("external") == Some(&Value::Bool(true));
            let default_name = if external { key.clone() } else { format!("{}_{key}", project.name) };
            if entry.get("name").and_then(Value::as_str) == Some(default_name.as_str()) {
                entry.shift_remove("name");
            }
        }
        if entries.is_empty() {
            root.shift_remove(section);
        }
    }
}

/// `config --services`: enabled services, dependencies first.
pub fn service_names(project: &Project) -> Vec<String> {
    dependency_order(&project.services)
}

/// Top-level volume keys.
pub fn volume_names(project: &Project) -> Vec<String> {
    project.volumes.keys().cloned().collect()
}

/// `config --volumes`: the top-level volume keys the enabled services use (compose leaves
/// the others out of the model).
pub fn used_volume_names(project: &Project) -> Vec<String> {
    let used = UsedResources::of(project);
    project.volumes.keys().filter(|k| used.volumes.contains(&k.as_str())).cloned().collect()
}

/// `config --profiles`: every profile used by any service, sorted.
pub fn profile_names(project: &Project) -> Vec<String> {
    let mut names: Vec<String> = project.services.values().chain(project.disabled_services.values()).flat_map(|s| s.profiles.iter().cloned()).collect();
    names.sort();
    names.dedup();
    names
}

/// `config --images`: each service's image, or the name rde will build (`<project>-<service>`).
pub fn image_names(project: &Project) -> Vec<String> {
    project.services.values().map(|s| s.image.clone().unwrap_or_else(|| format!("{}-{}", project.name, s.name))).collect()
}

/// `names` (services of `project`) and the services they depend on, transitively, in the
/// project's order: what `config SERVICE...` and `config --images SERVICE...` cover.
pub fn with_dependencies_of(project: &Project, names: &[String]) -> Vec<String> {
    let closure = with_dependencies(&project.services, names);
    project.services.keys().filter(|k| closure.contains(k)).cloned().collect()
}

/// Every `$` in keys and strings written as `$$`, as compose does after interpolating
/// (`$$` in a file means a literal `$`), so that the output loads to the same project.
fn escape_dollars(value: &mut Value) {
    match value {
        Value::String(s) if s.contains('$') => *s = s.replace('$', "$$"),
        Value::Array(items) => items.iter_mut().for_each(escape_dollars),
        Value::Object(map) if map.keys().any(|k| k.contains('$')) => {
            let entries = std::mem::take(map);
            for (k, mut v) in entries {
                escape_dollars(&mut v);
                map.insert(k.replace('$', "$$"), v);
            }
        }
        Value::Object(map) => map.values_mut().for_each(escape_dollars),
        _ => {}
    }
}

/// `value` (an object) with the `x-*` keys of `extensions` added, sorted, their mappings
/// sorted by key at every level (compose holds them as Go maps).
fn with_extensions(mut value: Value, extensions: &Extra) -> Value {
    fn sort_keys(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                Value::Object(keys.into_iter().map(|k| (k.clone(), sort_keys(&map[k]))).collect())
            }
            Value::Array(items) => Value::Array(items.iter().map(sort_keys).collect()),
            other => other.clone(),
        }
    }
    if let Value::Object(map) = &mut value {
        let mut keys: Vec<&String> = extensions.keys().collect();
        keys.sort();
        map.extend(keys.into_iter().map(|k| (k.clone(), sort_keys(&extensions[k]))));
    }
    value
}

/// Builds a JSON object from `(key, value)` pairs, skipping `None`s.
fn object(entries: Vec<(&str, Option<Value>)>) -> Value {
    Value::Object(entries.into_iter().filter_map(|(k, v)| v.map(|v| (k.to_string(), v))).collect())
}

fn sorted<V>(map: &IndexMap<String, V>, f: impl Fn(&V) -> Value) -> Option<Value> {
    if map.is_empty() {
        return None;
    }
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    Some(Value::Object(keys.into_iter().map(|k| (k.clone(), f(&map[k]))).collect()))
}

fn strings(list: &[String]) -> Option<Value> {
    (!list.is_empty()).then(|| json!(list))
}

fn text(value: &Option<String>) -> Option<Value> {
    value.as_ref().map(|v| json!(v))
}

fn flag(value: bool) -> Option<Value> {
    value.then_some(Value::Bool(true))
}

/// Byte sizes print as strings of digits, as compose's UnitBytes does.
fn size(value: Option<u64>) -> Option<Value> {
    value.map(|v| json!(v.to_string()))
}

fn duration(value: Option<std::time::Duration>) -> Option<Value> {
    value.map(|d| json!(format_duration(d)))
}

fn number(value: f64) -> Value {
    if value.fract() == 0.0 && value.abs() < 1e15 { json!(value as i64) } else { json!(value) }
}

fn extra(map: &Extra, key: &str) -> Option<Value> {
    map.get(key).cloned()
}

/// `selected` and everything they depend on, transitively (names not in `services` skipped).
fn with_dependencies<'a>(services: &'a IndexMap<String, Service>, selected: &[String]) -> Vec<&'a String> {
    let mut out: Vec<&String> = Vec::new();
    let mut queue: Vec<&str> = selected.iter().map(String::as_str).collect();
    while let Some(name) = queue.pop() {
        let Some((key, service)) = services.get_key_value(name) else { continue };
        if out.contains(&key) {
            continue;
        }
        out.push(key);
        queue.extend(service.depends_on.keys().map(String::as_str));
        if let Some(NetworkMode::Service(other)) = &service.network_mode {
            queue.push(other);
        }
    }
    out
}

fn project_value(project: &Project, format: ConfigFormat, selected: &[String]) -> Value {
    let mut names: Vec<&String> = if selected.is_empty() { project.services.keys().collect() } else { with_dependencies(&project.services, selected) };
    names.sort();
    let services: Map<String, Value> = names.into_iter().map(|n| (n.clone(), service_value(&project.services[n], format))).collect();
    let used = UsedResources::of(project);
    let value = object(vec![
        ("name", Some(json!(project.name))),
        ("services", Some(Value::Object(services))),
        ("networks", sorted(&only(&project.networks, &used.networks), |n| network_value(n, format))),
        ("volumes", sorted(&only(&project.volumes, &used.volumes), volume_value)),
        ("secrets", sorted(&only(&project.secrets, &used.secrets), file_object_value)),
        ("configs", sorted(&only(&project.configs, &used.configs), file_object_value)),
    ]);
    with_extensions(value, &project.extensions)
}

/// The entries of `map` named in `names`.
fn only<V: Clone>(map: &IndexMap<String, V>, names: &[&str]) -> IndexMap<String, V> {
    map.iter().filter(|(k, _)| names.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// The top-level resources the enabled services use: compose prints only those.
struct UsedResources<'a> {
    networks: Vec<&'a str>,
    volumes: Vec<&'a str>,
    secrets: Vec<&'a str>,
    configs: Vec<&'a str>,
}

impl<'a> UsedResources<'a> {
    fn of(project: &'a Project) -> Self {
        let services = project.services.values();
        let mut used = UsedResources { networks: Vec::new(), volumes: Vec::new(), secrets: Vec::new(), configs: Vec::new() };
        for s in services {
            used.networks.extend(s.networks.keys().map(String::as_str));
            used.volumes.extend(s.volumes.iter().filter(|m| m.kind == MountType::Volume).filter_map(|m| m.source.as_deref()));
            used.secrets.extend(s.secrets.iter().map(|r| r.source.as_str()));
            used.configs.extend(s.configs.iter().map(|r| r.source.as_str()));
            let build_secrets = s.build.as_ref().and_then(|b| b.extra.get("secrets")).and_then(Value::as_array);
            for secret in build_secrets.into_iter().flatten() {
                match secret {
                    Value::String(name) => used.secrets.push(name),
                    Value::Object(long) => used.secrets.extend(long.get("source").and_then(Value::as_str)),
                    _ => {}
                }
            }
        }
        used
    }
}

fn service_value(s: &Service, format: ConfigFormat) -> Value {
    let e = |key: &str| extra(&s.extra, key);
    // JSON output always has `command` and `entrypoint` (null when unset), like compose.
    let command_like = |v: &Option<Vec<String>>| match (v, format) {
        (Some(list), _) => Some(json!(list)),
        (None, ConfigFormat::Json) => Some(Value::Null),
        (None, ConfigFormat::Yaml) => None,
    };
    let mut environment = s.environment.clone();
    environment.extend(s.environment_unset.iter().map(|k| (k.clone(), None)));
    let value = object(vec![
        ("profiles", strings(&s.profiles)),
        ("annotations", sorted(&s.annotations, |v| json!(v))),
        ("attach", e("attach")),
        ("build", s.build.as_ref().map(build_value)),
        ("develop", e("develop").map(develop_value)),
        ("blkio_config", e("blkio_config")),
        ("cap_add", strings(&s.cap_add)),
        ("cap_drop", strings(&s.cap_drop)),
        ("cgroup_parent", e("cgroup_parent")),
        ("cgroup", e("cgroup")),
        ("cpu_count", e("cpu_count")),
        ("cpu_percent", e("cpu_percent")),
        ("cpu_period", e("cpu_period")),
        ("cpu_quota", e("cpu_quota")),
        ("cpu_rt_period", e("cpu_rt_period")),
        ("cpu_rt_runtime", e("cpu_rt_runtime")),
        ("cpus", s.cpus.map(number)),
        ("cpuset", e("cpuset")),
        ("cpu_shares", e("cpu_shares")),
        ("command", command_like(&s.command)),
        ("configs", (!s.configs.is_empty()).then(|| Value::Array(s.configs.iter().map(reference_value).collect()))),
        ("container_name", text(&s.container_name)),
        ("credential_spec", e("credential_spec")),
        ("depends_on", sorted(&s.depends_on, dependency_value)),
        ("deploy", s.deploy.as_ref().map(deploy_value)),
        ("device_cgroup_rules", e("device_cgroup_rules")),
        ("devices", (!s.devices.is_empty()).then(|| Value::Array(s.devices.iter().map(device_value).collect()))),
        ("dns", strings(&s.dns)),
        ("dns_opt", strings(&s.dns_opt)),
        ("dns_search", strings(&s.dns_search)),
        ("domainname", text(&s.domainname)),
        ("entrypoint", command_like(&s.entrypoint)),
        ("provider", e("provider")),
        ("environment", sorted(&environment, |v| v.as_ref().map(|v| json!(v)).unwrap_or(Value::Null))),
        ("expose", strings(&s.expose)),
        ("external_links", strings(&s.external_links)),
        ("extra_hosts", hosts_value(&s.extra_hosts)),
        ("group_add", strings(&s.group_add)),
        // `gpus: all` is one request for every GPU, as compose prints it.
        ("gpus", e("gpus").map(|g| if g == json!("all") { json!([{ "count": -1 }]) } else { g })),
        ("hostname", text(&s.hostname)),
        ("healthcheck", s.healthcheck.as_ref().map(healthcheck_value)),
        ("image", text(&s.image)),
        ("init", s.init.map(Value::Bool)),
        ("ipc", text(&s.ipc)),
        ("isolation", e("isolation")),
        ("labels", sorted(&s.labels, |v| json!(v))),
        ("links", strings(&s.links)),
        ("logging", s.logging.as_ref().map(logging_value)),
        ("mem_limit", size(s.mem_limit)),
        ("mem_reservation", size(s.mem_reservation)),
        ("memswap_limit", e("memswap_limit").map(bytes_text)),
        ("mem_swappiness", e("mem_swappiness").map(bytes_text)),
        ("mac_address", text(&s.mac_address)),
        ("models", e("models")),
        ("network_mode", s.network_mode.as_ref().map(|m| json!(m.to_string()))),
        ("networks", sorted(&s.networks, |n| n.as_ref().map(service_network_value).unwrap_or(Value::Null))),
        ("oom_kill_disable", e("oom_kill_disable")),
        ("oom_score_adj", e("oom_score_adj")),
        ("pid", text(&s.pid)),
        ("pids_limit", s.pids_limit.map(|v| json!(v))),
        ("platform", text(&s.platform)),
        ("ports", (!s.ports.is_empty()).then(|| Value::Array(s.ports.iter().map(port_value).collect()))),
        ("privileged", flag(s.privileged)),
        ("pull_policy", text(&s.pull_policy)),
        ("read_only", flag(s.read_only)),
        ("restart", text(&s.restart)),
        ("runtime", e("runtime")),
        ("scale", s.scale.map(|v| json!(v))),
        ("secrets", (!s.secrets.is_empty()).then(|| Value::Array(s.secrets.iter().map(reference_value).collect()))),
        ("security_opt", strings(&s.security_opt)),
        ("shm_size", size(s.shm_size)),
        ("stdin_open", flag(s.stdin_open)),
        ("stop_grace_period", duration(s.stop_grace_period)),
        ("stop_signal", text(&s.stop_signal)),
        ("storage_opt", e("storage_opt")),
        ("sysctls", sorted(&s.sysctls, |v| json!(v))),
        ("tmpfs", strings(&s.tmpfs)),
        ("tty", flag(s.tty)),
        ("ulimits", sorted(&s.ulimits, ulimit_value)),
        ("user", text(&s.user)),
        ("userns_mode", e("userns_mode")),
        ("uts", e("uts")),
        ("volumes", (!s.volumes.is_empty()).then(|| Value::Array(s.volumes.iter().map(mount_value).collect()))),
        ("volumes_from", e("volumes_from")),
        ("working_dir", text(&s.working_dir)),
        ("post_start", e("post_start")),
        ("pre_stop", e("pre_stop")),
    ]);
    with_extensions(value, &s.extensions)
}

fn build_value(b: &Build) -> Value {
    let e = |key: &str| extra(&b.extra, key);
    let value = object(vec![
        ("context", Some(json!(b.context))),
        // With `dockerfile_inline`, compose prints no default `dockerfile`.
        ("dockerfile", (b.dockerfile_inline.is_none() || b.dockerfile != "Dockerfile").then(|| json!(b.dockerfile))),
        ("dockerfile_inline", text(&b.dockerfile_inline)),
        ("entitlements", e("entitlements")),
        ("args", sorted(&b.args, |v| v.as_ref().map(|v| json!(v)).unwrap_or(Value::Null))),
        ("provenance", e("provenance")),
        ("sbom", e("sbom")),
        ("ssh", e("ssh")),
        ("labels", sorted(&b.labels, |v| json!(v))),
        ("cache_from", strings(&b.cache_from)),
        ("cache_to", strings(&b.cache_to)),
        ("no_cache", flag(b.no_cache)),
        ("no_cache_filter", e("no_cache_filter")),
        ("additional_contexts", e("additional_contexts").map(key_value_map)),
        ("pull", flag(b.pull)),
        ("extra_hosts", hosts_value(&b.extra_hosts)),
        ("isolation", e("isolation")),
        ("network", text(&b.network)),
        ("target", text(&b.target)),
        ("secrets", e("secrets").map(build_secrets)),
        ("shm_size", size(b.shm_size)),
        ("tags", strings(&b.tags)),
        ("ulimits", e("ulimits")),
        ("platforms", strings(&b.platforms)),
        ("privileged", e("privileged")),
    ]);
    with_extensions(value, &b.extensions)
}

/// `host=ip` entries, sorted, as compose prints extra_hosts.
fn hosts_value(hosts: &IndexMap<String, Vec<String>>) -> Option<Value> {
    if hosts.is_empty() {
        return None;
    }
    let mut entries: Vec<String> = hosts.iter().flat_map(|(h, ips)| ips.iter().map(move |ip| format!("{h}={ip}"))).collect();
    entries.sort();
    Some(json!(entries))
}

fn port_value(p: &PortMapping) -> Value {
    object(vec![
        ("name", text(&p.name)),
        ("mode", Some(json!(p.mode))),
        ("host_ip", text(&p.host_ip)),
        ("target", Some(json!(p.target))),
        ("published", p.published.map(|r| json!(r.to_string()))),
        ("protocol", Some(json!(p.protocol))),
        ("app_protocol", text(&p.app_protocol)),
    ])
}

fn mount_value(m: &VolumeMount) -> Value {
    object(vec![
        ("type", Some(json!(m.kind.as_str()))),
        ("source", text(&m.source)),
        ("target", Some(json!(m.target))),
        ("read_only", flag(m.read_only)),
        ("consistency", text(&m.consistency)),
        (
            "bind",
            m.bind.as_ref().map(|b| {
                object(vec![
                    ("selinux", text(&b.selinux)),
                    ("propagation", text(&b.propagation)),
                    ("create_host_path", flag(b.create_host_path)),
                    ("recursive", text(&b.recursive)),
                ])
            }),
        ),
        (
            "volume",
            m.volume.as_ref().map(|v| object(vec![("labels", sorted(&v.labels, |l| json!(l))), ("nocopy", flag(v.nocopy)), ("subpath", text(&v.subpath))])),
        ),
        ("tmpfs", m.tmpfs.as_ref().map(|t| object(vec![("size", size(t.size)), ("mode", t.mode.map(|m| json!(m)))]))),
        ("image", m.image_subpath.as_ref().map(|s| json!({ "subpath": s }))),
    ])
}

fn dependency_value(d: &Dependency) -> Value {
    object(vec![("condition", Some(json!(d.condition.as_str()))), ("restart", flag(d.restart)), ("required", Some(Value::Bool(d.required)))])
}

fn healthcheck_value(h: &Healthcheck) -> Value {
    object(vec![
        ("test", h.test.as_ref().map(|t| json!(t))),
        ("timeout", duration(h.timeout)),
        ("interval", duration(h.interval)),
        ("retries", h.retries.map(|r| json!(r))),
        ("start_period", duration(h.start_period)),
        ("start_interval", duration(h.start_interval)),
        ("disable", flag(h.disable)),
    ])
}

fn service_network_value(n: &ServiceNetwork) -> Value {
    object(vec![
        ("priority", n.priority.map(|p| json!(p))),
        ("aliases", strings(&n.aliases)),
        ("ipv4_address", text(&n.ipv4_address)),
        ("ipv6_address", text(&n.ipv6_address)),
        ("link_local_ips", strings(&n.link_local_ips)),
        ("mac_address", text(&n.mac_address)),
        ("driver_opts", sorted(&n.driver_opts, |v| json!(v))),
    ])
}

fn deploy_value(d: &Deploy) -> Value {
    let limits = |r: &ResourceLimits| {
        object(vec![
            ("cpus", r.cpus.map(number)),
            ("memory", size(r.memory)),
            ("pids", r.pids.map(|p| json!(p))),
            ("devices", extra(&r.extra, "devices").map(|d| each(d, |d| reorder(d, &["capabilities", "driver", "count", "device_ids", "options"])))),
            ("generic_resources", extra(&r.extra, "generic_resources")),
        ])
    };
    let resources = object(vec![("limits", d.resources.limits.as_ref().map(limits)), ("reservations", d.resources.reservations.as_ref().map(limits))]);
    let value = object(vec![
        ("mode", text(&d.mode)),
        ("replicas", d.replicas.map(|r| json!(r))),
        ("labels", sorted(&d.labels, |v| json!(v))),
        ("update_config", extra(&d.extra, "update_config").map(update_config)),
        ("rollback_config", extra(&d.extra, "rollback_config").map(update_config)),
        ("resources", (d.resources.limits.is_some() || d.resources.reservations.is_some()).then_some(resources)),
        (
            "restart_policy",
            d.restart_policy.as_ref().map(|p| {
                object(vec![
                    ("condition", text(&p.condition)),
                    ("delay", duration(p.delay)),
                    ("max_attempts", p.max_attempts.map(|m| json!(m))),
                    ("window", duration(p.window)),
                ])
            }),
        ),
        ("placement", extra(&d.extra, "placement").map(|p| reorder(p, &["constraints", "preferences", "max_replicas_per_node"]))),
        ("endpoint_mode", extra(&d.extra, "endpoint_mode")),
    ]);
    with_extensions(value, &d.extensions)
}

/// `develop`, its watch rules' keys in compose's order (path, action, target, ...).
fn develop_value(value: Value) -> Value {
    const ORDER: [&str; 7] = ["path", "action", "target", "exec", "include", "ignore", "initial_sync"];
    let Value::Object(mut develop) = value else { return value };
    if let Some(Value::Array(rules)) = develop.get_mut("watch") {
        for rule in rules.iter_mut() {
            if let Value::Object(map) = rule {
                let mut ordered: Map<String, Value> = ORDER.iter().filter_map(|k| map.get(*k).map(|v| (k.to_string(), v.clone()))).collect();
                ordered.extend(map.iter().filter(|(k, _)| !ORDER.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())));
                *map = ordered;
            }
        }
    }
    Value::Object(develop)
}

/// `KEY=VALUE` list entries as a map (maps are kept), as compose prints mappings.
fn key_value_map(value: Value) -> Value {
    match value {
        Value::Array(items) => Value::Object(
            items
                .iter()
                .filter_map(Value::as_str)
                .map(|entry| match entry.split_once('=') {
                    Some((k, v)) => (k.to_string(), json!(v)),
                    None => (entry.to_string(), Value::Null),
                })
                .collect(),
        ),
        other => other,
    }
}

/// A build's `secrets`: the short syntax (a name) in the long one, `{source: name}`.
fn build_secrets(value: Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|item| match item {
                    Value::String(source) => json!({ "source": source }),
                    other => other,
                })
                .collect(),
        ),
        other => other,
    }
}

/// A byte size kept as written (`2g`, `-1`, `10`), printed as compose's UnitBytes: a string
/// of digits. Anything unreadable is printed as written.
fn bytes_text(value: Value) -> Value {
    match &value {
        Value::Number(n) => json!(n.to_string()),
        Value::String(s) => super::syntax::parse_bytes(s).map(|b| json!(b.to_string())).unwrap_or(value),
        _ => value,
    }
}

/// An object with the keys of `order` first, in that order (compose prints Go struct fields
/// in their declaration order), then the others as written. Other values are returned as is.
fn reorder(value: Value, order: &[&str]) -> Value {
    let Value::Object(mut map) = value else { return value };
    let mut out: Map<String, Value> = order.iter().filter_map(|k| map.shift_remove(*k).map(|v| (k.to_string(), v))).collect();
    out.extend(map);
    Value::Object(out)
}

/// `f` applied to each item of an array (other values as they are).
fn each(value: Value, f: impl Fn(Value) -> Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.into_iter().map(f).collect()),
        other => other,
    }
}

/// A network's `ipam`, in compose's order: driver, config (subnet, gateway, ip_range,
/// aux_addresses), options.
fn ipam_value(value: Value) -> Value {
    let mut ipam = reorder(value, &["driver", "config", "options"]);
    if let Some(config) = ipam.get_mut("config") {
        *config = each(config.take(), |c| reorder(c, &["subnet", "gateway", "ip_range", "aux_addresses"]));
    }
    ipam
}

/// `update_config`/`rollback_config`: `delay` and `monitor` as Go durations, left out when
/// zero, keys in compose's order, as compose prints them.
fn update_config(value: Value) -> Value {
    let value = reorder(value, &["parallelism", "delay", "failure_action", "monitor", "max_failure_ratio", "order"]);
    let Value::Object(mut map) = value else { return value };
    for key in ["delay", "monitor"] {
        let parsed = map.get(key).and_then(Value::as_str).and_then(|s| super::syntax::parse_duration(s).ok());
        match parsed {
            Some(d) if d.is_zero() => {
                map.shift_remove(key);
            }
            Some(d) => {
                map.insert(key.to_string(), json!(format_duration(d)));
            }
            None => {}
        }
    }
    Value::Object(map)
}

fn reference_value(r: &FileReference) -> Value {
    object(vec![
        ("source", Some(json!(r.source))),
        ("target", text(&r.target)),
        ("uid", text(&r.uid)),
        ("gid", text(&r.gid)),
        ("mode", r.mode.map(|m| json!(m))),
    ])
}

fn device_value(d: &DeviceMapping) -> Value {
    json!({ "source": d.source, "target": d.target, "permissions": d.permissions })
}

fn ulimit_value(u: &Ulimit) -> Value {
    if u.single { json!(u.soft) } else { json!({ "soft": u.soft, "hard": u.hard }) }
}

fn logging_value(l: &Logging) -> Value {
    object(vec![("driver", text(&l.driver)), ("options", sorted(&l.options, |v| json!(v)))])
}

/// JSON output always has `ipam` (`{}` when unset), like compose's.
fn network_value(n: &Network, format: ConfigFormat) -> Value {
    let ipam = extra(&n.extra, "ipam").map(ipam_value).or_else(|| (format == ConfigFormat::Json).then(|| json!({})));
    let value = object(vec![
        ("name", Some(json!(n.name))),
        ("driver", text(&n.driver)),
        ("driver_opts", sorted(&n.driver_opts, |v| json!(v))),
        ("ipam", ipam),
        ("external", flag(n.external)),
        ("internal", flag(n.internal)),
        ("attachable", flag(n.attachable)),
        ("labels", sorted(&n.labels, |v| json!(v))),
        ("enable_ipv4", extra(&n.extra, "enable_ipv4")),
        ("enable_ipv6", n.enable_ipv6.map(Value::Bool)),
    ]);
    with_extensions(value, &n.extensions)
}

fn volume_value(v: &Volume) -> Value {
    let value = object(vec![
        ("name", Some(json!(v.name))),
        ("driver", text(&v.driver)),
        ("driver_opts", sorted(&v.driver_opts, |o| json!(o))),
        ("external", flag(v.external)),
        ("labels", sorted(&v.labels, |l| json!(l))),
    ]);
    with_extensions(value, &v.extensions)
}

fn file_object_value(o: &FileObject) -> Value {
    let value = object(vec![
        ("name", Some(json!(o.name))),
        ("file", o.file.as_ref().map(|f| json!(f.to_string_lossy()))),
        ("environment", text(&o.environment)),
        ("content", text(&o.content)),
        ("external", flag(o.external)),
        ("labels", sorted(&o.labels, |l| json!(l))),
        ("driver", extra(&o.extra, "driver")),
        ("driver_opts", extra(&o.extra, "driver_opts")),
        ("template_driver", extra(&o.extra, "template_driver")),
    ]);
    with_extensions(value, &o.extensions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::{ProjectOptions, load_project};

    /// The project and its directory (kept while the project's files are read again).
    fn load_in(text: &str, env: &[(&str, &str)]) -> (Project, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("compose.yaml"), text).unwrap();
        std::fs::write(dir.path().join("labels.env"), "from.file=1\nshared=file\n").unwrap();
        let environment = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let opts =
            ProjectOptions { interpolate: true, environment, working_dir: dir.path().to_path_buf(), project_name: Some("p".into()), ..Default::default() };
        (load_project(&opts).unwrap(), dir)
    }

    fn load(text: &str, env: &[(&str, &str)]) -> Project {
        load_in(text, env).0
    }

    fn json(project: &Project, options: &RenderOptions) -> Value {
        serde_json::from_str(&render_config_with(project, ConfigFormat::Json, options)).unwrap()
    }

    #[test]
    fn dollars_are_written_back_escaped() {
        let p = load("services:\n  a:\n    image: busybox:${TAG}\n    command: echo $$HOME\n", &[("TAG", "x$y")]);
        let v = json(&p, &RenderOptions::default());
        assert_eq!(v["services"]["a"]["image"], "busybox:x$$y");
        assert_eq!(v["services"]["a"]["command"], json!(["echo", "$$HOME"]));
        let mut value = json!({"a$": ["$", {"b": "$$"}], "n": 1});
        escape_dollars(&mut value);
        assert_eq!(value, json!({"a$$": ["$$", {"b": "$$$$"}], "n": 1}));
    }

    #[test]
    fn compose_defaults_and_extensions() {
        let text = "x-top: {b: 1, a: 2}\nservices:\n  a:\n    image: busybox\n    x-svc: 1\n    secrets: [s, {source: s, target: rel}]\n    configs: [c]\n    \
                    volumes: ['/data/:/data/', {type: tmpfs, target: /t/}]\n    ports: ['3000', '3000-3001']\n    label_file: labels.env\n    \
                    labels: {shared: inline}\n    annotations: [x=1]\n    environment: [UNSET, SET]\n    gpus: all\n\
                    networks:\n  unused: {}\nvolumes:\n  unused: {}\nsecrets:\n  s: {environment: S}\n  unused: {environment: S}\nconfigs:\n  c: {content: x}\n";
        let p = load(text, &[("SET", "1")]);
        let v = json(&p, &RenderOptions::default());
        let a = &v["services"]["a"];
        assert_eq!(v["x-top"], json!({"a": 2, "b": 1}));
        assert_eq!(a["x-svc"], 1);
        assert_eq!(a["secrets"], json!([{"source": "s", "target": "/run/secrets/s"}, {"source": "s", "target": "rel"}]));
        assert_eq!(a["configs"], json!([{"source": "c"}]));
        assert_eq!(a["volumes"][0]["target"], "/data");
        assert_eq!(a["volumes"][1]["target"], "/t");
        assert_eq!(a["ports"].as_array().unwrap().len(), 2, "3000 once: {}", a["ports"]);
        assert_eq!(a["labels"], json!({"from.file": "1", "shared": "inline"}));
        assert_eq!(a["annotations"], json!({"x": "1"}));
        assert_eq!(a["environment"], json!({"SET": "1", "UNSET": null}));
        assert_eq!(a["gpus"], json!([{"count": -1}]));
        assert_eq!(v["networks"], json!({"default": {"name": "p_default", "ipam": {}}}));
        assert!(v.get("volumes").is_none());
        assert_eq!(v["secrets"].as_object().unwrap().len(), 1);
    }

    #[test]
    fn selected_services_bring_their_dependencies() {
        let p = load(
            "services:\n  a: {image: x, depends_on: [b]}\n  b: {image: x, network_mode: 'service:c'}\n  c: {image: x, networks: [n]}\n  d: {image: x}\nnetworks:\n  n: {}\n",
            &[],
        );
        let v = json(&p, &RenderOptions { normalize: true, services: vec!["a".into()] });
        let names: Vec<&String> = v["services"].as_object().unwrap().keys().collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert!(v["networks"].get("n").is_some());
    }

    #[test]
    fn no_normalize_drops_what_the_model_adds() {
        let p = load("services:\n  a: {build: ., volumes: ['v:/v']}\nvolumes:\n  v: {}\n  named: {name: mine}\n", &[]);
        let v = json(&p, &RenderOptions { normalize: false, services: Vec::new() });
        assert!(v["services"]["a"].get("networks").is_none());
        assert!(v["services"]["a"]["build"].get("dockerfile").is_none());
        assert!(v.get("networks").is_none());
        assert_eq!(v["volumes"]["v"], json!({}));
    }

    #[test]
    fn hashes_and_variables() {
        let (p, _dir) = load_in("services:\n  a: {image: 'x:${T:-1}', deploy: {replicas: 3}}\n  b: {image: '${R:?need}', scale: 2}\n", &[("R", "r")]);
        let hashes = service_hashes(&p, "*").unwrap();
        assert_eq!(hashes.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert!(hashes.iter().all(|(_, h)| h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit())));
        assert_eq!(service_hashes(&p, "b").unwrap(), hashes[1..]);
        assert_eq!(service_hashes(&p, "zz").unwrap_err(), "no such service: zz");
        let mut scaled = p.clone();
        scaled.services["a"].deploy.as_mut().unwrap().replicas = Some(5);
        assert_eq!(service_hashes(&scaled, "a").unwrap(), hashes[..1], "replicas do not change the hash");
        let variables = project_variables(&p).unwrap();
        let table = variables_table(&variables);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0], "NAME                REQUIRED            DEFAULT VALUE       ALTERNATE VALUE");
        assert_eq!(lines[1].trim_end(), "T                   false               1");
        assert_eq!(lines[2].trim_end(), "R                   true");
        assert_eq!(variables_value(&variables)["T"], json!({"name": "T", "required": false, "defaultValue": "1"}));
        let long = super::super::interpolate::Variable { name: "A_VERY_LONG_VARIABLE_NAME_HERE".into(), ..Default::default() };
        assert_eq!(variables_table(&[long]).lines().nth(1).unwrap().trim_end(), "A_VERY_LONG_VARIABLE_NAME_HERE   false");
    }

    #[test]
    fn durations_and_sizes_of_kept_attributes() {
        assert_eq!(update_config(json!({"delay": "0s", "monitor": "60s", "order": "start-first"})), json!({"monitor": "1m0s", "order": "start-first"}));
        assert_eq!(bytes_text(json!("2g")), json!("2147483648"));
        assert_eq!(bytes_text(json!(10)), json!("10"));
        assert_eq!(build_secrets(json!(["a", {"source": "b"}])), json!([{"source": "a"}, {"source": "b"}]));
        assert_eq!(key_value_map(json!(["a=b=c", "d"])), json!({"a": "b=c", "d": null}));
    }
}
