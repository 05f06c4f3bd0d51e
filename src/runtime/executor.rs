//! How the container's process is started inside libcontainer's init: our own
//! executor, so that "not found" and "not executable" become docker's exit codes
//! 127 and 126 with docker's messages, instead of a generic failure (255).

use libcontainer::workload::{Executor, ExecutorError, ExecutorValidationError};
use oci_spec::runtime::Spec;
use std::ffi::CString;
use std::path::{Path, PathBuf};

/// Markers the shim reads in a create error to pick the exit code.
pub const NOT_FOUND: &str = "executable file not found";
pub const NOT_EXECUTABLE: &str = "permission denied";

#[derive(Clone)]
pub struct RdeExecutor;

impl Executor for RdeExecutor {
    fn validate(&self, spec: &Spec) -> Result<(), ExecutorValidationError> {
        let (args, env) = args_env(spec);
        let Some(program) = args.first() else {
            return Err(ExecutorValidationError::ArgValidationError("no command given; hint: pass a command or use an image with a default Cmd".into()));
        };
        match resolve(program, &env) {
            None => Err(ExecutorValidationError::ArgValidationError(format!("exec: \"{program}\": {NOT_FOUND} in $PATH"))),
            Some(path) if nix::unistd::access(&path, nix::unistd::AccessFlags::X_OK).is_err() || path.is_dir() => {
                Err(ExecutorValidationError::ArgValidationError(format!("exec: \"{}\": {NOT_EXECUTABLE}", path.display())))
            }
            Some(_) => Ok(()),
        }
    }

    fn exec(&self, spec: &Spec) -> Result<(), ExecutorError> {
        default_signals();
        let (args, _) = args_env(spec);
        let program = CString::new(args.first().cloned().unwrap_or_default()).map_err(|_| ExecutorError::InvalidArg)?;
        let argv: Vec<CString> = args.iter().map(|a| CString::new(a.as_str()).unwrap_or_default()).collect();
        let err = nix::unistd::execvp(&program, &argv).unwrap_err();
        // Only reached when exec failed after validation (e.g. a bad interpreter line).
        let code = match err {
            nix::errno::Errno::ENOENT => 127,
            _ => 126,
        };
        eprintln!("exec {:?} failed: {err}", args.first().map(String::as_str).unwrap_or(""));
        std::process::exit(code);
    }
}

/// A container's process starts as docker's do: every signal at its default action and none
/// blocked. exec keeps ignored dispositions, and rde's own process may ignore some (Rust
/// ignores SIGPIPE; a background job of a shell script ignores SIGINT and SIGQUIT; nohup,
/// SIGHUP): without this, `rde up -d &` would start containers whose Ctrl-C and SIGINT stop
/// signal (postgres's) do nothing and whose shells cannot even trap them.
fn default_signals() {
    // The kernel's struct sigaction, all zero: SIG_DFL, no flags, no restorer, empty mask (the
    // raw call, because libc refuses the signals it reserves for itself, 32 and 33).
    let default = [0u64; 4];
    for signal in 1..=64 {
        if signal != libc::SIGKILL && signal != libc::SIGSTOP {
            // SAFETY: the kernel reads 32 bytes from `default` and writes nothing back; an
            // invalid number fails harmlessly.
            unsafe { libc::syscall(libc::SYS_rt_sigaction, signal, default.as_ptr(), std::ptr::null_mut::<u64>(), 8usize) };
        }
    }
    let _ = nix::sys::signal::sigprocmask(nix::sys::signal::SigmaskHow::SIG_SETMASK, Some(&nix::sys::signal::SigSet::empty()), None);
}

/// The executor for `exec` and health checks. libcontainer's tenant builder
/// leaves the container's `linux.seccomp` out, so this loads the filter itself,
/// last before the exec, as runc does for `docker exec`.
///
/// Loading a filter needs no_new_privs or CAP_SYS_ADMIN, and libcontainer has
/// already set the capabilities by then: without no_new_privs, `exec` gives the
/// process CAP_SYS_ADMIN in its effective and permitted sets only (not the
/// bounding set), and after loading the filter this drops every capability
/// outside the bounding set, before the exec.
#[derive(Clone)]
pub struct TenantExecutor {
    /// The container's filter, as libcontainer loads it for the init; `None`: unconfined.
    pub seccomp: Option<oci_spec::runtime::LinuxSeccomp>,
}

impl Executor for TenantExecutor {
    fn validate(&self, spec: &Spec) -> Result<(), ExecutorValidationError> {
        RdeExecutor.validate(spec)
    }

    fn exec(&self, spec: &Spec) -> Result<(), ExecutorError> {
        if let Some(filter) = &self.seccomp {
            libcontainer::seccomp::initialize_seccomp(filter).map_err(|e| ExecutorError::Other(format!("cannot load the seccomp filter: {e}")))?;
            if let Some(caps) = spec.process().as_ref().and_then(|p| p.capabilities().as_ref()) {
                let bounding = caps.bounding().clone().unwrap_or_default();
                let within = |set: &Option<oci_spec::runtime::Capabilities>| set.as_ref().map(|s| s.intersection(&bounding).copied().collect());
                let mut kept = caps.clone();
                kept.set_effective(within(caps.effective())).set_permitted(within(caps.permitted())).set_inheritable(None).set_ambient(None);
                libcontainer::capabilities::drop_privileges(&kept, &*libcontainer::syscall::syscall::create_syscall())
                    .map_err(|e| ExecutorError::Other(format!("cannot drop capabilities: {e}")))?;
            }
        }
        RdeExecutor.exec(spec)
    }
}

/// docker's message and exit code for a process that could not be started: the
/// executor's words sit inside libcontainer's error chain.
pub fn describe_failure(e: &libcontainer::error::LibcontainerError) -> (String, i32) {
    let full = format!("{e:?}");
    for (marker, exit_code) in [(NOT_FOUND, 127), (NOT_EXECUTABLE, 126)] {
        if let Some(end) = full.find(marker)
            && let Some(start) = full[..end].rfind("exec: ")
        {
            let suffix = if exit_code == 127 { " in $PATH" } else { "" };
            return (format!("{}{marker}{suffix}", full[start..end].replace("\\\"", "\"")), exit_code);
        }
    }
    (format!("cannot start the process: {e}"), 125)
}

fn args_env(spec: &Spec) -> (Vec<String>, Vec<String>) {
    let process = spec.process().as_ref();
    let args = process.and_then(|p| p.args().clone()).unwrap_or_default();
    let env = process.and_then(|p| p.env().clone()).unwrap_or_default();
    (args, env)
}

/// `execvp`'s lookup: a name with a slash is a path, otherwise search $PATH.
fn resolve(program: &str, env: &[String]) -> Option<PathBuf> {
    if program.contains('/') {
        return Path::new(program).exists().then(|| PathBuf::from(program));
    }
    let path = env.iter().find_map(|e| e.strip_prefix("PATH=")).unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    path.split(':').map(|dir| Path::new(dir).join(program)).find(|p| p.is_file())
}
