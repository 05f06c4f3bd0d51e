//! `exec`: a new process in a running container's namespaces, through
//! libcontainer's tenant builder. The process is our child: its exit code is ours.

use super::executor::RdeExecutor;
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
}

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("container {0} is not running; hint: start it, or use `rde container run`")]
    NotRunning(String),
    #[error("{message}")]
    Failed { message: String, exit_code: i32 },
    #[error(transparent)]
    User(#[from] user::UserError),
}

impl ExecError {
    pub fn exit_code(&self) -> i32 {
        match self {
            ExecError::Failed { exit_code, .. } => *exit_code,
            _ => 125,
        }
    }
}

/// Start the process; returns its pid (our child).
pub fn spawn(containers: &Containers, record: &ContainerRecord, opts: &ExecOptions, libcontainer_root: &Path) -> Result<i32, ExecError> {
    if containers.observe(&record.id) != Observed::Running {
        return Err(ExecError::NotRunning(record.name.clone()));
    }
    let p = &record.spec.process;
    // docker exec: the container's user, workdir and environment unless overridden.
    let (uid, gid, additional_gids) = match &opts.user {
        Some(spec) => {
            let merged = containers.dir(&record.id).join("merged");
            let read = |f: &str| std::fs::read_to_string(merged.join(f)).unwrap_or_default();
            let u = user::resolve(spec, &read("etc/passwd"), &read("etc/group"))?;
            (u.uid, u.gid, u.additional_gids)
        }
        None => (p.uid, p.gid, p.additional_gids.clone()),
    };
    let mut env: HashMap<String, String> = p.env.iter().filter_map(|e| e.split_once('=')).map(|(k, v)| (k.into(), v.into())).collect();
    for e in &opts.env {
        match e.split_once('=') {
            Some((k, v)) => env.insert(k.into(), v.into()),
            None => std::env::var(e).ok().and_then(|v| env.insert(e.clone(), v)),
        };
    }
    let cwd = opts.workdir.clone().unwrap_or_else(|| p.cwd.clone());
    let failed = |e: libcontainer::error::LibcontainerError| {
        let (message, exit_code) = super::executor::describe_failure(&e);
        ExecError::Failed { message, exit_code }
    };
    let pid = ContainerBuilder::new(record.id.clone(), SyscallType::default())
        .with_executor(RdeExecutor)
        .with_root_path(libcontainer_root)
        .map_err(failed)?
        .as_tenant()
        .with_container_args(opts.command.clone())
        .with_env(env)
        .with_cwd(Some(cwd))
        .with_user(Some(uid))
        .with_group(Some(gid))
        .with_additional_gids(additional_gids)
        .with_capabilities(super::spec::capabilities(&p.cap_add, &p.cap_drop))
        .with_detach(false)
        .build()
        .map_err(failed)?;
    Ok(pid.as_raw())
}
