//! What every command needs: where the state lives, the printer, and lazily the
//! image store and registry client.

use crate::image::auth::DockerConfig;
use crate::image::registry::RegistryClient;
use crate::image::settings::Settings;
use crate::image::store::Store;
use crate::image::unpack::OverlayXattrs;
use crate::output::Printer;
use crate::paths::Paths;

pub struct Context {
    pub paths: Paths,
}

impl Context {
    pub fn new() -> Context {
        Context { paths: Paths::detect() }
    }

    pub fn printer(&self, quiet: bool) -> Printer {
        Printer::new(quiet)
    }

    pub fn store(&self) -> anyhow::Result<Store> {
        // overlayfs reads trusted.* xattrs as real root, user.* inside a user namespace.
        let xattrs = if self.paths.rootless { OverlayXattrs::User } else { OverlayXattrs::Trusted };
        Ok(Store::open(&self.paths.data, xattrs)?)
    }

    pub fn settings(&self) -> anyhow::Result<Settings> {
        Ok(Settings::load(&self.paths.config_file)?)
    }

    pub fn registry(&self) -> anyhow::Result<RegistryClient> {
        Ok(RegistryClient::new(self.settings()?, DockerConfig::load()?, &self.paths.config_file))
    }
}
