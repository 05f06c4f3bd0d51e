//! One service definition (already merged and extended) -> [`Service`]. The keys are
//! parsed by concern in `parse_service/`: environment, ports, mounts, lifecycle
//! (depends_on, healthcheck, restart), networks, build, deploy.

use std::path::PathBuf;

use indexmap::IndexMap;

use super::dotenv;
use super::error::{ComposeError, Result, Warning};
use super::fields::{self, join, type_error};
use super::model::*;
use super::syntax;
use super::yaml::{Node, Value};

mod build;
mod deploy;
mod environment;
mod lifecycle;
mod mounts;
mod networks;
mod ports;

use build::*;
use deploy::*;
use environment::*;
use lifecycle::*;
use mounts::*;
use networks::*;
use ports::*;

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
    let mut service = Service { name: name.to_string(), ..Default::default() };
    let mut environment: Option<&Node> = None;
    let mut label_files: Vec<(String, &Node)> = Vec::new();

    for (key, value) in map {
        let k = key.name.as_str();
        let field = join(&path, k);
        let f = field.as_str();
        if k.starts_with("x-") {
            service.extensions.insert(k.to_string(), fields::to_json(value));
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
            "network_mode" => service.network_mode = Some(NetworkMode::parse(&fields::string(value, f)?)),
            "restart" => service.restart = Some(restart(value, f)?),
            "deploy" => service.deploy = Some(deploy(value, f, ctx, name)?),
            "scale" => service.scale = Some(fields::unsigned(value, f)?),
            "labels" => service.labels = fields::string_map(value, f)?,
            "label_file" => label_files.extend(fields::string_or_list(value, f)?.into_iter().map(|p| (p, value))),
            "annotations" => {
                service.annotations = fields::string_map(value, f)?;
                ctx.warn(value, name, f, "accepted but not applied to the container by rde yet");
            }
            "secrets" => service.secrets = file_references(value, f, Some("/run/secrets"))?,
            "configs" => service.configs = file_references(value, f, None)?,
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
            "container_name" => service.container_name = Some(fields::name(value, f, crate::names::NameKind::Container)?),
            "pull_policy" => service.pull_policy = Some(pull_policy(value, f)?),
            "platform" => service.platform = Some(fields::string(value, f)?),
            "pid" => service.pid = Some(fields::string(value, f)?),
            "ipc" => service.ipc = Some(fields::string(value, f)?),
            "group_add" => service.group_add = fields::string_list(value, f)?,
            "mac_address" => service.mac_address = Some(fields::string(value, f)?),
            "profiles" => service.profiles = fields::string_list(value, f)?,
            "extends" => {} // already applied by the loader
            k if UNINTERPRETED.contains(&k) => {
                ctx.warn(value, name, f, "accepted but not supported by rde yet; ignored");
                service.extra.insert(k.to_string(), fields::to_json(value));
            }
            _ => return Err(fields::unknown_key(&key.pos, &path, k, SERVICE_KEYS)),
        }
    }

    (service.environment, service.environment_unset) = resolve_environment(&service.env_files, environment, &path, ctx)?;
    if !label_files.is_empty() {
        service.labels = with_label_files(&label_files, std::mem::take(&mut service.labels), &path)?;
    }
    if service.networks.is_empty() && service.network_mode.is_none() {
        service.networks.insert("default".to_string(), None);
    }
    Ok(service)
}

/// `label_file` entries (.env syntax, read in order) under the inline `labels`, which win.
fn with_label_files(files: &[(String, &Node)], inline: IndexMap<String, String>, path: &str) -> Result<IndexMap<String, String>> {
    let mut labels = IndexMap::new();
    for (file, node) in files {
        let file = PathBuf::from(file);
        if !file.is_file() {
            return Err(ComposeError::invalid(&node.pos, &join(path, "label_file"), format!("label file {} not found", file.display())));
        }
        labels.extend(dotenv::read(&file, &|_: &str| None)?);
    }
    labels.extend(inline);
    Ok(labels)
}

fn command(node: &Node, path: &str) -> Result<Vec<String>> {
    match &node.value {
        Value::Str(s) => syntax::shell_split(s).map_err(|m| ComposeError::invalid(&node.pos, path, m)),
        Value::Seq(_) => fields::string_list(node, path),
        _ => Err(type_error(node, path, "a string or a list")),
    }
}
