//! Compose file loader for rde: reads docker-compose projects exactly as docker compose v2
//! does and turns them into rde's typed model.
//!
//! # Public API
//!
//! ```text
//! use rde::compose::{load_project, render_config, ConfigFormat, ProjectOptions};
//!
//! let mut opts = ProjectOptions::from_process()?;     // cwd + process env, interpolation on
//! opts.files = vec!["docker-compose.yml".into()];     // -f (repeatable, "-" = opts.stdin)
//! opts.profiles = vec!["debug".into()];               // --profile
//! let project = load_project(&opts)?;                 // Result<Project, ComposeError>
//! for w in &project.warnings { eprintln!("WARN {w}"); }
//! print!("{}", render_config(&project, ConfigFormat::Yaml)); // `rde config`
//! // `config --services|--volumes|--profiles|--images`: one name per line
//! for name in compose::service_names(&project) { println!("{name}"); }
//! ```
//!
//! - [`ProjectOptions`]: `files`, `project_directory`, `project_name`, `env_files`,
//!   `profiles`, `services` (targeted on the command line), `interpolate` (false for
//!   `--no-interpolate`), `environment` (the process env), `working_dir` (cwd), `stdin`,
//!   `no_path_resolution`, `no_consistency` (`config`'s flags).
//! - [`load_project`] -> [`Project`]: `name`, `working_dir`, `services` (enabled, sorted),
//!   `disabled_services`, `networks`, `volumes`, `secrets`, `configs`, `files`,
//!   `profiles` (active), `environment`, `warnings` (file/service/field/message),
//!   `extensions` (top-level `x-*`), `interpolated`.
//! - [`render_config`] with [`ConfigFormat::Yaml`] or [`ConfigFormat::Json`] (or
//!   [`render_config_with`] and [`RenderOptions`]: `--no-normalize`, `config SERVICE...`), plus
//!   [`service_names`] (dependency order), [`volume_names`], [`used_volume_names`],
//!   [`profile_names`], [`image_names`], [`with_dependencies_of`]; [`service_hashes`]
//!   (`--hash`), [`project_variables`] with [`variables_table`] / [`variables_value`]
//!   (`--variables`). `config -q` is `load_project(..).map(|_| ())`.
//! - Errors: [`ComposeError`]; its Display is the complete one-line message, e.g.
//!   `docker-compose.yml:12:7: services.web.ports: must be a list, got the number 8000; hint: ...`.
//!
//! # Pipeline (one file per concern)
//!
//! `discover` (files, project dir, name) -> `dotenv` (.env) -> per file: `yaml` (parse with
//! positions, anchors, `<<`; nesting and alias expansion bounded) -> `interpolate` -> `paths` (relative -> absolute) -> `extends`
//! -> `include` -> `merge` (override rules across files) -> `parse`/`parse_service` (typed
//! [`model`], using `fields` and `syntax`) -> `validate` (profiles, references, cycles) ->
//! `render` + `yaml_emit` for `config`. `load` drives it all.
//!
//! Names that reach the host (volume and network names, `container_name`, service and
//! resource keys, the project name) are checked with [`crate::names`] while parsing: a
//! compose file is data and can never name a path outside rde's store.

pub mod discover;
pub mod dotenv;
pub mod error;
pub mod extends;
pub mod fields;
pub mod include;
pub mod interpolate;
pub mod load;
pub mod merge;
pub mod model;
pub mod parse;
pub mod parse_service;
pub mod paths;
pub mod render;
pub mod syntax;
pub mod validate;
pub mod yaml;
pub mod yaml_emit;

pub use error::{ComposeError, Pos, Warning};
pub use load::{ProjectOptions, load_project};
pub use model::*;
pub use render::{
    ConfigFormat, RenderOptions, image_names, profile_names, project_variables, render_config, render_config_with, service_hashes, service_names,
    used_volume_names, variables_table, variables_value, volume_names, with_dependencies_of,
};
