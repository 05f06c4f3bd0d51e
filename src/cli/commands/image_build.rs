use crate::build::{self, BuildNetwork, BuildOptions, DockerfileSource};
use crate::cli::args::BuildArgs;
use crate::cli::context::Context;
use crate::image::reference::Reference;
use std::collections::BTreeMap;
use std::io::Read;

pub fn run(ctx: &Context, args: BuildArgs) -> anyhow::Result<i32> {
    let printer = ctx.printer(args.quiet);
    anyhow::ensure!(
        args.context.is_dir(),
        "build context {} is not a directory; hint: give the directory holding the Dockerfile, e.g. `rde image build -t app .`",
        args.context.display()
    );
    if let Some(p) = &args.platform {
        let wanted: crate::image::platform::Platform = p.parse()?;
        let host = crate::image::platform::Platform::host();
        anyhow::ensure!(
            wanted.os == host.os && wanted.architecture == host.architecture,
            "--platform {p}: rde builds only for this host's platform ({host}); hint: leave --platform out"
        );
    }
    let dockerfile = match args.file.as_deref() {
        Some("-") => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text)?;
            DockerfileSource::Text(text)
        }
        Some(f) => DockerfileSource::Path(f.into()),
        None => DockerfileSource::Path(args.context.join("Dockerfile")),
    };
    if let DockerfileSource::Path(p) = &dockerfile {
        anyhow::ensure!(p.is_file(), "Dockerfile {} not found; hint: name it with -f FILE", p.display());
    }
    let tags = args.tag.iter().map(|t| t.parse::<Reference>().map_err(|e| anyhow::anyhow!("invalid tag {t:?}: {e}"))).collect::<anyhow::Result<Vec<_>>>()?;
    let mut build_args = BTreeMap::new();
    for a in &args.build_arg {
        match a.split_once('=') {
            Some((k, v)) => {
                build_args.insert(k.to_string(), v.to_string());
            }
            // `--build-arg NAME`: the value from our environment, or nothing.
            None => {
                if let Ok(v) = std::env::var(a) {
                    build_args.insert(a.clone(), v);
                }
            }
        }
    }
    let labels = args.label.iter().map(|l| l.split_once('=').map_or((l.clone(), String::new()), |(k, v)| (k.to_string(), v.to_string()))).collect();
    let network = match args.network.as_str() {
        "default" | "bridge" => BuildNetwork::Default,
        "none" => BuildNetwork::None,
        "host" => BuildNetwork::Host,
        other => anyhow::bail!("--network {other:?} is not supported for builds; hint: default, none or host"),
    };
    let add_hosts = args
        .add_host
        .iter()
        .map(|h| {
            h.split_once([':', '=']).map(|(n, ip)| (n.to_string(), ip.to_string())).ok_or_else(|| anyhow::anyhow!("invalid --add-host {h:?}; hint: HOST:IP"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut secrets = BTreeMap::new();
    for s in &args.secret {
        let fields: BTreeMap<&str, &str> = s.split(',').filter_map(|kv| kv.split_once('=')).collect();
        let id = fields.get("id").ok_or_else(|| anyhow::anyhow!("--secret {s:?} has no id=; hint: --secret id=ID,src=PATH"))?;
        let src = match (fields.get("src").or(fields.get("source")), fields.get("env")) {
            (Some(src), _) => std::path::PathBuf::from(src),
            (None, Some(var)) => {
                let value = std::env::var(var).map_err(|_| anyhow::anyhow!("--secret {s:?}: environment variable {var} is not set"))?;
                let dir = ctx.paths.run.join("secrets");
                std::fs::create_dir_all(&dir)?;
                let path = dir.join(format!("{}-{id}", std::process::id()));
                crate::fsutil::write_atomic(&path, value.as_bytes(), 0o600)?;
                path
            }
            (None, None) => anyhow::bail!("--secret {s:?} has no src=; hint: --secret id=ID,src=PATH"),
        };
        anyhow::ensure!(src.is_file(), "--secret {id}: {} is not a file", src.display());
        secrets.insert(id.to_string(), src);
    }
    let progress = if args.quiet { build::progress::ProgressMode::Quiet } else { args.progress.parse().map_err(anyhow::Error::msg)? };
    let opts = BuildOptions {
        context: args.context.clone(),
        dockerfile,
        tags,
        build_args,
        target: args.target.clone(),
        no_cache: args.no_cache,
        pull: args.pull,
        labels,
        network,
        add_hosts,
        secrets,
        progress,
        progress_prefix: None,
        ulimits: args.ulimit.iter().map(|u| parse_ulimit(u)).collect::<anyhow::Result<_>>()?,
        shm_size: args.shm_size.as_deref().map(crate::runtime::create::parse_bytes).transpose()?,
        named_contexts: args
            .build_context
            .iter()
            .map(|c| {
                c.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .ok_or_else(|| anyhow::anyhow!("invalid --build-context {c:?}; hint: NAME=DIR or NAME=docker-image://REF"))
            })
            .collect::<anyhow::Result<_>>()?,
        pins: Default::default(),
        source_date_epoch: match args.source_date_epoch {
            Some(epoch) => Some(epoch),
            None => crate::build::source_date_epoch_from_env().map_err(anyhow::Error::msg)?,
        },
    };
    let store = ctx.store()?;
    let containers = ctx.containers()?;
    let registry = || ctx.registry().map_err(|e| e.to_string());
    crate::signals::catch_forwardable();
    let env = build::Env { store: &store, containers: &containers, paths: &ctx.paths, registry: &registry, printer: &printer };
    // A failed build exits 1, as `docker build` does (125 is for rde's own failures).
    let built = match build::build(&env, &opts) {
        Ok(built) => built,
        Err(
            e @ (build::BuildError::Run(_)
            | build::BuildError::Dockerfile(_)
            | build::BuildError::Step { .. }
            | build::BuildError::Context { .. }
            | build::BuildError::Copy(_)),
        ) => {
            printer.error(e.to_string());
            return Ok(1);
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(f) = &args.iidfile {
        crate::fsutil::write_atomic(f, built.id.to_string().as_bytes(), 0o644)?;
    }
    if args.quiet {
        printer.result(built.id.to_string());
    }
    Ok(0)
}

/// `NAME=SOFT[:HARD]` (docker's --ulimit).
fn parse_ulimit(spec: &str) -> anyhow::Result<(String, u64, u64)> {
    let bad = || anyhow::anyhow!("invalid --ulimit {spec:?}; hint: NAME=SOFT[:HARD], e.g. nofile=1024:2048");
    let (name, limits) = spec.split_once('=').ok_or_else(bad)?;
    let (soft, hard) = limits.split_once(':').unwrap_or((limits, limits));
    Ok((name.to_string(), soft.parse().map_err(|_| bad())?, hard.parse().map_err(|_| bad())?))
}
