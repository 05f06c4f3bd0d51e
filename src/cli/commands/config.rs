use crate::cli::args::ConfigArgs;
use crate::cli::context::Context;
use crate::compose::{self, ConfigFormat};

/// `rde config`: the normalised model, as `docker compose config` prints it.
pub fn run(ctx: &Context, args: ConfigArgs) -> anyhow::Result<i32> {
    let printer = ctx.printer(false);
    let mut project = ctx.load_project(&args.service_names, !args.no_interpolate)?;
    if args.quiet {
        return Ok(0);
    }
    if !args.service_names.is_empty() {
        for name in &args.service_names {
            anyhow::ensure!(project.services.contains_key(name), "no such service: {name}; hint: `rde config --services` lists them");
        }
        project.services.retain(|name, _| args.service_names.contains(name));
    }
    let lines = |names: Vec<String>| names.join("\n");
    let text = if args.list_services {
        lines(compose::service_names(&project))
    } else if args.volumes {
        lines(compose::volume_names(&project))
    } else if args.profiles {
        lines(compose::profile_names(&project))
    } else if args.images {
        lines(compose::image_names(&project))
    } else {
        let format = match args.format.as_str() {
            "yaml" => ConfigFormat::Yaml,
            "json" => ConfigFormat::Json,
            other => anyhow::bail!("unknown --format {other:?}; hint: use yaml or json"),
        };
        compose::render_config(&project, format)
    };
    match &args.output {
        Some(path) => crate::fsutil::write_atomic(path, text.as_bytes(), 0o644)?,
        None => printer.result(text.trim_end()),
    }
    Ok(0)
}
