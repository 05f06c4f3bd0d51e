//! The loading pipeline: options -> files -> environment -> per-file parse, interpolate,
//! resolve paths, `extends`, `include` -> merge -> typed model -> profiles -> validation.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use indexmap::IndexMap;

use super::discover;
use super::dotenv;
use super::error::{ComposeError, Pos, Result, Warning};
use super::extends;
use super::include;
use super::interpolate;
use super::merge;
use super::model::Project;
use super::parse::parse_document;
use super::parse_service::ServiceContext;
use super::paths;
use super::validate;
use super::yaml::{self, Node, Value};

/// How to find and read a project; mirrors docker compose's global flags.
#[derive(Clone, Debug, Default)]
pub struct ProjectOptions {
    /// `-f` (repeatable; `-` = stdin). Empty: COMPOSE_FILE, else discovery.
    pub files: Vec<PathBuf>,
    /// `--project-directory`.
    pub project_directory: Option<PathBuf>,
    /// `-p`.
    pub project_name: Option<String>,
    /// `--env-file` (repeatable, later wins). Empty: `<project dir>/.env` if present.
    pub env_files: Vec<PathBuf>,
    /// `--profile` (repeatable). Empty: COMPOSE_PROFILES.
    pub profiles: Vec<String>,
    /// Services named on the command line: they are enabled even if their profile is not.
    pub services: Vec<String>,
    /// False for `--no-interpolate`.
    pub interpolate: bool,
    /// The process environment (injected for testability).
    pub environment: IndexMap<String, String>,
    /// The current directory.
    pub working_dir: PathBuf,
    /// The content of standard input, used for `-f -`.
    pub stdin: Option<String>,
    /// `config --no-path-resolution`: relative paths (build contexts, bind sources, env and
    /// label files, secret and config files) stay as written.
    pub no_path_resolution: bool,
    /// `config --no-consistency`: references to undefined services, networks, volumes,
    /// secrets and configs are not errors.
    pub no_consistency: bool,
}

impl ProjectOptions {
    /// Options for the real process: current directory and environment, interpolation on.
    pub fn from_process() -> std::io::Result<Self> {
        Ok(ProjectOptions { interpolate: true, environment: std::env::vars().collect(), working_dir: std::env::current_dir()?, ..Default::default() })
    }
}

/// Reads compose files the same way for the main project, `include` and `extends`.
pub struct Loader {
    /// Variables used for interpolation (changes while loading an `include`).
    pub environment: IndexMap<String, String>,
    pub interpolate: bool,
    pub include_stack: Vec<PathBuf>,
    pub warnings: Vec<Warning>,
    cwd: PathBuf,
    stdin: Option<String>,
    resolve_paths: bool,
    /// The project directory: with `--no-path-resolution`, paths of included and extended
    /// files are rebased onto it (relative), as compose prints them.
    project_dir: PathBuf,
    /// Set when a template looked up COMPOSE_PROJECT_NAME and the environment had none.
    asked_project_name: std::cell::Cell<bool>,
}

impl Loader {
    pub fn home(&self) -> Option<&str> {
        self.environment.get("HOME").map(String::as_str)
    }

    /// A path as shown in messages: relative to the current directory when below it.
    pub fn display(&self, path: &Path) -> String {
        path.strip_prefix(&self.cwd).map(|p| p.display().to_string()).unwrap_or_else(|_| path.display().to_string())
    }

    /// Reads one file: parse (all documents merged), interpolate, make paths absolute
    /// against `base_dir`. `referenced_from` is the `include`/`extends` that asked for it.
    pub fn load_file(&mut self, path: &Path, base_dir: &Path, referenced_from: Option<&Pos>) -> Result<Node> {
        let is_stdin = path == Path::new("-");
        let text = if is_stdin {
            self.stdin.clone().ok_or_else(|| ComposeError::Read { path: path.into(), message: "no standard input was provided".into() })?
        } else {
            std::fs::read_to_string(path).map_err(|e| ComposeError::Read {
                path: PathBuf::from(self.display(path)),
                message: match referenced_from {
                    Some(pos) => format!("cannot read compose file (referenced at {pos}): {e}"),
                    None => format!("cannot read compose file: {e}"),
                },
            })?
        };
        let name: Arc<str> = Arc::from(if is_stdin { "<stdin>".to_string() } else { self.display(path) });
        let documents = yaml::parse(&text, &name)?;
        let mut doc = documents.into_iter().reduce(merge::merge_documents).unwrap_or(Node::new(Value::Null, Pos { file: name.clone(), line: 1, column: 1 }));
        match &doc.value {
            Value::Map(_) => {}
            Value::Null => {
                return Err(ComposeError::invalid(&doc.pos, "(top level)", "empty compose file"));
            }
            _ => return Err(super::fields::type_error(&doc, "(top level)", "a mapping")),
        }
        if self.interpolate {
            let env = &self.environment;
            let asked = &self.asked_project_name;
            let lookup = |k: &str| {
                let value = env.get(k).cloned();
                if value.is_none() && k == "COMPOSE_PROJECT_NAME" {
                    asked.set(true);
                }
                value
            };
            let unset = interpolate::interpolate_tree(&mut doc, "", &lookup)?;
            for variable in unset {
                self.warnings.push(Warning {
                    file: Some(name.to_string()),
                    service: None,
                    field: None,
                    message: format!("the {variable:?} variable is not set; defaulting to a blank string"),
                });
            }
        }
        if self.resolve_paths {
            let home = self.home().map(str::to_string);
            paths::resolve_relative_paths(&mut doc, base_dir, home.as_deref());
        } else {
            // An extended file named relatively has a relative directory already.
            let relative = if base_dir.is_relative() { Some(base_dir) } else { base_dir.strip_prefix(&self.project_dir).ok() };
            if let Some(relative) = relative.filter(|r| !r.as_os_str().is_empty()) {
                paths::resolve_relative_paths(&mut doc, relative, None);
            }
        }
        Ok(doc)
    }

    /// Reads and merges several files of one (sub-)project, resolving `extends` and `include`.
    pub fn load_files(&mut self, files: &[PathBuf], base_dir: &Path, referenced_from: Option<&Pos>) -> Result<Node> {
        let mut merged: Option<Node> = None;
        for file in files {
            let mut doc = self.load_file(file, base_dir, referenced_from)?;
            if let Some(version) = doc.get("version") {
                self.warnings.push(Warning {
                    file: Some(version.pos.file.to_string()),
                    service: None,
                    field: Some("version".into()),
                    message: "the attribute `version` is obsolete, it will be ignored, please remove it to avoid potential confusion".into(),
                });
            }
            extends::apply(&mut doc, file, self)?;
            include::apply(&mut doc, file, base_dir, self)?;
            merged = Some(match merged {
                Some(base) => merge::merge_documents(base, doc),
                None => doc,
            });
        }
        let mut merged = merged.expect("at least one compose file");
        merge::strip_merge_tags(&mut merged);
        Ok(merged)
    }
}

/// Loads, merges, interpolates, normalises and validates a compose project.
pub fn load_project(opts: &ProjectOptions) -> Result<Project> {
    let cwd = &opts.working_dir;
    let absolute = |p: &Path| paths::clean(&cwd.join(p));
    let mut warnings = Vec::new();

    // Variables: `.env` (or --env-file) under the process environment. They may name the
    // compose files (COMPOSE_FILE), so they are read first from the directory we know.
    let first_file_dir = opts.files.iter().find(|f| f.as_os_str() != "-").and_then(|f| absolute(f).parent().map(Path::to_path_buf));
    let early_dir = opts.project_directory.as_deref().map(absolute).or(first_file_dir).unwrap_or_else(|| cwd.clone());
    let mut environment = project_environment(opts, &early_dir)?;

    let files: Vec<PathBuf> = if !opts.files.is_empty() {
        opts.files.iter().map(|f| if f.as_os_str() == "-" { f.clone() } else { absolute(f) }).collect()
    } else if let Some(files) = discover::files_from_env(&environment) {
        files.iter().map(|f| absolute(f)).collect()
    } else {
        let (found, notes) = discover::find_default_files(cwd)?;
        warnings.extend(notes.into_iter().map(|message| Warning { file: None, service: None, field: None, message }));
        found
    };
    let project_dir = opts
        .project_directory
        .as_deref()
        .map(absolute)
        .or_else(|| files.iter().find(|f| f.as_os_str() != "-").and_then(|f| f.parent().map(Path::to_path_buf)))
        .unwrap_or_else(|| cwd.clone());
    if project_dir != early_dir {
        // The compose file was found in a parent directory: its `.env` is the project's.
        environment = project_environment(opts, &project_dir)?;
    }

    let new_loader = |environment: &IndexMap<String, String>, warnings: Vec<Warning>| Loader {
        environment: environment.clone(),
        interpolate: opts.interpolate,
        include_stack: Vec::new(),
        warnings,
        cwd: cwd.clone(),
        stdin: opts.stdin.clone(),
        resolve_paths: !opts.no_path_resolution,
        project_dir: project_dir.clone(),
        asked_project_name: std::cell::Cell::new(false),
    };
    let mut loader = new_loader(&environment, warnings.clone());
    let mut merged = loader.load_files(&files, &project_dir, None)?;

    let name = project_name(opts, &environment, &merged, &project_dir)?;
    if loader.asked_project_name.get() {
        // Templates may use COMPOSE_PROJECT_NAME, which compose sets to the project's name
        // (known only now, from `name:` or the directory): read the files again with it.
        let mut with_name = environment.clone();
        with_name.insert("COMPOSE_PROJECT_NAME".into(), name.clone());
        loader = new_loader(&with_name, warnings);
        merged = loader.load_files(&files, &project_dir, None)?;
    }
    // `~` in volume sources is a path to resolve: kept as written with --no-path-resolution.
    let home = environment.get("HOME").cloned().filter(|_| !opts.no_path_resolution);
    let mut warnings = std::mem::take(&mut loader.warnings);
    let mut ctx = ServiceContext { environment: &environment, resolve_environment: opts.interpolate, home: home.as_deref(), warnings: &mut warnings };
    let mut resources = parse_document(&merged, &name, &mut ctx)?;
    for service in resources.services.values_mut() {
        if let Some(build) = service.build.as_mut().filter(|b| b.context == "." && !opts.no_path_resolution) {
            build.context = paths::to_string(&project_dir);
        }
    }

    let mut active_profiles = if opts.profiles.is_empty() {
        environment.get("COMPOSE_PROFILES").map(|p| p.split(',').map(str::trim).filter(|p| !p.is_empty()).map(String::from).collect()).unwrap_or_default()
    } else {
        opts.profiles.clone()
    };
    let (mut enabled, mut disabled) = validate::apply_profiles(std::mem::take(&mut resources.services), &mut active_profiles, &opts.services)?;
    validate::check_project(
        &merged,
        &mut enabled,
        &disabled,
        &mut resources.networks,
        &resources.volumes,
        &resources.secrets,
        &resources.configs,
        &name,
        !opts.no_consistency,
        &mut warnings,
    )?;
    enabled.sort_keys();
    disabled.sort_keys();

    Ok(Project {
        name,
        working_dir: project_dir,
        services: enabled,
        disabled_services: disabled,
        networks: resources.networks,
        volumes: resources.volumes,
        secrets: resources.secrets,
        configs: resources.configs,
        files,
        profiles: active_profiles,
        environment,
        warnings,
        extensions: resources.extensions,
        interpolated: opts.interpolate,
    })
}

/// `.env` in `dir` (or the --env-file list) overlaid by the process environment.
fn project_environment(opts: &ProjectOptions, dir: &Path) -> Result<IndexMap<String, String>> {
    let env_files: Vec<PathBuf> = if opts.env_files.is_empty() {
        let default = dir.join(".env");
        if default.is_file() { vec![default] } else { Vec::new() }
    } else {
        opts.env_files.iter().map(|f| paths::clean(&opts.working_dir.join(f))).collect()
    };
    let mut from_files: IndexMap<String, String> = IndexMap::new();
    for file in env_files {
        let process = &opts.environment;
        let earlier = from_files.clone();
        let lookup = |k: &str| process.get(k).or_else(|| earlier.get(k)).cloned();
        from_files.extend(dotenv::read(&file, &lookup)?);
    }
    let mut environment = from_files;
    environment.extend(opts.environment.iter().map(|(k, v)| (k.clone(), v.clone())));
    Ok(environment)
}

/// `-p` > COMPOSE_PROJECT_NAME > top-level `name:` > the project directory's name.
fn project_name(opts: &ProjectOptions, environment: &IndexMap<String, String>, merged: &Node, project_dir: &Path) -> Result<String> {
    let explicit = opts.project_name.clone().filter(|n| !n.is_empty()).or_else(|| environment.get("COMPOSE_PROJECT_NAME").filter(|n| !n.is_empty()).cloned());
    if let Some(name) = explicit {
        discover::validate_project_name(&name)?;
        return Ok(name);
    }
    if let Some(node) = merged.get("name").filter(|n| !n.is_null()) {
        let name = super::fields::string(node, "name")?;
        if !name.is_empty() {
            discover::validate_project_name(&name).map_err(|e| ComposeError::invalid(&node.pos, "name", e.to_string()))?;
            return Ok(name);
        }
    }
    let base = project_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let name = discover::normalize_project_name(&base);
    if !crate::names::is_valid(crate::names::NameKind::Project, &name) {
        return Err(ComposeError::InvalidProjectName { name: base, hint: Some("set one with -p NAME or a top-level `name:`".into()) });
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str, project: Option<&str>) -> Result<Project> {
        load_project(&ProjectOptions {
            files: vec![PathBuf::from("-")],
            stdin: Some(text.to_string()),
            project_name: project.map(String::from),
            interpolate: true,
            working_dir: PathBuf::from("/nonexistent/proj"),
            ..Default::default()
        })
    }

    fn error(text: &str) -> String {
        load_text(text, None).unwrap_err().to_string()
    }

    const SERVICE: &str = "services:\n  app:\n    image: busybox\n";

    #[test]
    fn volume_names_are_names_not_paths() {
        let err = error(&format!("{SERVICE}volumes:\n  data:\n    name: /tmp/victim\n"));
        assert_eq!(
            err,
            "<stdin>:6:11: volumes.data.name: invalid volume name \"/tmp/victim\": '/' is not allowed (a name is not a path); hint: use letters, digits, '_', '.' and '-', starting with a letter or digit ([a-zA-Z0-9][a-zA-Z0-9_.-]+); to mount a host directory, use a bind mount with an absolute or ./relative path"
        );
        for bad in ["../x", "..", "x/../../y", "-x", "a b", "v"] {
            let err = error(&format!("{SERVICE}volumes:\n  data:\n    name: \"{bad}\"\n"));
            assert!(err.starts_with("<stdin>:6:11: volumes.data.name: invalid volume name"), "{bad}: {err}");
        }
        // The legacy `external: {name: ...}` and an external volume named by its key.
        let err = error(&format!("{SERVICE}volumes:\n  data:\n    external:\n      name: ../x\n"));
        assert!(err.starts_with("<stdin>:7:13: volumes.data.external.name: invalid volume name \"../x\""), "{err}");
        let err = error(&format!("{SERVICE}volumes:\n  ..:\n    external: true\n"));
        assert!(err.starts_with("<stdin>:5:3: volumes...: invalid resource name \"..\""), "{err}");
        let err = error(&format!("{SERVICE}volumes:\n  a/b: {{}}\n"));
        assert!(err.starts_with("<stdin>:5:3: volumes.a/b: invalid resource name \"a/b\": '/' is not allowed"), "{err}");
        // Fine: docker's names, and `<project>_<key>` for a key with a dot.
        let project = load_text(&format!("{SERVICE}volumes:\n  data:\n    name: shop_data.1\n  .cache: {{}}\n"), None).unwrap();
        assert_eq!(project.volumes["data"].name, "shop_data.1");
        assert_eq!(project.volumes[".cache"].name, "proj_.cache");
    }

    #[test]
    fn derived_names_are_checked_too() {
        let long = "p".repeat(240);
        let err = load_text(&format!("{SERVICE}volumes:\n  somewhat_long_key: {{}}\n"), Some(&long)).unwrap_err().to_string();
        assert!(err.starts_with("<stdin>:5:3: volumes.somewhat_long_key: invalid volume name"), "{err}");
        assert!(err.contains("bytes long, at most 250"), "{err}");
    }

    #[test]
    fn network_container_service_and_project_names() {
        let err = error(&format!("{SERVICE}networks:\n  front:\n    name: a/b\n"));
        assert!(err.starts_with("<stdin>:6:11: networks.front.name: invalid network name \"a/b\": '/' is not allowed"), "{err}");
        let err = error("services:\n  app:\n    image: busybox\n    container_name: ../x\n");
        assert!(err.starts_with("<stdin>:4:21: services.app.container_name: invalid container name \"../x\""), "{err}");
        let err = error("services:\n  a/b:\n    image: busybox\n");
        assert!(err.starts_with("<stdin>:2:3: services.a/b: invalid service name \"a/b\""), "{err}");
        let err = error(&format!("name: ../x\n{SERVICE}"));
        assert!(err.starts_with("<stdin>:1:7: name: invalid project name \"../x\""), "{err}");
        let err = load_text(SERVICE, Some("a/b")).unwrap_err().to_string();
        assert!(err.starts_with("invalid project name \"a/b\""), "{err}");
        let err = error("services:\n  app:\n    image: busybox\n    container_name: \"a\\nb\"\n");
        assert!(!err.contains('\n') && err.contains("\"a\\nb\""), "{err}");
    }

    #[test]
    fn nesting_at_the_limit_goes_through_the_whole_pipeline() {
        // A test thread has a 2 MiB stack: every recursive step after parsing (interpolation,
        // extends, merging two files, the model, JSON, the renderer) must fit at MAX_DEPTH.
        let n = yaml::MAX_DEPTH - 4; // under root, services, base, x-deep (or networks, n, ipam, config)
        let deep = format!("{}x{}", "[".repeat(n), "]".repeat(n));
        let dir = tempfile::tempdir().unwrap();
        let main = format!(
            "services:\n  base:\n    image: busybox\n    x-deep: {deep}\n  app:\n    extends: base\n    networks: [n]\nnetworks:\n  n:\n    ipam:\n      config: {deep}\nx-deep: {deep}\n"
        );
        let over = format!("services:\n  app:\n    x-deep: {deep}\nnetworks:\n  n:\n    ipam:\n      config: {deep}\nx-deep: {deep}\n");
        std::fs::write(dir.path().join("compose.yaml"), main).unwrap();
        std::fs::write(dir.path().join("compose.override.yaml"), over).unwrap();
        let project =
            load_project(&ProjectOptions { interpolate: true, working_dir: dir.path().to_path_buf(), project_name: Some("deep".into()), ..Default::default() })
                .unwrap();
        for format in [crate::compose::ConfigFormat::Yaml, crate::compose::ConfigFormat::Json] {
            let rendered = crate::compose::render_config(&project, format);
            assert!(rendered.contains("ipam"), "{rendered}");
        }
        // One more level is refused.
        let deeper = format!("[{deep}]");
        std::fs::write(dir.path().join("compose.override.yaml"), format!("x-deep: {deeper}\nnetworks:\n  n:\n    ipam:\n      config: {deeper}\n")).unwrap();
        let err = load_project(&ProjectOptions { interpolate: true, working_dir: dir.path().to_path_buf(), ..Default::default() }).unwrap_err().to_string();
        assert!(err.starts_with("compose.override.yaml:5:"), "{err}");
        assert!(err.contains("nested deeper than 256"), "{err}");
    }

    #[test]
    fn label_files_and_env_file_formats() {
        let err = error("services:\n  app:\n    image: busybox\n    label_file: missing.env\n");
        assert!(err.starts_with("<stdin>:4:17: services.app.label_file: label file /nonexistent/proj/missing.env not found"), "{err}");
        let err = error("services:\n  app:\n    image: busybox\n    env_file:\n      - path: a.env\n        format: toml\n");
        assert!(err.starts_with("<stdin>:6:17: services.app.env_file[0].format: unsupported env_file format \"toml\""), "{err}");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("raw.env"), "A=\"quoted\" ${X}\n").unwrap();
        std::fs::write(dir.path().join("compose.yaml"), "services:\n  app:\n    image: busybox\n    env_file: [{path: raw.env, format: raw}]\n").unwrap();
        let project = load_project(&ProjectOptions { interpolate: true, working_dir: dir.path().to_path_buf(), ..Default::default() }).unwrap();
        assert_eq!(project.services["app"].environment["A"].as_deref(), Some("\"quoted\" ${X}"));
    }

    #[test]
    fn compose_project_name_is_set_for_interpolation() {
        let project = load_text("name: named\nservices:\n  app:\n    image: ${COMPOSE_PROJECT_NAME}:1\n", None).unwrap();
        assert_eq!(project.services["app"].image.as_deref(), Some("named:1"));
        assert!(project.warnings.is_empty(), "{:?}", project.warnings);
    }

    #[test]
    fn no_consistency_lets_undefined_references_through() {
        let text = "services:\n  app:\n    image: busybox\n    depends_on: [ghost]\n    networks: [nowhere]\n    volumes: ['nv:/x']\n    secrets: [s]\n";
        assert!(error(text).contains("undefined"));
        let opts = ProjectOptions {
            files: vec![PathBuf::from("-")],
            stdin: Some(text.to_string()),
            interpolate: true,
            working_dir: PathBuf::from("/nonexistent/proj"),
            no_consistency: true,
            ..Default::default()
        };
        let project = load_project(&opts).unwrap();
        assert!(project.services["app"].depends_on.contains_key("ghost"));
    }

    #[test]
    fn limits_written_twice_should_agree() {
        let deploy = "    deploy:\n      resources:\n        limits:\n          cpus: '1'\n          memory: 1g\n";
        let project = load_text(&format!("services:\n  app:\n    image: busybox\n    cpus: 2\n    mem_limit: 512m\n{deploy}"), None).unwrap();
        let messages: Vec<String> = project.warnings.iter().map(|w| w.to_string()).collect();
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(messages[0].contains("services.app.cpus: differs from deploy.resources.limits.cpus"), "{messages:?}");
        assert!(messages[1].contains("services.app.mem_limit: differs from deploy.resources.limits.memory"), "{messages:?}");
        let project = load_text(&format!("services:\n  app:\n    image: busybox\n    cpus: 1\n    mem_limit: 1024m\n{deploy}"), None).unwrap();
        assert!(project.warnings.is_empty(), "{:?}", project.warnings);
    }
}
