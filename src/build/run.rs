//! RUN steps: a container through the same runtime as `rde container run`
//! (record, shim, libcontainer, the stage's env, user, workdir and shell), on
//! the build's network. When it exits 0 its overlay upper dir, which already
//! holds overlay whiteouts, becomes the step's layer: the mount stubs the
//! runtime made (/etc/hosts, mount targets) are taken out, the rest is hashed
//! as a tar stream for its diff id and renamed into the store. Nothing walks or
//! copies the rootfs. A failed or interrupted step leaves no container, mount
//! or layer behind.

use super::mounts::{MountType, RunMount};
use super::progress::BuildProgress;
use super::{BuildError, BuildNetwork, BuildOptions, Env};
use crate::image::digest::Digest;
use crate::image::layer_tar::{self, TarOptions};
use crate::image::store::{ImageLayer, ImageRecord, LayerMeta, Store};
use crate::net::network::{DEFAULT_NETWORK, NetworkMode, NetworkRequest, Networks};
use crate::runtime::create::{self, CreateOptions};
use crate::runtime::lifecycle;
use crate::runtime::logs::LogReader;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum RunStepError {
    #[error("{file}:{line}: RUN {command} failed with exit code {code}{}", tail(.output))]
    Failed { file: String, line: usize, command: String, code: i32, output: Vec<String> },
    #[error("RUN step: {0}")]
    Create(#[from] create::CreateError),
    #[error("RUN step: {0}")]
    Start(#[from] lifecycle::LifecycleError),
    #[error("RUN step: {0}")]
    Network(#[from] crate::net::network::NetworkError),
    #[error("RUN step: {0}")]
    Layer(#[from] layer_tar::LayerTarError),
    #[error("RUN step: {what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error("RUN --mount: secret {0:?} was not given; hint: pass it with --secret id={0},src=PATH")]
    MissingSecret(String),
    #[error("RUN --mount=type=bind,rw is not supported yet; hint: copy what the step changes with COPY, or mount it read-only")]
    ReadWriteBind,
    #[error("RUN --mount: {0}")]
    Mount(String),
}

fn tail(output: &[String]) -> String {
    if output.is_empty() {
        return String::new();
    }
    format!("; its last output:\n  {}", output.join("\n  "))
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> RunStepError {
    let what = what.into();
    move |source| RunStepError::Io { what, source }
}

/// What `build::Builder` asks a RUN step to do.
pub struct RunStep {
    /// The process's argv (the shell form already wrapped in the stage's SHELL).
    pub args: Vec<String>,
    /// `NAME=value` of the stage's ARGs that ENV does not shadow: in the step's environment, not in the image.
    pub build_args: Vec<String>,
    pub mounts: Vec<RunMount>,
    pub network: BuildNetwork,
    pub header: String,
    pub line: usize,
    pub file: String,
    /// A lone `RUN <<EOF` whose script starts with `#!`: (name, script), run as a file.
    pub script: Option<(String, String)>,
}

/// The argv of a RUN: exec form as written, shell form through the stage's
/// SHELL (default `/bin/sh -c`). A lone heredoc is the script itself.
pub fn command_line(config: &super::image_config::ImageConfigJson, command: &super::dockerfile::CommandForm, kind: &super::dockerfile::Kind) -> Vec<String> {
    use super::dockerfile::{CommandForm, Kind};
    let shell = config.list("Shell").unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
    match command {
        CommandForm::Exec(args) => args.clone(),
        CommandForm::Shell(text) => {
            if let Kind::Run { heredocs, .. } = kind
                && let [doc] = heredocs.as_slice()
                && lone_heredoc(text)
            {
                if doc.content.starts_with("#!") {
                    return vec![format!("/dev/pipes/{}", doc.name)];
                }
                return shell.into_iter().chain([doc.content.clone()]).collect();
            }
            shell.into_iter().chain([text.clone()]).collect()
        }
    }
}

/// Whether a heredoc RUN's command line is only the `<<EOF` marker.
pub fn lone_heredoc(text: &str) -> bool {
    let first = text.lines().next().unwrap_or("").trim();
    first.starts_with("<<") && !first.contains(' ')
}

/// Run the step over `layers` with the stage's `config`; `Some(layer)` unless it changed nothing.
#[allow(clippy::too_many_arguments)]
pub(super) fn run(
    env: &Env,
    opts: &BuildOptions,
    context: &super::context::Context,
    stage_layers_by_name: &dyn Fn(&str) -> Option<Vec<ImageLayer>>,
    layers: &[ImageLayer],
    config: &super::image_config::ImageConfigJson,
    request: &RunStep,
    progress: &BuildProgress,
    step: usize,
) -> Result<Option<LayerMeta>, BuildError> {
    let store = env.store;
    let scratch = store.scratch_dir("run")?;
    let mut guards = Guards::default();
    let scratch = scratch.as_path();
    let guards = &mut guards;
    let result = (|| -> Result<Option<LayerMeta>, BuildError> {
        let store = env.store;
        let config_bytes = config.to_bytes();
        let config_id = Digest::of(&config_bytes);
        store.put_blob(&config_id, &config_bytes)?;
        let image = ImageRecord {
            id: config_id.clone(),
            manifest_digest: config_id,
            repo_digests: Vec::new(),
            layers: layers.to_vec(),
            platform: String::new(),
            created: None,
            size: 0,
            pulled_at: 0,
            build: None,
        };
        let mut volumes = Vec::new();
        let mut tmpfs = Vec::new();
        let mut stubs: Vec<String> = ["/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/proc", "/sys", "/sys/fs/cgroup", "/dev", "/run/secrets"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for (i, m) in request.mounts.iter().enumerate() {
            stubs.push(m.target.clone());
            match m.kind {
                MountType::Tmpfs => tmpfs.push(m.target.clone()),
                MountType::Cache => {
                    let dir = cache_mount_dir(store, m).map_err(io(format!("cache mount {}", m.id)))?;
                    if m.sharing == "locked" {
                        let lock = dir.with_extension("lock");
                        guards.locks.push(crate::fsutil::lock_exclusive(&lock).map_err(io(format!("lock cache mount {}", m.id)))?);
                    }
                    volumes.push(format!("{}:{}{}", dir.display(), m.target, if m.read_only { ":ro" } else { "" }));
                }
                MountType::Secret => {
                    let Some(src) = opts.secrets.get(&m.id) else {
                        if m.required {
                            return Err(RunStepError::MissingSecret(m.id.clone()).into());
                        }
                        continue;
                    };
                    let src = src.canonicalize().map_err(io(format!("secret {}", m.id)))?;
                    volumes.push(format!("{}:{}:ro", src.display(), m.target));
                }
                MountType::Bind => {
                    if !m.read_only {
                        return Err(RunStepError::ReadWriteBind.into());
                    }
                    let source = match (&m.from, &m.from_dir) {
                        (_, Some(dir)) => super::context::resolve_in_root(dir, &m.source, true)
                            .ok_or_else(|| RunStepError::Mount(format!("{}: too many symlinks", m.source)))?,
                        (None, None) => context
                            .host_path(
                                &super::context::clean_rel(&m.source).ok_or_else(|| RunStepError::Mount(format!("{} is outside the context", m.source)))?,
                            )
                            .map_err(|e| RunStepError::Mount(e.to_string()))?,
                        (Some(from), None) => {
                            let from_layers = stage_layers_by_name(from).ok_or_else(|| RunStepError::Mount(format!("from={from}: no such stage or image")))?;
                            let root = scratch.join(format!("from-{i}"));
                            mount_read_only(store, &from_layers, &root, scratch, i)?;
                            guards.mounts.push(root.clone());
                            super::context::resolve_in_root(&root, &m.source, true)
                                .ok_or_else(|| RunStepError::Mount(format!("{}: too many symlinks", m.source)))?
                        }
                    };
                    if !source.exists() {
                        return Err(RunStepError::Mount(format!("bind source {} does not exist", m.source)).into());
                    }
                    volumes.push(format!("{}:{}:ro", source.display(), m.target));
                }
            }
        }
        if let Some((name, script)) = &request.script {
            let path = scratch.join(format!("pipe-{name}"));
            std::fs::write(&path, script).map_err(io("heredoc script"))?;
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).map_err(io("heredoc script"))?;
            volumes.push(format!("{}:/dev/pipes/{name}:ro", path.display()));
        }
        let network = match request.network {
            BuildNetwork::None => NetworkMode::None,
            BuildNetwork::Host => NetworkMode::Host,
            BuildNetwork::Default => {
                let networks = Networks::open(env.paths).map_err(RunStepError::from)?;
                let _lock = networks.lock().map_err(RunStepError::from)?;
                let net = networks.get(DEFAULT_NETWORK).map_err(RunStepError::from)?;
                NetworkMode::Bridge(vec![NetworkRequest { name: net.name, aliases: Vec::new(), ip: None, ip6: None }])
            }
        };
        let create_opts = CreateOptions {
            command: request.args.clone(),
            entrypoint: Some(Vec::new()),
            env: request.build_args.clone(),
            volumes,
            tmpfs,
            network,
            extra_hosts: opts.add_hosts.clone(),
            ulimits: opts.ulimits.clone(),
            shm_size: opts.shm_size,
            labels: [("rde.build".to_string(), "step".to_string())].into(),
            ..Default::default()
        };
        let containers = env.containers;
        let record = create::create(store, containers, "build-step", &image, &create_opts).map_err(RunStepError::from)?;
        let outcome = run_container(env, &record, request, progress, step);
        // The container goes whatever happened; its upper dir first, when it is the layer.
        let upper = containers.dir(&record.id).join("upper");
        let kept = scratch.join("upper");
        let moved = match &outcome {
            Ok(()) => {
                lifecycle::wait_released(containers, &record);
                std::fs::rename(&upper, &kept).map_err(io("keep the step's changes"))
            }
            Err(_) => Ok(()),
        };
        let removed = lifecycle::remove(containers, &record, true, env.paths);
        outcome?;
        moved?;
        removed.map_err(RunStepError::from)?;
        let lowers: Vec<PathBuf> = layers.iter().map(|l| store.layer_diff(&l.diff_id)).collect();
        remove_stubs(&kept, &lowers, &stubs, store.overlay_xattrs.opaque_name());
        commit_dir(store, &kept, opts.source_date_epoch)
    })();
    guards.release();
    let _ = crate::fsutil::remove_tree(scratch);
    result
}

/// Mounts and locks a step holds until it ends.
#[derive(Default)]
struct Guards {
    mounts: Vec<PathBuf>,
    locks: Vec<crate::fsutil::LockGuard>,
}

impl Guards {
    fn release(&mut self) {
        for m in self.mounts.drain(..).rev() {
            let _ = crate::runtime::rootfs::unmount(&m);
        }
        self.locks.clear();
    }
}

/// Start the container and follow it to its end: output to the progress view,
/// Ctrl-C kills it, a non-zero exit is the step's failure (with its last lines).
fn run_container(
    env: &Env,
    record: &crate::runtime::state::ContainerRecord,
    request: &RunStep,
    progress: &BuildProgress,
    step: usize,
) -> Result<(), BuildError> {
    let mut log = LogReader::open(&env.containers.log_path(&record.id)).map_err(io("the step's log"))?;
    let mut started = lifecycle::start(env.containers, record, env.paths, false, None).map_err(RunStepError::from)?;
    let code = loop {
        let done = started.exit_code(Duration::from_millis(100));
        for line in log.read_available() {
            progress.output(step, &line.log);
        }
        if crate::signals::interrupted() {
            let _ = lifecycle::kill(env.containers, record, nix::sys::signal::Signal::SIGKILL);
            return Err(BuildError::Interrupted);
        }
        if let Some(code) = done {
            for line in log.read_available() {
                progress.output(step, &line.log);
            }
            break code.unwrap_or(125);
        }
    };
    if code != 0 {
        let command = request.header.split_once("RUN ").map_or(request.args.join(" "), |(_, c)| c.to_string());
        return Err(RunStepError::Failed { file: request.file.clone(), line: request.line, command, code, output: progress.recent() }.into());
    }
    Ok(())
}

/// A cache mount's directory (kept between builds, removed by `builder prune`).
fn cache_mount_dir(store: &Store, m: &RunMount) -> std::io::Result<PathBuf> {
    let dir = store.root().join("build-mounts-v1").join(&Digest::of(m.id.as_bytes()).hex()[..32]);
    if !dir.exists() {
        std::fs::create_dir_all(&dir)?;
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(m.mode.unwrap_or(0o755)))?;
        if m.uid.is_some() || m.gid.is_some() {
            std::os::unix::fs::chown(&dir, m.uid, m.gid)?;
        }
    }
    Ok(dir)
}

/// Mount `layers` read-only at `root` (an overlay needs two lower dirs without an upper: an empty one is added).
pub(super) fn mount_read_only(store: &Store, layers: &[ImageLayer], root: &Path, scratch: &Path, n: usize) -> Result<(), BuildError> {
    let empty = scratch.join(format!("empty-{n}"));
    std::fs::create_dir_all(&empty).map_err(io("a read-only mount"))?;
    std::fs::create_dir_all(root).map_err(io("a read-only mount"))?;
    let mut lowers: Vec<String> = layers.iter().rev().map(|l| store.layer_diff(&l.diff_id).display().to_string()).collect();
    lowers.push(empty.display().to_string());
    let options = format!("lowerdir={}", lowers.join(":"));
    nix::mount::mount(Some("overlay"), root, Some("overlay"), nix::mount::MsFlags::MS_RDONLY | nix::mount::MsFlags::MS_NODEV, Some(options.as_str()))
        .map_err(|e| RunStepError::Mount(format!("cannot mount a stage read-only: {e}")))?;
    Ok(())
}

/// Take the runtime's mount stubs out of an upper dir: an empty file or
/// directory at a mount target, then its parents while they are empty. An
/// entry a lower layer also has goes only if it is a directory overlay merely
/// copied up (same mode and owner, not opaque), so the merged view is unchanged.
pub fn remove_stubs(upper: &Path, lowers: &[PathBuf], stubs: &[String], opaque_xattr: &str) {
    use std::os::unix::fs::MetadataExt;
    let lower_meta = |rel: &str| lowers.iter().find_map(|l| std::fs::symlink_metadata(l.join(rel)).ok());
    for stub in stubs {
        let mut rel = stub.trim_matches('/').to_string();
        while !rel.is_empty() {
            let path = upper.join(&rel);
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                rel = parent(&rel);
                continue;
            };
            let empty =
                if meta.is_dir() { std::fs::read_dir(&path).map(|mut d| d.next().is_none()).unwrap_or(false) } else { meta.is_file() && meta.len() == 0 };
            let removable = empty
                && match lower_meta(&rel) {
                    None => true,
                    Some(lower) => {
                        meta.is_dir()
                            && lower.is_dir()
                            && lower.mode() == meta.mode()
                            && lower.uid() == meta.uid()
                            && lower.gid() == meta.gid()
                            && rustix::fs::lgetxattr(&path, opaque_xattr, &mut [0u8; 4]).is_err()
                    }
                };
            if !removable {
                break;
            }
            let removed = if meta.is_dir() { std::fs::remove_dir(&path) } else { std::fs::remove_file(&path) };
            if removed.is_err() {
                break;
            }
            rel = parent(&rel);
        }
    }
}

fn parent(rel: &str) -> String {
    rel.rsplit_once('/').map_or(String::new(), |(parent, _)| parent.to_string())
}

/// A finished upper dir (or COPY output) as a stored layer; `None` when it holds nothing.
/// `clamp_mtime`: SOURCE_DATE_EPOCH, the latest mtime the layer's tar (and so its diff id) carries.
pub(super) fn commit_dir(store: &Store, dir: &Path, clamp_mtime: Option<u64>) -> Result<Option<LayerMeta>, BuildError> {
    let empty = std::fs::read_dir(dir).map(|mut d| d.next().is_none()).unwrap_or(true);
    if empty {
        let _ = crate::fsutil::remove_tree(dir);
        return Ok(None);
    }
    let digest = layer_tar::write_layer(dir, TarOptions { overlay_xattrs: store.overlay_xattrs, clamp_mtime }, std::io::sink()).map_err(RunStepError::from)?;
    Ok(Some(store.commit_built_layer(dir, &digest, clamp_mtime)?))
}
