//! rde's typed, normalised view of a compose project. Everything here is already
//! interpolated, merged, extended, included and validated; relative paths are absolute.

use std::path::PathBuf;
use std::time::Duration;

use indexmap::IndexMap;

use super::error::Warning;

/// Attributes accepted from the file but not interpreted by rde (kept to be printed by
/// `config`, each reported as a warning).
pub type Extra = IndexMap<String, serde_json::Value>;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Project {
    pub name: String,
    /// The project directory: relative paths were resolved against it.
    pub working_dir: PathBuf,
    /// Enabled services, sorted by name.
    pub services: IndexMap<String, Service>,
    /// Services switched off by profiles, sorted by name.
    pub disabled_services: IndexMap<String, Service>,
    pub networks: IndexMap<String, Network>,
    pub volumes: IndexMap<String, Volume>,
    pub secrets: IndexMap<String, FileObject>,
    pub configs: IndexMap<String, FileObject>,
    /// The compose files that were read, in order (`-` for stdin).
    pub files: Vec<PathBuf>,
    /// Active profiles (from `--profile`, COMPOSE_PROFILES and explicitly targeted services).
    pub profiles: Vec<String>,
    /// The variables used for interpolation: process environment over `.env`/`--env-file`.
    pub environment: IndexMap<String, String>,
    pub warnings: Vec<Warning>,
    /// Top-level `x-*` keys, as written (after interpolation), printed back by `config`.
    pub extensions: Extra,
    /// True when the files were interpolated (`$$` became `$`): `config` then writes every
    /// `$` back as `$$` so that its output loads to the same project, as compose does.
    pub interpolated: bool,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Service {
    pub name: String,
    pub profiles: Vec<String>,
    pub image: Option<String>,
    pub build: Option<Build>,
    /// `None` = use the image's CMD; `Some(vec![])` = explicitly empty.
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    /// env_file contents overlaid by `environment`, bare keys taken from the project
    /// environment. `None` only appears when interpolation is off.
    pub environment: IndexMap<String, Option<String>>,
    /// Bare `environment` keys the project environment does not define: left out of
    /// `environment` (unset in the container), printed by `config` as `KEY: null`.
    pub environment_unset: Vec<String>,
    pub env_files: Vec<EnvFile>,
    pub ports: Vec<PortMapping>,
    pub expose: Vec<String>,
    pub volumes: Vec<VolumeMount>,
    pub tmpfs: Vec<String>,
    pub depends_on: IndexMap<String, Dependency>,
    pub healthcheck: Option<Healthcheck>,
    /// Networks to join; `None` = attached with no options. Empty when `network_mode` is set.
    pub networks: IndexMap<String, Option<ServiceNetwork>>,
    pub network_mode: Option<NetworkMode>,
    pub restart: Option<String>,
    pub deploy: Option<Deploy>,
    pub scale: Option<u32>,
    pub labels: IndexMap<String, String>,
    pub secrets: Vec<FileReference>,
    pub configs: Vec<FileReference>,
    pub ulimits: IndexMap<String, Ulimit>,
    pub logging: Option<Logging>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub security_opt: Vec<String>,
    pub devices: Vec<DeviceMapping>,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_opt: Vec<String>,
    /// host name -> addresses.
    pub extra_hosts: IndexMap<String, Vec<String>>,
    pub sysctls: IndexMap<String, String>,
    pub external_links: Vec<String>,
    pub links: Vec<String>,
    pub read_only: bool,
    pub privileged: bool,
    pub init: Option<bool>,
    pub tty: bool,
    pub stdin_open: bool,
    pub shm_size: Option<u64>,
    pub mem_limit: Option<u64>,
    pub mem_reservation: Option<u64>,
    pub cpus: Option<f64>,
    pub pids_limit: Option<i64>,
    pub stop_signal: Option<String>,
    pub stop_grace_period: Option<Duration>,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    pub container_name: Option<String>,
    pub pull_policy: Option<String>,
    pub platform: Option<String>,
    pub pid: Option<String>,
    pub ipc: Option<String>,
    pub group_add: Vec<String>,
    pub mac_address: Option<String>,
    /// `annotations` (OCI annotations for the container), map or `KEY=VALUE` list.
    pub annotations: IndexMap<String, String>,
    /// Accepted attributes rde does not interpret yet.
    pub extra: Extra,
    /// The service's `x-*` keys, as written.
    pub extensions: Extra,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Build {
    /// Absolute directory, or a remote (git/URL) context as written.
    pub context: String,
    /// Relative to the context, as written (defaults to `Dockerfile`).
    pub dockerfile: String,
    pub dockerfile_inline: Option<String>,
    pub args: IndexMap<String, Option<String>>,
    pub target: Option<String>,
    pub labels: IndexMap<String, String>,
    pub cache_from: Vec<String>,
    pub cache_to: Vec<String>,
    pub network: Option<String>,
    pub shm_size: Option<u64>,
    pub extra_hosts: IndexMap<String, Vec<String>>,
    pub platforms: Vec<String>,
    pub tags: Vec<String>,
    pub no_cache: bool,
    pub pull: bool,
    pub extra: Extra,
    /// `x-*` keys under `build`.
    pub extensions: Extra,
}

/// One `env_file` entry: a path, or the long form `{path, required, format}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvFile {
    pub path: PathBuf,
    /// `false`: a missing file is skipped.
    pub required: bool,
    /// `None`: compose's .env syntax (quotes, interpolation); `Some("raw")`: each line is
    /// `KEY=VALUE` taken literally.
    pub format: Option<String>,
}

/// One published or exposed port (ranges in the short syntax are expanded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortMapping {
    pub name: Option<String>,
    /// `ingress` (the default) or `host`.
    pub mode: String,
    pub host_ip: Option<String>,
    pub target: u16,
    /// Host port or port range; `None` = an ephemeral port.
    pub published: Option<PortRange>,
    /// `tcp` (default), `udp` or `sctp`.
    pub protocol: String,
    pub app_protocol: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortRange {
    pub start: u16,
    pub end: u16,
}

impl std::fmt::Display for PortRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.start == self.end { write!(f, "{}", self.start) } else { write!(f, "{}-{}", self.start, self.end) }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MountType {
    Bind,
    Volume,
    Tmpfs,
    Npipe,
    Image,
    Cluster,
}

impl MountType {
    pub fn as_str(self) -> &'static str {
        match self {
            MountType::Bind => "bind",
            MountType::Volume => "volume",
            MountType::Tmpfs => "tmpfs",
            MountType::Npipe => "npipe",
            MountType::Image => "image",
            MountType::Cluster => "cluster",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct VolumeMount {
    pub kind: MountType,
    /// Absolute host path (bind), volume name (volume; `None` = anonymous), image (image).
    pub source: Option<String>,
    pub target: String,
    pub read_only: bool,
    pub consistency: Option<String>,
    pub bind: Option<BindOptions>,
    pub volume: Option<VolumeOptions>,
    pub tmpfs: Option<TmpfsOptions>,
    pub image_subpath: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BindOptions {
    pub propagation: Option<String>,
    pub create_host_path: bool,
    pub selinux: Option<String>,
    pub recursive: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VolumeOptions {
    pub nocopy: bool,
    pub subpath: Option<String>,
    pub labels: IndexMap<String, String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TmpfsOptions {
    pub size: Option<u64>,
    pub mode: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DependencyCondition {
    ServiceStarted,
    ServiceHealthy,
    ServiceCompletedSuccessfully,
}

impl DependencyCondition {
    pub fn as_str(self) -> &'static str {
        match self {
            DependencyCondition::ServiceStarted => "service_started",
            DependencyCondition::ServiceHealthy => "service_healthy",
            DependencyCondition::ServiceCompletedSuccessfully => "service_completed_successfully",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dependency {
    pub condition: DependencyCondition,
    /// `false`: a missing or failed dependency is only a warning.
    pub required: bool,
    /// Restart this service when the dependency is updated.
    pub restart: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Healthcheck {
    /// Normalised: `["CMD", ...]`, `["CMD-SHELL", "..."]` or `["NONE"]`.
    pub test: Option<Vec<String>>,
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub start_period: Option<Duration>,
    pub start_interval: Option<Duration>,
    pub retries: Option<u64>,
    pub disable: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceNetwork {
    pub aliases: Vec<String>,
    pub ipv4_address: Option<String>,
    pub ipv6_address: Option<String>,
    pub link_local_ips: Vec<String>,
    pub mac_address: Option<String>,
    pub priority: Option<i64>,
    pub driver_opts: IndexMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetworkMode {
    Host,
    None,
    Bridge,
    Service(String),
    Container(String),
    /// Anything else, passed through as written.
    Other(String),
}

impl NetworkMode {
    pub fn parse(text: &str) -> NetworkMode {
        match text {
            "host" => NetworkMode::Host,
            "none" => NetworkMode::None,
            "bridge" => NetworkMode::Bridge,
            t => match (t.strip_prefix("service:"), t.strip_prefix("container:")) {
                (Some(s), _) => NetworkMode::Service(s.to_string()),
                (_, Some(c)) => NetworkMode::Container(c.to_string()),
                _ => NetworkMode::Other(t.to_string()),
            },
        }
    }
}

impl std::fmt::Display for NetworkMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NetworkMode::Host => write!(f, "host"),
            NetworkMode::None => write!(f, "none"),
            NetworkMode::Bridge => write!(f, "bridge"),
            NetworkMode::Service(s) => write!(f, "service:{s}"),
            NetworkMode::Container(c) => write!(f, "container:{c}"),
            NetworkMode::Other(o) => write!(f, "{o}"),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Deploy {
    pub mode: Option<String>,
    pub replicas: Option<u32>,
    pub labels: IndexMap<String, String>,
    pub resources: Resources,
    pub restart_policy: Option<RestartPolicy>,
    /// placement, update_config, rollback_config, endpoint_mode: accepted, not used by rde.
    pub extra: Extra,
    /// `x-*` keys under `deploy`.
    pub extensions: Extra,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Resources {
    pub limits: Option<ResourceLimits>,
    pub reservations: Option<ResourceLimits>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResourceLimits {
    pub cpus: Option<f64>,
    pub memory: Option<u64>,
    pub pids: Option<i64>,
    /// devices, generic_resources.
    pub extra: Extra,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RestartPolicy {
    pub condition: Option<String>,
    pub delay: Option<Duration>,
    pub max_attempts: Option<u64>,
    pub window: Option<Duration>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileReference {
    pub source: String,
    pub target: Option<String>,
    pub uid: Option<String>,
    pub gid: Option<String>,
    pub mode: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ulimit {
    pub soft: i64,
    pub hard: i64,
    /// Written as a single number (soft = hard).
    pub single: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Logging {
    pub driver: Option<String>,
    pub options: IndexMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceMapping {
    pub source: String,
    pub target: String,
    pub permissions: String,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Network {
    /// The real name (`<project>_<key>` unless external or set).
    pub name: String,
    pub driver: Option<String>,
    pub driver_opts: IndexMap<String, String>,
    pub external: bool,
    pub internal: bool,
    pub attachable: bool,
    pub enable_ipv6: Option<bool>,
    pub labels: IndexMap<String, String>,
    /// ipam and anything else: accepted, not interpreted.
    pub extra: Extra,
    /// `x-*` keys of the network.
    pub extensions: Extra,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Volume {
    pub name: String,
    pub driver: Option<String>,
    pub driver_opts: IndexMap<String, String>,
    pub external: bool,
    pub labels: IndexMap<String, String>,
    /// `x-*` keys of the volume.
    pub extensions: Extra,
}

/// A top-level secret or config.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FileObject {
    pub name: String,
    pub file: Option<PathBuf>,
    pub environment: Option<String>,
    pub content: Option<String>,
    pub external: bool,
    pub labels: IndexMap<String, String>,
    pub extra: Extra,
    /// `x-*` keys of the secret or config.
    pub extensions: Extra,
}
