//! The project commands' flags, as docker compose spells them.

use clap::Args;

#[derive(Args, Debug, Default)]
pub struct UpArgs {
    /// Use only what rde.lock pins; fail when it is missing or does not match the compose files
    #[arg(long)]
    pub locked: bool,
    /// Services to start (with their dependencies); all when none
    pub services: Vec<String>,
    /// Start in the background and return
    #[arg(short, long)]
    pub detach: bool,
    /// Wait until every service is running (and healthy, when it has a healthcheck)
    #[arg(long)]
    pub wait: bool,
    /// Seconds --wait may take
    #[arg(long)]
    pub wait_timeout: Option<u64>,
    /// Recreate containers even if their configuration did not change
    #[arg(long, conflicts_with = "no_recreate")]
    pub force_recreate: bool,
    /// Keep existing containers even if their configuration changed
    #[arg(long)]
    pub no_recreate: bool,
    /// Do not start the services' dependencies
    #[arg(long)]
    pub no_deps: bool,
    /// Remove containers of services no longer in the compose file
    #[arg(long)]
    pub remove_orphans: bool,
    /// Recreate anonymous volumes instead of keeping their data
    #[arg(short = 'V', long)]
    pub renew_anon_volumes: bool,
    /// Stop every container when one exits (foreground)
    #[arg(long)]
    pub abort_on_container_exit: bool,
    /// Exit with this service's exit code (implies --abort-on-container-exit)
    #[arg(long)]
    pub exit_code_from: Option<String>,
    /// SERVICE=N replicas
    #[arg(long)]
    pub scale: Vec<String>,
    /// Pull images: always, missing (default) or never
    #[arg(long, default_value = "missing")]
    pub pull: String,
    /// Build images before starting containers
    #[arg(long, conflicts_with = "no_build")]
    pub build: bool,
    /// Don't build an image, even if it is missing
    #[arg(long)]
    pub no_build: bool,
    /// Seconds to wait for containers to stop (Ctrl-C, recreation)
    #[arg(short, long)]
    pub timeout: Option<u64>,
    /// Logs without the service prefix (foreground)
    #[arg(long)]
    pub no_log_prefix: bool,
    /// Create the containers, start nothing
    #[arg(long, conflicts_with_all = ["detach", "wait"])]
    pub no_start: bool,
    /// Show only these services' output (repeatable; foreground)
    #[arg(long)]
    pub attach: Vec<String>,
    /// Do not show these services' output (repeatable; foreground)
    #[arg(long)]
    pub no_attach: Vec<String>,
    /// Output without colors (foreground)
    #[arg(long)]
    pub no_color: bool,
    /// Show timestamps in the output (foreground)
    #[arg(long)]
    pub timestamps: bool,
    /// Pull without progress
    #[arg(long)]
    pub quiet_pull: bool,
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Use only what rde.lock pins; fail when it is missing or does not match the compose files
    #[arg(long)]
    pub locked: bool,
    pub services: Vec<String>,
    #[arg(long, conflicts_with = "no_recreate")]
    pub force_recreate: bool,
    #[arg(long)]
    pub no_recreate: bool,
    /// Pull images: always, missing (default) or never
    #[arg(long, default_value = "missing")]
    pub pull: String,
}

#[derive(Args, Debug)]
pub struct DownArgs {
    /// Remove the named volumes of the compose file and anonymous volumes too
    /// (`--volume` too: docker-compose v1 took the prefix, and the seeds write it)
    #[arg(short, long, alias = "volume")]
    pub volumes: bool,
    /// Remove images: all (every service's) or local (those without a custom tag)
    #[arg(long)]
    pub rmi: Option<String>,
    /// Remove containers of services no longer in the compose file
    #[arg(long)]
    pub remove_orphans: bool,
    /// Seconds to wait for containers to stop before killing them
    #[arg(short, long)]
    pub timeout: Option<u64>,
}

#[derive(Args, Debug)]
pub struct PsArgs {
    pub services: Vec<String>,
    /// Stopped containers too
    #[arg(short, long)]
    pub all: bool,
    /// Only ids
    #[arg(short, long)]
    pub quiet: bool,
    /// table or json
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Only service names
    #[arg(long = "services")]
    pub services_only: bool,
    /// Only containers in this state: paused, restarting, removing, running, dead, created or exited (repeatable)
    #[arg(long)]
    pub status: Vec<String>,
    /// Only containers matching KEY=VALUE (supported: status)
    #[arg(long)]
    pub filter: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ProjectLogsArgs {
    pub services: Vec<String>,
    #[arg(short, long)]
    pub follow: bool,
    /// Lines from the end of each log, or all
    #[arg(short = 'n', long)]
    pub tail: Option<String>,
    #[arg(short, long)]
    pub timestamps: bool,
    #[arg(long)]
    pub no_log_prefix: bool,
    #[arg(long)]
    pub no_color: bool,
    /// Only lines since a time: a duration ago (30s, 1h30m), RFC 3339, a local date or time, or unix seconds
    #[arg(long)]
    pub since: Option<String>,
    /// Only lines before a time (same forms as --since)
    #[arg(long)]
    pub until: Option<String>,
    /// Only this replica of the services
    #[arg(long)]
    pub index: Option<u32>,
}

#[derive(Args, Debug)]
#[command(trailing_var_arg = true)]
pub struct ProjectExecArgs {
    /// No terminal (the default when stdin is not one)
    #[arg(short = 'T', long = "no-TTY")]
    pub no_tty: bool,
    #[arg(short, long = "env")]
    pub env: Vec<String>,
    #[arg(short, long)]
    pub workdir: Option<String>,
    #[arg(short, long)]
    pub user: Option<String>,
    /// Which replica
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    /// Run the command in the background
    #[arg(short, long)]
    pub detach: bool,
    /// Give the command every capability
    #[arg(long)]
    pub privileged: bool,
    /// Keep standard input open (always on; docker compose accepts it too)
    #[arg(short, long, hide = true)]
    pub interactive: bool,
    pub service: String,
    #[arg(required = true)]
    pub command: Vec<String>,
}

#[derive(Args, Debug)]
#[command(trailing_var_arg = true)]
pub struct ProjectRunArgs {
    /// Use only what rde.lock pins; fail when it is missing or does not match the compose files
    #[arg(long)]
    pub locked: bool,
    /// Remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    #[arg(short, long)]
    pub detach: bool,
    #[arg(short, long = "env")]
    pub env: Vec<String>,
    /// Do not start the service's dependencies
    #[arg(long)]
    pub no_deps: bool,
    /// Publish the service's ports
    #[arg(long)]
    pub service_ports: bool,
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Extra bind mount or volume
    #[arg(short, long = "volume")]
    pub volume: Vec<String>,
    #[arg(short, long)]
    pub user: Option<String>,
    #[arg(short, long)]
    pub workdir: Option<String>,
    #[arg(long)]
    pub name: Option<String>,
    /// No terminal
    #[arg(short = 'T', long = "no-TTY")]
    pub no_tty: bool,
    /// Publish a port: [IP:][HOST_PORT:]CONTAINER_PORT[/udp]
    #[arg(short = 'p', long = "publish")]
    pub publish: Vec<String>,
    /// Add or override a label: KEY=VALUE
    #[arg(short, long)]
    pub label: Vec<String>,
    #[arg(long = "cap-add")]
    pub cap_add: Vec<String>,
    #[arg(long = "cap-drop")]
    pub cap_drop: Vec<String>,
    /// Set environment variables from a file (KEY=VALUE lines)
    #[arg(long = "env-from-file")]
    pub env_from_file: Vec<std::path::PathBuf>,
    /// Answer to the service's name and aliases on its networks
    #[arg(long)]
    pub use_aliases: bool,
    /// Build the image before starting the container
    #[arg(long)]
    pub build: bool,
    /// Pull the image: always, missing (default) or never
    #[arg(long, default_value = "missing")]
    pub pull: String,
    /// Pull without progress
    #[arg(long)]
    pub quiet_pull: bool,
    /// Remove containers of services no longer in the compose file
    #[arg(long)]
    pub remove_orphans: bool,
    /// Keep standard input open (the default; docker compose accepts it too)
    #[arg(short, long, hide = true)]
    pub interactive: bool,
    pub service: String,
    /// The command and its arguments (options after the service belong to the command)
    #[arg(allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct VolumesArgs {
    pub services: Vec<String>,
    /// Only names
    #[arg(short, long)]
    pub quiet: bool,
    /// table or json
    #[arg(long, default_value = "table")]
    pub format: String,
}

/// `rde cp` and `rde container cp`: docker's and compose's flags.
#[derive(Args, Debug)]
pub struct CpArgs {
    /// NAME:PATH or a host path
    pub src: String,
    /// NAME:PATH or a host path
    pub dest: String,
    /// Keep the sources' owners (uid:gid) instead of root's
    #[arg(short, long)]
    pub archive: bool,
    /// Copy what a symlink SRC points to
    #[arg(short = 'L', long)]
    pub follow_link: bool,
    /// Which replica of a service (default: every replica when copying in, the first when copying out)
    #[arg(long)]
    pub index: Option<u32>,
    /// One-off `run` containers of the service too
    #[arg(long)]
    pub all: bool,
}

/// `rde stats` and `rde container stats`: docker's flags.
#[derive(Args, Debug)]
pub struct StatsArgs {
    /// Services (rde stats) or containers (rde container stats); all running when none
    pub names: Vec<String>,
    /// Stopped containers too
    #[arg(short, long)]
    pub all: bool,
    /// One reading, then exit
    #[arg(long)]
    pub no_stream: bool,
    /// Full container ids
    #[arg(long)]
    pub no_trunc: bool,
    /// table, json or a Go template such as '{{.Name}} {{.CPUPerc}}'
    #[arg(long, default_value = "table")]
    pub format: String,
}

#[derive(Args, Debug)]
pub struct ProjectEventsArgs {
    pub services: Vec<String>,
    /// One JSON object per line
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct WaitArgs {
    pub services: Vec<String>,
    /// Take the project down (containers and networks) when the first container stops
    #[arg(long)]
    pub down_project: bool,
}

#[derive(Args, Debug)]
pub struct AttachArgs {
    /// A service (compose) or a container
    pub name: String,
    /// Which replica of a service
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    /// Pass our signals (Ctrl-C) to the container
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub sig_proxy: bool,
}

#[derive(Args, Debug)]
pub struct ProjectLsArgs {
    /// Projects with no running container too
    #[arg(short, long)]
    pub all: bool,
    /// Only names
    #[arg(short, long)]
    pub quiet: bool,
    /// table or json
    #[arg(long, default_value = "table")]
    pub format: String,
    /// name=PROJECT
    #[arg(long)]
    pub filter: Vec<String>,
}

#[derive(Args, Debug)]
pub struct StartArgs {
    pub services: Vec<String>,
    /// Wait until the containers run (and are healthy, when they have a healthcheck)
    #[arg(long)]
    pub wait: bool,
    /// Seconds --wait may take
    #[arg(long)]
    pub wait_timeout: Option<u64>,
}

#[derive(Args, Debug)]
pub struct ServicesArgs {
    pub services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ServicesTimeoutArgs {
    pub services: Vec<String>,
    /// Seconds to wait before killing
    #[arg(short, long)]
    pub timeout: Option<u64>,
}

#[derive(Args, Debug)]
pub struct ProjectKillArgs {
    pub services: Vec<String>,
    #[arg(short, long, default_value = "SIGKILL")]
    pub signal: String,
}

#[derive(Args, Debug)]
pub struct ProjectRmArgs {
    pub services: Vec<String>,
    /// Do not ask (rde never asks)
    #[arg(short, long)]
    pub force: bool,
    /// Stop running containers first
    #[arg(short, long)]
    pub stop: bool,
    /// Remove their anonymous volumes
    #[arg(short, long)]
    pub volumes: bool,
}

#[derive(Args, Debug)]
pub struct ProjectPullArgs {
    /// Use only what rde.lock pins; fail when it is missing or does not match the compose files
    #[arg(long)]
    pub locked: bool,
    pub services: Vec<String>,
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct ProjectPortArgs {
    pub service: String,
    pub private_port: u16,
    #[arg(long, default_value = "tcp")]
    pub protocol: String,
    #[arg(long, default_value_t = 1)]
    pub index: u32,
}

#[derive(Args, Debug)]
pub struct ProjectImagesArgs {
    pub services: Vec<String>,
    #[arg(short, long)]
    pub quiet: bool,
}

/// `rde build`: docker compose's flags.
#[derive(Args, Debug, Default)]
pub struct BuildServicesArgs {
    /// Use only what rde.lock pins; fail when it is missing or does not match the compose files
    #[arg(long)]
    pub locked: bool,
    /// Services to build; all with `build:` when none
    pub services: Vec<String>,
    /// Set a build-time variable (KEY=VALUE, or KEY to take it from the environment)
    #[arg(long = "build-arg")]
    pub build_arg: Vec<String>,
    /// Do not use the build cache
    #[arg(long)]
    pub no_cache: bool,
    /// Always pull the base images
    #[arg(long)]
    pub pull: bool,
    /// Print nothing but errors
    #[arg(short, long)]
    pub quiet: bool,
    /// Also build the services' dependencies
    #[arg(long)]
    pub with_dependencies: bool,
    /// Progress output: auto, plain, tty or quiet
    #[arg(long, default_value = "auto")]
    pub progress: String,
}

#[derive(Args, Debug)]
pub struct LockArgs {
    /// With --update: only the images and URLs these services need
    pub services: Vec<String>,
    /// Check, write nothing: exit 1 and say what differs when rde.lock does not match the compose files or the registry
    #[arg(long, conflicts_with = "update")]
    pub check: bool,
    /// Resolve the locked tags and URLs again (all, or those of SERVICE...)
    #[arg(long)]
    pub update: bool,
}

#[derive(Args, Debug)]
pub struct ProjectSaveArgs {
    /// Only these services' images
    pub services: Vec<String>,
    /// Write to this file (default: standard output, when it is not a terminal)
    #[arg(short, long)]
    pub output: Option<std::path::PathBuf>,
}

#[derive(Args, Debug)]
pub struct ProjectPushArgs {
    /// Only these services' images
    pub services: Vec<String>,
    /// Exit 0 even when an image could not be pushed
    #[arg(long)]
    pub ignore_push_failures: bool,
}
