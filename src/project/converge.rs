//! The converge step of `up` (and `create`, `run`'s dependencies): create,
//! recreate or start each service's containers, level by level in dependency
//! order, waiting for `depends_on` conditions.

use super::error::ProjectError;
use super::session::{PullPolicy, Session, open_store};
use super::{names, order, plan::Plan, wait};
use crate::compose::{DependencyCondition, Service};
use crate::image::store::ImageRecord;
use crate::runtime::create;
use crate::runtime::lifecycle;
use crate::runtime::state::{ContainerRecord, Observed};
use std::collections::HashMap;

/// How `up` (and `create`, `run`, `start`) treats what exists.
#[derive(Clone, Debug, Default)]
pub struct Converge {
    pub force_recreate: bool,
    pub no_recreate: bool,
    pub renew_anon_volumes: bool,
    pub no_start: bool,
    pub scale: HashMap<String, u32>,
    pub pull: PullPolicy,
    pub build: super::build::BuildPolicy,
    pub build_flags: super::build::BuildFlags,
    pub stop_timeout: Option<u64>,
}

impl Session<'_> {
    /// `up` and `create`: the orphans handled ([`Session::handle_orphans`]), then
    /// `converge`. Returns the services' containers.
    pub fn up(&self, services: &[String], how: &Converge, remove_orphans: bool) -> Result<Vec<ContainerRecord>, ProjectError> {
        self.handle_orphans(remove_orphans, how.stop_timeout)?;
        self.converge(services, how)
    }

    /// The orphans (containers of services no longer in the compose file) are stopped and
    /// removed when `remove` (or COMPOSE_REMOVE_ORPHANS is true), else warned about (unless
    /// COMPOSE_IGNORE_ORPHANS is true), as docker compose's `up`, `create` and `run`.
    pub fn handle_orphans(&self, remove: bool, stop_timeout: Option<u64>) -> Result<(), ProjectError> {
        let env_true = |name: &str| std::env::var(name).is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes"));
        let remove = remove || env_true("COMPOSE_REMOVE_ORPHANS");
        if !remove && env_true("COMPOSE_IGNORE_ORPHANS") {
            return Ok(());
        }
        let orphans = self.orphans()?;
        if !orphans.is_empty() {
            if remove {
                let errors = self.stop_all(&orphans, stop_timeout);
                for o in &orphans {
                    lifecycle::remove(&self.containers, o, true, self.paths)?;
                    self.printer.step("Container", &o.name, "Removed");
                }
                if !errors.is_empty() {
                    return Err(ProjectError::Stop(errors.join("; ")));
                }
            } else {
                let list: Vec<&str> = orphans.iter().map(|o| o.name.as_str()).collect();
                self.printer.warn(format!("Found orphan containers ({}) for this project; hint: if you removed or renamed their service in the compose file, run this command with --remove-orphans to clean them up", list.join(", ")));
            }
        }
        Ok(())
    }

    /// `up`'s heart: for each level of the dependency order, wait for the
    /// dependencies' conditions, then bring every service of the level to its
    /// desired containers in parallel. Returns the services' containers.
    pub fn converge(&self, services: &[String], how: &Converge) -> Result<Vec<ContainerRecord>, ProjectError> {
        let images = self.images(services, how.pull, how.build, &how.build_flags)?;
        self.ensure_networks(services)?;
        self.ensure_volumes(services)?;
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
            let outcomes: Vec<Result<(Vec<ContainerRecord>, bool), ProjectError>> =
                super::parallel::map(&level, |name| self.converge_service(name, &images[name], &existing, how, &renewed))
                    .into_iter()
                    .map(|r| r.unwrap_or(Err(ProjectError::Panicked)))
                    .collect();
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
    fn converge_service(
        &self,
        name: &str,
        image: &ImageRecord,
        existing: &[ContainerRecord],
        how: &Converge,
        renewed: &[String],
    ) -> Result<(Vec<ContainerRecord>, bool), ProjectError> {
        let service = self.service(name)?;
        let replicas = how.scale.get(name).copied().or(service.deploy.as_ref().and_then(|d| d.replicas)).or(service.scale).unwrap_or(1);
        if replicas > 1 && service.container_name.is_some() {
            return Err(ProjectError::ReplicasWithContainerName { service: name.to_string(), replicas });
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
                        lifecycle::stop(&self.containers, r, how.stop_timeout, self.paths)?;
                        lifecycle::start(&self.containers, r, self.paths, false, None)?;
                        self.printer.step("Container", &r.name, "Restarted");
                    } else {
                        self.start_if_needed(r, how)?;
                    }
                    r.clone()
                }
                Some(r) => {
                    self.printer.step("Container", &r.name, "Recreate");
                    lifecycle::stop(&self.containers, r, how.stop_timeout, self.paths)?;
                    lifecycle::remove(&self.containers, r, true, self.paths)?;
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
            lifecycle::stop(&self.containers, extra, how.stop_timeout, self.paths)?;
            lifecycle::remove(&self.containers, extra, true, self.paths)?;
            self.printer.step("Container", &extra.name, "Removed");
        }
        Ok((out, fresh))
    }

    fn create_container(&self, service: &Service, number: u32, hash: &str, image: &ImageRecord, how: &Converge) -> Result<ContainerRecord, ProjectError> {
        let opts = Plan { project: &self.project, service, number, hash, oneoff: false }.options()?;
        if how.renew_anon_volumes {
            for v in service.volumes.iter().filter(|v| v.source.is_none() && v.kind == crate::compose::MountType::Volume) {
                let volumes = self.containers.volumes();
                let name = names::anonymous_volume(&self.project.name, &service.name, &v.target);
                let record = volumes.get(&name).ok();
                volumes.remove(&name)?;
                if let Some(record) = record {
                    volumes.ensure(&name, &record.labels)?;
                }
            }
        }
        let store = open_store(self.paths)?;
        let image_name = super::build::image_name(&self.project.name, service);
        Ok(create::create(&store, &self.containers, &image_name, image, &opts)?)
    }

    fn start_if_needed(&self, record: &ContainerRecord, how: &Converge) -> Result<(), ProjectError> {
        if how.no_start {
            return Ok(());
        }
        if matches!(self.containers.observe(&record.id), Observed::Running | Observed::Restarting(_)) {
            self.printer.step("Container", &record.name, "Running");
            return Ok(());
        }
        self.printer.step("Container", &record.name, "Starting");
        lifecycle::start(&self.containers, record, self.paths, false, None)?;
        self.printer.step("Container", &record.name, "Started");
        Ok(())
    }

    /// Block until `service`'s dependencies meet their conditions.
    fn wait_dependencies(&self, service: &Service, chosen: &[String]) -> Result<(), ProjectError> {
        let existing = self.existing(false)?;
        for (dep, dependency) in &service.depends_on {
            let records = names::of_service(&existing, dep);
            if records.is_empty() {
                if dependency.required && chosen.contains(dep) {
                    return Err(ProjectError::NoDependencyContainer { service: service.name.clone(), dependency: dep.clone() });
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
                Ok(()) => records
                    .iter()
                    .for_each(|r| self.printer.step("Container", &r.name, if condition == wait::Condition::Healthy { "Healthy" } else { "Exited" })),
                Err(e) if !dependency.required => self.printer.warn(format!("{e}; {} starts anyway (required: false)", service.name)),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}
