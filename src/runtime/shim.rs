//! The shim: one small supervisor per container, rde re-executed as
//! `rde __shim <id>` (single-threaded, as libcontainer requires). It mounts the
//! overlay rootfs, creates and starts the container through libcontainer, tells
//! the waiting CLI "started" (or why not) over a pipe, then owns the container's
//! stdout/stderr (written to the log as JSON lines), runs its healthcheck, waits
//! for its init, records the exit code, tears everything down, and starts it
//! again when its restart policy says so.

use super::attach::{Decoder, Frame};
use super::executor::RdeExecutor;
use super::health;
use super::logs::LogWriter;
use super::spec;
use super::state::{ContainerRecord, ContainerState, Containers, Status};
use crate::net::connect;
use crate::net::netns::Netns;
use crate::net::network::NetworkMode;
use crate::net::publish;
use crate::paths::Paths;
use crate::time::now_unix;
use libcontainer::container::builder::ContainerBuilder;
use libcontainer::syscall::syscall::SyscallType;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// The hidden command a shim runs as: `rde __shim <id>`.
pub const SHIM_ARG: &str = "__shim";
pub const REPORT_FD_ENV: &str = "_RDE_SHIM_REPORT_FD";
/// Set when the CLI will attach: start only once it has connected, so no output is lost.
pub const WAIT_ATTACH_ENV: &str = "_RDE_SHIM_WAIT_ATTACH";

/// What the shim tells the CLI once the container runs, or could not be started.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub enum Report {
    /// The container exists but waits: a foreground `run -i/-t` attaches first, then it starts.
    Created,
    Started {
        pid: i32,
    },
    Failed {
        message: String,
        exit_code: i32,
    },
    /// Sent last, after cleanup, to a CLI still listening (foreground `run`).
    Exited {
        exit_code: i32,
    },
}

struct Failure {
    message: String,
    exit_code: i32,
}

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Failure {
        Failure { message: e.to_string(), exit_code: 125 }
    }
}

/// The pipe to the CLI that started us (absent when nobody listens).
struct Reporter(Option<File>);

impl Reporter {
    fn from_env() -> Reporter {
        let fd = std::env::var(REPORT_FD_ENV).ok().and_then(|fd| fd.parse::<i32>().ok());
        // Not inherited by what the shim runs (nft, the proxy, the resolver): a CLI
        // waiting for the pipe's end must see it when the shim goes.
        if let Some(fd) = fd {
            // SAFETY: fcntl on the pipe end the CLI passed us.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
        // SAFETY: the CLI passed us this pipe end for our report.
        Reporter(fd.map(|fd| File::from(unsafe { OwnedFd::from_raw_fd(fd) })))
    }

    /// A CLI that went away just makes the write fail.
    fn send(&mut self, report: &Report) {
        if let Some(f) = &mut self.0 {
            let _ = writeln!(f, "{}", serde_json::to_string(report).expect("reports serialise"));
        }
    }
}

/// Entry point of `rde __shim <id>`; returns the shim's own exit code.
pub fn run(paths: &Paths, id: &str) -> i32 {
    let _ = nix::sys::prctl::set_name(c"rde-shim");
    let mut reporter = Reporter::from_env();
    let found = Containers::open(&paths.data).and_then(|c| c.find(id).map(|r| (c, r)));
    let (containers, record) = match found {
        Ok(found) => found,
        Err(e) => {
            reporter.send(&Report::Failed { message: e.to_string(), exit_code: 125 });
            return 1;
        }
    };
    let _ = nix::sys::prctl::set_child_subreaper(true);
    let dir = containers.dir(&record.id);
    let libcontainer_root = libcontainer_root(paths);
    let wait_attach = std::env::var_os(WAIT_ATTACH_ENV).is_some();
    // A start by a user clears an earlier stop.
    let _ = std::fs::remove_file(containers.stop_marker(&record.id));
    let mut restarts = 0u32;
    loop {
        let mut children = Children::default();
        let attach = (restarts == 0 && wait_attach).then_some(&mut reporter);
        match start(&containers, &record, &dir, &libcontainer_root, paths, attach, &mut children, restarts) {
            Ok((pid, io, client)) => {
                if restarts == 0 {
                    reporter.send(&Report::Started { pid });
                }
                let health = record.healthcheck.clone().map(|c| health::Monitor::new(c, &containers, &record.id));
                let code = supervise(&containers, &record, pid, io, client, health, &libcontainer_root);
                // Reaped by supervise: its pid may already belong to someone else.
                children.init = None;
                let errors = teardown(&record, &dir, paths, children);
                if record.restart.should_restart(code, restarts) && wait_to_restart(&containers, &record, code, restarts) {
                    restarts += 1;
                    continue;
                }
                record_exit(&containers, &record, &dir, Some(code), None, errors);
                reporter.send(&Report::Exited { exit_code: code });
                return 0;
            }
            Err(f) => {
                let errors = teardown(&record, &dir, paths, children);
                record_exit(&containers, &record, &dir, None, Some(&f.message), errors);
                reporter.send(&Report::Failed { message: f.message, exit_code: f.exit_code });
                return 1;
            }
        }
    }
}

/// Between an exit and the restart its policy asks for: say so in the state,
/// wait the back-off, and give up if a user stops the container meanwhile.
fn wait_to_restart(containers: &Containers, record: &ContainerRecord, code: i32, restarts: u32) -> bool {
    super::events::record(containers, record, "die", &[("exitCode", code.to_string())]);
    let mut state = containers.state(&record.id);
    state.status = Some(Status::Restarting);
    state.exit_code = Some(code);
    state.pid = None;
    state.pid_start = None;
    state.finished_at = Some(now_unix());
    let _ = containers.save_state(&record.id, &state);
    let deadline = std::time::Instant::now() + super::restart::backoff(restarts);
    let marker = containers.stop_marker(&record.id);
    while std::time::Instant::now() < deadline {
        if marker.exists() {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    !marker.exists()
}

/// Processes the shim made that must not outlive it.
#[derive(Default)]
struct Children {
    /// The container's init, from the moment it exists.
    init: Option<i32>,
    /// The published ports' proxy.
    proxy: Option<i32>,
}

/// The container's standard streams, as the shim holds them.
struct Io {
    /// Output to log (and to an attached client): the two pipes, or the pty master.
    outputs: Vec<(Option<File>, &'static str)>,
    /// Where an attached client's input goes: a pipe to the container's stdin, or the pty master.
    stdin: Option<File>,
    /// The pty master, for window sizes.
    master: Option<OwnedFd>,
    attach: Option<UnixListener>,
}

// The shim's one start step: what it needs is what the container needs.
#[allow(clippy::too_many_arguments)]
fn start(
    containers: &Containers,
    record: &ContainerRecord,
    dir: &Path,
    libcontainer_root: &Path,
    paths: &Paths,
    attach: Option<&mut Reporter>,
    children: &mut Children,
    restarts: u32,
) -> Result<(i32, Io, Option<UnixStream>), Failure> {
    let rootless = paths.rootless;
    let previous = containers.state(&record.id);
    // Published ports first: a taken port fails the start before anything exists.
    let on_bridge = matches!(record.network, NetworkMode::Bridge(_));
    let listeners = if on_bridge { Some(publish::bind(&record.ports, &previous.ports)?) } else { None };
    let merged = dir.join("merged");
    super::rootfs::mount_overlay(&record.layers, &dir.join("upper"), &dir.join("work"), &merged, rootless, record.spec.no_device_nodes)?;
    // Every target is made inside the rootfs (an image's symlinks cannot point it at the host).
    super::rootfs::ensure_dir(&merged, &record.spec.process.cwd)?;
    for (destination, _) in &record.spec.etc_files {
        super::rootfs::ensure_file(&merged, destination)?;
    }
    for m in &record.spec.mounts {
        // A file bind-mounts onto a file, anything else onto a directory.
        match &m.kind {
            spec::MountKind::Bind { source } if !Path::new(source).is_dir() => super::rootfs::ensure_file(&merged, &m.destination)?,
            _ => super::rootfs::ensure_dir(&merged, &m.destination)?,
        }
        // An empty named volume starts as a copy of what the image has there (owners included).
        if let spec::MountKind::Bind { source } = &m.kind
            && containers.is_volume(Path::new(source))
        {
            super::rootfs::copy_up(&merged, &m.destination, Path::new(source))?;
        }
    }
    let mut container_spec = record.spec.clone();
    container_spec.rootfs = merged.display().to_string();
    container_spec.netns_path = match &record.network {
        NetworkMode::Host => Some(spec::HOST_NETWORK.to_string()),
        NetworkMode::Container(other) => Some(joined_netns(containers, other)?),
        _ => None,
    };
    let bundle = dir.join("bundle");
    let body = serde_json::to_vec_pretty(&spec::runtime_spec(&container_spec)?).expect("spec serialises");
    // The spec holds the environment: owner only.
    // Written again at every start: no need to wait for the disk.
    crate::fsutil::write_atomic_volatile(&bundle.join("config.json"), &body, 0o600)?;

    std::fs::create_dir_all(libcontainer_root)?;
    let mut builder = ContainerBuilder::new(record.id.clone(), SyscallType::default()).with_executor(RdeExecutor);
    let mut io = Io { outputs: Vec::new(), stdin: None, master: None, attach: None };
    // A terminal: the init sends us the pty master over a console socket.
    let console = if record.spec.process.terminal {
        let socket = super::tty::socket_dir()?.join("console.sock");
        let listener = UnixListener::bind(&socket)?;
        builder = builder.with_console_socket(Some(&socket));
        Some((listener, socket))
    } else {
        let (out_r, out_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        let (err_r, err_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        let stdin = if record.interactive {
            let (in_r, in_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
            io.stdin = Some(File::from(in_w));
            in_r
        } else {
            OwnedFd::from(File::open("/dev/null")?)
        };
        builder = builder.with_stdin(stdin).with_stdout(out_w).with_stderr(err_w);
        io.outputs = vec![(Some(File::from(out_r)), "stdout"), (Some(File::from(err_r)), "stderr")];
        None
    };
    if record.interactive || record.spec.process.terminal {
        let path = attach_socket(paths, &record.id);
        std::fs::create_dir_all(path.parent().expect("attach dir"))?;
        let _ = std::fs::remove_file(&path);
        io.attach = Some(UnixListener::bind(&path)?);
    }
    let built = builder
        .with_root_path(libcontainer_root)
        .map_err(Failure::from)?
        .validate_id()
        .map_err(Failure::from)?
        .as_init(&bundle)
        .with_systemd(false)
        .with_detach(true)
        .build();
    if let Some((listener, socket)) = console {
        if built.is_ok() {
            let master = super::tty::receive_master(&listener)?;
            io.stdin = Some(File::from(master.try_clone()?));
            io.outputs = vec![(Some(File::from(master.try_clone()?)), "stdout")];
            io.master = Some(master);
        }
        let _ = std::fs::remove_file(&socket);
        let _ = socket.parent().map(std::fs::remove_dir);
    }
    let mut container = built.map_err(create_failure)?;
    // Created, not started yet: its network namespace exists, its process waits.
    let init = container.pid().map(|p| p.as_raw()).ok_or_else(|| Failure::from("the container has no init pid"))?;
    children.init = Some(init);
    let mut networks = Vec::new();
    match &record.network {
        NetworkMode::Bridge(requests) => {
            let member = connect::Member {
                container_id: &record.id,
                names: vec![record.name.clone(), record.spec.hostname.clone()],
                shim: crate::process::ProcessId::current(),
                hosts_file: dir.join("etc").join("hosts"),
                // Rootless, published traffic reaches the session through the proxy only.
                forwards: match (&listeners, rootless) {
                    (Some(l), false) => l.ports.clone(),
                    _ => Vec::new(),
                },
                extra_hosts: record.extra_hosts.clone(),
                resolv_conf: dir.join("etc").join("resolv.conf"),
                dns: record.dns.clone(),
            };
            networks = connect::connect(paths, &member, requests, &Netns::of_process(init)?, &previous.networks)?;
        }
        NetworkMode::None => connect::loopback_up(&Netns::of_process(init)?)?,
        NetworkMode::Host | NetworkMode::Container(_) => {}
    }
    let client = match (attach, &io.attach) {
        (Some(reporter), Some(listener)) => attach_client(reporter, listener, io.master.as_ref()),
        _ => None,
    };
    container.start().map_err(Failure::from)?;
    let pid = init;
    let mut ports = Vec::new();
    if let (Some(listeners), Some(first)) = (listeners.filter(|l| !l.ports.is_empty()), networks.first()) {
        ports = listeners.ports.clone();
        // Rootless, the container's address is only reachable from the session's namespace.
        let upstream = if rootless { Some(connect::bridge_netns(paths)?) } else { None };
        children.proxy = Some(publish::spawn_proxy(listeners, first.ip, upstream.as_ref())?);
    }
    containers.save_state(
        &record.id,
        &ContainerState {
            status: Some(Status::Running),
            pid: Some(pid),
            pid_start: crate::process::ProcessId::of(pid).and_then(|p| p.start),
            shim_pid: Some(std::process::id() as i32),
            shim_start: crate::process::ProcessId::current().start,
            started_at: Some(now_unix()),
            networks,
            ports,
            restart_count: restarts,
            ..Default::default()
        },
    )?;
    super::events::record(containers, record, "start", &[]);
    Ok((pid, io, client))
}

/// The shim is the whole rde binary, but its supervising loop needs a sliver of
/// it: let the kernel drop the clean file pages that start-up touched (they
/// fault back in from the page cache if ever needed) and return freed heap. This
/// takes the idle shim from ~8 MB resident to about what conmon uses.
fn shed_startup_memory() {
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap_or_default();
    let mut candidate: Option<(usize, usize)> = None;
    for line in smaps.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if let (Some(range), Some(perms)) = (fields.first(), fields.get(1))
            && let Some((start, end)) = range.split_once('-').filter(|_| perms.len() == 4)
        {
            // A mapping header: read-only or executable private file mappings only.
            let is_file = fields.get(5).is_some_and(|p| p.starts_with('/'));
            let ok = is_file && !perms.contains('w') && perms.ends_with('p');
            candidate = match (usize::from_str_radix(start, 16), usize::from_str_radix(end, 16)) {
                (Ok(a), Ok(b)) if ok => Some((a, b)),
                _ => None,
            };
            continue;
        }
        // Pages written since mapping (relocations) show as Anonymous: those stay.
        if let (Some(&"Anonymous:"), Some(kb), Some((start, end))) = (fields.first(), fields.get(1), candidate) {
            if *kb == "0" {
                // SAFETY: the mapping holds only clean file pages: dropping them just
                // makes the next access fault them back in from the page cache.
                unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
            }
            candidate = None;
        }
    }
    // SAFETY: malloc_trim only returns free heap memory to the kernel.
    unsafe { libc::malloc_trim(0) };
}

/// A foreground `run -i/-t`: say Created, wait for the CLI to connect, and give
/// the terminal its size before the start, or the first `stty size` sees 0 0.
fn attach_client(reporter: &mut Reporter, listener: &UnixListener, master: Option<&OwnedFd>) -> Option<UnixStream> {
    reporter.send(&Report::Created);
    let mut client = accept_within(listener, std::time::Duration::from_secs(30))?;
    if let Some(master) = master
        && let Some(Frame::Resize { rows, cols }) = first_frame(&mut client, std::time::Duration::from_secs(2))
    {
        super::tty::set_size(master.as_fd(), rows, cols);
    }
    Some(client)
}

/// Read one frame within `within` (the attach client's opening resize).
fn first_frame(stream: &mut UnixStream, within: std::time::Duration) -> Option<Frame> {
    let _ = stream.set_read_timeout(Some(within));
    let mut decoder = Decoder::default();
    let mut buf = [0u8; 64];
    let frame = loop {
        match stream.read(&mut buf) {
            Ok(n) if n > 0 => match decoder.feed(&buf[..n]) {
                Ok(frames) if !frames.is_empty() => break frames.into_iter().next(),
                Ok(_) => continue,
                Err(_) => break None,
            },
            _ => break None,
        }
    };
    let _ = stream.set_read_timeout(None);
    frame
}

fn accept_within(listener: &UnixListener, within: std::time::Duration) -> Option<UnixStream> {
    let mut fds = [PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
    let ms = PollTimeout::try_from(within.as_millis() as i32).unwrap_or(PollTimeout::NONE);
    match poll(&mut fds, ms) {
        Ok(n) if n > 0 => listener.accept().ok().map(|(s, _)| s),
        _ => None,
    }
}

/// Where a foreground `run -i/-t` connects to the shim (short: unix socket paths are limited).
pub fn attach_socket(paths: &Paths, id: &str) -> PathBuf {
    paths.run.join("attach").join(format!("{}.sock", &id[..12]))
}

fn create_failure(e: libcontainer::error::LibcontainerError) -> Failure {
    let (message, exit_code) = super::executor::describe_failure(&e);
    Failure { message, exit_code }
}

/// Copy the container's output into the log (and to an attached client) until
/// its init exits, feed an attached client's input to it; returns the exit code
/// (128+N when killed by signal N).
fn supervise(
    containers: &Containers,
    record: &ContainerRecord,
    pid: i32,
    mut io: Io,
    attached: Option<UnixStream>,
    mut health: Option<health::Monitor>,
    libcontainer_root: &Path,
) -> i32 {
    let mut log = LogWriter::open(&containers.log_path(&record.id), record.log);
    let mut client: Option<(UnixStream, Decoder)> = attached.map(|s| (s, Decoder::default()));
    let mut exit_code = None;
    let mut exited_at = None;
    let mut buf = vec![0u8; 64 * 1024];
    // A container that runs on: the start's memory goes back (not before, so a
    // short one's exit is not kept waiting for it).
    let started = std::time::Instant::now();
    let mut shed = false;
    let init_fd = crate::process::ProcessId::of(pid).and_then(|p| p.pidfd());
    loop {
        if !shed && exit_code.is_none() && started.elapsed() >= std::time::Duration::from_secs(1) {
            shed_startup_memory();
            shed = true;
        }
        let open: Vec<usize> = (0..io.outputs.len()).filter(|i| io.outputs[*i].0.is_some()).collect();
        if open.is_empty() && exit_code.is_some() {
            break;
        }
        // After init exits, give daemons that inherited the pipes a moment, then stop reading.
        if exited_at.is_some_and(|t: std::time::Instant| t.elapsed().as_secs() >= 2) {
            break;
        }
        let mut fds: Vec<PollFd> = open.iter().map(|i| PollFd::new(io.outputs[*i].0.as_ref().expect("open").as_fd(), PollFlags::POLLIN)).collect();
        if let Some(l) = &io.attach {
            fds.push(PollFd::new(l.as_fd(), PollFlags::POLLIN));
        }
        if let Some((c, _)) = &client {
            fds.push(PollFd::new(c.as_fd(), PollFlags::POLLIN));
        }
        let health_fd = health.as_ref().and_then(|h| h.output_fd());
        let health_at = health_fd.map(|fd| {
            fds.push(PollFd::new(fd, PollFlags::POLLIN));
            fds.len() - 1
        });
        // Readable once init has exited: its pipes close a moment before it can be
        // reaped, and without this the loop would sleep out the poll's timeout.
        if exit_code.is_none()
            && let Some(fd) = &init_fd
        {
            fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
        }
        let wait = health.as_ref().map_or(200, |h| h.wait().as_millis().clamp(1, 200) as u16);
        let _ = poll(&mut fds, PollTimeout::from(wait));
        let ready: Vec<bool> = fds.iter().map(|f| f.revents().is_some_and(|r| !r.is_empty())).collect();
        drop(fds);
        if let (Some(h), Some(k)) = (&mut health, health_at)
            && ready[k]
        {
            h.read_output();
        }
        for (k, i) in open.iter().enumerate() {
            if !ready[k] {
                continue;
            }
            let (file, stream) = &mut io.outputs[*i];
            match file.as_mut().expect("open").read(&mut buf) {
                // EOF, or EIO from a pty whose last slave closed.
                Ok(0) | Err(_) => {
                    log.flush_partial(stream);
                    *file = None;
                }
                Ok(n) => {
                    log.write(stream, &buf[..n]);
                    if let Some((c, _)) = &mut client {
                        let frame = if *stream == "stderr" { Frame::Stderr(buf[..n].to_vec()) } else { Frame::Stdout(buf[..n].to_vec()) };
                        if c.write_all(&frame.encode()).is_err() {
                            client = None;
                        }
                    }
                }
            }
        }
        let mut k = open.len();
        if let Some(listener) = &io.attach {
            if ready[k]
                && let Ok((stream, _)) = listener.accept()
            {
                client = Some((stream, Decoder::default()));
            }
            k += 1;
        }
        if client.is_some() && ready.get(k).copied().unwrap_or(false) {
            let gone = match client.as_mut().expect("polled").0.read(&mut buf) {
                Ok(0) | Err(_) => true,
                Ok(n) => {
                    let frames = client.as_mut().expect("polled").1.feed(&buf[..n]);
                    match frames {
                        Ok(frames) => {
                            frames.into_iter().for_each(|f| apply_input(&mut io, f));
                            false
                        }
                        Err(_) => true,
                    }
                }
            };
            if gone {
                client = None;
            }
        }
        // Reap everything (we are a subreaper); note the init's status and health results.
        loop {
            let (reaped, code) = match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(p, code)) => (p.as_raw(), code),
                Ok(WaitStatus::Signaled(p, sig, _)) => (p.as_raw(), 128 + sig as i32),
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => continue,
            };
            if reaped == pid {
                exit_code = Some(code);
            } else if let Some(h) = &mut health {
                h.reaped(reaped, code, containers, &record.id);
            }
        }
        if let (Some(h), None) = (&mut health, exit_code) {
            h.tick(containers, record, libcontainer_root);
        }
        if exit_code.is_some() && exited_at.is_none() {
            exited_at = Some(std::time::Instant::now());
        }
    }
    for (_, stream) in &io.outputs {
        log.flush_partial(stream);
    }
    if let Some(h) = &mut health {
        h.abort();
    }
    exit_code.unwrap_or(255)
}

/// An attached client's input: bytes to the container, a new terminal size, end of input.
fn apply_input(io: &mut Io, frame: Frame) {
    match frame {
        Frame::Stdin(data) => {
            if let Some(stdin) = &mut io.stdin {
                let _ = stdin.write_all(&data);
            }
        }
        Frame::Resize { rows, cols } => {
            if let Some(master) = &io.master {
                super::tty::set_size(master.as_fd(), rows, cols);
            }
        }
        // A pipe closes (the container reads EOF); a terminal stays, as docker's does.
        Frame::CloseStdin if io.master.is_none() => io.stdin = None,
        _ => {}
    }
}

/// Tear down after exit or a failed start: every step runs even if one fails;
/// returns what failed.
fn teardown(record: &ContainerRecord, dir: &Path, paths: &Paths, children: Children) -> Vec<String> {
    // An init that never started (the start failed after create) would wait forever.
    for pid in [children.proxy, children.init].into_iter().flatten() {
        let pid = nix::unistd::Pid::from_raw(pid);
        if nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).is_ok() {
            let _ = waitpid(pid, None);
        }
    }
    release(paths, &record.id, dir, &record.network.network_names(), netns_shared(record, paths))
}

/// Another container joined this one's network namespace (`--network
/// container:`), so the namespace, and the veths in it, outlive this container.
fn netns_shared(record: &ContainerRecord, paths: &Paths) -> bool {
    let Ok(containers) = Containers::open(&paths.data) else { return true };
    let Ok(all) = containers.all() else { return true };
    all.iter().any(|r| match &r.network {
        NetworkMode::Container(target) => target == &record.name || containers.find(target).is_ok_and(|t| t.id == record.id),
        _ => false,
    })
}

/// What a container holds once its init is gone: libcontainer's state, the
/// rootfs mount (in `dir`), its endpoints on `networks` (and with
/// `delete_veths` its veths, see [`connect::disconnect`]). Released by the shim
/// after each exit, and by the CLI for a shim that died. Every step runs;
/// returns what failed.
pub fn release(paths: &Paths, id: &str, dir: &Path, networks: &[String], delete_veths: bool) -> Vec<String> {
    let mut errors = Vec::new();
    if let Ok(mut c) = libcontainer::container::Container::load(libcontainer_root(paths).join(id))
        && let Err(e) = c.delete(true)
    {
        errors.push(format!("delete the container: {e}"));
    }
    if let Err(e) = super::rootfs::unmount(&dir.join("merged")) {
        errors.push(format!("unmount the root filesystem: {e}"));
    }
    errors.extend(connect::disconnect(paths, id, networks, delete_veths));
    errors
}

/// The final state after the last exit (or a failed start).
fn record_exit(containers: &Containers, record: &ContainerRecord, dir: &Path, exit_code: Option<i32>, error: Option<&str>, cleanup_errors: Vec<String>) {
    super::events::record(containers, record, "die", &[("exitCode", exit_code.unwrap_or(125).to_string())]);
    // Removed right away (`--rm`): no state to keep, unless the removal failed.
    if record.auto_remove && crate::fsutil::remove_tree(dir).is_ok() {
        super::events::record(containers, record, "destroy", &[]);
        return;
    }
    let mut state = containers.state(&record.id);
    state.status = Some(Status::Exited);
    state.exit_code = exit_code.or(Some(state.exit_code.unwrap_or(125)));
    state.finished_at = Some(now_unix());
    state.error = error.map(str::to_string).or_else(|| (!cleanup_errors.is_empty()).then(|| cleanup_errors.join("; ")));
    let _ = containers.save_state(&record.id, &state);
}

/// The network namespace of another running container (`--network container:NAME`).
fn joined_netns(containers: &Containers, other: &str) -> Result<String, Failure> {
    let target = containers.find(other)?;
    match containers.state(&target.id).init().filter(|p| p.alive()) {
        Some(init) => Ok(format!("/proc/{}/ns/net", init.pid)),
        None => Err(Failure::from(format!("cannot join the network of container {}: it is not running", target.name))),
    }
}

pub fn libcontainer_root(paths: &Paths) -> PathBuf {
    paths.run.join("libcontainer")
}
