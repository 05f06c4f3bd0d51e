//! What the project commands share: the loaded compose project with its lock,
//! its containers, images pulled when missing, networks made, and the
//! converge step of `up` (create, recreate or start each service's containers,
//! level by level in dependency order, waiting for `depends_on` conditions).

use crate::cli::context::Context;
use crate::compose::{DependencyCondition, Project, Service};
use crate::fsutil::LockGuard;
use crate::image::lookup;
use crate::image::pull::{self, PullOptions};
use crate::image::reference::Reference;
use crate::image::store::ImageRecord;
use crate::net::network::{NetworkOptions, Networks};
use crate::output::Printer;
use crate::project::{names, order, plan::Plan, wait};
use crate::runtime::create;
use crate::runtime::lifecycle;
use crate::runtime::state::{ContainerRecord, Containers, Observed};
use std::collections::HashMap;
use std::time::Duration;

/// A loaded project, locked against other rde commands on it.
pub struct Session<'a> {
    pub ctx: &'a Context,
    pub project: Project,
    pub containers: Containers,
    pub printer: Printer,
    /// No compose file: `-p NAME` and the containers' labels are all we know.
    pub from_labels: bool,
    lock: Option<LockGuard>,
}

/// How `up` (and `create`, `run`, `start`) treats what exists.
#[derive(Clone, Debug, Default)]
pub struct Converge {
    pub force_recreate: bool,
    pub no_recreate: bool,
    pub renew_anon_volumes: bool,
    pub no_start: bool,
    pub scale: HashMap<String, u32>,
    pub pull: PullPolicy,
    pub stop_timeout: Option<u64>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum PullPolicy {
    Always,
    #[default]
    Missing,
    Never,
}

impl std::str::FromStr for PullPolicy {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<PullPolicy> {
        Ok(match s {
            "always" => PullPolicy::Always,
            "missing" | "if_not_present" => PullPolicy::Missing,
            "never" => PullPolicy::Never,
            other => anyhow::bail!("invalid --pull {other:?}; hint: use always, missing or never"),
        })
    }
}

impl<'a> Session<'a> {
    /// Load the project (with the services the command names) and, for commands
    /// that change it, lock it.
    pub fn open(ctx: &'a Context, services: &[String], lock: bool) -> anyhow::Result<Session<'a>> {
        let project = ctx.load_project(services, true)?;
        Session::with_project(ctx, project, services, lock, false)
    }

    /// For commands on what exists (`down`, `ps`, `logs`, `stop`, ...): as `open`,
    /// but with `-p NAME` and no compose file, the project is its containers' labels.
    pub fn open_existing(ctx: &'a Context, services: &[String], lock: bool) -> anyhow::Result<Session<'a>> {
        match ctx.load_project(services, true) {
            Ok(project) => Session::with_project(ctx, project, services, lock, false),
            Err(e) if matches!(e.downcast_ref::<crate::compose::ComposeError>(), Some(crate::compose::ComposeError::NoConfigFile { .. })) => {
                let Some(name) = &ctx.project.project_name else { return Err(e) };
                let name = name.to_ascii_lowercase();
                crate::names::validate(crate::names::NameKind::Project, &name)?;
                let project = Project { name, ..Default::default() };
                Session::with_project(ctx, project, services, lock, true)
            }
            Err(e) => Err(e),
        }
    }

    fn with_project(ctx: &'a Context, project: Project, services: &[String], lock: bool, from_labels: bool) -> anyhow::Result<Session<'a>> {
        for name in services.iter().filter(|_| !from_labels) {
            if !project.services.contains_key(name) {
                anyhow::bail!("no such service: {name}; hint: the services are {}", project.services.keys().cloned().collect::<Vec<_>>().join(", "));
            }
        }
        let printer = ctx.printer(false);
        let lock = if lock { Some(names::lock_project(&ctx.paths, &project.name, &printer)?) } else { None };
        Ok(Session { ctx, containers: ctx.containers()?, project, printer, from_labels, lock })
    }

    /// Let other commands change the project (a foreground `up` while it follows logs).
    pub fn unlock(&mut self) {
        self.lock = None;
    }

    /// The project's containers (not one-off `run` containers unless asked).
    pub fn existing(&self, oneoff: bool) -> anyhow::Result<Vec<ContainerRecord>> {
        Ok(names::containers_of(&self.containers, &self.project.name, oneoff)?)
    }

    /// The project's containers of these services (all when empty), in start order.
    pub fn selected(&self, services: &[String], all: bool) -> anyhow::Result<Vec<ContainerRecord>> {
        let existing = self.existing(all)?;
        let order: Vec<String> = order::levels(&self.project.services, &order::selection(&self.project.services, &[], true)).concat();
        let mut out: Vec<ContainerRecord> = existing.into_iter().filter(|r| services.is_empty() || services.iter().any(|s| s == names::service_of(r))).collect();
        out.sort_by_key(|r| (order.iter().position(|s| s == names::service_of(r)).unwrap_or(usize::MAX), names::number_of(r)));
        Ok(out)
    }

    pub fn service(&self, name: &str) -> anyhow::Result<&Service> {
        self.project.services.get(name).ok_or_else(|| anyhow::anyhow!("no such service: {name}"))
    }

    /// Each service's image, pulled first when the policy says so.
    pub fn images(&self, services: &[String], policy: PullPolicy) -> anyhow::Result<HashMap<String, ImageRecord>> {
        let store = self.ctx.store()?;
        let mut out = HashMap::new();
        for name in services {
            let service = self.service(name)?;
            let Some(image) = &service.image else {
                anyhow::bail!("service {name} has no image, and rde does not build images yet; hint: build it elsewhere, push it, and set `image:`");
            };
            let record = match lookup::find(&store, image) {
                Ok((record, _)) if policy != PullPolicy::Always => record,
                Err(lookup::LookupError::NotFound(_)) if policy == PullPolicy::Never => {
                    anyhow::bail!("image {image} for service {name} is not here, and --pull never forbids pulling it")
                }
                Err(e) if !matches!(e, lookup::LookupError::NotFound(_)) => return Err(e.into()),
                _ => {
                    let reference: Reference = image.parse()?;
                    self.printer.step("Image", &reference.familiar(), "Pulling");
                    let platform = service.platform.as_deref().map(str::parse).transpose()?;
                    pull::pull(&self.ctx.registry()?, &store, &reference, &PullOptions { platform }, &self.ctx.printer(true))?;
                    self.printer.step("Image", &reference.familiar(), "Pulled");
                    lookup::find(&store, image)?.0
                }
            };
            out.insert(name.clone(), record);
        }
        Ok(out)
    }

    /// The networks these services join, made when missing (external ones must exist).
    pub fn ensure_networks(&self, services: &[String]) -> anyhow::Result<()> {
        let networks = Networks::open(&self.ctx.paths)?;
        let _lock = networks.lock()?;
        let mut keys: Vec<String> = Vec::new();
        for name in services {
            let s = self.service(name)?;
            if s.network_mode.is_some() {
                continue;
            }
            if s.networks.is_empty() {
                keys.push("default".into());
            }
            keys.extend(s.networks.keys().cloned());
        }
        keys.sort();
        keys.dedup();
        for key in keys {
            let net = self.project.networks.get(&key).cloned().unwrap_or_else(|| crate::compose::Network { name: format!("{}_{key}", self.project.name), ..Default::default() });
            match networks.get(&net.name) {
                Ok(_) => {}
                Err(crate::net::network::NetworkError::NotFound(_)) if net.external => {
                    anyhow::bail!("network {} is declared as external, but could not be found; hint: `rde network create {}`", net.name, net.name)
                }
                Err(crate::net::network::NetworkError::NotFound(_)) => {
                    if net.driver.as_deref().is_some_and(|d| d != "bridge") {
                        anyhow::bail!("network {key}: driver {:?} is not supported; hint: rde makes bridge networks", net.driver.unwrap_or_default());
                    }
                    let mut labels: std::collections::BTreeMap<String, String> = net.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                    labels.insert(names::PROJECT.into(), self.project.name.clone());
                    labels.insert(names::NETWORK.into(), key.clone());
                    networks.create(&net.name, &NetworkOptions { subnet: None, internal: net.internal, labels })?;
                    self.printer.step("Network", &net.name, "Created");
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// `up`'s heart: for each level of the dependency order, wait for the
    /// dependencies' conditions, then bring every service of the level to its
    /// desired containers in parallel. Returns the services' containers.
    pub fn converge(&self, services: &[String], how: &Converge) -> anyhow::Result<Vec<ContainerRecord>> {
        let images = self.images(services, how.pull)?;
        self.ensure_networks(services)?;
        let existing = self.existing(false)?;
        let mut result = Vec::new();
        // Services whose containers were (re)created: dependents with `restart: true` follow.
        let mut renewed: Vec<String> = Vec::new();
        for level in order::levels(&self.project.services, services) {
            if !how.no_start {
                for name in &level {
                    self.wait_dependencies(self.service(name)?, services)?;
                }
            }
            let outcomes: Vec<anyhow::Result<(Vec<ContainerRecord>, bool)>> = std::thread::scope(|scope| {
                let handles: Vec<_> = level
                    .iter()
                    .map(|name| {
                        let (images, existing, renewed) = (&images, &existing, &renewed);
                        scope.spawn(move || self.converge_service(name, &images[name], existing, how, renewed))
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(anyhow::anyhow!("a service's start panicked")))).collect()
            });
            for (name, outcome) in level.iter().zip(outcomes) {
                let (records, fresh) = outcome?;
                if fresh {
                    renewed.push(name.clone());
                }
                result.extend(records);
            }
        }
        Ok(result)
    }

    /// One service's containers as they should be; also whether any was (re)created.
    fn converge_service(&self, name: &str, image: &ImageRecord, existing: &[ContainerRecord], how: &Converge, renewed: &[String]) -> anyhow::Result<(Vec<ContainerRecord>, bool)> {
        let service = self.service(name)?;
        let replicas = how.scale.get(name).copied().or(service.deploy.as_ref().and_then(|d| d.replicas)).or(service.scale).unwrap_or(1);
        if replicas > 1 && service.container_name.is_some() {
            anyhow::bail!("service {name} sets container_name, so it cannot have {replicas} replicas; hint: remove container_name to scale it");
        }
        let hash = names::config_hash(service, &image.id.to_string());
        let ignored = Plan { project: &self.project, service, number: 1, hash: &hash, oneoff: false }.ignored();
        if !ignored.is_empty() {
            self.printer.warn(format!("service {name}: rde does not apply {} yet; ignored", ignored.join(", ")));
        }
        let mine = names::of_service(existing, name);
        let mut out = Vec::new();
        let mut fresh = false;
        // A dependency with `restart: true` was recreated: restart what is kept.
        let follow_dependency = service.depends_on.iter().any(|(dep, d)| d.restart && renewed.contains(dep));
        for number in 1..=replicas {
            let current = mine.iter().find(|r| names::number_of(r) == number).copied();
            let record = match current {
                Some(r) if how.no_recreate || (!how.force_recreate && r.labels.get(names::CONFIG_HASH) == Some(&hash)) => {
                    if follow_dependency && !how.no_start && self.containers.observe(&r.id) == Observed::Running {
                        lifecycle::stop(&self.containers, r, how.stop_timeout, &self.ctx.paths)?;
                        lifecycle::start(&self.containers, r, &self.ctx.paths, false, None)?;
                        self.printer.step("Container", &r.name, "Restarted");
                    } else {
                        self.start_if_needed(r, how)?;
                    }
                    r.clone()
                }
                Some(r) => {
                    self.printer.step("Container", &r.name, "Recreate");
                    lifecycle::stop(&self.containers, r, how.stop_timeout, &self.ctx.paths)?;
                    lifecycle::remove(&self.containers, r, true, &self.ctx.paths)?;
                    let record = self.create_container(service, number, &hash, image, how)?;
                    self.printer.step("Container", &record.name, "Recreated");
                    self.start_if_needed(&record, how)?;
                    fresh = true;
                    record
                }
                None => {
                    let record = self.create_container(service, number, &hash, image, how)?;
                    self.printer.step("Container", &record.name, "Created");
                    self.start_if_needed(&record, how)?;
                    fresh = true;
                    record
                }
            };
            out.push(record);
        }
        // Scaled down: the highest numbers go.
        for extra in mine.iter().filter(|r| names::number_of(r) > replicas) {
            lifecycle::stop(&self.containers, extra, how.stop_timeout, &self.ctx.paths)?;
            lifecycle::remove(&self.containers, extra, true, &self.ctx.paths)?;
            self.printer.step("Container", &extra.name, "Removed");
        }
        Ok((out, fresh))
    }

    fn create_container(&self, service: &Service, number: u32, hash: &str, image: &ImageRecord, how: &Converge) -> anyhow::Result<ContainerRecord> {
        let opts = Plan { project: &self.project, service, number, hash, oneoff: false }.options()?;
        if how.renew_anon_volumes {
            for v in service.volumes.iter().filter(|v| v.source.is_none() && v.kind == crate::compose::MountType::Volume) {
                let dir = self.containers.volume_dir(&names::anonymous_volume(&self.project.name, &service.name, &v.target))?;
                crate::fsutil::remove_tree(dir.parent().expect("volume dir"))?;
            }
        }
        let store = self.ctx.store()?;
        Ok(create::create(&store, &self.containers, service.image.as_deref().unwrap_or_default(), image, &opts)?)
    }

    fn start_if_needed(&self, record: &ContainerRecord, how: &Converge) -> anyhow::Result<()> {
        if how.no_start {
            return Ok(());
        }
        if matches!(self.containers.observe(&record.id), Observed::Running | Observed::Restarting(_)) {
            self.printer.step("Container", &record.name, "Running");
            return Ok(());
        }
        self.printer.step("Container", &record.name, "Starting");
        lifecycle::start(&self.containers, record, &self.ctx.paths, false, None)?;
        self.printer.step("Container", &record.name, "Started");
        Ok(())
    }

    /// Block until `service`'s dependencies meet their conditions.
    fn wait_dependencies(&self, service: &Service, chosen: &[String]) -> anyhow::Result<()> {
        let existing = self.existing(false)?;
        for (dep, dependency) in &service.depends_on {
            let records = names::of_service(&existing, dep);
            if records.is_empty() {
                if dependency.required && chosen.contains(dep) {
                    anyhow::bail!("service {} depends on {dep}, which has no container", service.name);
                }
                continue;
            }
            let condition = match dependency.condition {
                DependencyCondition::ServiceStarted => continue,
                DependencyCondition::ServiceHealthy => wait::Condition::Healthy,
                DependencyCondition::ServiceCompletedSuccessfully => wait::Condition::Completed,
            };
            for r in &records {
                self.printer.step("Container", &r.name, "Waiting");
            }
            match wait::wait_for(&self.containers, dep, &records, condition, None) {
                Ok(()) => records.iter().for_each(|r| self.printer.step("Container", &r.name, if condition == wait::Condition::Healthy { "Healthy" } else { "Exited" })),
                Err(e) if !dependency.required => self.printer.warn(format!("{e}; {} starts anyway (required: false)", service.name)),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Stop containers, dependents first (the reverse of the start order), each
    /// level in parallel; every error is reported, none stops the others.
    pub fn stop_all(&self, records: &[ContainerRecord], timeout: Option<u64>) -> Vec<String> {
        let mut levels: Vec<Vec<&ContainerRecord>> = Vec::new();
        let order = order::levels(&self.project.services, &order::selection(&self.project.services, &[], true));
        for level in order.iter().rev() {
            levels.push(records.iter().filter(|r| level.iter().any(|s| s == names::service_of(r))).collect());
        }
        // Orphans and one-off containers (services not in the file) go first.
        levels.insert(0, records.iter().filter(|r| !self.project.services.contains_key(names::service_of(r)) || r.labels.get(names::ONEOFF).is_some_and(|v| v == "True")).collect());
        let mut errors = Vec::new();
        let mut done: Vec<String> = Vec::new();
        for level in levels {
            let level: Vec<&ContainerRecord> = level.into_iter().filter(|r| !done.contains(&r.id)).collect();
            done.extend(level.iter().map(|r| r.id.clone()));
            let results: Vec<(String, Result<(), String>)> = std::thread::scope(|scope| {
                let handles: Vec<_> = level
                    .iter()
                    .filter(|r| matches!(self.containers.observe(&r.id), Observed::Running | Observed::Restarting(_) | Observed::Unknown))
                    .map(|r| {
                        self.printer.step("Container", &r.name, "Stopping");
                        scope.spawn(move || (r.name.clone(), lifecycle::stop(&self.containers, r, timeout, &self.ctx.paths).map_err(|e| e.to_string())))
                    })
                    .collect();
                handles.into_iter().filter_map(|h| h.join().ok()).collect()
            });
            for (name, result) in results {
                match result {
                    Ok(()) => self.printer.step("Container", &name, "Stopped"),
                    Err(e) => errors.push(format!("stop {name}: {e}")),
                }
            }
        }
        errors
    }

    /// Containers of services that are no longer in the compose file.
    pub fn orphans(&self) -> anyhow::Result<Vec<ContainerRecord>> {
        if self.from_labels {
            return Ok(Vec::new());
        }
        Ok(self.existing(false)?.into_iter().filter(|r| !self.project.services.contains_key(names::service_of(r))).collect())
    }

    /// Find a service's running container by replica number (`exec --index`).
    pub fn container(&self, service: &str, index: u32) -> anyhow::Result<ContainerRecord> {
        self.service(service)?;
        let existing = self.existing(false)?;
        names::of_service(&existing, service)
            .into_iter()
            .find(|r| names::number_of(r) == index)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("service {service} has no container {index}; hint: `rde up -d {service}` starts it"))
    }
}

/// `--scale web=3` flags.
pub fn parse_scale(flags: &[String]) -> anyhow::Result<HashMap<String, u32>> {
    flags
        .iter()
        .map(|f| {
            let (name, n) = f.split_once('=').ok_or_else(|| anyhow::anyhow!("invalid --scale {f:?}; hint: SERVICE=NUMBER"))?;
            Ok((name.to_string(), n.parse().map_err(|_| anyhow::anyhow!("invalid --scale {f:?}; hint: SERVICE=NUMBER"))?))
        })
        .collect()
}

/// How long a wait may take, from `--wait-timeout`.
pub fn seconds(n: Option<u64>) -> Option<Duration> {
    n.map(Duration::from_secs)
}
