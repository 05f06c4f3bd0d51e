//! A loaded compose project at run time, locked against other rde commands on
//! it: its containers, the services' images (pulled when missing), the networks
//! they join (made when missing), stopping in reverse dependency order. The
//! converge step of `up` is in `converge.rs`. Progress goes to the printer as
//! `Container NAME Started` style steps, as docker compose prints them.

use super::build::{BuildFlags, BuildPolicy};
use super::error::ProjectError;
use super::{names, order};
use crate::compose::{Project, Service};
use crate::fsutil::LockGuard;
use crate::image::auth::AuthFiles;
use crate::image::lookup;
use crate::image::pins::{self, Pins};
use crate::image::pull::{self, PullOptions};
use crate::image::reference::Reference;
use crate::image::registry::RegistryClient;
use crate::image::store::{ImageRecord, Store, StoreError};
use crate::image::unpack::OverlayXattrs;
use crate::net::network::{NetworkOptions, Networks};
use crate::output::Printer;
use crate::paths::Paths;
use crate::runtime::lifecycle;
use crate::runtime::state::{ContainerRecord, Containers, Observed};
use crate::settings::Settings;
use std::collections::BTreeMap;
use std::collections::HashMap;

/// A loaded project, locked against other rde commands on it.
pub struct Session<'a> {
    pub paths: &'a Paths,
    pub project: Project,
    pub containers: Containers,
    pub printer: Printer,
    /// No compose file: `-p NAME` and the containers' labels are all we know.
    pub from_labels: bool,
    /// `--locked`: what rde.lock does not pin is not resolved (set by `require_lock`).
    pub locked: bool,
    lock: Option<LockGuard>,
}

/// When `up`, `create` and `pull` fetch the services' images (`--pull`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum PullPolicy {
    Always,
    #[default]
    Missing,
    Never,
}

impl std::str::FromStr for PullPolicy {
    type Err = ProjectError;
    fn from_str(s: &str) -> Result<PullPolicy, ProjectError> {
        Ok(match s {
            "always" => PullPolicy::Always,
            "missing" | "if_not_present" => PullPolicy::Missing,
            "never" => PullPolicy::Never,
            other => return Err(ProjectError::InvalidPullPolicy(other.to_string())),
        })
    }
}

/// The image store under `paths`: overlayfs reads trusted.* xattrs as real root,
/// user.* inside a user namespace.
pub fn open_store(paths: &Paths) -> Result<Store, StoreError> {
    let xattrs = if paths.rootless { OverlayXattrs::User } else { OverlayXattrs::Trusted };
    Store::open(&paths.data, xattrs)
}

/// A registry client from rde's config.toml and the credential files ([`AuthFiles`]).
pub fn open_registry(paths: &Paths) -> Result<RegistryClient, ProjectError> {
    Ok(RegistryClient::new(Settings::load(&paths.config_file)?, AuthFiles::load()?, &paths.config_file))
}

impl<'a> Session<'a> {
    /// A session on a loaded project: checks that `services` are the project's
    /// (unless the project is only its containers' labels, `from_labels`) and,
    /// for commands that change it, takes the project lock (saying so when it waits).
    pub fn with_project(paths: &'a Paths, project: Project, services: &[String], lock: bool, from_labels: bool) -> Result<Session<'a>, ProjectError> {
        for name in services.iter().filter(|_| !from_labels) {
            if !project.services.contains_key(name) {
                return Err(ProjectError::NoSuchService { name: name.clone(), known: project.services.keys().cloned().collect::<Vec<_>>().join(", ") });
            }
        }
        let printer = Printer::new(false);
        let lock = if lock { Some(names::lock_project(paths, &project.name, &printer)?) } else { None };
        Ok(Session { paths, containers: Containers::open(&paths.data)?, project, printer, from_labels, locked: false, lock })
    }

    /// The pins of the project's rde.lock (none without one), strict under `--locked`.
    pub fn pins(&self) -> Result<Pins, ProjectError> {
        let (path, lock) = super::lock::LockFile::of(&self.project)?;
        self.pins_of(&path, lock.as_ref())
    }

    /// `lock`'s pins (none without one), strict under `--locked`.
    pub fn pins_of(&self, path: &std::path::Path, lock: Option<&super::lock::LockFile>) -> Result<Pins, ProjectError> {
        let mut pins = match lock {
            Some(lock) => lock.pins(path)?,
            None => Pins::none(),
        };
        pins.strict = self.locked;
        Ok(pins)
    }

    /// Let other commands change the project (a foreground `up` while it follows logs).
    pub fn unlock(&mut self) {
        self.lock = None;
    }

    /// The project's containers (not one-off `run` containers unless asked).
    pub fn existing(&self, oneoff: bool) -> Result<Vec<ContainerRecord>, ProjectError> {
        Ok(names::containers_of(&self.containers, &self.project.name, oneoff)?)
    }

    /// The project's containers of these services (all when empty), in start order.
    pub fn selected(&self, services: &[String], all: bool) -> Result<Vec<ContainerRecord>, ProjectError> {
        let existing = self.existing(all)?;
        let order: Vec<String> = order::levels(&self.project.services, &order::selection(&self.project.services, &[], true)).concat();
        let mut out: Vec<ContainerRecord> =
            existing.into_iter().filter(|r| services.is_empty() || services.iter().any(|s| s == names::service_of(r))).collect();
        out.sort_by_key(|r| (order.iter().position(|s| s == names::service_of(r)).unwrap_or(usize::MAX), names::number_of(r)));
        Ok(out)
    }

    pub fn service(&self, name: &str) -> Result<&Service, ProjectError> {
        self.project.services.get(name).ok_or_else(|| ProjectError::UnknownService(name.to_string()))
    }

    /// Each service's image: built when the service has `build:` and `build`
    /// says so, else pulled first when `policy` says so. The distinct images
    /// to pull are fetched side by side, and beside the builds (docker compose
    /// pulls in parallel too); every failure is reported, the first returned.
    pub fn images(
        &self,
        services: &[String],
        policy: PullPolicy,
        build: BuildPolicy,
        flags: &BuildFlags,
    ) -> Result<HashMap<String, ImageRecord>, ProjectError> {
        let to_build: Vec<String> =
            services.iter().filter(|s| self.project.services.get(*s).is_some_and(|svc| self.needs_build(svc, build).unwrap_or(false))).cloned().collect();
        for name in services {
            // --no-build with a missing image: say so before anything else happens.
            self.needs_build(self.service(name)?, build)?;
        }
        let store = open_store(self.paths)?;
        let pins = self.pins()?;
        let mut to_pull: Vec<(&str, &str)> = Vec::new();
        for name in services {
            let service = self.service(name)?;
            let Some(image) = service.image.as_deref().filter(|_| service.build.is_none()) else { continue };
            if to_pull.iter().any(|(_, i)| *i == image) {
                continue;
            }
            let reference: Reference = image.parse()?;
            if let Some(pin) = pins.image(&reference) {
                // Pinned: the stored image with the pinned manifest, else a pull by digest.
                if let Some(record) = pins::stored(&store, &reference, pin)? {
                    pins::retag(&store, &reference, &record)?;
                } else if policy == PullPolicy::Never {
                    return Err(ProjectError::PullNever { image: image.to_string(), service: name.clone() });
                } else {
                    to_pull.push((name, image));
                }
                continue;
            }
            match lookup::find(&store, image) {
                Ok(_) if policy != PullPolicy::Always => {}
                Err(lookup::LookupError::NotFound(_)) if policy == PullPolicy::Never => {
                    return Err(ProjectError::PullNever { image: image.to_string(), service: name.clone() });
                }
                Err(e) if !matches!(e, lookup::LookupError::NotFound(_)) => return Err(e.into()),
                _ => {
                    pins.may_resolve(|| format!("image {image} (service {name})"))?;
                    to_pull.push((name, image));
                }
            }
        }
        let mut errors: Vec<ProjectError> = std::thread::scope(|scope| {
            let pulls = scope.spawn(|| super::parallel::map(&to_pull, |(name, image)| self.pull_one(name, image, &pins)));
            let built = if to_build.is_empty() { Ok(()) } else { self.build_services(&to_build, flags) };
            let pulled = pulls.join().unwrap_or_default();
            pulled.into_iter().map(|r| r.unwrap_or(Err(ProjectError::Panicked))).chain([built]).filter_map(Result::err).collect()
        });
        if !errors.is_empty() {
            for e in &errors[1..] {
                self.printer.error(e.to_string());
            }
            return Err(errors.remove(0));
        }
        let mut out = HashMap::new();
        for name in services {
            let service = self.service(name)?;
            if service.build.is_some() {
                let image = super::build::image_name(&self.project.name, service);
                let record = lookup::find(&store, &image)?.0;
                if !to_build.contains(name)
                    && let Some(changed) = record.build.as_ref().and_then(|b| b.changed_since_built())
                {
                    self.printer.warn(format!(
                        "service {name}: image {image} was built before {} changed; hint: `rde up --build {name}` rebuilds it",
                        changed.strip_prefix(&self.project.working_dir).unwrap_or(&changed).display()
                    ));
                }
                out.insert(name.clone(), record);
                continue;
            }
            let Some(image) = &service.image else {
                return Err(ProjectError::NoImage(name.clone()));
            };
            out.insert(name.clone(), lookup::find(&store, image)?.0);
        }
        Ok(out)
    }

    /// Pull `service`'s `image` into the store, with its `platform:`, by the
    /// pinned digest when rde.lock pins it.
    fn pull_one(&self, service: &str, image: &str, pins: &Pins) -> Result<(), ProjectError> {
        let reference: Reference = image.parse()?;
        self.printer.step("Image", &reference.familiar(), "Pulling");
        let platform = self.service(service)?.platform.as_deref().map(str::parse).transpose()?;
        let opts = PullOptions { platform };
        let client = || open_registry(self.paths).map_err(|e| pins::PinError::Registry(e.to_string()));
        match pins.image(&reference) {
            Some(pin) => {
                pins::ensure(client, &open_store(self.paths)?, &reference, pin, &opts, &Printer::new(true))?;
            }
            None => {
                pull::pull(&open_registry(self.paths)?, &open_store(self.paths)?, &reference, &opts, &Printer::new(true))?;
            }
        }
        self.printer.step("Image", &reference.familiar(), "Pulled");
        Ok(())
    }

    /// The networks these services join, made when missing (external ones must exist).
    pub fn ensure_networks(&self, services: &[String]) -> Result<(), ProjectError> {
        let networks = Networks::open(self.paths)?;
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
            let net = self
                .project
                .networks
                .get(&key)
                .cloned()
                .unwrap_or_else(|| crate::compose::Network { name: format!("{}_{key}", self.project.name), ..Default::default() });
            match networks.get(&net.name) {
                Ok(_) => {}
                Err(crate::net::network::NetworkError::NotFound(_)) if net.external => return Err(ProjectError::ExternalNetworkMissing(net.name)),
                Err(crate::net::network::NetworkError::NotFound(_)) => {
                    if net.driver.as_deref().is_some_and(|d| d != "bridge") {
                        return Err(ProjectError::UnsupportedDriver { key, driver: net.driver.unwrap_or_default() });
                    }
                    let mut labels: std::collections::BTreeMap<String, String> = net.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                    labels.insert(names::PROJECT.into(), self.project.name.clone());
                    labels.insert(names::NETWORK.into(), key.clone());
                    let opts = NetworkOptions { internal: net.internal, labels, ipv6: net.enable_ipv6.unwrap_or(false), ..ipam_options(&key, &net)? };
                    networks.create(&net.name, &opts)?;
                    self.printer.step("Network", &net.name, "Created");
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// The volumes these services mount, made when missing with compose's labels (external
    /// ones must exist); anonymous ones carry docker's anonymous label.
    pub fn ensure_volumes(&self, services: &[String]) -> Result<(), ProjectError> {
        use crate::runtime::volumes::ANONYMOUS_LABEL;
        let volumes = self.containers.volumes();
        let project = (names::PROJECT.to_string(), self.project.name.clone());
        for name in services {
            let s = self.service(name)?;
            for v in s.volumes.iter().filter(|v| v.kind == crate::compose::MountType::Volume) {
                let Some(key) = &v.source else {
                    let labels = BTreeMap::from([(ANONYMOUS_LABEL.to_string(), String::new()), project.clone(), (names::SERVICE.into(), s.name.clone())]);
                    volumes.ensure(&names::anonymous_volume(&self.project.name, &s.name, &v.target), &labels)?;
                    continue;
                };
                // A name not declared at the top level is a volume of its own name, as docker's `-v`.
                let Some(declared) = self.project.volumes.get(key) else {
                    volumes.ensure(key, &BTreeMap::new())?;
                    continue;
                };
                if declared.external {
                    volumes.get(&declared.name).map_err(|_| ProjectError::ExternalVolumeMissing(declared.name.clone()))?;
                    continue;
                }
                if let Some(driver) = declared.driver.as_deref().filter(|d| *d != "local") {
                    return Err(ProjectError::UnsupportedVolumeDriver { key: key.clone(), driver: driver.to_string() });
                }
                let mut labels: BTreeMap<String, String> = declared.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                labels.extend([project.clone(), (names::VOLUME.into(), key.clone())]);
                let options: BTreeMap<String, String> = declared.driver_opts.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                if volumes.ensure_with(&declared.name, &labels, &options)?.1 {
                    self.printer.step("Volume", &format!("\"{}\"", declared.name), "Created");
                }
            }
        }
        Ok(())
    }

    /// `down` without its options: `records` stopped (dependents first) and removed, then the
    /// project's networks (the file's, or without a file those labelled with the project).
    /// Goes on after a failure; returns every error.
    pub fn take_down(&self, records: &[ContainerRecord], timeout: Option<u64>) -> Result<Vec<String>, ProjectError> {
        let mut errors = self.stop_all(records, timeout);
        // Stopped: nothing orders the removals, so they run side by side.
        let removed: Vec<(String, Result<(), String>)> =
            super::parallel::map(records, |r| (r.name.clone(), lifecycle::remove(&self.containers, r, true, self.paths).map_err(|e| e.to_string())))
                .into_iter()
                .filter_map(Result::ok)
                .collect();
        for (name, result) in removed {
            match result {
                Ok(()) => self.printer.step("Container", &name, "Removed"),
                Err(e) => errors.push(format!("remove {name}: {e}")),
            }
        }
        let networks = Networks::open(self.paths)?;
        let existing: Vec<crate::net::network::Network> = {
            let _lock = networks.lock()?;
            networks.all()?
        };
        let mut doomed: Vec<String> = Vec::new();
        if self.from_labels {
            doomed.extend(existing.iter().filter(|n| n.labels.get(names::PROJECT) == Some(&self.project.name)).map(|n| n.name.clone()));
        } else {
            let mut keys: Vec<&String> = self.project.networks.keys().collect();
            let default = "default".to_string();
            if !keys.contains(&&default) {
                keys.push(&default);
            }
            for key in keys {
                match self.project.networks.get(key) {
                    Some(n) if n.external => {}
                    Some(n) => doomed.push(n.name.clone()),
                    None => doomed.push(format!("{}_{key}", self.project.name)),
                }
            }
        }
        for name in doomed {
            if existing.iter().any(|n| n.name == name) {
                match crate::runtime::networks::remove_named(self.paths, &self.containers, &networks, &name) {
                    Ok(()) => self.printer.step("Network", &name, "Removed"),
                    Err(e) => errors.push(crate::output::error_chain(&e)),
                }
            }
        }
        Ok(errors)
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
        levels.insert(
            0,
            records
                .iter()
                .filter(|r| !self.project.services.contains_key(names::service_of(r)) || r.labels.get(names::ONEOFF).is_some_and(|v| v == "True"))
                .collect(),
        );
        let mut errors = Vec::new();
        let mut done: Vec<String> = Vec::new();
        for level in levels {
            let level: Vec<&ContainerRecord> = level.into_iter().filter(|r| !done.contains(&r.id)).collect();
            done.extend(level.iter().map(|r| r.id.clone()));
            let running: Vec<&ContainerRecord> = level
                .into_iter()
                .filter(|r| matches!(self.containers.observe(&r.id), Observed::Running | Observed::Restarting(_) | Observed::Unknown))
                .collect();
            running.iter().for_each(|r| self.printer.step("Container", &r.name, "Stopping"));
            let results: Vec<(String, Result<(), String>)> =
                super::parallel::map(&running, |r| (r.name.clone(), lifecycle::stop(&self.containers, r, timeout, self.paths).map_err(|e| e.to_string())))
                    .into_iter()
                    .filter_map(Result::ok)
                    .collect();
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
    pub fn orphans(&self) -> Result<Vec<ContainerRecord>, ProjectError> {
        if self.from_labels {
            return Ok(Vec::new());
        }
        Ok(self.existing(false)?.into_iter().filter(|r| !self.project.services.contains_key(names::service_of(r))).collect())
    }

    /// Find a service's running container by replica number (`exec --index`).
    pub fn container(&self, service: &str, index: u32) -> Result<ContainerRecord, ProjectError> {
        self.service(service)?;
        let existing = self.existing(false)?;
        names::of_service(&existing, service)
            .into_iter()
            .find(|r| names::number_of(r) == index)
            .cloned()
            .ok_or_else(|| ProjectError::NoContainer { service: service.to_string(), index })
    }
}

/// A compose network's `ipam.config` entries (`subnet`, `ip_range`, `gateway`;
/// an IPv6 subnet makes the network dual stack, as compose v2 does when
/// `enable_ipv6` is set) as network options.
fn ipam_options(key: &str, net: &crate::compose::Network) -> Result<NetworkOptions, ProjectError> {
    let bad = |what: String| ProjectError::Ipam { key: key.to_string(), what };
    let mut opts = NetworkOptions::default();
    let configs = net.extra.get("ipam").and_then(|i| i.get("config")).and_then(|c| c.as_array()).cloned().unwrap_or_default();
    for config in configs {
        let field = |name: &str| config.get(name).and_then(|v| v.as_str()).map(str::to_string);
        let Some(subnet) = field("subnet") else { continue };
        if subnet.contains(':') {
            if net.enable_ipv6 == Some(false) {
                return Err(bad(format!("subnet {subnet} is IPv6 but enable_ipv6 is false; hint: set enable_ipv6: true")));
            }
            opts.subnet6 = Some(subnet.parse().map_err(|e: crate::net::ipam::InvalidSubnet6| bad(e.to_string()))?);
            opts.ip_range6 = field("ip_range").map(|r| r.parse().map_err(|e: crate::net::ipam::InvalidSubnet6| bad(e.to_string()))).transpose()?;
            opts.gateway6 = field("gateway").map(|g| g.parse().map_err(|_| bad(format!("gateway {g:?} is not an IPv6 address")))).transpose()?;
        } else {
            opts.subnet = Some(subnet.parse().map_err(|e: crate::net::ipam::InvalidSubnet| bad(e.to_string()))?);
            opts.gateway = field("gateway").map(|g| g.parse().map_err(|_| bad(format!("gateway {g:?} is not an IPv4 address")))).transpose()?;
            opts.ip_range = field("ip_range").map(|r| r.parse().map_err(|e: crate::net::ipam::InvalidSubnet| bad(e.to_string()))).transpose()?;
        }
    }
    Ok(opts)
}
