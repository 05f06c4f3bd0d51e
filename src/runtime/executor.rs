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

/// docker's message and exit code for a process that could not be started: the
/// executor's words sit inside libcontainer's error chain.
pub fn describe_failure(e: &libcontainer::error::LibcontainerError) -> (String, i32) {
    let full = format!("{e:?}");
    for (marker, exit_code) in [(NOT_FOUND, 127), (NOT_EXECUTABLE, 126)] {
        if let Some(end) = full.find(marker) {
            if let Some(start) = full[..end].rfind("exec: ") {
                let suffix = if exit_code == 127 { " in $PATH" } else { "" };
                return (format!("{}{marker}{suffix}", full[start..end].replace("\\\"", "\"")), exit_code);
            }
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
