//! The command line's clap definitions (the project commands' flags are in `compose_args.rs`).
//! Imports no command: the commands import their arguments from here, `dispatch.rs` calls them.

use super::compose_args::*;

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "rde", version, long_version = LONG_VERSION, about = "Run docker-compose projects without Docker: daemonless, rootless, fast")]
pub struct Cli {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// When to print ANSI control characters (colors)
    #[arg(long, global = true, value_enum, env = "COMPOSE_ANSI", default_value_t = Ansi::Auto)]
    pub ansi: Ansi,
    #[command(subcommand)]
    pub command: Command,
}

/// docker compose's `--ansi`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Ansi {
    Never,
    Always,
    #[default]
    Auto,
}

impl Ansi {
    /// The process-wide choice for [`crate::output::set_ansi`].
    pub fn choice(self) -> anstream::ColorChoice {
        match self {
            Ansi::Never => anstream::ColorChoice::Never,
            Ansi::Always => anstream::ColorChoice::Always,
            Ansi::Auto => anstream::ColorChoice::Auto,
        }
    }
}

/// docker compose's global flags.
#[derive(Args, Debug, Clone, Default)]
pub struct ProjectArgs {
    /// Compose configuration files (repeatable; `-` reads standard input)
    #[arg(short = 'f', long = "file")]
    pub files: Vec<std::path::PathBuf>,
    /// Project name
    #[arg(short = 'p', long = "project-name")]
    pub project_name: Option<String>,
    /// Alternate environment files (repeatable; COMPOSE_ENV_FILES: comma-separated)
    #[arg(long = "env-file", env = "COMPOSE_ENV_FILES", value_delimiter = ',')]
    pub env_files: Vec<std::path::PathBuf>,
    /// How project commands show their steps: auto, tty, plain or quiet
    #[arg(long, env = "COMPOSE_PROGRESS", default_value = "auto", value_parser = ["auto", "tty", "plain", "quiet"])]
    pub progress: String,
    /// Profiles to enable (repeatable)
    #[arg(long = "profile")]
    pub profiles: Vec<String>,
    /// Alternate working directory (default: the directory of the first compose file)
    #[arg(long = "project-directory")]
    pub project_directory: Option<std::path::PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create and start the project's containers (and its networks, volumes, images)
    Up(UpArgs),
    /// Stop and remove the project's containers and networks (-v: volumes too)
    Down(DownArgs),
    /// List the project's containers
    Ps(PsArgs),
    /// Show the project's logs
    Logs(ProjectLogsArgs),
    /// Run a command in a service's running container
    Exec(ProjectExecArgs),
    /// Run a one-off command in a new container of a service
    Run(ProjectRunArgs),
    /// Create the project's containers without starting them
    Create(CreateArgs),
    /// Start the project's existing containers
    Start(StartArgs),
    /// Stop the project's containers
    Stop(ServicesTimeoutArgs),
    /// Restart the project's containers
    Restart(ServicesTimeoutArgs),
    /// Send a signal to the project's containers
    Kill(ProjectKillArgs),
    /// Remove the project's stopped containers
    Rm(ProjectRmArgs),
    /// Pull the services' images
    Pull(ProjectPullArgs),
    /// Build or rebuild the services' images
    Build(BuildServicesArgs),
    /// Pin the project's images and downloads in rde.lock (--check, --update)
    Lock(LockArgs),
    /// Push the services' images to their registries
    Push(ProjectPushArgs),
    /// Save every image the project runs (pulled and built) to one archive
    Save(ProjectSaveArgs),
    /// Load images from an archive (rde save, rde image save, docker save, podman save)
    Load(ImageLoadArgs),
    /// Print the host address of a service's published port
    Port(ProjectPortArgs),
    /// Show the processes of the project's containers
    Top(ServicesArgs),
    /// Freeze the processes of the project's containers
    Pause(ServicesArgs),
    /// Thaw the project's paused containers
    Unpause(ServicesArgs),
    /// List the images the project's containers use
    Images(ProjectImagesArgs),
    /// Parse, resolve and render the compose file in canonical format
    Config(ConfigArgs),
    /// Manage images
    #[command(subcommand)]
    Image(ImageCommand),
    /// Manage containers
    #[command(subcommand)]
    Container(ContainerCommand),
    /// Manage networks
    #[command(subcommand)]
    Network(NetworkCommand),
    /// Manage volumes
    #[command(subcommand)]
    Volume(VolumeCommand),
    /// List the volumes of the project's services
    Volumes(VolumesArgs),
    /// List the projects that have containers here
    Ls(ProjectLsArgs),
    /// Copy files between a service's (or a container's) filesystem and the host: SERVICE:PATH
    Cp(CpArgs),
    /// Block until the services' containers stop; print their exit codes
    Wait(WaitArgs),
    /// Show the resource use of the project's containers (CPU, memory, network, block I/O, pids)
    Stats(StatsArgs),
    /// Show the project's container events as they happen
    Events(ProjectEventsArgs),
    /// Follow a service's running container: its output from now, Ctrl-C passed on
    Attach(AttachArgs),
    /// Log in to a registry
    Login(LoginArgs),
    /// Log out from a registry
    Logout(LogoutArgs),
    /// Manage rde itself
    #[command(subcommand)]
    System(SystemCommand),
    /// Show rde's version (docker's layout; --format json, --short)
    Version(VersionArgs),
    /// Print a shell completion script: bash, zsh, fish, elvish or powershell
    Completion(CompletionArgs),
    /// Manage the build cache
    #[command(subcommand)]
    Builder(BuilderCommand),
}

/// `rde compose up -d` is `rde up -d`: scripts written for `docker compose` run with
/// `alias docker=rde`. Drops a `compose` word right after the program name.
pub fn without_compose_word(args: impl IntoIterator<Item = std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = args.into_iter().collect();
    if args.get(1).is_some_and(|a| a == "compose") {
        args.remove(1);
    }
    args
}

/// `rde --version`, as docker prints its own: `rde version 0.1.0`.
pub const LONG_VERSION: &str = concat!("version ", env!("CARGO_PKG_VERSION"));

#[derive(Args, Debug)]
pub struct VersionArgs {
    /// json, or a Go template such as '{{.Version}}'
    #[arg(short, long)]
    pub format: Option<String>,
    /// The version number only
    #[arg(long)]
    pub short: bool,
}

#[derive(Args, Debug)]
pub struct CompletionArgs {
    /// The shell to complete for
    pub shell: clap_complete::Shell,
}

#[derive(Subcommand, Debug)]
pub enum BuilderCommand {
    /// Remove build cache
    Prune(BuilderPruneArgs),
}

#[derive(Args, Debug)]
pub struct BuilderPruneArgs {
    /// Remove all build cache, not only entries unused for 48 hours
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
}

/// `docker build`'s flags.
#[derive(Args, Debug)]
pub struct BuildArgs {
    /// The build context: a directory
    #[arg(value_name = "PATH")]
    pub context: std::path::PathBuf,
    /// Name and optionally a tag (name:tag); repeatable
    #[arg(short, long = "tag")]
    pub tag: Vec<String>,
    /// The Dockerfile (default: PATH/Dockerfile); `-` reads it from stdin
    #[arg(short, long = "file")]
    pub file: Option<String>,
    /// Set a build-time variable (KEY=VALUE, or KEY to take it from the environment)
    #[arg(long = "build-arg")]
    pub build_arg: Vec<String>,
    /// The stage to build
    #[arg(long)]
    pub target: Option<String>,
    /// Do not use the build cache
    #[arg(long)]
    pub no_cache: bool,
    /// Always pull the base images
    #[arg(long)]
    pub pull: bool,
    /// Set metadata on the image (KEY=VALUE)
    #[arg(long)]
    pub label: Vec<String>,
    /// Networking for RUN steps: default, none or host
    #[arg(long, default_value = "default")]
    pub network: String,
    /// Add a host-to-IP mapping to RUN steps' /etc/hosts (host:ip)
    #[arg(long = "add-host")]
    pub add_host: Vec<String>,
    /// A secret for RUN --mount=type=secret: id=ID,src=PATH (or env=VAR)
    #[arg(long)]
    pub secret: Vec<String>,
    /// Progress output: auto, plain, tty or quiet
    #[arg(long, default_value = "auto")]
    pub progress: String,
    /// An additional build context: NAME=DIR or NAME=docker-image://REF (for FROM, COPY --from, RUN --mount from=)
    #[arg(long = "build-context")]
    pub build_context: Vec<String>,
    /// Resource limits for RUN steps: NAME=SOFT[:HARD], e.g. nofile=1024:2048
    #[arg(long)]
    pub ulimit: Vec<String>,
    /// Size of RUN steps' /dev/shm, e.g. 256m
    #[arg(long)]
    pub shm_size: Option<String>,
    /// Print only the image id
    #[arg(short, long)]
    pub quiet: bool,
    /// Write the image id to this file
    #[arg(long)]
    pub iidfile: Option<std::path::PathBuf>,
    /// Unix seconds for the image's times and the latest mtime in its layers (default: $SOURCE_DATE_EPOCH)
    #[arg(long)]
    pub source_date_epoch: Option<u64>,
    /// Target platform (only the host's is supported)
    #[arg(long)]
    pub platform: Option<String>,
}

#[derive(Args, Debug)]
pub struct ConfigArgs {
    /// Services to render, with the services they depend on (others are left out)
    #[arg(value_name = "SERVICE")]
    pub service_names: Vec<String>,
    /// Output format: yaml (the default) or json
    #[arg(long)]
    pub format: Option<String>,
    /// Only validate the configuration, print nothing
    #[arg(short, long)]
    pub quiet: bool,
    /// Print the service names, one per line
    #[arg(long = "services")]
    pub list_services: bool,
    /// Print the volume names, one per line
    #[arg(long)]
    pub volumes: bool,
    /// Print the profile names, one per line
    #[arg(long)]
    pub profiles: bool,
    /// Print the image names, one per line
    #[arg(long)]
    pub images: bool,
    /// Don't interpolate environment variables
    #[arg(long)]
    pub no_interpolate: bool,
    /// Pin image tags to digests (rde.lock's, else the registry's)
    #[arg(long)]
    pub resolve_image_digests: bool,
    /// Print only an override file that pins the services' images to digests
    #[arg(long, conflicts_with = "resolve_image_digests")]
    pub lock_image_digests: bool,
    /// Write the output to a file instead of standard output
    #[arg(short, long)]
    pub output: Option<std::path::PathBuf>,
    /// Print the service config hash, one `SERVICE HASH` per line ('*' or a comma-separated list)
    #[arg(long, value_name = "SERVICES")]
    pub hash: Option<String>,
    /// Print the variables the model uses, with their default and alternate values
    #[arg(long)]
    pub variables: bool,
    /// Print the environment used for interpolation, KEY=VALUE per line
    #[arg(long)]
    pub environment: bool,
    /// Don't check model consistency (undefined services, networks, volumes, secrets, configs)
    #[arg(long)]
    pub no_consistency: bool,
    /// Don't normalize the model (no default names, default network or default Dockerfile)
    #[arg(long)]
    pub no_normalize: bool,
    /// Don't resolve relative file paths
    #[arg(long)]
    pub no_path_resolution: bool,
}

#[derive(Subcommand, Debug)]
pub enum ContainerCommand {
    /// Create and run a new container from an image
    Run(Box<RunArgs>),
    /// List containers
    #[command(visible_aliases = ["list", "ps"])]
    Ls(ContainerLsArgs),
    /// Run a command in a running container
    Exec(ExecArgs),
    /// Show a container's output
    Logs(LogsArgs),
    /// Stop running containers (stop signal, grace period, then SIGKILL)
    Stop(StopArgs),
    /// Send a signal to running containers
    Kill(KillArgs),
    /// Remove containers
    #[command(visible_alias = "remove")]
    Rm(ContainerRmArgs),
    /// Show the details of containers
    Inspect(ContainerInspectArgs),
    /// Start stopped containers
    Start(ContainerStartArgs),
    /// Stop and start containers again
    Restart(StopArgs),
    /// List a container's published ports, or the host address of one
    Port(PortArgs),
    /// Copy files between a container and the host: CONTAINER:PATH
    Cp(CpArgs),
    /// Block until containers stop; print their exit codes
    Wait(ContainerStartArgs),
    /// Show containers' resource use (CPU, memory, network, block I/O, pids)
    Stats(StatsArgs),
    /// Follow a running container: its output from now, Ctrl-C passed on
    Attach(AttachArgs),
    /// Freeze every process of containers
    Pause(ContainerStartArgs),
    /// Thaw paused containers
    Unpause(ContainerStartArgs),
}

#[derive(Args, Debug)]
pub struct ContainerStartArgs {
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PortArgs {
    pub container: String,
    /// PORT[/PROTO]: only this container port
    pub private_port: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum NetworkCommand {
    /// Create a bridge network
    Create(NetworkCreateArgs),
    /// List networks
    #[command(visible_alias = "list")]
    Ls(NetworkLsArgs),
    /// Show the details of networks
    Inspect(NetworkNamesArgs),
    /// Remove networks
    #[command(visible_alias = "remove")]
    Rm(NetworkNamesArgs),
    /// Remove every network no container uses
    Prune,
}

#[derive(Args, Debug)]
pub struct NetworkCreateArgs {
    pub name: String,
    /// A subnet in CIDR form, e.g. 10.90.0.0/24 or fd00:90::/64 (once per family)
    #[arg(long)]
    pub subnet: Vec<String>,
    /// The bridge's address in a subnet (default: its first address), once per family
    #[arg(long)]
    pub gateway: Vec<std::net::IpAddr>,
    /// Give containers addresses from this part of a subnet, e.g. 10.90.0.128/25 (once per family)
    #[arg(long = "ip-range")]
    pub ip_range: Vec<String>,
    /// Dual stack: an IPv6 subnet too (a unique local /64 unless --subnet gives one)
    #[arg(long)]
    pub ipv6: bool,
    /// Keep traffic on the network: no way out, no way in but published ports
    #[arg(long)]
    pub internal: bool,
    /// Only bridge networks exist here
    #[arg(short, long, default_value = "bridge")]
    pub driver: String,
    /// KEY=VALUE
    #[arg(long)]
    pub label: Vec<String>,
}

#[derive(Args, Debug)]
pub struct NetworkLsArgs {
    /// Only names
    #[arg(short, long)]
    pub quiet: bool,
    /// table or json
    #[arg(long, default_value = "table")]
    pub format: String,
}

#[derive(Args, Debug)]
pub struct NetworkNamesArgs {
    #[arg(required = true)]
    pub networks: Vec<String>,
}

#[derive(Args, Debug)]
#[command(trailing_var_arg = true)]
pub struct RunArgs {
    /// Run in the background and print the container id
    #[arg(short, long)]
    pub detach: bool,
    /// Remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    #[arg(long)]
    pub name: Option<String>,
    /// Set an environment variable (KEY=VALUE, or KEY to copy ours)
    #[arg(short, long = "env")]
    pub env: Vec<String>,
    #[arg(long = "env-file")]
    pub env_file: Vec<std::path::PathBuf>,
    /// Bind mount or named volume: SRC:DEST[:ro]
    #[arg(short, long = "volume")]
    pub volume: Vec<String>,
    /// Mount a tmpfs at this path
    #[arg(long)]
    pub tmpfs: Vec<String>,
    /// Working directory inside the container
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// USER[:GROUP], names or ids
    #[arg(short, long)]
    pub user: Option<String>,
    /// Override the image's entrypoint ("" clears it)
    #[arg(long)]
    pub entrypoint: Option<String>,
    #[arg(long)]
    pub hostname: Option<String>,
    /// Keep standard input open
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a terminal
    #[arg(short, long)]
    pub tty: bool,
    /// Run an init process as PID 1 that forwards signals and reaps zombies
    #[arg(long)]
    pub init: bool,
    /// Mount the root filesystem read-only
    #[arg(long)]
    pub read_only: bool,
    #[arg(long = "cap-add")]
    pub cap_add: Vec<String>,
    #[arg(long = "cap-drop")]
    pub cap_drop: Vec<String>,
    /// seccomp=unconfined, seccomp=PROFILE.json (docker's format), no-new-privileges
    #[arg(long = "security-opt")]
    pub security_opt: Vec<String>,
    /// Memory limit, e.g. 512m or 2g
    #[arg(short, long)]
    pub memory: Option<String>,
    /// CPUs, e.g. 1.5
    #[arg(long)]
    pub cpus: Option<f64>,
    #[arg(long)]
    pub pids_limit: Option<i64>,
    #[arg(long)]
    pub stop_signal: Option<String>,
    /// Seconds to wait after the stop signal before killing
    #[arg(long)]
    pub stop_timeout: Option<u64>,
    /// Pull for another platform when the image is missing
    #[arg(long)]
    pub platform: Option<String>,
    /// Connect to a network: a name, or none, host, container:NAME (repeatable)
    #[arg(long = "network", alias = "net")]
    pub network: Vec<String>,
    /// Another name the container answers to on its (first) network
    #[arg(long = "network-alias")]
    pub network_alias: Vec<String>,
    /// A fixed IPv4 address on the (first) network
    #[arg(long)]
    pub ip: Option<std::net::Ipv4Addr>,
    /// A fixed IPv6 address on the (first) network (it must have IPv6)
    #[arg(long)]
    pub ip6: Option<std::net::Ipv6Addr>,
    /// Add a host-to-IP mapping to /etc/hosts (HOST:IP; IP may be host-gateway)
    #[arg(long = "add-host")]
    pub add_host: Vec<String>,
    /// A DNS server for the container (instead of its network's resolver)
    #[arg(long)]
    pub dns: Vec<std::net::IpAddr>,
    /// A DNS search domain ("." for none)
    #[arg(long = "dns-search")]
    pub dns_search: Vec<String>,
    /// A resolver option, e.g. ndots:2
    #[arg(long = "dns-option", alias = "dns-opt")]
    pub dns_option: Vec<String>,
    /// Publish a port: [IP:][HOST_PORT:]CONTAINER_PORT[/udp], ranges allowed
    #[arg(short = 'p', long = "publish")]
    pub publish: Vec<String>,
    /// Publish every port the image exposes on a free host port
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// no, always, unless-stopped, on-failure[:N]
    #[arg(long)]
    pub restart: Option<String>,
    /// KEY=VALUE
    #[arg(short, long)]
    pub label: Vec<String>,
    /// A shell command whose success means healthy
    #[arg(long)]
    pub health_cmd: Option<String>,
    /// Seconds between checks (default 30)
    #[arg(long)]
    pub health_interval: Option<f64>,
    #[arg(long)]
    pub health_timeout: Option<f64>,
    #[arg(long)]
    pub health_start_period: Option<f64>,
    #[arg(long)]
    pub health_retries: Option<u64>,
    /// Log option KEY=VALUE, docker's json-file: max-size (e.g. 10m) and max-file rotate the log
    #[arg(long = "log-opt")]
    pub log_opt: Vec<String>,
    pub image: String,
    /// The command and its arguments (flags after the image belong to the command, as in docker)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Args, Debug)]
#[command(trailing_var_arg = true)]
pub struct ExecArgs {
    /// Keep standard input open
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a terminal
    #[arg(short, long)]
    pub tty: bool,
    /// Set an environment variable
    #[arg(short, long = "env")]
    pub env: Vec<String>,
    /// Working directory inside the container
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// USER[:GROUP], names or ids
    #[arg(short, long)]
    pub user: Option<String>,
    /// Run the command in the background
    #[arg(short, long)]
    pub detach: bool,
    /// Give the command every capability
    #[arg(long)]
    pub privileged: bool,
    pub container: String,
    #[arg(required = true)]
    pub command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ContainerLsArgs {
    /// Show all containers, not only running ones
    #[arg(short, long)]
    pub all: bool,
    /// Only ids
    #[arg(short, long)]
    pub quiet: bool,
    /// table or json
    #[arg(long, default_value = "table")]
    pub format: String,
    #[arg(long)]
    pub no_trunc: bool,
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    pub container: String,
    /// Follow the output
    #[arg(short, long)]
    pub follow: bool,
    /// Only the last N lines
    #[arg(short = 'n', long)]
    pub tail: Option<String>,
    /// Show timestamps
    #[arg(short, long)]
    pub timestamps: bool,
    /// Only lines since a time: a duration ago (30s, 1h30m), RFC 3339, a local date or time, or unix seconds
    #[arg(long)]
    pub since: Option<String>,
    /// Only lines before a time (same forms as --since)
    #[arg(long)]
    pub until: Option<String>,
}

#[derive(Args, Debug)]
pub struct StopArgs {
    #[arg(required = true)]
    pub containers: Vec<String>,
    /// Seconds to wait before killing
    #[arg(short = 't', long = "time")]
    pub time: Option<u64>,
}

#[derive(Args, Debug)]
pub struct KillArgs {
    #[arg(required = true)]
    pub containers: Vec<String>,
    #[arg(short, long, default_value = "SIGKILL")]
    pub signal: String,
}

#[derive(Args, Debug)]
pub struct ContainerRmArgs {
    #[arg(required = true)]
    pub containers: Vec<String>,
    /// Kill running containers first
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct ContainerInspectArgs {
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Subcommand, Debug)]
pub enum ImageCommand {
    /// Build an image from a Dockerfile
    Build(Box<BuildArgs>),
    /// Download an image from a registry
    Pull(PullArgs),
    /// List images
    #[command(visible_alias = "list")]
    Ls(ImageLsArgs),
    /// Show the configuration of one or more images
    Inspect(ImageInspectArgs),
    /// Remove one or more images
    #[command(visible_alias = "remove")]
    Rm(ImageRmArgs),
    /// Upload an image to its registry
    Push(ImagePushArgs),
    /// Give an image another name: TARGET refers to SOURCE
    Tag(ImageTagArgs),
    /// Save images to a tar archive (docker save's format; docker load and podman load read it)
    Save(ImageSaveArgs),
    /// Load images from a tar archive (from rde, docker save or podman save)
    Load(ImageLoadArgs),
}

#[derive(Args, Debug)]
pub struct ImageTagArgs {
    /// name[:tag], name@digest or id
    pub source: String,
    /// name[:tag]
    pub target: String,
}

#[derive(Args, Debug)]
pub struct ImagePushArgs {
    /// name[:tag] (the registry is the name's: push it tagged for the registry first)
    pub image: String,
    /// Compression for layers the registry does not have: gzip or zstd
    #[arg(long, default_value = "gzip")]
    pub compression: String,
    /// Print nothing but errors
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct ImageSaveArgs {
    /// Images: name[:tag], name@digest or id
    #[arg(required = true)]
    pub images: Vec<String>,
    /// Write to this file (default: standard output, when it is not a terminal)
    #[arg(short, long)]
    pub output: Option<std::path::PathBuf>,
    /// docker-archive or oci-archive: rde writes both layouts in one archive
    #[arg(long, default_value = "docker-archive")]
    pub format: String,
}

#[derive(Args, Debug)]
pub struct ImageLoadArgs {
    /// Read from this file (default: standard input)
    #[arg(short, long)]
    pub input: Option<std::path::PathBuf>,
    /// Print nothing but errors
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct PullArgs {
    /// Image reference: name[:tag] or name@digest
    pub image: String,
    /// Pull for another platform, e.g. linux/arm64/v8
    #[arg(long)]
    pub platform: Option<String>,
    /// Print only the image reference
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct ImageLsArgs {
    /// Only images of this repository[:tag]
    pub repository: Option<String>,
    /// Output format: table or json
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Only show image ids
    #[arg(short, long)]
    pub quiet: bool,
    /// Show full image ids
    #[arg(long)]
    pub no_trunc: bool,
    /// Show digests
    #[arg(long)]
    pub digests: bool,
}

#[derive(Args, Debug)]
pub struct ImageInspectArgs {
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ImageRmArgs {
    #[arg(required = true)]
    pub images: Vec<String>,
    /// Remove an image even when several tags name it
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct LoginArgs {
    /// Registry host (Docker Hub when omitted)
    pub server: Option<String>,
    #[arg(short, long)]
    pub username: Option<String>,
    #[arg(short, long)]
    pub password: Option<String>,
    /// Read the password from standard input
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Args, Debug)]
pub struct LogoutArgs {
    pub server: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum SystemCommand {
    /// Show disk usage
    Df,
    /// Remove unused data: dangling images, unreferenced layers and blobs, leftovers of killed pulls
    Prune(PruneArgs),
    /// Show where rde keeps its data and how it runs
    Info,
    /// Show container events as they happen (--since for the kept history)
    Events(SystemEventsArgs),
}

#[derive(Args, Debug)]
pub struct SystemEventsArgs {
    /// Events since a time: a duration ago (10m), RFC 3339, a local date or time, or unix seconds
    #[arg(long)]
    pub since: Option<String>,
    /// Stop at this time (same forms)
    #[arg(long)]
    pub until: Option<String>,
    /// container=NAME, event=ACTION, label=KEY[=VALUE], type=container (repeatable)
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// json, or a Go template such as '{{.Action}} {{.Actor.Attributes.name}}'
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Remove all images not used by a container, not only dangling ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not ask for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Also remove anonymous volumes no container uses
    #[arg(long)]
    pub volumes: bool,
}

#[derive(Subcommand, Debug)]
pub enum VolumeCommand {
    /// Create a volume (a random name when none is given)
    Create(VolumeCreateArgs),
    /// List volumes
    #[command(visible_alias = "list")]
    Ls(VolumeLsArgs),
    /// Show the details of volumes
    Inspect(VolumeNamesArgs),
    /// Remove volumes (not those a container uses)
    #[command(visible_alias = "remove")]
    Rm(VolumeRmArgs),
    /// Remove the volumes no container uses (anonymous ones unless --all)
    Prune(VolumePruneArgs),
}

#[derive(Args, Debug)]
pub struct VolumeCreateArgs {
    pub name: Option<String>,
    /// Only local volumes exist here
    #[arg(short, long, default_value = "local")]
    pub driver: String,
    /// KEY=VALUE
    #[arg(long)]
    pub label: Vec<String>,
    /// Driver options: type=none, o=bind, device=/host/dir make the volume a host directory
    #[arg(short, long)]
    pub opt: Vec<String>,
}

#[derive(Args, Debug)]
pub struct VolumeLsArgs {
    /// Only names
    #[arg(short, long)]
    pub quiet: bool,
    /// table or json
    #[arg(long, default_value = "table")]
    pub format: String,
    /// dangling=true|false, name=NAME, label=KEY[=VALUE], label!=KEY[=VALUE], driver=local
    #[arg(short, long)]
    pub filter: Vec<String>,
}

#[derive(Args, Debug)]
pub struct VolumeNamesArgs {
    #[arg(required = true)]
    pub volumes: Vec<String>,
}

#[derive(Args, Debug)]
pub struct VolumeRmArgs {
    #[arg(required = true)]
    pub volumes: Vec<String>,
    /// No error for volumes that do not exist
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct VolumePruneArgs {
    /// Named volumes too, not only anonymous ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not ask for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// label=KEY[=VALUE] or label!=KEY[=VALUE]
    #[arg(long)]
    pub filter: Vec<String>,
}

impl Command {
    /// Commands that touch the store; credentials and info do not need the namespace.
    pub fn needs_user_namespace(&self) -> bool {
        !matches!(
            self,
            Command::Config(_) | Command::Login(_) | Command::Logout(_) | Command::System(SystemCommand::Info) | Command::Version(_) | Command::Completion(_)
        )
    }
}

/// Exit codes shared with docker: 125 means rde itself failed.
pub const EXIT_RDE_FAILED: i32 = 125;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn docker_compose_spellings_parse() {
        let parse = |line: &str| Cli::try_parse_from(without_compose_word(line.split(' ').map(std::ffi::OsString::from))).unwrap();
        let cli = parse("rde compose -f a.yml up -d --no-attach db");
        assert_eq!(cli.project.files, [std::path::PathBuf::from("a.yml")]);
        assert!(matches!(&cli.command, Command::Up(UpArgs { detach: true, no_attach, .. }) if no_attach == &["db"]));
        // Options after the service or image belong to the command, as docker's.
        let Command::Run(run) = parse("rde compose run --rm -p 127.0.0.1:18130:8000 -l a=b web ls -la --rm").command else { panic!() };
        assert_eq!(
            (run.service.as_str(), run.command.as_slice(), run.publish.as_slice()),
            ("web", &["ls", "-la", "--rm"].map(String::from)[..], &["127.0.0.1:18130:8000".to_string()][..])
        );
        let Command::Exec(exec) = parse("rde exec -d --privileged web sh -c true").command else { panic!() };
        assert!(exec.detach && exec.privileged && exec.command == ["sh", "-c", "true"]);
        let Command::Container(ContainerCommand::Run(run)) = parse("rde container run --rm --entrypoint sh busybox -c hi").command else { panic!() };
        assert_eq!(run.command, ["-c", "hi"]);
        assert!(matches!(parse("rde start --wait web").command, Command::Start(StartArgs { wait: true, .. })));
    }

    #[test]
    fn compose_flags_come_before_the_command_and_force_flags_after() {
        let cli = Cli::try_parse_from(["rde", "-f", "a.yml", "-p", "demo", "system", "prune", "-f"]).unwrap();
        assert_eq!(cli.project.files, [std::path::PathBuf::from("a.yml")]);
        assert!(matches!(cli.command, Command::System(SystemCommand::Prune(PruneArgs { force: true, .. }))));
    }
}
