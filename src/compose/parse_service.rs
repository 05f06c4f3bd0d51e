//! One service definition (already merged and extended) -> [`Service`].

use std::path::PathBuf;

use indexmap::IndexMap;

use super::dotenv;
use super::error::{ComposeError, Result, Warning};
use super::fields::{self, join, type_error};
use super::model::*;
use super::syntax;
use super::yaml::{Node, Value};

/// Everything `docker compose` accepts under a service. Keys in [`UNINTERPRETED`] are kept
/// as they are (and reported as warnings) because rde cannot act on them yet.
pub const SERVICE_KEYS: &[&str] = &[
    "annotations",
    "attach",
    "blkio_config",
    "build",
    "cap_add",
    "cap_drop",
    "cgroup",
    "cgroup_parent",
    "command",
    "configs",
    "container_name",
    "cpu_count",
    "cpu_percent",
    "cpu_period",
    "cpu_quota",
    "cpu_rt_period",
    "cpu_rt_runtime",
    "cpu_shares",
    "cpus",
    "cpuset",
    "credential_spec",
    "depends_on",
    "deploy",
    "develop",
    "device_cgroup_rules",
    "devices",
    "dns",
    "dns_opt",
    "dns_search",
    "domainname",
    "entrypoint",
    "env_file",
    "environment",
    "expose",
    "extends",
    "external_links",
    "extra_hosts",
    "gpus",
    "group_add",
    "healthcheck",
    "hostname",
    "image",
    "init",
    "ipc",
    "isolation",
    "label_file",
    "labels",
    "links",
    "logging",
    "mac_address",
    "mem_limit",
    "mem_reservation",
    "mem_swappiness",
    "memswap_limit",
    "models",
    "network_mode",
    "networks",
    "oom_kill_disable",
    "oom_score_adj",
    "pid",
    "pids_limit",
    "platform",
    "ports",
    "post_start",
    "pre_stop",
    "privileged",
    "profiles",
    "provider",
    "pull_policy",
    "read_only",
    "restart",
    "runtime",
    "scale",
    "secrets",
    "security_opt",
    "shm_size",
    "stdin_open",
    "stop_grace_period",
    "stop_signal",
    "storage_opt",
    "sysctls",
    "tmpfs",
    "tty",
    "ulimits",
    "use_api_socket",
    "user",
    "userns_mode",
    "uts",
    "volumes",
    "volumes_from",
    "working_dir",
];

pub const UNINTERPRETED: &[&str] = &[
    "annotations",
    "attach",
    "blkio_config",
    "cgroup",
    "cgroup_parent",
    "cpu_count",
    "cpu_percent",
    "cpu_period",
    "cpu_quota",
    "cpu_rt_period",
    "cpu_rt_runtime",
    "cpu_shares",
    "cpuset",
    "credential_spec",
    "develop",
    "device_cgroup_rules",
    "gpus",
    "isolation",
    "label_file",
    "mem_swappiness",
    "memswap_limit",
    "models",
    "oom_kill_disable",
    "oom_score_adj",
    "post_start",
    "pre_stop",
    "provider",
    "runtime",
    "storage_opt",
    "use_api_socket",
    "userns_mode",
    "uts",
    "volumes_from",
];

/// What parsing a service needs from the project.
pub struct ServiceContext<'a> {
    /// Variables for bare `environment` keys and env_file interpolation.
    pub environment: &'a IndexMap<String, String>,
    /// False with `--no-interpolate`: bare `environment` keys and build args stay unresolved.
    pub resolve_environment: bool,
    pub home: Option<&'a str>,
    pub warnings: &'a mut Vec<Warning>,
}

impl ServiceContext<'_> {
    fn warn(&mut self, node: &Node, service: &str, field: &str, message: impl Into<String>) {
        self.warnings.push(Warning {
            file: Some(node.pos.file.to_string()),
            service: Some(service.to_string()),
            field: Some(field.to_string()),
            message: message.into(),
        });
    }
}

pub fn parse_service(name: &str, node: &Node, ctx: &mut ServiceContext) -> Result<Service> {
    let path = format!("services.{name}");
    let map = fields::map(node, &path)?;
    let mut service = Service {
        name: name.to_string(),
        ..Default::default()
    };
    let mut environment: Option<&Node> = None;

    for (key, value) in map {
        let k = key.name.as_str();
        let field = join(&path, k);
        let f = field.as_str();
        if k.starts_with("x-") {
            continue;
        }
        if value.is_null() && k != "environment" {
            continue; // `key:` with nothing: as if absent, like compose.
        }
        match k {
            "image" => service.image = Some(fields::string(value, f)?),
            "build" => service.build = Some(parse_build(value, f, ctx, name)?),
            "command" => service.command = Some(command(value, f)?),
            "entrypoint" => service.entrypoint = Some(command(value, f)?),
            "environment" => environment = Some(value),
            "env_file" => service.env_files = env_files(value, f)?,
            "ports" => service.ports = ports(value, f)?,
            "expose" => service.expose = fields::string_or_list(value, f)?,
            "volumes" => service.volumes = volumes(value, f, ctx.home)?,
            "tmpfs" => service.tmpfs = fields::string_or_list(value, f)?,
            "depends_on" => service.depends_on = depends_on(value, f)?,
            "healthcheck" => service.healthcheck = Some(healthcheck(value, f)?),
            "networks" => service.networks = service_networks(value, f)?,
            "network_mode" => {
                service.network_mode = Some(NetworkMode::parse(&fields::string(value, f)?))
            }
            "restart" => service.restart = Some(restart(value, f)?),
            "deploy" => service.deploy = Some(deploy(value, f, ctx, name)?),
            "scale" => service.scale = Some(fields::unsigned(value, f)?),
            "labels" => service.labels = fields::string_map(value, f)?,
            "secrets" => service.secrets = file_references(value, f)?,
            "configs" => service.configs = file_references(value, f)?,
            "ulimits" => service.ulimits = ulimits(value, f)?,
            "logging" => service.logging = Some(logging(value, f, ctx, name)?),
            "cap_add" => service.cap_add = fields::string_list(value, f)?,
            "cap_drop" => service.cap_drop = fields::string_list(value, f)?,
            "security_opt" => service.security_opt = fields::string_list(value, f)?,
            "devices" => service.devices = devices(value, f)?,
            "dns" => service.dns = fields::string_or_list(value, f)?,
            "dns_search" => service.dns_search = fields::string_or_list(value, f)?,
            "dns_opt" => service.dns_opt = fields::string_list(value, f)?,
            "extra_hosts" => service.extra_hosts = extra_hosts(value, f)?,
            "sysctls" => service.sysctls = fields::string_map(value, f)?,
            "external_links" => service.external_links = fields::string_list(value, f)?,
            "links" => service.links = fields::string_list(value, f)?,
            "read_only" => service.read_only = fields::boolean(value, f)?,
            "privileged" => service.privileged = fields::boolean(value, f)?,
            "init" => service.init = Some(fields::boolean(value, f)?),
            "tty" => service.tty = fields::boolean(value, f)?,
            "stdin_open" => service.stdin_open = fields::boolean(value, f)?,
            "shm_size" => service.shm_size = Some(fields::bytes(value, f)?),
            "mem_limit" => service.mem_limit = Some(fields::bytes(value, f)?),
            "mem_reservation" => service.mem_reservation = Some(fields::bytes(value, f)?),
            "cpus" => service.cpus = Some(fields::float(value, f)?),
            "pids_limit" => service.pids_limit = Some(fields::integer(value, f)?),
            "stop_signal" => service.stop_signal = Some(fields::string(value, f)?),
            "stop_grace_period" => service.stop_grace_period = Some(fields::duration(value, f)?),
            "user" => service.user = Some(fields::string(value, f)?),
            "working_dir" => service.working_dir = Some(fields::string(value, f)?),
            "hostname" => service.hostname = Some(fields::string(value, f)?),
            "domainname" => service.domainname = Some(fields::string(value, f)?),
            "container_name" => {
                service.container_name = Some(fields::name(value, f, crate::names::NameKind::Container)?)
            }
            "pull_policy" => service.pull_policy = Some(pull_policy(value, f)?),
            "platform" => service.platform = Some(fields::string(value, f)?),
            "pid" => service.pid = Some(fields::string(value, f)?),
            "ipc" => service.ipc = Some(fields::string(value, f)?),
            "group_add" => service.group_add = fields::string_list(value, f)?,
            "mac_address" => service.mac_address = Some(fields::string(value, f)?),
            "profiles" => service.profiles = fields::string_list(value, f)?,
            "extends" => {} // already applied by the loader
            k if UNINTERPRETED.contains(&k) => {
                ctx.warn(
                    value,
                    name,
                    f,
                    "accepted but not supported by rde yet; ignored",
                );
                service.extra.insert(k.to_string(), fields::to_json(value));
            }
            _ => return Err(fields::unknown_key(&key.pos, &path, k, SERVICE_KEYS)),
        }
    }

    service.environment = resolve_environment(&service.env_files, environment, &path, ctx)?;
    if service.networks.is_empty() && service.network_mode.is_none() {
        service.networks.insert("default".to_string(), None);
    }
    Ok(service)
}

/// env_file contents first, `environment` on top; bare keys come from the project
/// environment and are dropped when it does not define them (as `docker run -e KEY` does).
fn resolve_environment(
    env_files: &[EnvFile],
    environment: Option<&Node>,
    path: &str,
    ctx: &mut ServiceContext,
) -> Result<IndexMap<String, Option<String>>> {
    let mut out: IndexMap<String, Option<String>> = IndexMap::new();
    for env_file in env_files {
        if !env_file.path.exists() && !env_file.required {
            continue;
        }
        let previous = out.clone();
        let project_env = ctx.environment;
        let lookup = |k: &str| {
            previous
                .get(k)
                .cloned()
                .flatten()
                .or_else(|| project_env.get(k).cloned())
        };
        let vars = dotenv::read(&env_file.path, &lookup).map_err(|e| match e {
            ComposeError::Read { path: file, .. } if !file.exists() => ComposeError::Read {
                path: file,
                message: format!("env file not found (referenced by {path}.env_file)"),
            },
            other => other,
        })?;
        out.extend(vars.into_iter().map(|(k, v)| (k, Some(v))));
    }
    if let Some(node) = environment.filter(|n| !n.is_null()) {
        let field = join(path, "environment");
        for (key, value) in fields::key_values(node, &field, &['='])? {
            match value {
                Some(v) => {
                    out.insert(key, Some(v));
                }
                None if ctx.resolve_environment => match ctx.environment.get(&key) {
                    Some(v) => {
                        out.insert(key, Some(v.clone()));
                    }
                    None => {
                        out.shift_remove(&key);
                    }
                },
                None => {
                    out.insert(key, None);
                }
            }
        }
    }
    Ok(out)
}

fn command(node: &Node, path: &str) -> Result<Vec<String>> {
    match &node.value {
        Value::Str(s) => {
            syntax::shell_split(s).map_err(|m| ComposeError::invalid(&node.pos, path, m))
        }
        Value::Seq(_) => fields::string_list(node, path),
        _ => Err(type_error(node, path, "a string or a list")),
    }
}

fn env_files(node: &Node, path: &str) -> Result<Vec<EnvFile>> {
    let items: Vec<&Node> = match &node.value {
        Value::Seq(items) => items.iter().collect(),
        _ => vec![node],
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let field = if node.as_seq().is_some() {
            format!("{path}[{i}]")
        } else {
            path.to_string()
        };
        match &item.value {
            Value::Str(p) => out.push(EnvFile {
                path: PathBuf::from(p),
                required: true,
            }),
            Value::Map(map) => {
                let mut env_file = EnvFile {
                    path: PathBuf::new(),
                    required: true,
                };
                for (key, value) in map {
                    let f = join(&field, &key.name);
                    match key.name.as_str() {
                        "path" => env_file.path = PathBuf::from(fields::string(value, &f)?),
                        "required" => env_file.required = fields::boolean(value, &f)?,
                        "format" => {}
                        other => {
                            return Err(fields::unknown_key(
                                &key.pos,
                                &field,
                                other,
                                &["path", "required", "format"],
                            ));
                        }
                    }
                }
                if env_file.path.as_os_str().is_empty() {
                    return Err(ComposeError::invalid(&item.pos, &field, "missing `path`"));
                }
                out.push(env_file);
            }
            _ => return Err(type_error(item, &field, "a path or a mapping with `path`")),
        }
    }
    Ok(out)
}

fn ports(node: &Node, path: &str) -> Result<Vec<PortMapping>> {
    let items = node
        .as_seq()
        .ok_or_else(|| type_error(node, path, "a list"))?;
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let field = format!("{path}[{i}]");
        match &item.value {
            Value::Int(_) | Value::Str(_) => {
                let spec = item.scalar_text().unwrap_or_default();
                out.extend(syntax::parse_port(&spec).map_err(|m| {
                    ComposeError::invalid(&item.pos, &field, m)
                        .with_hint("use \"HOST:CONTAINER\" such as \"8000:8000\"")
                })?);
            }
            Value::Map(map) => {
                let mut port = PortMapping {
                    name: None,
                    mode: "ingress".into(),
                    host_ip: None,
                    target: 0,
                    published: None,
                    protocol: "tcp".into(),
                    app_protocol: None,
                };
                let mut has_target = false;
                for (key, value) in map {
                    let f = join(&field, &key.name);
                    match key.name.as_str() {
                        "target" => {
                            port.target = fields::unsigned(value, &f)?;
                            has_target = true;
                        }
                        "published" => {
                            let text = fields::text(value, &f)?;
                            port.published = Some(
                                syntax::parse_range(&text)
                                    .map_err(|m| ComposeError::invalid(&value.pos, &f, m))?,
                            );
                        }
                        "host_ip" => port.host_ip = Some(fields::string(value, &f)?),
                        "protocol" => port.protocol = fields::string(value, &f)?,
                        "mode" => port.mode = fields::string(value, &f)?,
                        "name" => port.name = Some(fields::string(value, &f)?),
                        "app_protocol" => port.app_protocol = Some(fields::string(value, &f)?),
                        k if k.starts_with("x-") => {}
                        other => {
                            return Err(fields::unknown_key(
                                &key.pos,
                                &field,
                                other,
                                &[
                                    "target",
                                    "published",
                                    "host_ip",
                                    "protocol",
                                    "mode",
                                    "name",
                                    "app_protocol",
                                ],
                            ));
                        }
                    }
                }
                if !has_target {
                    return Err(ComposeError::invalid(
                        &item.pos,
                        &field,
                        "missing `target` (the container port)",
                    ));
                }
                out.push(port);
            }
            _ => return Err(type_error(item, &field, "a string, a number or a mapping")),
        }
    }
    Ok(out)
}

fn volumes(node: &Node, path: &str, home: Option<&str>) -> Result<Vec<VolumeMount>> {
    let items = node
        .as_seq()
        .ok_or_else(|| type_error(node, path, "a list"))?;
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let field = format!("{path}[{i}]");
        match &item.value {
            Value::Str(spec) => out.push(syntax::parse_volume(spec, home).map_err(|m| {
                ComposeError::invalid(&item.pos, &field, m)
                    .with_hint("use \"SOURCE:TARGET[:ro]\" such as \"./data:/data\"")
            })?),
            Value::Map(_) => out.push(long_volume(item, &field)?),
            _ => return Err(type_error(item, &field, "a string or a mapping")),
        }
    }
    Ok(out)
}

fn long_volume(node: &Node, path: &str) -> Result<VolumeMount> {
    let map = fields::map(node, path)?;
    let kind = match map.get("type") {
        None => {
            return Err(ComposeError::invalid(
                &node.pos,
                path,
                "missing `type` (bind, volume, tmpfs, image, npipe or cluster)",
            ));
        }
        Some(t) => match fields::string(t, &join(path, "type"))?.as_str() {
            "bind" => MountType::Bind,
            "volume" => MountType::Volume,
            "tmpfs" => MountType::Tmpfs,
            "npipe" => MountType::Npipe,
            "image" => MountType::Image,
            "cluster" => MountType::Cluster,
            other => {
                return Err(ComposeError::invalid(
                    &t.pos,
                    &join(path, "type"),
                    format!("unknown mount type {other:?}"),
                ));
            }
        },
    };
    let mut mount = VolumeMount {
        kind,
        source: None,
        target: String::new(),
        read_only: false,
        consistency: None,
        bind: None,
        volume: None,
        tmpfs: None,
        image_subpath: None,
    };
    for (key, value) in map {
        let f = join(path, &key.name);
        match key.name.as_str() {
            "type" => {}
            "source" => mount.source = Some(fields::string(value, &f)?),
            "target" => mount.target = fields::string(value, &f)?,
            "read_only" => mount.read_only = fields::boolean(value, &f)?,
            "consistency" => mount.consistency = Some(fields::string(value, &f)?),
            "bind" => {
                let mut bind = BindOptions::default();
                for (k, v) in fields::map(value, &f)? {
                    let ff = join(&f, &k.name);
                    match k.name.as_str() {
                        "propagation" => bind.propagation = Some(fields::string(v, &ff)?),
                        "create_host_path" => bind.create_host_path = fields::boolean(v, &ff)?,
                        "selinux" => bind.selinux = Some(fields::string(v, &ff)?),
                        "recursive" => bind.recursive = Some(fields::string(v, &ff)?),
                        other => {
                            return Err(fields::unknown_key(
                                &k.pos,
                                &f,
                                other,
                                &["propagation", "create_host_path", "selinux", "recursive"],
                            ));
                        }
                    }
                }
                mount.bind = Some(bind);
            }
            "volume" => {
                let mut options = VolumeOptions::default();
                for (k, v) in fields::map(value, &f)? {
                    let ff = join(&f, &k.name);
                    match k.name.as_str() {
                        "nocopy" => options.nocopy = fields::boolean(v, &ff)?,
                        "subpath" => options.subpath = Some(fields::string(v, &ff)?),
                        "labels" => options.labels = fields::string_map(v, &ff)?,
                        other => {
                            return Err(fields::unknown_key(
                                &k.pos,
                                &f,
                                other,
                                &["nocopy", "subpath", "labels"],
                            ));
                        }
                    }
                }
                mount.volume = Some(options);
            }
            "tmpfs" => {
                let mut options = TmpfsOptions::default();
                for (k, v) in fields::map(value, &f)? {
                    let ff = join(&f, &k.name);
                    match k.name.as_str() {
                        "size" => options.size = Some(fields::bytes(v, &ff)?),
                        "mode" => options.mode = Some(fields::unsigned(v, &ff)?),
                        other => {
                            return Err(fields::unknown_key(&k.pos, &f, other, &["size", "mode"]));
                        }
                    }
                }
                mount.tmpfs = Some(options);
            }
            "image" => {
                for (k, v) in fields::map(value, &f)? {
                    match k.name.as_str() {
                        "subpath" => {
                            mount.image_subpath = Some(fields::string(v, &join(&f, "subpath"))?)
                        }
                        other => return Err(fields::unknown_key(&k.pos, &f, other, &["subpath"])),
                    }
                }
            }
            k if k.starts_with("x-") => {}
            other => {
                return Err(fields::unknown_key(
                    &key.pos,
                    path,
                    other,
                    &[
                        "type",
                        "source",
                        "target",
                        "read_only",
                        "consistency",
                        "bind",
                        "volume",
                        "tmpfs",
                        "image",
                    ],
                ));
            }
        }
    }
    if mount.target.is_empty() {
        return Err(ComposeError::invalid(
            &node.pos,
            path,
            "missing `target` (the path inside the container)",
        ));
    }
    if kind == MountType::Bind && mount.source.is_none() {
        return Err(ComposeError::invalid(
            &node.pos,
            path,
            "a bind mount needs a `source`",
        ));
    }
    Ok(mount)
}

fn depends_on(node: &Node, path: &str) -> Result<IndexMap<String, Dependency>> {
    let mut out = IndexMap::new();
    let started = |required| Dependency {
        condition: DependencyCondition::ServiceStarted,
        required,
        restart: false,
    };
    match &node.value {
        Value::Seq(_) => {
            for name in fields::string_list(node, path)? {
                out.insert(name, started(true));
            }
        }
        Value::Map(map) => {
            for (key, value) in map {
                let field = join(path, &key.name);
                let mut dependency = started(true);
                if !value.is_null() {
                    for (k, v) in fields::map(value, &field)? {
                        let f = join(&field, &k.name);
                        match k.name.as_str() {
                            "condition" => {
                                dependency.condition = match fields::string(v, &f)?.as_str() {
                                    "service_started" => DependencyCondition::ServiceStarted,
                                    "service_healthy" => DependencyCondition::ServiceHealthy,
                                    "service_completed_successfully" => {
                                        DependencyCondition::ServiceCompletedSuccessfully
                                    }
                                    other => {
                                        return Err(ComposeError::invalid(&v.pos, &f, format!("unknown condition {other:?}"))
                                            .with_hint("use service_started, service_healthy or service_completed_successfully"));
                                    }
                                }
                            }
                            "required" => dependency.required = fields::boolean(v, &f)?,
                            "restart" => dependency.restart = fields::boolean(v, &f)?,
                            other => {
                                return Err(fields::unknown_key(
                                    &k.pos,
                                    &field,
                                    other,
                                    &["condition", "required", "restart"],
                                ));
                            }
                        }
                    }
                }
                out.insert(key.name.clone(), dependency);
            }
        }
        _ => return Err(type_error(node, path, "a list or a mapping")),
    }
    Ok(out)
}

fn healthcheck(node: &Node, path: &str) -> Result<Healthcheck> {
    let mut check = Healthcheck::default();
    for (key, value) in fields::map(node, path)? {
        let f = join(path, &key.name);
        match key.name.as_str() {
            "test" => {
                let test = match &value.value {
                    Value::Str(s) => vec!["CMD-SHELL".to_string(), s.clone()],
                    Value::Seq(_) => fields::string_list(value, &f)?,
                    _ => return Err(type_error(value, &f, "a string or a list")),
                };
                if !matches!(
                    test.first().map(String::as_str),
                    Some("CMD" | "CMD-SHELL" | "NONE")
                ) {
                    return Err(ComposeError::invalid(&value.pos, &f, "a test list must start with \"CMD\", \"CMD-SHELL\" or \"NONE\"")
                        .with_hint("write test: [\"CMD\", \"curl\", \"-f\", \"http://localhost\"] or a plain string for the shell"));
                }
                check.test = Some(test);
            }
            "interval" => check.interval = Some(fields::duration(value, &f)?),
            "timeout" => check.timeout = Some(fields::duration(value, &f)?),
            "start_period" => check.start_period = Some(fields::duration(value, &f)?),
            "start_interval" => check.start_interval = Some(fields::duration(value, &f)?),
            "retries" => check.retries = Some(fields::unsigned(value, &f)?),
            "disable" => check.disable = fields::boolean(value, &f)?,
            k if k.starts_with("x-") => {}
            other => {
                return Err(fields::unknown_key(
                    &key.pos,
                    path,
                    other,
                    &[
                        "test",
                        "interval",
                        "timeout",
                        "start_period",
                        "start_interval",
                        "retries",
                        "disable",
                    ],
                ));
            }
        }
    }
    Ok(check)
}

fn service_networks(node: &Node, path: &str) -> Result<IndexMap<String, Option<ServiceNetwork>>> {
    let mut out = IndexMap::new();
    match &node.value {
        Value::Seq(_) => {
            for name in fields::string_list(node, path)? {
                out.insert(name, None);
            }
        }
        Value::Map(map) => {
            for (key, value) in map {
                let field = join(path, &key.name);
                if value.is_null() {
                    out.insert(key.name.clone(), None);
                    continue;
                }
                let mut network = ServiceNetwork::default();
                for (k, v) in fields::map(value, &field)? {
                    let f = join(&field, &k.name);
                    match k.name.as_str() {
                        "aliases" => network.aliases = fields::string_list(v, &f)?,
                        "ipv4_address" => network.ipv4_address = Some(fields::string(v, &f)?),
                        "ipv6_address" => network.ipv6_address = Some(fields::string(v, &f)?),
                        "link_local_ips" => network.link_local_ips = fields::string_list(v, &f)?,
                        "mac_address" => network.mac_address = Some(fields::string(v, &f)?),
                        "priority" | "gw_priority" => {
                            network.priority = Some(fields::integer(v, &f)?)
                        }
                        "driver_opts" => network.driver_opts = fields::string_map(v, &f)?,
                        "interface_name" => {}
                        other => {
                            return Err(fields::unknown_key(
                                &k.pos,
                                &field,
                                other,
                                &[
                                    "aliases",
                                    "ipv4_address",
                                    "ipv6_address",
                                    "link_local_ips",
                                    "mac_address",
                                    "priority",
                                    "gw_priority",
                                    "driver_opts",
                                    "interface_name",
                                ],
                            ));
                        }
                    }
                }
                out.insert(key.name.clone(), Some(network));
            }
        }
        _ => return Err(type_error(node, path, "a list or a mapping")),
    }
    Ok(out)
}

fn restart(node: &Node, path: &str) -> Result<String> {
    let value = fields::string(node, path).map_err(|e| e.with_hint("quote it: restart: \"no\""))?;
    let valid = matches!(
        value.as_str(),
        "no" | "always" | "on-failure" | "unless-stopped"
    ) || value
        .strip_prefix("on-failure:")
        .is_some_and(|n| n.parse::<u32>().is_ok());
    if !valid {
        return Err(ComposeError::invalid(
            &node.pos,
            path,
            format!("invalid restart policy {value:?}"),
        )
        .with_hint("use \"no\", always, on-failure[:max-retries] or unless-stopped"));
    }
    Ok(value)
}

fn pull_policy(node: &Node, path: &str) -> Result<String> {
    let value = fields::string(node, path)?;
    let valid = matches!(
        value.as_str(),
        "always"
            | "never"
            | "missing"
            | "if_not_present"
            | "build"
            | "daily"
            | "weekly"
            | "refresh"
    ) || value
        .strip_prefix("every_")
        .is_some_and(|d| syntax::parse_duration(d).is_ok());
    if !valid {
        return Err(ComposeError::invalid(
            &node.pos,
            path,
            format!("invalid pull policy {value:?}"),
        )
        .with_hint("use always, never, missing, build, daily, weekly or every_<duration>"));
    }
    Ok(value)
}

fn parse_build(node: &Node, path: &str, ctx: &mut ServiceContext, service: &str) -> Result<Build> {
    let mut build = Build {
        dockerfile: "Dockerfile".into(),
        ..Default::default()
    };
    if let Value::Str(context) = &node.value {
        build.context = context.clone();
        return Ok(build);
    }
    let mut has_context = false;
    for (key, value) in fields::map(node, path)? {
        let f = join(path, &key.name);
        match key.name.as_str() {
            "context" => {
                build.context = fields::string(value, &f)?;
                has_context = true;
            }
            "dockerfile" => build.dockerfile = fields::string(value, &f)?,
            "dockerfile_inline" => build.dockerfile_inline = Some(fields::string(value, &f)?),
            "args" => {
                build.args = fields::key_values(value, &f, &['='])?
                    .into_iter()
                    .map(|(k, v)| {
                        let resolved = v.or_else(|| {
                            if ctx.resolve_environment {
                                ctx.environment.get(&k).cloned()
                            } else {
                                None
                            }
                        });
                        (k, resolved)
                    })
                    .collect()
            }
            "target" => build.target = Some(fields::string(value, &f)?),
            "labels" => build.labels = fields::string_map(value, &f)?,
            "cache_from" => build.cache_from = fields::string_list(value, &f)?,
            "cache_to" => build.cache_to = fields::string_list(value, &f)?,
            "network" => build.network = Some(fields::string(value, &f)?),
            "shm_size" => build.shm_size = Some(fields::bytes(value, &f)?),
            "extra_hosts" => build.extra_hosts = extra_hosts(value, &f)?,
            "platforms" => build.platforms = fields::string_list(value, &f)?,
            "tags" => build.tags = fields::string_list(value, &f)?,
            "no_cache" => build.no_cache = fields::boolean(value, &f)?,
            "pull" => build.pull = fields::boolean(value, &f)?,
            k @ ("additional_contexts"
            | "secrets"
            | "ssh"
            | "isolation"
            | "privileged"
            | "ulimits"
            | "entitlements"
            | "provenance"
            | "sbom"
            | "no_cache_filter") => {
                ctx.warn(
                    value,
                    service,
                    &f,
                    "accepted but not supported by rde yet; ignored",
                );
                build.extra.insert(k.to_string(), fields::to_json(value));
            }
            k if k.starts_with("x-") => {}
            other => {
                return Err(fields::unknown_key(
                    &key.pos,
                    path,
                    other,
                    &[
                        "context",
                        "dockerfile",
                        "dockerfile_inline",
                        "args",
                        "target",
                        "labels",
                        "cache_from",
                        "cache_to",
                        "network",
                        "shm_size",
                        "extra_hosts",
                        "platforms",
                        "tags",
                        "no_cache",
                        "pull",
                        "additional_contexts",
                        "secrets",
                        "ssh",
                        "isolation",
                        "privileged",
                        "ulimits",
                        "entitlements",
                        "provenance",
                        "sbom",
                        "no_cache_filter",
                    ],
                ));
            }
        }
    }
    if !has_context {
        // compose defaults the context to the project directory; the loader made it absolute.
        build.context = ".".into();
    }
    Ok(build)
}

fn deploy(node: &Node, path: &str, ctx: &mut ServiceContext, service: &str) -> Result<Deploy> {
    let mut deploy = Deploy::default();
    for (key, value) in fields::map(node, path)? {
        let f = join(path, &key.name);
        match key.name.as_str() {
            "mode" => deploy.mode = Some(fields::string(value, &f)?),
            "replicas" => deploy.replicas = Some(fields::unsigned(value, &f)?),
            "labels" => deploy.labels = fields::string_map(value, &f)?,
            "resources" => {
                for (k, v) in fields::map(value, &f)? {
                    let ff = join(&f, &k.name);
                    match k.name.as_str() {
                        "limits" => deploy.resources.limits = Some(resource(v, &ff, ctx, service)?),
                        "reservations" => {
                            deploy.resources.reservations = Some(resource(v, &ff, ctx, service)?)
                        }
                        other => {
                            return Err(fields::unknown_key(
                                &k.pos,
                                &f,
                                other,
                                &["limits", "reservations"],
                            ));
                        }
                    }
                }
            }
            "restart_policy" => {
                let mut policy = RestartPolicy::default();
                for (k, v) in fields::map(value, &f)? {
                    let ff = join(&f, &k.name);
                    match k.name.as_str() {
                        "condition" => policy.condition = Some(fields::string(v, &ff)?),
                        "delay" => policy.delay = Some(fields::duration(v, &ff)?),
                        "max_attempts" => policy.max_attempts = Some(fields::unsigned(v, &ff)?),
                        "window" => policy.window = Some(fields::duration(v, &ff)?),
                        other => {
                            return Err(fields::unknown_key(
                                &k.pos,
                                &f,
                                other,
                                &["condition", "delay", "max_attempts", "window"],
                            ));
                        }
                    }
                }
                deploy.restart_policy = Some(policy);
            }
            k @ ("placement" | "update_config" | "rollback_config" | "endpoint_mode") => {
                ctx.warn(
                    value,
                    service,
                    &f,
                    "accepted but not supported by rde yet; ignored",
                );
                deploy.extra.insert(k.to_string(), fields::to_json(value));
            }
            k if k.starts_with("x-") => {}
            other => {
                return Err(fields::unknown_key(
                    &key.pos,
                    path,
                    other,
                    &[
                        "mode",
                        "replicas",
                        "labels",
                        "resources",
                        "restart_policy",
                        "placement",
                        "update_config",
                        "rollback_config",
                        "endpoint_mode",
                    ],
                ));
            }
        }
    }
    Ok(deploy)
}

fn resource(
    node: &Node,
    path: &str,
    ctx: &mut ServiceContext,
    service: &str,
) -> Result<ResourceLimits> {
    let mut limits = ResourceLimits::default();
    for (key, value) in fields::map(node, path)? {
        let f = join(path, &key.name);
        match key.name.as_str() {
            "cpus" => limits.cpus = Some(fields::float(value, &f)?),
            "memory" => limits.memory = Some(fields::bytes(value, &f)?),
            "pids" => limits.pids = Some(fields::integer(value, &f)?),
            k @ ("devices" | "generic_resources") => {
                ctx.warn(
                    value,
                    service,
                    &f,
                    "accepted but not supported by rde yet; ignored",
                );
                limits.extra.insert(k.to_string(), fields::to_json(value));
            }
            other => {
                return Err(fields::unknown_key(
                    &key.pos,
                    path,
                    other,
                    &["cpus", "memory", "pids", "devices", "generic_resources"],
                ));
            }
        }
    }
    Ok(limits)
}

fn file_references(node: &Node, path: &str) -> Result<Vec<FileReference>> {
    let items = node
        .as_seq()
        .ok_or_else(|| type_error(node, path, "a list"))?;
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let field = format!("{path}[{i}]");
        let mut reference = FileReference::default();
        match &item.value {
            Value::Str(source) => reference.source = source.clone(),
            Value::Map(map) => {
                for (key, value) in map {
                    let f = join(&field, &key.name);
                    match key.name.as_str() {
                        "source" => reference.source = fields::string(value, &f)?,
                        "target" => reference.target = Some(fields::string(value, &f)?),
                        "uid" => reference.uid = Some(fields::text(value, &f)?),
                        "gid" => reference.gid = Some(fields::text(value, &f)?),
                        "mode" => {
                            reference.mode = Some(match &value.value {
                                // `mode: "0440"` is octal, as in chmod.
                                Value::Str(s) => u32::from_str_radix(s.trim_start_matches("0o"), 8)
                                    .map_err(|_| {
                                        ComposeError::invalid(
                                            &value.pos,
                                            &f,
                                            format!("invalid file mode {s:?}"),
                                        )
                                    })?,
                                _ => fields::unsigned(value, &f)?,
                            })
                        }
                        other => {
                            return Err(fields::unknown_key(
                                &key.pos,
                                &field,
                                other,
                                &["source", "target", "uid", "gid", "mode"],
                            ));
                        }
                    }
                }
                if reference.source.is_empty() {
                    return Err(ComposeError::invalid(&item.pos, &field, "missing `source`"));
                }
            }
            _ => return Err(type_error(item, &field, "a name or a mapping")),
        }
        out.push(reference);
    }
    Ok(out)
}

fn ulimits(node: &Node, path: &str) -> Result<IndexMap<String, Ulimit>> {
    let mut out = IndexMap::new();
    for (key, value) in fields::map(node, path)? {
        let f = join(path, &key.name);
        let limit = match &value.value {
            Value::Map(map) => {
                let (mut soft, mut hard) = (None, None);
                for (k, v) in map {
                    match k.name.as_str() {
                        "soft" => soft = Some(fields::integer(v, &join(&f, "soft"))?),
                        "hard" => hard = Some(fields::integer(v, &join(&f, "hard"))?),
                        other => {
                            return Err(fields::unknown_key(&k.pos, &f, other, &["soft", "hard"]));
                        }
                    }
                }
                let (Some(soft), Some(hard)) = (soft, hard) else {
                    return Err(ComposeError::invalid(
                        &value.pos,
                        &f,
                        "needs both `soft` and `hard`",
                    ));
                };
                if soft > hard {
                    return Err(ComposeError::invalid(
                        &value.pos,
                        &f,
                        format!("soft limit {soft} is above hard limit {hard}"),
                    ));
                }
                Ulimit {
                    soft,
                    hard,
                    single: false,
                }
            }
            _ => {
                let n = fields::integer(value, &f)?;
                Ulimit {
                    soft: n,
                    hard: n,
                    single: true,
                }
            }
        };
        out.insert(key.name.clone(), limit);
    }
    Ok(out)
}

fn logging(node: &Node, path: &str, ctx: &mut ServiceContext, service: &str) -> Result<Logging> {
    let mut logging = Logging::default();
    for (key, value) in fields::map(node, path)? {
        let f = join(path, &key.name);
        match key.name.as_str() {
            "driver" => logging.driver = Some(fields::string(value, &f)?),
            "options" => {
                if !value.is_null() {
                    logging.options = fields::string_map(value, &f)?;
                }
            }
            other => {
                return Err(fields::unknown_key(
                    &key.pos,
                    path,
                    other,
                    &["driver", "options"],
                ));
            }
        }
    }
    if let Some(driver) = logging
        .driver
        .as_deref()
        .filter(|d| !matches!(*d, "json-file" | "local" | "none"))
    {
        ctx.warn(
            node,
            service,
            &join(path, "driver"),
            format!(
                "log driver {driver:?} is not supported by rde; logs go to rde's own log files"
            ),
        );
    }
    Ok(logging)
}

fn devices(node: &Node, path: &str) -> Result<Vec<DeviceMapping>> {
    let items = node
        .as_seq()
        .ok_or_else(|| type_error(node, path, "a list"))?;
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let field = format!("{path}[{i}]");
        let device = match &item.value {
            Value::Str(spec) => {
                let parts: Vec<&str> = spec.split(':').collect();
                match parts.as_slice() {
                    [source] => DeviceMapping {
                        source: source.to_string(),
                        target: source.to_string(),
                        permissions: "rwm".into(),
                    },
                    [source, target] => DeviceMapping {
                        source: source.to_string(),
                        target: target.to_string(),
                        permissions: "rwm".into(),
                    },
                    [source, target, permissions] => DeviceMapping {
                        source: source.to_string(),
                        target: target.to_string(),
                        permissions: permissions.to_string(),
                    },
                    _ => {
                        return Err(ComposeError::invalid(
                            &item.pos,
                            &field,
                            format!("invalid device {spec:?}"),
                        ));
                    }
                }
            }
            Value::Map(map) => {
                let mut device = DeviceMapping {
                    source: String::new(),
                    target: String::new(),
                    permissions: "rwm".into(),
                };
                for (key, value) in map {
                    let f = join(&field, &key.name);
                    match key.name.as_str() {
                        "source" => device.source = fields::string(value, &f)?,
                        "target" => device.target = fields::string(value, &f)?,
                        "permissions" => device.permissions = fields::string(value, &f)?,
                        other => {
                            return Err(fields::unknown_key(
                                &key.pos,
                                &field,
                                other,
                                &["source", "target", "permissions"],
                            ));
                        }
                    }
                }
                if device.target.is_empty() {
                    device.target = device.source.clone();
                }
                device
            }
            _ => return Err(type_error(item, &field, "a string or a mapping")),
        };
        out.push(device);
    }
    Ok(out)
}

fn extra_hosts(node: &Node, path: &str) -> Result<IndexMap<String, Vec<String>>> {
    let mut out: IndexMap<String, Vec<String>> = IndexMap::new();
    match &node.value {
        Value::Map(map) => {
            for (key, value) in map {
                let f = join(path, &key.name);
                let addresses = match &value.value {
                    Value::Seq(_) => fields::string_list(value, &f)?,
                    _ => vec![fields::text(value, &f)?],
                };
                out.entry(key.name.clone()).or_default().extend(addresses);
            }
        }
        Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                let f = format!("{path}[{i}]");
                let entry = fields::string(item, &f)?;
                // `host=ip` (preferred) or the legacy `host:ip`.
                let (host, ip) = entry
                    .split_once('=')
                    .or_else(|| entry.split_once(':'))
                    .ok_or_else(|| {
                        ComposeError::invalid(
                            &item.pos,
                            &f,
                            format!("invalid extra host {entry:?}"),
                        )
                        .with_hint("write \"HOST=IP\" or \"HOST:IP\"")
                    })?;
                out.entry(host.to_string())
                    .or_default()
                    .push(ip.trim_start_matches('[').trim_end_matches(']').to_string());
            }
        }
        _ => return Err(type_error(node, path, "a list or a mapping")),
    }
    Ok(out)
}
