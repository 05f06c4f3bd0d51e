//! `exec`: a new process in a running container's namespaces, through
//! libcontainer's tenant builder. The process is our child: its exit code is ours.

use super::executor::TenantExecutor;
use super::state::{ContainerRecord, Containers, Observed};
use super::user;
use libcontainer::container::builder::ContainerBuilder;
use libcontainer::syscall::syscall::SyscallType;
use std::collections::HashMap;
use std::path::Path;

#[derive(Debug, Default)]
pub struct ExecOptions {
    pub command: Vec<String>,
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    /// Keep our stdin attached (otherwise the process reads /dev/null).
    pub interactive: bool,
    /// A pseudo-terminal: the process gets the slave, we get the master.
    pub tty: bool,
    /// Every capability (docker's `exec --privileged`), whatever the container holds.
    pub privileged: bool,
    /// Standard streams on /dev/null: the caller does not wait for the process (`exec -d`).
    pub detach: bool,
}

/// The started process: our child, and the pty master when a terminal was asked for.
pub struct Spawned {
    pub pid: i32,
    pub master: Option<std::os::fd::OwnedFd>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("container {0} is not running; hint: start it, or use `rde container run`")]
    NotRunning(String),
    #[error("container {0} is paused; hint: `rde unpause` it before exec")]
    Paused(String),
    #[error("{message}")]
    Failed { message: String, exit_code: i32 },
    #[error(transparent)]
    User(#[from] user::UserError),
    #[error(transparent)]
    Rootfs(#[from] super::rootfs::RootfsError),
}

impl ExecError {
    pub fn exit_code(&self) -> i32 {
        match self {
            ExecError::Failed { exit_code, .. } => *exit_code,
            _ => 125,
        }
    }
}

/// Start the process.
pub fn spawn(containers: &Containers, record: &ContainerRecord, opts: &ExecOptions, libcontainer_root: &Path) -> Result<Spawned, ExecError> {
    if containers.observe(&record.id) != Observed::Running {
        return Err(ExecError::NotRunning(record.name.clone()));
    }
    if super::pause::is_paused(record) {
        return Err(ExecError::Paused(record.name.clone()));
    }
    let p = &record.spec.process;
    // docker exec: the container's user, workdir and environment unless overridden.
    let (uid, gid, additional_gids) = match &opts.user {
        Some(spec) => {
            let merged = containers.dir(&record.id).join("merged");
            // The container's own files, resolved inside its root and bounded.
            let read = |f: &str| -> Result<String, ExecError> {
                let bytes = super::rootfs::read_file(&merged, f, super::rootfs::MAX_ACCOUNT_FILE)?;
                Ok(bytes.map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default())
            };
            let u = user::resolve(spec, &read("etc/passwd")?, &read("etc/group")?)?;
            (u.uid, u.gid, u.additional_gids)
        }
        None => (p.uid, p.gid, p.additional_gids.clone()),
    };
    // Without supplementary groups, drop ours (root's) rather than inherit them.
    let additional_gids = if additional_gids.is_empty() { vec![gid] } else { additional_gids };
    let mut env: HashMap<String, String> = p.env.iter().filter_map(|e| e.split_once('=')).map(|(k, v)| (k.into(), v.into())).collect();
    for e in &opts.env {
        match e.split_once('=') {
            Some((k, v)) => env.insert(k.into(), v.into()),
            None => std::env::var(e).ok().and_then(|v| env.insert(e.clone(), v)),
        };
    }
    if opts.tty {
        env.entry("TERM".into()).or_insert_with(|| "xterm".into());
    }
    let cwd = opts.workdir.clone().unwrap_or_else(|| p.cwd.clone());
    let failed = |e: libcontainer::error::LibcontainerError| {
        let (message, exit_code) = super::executor::describe_failure(&e);
        ExecError::Failed { message, exit_code }
    };
    let io = |e: std::io::Error| ExecError::Failed { message: e.to_string(), exit_code: 125 };
    // The container's seccomp filter, loaded by our executor (see TenantExecutor).
    let caps = if opts.privileged { super::spec::capabilities(&["ALL".into()], &[]) } else { super::spec::capabilities(&p.cap_add, &p.cap_drop) };
    let seccomp: Option<oci_spec::runtime::LinuxSeccomp> = record
        .spec
        .seccomp
        .linux_seccomp(&caps, &super::seccomp::Host::current())
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| ExecError::Failed { message: format!("seccomp filter: {e}"), exit_code: 125 })?;
    let mut held = caps.clone();
    if seccomp.is_some() && !p.no_new_privileges && !held.iter().any(|c| c == "CAP_SYS_ADMIN") {
        held.push("CAP_SYS_ADMIN".into());
    }
    let mut builder = ContainerBuilder::new(record.id.clone(), SyscallType::default()).with_executor(TenantExecutor { seccomp });
    let null = || std::fs::OpenOptions::new().read(true).write(true).open("/dev/null").map(std::os::fd::OwnedFd::from).map_err(io);
    if opts.detach || (!opts.interactive && !opts.tty) {
        builder = builder.with_stdin(null()?);
    }
    if opts.detach {
        builder = builder.with_stdout(null()?).with_stderr(null()?);
    }
    // The whole process comes from a process.json: the only way libcontainer
    // takes `terminal: true` for exec, and capability sets that differ.
    let dir = containers.dir(&record.id);
    let mut env_list: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    env_list.sort();
    let mut process = serde_json::json!({
        "terminal": opts.tty,
        "user": {"uid": uid, "gid": gid, "additionalGids": additional_gids},
        "args": opts.command,
        "env": env_list,
        "cwd": cwd,
        "capabilities": {"bounding": caps, "effective": held, "permitted": held},
    });
    if p.no_new_privileges {
        process["noNewPrivileges"] = serde_json::json!(true);
    }
    // With a terminal, the pty master arrives on a socket.
    let console = if opts.tty {
        let socket = super::tty::socket_dir().map_err(io)?.join("console.sock");
        let listener = std::os::unix::net::UnixListener::bind(&socket).map_err(io)?;
        let (rows, cols) = super::tty::current_size();
        process["consoleSize"] = serde_json::json!({"height": rows, "width": cols});
        builder = builder.with_console_socket(Some(&socket));
        Some((listener, socket))
    } else {
        None
    };
    let process_file = dir.join(format!("exec-{}.json", crate::fsutil::unique_suffix()));
    crate::fsutil::write_atomic(&process_file, process.to_string().as_bytes(), 0o600).map_err(io)?;
    let tenant = builder
        .with_root_path(libcontainer_root)
        .map_err(failed)?
        .as_tenant()
        .with_container_args(opts.command.clone())
        .with_env(env)
        .with_cwd(Some(cwd))
        .with_user(Some(uid))
        .with_group(Some(gid))
        .with_additional_gids(additional_gids)
        .with_detach(opts.tty)
        .with_process(Some(&process_file));
    let built = tenant.build();
    let _ = std::fs::remove_file(&process_file);
    let master = match &console {
        Some((listener, socket)) => {
            let master = built.as_ref().ok().map(|_| super::tty::receive_master(listener));
            let _ = std::fs::remove_file(socket);
            let _ = socket.parent().map(std::fs::remove_dir);
            master.transpose().map_err(io)?
        }
        None => None,
    };
    let pid = built.map_err(failed)?;
    Ok(Spawned { pid: pid.as_raw(), master })
}
