//! Networks as containers use them: which ones no container refers to, and
//! removing one only when no container does (`rde network rm`, `network prune`,
//! `system prune`, `down`).

use super::state::{Containers, StateError};
use crate::net::connect::{self, ConnectError};
use crate::net::network::{DEFAULT_NETWORK, Network, NetworkError, Networks};
use crate::paths::Paths;

#[derive(Debug, thiserror::Error)]
pub enum NetworkRemoveError {
    #[error("network {network} is used by container(s) {}; hint: remove them first: rde container rm -f {}", users.join(", "), users.join(" "))]
    InUse { network: String, users: Vec<String> },
    #[error(transparent)]
    Network(#[from] NetworkError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Connect(#[from] ConnectError),
}

/// Names of networks, other than the default, that no container refers to.
pub fn unused(paths: &Paths, containers: &Containers) -> Result<Vec<String>, NetworkRemoveError> {
    let used: Vec<String> = containers.all()?.iter().flat_map(|r| r.network.network_names()).collect();
    let networks = Networks::open(paths)?;
    Ok(networks.all()?.into_iter().map(|n| n.name).filter(|n| n != DEFAULT_NETWORK && !used.contains(n)).collect())
}

/// Take the default network's bridge and rules down when no container refers to
/// it (`network prune`, `system prune`); the network itself stays, as docker's
/// `bridge` does, and comes up again with the next container.
pub fn default_down_if_unused(paths: &Paths, containers: &Containers) -> Result<(), NetworkRemoveError> {
    if containers.all()?.iter().any(|r| r.network.network_names().iter().any(|n| n == DEFAULT_NETWORK)) {
        return Ok(());
    }
    if let Some(default) = Networks::open(paths)?.all()?.into_iter().find(|n| n.name == DEFAULT_NETWORK) {
        connect::remove_network(paths, &default, false)?;
    }
    Ok(())
}

/// Remove the network `name` (its bridge and its definition) unless a container
/// uses it; a corrupt record is all that is known of it, so it is forgotten.
pub fn remove_named(paths: &Paths, containers: &Containers, networks: &Networks, name: &str) -> Result<(), NetworkRemoveError> {
    let network = {
        let _lock = networks.lock()?;
        match networks.get(name) {
            // Its record is all that is known of it: forget it.
            Err(NetworkError::Corrupt { .. }) => return Ok(networks.remove(name)?),
            other => other?,
        }
    };
    remove(paths, containers, &network)
}

fn remove(paths: &Paths, containers: &Containers, network: &Network) -> Result<(), NetworkRemoveError> {
    if network.name == DEFAULT_NETWORK {
        return Err(NetworkError::Default(network.name.clone()).into());
    }
    let users: Vec<String> = containers.all()?.into_iter().filter(|r| r.network.network_names().contains(&network.name)).map(|r| r.name).collect();
    if !users.is_empty() {
        return Err(NetworkRemoveError::InUse { network: network.name.clone(), users });
    }
    connect::remove_network(paths, network, true)?;
    Ok(())
}
