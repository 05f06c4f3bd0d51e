//! What every command needs: where the state lives, the printer, and lazily the
//! image store and registry client.

use crate::image::registry::RegistryClient;
use crate::image::store::Store;
use crate::output::Printer;
use crate::paths::Paths;
use crate::project::Session;
use crate::settings::Settings;

pub struct Context {
    pub paths: Paths,
    pub project: super::args::ProjectArgs,
}

impl Context {
    pub fn new(project: super::args::ProjectArgs) -> Context {
        Context { paths: Paths::detect(), project }
    }

    /// Load the compose project named by the global flags, printing its warnings.
    pub fn load_project(&self, services: &[String], interpolate: bool) -> anyhow::Result<crate::compose::Project> {
        use std::io::Read;
        let mut opts = crate::compose::ProjectOptions::from_process()?;
        opts.files = self.project.files.clone();
        opts.project_name = self.project.project_name.clone();
        opts.env_files = self.project.env_files.clone();
        opts.profiles = self.project.profiles.clone();
        opts.project_directory = self.project.project_directory.clone();
        opts.services = services.to_vec();
        opts.interpolate = interpolate;
        if opts.files.iter().any(|f| f.as_os_str() == "-") {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text)?;
            opts.stdin = Some(text);
        }
        let project = crate::compose::load_project(&opts)?;
        let printer = self.printer(false);
        for warning in &project.warnings {
            printer.warn(warning.to_string());
        }
        Ok(project)
    }

    /// Load the project (with the services the command names) and, for commands
    /// that change it, lock it.
    pub fn session(&self, services: &[String], lock: bool) -> anyhow::Result<Session<'_>> {
        let project = self.load_project(services, true)?;
        Ok(Session::with_project(&self.paths, project, services, lock, false)?)
    }

    /// For commands on what exists (`down`, `ps`, `logs`, `stop`, ...): as `session`,
    /// but with `-p NAME` and no compose file, the project is its containers' labels.
    pub fn existing_session(&self, services: &[String], lock: bool) -> anyhow::Result<Session<'_>> {
        match self.load_project(services, true) {
            Ok(project) => Ok(Session::with_project(&self.paths, project, services, lock, false)?),
            Err(e) if matches!(e.downcast_ref::<crate::compose::ComposeError>(), Some(crate::compose::ComposeError::NoConfigFile { .. })) => {
                let Some(name) = &self.project.project_name else { return Err(e) };
                let name = name.to_ascii_lowercase();
                crate::names::validate(crate::names::NameKind::Project, &name)?;
                let project = crate::compose::Project { name, ..Default::default() };
                Ok(Session::with_project(&self.paths, project, services, lock, true)?)
            }
            Err(e) => Err(e),
        }
    }

    pub fn printer(&self, quiet: bool) -> Printer {
        Printer::new(quiet)
    }

    pub fn store(&self) -> anyhow::Result<Store> {
        Ok(crate::project::session::open_store(&self.paths)?)
    }

    pub fn settings(&self) -> anyhow::Result<Settings> {
        Ok(Settings::load(&self.paths.config_file)?)
    }

    pub fn containers(&self) -> anyhow::Result<crate::runtime::state::Containers> {
        Ok(crate::runtime::state::Containers::open(&self.paths.data)?)
    }

    pub fn registry(&self) -> anyhow::Result<RegistryClient> {
        Ok(crate::project::session::open_registry(&self.paths)?)
    }
}
