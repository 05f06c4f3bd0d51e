//! Rootless mode: rde re-runs itself inside a user namespace that maps the
//! user's subordinate uid/gid ranges (through the setuid `newuidmap` and
//! `newgidmap` helpers). Inside, rde is root of that namespace: image layers keep
//! their owners (uid 1000 in the image is a subordinate uid on the host), and
//! whiteouts and `user.overlay.*` xattrs can be written.
//!
//! The handshake: the parent spawns `/proc/self/exe` with the same arguments in a
//! new user namespace; the child waits on a pipe until the parent has written the
//! id maps, then executes itself once more, because capabilities in the namespace
//! are only granted by an exec that happens while uid 0 is mapped.

use std::ffi::OsString;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::Command;

const SYNC_FD_ENV: &str = "_RDE_USERNS_SYNC_FD";
const IN_USERNS_ENV: &str = "_RDE_IN_USERNS";

#[derive(Debug, thiserror::Error)]
pub enum RootlessError {
    #[error("user {user} has no subordinate {kind} range in {file}; hint: run `sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {user}`")]
    NoRange { user: String, kind: &'static str, file: &'static str },
    #[error("{tool} is missing; hint: install it with `sudo apt-get install uidmap`")]
    MissingTool { tool: &'static str },
    #[error("{tool} failed to map ids for the user namespace: {message}")]
    MapFailed { tool: &'static str, message: String },
    #[error("cannot create the rootless user namespace: {0}")]
    Spawn(std::io::Error),
}

/// A subordinate id range: `start` on the host, `count` ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRange {
    pub start: u64,
    pub count: u64,
}

/// Find the user's range in /etc/subuid or /etc/subgid text (by name or by number).
pub fn find_range(text: &str, user: &str, id: u32) -> Option<IdRange> {
    text.lines().find_map(|line| {
        let mut parts = line.trim().split(':');
        let (who, start, count) = (parts.next()?, parts.next()?, parts.next()?);
        if who != user && who != id.to_string() {
            return None;
        }
        let range = IdRange { start: start.parse().ok()?, count: count.parse().ok()? };
        (range.count > 0).then_some(range)
    })
}

/// In the freshly spawned child: wait for the id maps, then exec ourselves so the
/// namespace's capabilities apply. Returns only when there is nothing to do.
pub fn finish_handshake() {
    let Some(fd) = std::env::var(SYNC_FD_ENV).ok().and_then(|v| v.parse::<i32>().ok()) else { return };
    // SAFETY: the parent passed us this pipe end for exactly this read.
    let mut pipe = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    let mut byte = [0u8; 1];
    if pipe.read_exact(&mut byte).is_err() || byte[0] != b'1' {
        eprintln!("Error: the rootless user namespace could not be set up (the parent rde gave up)");
        std::process::exit(crate::cli::EXIT_RDE_FAILED);
    }
    drop(pipe);
    let err = Command::new("/proc/self/exe")
        .arg0(std::env::args_os().next().unwrap_or_default())
        .args(std::env::args_os().skip(1))
        .env_remove(SYNC_FD_ENV)
        .env(IN_USERNS_ENV, "1")
        .exec();
    eprintln!("Error: cannot re-execute rde inside its user namespace: {err}");
    std::process::exit(crate::cli::EXIT_RDE_FAILED);
}

/// Run this same command inside the user's namespace and return its exit code.
pub fn run_in_userns() -> Result<i32, RootlessError> {
    let uid = rustix::process::getuid().as_raw();
    let gid = rustix::process::getgid().as_raw();
    let user = user_name(uid).unwrap_or_else(|| uid.to_string());
    let read = |file: &'static str| std::fs::read_to_string(file).unwrap_or_default();
    let subuid = find_range(&read("/etc/subuid"), &user, uid)
        .ok_or(RootlessError::NoRange { user: user.clone(), kind: "uid", file: "/etc/subuid" })?;
    let subgid = find_range(&read("/etc/subgid"), &user, uid)
        .ok_or(RootlessError::NoRange { user: user.clone(), kind: "gid", file: "/etc/subgid" })?;
    for tool in ["newuidmap", "newgidmap"] {
        if which(tool).is_none() {
            return Err(RootlessError::MissingTool { tool });
        }
    }

    let (child_end, parent_end) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(|e| RootlessError::Spawn(e.into()))?;
    let child_raw = child_end.as_raw_fd();
    let mut command = Command::new("/proc/self/exe");
    command.arg0(std::env::args_os().next().unwrap_or_else(|| OsString::from("rde"))).args(std::env::args_os().skip(1));
    command.env(SYNC_FD_ENV, child_raw.to_string());
    // SAFETY: only async-signal-safe calls (unshare, fcntl) between fork and exec.
    unsafe {
        command.pre_exec(move || {
            if libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // Keep the read end open across exec for the handshake.
            if libc::fcntl(child_raw, libc::F_SETFD, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command.spawn().map_err(RootlessError::Spawn)?;
    drop(child_end);
    let pid = child.id().to_string();
    let mapped = map_ids("newuidmap", &pid, uid, subuid).and_then(|()| map_ids("newgidmap", &pid, gid, subgid));
    let mut parent_pipe = std::fs::File::from(parent_end);
    use std::io::Write;
    if let Err(e) = mapped {
        drop(parent_pipe);
        let _ = child.wait();
        return Err(e);
    }
    let _ = parent_pipe.write_all(b"1");
    drop(parent_pipe);
    // Ctrl-C reaches the child through the terminal's process group; we just wait.
    let status = child.wait().map_err(RootlessError::Spawn)?;
    Ok(status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))
}

/// Run this same command inside the user and mount namespaces of `pid` (a
/// container's shim), so that it can exec into, signal and unmount what that shim set up.
pub fn run_joining(pid: i32) -> Result<i32, RootlessError> {
    let open = |ns: &str| std::fs::File::open(format!("/proc/{pid}/ns/{ns}")).map_err(RootlessError::Spawn);
    let (user, mnt) = (open("user")?, open("mnt")?);
    let (user_fd, mnt_fd) = (user.as_raw_fd(), mnt.as_raw_fd());
    let mut command = Command::new("/proc/self/exe");
    command
        .arg0(std::env::args_os().next().unwrap_or_else(|| OsString::from("rde")))
        .args(std::env::args_os().skip(1))
        .env(IN_USERNS_ENV, "1");
    // SAFETY: only async-signal-safe calls (setns) between fork and exec.
    unsafe {
        command.pre_exec(move || {
            for (fd, kind) in [(user_fd, libc::CLONE_NEWUSER), (mnt_fd, libc::CLONE_NEWNS)] {
                if libc::setns(fd, kind) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let status = command.status().map_err(RootlessError::Spawn)?;
    Ok(status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))
}

/// Map 0 to ourselves and 1.. to the subordinate range, as podman does.
fn map_ids(tool: &'static str, pid: &str, own: u32, range: IdRange) -> Result<(), RootlessError> {
    let out = Command::new(tool)
        .args([pid, "0", &own.to_string(), "1", "1", &range.start.to_string(), &range.count.to_string()])
        .output()
        .map_err(|e| RootlessError::MapFailed { tool, message: e.to_string() })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(RootlessError::MapFailed { tool, message: String::from_utf8_lossy(&out.stderr).trim().to_string() })
    }
}

fn user_name(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        let _ = f.next();
        (f.next()? == uid.to_string()).then(|| name.to_string())
    })
}

fn which(tool: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    std::env::split_paths(&path).map(|d| d.join(tool)).find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_ranges_by_name_or_id() {
        let text = "alice:100000:65536\n1001:165536:65536\nbob:231072:0\n";
        assert_eq!(find_range(text, "alice", 1000), Some(IdRange { start: 100_000, count: 65_536 }));
        assert_eq!(find_range(text, "carol", 1001), Some(IdRange { start: 165_536, count: 65_536 }));
        assert_eq!(find_range(text, "bob", 1002), None);
        assert_eq!(find_range(text, "dave", 1003), None);
    }
}
