use crate::cli::RunArgs;
use crate::cli::context::Context;
use crate::image::lookup;
use crate::image::platform::Platform;
use crate::image::pull::{self, PullOptions};
use crate::image::reference::Reference;
use crate::runtime::create::{self, CreateOptions};
use crate::runtime::lifecycle;
use crate::runtime::logs::LogReader;
use crate::cli::signals;
use std::io::Write;
use std::time::Duration;

pub fn run(ctx: &Context, args: RunArgs) -> anyhow::Result<i32> {
    let printer = ctx.printer(false);
    anyhow::ensure!(!args.tty, "-t (a terminal) is not supported yet; hint: run without -t, output is streamed");
    let store = ctx.store()?;
    let containers = ctx.containers()?;
    let image = match lookup::find(&store, &args.image) {
        Ok((image, _)) => image,
        Err(lookup::LookupError::NotFound(_)) => {
            // As docker: pull what is missing, with progress on stderr.
            let reference: Reference = args.image.parse()?;
            let platform = args.platform.as_deref().map(str::parse::<Platform>).transpose()?;
            eprintln!("Unable to find image '{}' locally", reference.familiar());
            pull::pull(&ctx.registry()?, &store, &reference, &PullOptions { platform }, &ctx.printer(true))?;
            lookup::find(&store, &args.image)?.0
        }
        Err(e) => return Err(e.into()),
    };
    let opts = CreateOptions {
        name: args.name.clone(),
        command: args.command.clone(),
        entrypoint: args.entrypoint.clone(),
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
        memory: args.memory.as_deref().map(create::parse_bytes).transpose()?,
        cpus: args.cpus,
        pids_limit: args.pids_limit,
        stop_signal: args.stop_signal.clone(),
        stop_timeout: args.stop_timeout,
        auto_remove: args.rm,
        init: args.init,
    };
    let record = create::create(&store, &containers, &args.image, &image, &opts)?;
    let mut log = LogReader::open(&containers.log_path(&record.id))?;
    let mut started = match lifecycle::start(&containers, &record) {
        Ok(started) => started,
        Err(e) => {
            printer.error(e.to_string());
            if args.rm {
                let _ = lifecycle::remove(&containers, &record, true, &ctx.paths);
            }
            return Ok(e.exit_code());
        }
    };
    if args.detach {
        printer.result(&record.id);
        return Ok(0);
    }
    signals::catch_forwardable();
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
