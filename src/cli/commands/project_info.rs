//! `rde port|top|images`: facts about the project's containers.

use crate::cli::compose_args::{ProjectImagesArgs, ProjectPortArgs, ServicesArgs};
use crate::cli::context::Context;
use crate::cli::project::Session;
use crate::runtime::state::Observed;

/// `rde port web 8000`: the host address its port is published on.
pub fn port(ctx: &Context, args: ProjectPortArgs) -> anyhow::Result<i32> {
    let session = Session::open(ctx, &[], false)?;
    let record = session.container(&args.service, args.index)?;
    let state = session.containers.state(&record.id);
    let protocol = args.protocol.as_str();
    let found = state.ports.iter().find(|p| p.container_port == args.private_port && (if p.protocol == crate::net::ports::Protocol::Udp { "udp" } else { "tcp" }) == protocol);
    match found {
        Some(p) => {
            let ip = p.host_ip.map(|ip| ip.to_string()).unwrap_or_else(|| "0.0.0.0".into());
            session.printer.result(format!("{ip}:{}", p.host_port.unwrap_or(0)));
            Ok(0)
        }
        None => anyhow::bail!("no port {}/{protocol} published for service {}", args.private_port, args.service),
    }
}

/// `rde top`: the processes of each running container (those in its PID namespace).
pub fn top(ctx: &Context, args: ServicesArgs) -> anyhow::Result<i32> {
    let session = Session::open_existing(ctx, &args.services, false)?;
    for r in session.selected(&args.services, false)? {
        if session.containers.observe(&r.id) != Observed::Running {
            continue;
        }
        let Some(init) = session.containers.state(&r.id).init().filter(|p| p.alive()).map(|p| p.pid) else { continue };
        let ns = std::fs::read_link(format!("/proc/{init}/ns/pid")).ok();
        let mut rows = Vec::new();
        for entry in std::fs::read_dir("/proc")?.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|p| p.parse::<i32>().ok()) else { continue };
            if std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok() != ns {
                continue;
            }
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            let field = |key: &str| status.lines().find_map(|l| l.strip_prefix(key)).map(|v| v.split_whitespace().next().unwrap_or("").to_string()).unwrap_or_default();
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ").trim().to_string();
            rows.push(vec![field("Uid:"), pid.to_string(), field("PPid:"), cmd]);
        }
        rows.sort_by_key(|r| r[1].parse::<i32>().unwrap_or(0));
        session.printer.result(&r.name);
        session.printer.table(&["UID", "PID", "PPID", "CMD"], &rows);
    }
    Ok(0)
}

/// `rde images`: the images the project's containers use.
pub fn images(ctx: &Context, args: ProjectImagesArgs) -> anyhow::Result<i32> {
    let session = Session::open_existing(ctx, &args.services, false)?;
    let store = ctx.store()?;
    let mut rows = Vec::new();
    for r in session.selected(&args.services, true)? {
        if args.quiet {
            session.printer.result(r.image_id.to_string());
            continue;
        }
        let size = crate::image::lookup::find(&store, &r.image_id.to_string()).map(|(i, _)| crate::output::human_size(i.size)).unwrap_or_default();
        let (repo, tag) = r.image.rsplit_once(':').filter(|(_, t)| !t.contains('/')).unwrap_or((&r.image, "latest"));
        rows.push(vec![r.name.clone(), repo.to_string(), tag.to_string(), r.image_id.short().to_string(), size]);
    }
    if !args.quiet {
        session.printer.table(&["CONTAINER", "REPOSITORY", "TAG", "IMAGE ID", "SIZE"], &rows);
    }
    Ok(0)
}
