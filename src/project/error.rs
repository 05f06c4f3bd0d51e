//! What can go wrong running a project: its own refusals, one line each with a
//! hint, and the lower layers' errors passed through unchanged.

use crate::image::lookup::LookupError;
use crate::image::platform::InvalidPlatform;
use crate::image::pull::PullError;
use crate::image::reference::ReferenceError;
use crate::image::store::StoreError;
use crate::net::network::NetworkError;
use crate::runtime::create::CreateError;
use crate::runtime::lifecycle::LifecycleError;
use crate::runtime::state::StateError;

#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// A command named a service the compose file does not have; `known` lists them.
    #[error("no such service: {name}; hint: the services are {known}")]
    NoSuchService { name: String, known: String },
    /// A lookup by name in the loaded project (no list of the others).
    #[error("no such service: {0}")]
    UnknownService(String),
    #[error("service {0} has neither image nor build; hint: set `image:` or `build:`")]
    NoImage(String),
    #[error("service {0}'s image is not built and --no-build forbids building it; hint: `rde build {0}`, or leave out --no-build")]
    NoBuild(String),
    #[error("service {service}: build with {option} is not supported by rde")]
    BuildOption { service: String, option: String },
    #[error("service {service}: invalid image tag {tag:?}: {message}")]
    BuildTag { service: String, tag: String, message: String },
    /// Boxed: build errors are large.
    #[error("service {service}: {source}")]
    Build { service: String, source: Box<crate::build::BuildError> },
    #[error("image {image} for service {service} is not here, and --pull never forbids pulling it")]
    PullNever { image: String, service: String },
    #[error("invalid --pull {0:?}; hint: use always, missing or never")]
    InvalidPullPolicy(String),
    #[error("network {0} is declared as external, but could not be found; hint: `rde network create {0}`")]
    ExternalNetworkMissing(String),
    #[error("volume {0} is declared as external, but could not be found; hint: `rde volume create {0}`")]
    ExternalVolumeMissing(String),
    #[error("volume {key}: driver {driver:?} is not supported; hint: rde keeps volumes with the local driver")]
    UnsupportedVolumeDriver { key: String, driver: String },
    #[error(transparent)]
    Volume(#[from] crate::runtime::volumes::VolumeError),
    #[error("network {key}: driver {driver:?} is not supported; hint: rde makes bridge networks")]
    UnsupportedDriver { key: String, driver: String },
    #[error("network {key}: ipam.config: {what}")]
    Ipam { key: String, what: String },
    #[error("service {service} sets container_name, so it cannot have {replicas} replicas; hint: remove container_name to scale it")]
    ReplicasWithContainerName { service: String, replicas: u32 },
    #[error("service {service} depends on {dependency}, which has no container")]
    NoDependencyContainer { service: String, dependency: String },
    #[error("service {service} has no container {index}; hint: `rde up -d {service}` starts it")]
    NoContainer { service: String, index: u32 },
    /// Every container that could not be stopped, `stop NAME: why; ...`.
    #[error("{0}")]
    Stop(String),
    #[error("a service's start panicked")]
    Panicked,
    #[error(transparent)]
    Lock(#[from] super::names::LockError),
    #[error(transparent)]
    LockFile(#[from] super::lock::LockError),
    #[error("cannot lock {0}")]
    LockUrl(String),
    #[error(transparent)]
    Pin(#[from] crate::image::pins::PinError),
    #[error(transparent)]
    Plan(#[from] super::plan::PlanError),
    #[error(transparent)]
    Wait(#[from] super::wait::WaitError),
    #[error(transparent)]
    Lookup(#[from] LookupError),
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    #[error(transparent)]
    Platform(#[from] InvalidPlatform),
    /// Boxed: a pull error is large, and every result of the project carries this enum.
    #[error(transparent)]
    Pull(Box<PullError>),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Settings(#[from] crate::settings::SettingsError),
    #[error(transparent)]
    Auth(#[from] crate::image::auth::AuthError),
    #[error(transparent)]
    Network(#[from] NetworkError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Create(#[from] CreateError),
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl From<PullError> for ProjectError {
    fn from(e: PullError) -> ProjectError {
        ProjectError::Pull(Box::new(e))
    }
}
