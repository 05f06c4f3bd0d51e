use crate::cli::args::RunArgs;
use crate::cli::context::Context;
use crate::image::lookup;
use crate::image::platform::Platform;
use crate::image::pull::{self, PullOptions};
use crate::image::reference::Reference;
use crate::runtime::create::{self, CreateOptions};
use crate::runtime::lifecycle;
use crate::runtime::logs::{LogOptions, LogReader};
use crate::signals;
use crate::net::network::{DEFAULT_NETWORK, NetworkMode, NetworkRequest, Networks};
use std::io::{IsTerminal, Write};
use std::time::Duration;

pub fn run(ctx: &Context, args: RunArgs) -> anyhow::Result<i32> {
    let printer = ctx.printer(false);
    // Before pulling anything: a name that cannot be used fails at once.
    if let Some(name) = &args.name {
        crate::names::validate(crate::names::NameKind::Container, name)?;
    }
    for spec in &args.volume {
        create::check_volume(spec)?;
    }
    // Detached, the shim holds the terminal (its output goes to the log).
    let tty = args.tty && (args.detach || std::io::stdin().is_terminal());
    if args.tty && !tty {
        printer.warn("the input device is not a TTY; running without a terminal");
    }
    let (log, not_applied) = LogOptions::from_flags(&args.log_opt)?;
    if !not_applied.is_empty() {
        printer.warn(format!("rde does not apply --log-opt {} yet; ignored", not_applied.join(", ")));
    }
    let store = ctx.store()?;
    let containers = ctx.containers()?;
    let image = match lookup::find(&store, &args.image) {
        Ok((image, _)) => image,
        Err(lookup::LookupError::NotFound(_)) => {
            // As docker: pull what is missing, with progress on stderr.
            let reference: Reference = args.image.parse()?;
            let platform = args.platform.as_deref().map(str::parse::<Platform>).transpose()?;
            printer.notice(format!("Unable to find image '{}' locally", reference.familiar()));
            pull::pull(&ctx.registry()?, &store, &reference, &PullOptions { platform }, &ctx.printer(true))?;
            lookup::find(&store, &args.image)?.0
        }
        Err(e) => return Err(e.into()),
    };
    let opts = CreateOptions {
        name: args.name.clone(),
        command: args.command.clone(),
        entrypoint: args.entrypoint.as_ref().map(|e| if e.is_empty() { Vec::new() } else { vec![e.clone()] }),
        env: args.env.clone(),
        env_files: args.env_file.clone(),
        volumes: args.volume.clone(),
        tmpfs: args.tmpfs.clone(),
        workdir: args.workdir.clone(),
        user: args.user.clone(),
        hostname: args.hostname.clone(),
        read_only: args.read_only,
        cap_add: args.cap_add.clone(),
        cap_drop: args.cap_drop.clone(),
        security_opt: args.security_opt.clone(),
        memory: args.memory.as_deref().map(create::parse_bytes).transpose()?,
        cpus: args.cpus,
        pids_limit: args.pids_limit,
        stop_signal: args.stop_signal.clone(),
        stop_timeout: args.stop_timeout,
        auto_remove: args.rm,
        init: args.init,
        interactive: args.interactive,
        tty,
        network: network_mode(ctx, &args)?,
        ports: args.publish.iter().map(|p| crate::net::ports::parse(p)).collect::<Result<Vec<_>, _>>()?.concat(),
        publish_all: args.publish_all,
        restart: args.restart.as_deref().unwrap_or("no").parse()?,
        labels: args.label.iter().map(|l| l.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())).unwrap_or((l.clone(), String::new()))).collect(),
        healthcheck: args.health_cmd.as_ref().and_then(|cmd| {
            crate::runtime::health::HealthConfig::from_test(&["CMD-SHELL".into(), cmd.clone()], args.health_interval.map(std::time::Duration::from_secs_f64), args.health_timeout.map(std::time::Duration::from_secs_f64), args.health_start_period.map(std::time::Duration::from_secs_f64), args.health_retries)
        }),
        log,
        ..Default::default()
    };
    for option in crate::runtime::security_opt::not_applied(&opts.security_opt) {
        printer.warn(format!("--security-opt {option} is not applied by rde; ignored"));
    }
    if ctx.paths.rootless && (opts.memory.is_some() || opts.cpus.is_some() || opts.pids_limit.is_some()) {
        printer.warn("resource limits are not enforced rootless on this host (the user may not create cgroups)");
    }
    let record = create::create(&store, &containers, &args.image, &image, &opts)?;
    start_attached(ctx, &containers, &record, Attach { detach: args.detach, interactive: args.interactive, tty, remove_on_failure: args.rm })
}

/// How `run` (and compose's `run`) follow the container they started.
pub struct Attach {
    pub detach: bool,
    pub interactive: bool,
    pub tty: bool,
    /// `--rm`: a container that could not start goes too.
    pub remove_on_failure: bool,
}

/// Start a created container; detached, print its id, else relay its streams
/// (and signals) until it exits and return its exit code.
pub fn start_attached(ctx: &Context, containers: &crate::runtime::state::Containers, record: &crate::runtime::state::ContainerRecord, how: Attach) -> anyhow::Result<i32> {
    let printer = ctx.printer(false);
    let tty = how.tty;
    let mut log = LogReader::open(&containers.log_path(&record.id))?;
    let size = tty.then(crate::runtime::tty::current_size);
    let mut started = match lifecycle::start(containers, record, &ctx.paths, !how.detach && (how.interactive || tty), size) {
        Ok(started) => started,
        Err(e) => {
            printer.error(e.to_string());
            if how.remove_on_failure {
                let _ = lifecycle::remove(containers, record, true, &ctx.paths);
            }
            return Ok(e.exit_code());
        }
    };
    if how.detach {
        printer.result(&record.id);
        return Ok(0);
    }
    signals::catch_forwardable();
    if how.interactive || tty {
        return attach(&mut started, tty);
    }
    let exit_code = loop {
        let done = started.exit_code(Duration::from_millis(50));
        copy_out(&mut log);
        signals::forward_to(started.pid);
        if let Some(code) = done {
            copy_out(&mut log);
            break code.unwrap_or(125);
        }
    };
    Ok(exit_code)
}

/// `--network`, `--network-alias`, `--ip`: checked now, so a typo fails before anything is made.
fn network_mode(ctx: &Context, args: &RunArgs) -> anyhow::Result<NetworkMode> {
    let names: Vec<&str> = if args.network.is_empty() { vec![DEFAULT_NETWORK] } else { args.network.iter().map(String::as_str).collect() };
    let single = |mode: NetworkMode| -> anyhow::Result<NetworkMode> {
        if names.len() > 1 {
            anyhow::bail!("--network {} cannot be combined with other networks", names[0]);
        }
        if !args.network_alias.is_empty() || args.ip.is_some() {
            anyhow::bail!("--network-alias and --ip need a bridge network; hint: `rde network create NAME`, then --network NAME");
        }
        Ok(mode)
    };
    match names[0] {
        "none" => return single(NetworkMode::None),
        "host" => return single(NetworkMode::Host),
        n if n.starts_with("container:") => return single(NetworkMode::Container(n["container:".len()..].to_string())),
        _ => {}
    }
    let networks = Networks::open(&ctx.paths)?;
    let _lock = networks.lock()?;
    let mut requests = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let network = networks.get(name)?;
        requests.push(NetworkRequest {
            name: network.name,
            aliases: if i == 0 { args.network_alias.clone() } else { Vec::new() },
            ip: if i == 0 { args.ip } else { None },
        });
    }
    Ok(NetworkMode::Bridge(requests))
}

fn copy_out(log: &mut LogReader) {
    let lines = log.read_available();
    if lines.is_empty() {
        return;
    }
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    for line in lines {
        let _ = if line.stream == "stderr" { err.write_all(line.log.as_bytes()) } else { out.write_all(line.log.as_bytes()) };
    }
    let _ = out.flush();
}

/// Foreground with -i/-t: our stdin goes to the container through the shim's
/// attach socket, its output comes back the same way.
fn attach(started: &mut lifecycle::Started, tty: bool) -> anyhow::Result<i32> {
    use crate::runtime::attach::{Decoder, Frame};
    use crate::runtime::tty;
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use std::io::Read;
    use std::os::fd::AsFd;
    let mut socket = started.attached.take().ok_or_else(|| anyhow::anyhow!("the container's supervisor did not wait for us to attach"))?;
    let _raw = tty.then(tty::RawMode::enter);
    let mut decoder = Decoder::default();
    let mut stdin_open = true;
    let mut socket_open = true;
    let mut exit_code = None;
    let mut buf = vec![0u8; 64 * 1024];
    while socket_open {
        let stdin = std::io::stdin();
        let mut fds = vec![PollFd::new(socket.as_fd(), PollFlags::POLLIN)];
        if exit_code.is_none() {
            fds.push(PollFd::new(started.report_fd(), PollFlags::POLLIN));
        }
        if stdin_open && exit_code.is_none() {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
        }
        // Once the container exited, wait a moment for the last output, then stop.
        let timeout = if exit_code.is_some() { 1000u16 } else { 200 };
        let n = poll(&mut fds, PollTimeout::from(timeout)).unwrap_or(0);
        let ready: Vec<bool> = fds.iter().map(|f| f.revents().is_some_and(|r| !r.is_empty())).collect();
        drop(fds);
        if tty && signals::take_resize() {
            let (rows, cols) = tty::current_size();
            let _ = socket.write_all(&Frame::Resize { rows, cols }.encode());
        }
        if !tty {
            signals::forward_to(started.pid);
        }
        if n == 0 && exit_code.is_some() {
            break;
        }
        if ready[0] {
            match socket.read(&mut buf) {
                Ok(0) | Err(_) => socket_open = false,
                Ok(n) => {
                    for frame in decoder.feed(&buf[..n]).map_err(anyhow::Error::msg)? {
                        match frame {
                            Frame::Stdout(d) => {
                                let mut out = std::io::stdout().lock();
                                out.write_all(&d)?;
                                out.flush()?;
                            }
                            Frame::Stderr(d) => std::io::stderr().write_all(&d)?,
                            _ => {}
                        }
                    }
                }
            }
        }
        if exit_code.is_none() && ready.get(1).copied().unwrap_or(false) {
            exit_code = started.exit_code(Duration::ZERO).map(|c| c.unwrap_or(125));
        }
        if stdin_open && ready.get(2).copied().unwrap_or(false) {
            match std::io::stdin().lock().read(&mut buf) {
                Ok(0) | Err(_) => {
                    stdin_open = false;
                    let _ = socket.write_all(&Frame::CloseStdin.encode());
                }
                Ok(n) => {
                    let _ = socket.write_all(&Frame::Stdin(buf[..n].to_vec()).encode());
                }
            }
        }
    }
    let code = match exit_code {
        Some(code) => code,
        None => started.exit_code(Duration::from_secs(5)).flatten().unwrap_or(125),
    };
    Ok(code)
}
