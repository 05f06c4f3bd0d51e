use crate::cli::args::ConfigArgs;
use crate::cli::context::Context;
use crate::compose::{self, ConfigFormat};

/// `rde config`: the normalised model, as `docker compose config` prints it.
pub fn run(ctx: &Context, args: ConfigArgs) -> anyhow::Result<i32> {
    let printer = ctx.printer(false);
    let mut project = load(ctx, &args)?;
    if args.quiet {
        return Ok(0);
    }
    for name in &args.service_names {
        anyhow::ensure!(project.services.contains_key(name), "no such service: {name}; hint: `rde config --services` lists them");
    }
    if args.resolve_image_digests || args.lock_image_digests {
        resolve_image_digests(ctx, &mut project)?;
    }
    // The full model renders the named services with their dependencies (and the resources
    // of every enabled service), and the name lists name every enabled service, as compose
    // v2 prints them (--images: the named ones and their dependencies; --hash: its own list);
    // --lock-image-digests takes only the named services.
    let full = project.clone();
    if !args.service_names.is_empty() {
        project.services.retain(|name, _| args.service_names.contains(name));
    }
    let format = match args.format.as_deref().unwrap_or("yaml") {
        "yaml" => ConfigFormat::Yaml,
        "json" => ConfigFormat::Json,
        other => anyhow::bail!("unknown --format {other:?}; hint: use yaml or json"),
    };
    let lines = |names: Vec<String>| names.join("\n");
    let text = if args.lock_image_digests {
        let services: serde_json::Map<String, serde_json::Value> = project
            .services
            .iter()
            .filter(|(_, s)| s.build.is_none())
            .filter_map(|(name, s)| Some((name.clone(), serde_json::json!({ "image": s.image.clone()? }))))
            .collect();
        let value = serde_json::json!({ "services": services });
        match format {
            ConfigFormat::Json => serde_json::to_string_pretty(&value)?,
            ConfigFormat::Yaml => compose::yaml_emit::to_yaml(&value),
        }
    } else if let Some(services) = &args.hash {
        let hashes = compose::service_hashes(&full, services).map_err(|e| anyhow::anyhow!("{e}; hint: `rde config --services` lists them"))?;
        lines(hashes.into_iter().map(|(name, hash)| format!("{name} {hash}")).collect())
    } else if args.variables {
        let variables = compose::project_variables(&project)?;
        match (format, args.format.is_some()) {
            (_, false) => compose::variables_table(&variables),
            (ConfigFormat::Json, true) => serde_json::to_string_pretty(&compose::variables_value(&variables))?,
            (ConfigFormat::Yaml, true) => compose::yaml_emit::to_yaml(&compose::variables_value(&variables)),
        }
    } else if args.environment {
        let mut entries: Vec<String> = project.environment.iter().map(|(k, v)| format!("{k}={v}")).collect();
        entries.sort();
        lines(entries)
    } else if args.list_services {
        lines(compose::service_names(&full))
    } else if args.volumes {
        lines(compose::used_volume_names(&full))
    } else if args.profiles {
        lines(compose::profile_names(&full))
    } else if args.images {
        // Compose's --images, unlike --services and --profiles, follows the named services.
        let mut images = full.clone();
        if !args.service_names.is_empty() {
            let keep = compose::with_dependencies_of(&full, &args.service_names);
            images.services.retain(|name, _| keep.contains(name));
        }
        lines(compose::image_names(&images))
    } else {
        compose::render_config_with(&full, format, &compose::RenderOptions { normalize: !args.no_normalize, services: args.service_names.clone() })
    };
    match &args.output {
        Some(path) => crate::fsutil::write_atomic(path, text.as_bytes(), 0o644)?,
        // An empty list (no volumes, no profiles) prints nothing, not an empty line.
        None if text.trim().is_empty() => {}
        None => printer.result(text.trim_end()),
    }
    Ok(0)
}

/// The project as the global flags name it, with `config`'s own loading options
/// (`--no-interpolate`, `--no-path-resolution`, `--no-consistency`); prints its warnings.
fn load(ctx: &Context, args: &ConfigArgs) -> anyhow::Result<compose::Project> {
    use std::io::Read;
    let mut opts = compose::ProjectOptions::from_process()?;
    opts.files = ctx.project.files.clone();
    opts.project_name = ctx.project.project_name.clone();
    opts.env_files = ctx.project.env_files.clone();
    opts.profiles = ctx.project.profiles.clone();
    opts.project_directory = ctx.project.project_directory.clone();
    opts.services = args.service_names.clone();
    opts.interpolate = !args.no_interpolate;
    opts.no_path_resolution = args.no_path_resolution;
    opts.no_consistency = args.no_consistency;
    if opts.files.iter().any(|f| f.as_os_str() == "-") {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        opts.stdin = Some(text);
    }
    let project = compose::load_project(&opts)?;
    let printer = ctx.printer(false);
    for warning in &project.warnings {
        printer.warn(warning.to_string());
    }
    Ok(project)
}

/// Each service image (not built ones) as `name:tag@digest`, as compose's
/// `--resolve-image-digests`: the digest rde.lock pins, else the one the
/// registry gives the tag now.
fn resolve_image_digests(ctx: &Context, project: &mut compose::Project) -> anyhow::Result<()> {
    use crate::image::reference::Reference;
    let pins = match crate::project::lock::LockFile::of(project)? {
        (path, Some(lock)) => lock.pins(&path)?,
        (_, None) => crate::image::pins::Pins::none(),
    };
    let mut client = None;
    for service in project.services.values_mut().filter(|s| s.build.is_none()) {
        let Some(image) = &service.image else { continue };
        let mut reference: Reference = image.parse()?;
        if reference.digest.is_some() {
            continue;
        }
        let digest = match pins.image(&reference) {
            Some(pin) => pin.index.clone(),
            None => {
                if client.is_none() {
                    client = Some(ctx.registry()?);
                }
                let platform = service.platform.as_deref().map(str::parse).transpose()?;
                crate::image::pull::resolve(client.as_ref().expect("set"), &reference, platform.as_ref())?.index
            }
        };
        reference.tag = Some(reference.tag_or_latest().unwrap_or("latest").to_string());
        service.image = Some(format!("{}@{digest}", reference.familiar()));
    }
    Ok(())
}
