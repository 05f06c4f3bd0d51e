//! A compose service as container options: the same `CreateOptions` that
//! `rde container run` fills from its flags, filled from the typed model.

use super::names;
use crate::compose::{MountType, NetworkMode as ComposeNetworkMode, Project, Service};
use crate::net::network::{NetworkMode, NetworkRequest};
use crate::net::ports::{PortMapping, Protocol};
use crate::runtime::create::{CreateOptions, FileSource, InjectedFile};
use crate::runtime::health::HealthConfig;
use crate::runtime::logs::LogOptions;
use crate::runtime::restart::RestartPolicy;
use crate::runtime::security_opt;

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("service {service}: {what}")]
    Invalid { service: String, what: String },
}

/// What a container of `service` is made with. `number`: its replica number;
/// `oneoff`: a `run` container (no published ports unless `service_ports`).
pub struct Plan<'a> {
    pub project: &'a Project,
    pub service: &'a Service,
    pub number: u32,
    pub hash: &'a str,
    pub oneoff: bool,
}

impl Plan<'_> {
    pub fn options(&self) -> Result<CreateOptions, PlanError> {
        let (p, s) = (self.project, self.service);
        let invalid = |what: String| PlanError::Invalid { service: s.name.clone(), what };
        let mut volumes = Vec::new();
        let mut tmpfs = s.tmpfs.clone();
        for v in &s.volumes {
            let ro = if v.read_only { ":ro" } else { "" };
            match v.kind {
                MountType::Bind => {
                    let source = v.source.clone().ok_or_else(|| invalid(format!("bind mount to {} has no source", v.target)))?;
                    // compose creates a missing bind source directory (create_host_path).
                    if !std::path::Path::new(&source).exists() && v.bind.as_ref().is_none_or(|b| b.create_host_path) {
                        std::fs::create_dir_all(&source).map_err(|e| invalid(format!("cannot create bind mount source {source}: {e}")))?;
                    }
                    volumes.push(format!("{source}:{}{ro}", v.target));
                }
                MountType::Volume => {
                    let name = match &v.source {
                        Some(key) => p.volumes.get(key).map(|vol| vol.name.clone()).unwrap_or_else(|| key.clone()),
                        None => names::anonymous_volume(&p.name, &s.name, &v.target),
                    };
                    volumes.push(format!("{name}:{}{ro}", v.target));
                }
                MountType::Tmpfs => tmpfs.push(v.target.clone()),
                other => return Err(invalid(format!("volume type {} is not supported; hint: use bind, volume or tmpfs", other.as_str()))),
            }
        }
        let limits = s.deploy.as_ref().and_then(|d| d.resources.limits.as_ref());
        let restart = match (&s.restart, s.deploy.as_ref().and_then(|d| d.restart_policy.as_ref())) {
            (Some(r), _) => r.parse::<RestartPolicy>().map_err(|e| invalid(e.to_string()))?,
            (None, Some(policy)) => match policy.condition.as_deref() {
                Some("none") => RestartPolicy::No,
                Some("on-failure") => RestartPolicy::OnFailure { max_retries: policy.max_attempts.map(|n| n as u32) },
                _ => RestartPolicy::Always,
            },
            (None, None) => RestartPolicy::No,
        };
        let healthcheck = s.healthcheck.as_ref().filter(|h| !h.disable).and_then(|h| {
            h.test
                .as_ref()
                .and_then(|test| HealthConfig::from_test(test, h.interval, h.timeout, h.start_period, h.retries))
                .map(|c| c.with_start_interval(h.start_interval))
        });
        Ok(CreateOptions {
            name: Some(if self.oneoff {
                format!("{}-{}-run-{}", p.name, s.name, &crate::names::new_id()[..12])
            } else {
                names::container_name(&p.name, s, self.number)
            }),
            command: s.command.clone().unwrap_or_default(),
            entrypoint: s.entrypoint.clone(),
            env: s
                .environment
                .iter()
                .map(|(k, v)| match v {
                    Some(v) => format!("{k}={v}"),
                    None => k.clone(),
                })
                .collect(),
            // env_file contents are already in `environment` (compose resolves them there, and a
            // bare `KEY:` there unsets them): not read a second time.
            env_files: Vec::new(),
            volumes,
            tmpfs,
            workdir: s.working_dir.clone(),
            user: s.user.clone(),
            hostname: s.hostname.clone(),
            read_only: s.read_only,
            cap_add: s.cap_add.clone(),
            cap_drop: s.cap_drop.clone(),
            memory: s.mem_limit.or(limits.and_then(|l| l.memory)),
            cpus: s.cpus.or(limits.and_then(|l| l.cpus)),
            pids_limit: s.pids_limit.or(limits.and_then(|l| l.pids)),
            stop_signal: s.stop_signal.clone(),
            stop_timeout: s.stop_grace_period.map(|d| d.as_secs()),
            auto_remove: false,
            init: s.init.unwrap_or(false),
            interactive: s.stdin_open,
            tty: s.tty,
            network: self.network_mode()?,
            ports: if self.oneoff { Vec::new() } else { ports(s)? },
            publish_all: false,
            restart: if self.oneoff { RestartPolicy::No } else { restart },
            healthcheck,
            labels: names::labels(p, s, self.number, self.hash, self.oneoff),
            ulimits: s.ulimits.iter().map(|(name, u)| (name.clone(), u.soft.max(0) as u64, u.hard.max(0) as u64)).collect(),
            shm_size: s.shm_size,
            extra_hosts: s.extra_hosts.iter().flat_map(|(host, ips)| ips.iter().map(move |ip| (host.clone(), ip.clone()))).collect(),
            dns: crate::net::resolv::DnsConfig {
                servers: s.dns.iter().map(|d| d.parse().map_err(|_| invalid(format!("dns: {d:?} is not an IP address")))).collect::<Result<_, _>>()?,
                search: s.dns_search.clone(),
                options: s.dns_opt.clone(),
            },
            log: self.logging()?.0,
            // A seccomp profile path is relative to the project directory, as compose reads it.
            security_opt: s.security_opt.iter().map(|o| security_opt::resolve_relative(o, &p.working_dir)).collect(),
            files: self.files()?,
        })
    }

    /// The service's `secrets:` and `configs:` as files to mount read-only, as compose v2
    /// places them: a secret at `/run/secrets/<target or source>`, a config at its target
    /// or `/<source>` (relative targets under those directories).
    fn files(&self) -> Result<Vec<InjectedFile>, PlanError> {
        let (p, s) = (self.project, self.service);
        let invalid = |what: String| PlanError::Invalid { service: s.name.clone(), what };
        let mut out = Vec::new();
        for (kind, references, defined, base) in [("secret", &s.secrets, &p.secrets, "/run/secrets/"), ("config", &s.configs, &p.configs, "/")] {
            for r in references {
                let object = defined.get(&r.source).ok_or_else(|| invalid(format!("{kind} {:?} is not defined at the top level", r.source)))?;
                let source = if let Some(file) = &object.file {
                    FileSource::Path(p.working_dir.join(file))
                } else if let Some(var) = &object.environment {
                    let value = p.environment.get(var).cloned().or_else(|| std::env::var(var).ok()).ok_or_else(|| {
                        invalid(format!("{kind} {:?} comes from environment variable {var}, which is not set; hint: export it or set it in .env", r.source))
                    })?;
                    FileSource::Content(value.into_bytes())
                } else if let Some(content) = &object.content {
                    FileSource::Content(content.clone().into_bytes())
                } else if object.external {
                    return Err(invalid(format!(
                        "{kind} {:?} is external: those live in a swarm, which rde does not run; hint: use file:, environment: or content:",
                        r.source
                    )));
                } else {
                    return Err(invalid(format!("{kind} {:?} has no file:, environment: or content:", r.source)));
                };
                let target = match r.target.as_deref() {
                    None | Some("") => format!("{base}{}", r.source),
                    Some(t) if t.starts_with('/') => t.to_string(),
                    Some(t) => format!("{base}{t}"),
                };
                let id = |field: &str, value: &Option<String>| {
                    value
                        .as_deref()
                        .filter(|v| !v.is_empty())
                        .map(|v| v.parse::<u32>().map_err(|_| invalid(format!("{kind} {:?}: {field} {v:?} is not a number", r.source))))
                        .transpose()
                };
                out.push(InjectedFile { target, source, uid: id("uid", &r.uid)?, gid: id("gid", &r.gid)?, mode: r.mode });
            }
        }
        Ok(out)
    }

    /// Attributes the service sets that rde does not apply (yet): the caller warns.
    pub fn ignored(&self) -> Vec<&'static str> {
        let s = self.service;
        let set = [
            ("privileged", s.privileged),
            ("devices", !s.devices.is_empty()),
            ("sysctls", !s.sysctls.is_empty()),
            ("security_opt apparmor/label", !security_opt::not_applied(&s.security_opt).is_empty()),
            ("pid", s.pid.is_some()),
            ("ipc", s.ipc.is_some()),
            ("group_add", !s.group_add.is_empty()),
            ("mac_address", s.mac_address.is_some()),
            ("logging", s.logging.as_ref().is_some_and(|l| l.driver.as_deref().is_some_and(|d| !matches!(d, "json-file" | "local")))),
        ];
        let mut out: Vec<&'static str> = set.into_iter().filter(|(_, on)| *on).map(|(name, _)| name).collect();
        // Options of the json-file driver that rde accepts but does not apply.
        let keys = self.logging().map(|(_, keys)| keys).unwrap_or_default();
        out.extend(LOG_OPTIONS_NOT_APPLIED.iter().filter(|(key, _)| keys.contains(key)).map(|(_, name)| *name));
        out
    }

    /// The service's `logging` as log rotation (docker's json-file or local
    /// options; other drivers are not applied), with the options rde ignores.
    fn logging(&self) -> Result<(LogOptions, Vec<&'static str>), PlanError> {
        let s = self.service;
        match &s.logging {
            Some(l) if matches!(l.driver.as_deref(), None | Some("json-file" | "local")) => {
                let options = l.options.iter().map(|(k, v)| (k.as_str(), v.as_str()));
                LogOptions::from_driver_options(l.driver.as_deref().unwrap_or("json-file"), options)
                    .map_err(|e| PlanError::Invalid { service: s.name.clone(), what: format!("logging.options: {e}") })
            }
            _ => Ok((LogOptions::default(), Vec::new())),
        }
    }

    /// The service's networks, each with the service name as an alias (so
    /// `db` resolves), or the mode it asks for.
    fn network_mode(&self) -> Result<NetworkMode, PlanError> {
        let (p, s) = (self.project, self.service);
        Ok(match &s.network_mode {
            Some(ComposeNetworkMode::Host) => NetworkMode::Host,
            Some(ComposeNetworkMode::None) => NetworkMode::None,
            Some(ComposeNetworkMode::Service(other)) => {
                let target = p
                    .services
                    .get(other)
                    .ok_or_else(|| PlanError::Invalid { service: s.name.clone(), what: format!("network_mode service:{other}: no such service") })?;
                NetworkMode::Container(names::container_name(&p.name, target, 1))
            }
            Some(ComposeNetworkMode::Container(c)) => NetworkMode::Container(c.clone()),
            Some(ComposeNetworkMode::Other(o)) => {
                return Err(PlanError::Invalid {
                    service: s.name.clone(),
                    what: format!("network_mode {o:?} is not supported; hint: use host, none, service:NAME or container:NAME"),
                });
            }
            Some(ComposeNetworkMode::Bridge) | None => {
                let mut keys: Vec<(&String, Option<&crate::compose::ServiceNetwork>)> = s.networks.iter().map(|(k, v)| (k, v.as_ref())).collect();
                let default = "default".to_string();
                if keys.is_empty() {
                    keys.push((&default, None));
                }
                // compose joins networks by priority, highest first, then by name.
                keys.sort_by_key(|(k, v)| (std::cmp::Reverse(v.and_then(|n| n.priority).unwrap_or(0)), (*k).clone()));
                let mut requests = Vec::new();
                for (key, options) in keys {
                    let name = p.networks.get(key).map(|n| n.name.clone()).unwrap_or_else(|| format!("{}_{key}", p.name));
                    let mut aliases = vec![s.name.clone()];
                    let (mut ip, mut ip6) = (None, None);
                    if let Some(o) = options {
                        aliases.extend(o.aliases.iter().cloned());
                        let bad = |field: &str, family: &str| PlanError::Invalid {
                            service: s.name.clone(),
                            what: format!("networks.{key}.{field} is not an {family} address"),
                        };
                        ip = o.ipv4_address.as_deref().map(|a| a.parse()).transpose().map_err(|_| bad("ipv4_address", "IPv4"))?;
                        ip6 = o.ipv6_address.as_deref().map(|a| a.parse()).transpose().map_err(|_| bad("ipv6_address", "IPv6"))?;
                    }
                    requests.push(NetworkRequest { name, aliases, ip, ip6 });
                }
                NetworkMode::Bridge(requests)
            }
        })
    }
}

/// Log options rde accepts and does not apply, as the warning names them.
const LOG_OPTIONS_NOT_APPLIED: [(&str, &str); 6] = [
    ("compress", "logging.options.compress"),
    ("tag", "logging.options.tag"),
    ("labels", "logging.options.labels"),
    ("labels-regex", "logging.options.labels-regex"),
    ("env", "logging.options.env"),
    ("env-regex", "logging.options.env-regex"),
];

/// compose's ports as published ports (a published range takes its first port).
fn ports(s: &Service) -> Result<Vec<PortMapping>, PlanError> {
    s.ports
        .iter()
        .map(|p| {
            let protocol = match p.protocol.as_str() {
                "tcp" | "" => Protocol::Tcp,
                "udp" => Protocol::Udp,
                other => {
                    return Err(PlanError::Invalid { service: s.name.clone(), what: format!("port protocol {other} is not supported; hint: use tcp or udp") });
                }
            };
            let host_ip = match p.host_ip.as_deref() {
                None | Some("") => None,
                Some(ip) => Some(ip.parse().map_err(|_| PlanError::Invalid { service: s.name.clone(), what: format!("ports: bad host IP {ip:?}") })?),
            };
            Ok(PortMapping { host_ip, host_port: p.published.map(|r| r.start), container_port: p.target, protocol })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::{ProjectOptions, load_project};

    fn load(yaml: &str) -> (tempfile::TempDir, Project) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("docker-compose.yml"), yaml).unwrap();
        let mut opts = ProjectOptions::from_process().unwrap();
        opts.working_dir = dir.path().to_path_buf();
        opts.project_name = Some("shop".into());
        let project = load_project(&opts).unwrap();
        (dir, project)
    }

    #[test]
    fn the_seed_services_become_container_options() {
        let (dir, project) = load(
            "services:\n  db:\n    image: postgres:15\n    environment:\n      - POSTGRES_DB=sampledb\n    volumes:\n      - pgdata:/var/lib/postgresql/data\n      - /cache\n    healthcheck:\n      test: [\"CMD-SHELL\", \"pg_isready\"]\n      interval: 1s\n    restart: unless-stopped\n  web:\n    image: python:3.11\n    command: python manage.py runserver 0:8000\n    ports: [\"8000:8000\", \"127.0.0.1:5678:5678/udp\"]\n    volumes: [\"./:/app\"]\n    networks:\n      default:\n        aliases: [api]\n    depends_on: [db]\nvolumes:\n  pgdata:\n",
        );
        let db = Plan { project: &project, service: &project.services["db"], number: 1, hash: "h", oneoff: false }.options().unwrap();
        assert_eq!(db.name.as_deref(), Some("shop-db-1"));
        assert_eq!(db.env, ["POSTGRES_DB=sampledb"]);
        assert_eq!(db.volumes[0], "shop_pgdata:/var/lib/postgresql/data");
        assert_eq!(db.volumes[1], format!("{}:/cache", names::anonymous_volume("shop", "db", "/cache")));
        assert_eq!(db.restart, RestartPolicy::UnlessStopped);
        assert_eq!(db.healthcheck.as_ref().unwrap().command, ["/bin/sh", "-c", "pg_isready"]);
        assert_eq!(db.labels[names::SERVICE], "db");
        assert_eq!(db.network, NetworkMode::Bridge(vec![NetworkRequest { name: "shop_default".into(), aliases: vec!["db".into()], ip: None, ip6: None }]));
        let web = Plan { project: &project, service: &project.services["web"], number: 2, hash: "h", oneoff: false }.options().unwrap();
        assert_eq!(web.name.as_deref(), Some("shop-web-2"));
        assert_eq!(web.command, ["python", "manage.py", "runserver", "0:8000"]);
        assert_eq!(web.volumes, [format!("{}:/app", dir.path().display())]);
        assert_eq!(web.ports.len(), 2);
        assert_eq!(web.ports[1].to_string(), "127.0.0.1:5678->5678/udp");
        assert_eq!(
            web.network,
            NetworkMode::Bridge(vec![NetworkRequest { name: "shop_default".into(), aliases: vec!["web".into(), "api".into()], ip: None, ip6: None }])
        );
        let run = Plan { project: &project, service: &project.services["web"], number: 1, hash: "h", oneoff: true }.options().unwrap();
        assert!(run.name.unwrap().starts_with("shop-web-run-") && run.ports.is_empty());
    }

    #[test]
    fn logging_options_rotate_the_log() {
        let (_dir, project) = load(
            "services:\n  web:\n    image: busybox\n    logging:\n      driver: json-file\n      options:\n        max-size: 10k\n        max-file: 3\n        compress: \"true\"\n  local:\n    image: busybox\n    logging:\n      driver: local\n  syslog:\n    image: busybox\n    logging:\n      driver: syslog\n      options:\n        syslog-address: udp://127.0.0.1:514\n  plain:\n    image: busybox\n  bad:\n    image: busybox\n    logging:\n      options:\n        max-size: lots\n",
        );
        let plan = |name: &str| Plan { project: &project, service: &project.services[name], number: 1, hash: "h", oneoff: false };
        assert_eq!(plan("web").options().unwrap().log, LogOptions { max_size: Some(10_000), max_file: 3 });
        assert_eq!(plan("web").ignored(), ["logging.options.compress"]);
        assert_eq!(plan("local").options().unwrap().log, LogOptions { max_size: Some(20 << 20), max_file: 5 });
        assert!(plan("local").ignored().is_empty());
        assert_eq!(plan("syslog").options().unwrap().log, LogOptions::default());
        assert_eq!(plan("syslog").ignored(), ["logging"]);
        assert_eq!(plan("plain").options().unwrap().log, LogOptions::default());
        let err = plan("bad").options().unwrap_err().to_string();
        assert!(err.starts_with("service bad: logging.options: invalid log option max-size=\"lots\""), "{err}");
    }
}
