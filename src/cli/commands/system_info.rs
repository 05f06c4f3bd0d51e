use crate::cli::context::Context;

pub fn run(ctx: &Context) -> anyhow::Result<i32> {
    let printer = ctx.printer(false);
    let settings = ctx.settings()?;
    let p = &ctx.paths;
    printer.result(format!("Version:             {}", env!("CARGO_PKG_VERSION")));
    printer.result(format!("Rootless:            {}", p.rootless));
    printer.result(format!("Data root:           {}", p.data.display()));
    printer.result(format!("Run root:            {}", p.run.display()));
    printer.result(format!("Config file:         {}", p.config_file.display()));
    printer.result(format!("Registry mirrors:    {}", settings.registry_mirrors.join(", ")));
    printer.result(format!("Insecure registries: {}", settings.insecure_registries.join(", ")));
    printer.result(format!("Platform:            {}", crate::image::platform::Platform::host()));
    Ok(0)
}
