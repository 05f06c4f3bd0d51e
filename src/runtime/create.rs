//! From `rde container run` options and the image config to a container record,
//! with docker's rules: entrypoint/cmd/env/workdir/user/stop signal from the
//! image, overridden by flags; users resolved through the image's files.

use super::health::HealthConfig;
use super::restart::RestartPolicy;
use super::rootfs::{self, RootfsError};
use super::spec::{ContainerSpec, Mount, MountKind, ProcessSpec};
use super::state::{ContainerRecord, Containers, generated_name};
use super::user;
use crate::image::config::ImageConfig;
use crate::image::store::{ImageRecord, Store};
use crate::names::{self, NameError, NameKind, new_id};
use crate::net::network::NetworkMode;
use crate::net::ports::PortMapping;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Default, Clone)]
pub struct CreateOptions {
    pub name: Option<String>,
    pub command: Vec<String>,
    /// Replaces the image's entrypoint (an empty list clears it).
    pub entrypoint: Option<Vec<String>>,
    /// `-e K=V` or `-e K` (taken from our environment).
    pub env: Vec<String>,
    pub env_files: Vec<PathBuf>,
    pub volumes: Vec<String>,
    pub tmpfs: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub read_only: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub memory: Option<u64>,
    pub cpus: Option<f64>,
    pub pids_limit: Option<i64>,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<u64>,
    pub auto_remove: bool,
    /// Run a small init as PID 1 (forwards signals, reaps zombies), as `docker run --init`.
    pub init: bool,
    pub interactive: bool,
    pub tty: bool,
    pub network: NetworkMode,
    pub ports: Vec<PortMapping>,
    /// `-P`: publish every port the image exposes.
    pub publish_all: bool,
    pub restart: RestartPolicy,
    pub healthcheck: Option<HealthConfig>,
    pub labels: BTreeMap<String, String>,
    /// `nofile` (or `RLIMIT_NOFILE`) -> (soft, hard).
    pub ulimits: Vec<(String, u64, u64)>,
    pub shm_size: Option<u64>,
    /// `host:ip` lines added to /etc/hosts (`host-gateway`: the host's address on the first network).
    pub extra_hosts: Vec<(String, String)>,
    /// `--dns`, `--dns-search`, `--dns-option` (compose `dns`, `dns_search`, `dns_opt`).
    pub dns: crate::net::resolv::DnsConfig,
    /// Log rotation (docker's json-file `max-size`, `max-file`).
    pub log: super::logs::LogOptions,
    /// docker's `--security-opt`: `seccomp=unconfined|PROFILE.json`, `no-new-privileges`, ... (see `security_opt`).
    pub security_opt: Vec<String>,
    /// Compose `secrets:` and `configs:`: files mounted read-only, never part of the image or the container's layer.
    pub files: Vec<InjectedFile>,
}

/// A file compose puts into a container (a secret or a config), mounted read-only at `target`.
///
/// A host file with no owner or mode asked for is bind-mounted as it is (edits show through, as
/// with docker compose); anything else is written once into the container's directory
/// (`<container>/files/N`, owner `uid:gid`, default 0:0, mode default 0444) and mounted from there.
#[derive(Clone, Default)]
pub struct InjectedFile {
    /// Absolute path in the container, e.g. `/run/secrets/db_pass`.
    pub target: String,
    pub source: FileSource,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// Permission bits, e.g. 0o440.
    pub mode: Option<u32>,
}

/// Where an [`InjectedFile`]'s bytes come from.
#[derive(Clone)]
pub enum FileSource {
    /// A host file (compose `file:`), absolute.
    Path(PathBuf),
    /// The bytes themselves (compose `environment:` or `content:`).
    Content(Vec<u8>),
}

impl Default for FileSource {
    fn default() -> Self {
        FileSource::Content(Vec::new())
    }
}

// Never print a secret's bytes.
impl std::fmt::Debug for InjectedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let source = match &self.source {
            FileSource::Path(p) => p.display().to_string(),
            FileSource::Content(bytes) => format!("{} bytes", bytes.len()),
        };
        f.debug_struct("InjectedFile").field("target", &self.target).field("source", &source).field("mode", &self.mode).finish()
    }
}

/// The init binary `--init` mounts into the container: statically linked, so it
/// runs in any image (Debian package `tini`).
pub const INIT_BINARY: &str = "/usr/bin/tini-static";
pub const INIT_IN_CONTAINER: &str = "/sbin/docker-init";

#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("invalid volume specification {0:?}; hint: use HOST_PATH:CONTAINER_PATH[:ro] or VOLUME:CONTAINER_PATH[:ro], with an absolute container path")]
    BadVolume(String),
    #[error("invalid environment variable {0:?}: the name may not be empty or contain '='")]
    BadEnv(String),
    #[error("invalid host name {0:?}; hint: use letters, digits, '-', '_' and '.', at most 253 characters")]
    BadHostName(String),
    #[error("invalid address {1:?} for extra host {0:?}; hint: an IPv4 or IPv6 address, e.g. db:10.0.0.5")]
    BadHostAddress(String, String),
    #[error("env file {path}: {source}")]
    EnvFile { path: PathBuf, source: std::io::Error },
    #[error("bind mount source {0} does not exist; hint: create it first, or check the path")]
    MissingBindSource(PathBuf),
    #[error("invalid size {0:?}; hint: a number with an optional unit k, m, g, e.g. 512m")]
    BadSize(String),
    #[error("--init needs {INIT_BINARY}; hint: install it with `apt-get install tini`")]
    NoInit,
    #[error("no command specified: the image has no Cmd or Entrypoint; hint: give a command after the image name")]
    NoCommand,
    #[error(
        "capability {0} cannot be added: rde itself does not hold it (it is not in this host's bounding set, as in a container); hint: leave it out of cap_add"
    )]
    CapabilityUnavailable(String),
    #[error("image config: {0}")]
    Config(String),
    #[error(transparent)]
    User(#[from] user::UserError),
    #[error(transparent)]
    Rootfs(#[from] RootfsError),
    #[error(transparent)]
    State(#[from] super::state::StateError),
    #[error(transparent)]
    Volume(#[from] super::volumes::VolumeError),
    #[error("file for {target}: {path}: {source}")]
    InjectedFile { target: String, path: PathBuf, source: std::io::Error },
    #[error("file for {target}: {path} is not a regular file; hint: an owner or mode needs a file, not a directory")]
    InjectedNotAFile { target: String, path: PathBuf },
    #[error("invalid volume specification {spec:?}: {source}")]
    VolumeName { spec: String, source: NameError },
    #[error(transparent)]
    Name(#[from] NameError),
    #[error(transparent)]
    SecurityOpt(#[from] super::security_opt::SecurityOptError),
}

/// Create the container record and its directories (nothing runs yet).
pub fn create(store: &Store, containers: &Containers, image_ref: &str, image: &ImageRecord, opts: &CreateOptions) -> Result<ContainerRecord, CreateError> {
    if let Some(name) = &opts.name {
        names::validate(NameKind::Container, name)?;
    }
    let config_bytes = store.get_blob(&image.id).ok_or_else(|| CreateError::Config("missing from the store; pull the image again".into()))?;
    let config = ImageConfig::parse(&config_bytes).map_err(|e| CreateError::Config(e.to_string()))?.config;
    let layers: Vec<PathBuf> = image.layers.iter().rev().map(|l| store.layer_diff(&l.diff_id)).collect();

    let entrypoint = match &opts.entrypoint {
        Some(e) => e.clone(),
        None => config.entrypoint.clone().unwrap_or_default(),
    };
    // A new entrypoint drops the image's Cmd, as docker does.
    let cmd = if !opts.command.is_empty() {
        opts.command.clone()
    } else if opts.entrypoint.is_some() {
        Vec::new()
    } else {
        config.cmd.clone().unwrap_or_default()
    };
    let mut args: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
    if args.is_empty() {
        return Err(CreateError::NoCommand);
    }
    if let Some(cap) = opts.cap_add.iter().map(|c| super::spec::capability_name(c)).find(|c| !super::spec::in_bounding_set(c)) {
        return Err(CreateError::CapabilityUnavailable(cap));
    }
    // A seccomp profile file is read now: the record keeps it.
    let security = super::security_opt::parse(&opts.security_opt)?;
    let mut mounts = Vec::new();
    if opts.init {
        if !std::path::Path::new(INIT_BINARY).is_file() {
            return Err(CreateError::NoInit);
        }
        mounts.push(Mount { destination: INIT_IN_CONTAINER.into(), kind: MountKind::Bind { source: INIT_BINARY.into() }, read_only: true });
        args.splice(0..0, [INIT_IN_CONTAINER.to_string(), "--".to_string()]);
    }

    let user_spec = opts.user.clone().or(config.user.clone()).unwrap_or_default();
    let passwd = image_file(&layers, "etc/passwd")?.unwrap_or_default();
    let group = image_file(&layers, "etc/group")?.unwrap_or_default();
    let user = user::resolve(&user_spec, &passwd, &group)?;

    let mut env = EnvList::default();
    for e in config.env.clone().unwrap_or_default() {
        env.set_line(&e);
    }
    for file in &opts.env_files {
        let text = std::fs::read_to_string(file).map_err(|source| CreateError::EnvFile { path: file.clone(), source })?;
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            env.set_from_flag(line)?;
        }
    }
    for e in &opts.env {
        env.set_from_flag(e)?;
    }
    if !env.has("PATH") {
        env.set("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    }
    if !env.has("HOME") {
        env.set("HOME", &user.home);
    }

    let id = new_id();
    let name = opts.name.clone().unwrap_or_else(|| generated_name(&id));
    let hostname = opts.hostname.clone().unwrap_or_else(|| id[..12].to_string());
    // Both end up in /etc/hosts, where a space or a newline would forge entries.
    for name in std::iter::once(&hostname).chain(opts.extra_hosts.iter().map(|(host, _)| host)) {
        if !crate::net::hosts::valid_host_name(name) {
            return Err(CreateError::BadHostName(name.clone()));
        }
    }
    // (`host-gateway` is not resolved yet: such entries are left out of /etc/hosts.)
    if let Some((host, ip)) = opts.extra_hosts.iter().find(|(_, ip)| ip != "host-gateway" && ip.parse::<std::net::IpAddr>().is_err()) {
        return Err(CreateError::BadHostAddress(host.clone(), ip.clone()));
    }
    env.set("HOSTNAME", &hostname);
    for v in &opts.volumes {
        mounts.push(parse_volume(v, containers)?);
    }
    for t in &opts.tmpfs {
        let (dest, _) = t.split_once(':').unwrap_or((t, ""));
        mounts.push(Mount { destination: dest.to_string(), kind: MountKind::Tmpfs { size: None }, read_only: false });
    }
    let dir = containers.dir(&id);
    // Injected files: bind the host file as is, or write the bytes under the container's directory.
    let mut to_write = Vec::new();
    for (i, file) in opts.files.iter().enumerate() {
        let plain = file.uid.is_none() && file.gid.is_none() && file.mode.is_none();
        let source = match &file.source {
            FileSource::Path(path) if plain => {
                if !path.exists() {
                    return Err(CreateError::MissingBindSource(path.clone()));
                }
                path.clone()
            }
            source => {
                let bytes = match source {
                    FileSource::Content(bytes) => bytes.clone(),
                    FileSource::Path(path) => {
                        let meta =
                            std::fs::metadata(path).map_err(|e| CreateError::InjectedFile { target: file.target.clone(), path: path.clone(), source: e })?;
                        if !meta.is_file() {
                            return Err(CreateError::InjectedNotAFile { target: file.target.clone(), path: path.clone() });
                        }
                        std::fs::read(path).map_err(|e| CreateError::InjectedFile { target: file.target.clone(), path: path.clone(), source: e })?
                    }
                };
                let at = dir.join("files").join(i.to_string());
                to_write.push((at.clone(), bytes, file));
                at
            }
        };
        mounts.push(Mount { destination: file.target.clone(), kind: MountKind::Bind { source: source.display().to_string() }, read_only: true });
    }
    let etc = dir.join("etc");
    let etc_files = vec![
        ("/etc/hosts".to_string(), etc.join("hosts").display().to_string()),
        ("/etc/hostname".to_string(), etc.join("hostname").display().to_string()),
        ("/etc/resolv.conf".to_string(), etc.join("resolv.conf").display().to_string()),
    ];
    let rlimits = rlimits(&opts.ulimits);
    // Without a device cgroup, CAP_MKNOD would let container root open host devices.
    let no_device_nodes = !crate::paths::is_rootless() && !rootfs::devices_confined();
    let mut cap_drop = opts.cap_drop.clone();
    if no_device_nodes {
        cap_drop.push("CAP_MKNOD".into());
    }
    let spec = ContainerSpec {
        process: ProcessSpec {
            args,
            env: env.lines(),
            cwd: opts.workdir.clone().or(config.working_dir.clone()).filter(|w| !w.is_empty()).unwrap_or_else(|| "/".into()),
            uid: user.uid,
            gid: user.gid,
            additional_gids: user.additional_gids,
            terminal: opts.tty,
            cap_add: opts.cap_add.clone(),
            cap_drop,
            rlimits,
            no_new_privileges: security.no_new_privileges,
        },
        hostname: hostname.clone(),
        rootfs: String::new(),
        read_only: opts.read_only,
        mounts,
        etc_files,
        cgroups_path: format!("/rde/{id}"),
        memory_limit: opts.memory,
        cpu_quota: opts.cpus.map(|c| ((c * 100_000.0) as i64, 100_000)),
        pids_limit: opts.pids_limit,
        netns_path: None,
        shm_size: opts.shm_size,
        no_device_nodes,
        seccomp: security.seccomp,
    };
    let mut ports = opts.ports.clone();
    if opts.publish_all {
        let exposed: Vec<String> = config.exposed_ports.clone().unwrap_or_default().into_keys().collect();
        ports.extend(crate::net::ports::publish_all(&exposed));
    }
    let record = ContainerRecord {
        id: id.clone(),
        name,
        image: image_ref.to_string(),
        image_id: image.id.clone(),
        layers,
        spec,
        created: crate::time::now_unix(),
        auto_remove: opts.auto_remove,
        stop_signal: opts.stop_signal.clone().or(config.stop_signal.clone()).unwrap_or_else(|| "SIGTERM".into()),
        stop_timeout: opts.stop_timeout.unwrap_or(10),
        labels: opts.labels.clone(),
        interactive: opts.interactive,
        network: opts.network.clone(),
        ports,
        restart: opts.restart,
        healthcheck: opts.healthcheck.clone(),
        log: opts.log,
        extra_hosts: opts.extra_hosts.clone(),
        dns: opts.dns.clone(),
    };
    let _lock = containers.lock()?;
    let dir = containers.create(&record)?;
    let write = |name: &str, text: String| std::fs::write(dir.join("etc").join(name), text);
    let mut hosts = format!("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t{hostname}\n");
    for (host, ip) in opts.extra_hosts.iter().filter(|(_, ip)| ip != "host-gateway") {
        hosts.push_str(&format!("{ip}\t{host}\n"));
    }
    // The host's, as is, in its namespace; else without loopback servers (a container on a
    // network gets its resolver's address when it starts, see net::connect).
    let resolv = if opts.network == NetworkMode::Host && opts.dns == Default::default() {
        std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default()
    } else {
        crate::net::resolv::for_container(&opts.dns, None)
    };
    let io = |e| CreateError::State(super::state::StateError::Io { path: dir.clone(), source: e });
    write("hosts", hosts).map_err(io)?;
    write("hostname", format!("{hostname}\n")).map_err(io)?;
    write("resolv.conf", resolv).map_err(io)?;
    write_injected(&dir.join("files"), &to_write).map_err(io)?;
    super::events::record(containers, &record, "create", &[]);
    Ok(record)
}

/// Writes the bytes of injected files (owner root unless asked, mode 0444 unless asked) into
/// `files`, a directory only its owner may enter.
fn write_injected(files: &std::path::Path, list: &[(PathBuf, Vec<u8>, &InjectedFile)]) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if list.is_empty() {
        return Ok(());
    }
    std::fs::DirBuilder::new().mode(0o700).create(files)?;
    for (path, bytes, file) in list {
        std::fs::write(path, bytes)?;
        std::os::unix::fs::chown(path, Some(file.uid.unwrap_or(0)), Some(file.gid.unwrap_or(0)))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(file.mode.unwrap_or(0o444) & 0o7777))?;
    }
    Ok(())
}

/// The parts of a `-v` spec, checked without touching the disk.
struct VolumeSpec<'a> {
    /// A host path (`/`, `.` or `~` first), else a volume name that follows docker's rule.
    source: &'a str,
    bind: bool,
    destination: &'a str,
    read_only: bool,
}

fn split_volume(spec: &str) -> Result<VolumeSpec<'_>, CreateError> {
    let bad = || CreateError::BadVolume(spec.to_string());
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, destination, mode) = match parts.as_slice() {
        [s, d] => (*s, *d, ""),
        [s, d, m] => (*s, *d, *m),
        _ => return Err(bad()),
    };
    if !destination.starts_with('/') || source.is_empty() || !matches!(mode, "" | "ro" | "rw" | "z" | "Z") {
        return Err(bad());
    }
    let bind = source.starts_with('/') || source.starts_with('.') || source.starts_with('~');
    if !bind {
        names::validate(NameKind::Volume, source).map_err(|source| CreateError::VolumeName { spec: spec.to_string(), source })?;
    }
    Ok(VolumeSpec { source, bind, destination, read_only: mode == "ro" })
}

/// Checks a `-v` spec's syntax and, for a named volume, its name ([`NameKind::Volume`]),
/// without touching the disk: the CLI calls it before pulling anything.
pub fn check_volume(spec: &str) -> Result<(), CreateError> {
    split_volume(spec).map(|_| ())
}

/// `-v`: `/host:/ctr[:ro]`, `./rel:/ctr`, or `name:/ctr` for a named volume.
fn parse_volume(spec: &str, containers: &Containers) -> Result<Mount, CreateError> {
    let VolumeSpec { source, bind, destination, read_only } = split_volume(spec)?;
    let source = if bind {
        let path = std::path::absolute(source).map_err(|_| CreateError::BadVolume(spec.to_string()))?;
        if !path.exists() {
            return Err(CreateError::MissingBindSource(path));
        }
        path
    } else {
        containers.volume_dir(source)?
    };
    Ok(Mount { destination: destination.to_string(), kind: MountKind::Bind { source: source.display().to_string() }, read_only })
}

/// `512m`, `2g`, `1024k`, `1048576`: bytes, as docker reads sizes (binary units).
pub fn parse_bytes(text: &str) -> Result<u64, CreateError> {
    let t = text.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (number, unit) = match t.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => (&t[..i], &t[i..]),
        None => (t, ""),
    };
    let shift = match unit {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        _ => return Err(CreateError::BadSize(text.to_string())),
    };
    let value: f64 = number.parse().map_err(|_| CreateError::BadSize(text.to_string()))?;
    Ok((value * (1u64 << shift) as f64) as u64)
}

/// A file of the image (`etc/passwd`), read from the topmost layer that has
/// it (a whiteout hides it), resolved inside that layer and at most
/// [`MAX_ACCOUNT_FILE`](super::rootfs::MAX_ACCOUNT_FILE) bytes.
pub fn image_file(layers: &[PathBuf], path: &str) -> Result<Option<String>, RootfsError> {
    for layer in layers {
        match rootfs::file_type(layer, path) {
            Some(rustix::fs::FileType::CharacterDevice) => return Ok(None),
            Some(_) => return Ok(rootfs::read_file(layer, path, rootfs::MAX_ACCOUNT_FILE)?.map(|b| String::from_utf8_lossy(&b).into_owned())),
            None => {}
        }
    }
    Ok(None)
}

/// The caller's open-files limit unless `ulimits` say otherwise: raising a hard
/// limit above ours is not allowed here (podman's 1048576 would fail), so asked
/// limits are clamped to it.
fn rlimits(asked: &[(String, u64, u64)]) -> Vec<(String, u64, u64)> {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    let (soft, hard) = (limit.current.unwrap_or(1024), limit.maximum.unwrap_or(1024));
    let mut out = vec![("RLIMIT_NOFILE".to_string(), soft, hard)];
    for (name, s, h) in asked {
        let name = if name.starts_with("RLIMIT_") { name.clone() } else { format!("RLIMIT_{}", name.to_ascii_uppercase()) };
        let (s, h) = if name == "RLIMIT_NOFILE" { ((*s).min(hard), (*h).min(hard)) } else { (*s, *h) };
        out.retain(|(n, _, _)| *n != name);
        out.push((name, s.min(h), h));
    }
    out
}

/// Environment in order, later settings replacing earlier ones.
#[derive(Default)]
struct EnvList(Vec<(String, String)>);

impl EnvList {
    fn set(&mut self, key: &str, value: &str) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value.to_string(),
            None => self.0.push((key.to_string(), value.to_string())),
        }
    }

    fn set_line(&mut self, line: &str) {
        let (k, v) = line.split_once('=').unwrap_or((line, ""));
        self.set(k, v);
    }

    /// `K=V` sets; a bare `K` copies our own value, or is dropped when unset.
    fn set_from_flag(&mut self, flag: &str) -> Result<(), CreateError> {
        match flag.split_once('=') {
            Some(("", _)) => Err(CreateError::BadEnv(flag.to_string())),
            Some((k, v)) => {
                self.set(k, v);
                Ok(())
            }
            None if flag.is_empty() => Err(CreateError::BadEnv(flag.to_string())),
            None => {
                if let Ok(v) = std::env::var(flag) {
                    self.set(flag, &v);
                }
                Ok(())
            }
        }
    }

    fn has(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }

    fn lines(&self) -> Vec<String> {
        self.0.iter().map(|(k, v)| format!("{k}={v}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("512m").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("2G").unwrap(), 2 << 30);
        assert_eq!(parse_bytes("1.5g").unwrap(), 3 << 29);
        assert_eq!(parse_bytes("4096").unwrap(), 4096);
        assert_eq!(parse_bytes("10kb").unwrap(), 10 << 10);
        assert!(parse_bytes("lots").is_err() && parse_bytes("5x").is_err());
    }

    #[test]
    fn env_flags_override_in_order() {
        let mut env = EnvList::default();
        env.set_line("PATH=/usr/bin");
        env.set_line("LANG=C.UTF-8");
        env.set_from_flag("LANG=en_US.UTF-8").unwrap();
        env.set_from_flag("EMPTY=").unwrap();
        env.set_from_flag("RDE_SURELY_UNSET_VARIABLE").unwrap();
        assert_eq!(env.lines(), ["PATH=/usr/bin", "LANG=en_US.UTF-8", "EMPTY="]);
        assert!(matches!(env.set_from_flag("=x"), Err(CreateError::BadEnv(_))));
    }

    #[test]
    fn volume_specs() {
        let dir = tempfile::tempdir().unwrap();
        let containers = Containers::open(dir.path()).unwrap();
        let m = parse_volume(&format!("{}:/data:ro", dir.path().display()), &containers).unwrap();
        assert!(m.read_only && m.destination == "/data");
        let m = parse_volume("pgdata:/var/lib/postgresql/data", &containers).unwrap();
        assert_eq!(m.kind, MountKind::Bind { source: dir.path().join("volumes-v1/pgdata/_data").display().to_string() });
        for bad in ["/x", "a:b", "/x:/y:rx", ":/y", "a b:/y", "/x:/y:ro:extra"] {
            assert!(parse_volume(bad, &containers).is_err(), "{bad}");
        }
        assert!(matches!(parse_volume("/surely/missing/dir:/y", &containers), Err(CreateError::MissingBindSource(_))));
        // Named volumes follow docker's rule: nothing that could leave volumes-v1/.
        for bad in ["x/../../tmp:/y", "a\nb:/y", "v:/y", "a/b:/y"] {
            let err = parse_volume(bad, &containers).unwrap_err();
            assert!(matches!(err, CreateError::VolumeName { .. }), "{bad}: {err}");
        }
        assert_eq!(std::fs::read_dir(dir.path().join("volumes-v1")).unwrap().count(), 1, "only pgdata was made");
    }

    #[test]
    fn image_files_respect_whiteouts() {
        let dir = tempfile::tempdir().unwrap();
        let (upper, lower) = (dir.path().join("upper"), dir.path().join("lower"));
        std::fs::create_dir_all(upper.join("etc")).unwrap();
        std::fs::create_dir_all(lower.join("etc")).unwrap();
        std::fs::write(lower.join("etc/passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
        std::fs::write(lower.join("etc/group"), "root:x:0:\n").unwrap();
        let layers = vec![upper.clone(), lower.clone()];
        assert!(image_file(&layers, "etc/passwd").unwrap().unwrap().starts_with("root"));
        rustix::fs::mknodat(rustix::fs::CWD, upper.join("etc/group"), rustix::fs::FileType::CharacterDevice, rustix::fs::Mode::empty(), 0).unwrap();
        assert_eq!(image_file(&layers, "etc/group").unwrap(), None);
    }
}
