//! Rootless mode, podman's session model: one long-lived pause process per
//! user (`rde __pause`, pid in `<run>/pause.pid`) holds a user namespace that
//! maps the user's subordinate uid/gid ranges (through the setuid `newuidmap`
//! and `newgidmap` helpers), a mount namespace, a cgroup namespace with
//! cgroup2 mounted over /sys/fs/cgroup, and a network namespace for the
//! rootless bridges (with slirp4netns on it for egress, when installed). Every
//! rootless command re-executes itself joined to the first three (setns; it
//! stays in the host's network namespace, where published ports listen), so all
//! of them, and every container's shim, share one view: overlay mounts, signals.
//! Inside, rde is root of the namespace: layers keep their owners (uid 1000 in
//! an image is a subordinate id on the host), whiteouts and `user.overlay.*`
//! xattrs can be written.
//!
//! Starting the session: the pause process waits on a pipe until the id maps are
//! written, then executes itself once more (namespace capabilities are only
//! granted by an exec that happens while uid 0 is mapped), prepares the mounts
//! and answers "ok" on a second pipe.

use std::ffi::OsString;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::Command;

const SYNC_FD_ENV: &str = "_RDE_USERNS_SYNC_FD";
const READY_FD_ENV: &str = "_RDE_SESSION_READY_FD";
/// The hidden command the pause process runs as.
pub const PAUSE_ARG: &str = "__pause";

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
    #[error("cannot set up the rootless session: {0}")]
    Session(String),
    #[error("the rootless user namespace could not be set up (the parent rde gave up)")]
    HandshakeAbandoned,
    #[error("cannot re-execute rde inside its user namespace: {0}")]
    Reexec(std::io::Error),
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
/// namespace's capabilities apply. Returns `Ok` only when there is nothing to do;
/// on an error the caller prints it and exits (125).
pub fn finish_handshake() -> Result<(), RootlessError> {
    let Some(fd) = std::env::var(SYNC_FD_ENV).ok().and_then(|v| v.parse::<i32>().ok()) else { return Ok(()) };
    // SAFETY: the parent passed us this pipe end for exactly this read.
    let mut pipe = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    let mut byte = [0u8; 1];
    if pipe.read_exact(&mut byte).is_err() || byte[0] != b'1' {
        return Err(RootlessError::HandshakeAbandoned);
    }
    drop(pipe);
    let err =
        Command::new("/proc/self/exe").arg0(std::env::args_os().next().unwrap_or_default()).args(std::env::args_os().skip(1)).env_remove(SYNC_FD_ENV).exec();
    Err(RootlessError::Reexec(err))
}

/// Run this same command inside the user's rootless session, starting the
/// session first if there is none (or it died). Returns the command's exit code.
/// `warn` receives what the user should know but does not stop the command
/// (slirp4netns missing its /dev/net/tun).
pub fn run_in_session(run_dir: &Path, warn: &dyn Fn(String)) -> Result<i32, RootlessError> {
    let pid = ensure_session(run_dir, warn)?;
    run_joining(pid)
}

/// The session's pause process: found alive, or started.
fn ensure_session(run_dir: &Path, warn: &dyn Fn(String)) -> Result<i32, RootlessError> {
    std::fs::create_dir_all(run_dir).map_err(RootlessError::Spawn)?;
    // Two first commands at once must not start two sessions.
    let _lock = crate::fsutil::lock_exclusive(&run_dir.join("session.lock")).map_err(RootlessError::Spawn)?;
    let pid_file = run_dir.join("pause.pid");
    let recorded = std::fs::read_to_string(&pid_file).ok().and_then(|p| p.trim().parse::<i32>().ok());
    if let Some(pid) = recorded.filter(|p| is_pause(*p)) {
        return Ok(pid);
    }
    let pid = start_session(warn)?;
    crate::fsutil::write_atomic(&pid_file, pid.to_string().as_bytes(), 0o600).map_err(RootlessError::Spawn)?;
    Ok(pid)
}

/// The session's network namespace, which holds the rootless bridges (asked
/// from inside the session, by a command or a shim that joined it).
pub fn session_netns(run_dir: &Path) -> Option<std::path::PathBuf> {
    let pid = std::fs::read_to_string(run_dir.join("pause.pid")).ok()?.trim().parse::<i32>().ok()?;
    Some(std::path::PathBuf::from(format!("/proc/{pid}/ns/net")))
}

fn is_pause(pid: i32) -> bool {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let owner_is_us = std::fs::metadata(format!("/proc/{pid}")).map(|m| {
        use std::os::unix::fs::MetadataExt;
        m.uid() == rustix::process::getuid().as_raw()
    });
    owner_is_us.unwrap_or(false) && cmdline.split(|b| *b == 0).any(|arg| arg == PAUSE_ARG.as_bytes())
}

/// Start `rde __pause` in a new user + mount namespace mapped with the user's
/// subordinate ranges; returns once it is ready to be joined.
fn start_session(warn: &dyn Fn(String)) -> Result<i32, RootlessError> {
    let uid = rustix::process::getuid().as_raw();
    let gid = rustix::process::getgid().as_raw();
    let user = user_name(uid).unwrap_or_else(|| uid.to_string());
    let read = |file: &'static str| std::fs::read_to_string(file).unwrap_or_default();
    let subuid = find_range(&read("/etc/subuid"), &user, uid).ok_or(RootlessError::NoRange { user: user.clone(), kind: "uid", file: "/etc/subuid" })?;
    let subgid = find_range(&read("/etc/subgid"), &user, uid).ok_or(RootlessError::NoRange { user: user.clone(), kind: "gid", file: "/etc/subgid" })?;
    for tool in ["newuidmap", "newgidmap"] {
        if which(tool).is_none() {
            return Err(RootlessError::MissingTool { tool });
        }
    }
    let pipe = || rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(|e| RootlessError::Spawn(e.into()));
    let (sync_child, sync_parent) = pipe()?;
    let (ready_parent, ready_child) = pipe()?;
    // Held open by the pause process alone: its end tells slirp4netns the session is over.
    let (lifeline_r, lifeline_w) = pipe()?;
    let (sync_raw, ready_raw, lifeline_raw) = (sync_child.as_raw_fd(), ready_child.as_raw_fd(), lifeline_w.as_raw_fd());
    let mut command = Command::new("/proc/self/exe");
    command
        .arg0("rde")
        .arg(PAUSE_ARG)
        .env(SYNC_FD_ENV, sync_raw.to_string())
        .env(READY_FD_ENV, ready_raw.to_string())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // SAFETY: only async-signal-safe calls (setsid, unshare, fcntl) between fork and exec.
    unsafe {
        command.pre_exec(move || {
            // Its own session: no terminal signal may end it.
            if libc::setsid() < 0 || libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS | libc::CLONE_NEWNET) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            for fd in [sync_raw, ready_raw, lifeline_raw] {
                if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let child = command.spawn().map_err(RootlessError::Spawn)?;
    drop((sync_child, ready_child, lifeline_w));
    let pid = child.id().to_string();
    let mapped = map_ids("newuidmap", &pid, uid, subuid).and_then(|()| map_ids("newgidmap", &pid, gid, subgid));
    let mut sync = std::fs::File::from(sync_parent);
    use std::io::Write;
    mapped?;
    let _ = sync.write_all(b"1");
    drop(sync);
    // "ok", or why the session could not be set up.
    let mut answer = String::new();
    let _ = std::fs::File::from(ready_parent).read_to_string(&mut answer);
    if answer != "ok" {
        return Err(RootlessError::Session(if answer.is_empty() { "the pause process exited".into() } else { answer }));
    }
    start_egress(child.id(), lifeline_r, warn);
    Ok(child.id() as i32)
}

/// Outbound traffic for rootless containers, when slirp4netns is installed: it
/// gives the session's namespace a tap device with a default route to the
/// host's network (rde's masquerade rule sends containers' traffic there), and
/// exits when the pause process does (the lifeline's last write end closes).
fn start_egress(pause_pid: u32, lifeline: OwnedFd, warn: &dyn Fn(String)) {
    let Some(slirp) = which("slirp4netns") else { return };
    let Ok((ready_r, ready_w)) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC) else { return };
    let (ready_raw, exit_raw) = (ready_w.as_raw_fd(), lifeline.as_raw_fd());
    let mut command = Command::new(slirp);
    command
        .args(["--configure", "--mtu=65520", "--disable-host-loopback"])
        .arg(format!("--ready-fd={ready_raw}"))
        .arg(format!("--exit-fd={exit_raw}"))
        .args([pause_pid.to_string().as_str(), "tap0"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // SAFETY: only async-signal-safe calls (setsid, fcntl) between fork and exec.
    unsafe {
        command.pre_exec(move || {
            libc::setsid();
            for fd in [ready_raw, exit_raw] {
                if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let spawned = command.spawn();
    drop((ready_w, lifeline));
    let mut fds = [nix::poll::PollFd::new(ready_r.as_fd(), nix::poll::PollFlags::POLLIN)];
    let ready = spawned.is_ok() && nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(5000u16)).unwrap_or(0) > 0 && {
        let mut byte = [0u8; 1];
        std::fs::File::from(ready_r).read(&mut byte).unwrap_or(0) == 1
    };
    if !ready {
        let hint = match std::fs::OpenOptions::new().read(true).write(true).open("/dev/net/tun") {
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => "; hint: /dev/net/tun must be usable by everyone: `sudo chmod 0666 /dev/net/tun`",
            _ => "",
        };
        warn(format!("slirp4netns could not start, so rootless containers cannot reach outside the host{hint}"));
    }
}

/// The pause process: prepares the session's namespaces with `prepare` (main.rs
/// passes what runtime/ and net/ need there: host cgroups hidden, lo up), says
/// it is ready (or `prepare`'s error), and then only holds them, sleeping, until
/// it is killed.
pub fn pause_main(prepare: impl FnOnce() -> Result<(), String>) -> ! {
    let ready = std::env::var(READY_FD_ENV).ok().and_then(|fd| fd.parse::<i32>().ok());
    // SAFETY: the starting rde passed us this pipe end for our answer.
    let mut ready = ready.map(|fd| std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) }));
    let result = prepare();
    if let Some(pipe) = &mut ready {
        use std::io::Write;
        let _ = match &result {
            Ok(()) => pipe.write_all(b"ok"),
            Err(e) => pipe.write_all(e.to_string().as_bytes()),
        };
    }
    drop(ready);
    if result.is_err() {
        std::process::exit(1);
    }
    loop {
        // SAFETY: pause only waits for a signal.
        unsafe { libc::pause() };
    }
}

/// Run this same command inside the user, mount and cgroup namespaces of the
/// session's pause process `pid`.
fn run_joining(pid: i32) -> Result<i32, RootlessError> {
    let open = |ns: &str| std::fs::File::open(format!("/proc/{pid}/ns/{ns}")).map_err(RootlessError::Spawn);
    let (user, mnt, cgroup) = (open("user")?, open("mnt")?, open("cgroup")?);
    let (user_fd, mnt_fd, cgroup_fd) = (user.as_raw_fd(), mnt.as_raw_fd(), cgroup.as_raw_fd());
    // Joining a mount namespace moves us to its root: come back to where the user is.
    let cwd = std::env::current_dir().ok().and_then(|d| std::ffi::CString::new(d.into_os_string().into_encoded_bytes()).ok());
    let mut command = Command::new("/proc/self/exe");
    command.arg0(std::env::args_os().next().unwrap_or_else(|| OsString::from("rde"))).args(std::env::args_os().skip(1));
    // SAFETY: only async-signal-safe calls (setns) between fork and exec.
    unsafe {
        command.pre_exec(move || {
            for (fd, kind) in [(user_fd, libc::CLONE_NEWUSER), (mnt_fd, libc::CLONE_NEWNS), (cgroup_fd, libc::CLONE_NEWCGROUP)] {
                if libc::setns(fd, kind) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            if let Some(dir) = &cwd {
                libc::chdir(dir.as_ptr());
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
    if out.status.success() { Ok(()) } else { Err(RootlessError::MapFailed { tool, message: String::from_utf8_lossy(&out.stderr).trim().to_string() }) }
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
