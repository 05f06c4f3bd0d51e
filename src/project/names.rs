//! Names and labels as docker compose writes them, so that what `rde ps` and
//! `rde down` find is exactly what `rde up` made: containers
//! `<project>-<service>-<n>`, network `<project>_default`, volumes
//! `<project>_<name>`, one-off `run` containers `<project>-<service>-run-<hex>`.

use crate::compose::{Project, Service};
use crate::fsutil::LockGuard;
use crate::paths::Paths;
use crate::runtime::state::{ContainerRecord, Containers, StateError};
use sha2::{Digest as _, Sha256};

pub const PROJECT: &str = "com.docker.compose.project";
pub const SERVICE: &str = "com.docker.compose.service";
pub const NUMBER: &str = "com.docker.compose.container-number";
pub const CONFIG_HASH: &str = "com.docker.compose.config-hash";
pub const ONEOFF: &str = "com.docker.compose.oneoff";
pub const WORKING_DIR: &str = "com.docker.compose.project.working_dir";
pub const CONFIG_FILES: &str = "com.docker.compose.project.config_files";
pub const NETWORK: &str = "com.docker.compose.network";
pub const VOLUME: &str = "com.docker.compose.volume";

pub fn container_name(project: &str, service: &Service, number: u32) -> String {
    match &service.container_name {
        Some(name) => name.clone(),
        None => format!("{project}-{}-{number}", service.name),
    }
}

/// What decides whether a running container still matches its service: the
/// service as loaded (every field) and the image it runs.
pub fn config_hash(service: &Service, image_id: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(format!("{service:?}").as_bytes());
    hasher.update(image_id.as_bytes());
    hex::encode(hasher.finalize())
}

/// The project's containers (one-off `run` containers only when asked), by service then number.
pub fn containers_of(containers: &Containers, project: &str, oneoff: bool) -> Result<Vec<ContainerRecord>, StateError> {
    let mut list: Vec<ContainerRecord> = containers
        .all()?
        .into_iter()
        .filter(|r| r.labels.get(PROJECT).is_some_and(|p| p == project))
        .filter(|r| oneoff || r.labels.get(ONEOFF).is_none_or(|v| v != "True"))
        .collect();
    list.sort_by(|a, b| (service_of(a), number_of(a)).cmp(&(service_of(b), number_of(b))));
    Ok(list)
}

pub fn service_of(record: &ContainerRecord) -> &str {
    record.labels.get(SERVICE).map(String::as_str).unwrap_or("")
}

pub fn number_of(record: &ContainerRecord) -> u32 {
    record.labels.get(NUMBER).and_then(|n| n.parse().ok()).unwrap_or(1)
}

/// A service's containers among `all`.
pub fn of_service<'a>(all: &'a [ContainerRecord], service: &str) -> Vec<&'a ContainerRecord> {
    all.iter().filter(|r| service_of(r) == service).collect()
}

/// The labels every container of the project carries.
pub fn labels(project: &Project, service: &Service, number: u32, hash: &str, oneoff: bool) -> std::collections::BTreeMap<String, String> {
    let mut labels: std::collections::BTreeMap<String, String> = service.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    labels.insert(PROJECT.into(), project.name.clone());
    labels.insert(SERVICE.into(), service.name.clone());
    labels.insert(NUMBER.into(), number.to_string());
    labels.insert(CONFIG_HASH.into(), hash.to_string());
    labels.insert(ONEOFF.into(), if oneoff { "True" } else { "False" }.into());
    labels.insert(WORKING_DIR.into(), project.working_dir.display().to_string());
    labels.insert(CONFIG_FILES.into(), project.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(","));
    labels
}

/// An anonymous volume (`- /data` in a service) keeps its name across
/// recreations: `<project>_<service>_<hash of the path>`.
pub fn anonymous_volume(project: &str, service: &str, target: &str) -> String {
    let digest = Sha256::digest(target.as_bytes());
    format!("{project}_{service}_{}", &hex::encode(digest)[..12])
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot lock project {project}: {source}")]
    Io { project: String, source: std::io::Error },
    #[error(transparent)]
    Name(#[from] crate::names::NameError),
}

/// One command at a time changes a project: `up` in two shells cannot both
/// create its containers. Says so when it has to wait.
pub fn lock_project(paths: &Paths, project: &str, printer: &crate::output::Printer) -> Result<LockGuard, LockError> {
    // The name is a file name here: never a path, whatever the caller checked.
    crate::names::validate(crate::names::NameKind::Project, project)?;
    let path = paths.data.join("projects").join(format!("{project}.lock"));
    let io = |source| LockError::Io { project: project.to_string(), source };
    std::fs::create_dir_all(path.parent().expect("projects dir")).map_err(io)?;
    if let Some(guard) = crate::fsutil::try_lock_exclusive(&path).map_err(io)? {
        return Ok(guard);
    }
    printer.status(format!("Waiting for another rde command on project {project} to finish"));
    crate::fsutil::lock_exclusive(&path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_compose() {
        let mut s = Service { name: "web".into(), ..Default::default() };
        assert_eq!(container_name("shop", &s, 2), "shop-web-2");
        s.container_name = Some("custom".into());
        assert_eq!(container_name("shop", &s, 1), "custom");
        let a = anonymous_volume("shop", "db", "/data");
        assert_eq!(a, anonymous_volume("shop", "db", "/data"));
        assert_ne!(a, anonymous_volume("shop", "db", "/other"));
        assert!(a.starts_with("shop_db_"));
    }

    #[test]
    fn the_hash_changes_with_the_config_and_the_image() {
        let s = Service { name: "web".into(), image: Some("python:3.11".into()), ..Default::default() };
        let mut t = s.clone();
        assert_eq!(config_hash(&s, "sha256:a"), config_hash(&t, "sha256:a"));
        assert_ne!(config_hash(&s, "sha256:a"), config_hash(&s, "sha256:b"));
        t.environment.insert("DEBUG".into(), Some("1".into()));
        assert_ne!(config_hash(&s, "sha256:a"), config_hash(&t, "sha256:a"));
    }
}
