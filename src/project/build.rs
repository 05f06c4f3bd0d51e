//! Compose's `build:` (compose spec, "Compose Build Specification"): the
//! services' images made with rde's builder (`build/`). The image is named by
//! `image:` when the service has one, else `<project>-<service>` as docker
//! compose names it. Services with the same build are built once.

use super::error::ProjectError;
use super::session::{Session, open_registry, open_store};
use crate::build::{self, BuildNetwork, BuildOptions, DockerfileSource};
use crate::compose::Service;
use crate::image::lookup;
use crate::image::reference::Reference;
use std::collections::BTreeMap;

/// When `up`, `create` and `run` build the services' images.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum BuildPolicy {
    /// Build an image that is missing (`up`).
    #[default]
    Missing,
    /// Build every image (`up --build`, `rde build`, `pull_policy: build`).
    Always,
    /// Never build: a missing image is an error (`up --no-build`).
    Never,
}

/// `rde build`'s and `up --build`'s options for every build.
#[derive(Clone, Debug, Default)]
pub struct BuildFlags {
    pub no_cache: bool,
    pub pull: bool,
    /// `--build-arg K=V` (over the compose file's `args`).
    pub build_args: BTreeMap<String, String>,
    pub progress: build::progress::ProgressMode,
}

/// The image a service's build makes: `image:` or `<project>-<service>`.
pub fn image_name(project: &str, service: &Service) -> String {
    service.image.clone().unwrap_or_else(|| format!("{project}-{}", service.name))
}

impl Session<'_> {
    /// Build the images of those of `services` that have `build:`: each
    /// distinct build once, tagged with every name that wants it.
    pub fn build_services(&self, services: &[String], flags: &BuildFlags) -> Result<(), ProjectError> {
        let mut seen: Vec<(String, Vec<String>)> = Vec::new();
        for name in services {
            let service = self.service(name)?;
            let Some(b) = &service.build else { continue };
            let key = format!("{:?}", (&b.context, &b.dockerfile, &b.dockerfile_inline, &b.args, &b.target, &b.labels));
            let image = image_name(&self.project.name, service);
            match seen.iter_mut().find(|(k, _)| *k == key) {
                Some((_, names)) => names.push(image),
                None => seen.push((key, vec![image])),
            }
        }
        let builds: Vec<(&Service, Vec<String>)> = seen
            .into_iter()
            .map(|(_, images)| {
                let first = services
                    .iter()
                    .map(|s| &self.project.services[s])
                    .find(|s| s.build.is_some() && images.contains(&image_name(&self.project.name, s)))
                    .expect("a service");
                (first, images)
            })
            .collect();
        if let [(service, images)] = builds.as_slice() {
            return self.build_one(service, images, flags, None);
        }
        // Independent builds side by side, their lines prefixed with the service; every failure is reported.
        let mut flags = flags.clone();
        if matches!(flags.progress, build::progress::ProgressMode::Auto | build::progress::ProgressMode::Tty) {
            flags.progress = build::progress::ProgressMode::Plain;
        }
        let results: Vec<Result<(), ProjectError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = builds.iter().map(|(service, images)| scope.spawn(|| self.build_one(service, images, &flags, Some(&service.name)))).collect();
            handles.into_iter().map(|h| h.join().unwrap_or(Err(ProjectError::Panicked))).collect()
        });
        let mut errors: Vec<ProjectError> = results.into_iter().filter_map(Result::err).collect();
        if errors.is_empty() {
            return Ok(());
        }
        for e in &errors[1..] {
            self.printer.error(e.to_string());
        }
        Err(errors.remove(0))
    }

    /// Whether `service`'s image must be built now under `policy`.
    pub fn needs_build(&self, service: &Service, policy: BuildPolicy) -> Result<bool, ProjectError> {
        if service.build.is_none() {
            return Ok(false);
        }
        if policy == BuildPolicy::Always || service.pull_policy.as_deref() == Some("build") {
            return Ok(policy != BuildPolicy::Never);
        }
        let store = open_store(self.paths)?;
        match lookup::find(&store, &image_name(&self.project.name, service)) {
            Ok(_) => Ok(false),
            Err(lookup::LookupError::NotFound(_)) if policy == BuildPolicy::Never => Err(ProjectError::NoBuild(service.name.clone())),
            Err(lookup::LookupError::NotFound(_)) => Ok(true),
            Err(e) => Err(e.into()),
        }
    }

    fn build_one(&self, service: &Service, images: &[String], flags: &BuildFlags, prefix: Option<&str>) -> Result<(), ProjectError> {
        let opts = self.build_options(service, images, flags, prefix)?;
        self.printer.step("Image", &images[0], "Building");
        let store = open_store(self.paths)?;
        let paths = self.paths;
        let registry = || open_registry(paths).map_err(|e| e.to_string());
        let env = build::Env { store: &store, containers: &self.containers, paths: self.paths, registry: &registry, printer: &self.printer };
        build::build(&env, &opts).map_err(|e| ProjectError::Build { service: service.name.clone(), source: Box::new(e) })?;
        self.printer.step("Image", &images[0], "Built");
        Ok(())
    }

    /// The builder's options for `service`'s `build:` section, tagged `images`,
    /// with rde.lock's pins. Warns about the options rde does not apply.
    pub fn build_options(&self, service: &Service, images: &[String], flags: &BuildFlags, prefix: Option<&str>) -> Result<BuildOptions, ProjectError> {
        let b = service.build.as_ref().expect("a build");
        let unsupported = |what: &str| ProjectError::BuildOption { service: service.name.clone(), option: what.to_string() };
        if b.context.contains("://") || b.context.starts_with("git@") {
            return Err(unsupported("a remote context"));
        }
        let ignored: Vec<&str> = [
            (!b.cache_from.is_empty(), "cache_from"),
            (!b.cache_to.is_empty(), "cache_to"),
            (
                b.platforms.iter().any(|p| {
                    p.parse::<crate::image::platform::Platform>().is_ok_and(|p| p.architecture != crate::image::platform::Platform::host().architecture)
                }),
                "platforms other than the host's",
            ),
        ]
        .into_iter()
        .filter_map(|(set, name)| set.then_some(name))
        .chain(b.extra.keys().map(String::as_str).filter(|k| !matches!(*k, "secrets" | "ulimits" | "additional_contexts")))
        .collect();
        if !ignored.is_empty() {
            self.printer.warn(format!("service {:?}: build option(s) {} not applied by rde; ignored", service.name, ignored.join(", ")));
        }
        let context = std::path::PathBuf::from(&b.context);
        let dockerfile = match &b.dockerfile_inline {
            Some(text) => DockerfileSource::Text(text.clone()),
            None => DockerfileSource::Path(context.join(&b.dockerfile)),
        };
        let mut build_args: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in &b.args {
            match v {
                Some(v) => {
                    build_args.insert(k.clone(), v.clone());
                }
                // A key without a value takes it from the environment (compose spec), or stays unset.
                None => {
                    if let Ok(v) = std::env::var(k) {
                        build_args.insert(k.clone(), v);
                    }
                }
            }
        }
        build_args.extend(flags.build_args.clone());
        let mut tags = Vec::new();
        for name in images.iter().chain(&b.tags) {
            tags.push(name.parse::<Reference>().map_err(|e| ProjectError::BuildTag {
                service: service.name.clone(),
                tag: name.clone(),
                message: e.to_string(),
            })?);
        }
        let network = match b.network.as_deref() {
            None | Some("default") | Some("bridge") => BuildNetwork::Default,
            Some("none") => BuildNetwork::None,
            Some("host") => BuildNetwork::Host,
            Some(other) => return Err(unsupported(&format!("network: {other}"))),
        };
        let add_hosts = b.extra_hosts.iter().flat_map(|(host, ips)| ips.iter().map(move |ip| (host.clone(), ip.clone()))).collect();
        // One read of rde.lock: its pins and its SOURCE_DATE_EPOCH.
        let (lock_path, lock) = super::lock::LockFile::of(&self.project)?;
        let opts = BuildOptions {
            context,
            dockerfile,
            tags,
            build_args,
            target: b.target.clone(),
            no_cache: flags.no_cache || b.no_cache,
            pull: flags.pull || b.pull,
            labels: b.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            network,
            add_hosts,
            secrets: self.build_secrets(service)?,
            ulimits: build_ulimits(b.extra.get("ulimits")),
            shm_size: b.shm_size,
            named_contexts: additional_contexts(b.extra.get("additional_contexts"), &b.context),
            progress: flags.progress,
            progress_prefix: prefix.map(str::to_string),
            pins: self.pins_of(&lock_path, lock.as_ref())?,
            source_date_epoch: match crate::build::source_date_epoch_from_env()
                .map_err(|e| ProjectError::BuildOption { service: service.name.clone(), option: e })?
            {
                Some(epoch) => Some(epoch),
                None => lock.as_ref().map(|l| l.source_date_epoch),
            },
        };
        Ok(opts)
    }
}

/// A build's `additional_contexts:` (map or `NAME=VALUE` list): directories
/// relative to the build context, or `docker-image://REF` as written.
fn additional_contexts(value: Option<&serde_json::Value>, context: &str) -> BTreeMap<String, String> {
    let pairs: Vec<(String, String)> = match value {
        Some(serde_json::Value::Object(o)) => o.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect(),
        Some(serde_json::Value::Array(a)) => a.iter().filter_map(|v| v.as_str()?.split_once('=').map(|(k, v)| (k.to_string(), v.to_string()))).collect(),
        _ => Vec::new(),
    };
    pairs
        .into_iter()
        .map(|(k, v)| {
            let v = if v.contains("://") || v.starts_with('/') { v } else { std::path::Path::new(context).join(v).display().to_string() };
            (k, v)
        })
        .collect()
}

/// A build's `ulimits:` (compose: `nofile: 1024` or `nofile: {soft: 1024, hard: 2048}`).
fn build_ulimits(value: Option<&serde_json::Value>) -> Vec<(String, u64, u64)> {
    let Some(map) = value.and_then(|v| v.as_object()) else { return Vec::new() };
    map.iter()
        .filter_map(|(name, v)| match v {
            serde_json::Value::Number(n) => n.as_u64().map(|n| (name.clone(), n, n)),
            serde_json::Value::Object(o) => Some((name.clone(), o.get("soft")?.as_u64()?, o.get("hard")?.as_u64()?)),
            _ => None,
        })
        .collect()
}

impl Session<'_> {
    /// A build's `secrets:` (short `NAME` or long `{source, target}`), each a
    /// top-level secret with a `file:` or an `environment:`, as the builder's
    /// `--secret id=...`: the id is the target's name, else the source's.
    fn build_secrets(&self, service: &Service) -> Result<BTreeMap<String, std::path::PathBuf>, ProjectError> {
        let mut out = BTreeMap::new();
        let Some(list) = service.build.as_ref().and_then(|b| b.extra.get("secrets")).and_then(|v| v.as_array()) else { return Ok(out) };
        let bad = |message: String| ProjectError::BuildOption { service: service.name.clone(), option: message };
        for entry in list {
            let (source, target) = match entry {
                serde_json::Value::String(s) => (s.clone(), None),
                serde_json::Value::Object(o) => (
                    o.get("source").and_then(|v| v.as_str()).unwrap_or_default().to_string(),
                    o.get("target").and_then(|v| v.as_str()).map(|t| t.rsplit('/').next().unwrap_or(t).to_string()),
                ),
                _ => continue,
            };
            let secret =
                self.project.secrets.get(&source).ok_or_else(|| bad(format!("secret {source:?}, which is not defined under the top-level secrets:")))?;
            let path = match (&secret.file, &secret.environment) {
                (Some(file), _) => file.clone(),
                (None, Some(var)) => {
                    let value = std::env::var(var).map_err(|_| bad(format!("secret {source:?} from environment variable {var}, which is not set")))?;
                    let dir = self.paths.run.join("secrets");
                    std::fs::create_dir_all(&dir)?;
                    let path = dir.join(format!("{}-{}-{source}", std::process::id(), service.name));
                    crate::fsutil::write_atomic(&path, value.as_bytes(), 0o600)?;
                    path
                }
                _ => return Err(bad(format!("secret {source:?} without file: or environment:"))),
            };
            out.insert(target.unwrap_or(source), path);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_images_are_named_as_docker_compose_names_them() {
        let mut s = Service { name: "web".into(), ..Default::default() };
        assert_eq!(image_name("shop", &s), "shop-web");
        s.image = Some("registry.local/shop/web:dev".into());
        assert_eq!(image_name("shop", &s), "registry.local/shop/web:dev");
    }
}
