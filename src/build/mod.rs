//! Image builds from a Dockerfile (`rde image build`), as BuildKit's dockerfile
//! frontend defines the language.
//!
//! A build is a chain of steps over the layer store. Each stage starts from its
//! base (a pulled image, `scratch` or an earlier stage) and carries an image
//! config (JSON, see `image_config`), its layers and a cache key. RUN runs a
//! container through the same runtime as `rde container run` (`run.rs`); its
//! overlay upper dir becomes the new layer, renamed into the store. COPY/ADD
//! write into a fresh upper dir over the stage's layers (`copy.rs`). Metadata
//! instructions only edit the config. Every step's key chains its parent's key,
//! the instruction after expansion and its inputs (`cache.rs`); a step whose
//! key has a record in the store is not run again.
//!
//! `build/` names `image/` (base images, the store, layers), `runtime/` (RUN
//! steps, rootfs helpers) and `net/` (network modes); never `compose/`,
//! `project/` or `cli/`.

pub mod cache;
pub mod context;
pub mod copy;
pub mod dockerfile;
pub mod ignore;
pub mod image_config;
pub mod inputs;
pub mod mounts;
pub mod progress;
pub mod run;
pub mod shell_lex;

use crate::image::digest::Digest;
use crate::image::lookup;
use crate::image::pins;
use crate::image::pull::{self, PullOptions};
use crate::image::reference::Reference;
use crate::image::registry::RegistryClient;
use crate::image::store::{CacheRecord, ImageLayer, ImageRecord, Store};
use crate::output::Printer;
use crate::paths::Paths;
use crate::runtime::state::Containers;
use context::{Context, StatCache};
use dockerfile::{CommandForm, Dockerfile, Kind, Source};
use image_config::ImageConfigJson;
use progress::BuildProgress;
use shell_lex::Lexer;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Dockerfile(#[from] dockerfile::DockerfileError),
    #[error("{file}:{line}: {message}{}", hint.as_ref().map(|h| format!("; hint: {h}")).unwrap_or_default())]
    Step { file: String, line: usize, message: String, hint: Option<String> },
    #[error("{file}:{line}: {instruction}: {source}")]
    Context { file: String, line: usize, instruction: String, source: Box<context::ContextError> },
    #[error("cannot read the Dockerfile {path}: {source}")]
    ReadDockerfile { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    ContextOpen(Box<context::ContextError>),
    #[error("target stage {0:?} not found in the Dockerfile; hint: stages are named with FROM ... AS NAME")]
    UnknownTarget(String),
    #[error("base image {image}: {source}")]
    Pull { image: String, source: Box<pull::PullError> },
    #[error("base image {image} (pinned by rde.lock): {source}")]
    Pinned { image: String, source: Box<pins::PinError> },
    #[error("base image {0:?} is not a valid reference: {1}")]
    BadBase(String, String),
    #[error(transparent)]
    Store(#[from] crate::image::store::StoreError),
    #[error(transparent)]
    Run(#[from] run::RunStepError),
    #[error(transparent)]
    Copy(#[from] copy::CopyError),
    #[error("the build was interrupted")]
    Interrupted,
    #[error("{0}")]
    Other(String),
}

/// Where the Dockerfile comes from.
#[derive(Clone, Debug)]
pub enum DockerfileSource {
    Path(PathBuf),
    /// `-f -`: read from stdin by the caller.
    Text(String),
}

impl Default for DockerfileSource {
    fn default() -> DockerfileSource {
        DockerfileSource::Path(PathBuf::from("Dockerfile"))
    }
}

/// `--network` for RUN steps.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum BuildNetwork {
    /// rde's default bridge network.
    #[default]
    Default,
    None,
    Host,
}

/// What `rde image build` (and compose's `build:`) ask for.
#[derive(Clone, Debug, Default)]
pub struct BuildOptions {
    pub context: PathBuf,
    pub dockerfile: DockerfileSource,
    /// Names to tag the result with (`docker.io/library/app:latest` form is made from them).
    pub tags: Vec<Reference>,
    /// `--build-arg K=V` (a `None` value: take it from the environment, or leave unset).
    pub build_args: BTreeMap<String, String>,
    pub target: Option<String>,
    pub no_cache: bool,
    pub pull: bool,
    pub labels: BTreeMap<String, String>,
    pub network: BuildNetwork,
    pub add_hosts: Vec<(String, String)>,
    /// `--secret id=ID,src=PATH`: id -> file on the host.
    pub secrets: BTreeMap<String, PathBuf>,
    pub progress: progress::ProgressMode,
    /// A name before every progress line (compose: the service, when builds run side by side).
    pub progress_prefix: Option<String>,
    /// RUN steps' resource limits: `--ulimit NAME=SOFT[:HARD]` as (name, soft, hard).
    pub ulimits: Vec<(String, u64, u64)>,
    /// RUN steps' /dev/shm size in bytes (`--shm-size`).
    pub shm_size: Option<u64>,
    /// `--build-context NAME=VALUE` / compose `additional_contexts`: a directory
    /// or `docker-image://REF`, found by FROM NAME, COPY --from=NAME and RUN --mount from=NAME.
    pub named_contexts: BTreeMap<String, String>,
    /// SOURCE_DATE_EPOCH (unix seconds): the image's and history's `created`, and
    /// the latest mtime in its layers, so that the same inputs give the same image
    /// id. `None`: now, and mtimes as they are.
    pub source_date_epoch: Option<u64>,
    /// Digests from `rde.lock` for base images and ADD URLs (none without a lock).
    pub pins: crate::image::pins::Pins,
}

/// What a build made.
#[derive(Clone, Debug)]
pub struct Built {
    pub id: Digest,
    pub tags: Vec<String>,
    /// Steps taken from the cache / run.
    pub cached_steps: usize,
    pub run_steps: usize,
}

/// What a build works with (borrowed from the command's context).
pub struct Env<'a> {
    pub store: &'a Store,
    pub containers: &'a Containers,
    pub paths: &'a Paths,
    pub registry: &'a dyn Fn() -> Result<RegistryClient, String>,
    pub printer: &'a Printer,
}

/// One stage's state between steps.
#[derive(Clone)]
struct StageState {
    config: ImageConfigJson,
    layers: Vec<ImageLayer>,
    key: Digest,
    /// ARGs declared in the stage, with their values, in order.
    args: Vec<(String, String)>,
    /// CMD was set in this stage (then ENTRYPOINT keeps it; an inherited one is reset).
    cmd_set: bool,
}

impl StageState {
    /// Variables for expansion: the stage's ARGs, then ENV (which wins, as in BuildKit).
    fn expansion_env(&self) -> HashMap<String, String> {
        let mut env: HashMap<String, String> = self.args.iter().cloned().collect();
        env.extend(self.config.env());
        env
    }
}

/// Build the image `opts` describes; the result is stored (and tagged) like a pulled image.
pub fn build(env: &Env, opts: &BuildOptions) -> Result<Built, BuildError> {
    let started = Instant::now();
    let progress = BuildProgress::new(env.printer, opts.progress, opts.progress_prefix.as_deref());
    let (text, file_name, dockerfile_path) = match &opts.dockerfile {
        DockerfileSource::Path(p) => {
            (std::fs::read_to_string(p).map_err(|source| BuildError::ReadDockerfile { path: p.clone(), source })?, display_name(p), Some(p.clone()))
        }
        DockerfileSource::Text(t) => (t.clone(), "Dockerfile".to_string(), None),
    };
    let dockerfile = Dockerfile::parse(&text, &file_name)?;
    let context = Context::open(&opts.context, dockerfile_path.as_deref()).map_err(|e| BuildError::ContextOpen(Box::new(e)))?;
    let lexer = Lexer::new(dockerfile.escape);
    let stat_path = env.store.root().join("build-cache-v1/stat-cache.json");
    let mut builder = Builder {
        env,
        opts,
        dockerfile: &dockerfile,
        context,
        lexer,
        stat_cache: StatCache::load(&stat_path),
        progress,
        global_args: Vec::new(),
        used_args: BTreeSet::new(),
        sources: BTreeSet::new(),
        done: HashMap::new(),
        step: 0,
        total_steps: 0,
        cached: 0,
        ran: 0,
    };
    let result = builder.run_all();
    builder.stat_cache.save(&stat_path);
    let state = result?;
    let unused: Vec<&String> = opts.build_args.keys().filter(|k| !builder.used_args.contains(*k) && !is_predefined_arg(k)).collect();
    if !unused.is_empty() {
        env.printer.warn(format!("build arguments not consumed by the Dockerfile: {}", unused.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")));
    }
    let mut config = state.config;
    for (k, v) in &opts.labels {
        config.set_label(k, v);
    }
    let origin = crate::image::store::BuildOrigin {
        context: builder.context.root.clone(),
        dockerfile: dockerfile_path.as_ref().and_then(|p| p.canonicalize().ok()),
        sources: builder.sources.iter().cloned().collect(),
        built_at: crate::time::now_unix(),
    };
    let record = save_image(env.store, &config, &state.layers, &opts.tags, origin)?;
    builder.progress.finish(started.elapsed(), &record.id, &opts.tags);
    Ok(Built { id: record.id, tags: opts.tags.iter().filter_map(Reference::tagged).collect(), cached_steps: builder.cached, run_steps: builder.ran })
}

/// `SOURCE_DATE_EPOCH` from the environment (reproducible-builds.org): unix
/// seconds, or an error naming the bad value; `None` when unset or empty.
pub fn source_date_epoch_from_env() -> Result<Option<u64>, String> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if !v.is_empty() => {
            v.trim().parse().map(Some).map_err(|_| format!("SOURCE_DATE_EPOCH={v:?} is not unix seconds; hint: e.g. $(git log -1 --format=%ct)"))
        }
        _ => Ok(None),
    }
}

/// BuildKit's predefined ARGs (proxy variables), usable without an ARG line.
fn is_predefined_arg(name: &str) -> bool {
    matches!(name.to_ascii_uppercase().as_str(), "HTTP_PROXY" | "HTTPS_PROXY" | "FTP_PROXY" | "NO_PROXY" | "ALL_PROXY")
}

fn display_name(p: &std::path::Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    p.strip_prefix(&cwd).unwrap_or(p).display().to_string()
}

/// Global ARGs with their values, in order, and the build args they consumed.
type GlobalArgs = (Vec<(String, String)>, BTreeSet<String>);

/// The global ARGs (before the first FROM) with their values: defaults
/// expanded with the ARGs before them, overridden by `build_args`; and the
/// build args they consumed.
fn global_args(dockerfile: &Dockerfile, lexer: &Lexer, build_args: &BTreeMap<String, String>) -> Result<GlobalArgs, BuildError> {
    let (mut out, mut used) = (Vec::new(), BTreeSet::new());
    for located in &dockerfile.global_args {
        for (name, default) in &located.value {
            let env: HashMap<String, String> = out.iter().cloned().collect();
            let value = match build_args.get(name) {
                Some(v) => {
                    used.insert(name.clone());
                    Some(v.clone())
                }
                None => match default {
                    Some(d) => Some(lexer.expand_word(d, &env).map_err(|e| BuildError::Step {
                        file: dockerfile.file.clone(),
                        line: located.line,
                        message: e.to_string(),
                        hint: None,
                    })?),
                    None => None,
                },
            };
            if let Some(v) = value {
                out.push((name.clone(), v));
            }
        }
    }
    Ok((out, used))
}

/// The stages `target` depends on (FROM a stage, COPY --from, RUN --mount from=), in build order.
fn needed_stages(dockerfile: &Dockerfile, lexer: &Lexer, global: &HashMap<String, String>, target: usize) -> Vec<usize> {
    let mut needed = BTreeSet::new();
    let mut todo = vec![target];
    while let Some(i) = todo.pop() {
        if !needed.insert(i) {
            continue;
        }
        let stage = &dockerfile.stages[i];
        let base = lexer.expand_word(&stage.base, global).unwrap_or_else(|_| stage.base.clone());
        if let Some(j) = dockerfile.stage_index(&base, i) {
            todo.push(j);
        }
        for ins in &stage.instructions {
            let froms: Vec<String> = match &ins.kind {
                Kind::Copy { flags, .. } => flags.from.iter().cloned().collect(),
                Kind::Run { mounts, .. } => mounts.iter().filter_map(|m| mounts::from_option(m)).collect(),
                _ => Vec::new(),
            };
            for from in froms {
                if let Some(j) = dockerfile.stage_index(&from, i) {
                    todo.push(j);
                }
            }
        }
    }
    needed.into_iter().collect()
}

struct Builder<'a> {
    env: &'a Env<'a>,
    opts: &'a BuildOptions,
    dockerfile: &'a Dockerfile,
    context: Context,
    lexer: Lexer,
    stat_cache: StatCache,
    progress: BuildProgress<'a>,
    /// Global ARGs (before the first FROM) with their values.
    global_args: Vec<(String, String)>,
    used_args: BTreeSet<String>,
    /// Context paths COPY/ADD took, for the image's `BuildOrigin`.
    sources: BTreeSet<String>,
    /// Finished stages by index.
    done: HashMap<usize, StageState>,
    step: usize,
    total_steps: usize,
    cached: usize,
    ran: usize,
}

impl Builder<'_> {
    fn step_error(&self, line: usize, message: impl Into<String>, hint: Option<&str>) -> BuildError {
        BuildError::Step { file: self.dockerfile.file.clone(), line, message: message.into(), hint: hint.map(str::to_string) }
    }

    /// Build the target stage (and every stage it needs, in order).
    fn run_all(&mut self) -> Result<StageState, BuildError> {
        let (global_args, used) = global_args(self.dockerfile, &self.lexer, &self.opts.build_args)?;
        self.global_args = global_args;
        self.used_args.extend(used);
        let target = match &self.opts.target {
            Some(t) => self.dockerfile.stage_index(t, self.dockerfile.stages.len()).ok_or_else(|| BuildError::UnknownTarget(t.clone()))?,
            None => self.dockerfile.stages.len() - 1,
        };
        let needed = self.needed_stages(target)?;
        self.total_steps = needed.iter().map(|&i| self.dockerfile.stages[i].instructions.len() + 1).sum();
        for &i in &needed {
            let state = self.build_stage(i)?;
            self.done.insert(i, state);
        }
        Ok(self.done.remove(&target).expect("target built"))
    }

    fn needed_stages(&self, target: usize) -> Result<Vec<usize>, BuildError> {
        let global: HashMap<String, String> = self.global_args.iter().cloned().collect();
        Ok(needed_stages(self.dockerfile, &self.lexer, &global, target))
    }

    fn build_stage(&mut self, index: usize) -> Result<StageState, BuildError> {
        let stage = &self.dockerfile.stages[index];
        let label = stage.name.clone().unwrap_or_else(|| format!("stage-{index}"));
        let count = stage.instructions.len() + 1;
        let global: HashMap<String, String> = self.global_args.iter().cloned().collect();
        let base = self.lexer.expand_word(&stage.base, &global).map_err(|e| self.step_error(stage.line, e.to_string(), None))?;
        self.step += 1;
        let header = format!("[{label} 1/{count}] FROM {base}");
        let t0 = Instant::now();
        self.progress.start(self.step, &header);
        let mut pulled = false;
        let mut state = if base.eq_ignore_ascii_case("scratch") {
            StageState { config: ImageConfigJson::scratch(), layers: Vec::new(), key: Digest::of(b"scratch"), args: Vec::new(), cmd_set: false }
        } else if let Some(j) = self.dockerfile.stage_index(&base, index) {
            let mut s = self.done.get(&j).cloned().ok_or_else(|| self.step_error(stage.line, format!("stage {base} is not built"), None))?;
            s.args.clear();
            s.cmd_set = false;
            s
        } else {
            let named = self.opts.named_contexts.get(&base).and_then(|v| v.strip_prefix("docker-image://")).map(str::to_string);
            let (image, was_pulled) = self.base_image(named.as_deref().unwrap_or(&base), stage.line)?;
            pulled = was_pulled;
            let bytes = self
                .env
                .store
                .get_blob(&image.id)
                .ok_or_else(|| self.step_error(stage.line, format!("the config of {base} is missing from the store"), Some("pull it again")))?;
            let config = ImageConfigJson::parse(&bytes).map_err(|e| self.step_error(stage.line, format!("the config of {base}: {e}"), None))?;
            // SOURCE_DATE_EPOCH is in every step's key: it shapes the layers' diff ids and times.
            let key = match self.opts.source_date_epoch {
                Some(epoch) => Digest::of(format!("FROM {} epoch={epoch}", image.id).as_bytes()),
                None => Digest::of(format!("FROM {}", image.id).as_bytes()),
            };
            StageState { config, layers: image.layers.clone(), key, args: Vec::new(), cmd_set: false }
        };
        // A base already in the store is BuildKit's "CACHED"; a pull is work done.
        self.progress.done(self.step, t0.elapsed(), !pulled);
        // ONBUILD triggers of the base run first, then are cleared (docker's rule).
        let triggers = state.config.list("OnBuild").unwrap_or_default();
        if !triggers.is_empty() {
            state.config.set_list("OnBuild", None);
            let text = format!("FROM scratch\n{}\n", triggers.join("\n"));
            let parsed = Dockerfile::parse(&text, &format!("{base} ONBUILD"))?;
            for ins in &parsed.stages[0].instructions {
                state = self.step(index, &label, 0, count, ins, state)?;
            }
        }
        for (n, ins) in stage.instructions.iter().enumerate() {
            state = self.step(index, &label, n + 2, count, ins, state)?;
        }
        Ok(state)
    }

    /// The base image: from the store, pulled when missing (or always with `--pull`).
    /// (the image, whether it was pulled now).
    fn base_image(&self, name: &str, line: usize) -> Result<(ImageRecord, bool), BuildError> {
        let bad_name = |e: crate::image::reference::ReferenceError| BuildError::BadBase(name.to_string(), e.to_string());
        let pinned = name.parse::<Reference>().ok().and_then(|r| self.opts.pins.image(&r).cloned().map(|pin| (r, pin)));
        if let Some((reference, pin)) = pinned {
            let client = || (self.env.registry)().map_err(crate::image::pins::PinError::Registry);
            return pins::ensure(client, self.env.store, &reference, &pin, &PullOptions { platform: None }, self.env.printer)
                .map_err(|e| BuildError::Pinned { image: name.to_string(), source: Box::new(e) });
        }
        if !self.opts.pull
            && let Ok((image, _)) = lookup::find(self.env.store, name)
        {
            return Ok((image, false));
        }
        self.opts.pins.may_resolve(|| format!("image {name}")).map_err(|e| self.step_error(line, e.to_string(), None))?;
        let reference: Reference = name.parse().map_err(bad_name)?;
        let client = (self.env.registry)().map_err(|e| self.step_error(line, e, None))?;
        pull::pull(&client, self.env.store, &reference, &PullOptions { platform: None }, self.env.printer)
            .map_err(|e| BuildError::Pull { image: name.to_string(), source: Box::new(e) })?;
        Ok((lookup::find(self.env.store, name).map_err(|e| self.step_error(line, e.to_string(), None))?.0, true))
    }

    /// One instruction.
    fn step(
        &mut self,
        stage: usize,
        label: &str,
        n: usize,
        count: usize,
        ins: &dockerfile::Instruction,
        mut state: StageState,
    ) -> Result<StageState, BuildError> {
        let line = ins.line;
        let env = state.expansion_env();
        let word = |b: &Self, s: &str| b.lexer.expand_word(s, &env).map_err(|e| b.step_error(line, e.to_string(), None));
        let position = if n == 0 { "ONBUILD".to_string() } else { format!("{n}/{count}") };
        let header = format!("[{label} {position}] {}", ins.text);
        match &ins.kind {
            Kind::Arg(pairs) => {
                for (name, default) in pairs {
                    let value = if let Some(v) = self.opts.build_args.get(name) {
                        self.used_args.insert(name.clone());
                        Some(v.clone())
                    } else if let Some(d) = default {
                        Some(word(self, d)?)
                    } else {
                        self.global_args.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone())
                    };
                    state.args.retain(|(k, _)| k != name);
                    if let Some(v) = value {
                        state.args.push((name.clone(), v));
                    }
                }
                return Ok(state);
            }
            Kind::Env(pairs) => {
                let mut created_by = Vec::new();
                for (name, value) in pairs {
                    let v = word(self, value.as_deref().unwrap_or(""))?;
                    state.config.set_env(name, &v);
                    created_by.push(format!("{name}={v}"));
                }
                return Ok(self.metadata(state, &format!("ENV {}", created_by.join(" "))));
            }
            Kind::Label(pairs) => {
                let mut created_by = Vec::new();
                for (name, value) in pairs {
                    let (k, v) = (word(self, name)?, word(self, value.as_deref().unwrap_or(""))?);
                    state.config.set_label(&k, &v);
                    created_by.push(format!("{k}={v}"));
                }
                return Ok(self.metadata(state, &format!("LABEL {}", created_by.join(" "))));
            }
            Kind::Maintainer(name) => {
                state.config.0.as_object_mut().expect("object").insert("author".into(), serde_json::json!(name));
                return Ok(self.metadata(state, &format!("MAINTAINER {name}")));
            }
            Kind::Expose(ports) => {
                let mut keys = Vec::new();
                for p in ports {
                    let p = word(self, p)?;
                    keys.extend(
                        expose_keys(&p)
                            .ok_or_else(|| self.step_error(line, format!("EXPOSE {p}: invalid port"), Some("PORT[/tcp|/udp] or START-END[/proto]")))?,
                    );
                }
                state.config.add_to_set("ExposedPorts", &keys);
                return Ok(self.metadata(state, &format!("EXPOSE {}", keys.join(" "))));
            }
            Kind::Volume(paths) => {
                let mut keys = Vec::new();
                for p in paths {
                    let p = word(self, p)?;
                    if p.is_empty() {
                        return Err(self.step_error(line, "VOLUME specified can not be an empty string", None));
                    }
                    keys.push(p);
                }
                state.config.add_to_set("Volumes", &keys);
                return Ok(self.metadata(state, &format!("VOLUME {keys:?}")));
            }
            Kind::User(user) => {
                let u = word(self, user)?;
                state.config.set_string("User", &u);
                return Ok(self.metadata(state, &format!("USER {u}")));
            }
            Kind::StopSignal(sig) => {
                let s = word(self, sig)?;
                state.config.set_string("StopSignal", &s);
                return Ok(self.metadata(state, &format!("STOPSIGNAL {s}")));
            }
            Kind::Shell(shell) => {
                state.config.set_list("Shell", Some(shell.clone()));
                return Ok(self.metadata(state, &format!("SHELL {shell:?}")));
            }
            Kind::Cmd(cmd) => {
                let args = self.command_args(&state, cmd);
                state.config.set_list("Cmd", Some(args.clone()));
                state.cmd_set = true;
                return Ok(self.metadata(state, &format!("CMD {args:?}")));
            }
            Kind::Entrypoint(ep) => {
                let args = self.command_args(&state, ep);
                state.config.set_list("Entrypoint", Some(args.clone()));
                // A new ENTRYPOINT resets a CMD inherited from the base, not one this stage set (BuildKit's rule).
                if !state.cmd_set {
                    state.config.set_list("Cmd", None);
                }
                return Ok(self.metadata(state, &format!("ENTRYPOINT {args:?}")));
            }
            Kind::Healthcheck(spec) => {
                let value = self.healthcheck(spec, line)?;
                state.config.set_value("Healthcheck", Some(value));
                return Ok(self.metadata(state, &format!("HEALTHCHECK {}", ins.text.trim_start_matches("HEALTHCHECK").trim())));
            }
            Kind::Onbuild(trigger) => {
                let mut triggers = state.config.list("OnBuild").unwrap_or_default();
                triggers.push(trigger.clone());
                state.config.set_list("OnBuild", Some(triggers));
                return Ok(self.metadata(state, &format!("ONBUILD {trigger}")));
            }
            Kind::Workdir(dir) => {
                let d = word(self, dir)?;
                let current = state.config.string("WorkingDir").unwrap_or_default();
                let full = absolute_in(&current, &d);
                state.config.set_string("WorkingDir", &full);
                // The directory is made (as root, 0755) when missing: a layer then.
                let key = cache::key(&state.key, &format!("WORKDIR {full}"), &[]);
                return self.layer_step(state, key, &header, &format!("WORKDIR {full}"), |b, st| {
                    copy::make_workdir(b.env, &st.layers, &full, b.opts.source_date_epoch).map_err(BuildError::from)
                });
            }
            Kind::Run { .. } | Kind::Copy { .. } => {}
        }
        match &ins.kind {
            Kind::Run { mounts, network, security, command, heredocs } => {
                if let Some(s) = security
                    && s != "sandbox"
                {
                    return Err(self.step_error(line, format!("RUN --security={s} is not supported"), Some("rde runs build steps unprivileged (sandbox)")));
                }
                let network = match network.as_deref() {
                    None => self.opts.network.clone(),
                    Some("default") => self.opts.network.clone(),
                    Some("none") => BuildNetwork::None,
                    Some("host") => BuildNetwork::Host,
                    Some(other) => return Err(self.step_error(line, format!("RUN --network={other} is not valid"), Some("use default, none or host"))),
                };
                let args = run::command_line(&state.config, command, &ins.kind);
                let heredocs = heredocs.clone();
                let mut mounts = mounts
                    .iter()
                    .map(|m| mounts::parse(m, &env, &self.lexer))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| self.step_error(line, e.to_string(), None))?;
                // What the mounts bring in is part of the key: a stage's or image's key,
                // a named context's digest, the context files a bind mount shows.
                let mut from_layers: HashMap<String, Vec<ImageLayer>> = HashMap::new();
                let mut mount_keys = Vec::new();
                for m in &mut mounts {
                    if let Some(f) = m.from.clone() {
                        let source = self.copy_from(&f, stage, line)?;
                        mount_keys.push(format!("from={f}={}", source.key));
                        match source.dir {
                            Some(dir) => m.from_dir = Some(dir),
                            None => {
                                from_layers.insert(f, source.layers);
                            }
                        }
                    } else if m.kind == mounts::MountType::Bind {
                        let rel = context::clean_rel(&m.source).unwrap_or_default();
                        let digest = self.context.digest(&rel, &mut self.stat_cache).map_err(|e| self.step_error(line, e.to_string(), None))?;
                        mount_keys.push(format!("bind={rel}={digest}"));
                    }
                }
                let build_args: Vec<String> =
                    state.args.iter().filter(|(k, _)| !state.config.env().iter().any(|(e, _)| e == k)).map(|(k, v)| format!("{k}={v}")).collect();
                let mut inputs = build_args.clone();
                inputs.extend(mount_keys);
                inputs.push(format!("network={network:?}"));
                for m in &mounts {
                    inputs.push(format!("mount={:?}", (&m.kind, &m.target, &m.source, &m.from, &m.id, m.read_only, &m.sharing, m.mode, m.uid, m.gid)));
                }
                let created_by = format!("RUN {}", args.join(" "));
                let key = cache::key(&state.key, &created_by, &inputs);
                let script = match (command, heredocs.as_slice()) {
                    (CommandForm::Shell(text), [doc]) if run::lone_heredoc(text) && doc.content.starts_with("#!") => {
                        Some((doc.name.clone(), doc.content.clone()))
                    }
                    _ => None,
                };
                let request = run::RunStep { args, build_args, mounts, network, header: header.clone(), line, file: self.dockerfile.file.clone(), script };
                self.layer_step(state, key, &header, &created_by, move |b, st| {
                    let by_name = |name: &str| from_layers.get(name).cloned();
                    run::run(b.env, b.opts, &b.context, &by_name, &st.layers, &st.config, &request, &b.progress, b.step)
                })
            }
            Kind::Copy { add, flags, sources, dest } => {
                if !flags.exclude.is_empty() || flags.parents {
                    let flag = if flags.parents { "--parents" } else { "--exclude" };
                    return Err(self.step_error(
                        line,
                        format!("COPY {flag} (a labs feature of BuildKit) is not supported"),
                        Some("use .dockerignore, or copy each directory on its own"),
                    ));
                }
                let dest = word(self, dest)?;
                let workdir = state.config.string("WorkingDir").unwrap_or_default();
                let chown = flags.chown.as_deref().map(|c| word(self, c)).transpose()?;
                let chmod = flags.chmod.as_deref().map(|c| word(self, c)).transpose()?;
                let from = flags.from.as_deref().map(|f| word(self, f)).transpose()?;
                let mut plan = copy::CopyPlan {
                    add: *add,
                    sources: Vec::new(),
                    dest: absolute_in(&workdir, &dest),
                    dest_is_dir: dest.ends_with('/'),
                    chown,
                    chmod,
                    from: None,
                    checksum: flags.checksum.clone(),
                    source_date_epoch: self.opts.source_date_epoch,
                };
                let mut inputs = Vec::new();
                let instruction = if *add { "ADD" } else { "COPY" };
                let ctx_err = |b: &Self, e: context::ContextError| BuildError::Context {
                    file: b.dockerfile.file.clone(),
                    line,
                    instruction: instruction.into(),
                    source: Box::new(e),
                };
                match &from {
                    Some(f) => {
                        let source = self.copy_from(f, stage, line)?;
                        inputs.push(format!("from={}", source.key));
                        plan.from = Some(source);
                        for s in sources {
                            if let Source::Path(p) = s {
                                plan.sources.push(copy::SourceItem::Stage(word(self, p)?));
                            }
                        }
                    }
                    None => {
                        for s in sources {
                            match s {
                                Source::Path(p) => {
                                    let p = word(self, p)?;
                                    if *add && (p.starts_with("http://") || p.starts_with("https://")) {
                                        let pinned = self.opts.pins.url(&p).map(|d| d.to_string());
                                        if pinned.is_none() && flags.checksum.is_none() {
                                            self.opts.pins.may_resolve(|| format!("ADD URL {p}")).map_err(|e| self.step_error(line, e.to_string(), None))?;
                                        }
                                        let (file, digest, mtime) = copy::fetch_url(self.env.store, &p, flags.checksum.as_deref().or(pinned.as_deref()))
                                            .map_err(|e| match (&pinned, e) {
                                                (Some(_), copy::CopyError::Checksum { url, expected, actual }) => self.step_error(
                                                    line,
                                                    format!("ADD {url}: the content changed since rde.lock pinned it: expected {expected}, got {actual}"),
                                                    Some("`rde lock --update` takes the new content, after you checked it"),
                                                ),
                                                (_, e) => e.into(),
                                            })?;
                                        inputs.push(format!("url={p}={digest}"));
                                        plan.sources.push(copy::SourceItem::Url { name: copy::url_file_name(&p), url: p, file, mtime });
                                        continue;
                                    }
                                    if *add && (p.starts_with("git@") || p.ends_with(".git")) {
                                        return Err(self.step_error(
                                            line,
                                            format!("ADD of a git repository ({p}) is not supported"),
                                            Some("clone it into the context and COPY it"),
                                        ));
                                    }
                                    let matched = self.context.resolve(&p).map_err(|e| ctx_err(self, e))?;
                                    if matched.len() > 1 || context::has_wildcards(&p) {
                                        plan.dest_is_dir = true;
                                    }
                                    for rel in matched {
                                        let digest = self.context.digest(&rel, &mut self.stat_cache).map_err(|e| ctx_err(self, e))?;
                                        inputs.push(format!("{rel}={digest}"));
                                        self.sources.insert(rel.clone());
                                        plan.sources.push(copy::SourceItem::Context(rel));
                                    }
                                }
                                Source::HereDoc { name, content, expand } => {
                                    let content = if *expand {
                                        heredoc_lexer(self.dockerfile.escape)
                                            .expand_word(content, &env)
                                            .map_err(|e| self.step_error(line, e.to_string(), None))?
                                    } else {
                                        content.clone()
                                    };
                                    inputs.push(format!("heredoc={}", Digest::of(content.as_bytes())));
                                    plan.sources.push(copy::SourceItem::Inline { name: name.clone(), content });
                                }
                            }
                        }
                    }
                }
                if plan.sources.len() > 1 {
                    plan.dest_is_dir = true;
                }
                let created_by = format!("{instruction} {}", ins.text.split_once(' ').map_or("", |(_, r)| r));
                let key = cache::key(&state.key, &format!("{created_by} -> {} {:?} {:?}", plan.dest, plan.chown, plan.chmod), &inputs);
                self.layer_step(state, key, &header, &created_by, move |b, st| copy::copy(b.env, &b.context, &st.layers, &plan).map_err(BuildError::from))
            }
            _ => unreachable!("metadata instructions returned above"),
        }
    }

    /// A step that may add a layer: from the cache when its key is there, else
    /// `work` makes the layer (or `None` for no change) and the result is cached.
    fn layer_step(
        &mut self,
        mut state: StageState,
        key: Digest,
        header: &str,
        created_by: &str,
        work: impl FnOnce(&Self, &StageState) -> Result<Option<crate::image::store::LayerMeta>, BuildError>,
    ) -> Result<StageState, BuildError> {
        self.step += 1;
        let t0 = Instant::now();
        self.progress.start(self.step, header);
        if !self.opts.no_cache
            && let Some(record) = self.env.store.cache_record(&key)
        {
            let bytes = self.env.store.get_blob(&record.config).ok_or_else(|| BuildError::Other("a cached config went missing".into()))?;
            state.config = ImageConfigJson::parse(&bytes).map_err(|e| BuildError::Other(e.to_string()))?;
            state.layers = record.layers.clone();
            state.key = key;
            let mut touched = record;
            touched.last_used = crate::time::now_unix();
            let _ = self.env.store.save_cache_record(&touched);
            self.cached += 1;
            self.progress.done(self.step, t0.elapsed(), true);
            return Ok(state);
        }
        if crate::signals::interrupted() {
            return Err(BuildError::Interrupted);
        }
        let layer = match work(self, &state) {
            Ok(layer) => layer,
            Err(e) => {
                self.progress.failed();
                return Err(e);
            }
        };
        self.ran += 1;
        let created = match self.opts.source_date_epoch {
            Some(epoch) => crate::time::format_rfc3339(epoch as i64, 0).replace(".000000000Z", "Z"),
            None => crate::time::now_rfc3339(),
        };
        state.config.set_created(&created);
        let size = match &layer {
            Some(meta) => {
                state.config.push_diff_id(&meta.diff_id);
                state.layers.push(ImageLayer {
                    diff_id: meta.diff_id.clone(),
                    digest: meta.diff_id.clone(),
                    media_type: meta.media_type.clone(),
                    size: meta.compressed_size,
                });
                meta.stats.file_bytes
            }
            None => 0,
        };
        state.config.push_history(created_by, layer.is_none());
        let bytes = state.config.to_bytes();
        let config = Digest::of(&bytes);
        self.env.store.put_blob(&config, &bytes)?;
        let now = crate::time::now_unix();
        self.env.store.save_cache_record(&CacheRecord {
            key: key.clone(),
            config,
            layers: state.layers.clone(),
            description: created_by.to_string(),
            created: now,
            last_used: now,
            size,
        })?;
        state.key = key;
        self.progress.done(self.step, t0.elapsed(), false);
        Ok(state)
    }

    /// A metadata instruction: the config changes, no layer; the history entry
    /// carries the time of the last layer step so a rebuild gives the same image.
    fn metadata(&mut self, mut state: StageState, created_by: &str) -> StageState {
        state.config.push_history(created_by, true);
        state.key = cache::key(&state.key, created_by, &[]);
        state
    }

    /// CMD/ENTRYPOINT arguments: exec form as written, shell form through the stage's SHELL.
    fn command_args(&self, state: &StageState, form: &CommandForm) -> Vec<String> {
        match form {
            CommandForm::Exec(args) => args.clone(),
            CommandForm::Shell(s) => {
                let mut shell = state.config.list("Shell").unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
                shell.push(s.clone());
                shell
            }
        }
    }

    fn healthcheck(&self, spec: &dockerfile::HealthcheckSpec, line: usize) -> Result<serde_json::Value, BuildError> {
        let Some(command) = &spec.command else { return Ok(serde_json::json!({"Test": ["NONE"]})) };
        let test: Vec<String> = match command {
            CommandForm::Exec(args) => std::iter::once("CMD".to_string()).chain(args.iter().cloned()).collect(),
            CommandForm::Shell(s) => vec!["CMD-SHELL".into(), s.clone()],
        };
        let mut v = serde_json::json!({"Test": test});
        for (name, value) in &spec.options {
            let field = match name.as_str() {
                "interval" => "Interval",
                "timeout" => "Timeout",
                "start-period" => "StartPeriod",
                "start-interval" => "StartInterval",
                "retries" => {
                    let n: u64 = value.parse().map_err(|_| self.step_error(line, format!("HEALTHCHECK --retries={value} is not a number"), None))?;
                    v["Retries"] = serde_json::json!(n);
                    continue;
                }
                _ => continue,
            };
            let d = crate::time::parse_go_duration(value)
                .ok_or_else(|| self.step_error(line, format!("HEALTHCHECK --{name}={value} is not a duration"), Some("e.g. 30s, 1m30s")))?;
            v[field] = serde_json::json!(d.as_nanos() as u64);
        }
        Ok(v)
    }

    /// The source of a `COPY --from`: an earlier stage, or an image (pulled when missing).
    fn copy_from(&self, from: &str, stage: usize, line: usize) -> Result<copy::FromSource, BuildError> {
        if let Some(j) = self.dockerfile.stage_index(from, stage) {
            let s = self.done.get(&j).ok_or_else(|| self.step_error(line, format!("stage {from} is not built"), None))?;
            return Ok(copy::FromSource { layers: s.layers.clone(), key: s.key.to_string(), dir: None });
        }
        if let Some(value) = self.opts.named_contexts.get(from) {
            if let Some(image) = value.strip_prefix("docker-image://") {
                let (image, _) = self.base_image(image, line)?;
                return Ok(copy::FromSource { layers: image.layers.clone(), key: image.id.to_string(), dir: None });
            }
            let dir = std::path::Path::new(value).canonicalize().map_err(|e| self.step_error(line, format!("build context {from:?} ({value}): {e}"), None))?;
            let ctx = Context::open(&dir, None).map_err(|e| self.step_error(line, e.to_string(), None))?;
            // Its key is its content, as for the main context.
            let mut stat_cache = StatCache::default();
            let digest = ctx.digest("", &mut stat_cache).map_err(|e| self.step_error(line, e.to_string(), None))?;
            return Ok(copy::FromSource { layers: Vec::new(), key: format!("context:{digest}"), dir: Some(dir) });
        }
        let (image, _) = self.base_image(from, line)?;
        Ok(copy::FromSource { layers: image.layers.clone(), key: image.id.to_string(), dir: None })
    }
}

/// Heredoc bodies expand variables but keep their quotes (BuildKit's heredoc rule).
fn heredoc_lexer(escape: char) -> Lexer {
    let mut lexer = Lexer::new(escape);
    lexer.raw_quotes = true;
    lexer
}

/// Remove the build cache records `doomed` picks, then what only they used
/// (layers, configs); with every record gone, also the cache mounts, the kept
/// downloads and the stat cache. Returns (bytes freed, every error).
pub fn prune(store: &Store, doomed: impl Fn(&CacheRecord) -> bool) -> (u64, Vec<String>) {
    let mut errors = Vec::new();
    let mut freed = match store.prune_cache(&doomed) {
        Ok((_, freed)) => freed,
        Err(e) => {
            errors.extend(e.iter().map(ToString::to_string));
            0
        }
    };
    if store.cache_records().map(|r| r.is_empty()).unwrap_or(false) {
        for dir in ["build-mounts-v1", "build-downloads-v1"] {
            let path = store.root().join(dir);
            freed += crate::fsutil::disk_usage(&path);
            if let Err(e) = crate::fsutil::remove_tree(&path)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                errors.push(format!("remove {}: {e}", path.display()));
            }
        }
        let _ = std::fs::remove_file(store.root().join("build-cache-v1/stat-cache.json"));
    }
    (freed, errors)
}

/// ExposedPorts keys for one EXPOSE word: `80` -> `80/tcp`, a range
/// `7000-7002/udp` -> one key per port (docker's nat.ParsePortSpecs).
fn expose_keys(spec: &str) -> Option<Vec<String>> {
    let (ports, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
    let proto = proto.to_ascii_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return None;
    }
    let (start, end) = match ports.split_once('-') {
        Some((a, b)) => (a.parse::<u16>().ok()?, b.parse::<u16>().ok()?),
        None => {
            let p = ports.parse::<u16>().ok()?;
            (p, p)
        }
    };
    (start <= end).then(|| (start..=end).map(|p| format!("{p}/{proto}")).collect())
}

/// `path` made absolute against the working directory `cwd` (docker's WORKDIR/COPY rule).
pub fn absolute_in(cwd: &str, path: &str) -> String {
    let joined = if path.starts_with('/') { path.to_string() } else { format!("{}/{path}", if cwd.is_empty() { "" } else { cwd.trim_end_matches('/') }) };
    let trailing = path.ends_with('/') && path != "/";
    let clean = context::clean_rel(&joined).unwrap_or_default();
    let mut out = format!("/{clean}");
    if trailing && out != "/" {
        out.push('/');
    }
    out
}

/// Store a built image: its config blob, an OCI manifest over uncompressed
/// layers, the record, and the tags (moved from any image that had them).
fn save_image(
    store: &Store,
    config: &ImageConfigJson,
    layers: &[ImageLayer],
    tags: &[Reference],
    origin: crate::image::store::BuildOrigin,
) -> Result<ImageRecord, BuildError> {
    let bytes = config.to_bytes();
    let id = Digest::of(&bytes);
    store.put_blob(&id, &bytes)?;
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": crate::image::manifest::OCI_MANIFEST,
        "config": {"mediaType": crate::image::manifest::OCI_CONFIG, "digest": id.to_string(), "size": bytes.len()},
        "layers": layers.iter().map(|l| serde_json::json!({"mediaType": l.media_type, "digest": l.digest.to_string(), "size": l.size})).collect::<Vec<_>>(),
    });
    let manifest_bytes = serde_json::to_vec(&manifest).expect("manifest serialises");
    let manifest_digest = Digest::of(&manifest_bytes);
    store.put_blob(&manifest_digest, &manifest_bytes)?;
    let _lock = store.lock_metadata()?;
    let parsed: crate::image::config::ImageConfig = serde_json::from_slice(&bytes).map_err(|e| BuildError::Other(e.to_string()))?;
    let record = ImageRecord {
        id: id.clone(),
        manifest_digest,
        repo_digests: Vec::new(),
        layers: layers.to_vec(),
        platform: parsed.platform(),
        created: parsed.created.clone(),
        size: layers.iter().filter_map(|l| store.layer_meta(&l.diff_id)).map(|m| m.stats.file_bytes).sum(),
        pulled_at: crate::time::now_unix(),
        build: Some(origin),
    };
    store.save_image(&record)?;
    if !tags.is_empty() {
        let mut all = store.tags()?;
        for t in tags {
            if let Some(tagged) = t.tagged() {
                all.insert(tagged, id.clone());
            }
        }
        store.save_tags(&all)?;
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expose_takes_ports_protocols_and_ranges() {
        assert_eq!(expose_keys("80"), Some(vec!["80/tcp".to_string()]));
        assert_eq!(expose_keys("53/UDP"), Some(vec!["53/udp".to_string()]));
        assert_eq!(expose_keys("7000-7002"), Some(vec!["7000/tcp".to_string(), "7001/tcp".to_string(), "7002/tcp".to_string()]));
        assert_eq!(expose_keys("80/icmp"), None);
        assert_eq!(expose_keys("x"), None);
    }

    #[test]
    fn paths_are_made_absolute_against_the_workdir() {
        assert_eq!(absolute_in("", "app"), "/app");
        assert_eq!(absolute_in("/app", "sub/"), "/app/sub/");
        assert_eq!(absolute_in("/app", "/x"), "/x");
        assert_eq!(absolute_in("/app", "."), "/app");
        assert_eq!(absolute_in("/app/", "../b"), "/b");
        assert_eq!(absolute_in("/", "/"), "/");
    }
}
