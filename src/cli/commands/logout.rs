use crate::cli::args::LogoutArgs;
use crate::cli::context::Context;
use crate::image::auth::DockerConfig;

pub fn run(ctx: &Context, args: LogoutArgs) -> anyhow::Result<i32> {
    let printer = ctx.printer(false);
    let registry = crate::image::auth::registry_host(args.server.as_deref());
    let mut config = DockerConfig::load()?;
    if config.erase(&registry)? {
        printer.result(format!("Removing login credentials for {registry}"));
    } else {
        printer.result(format!("Not logged in to {registry}"));
    }
    Ok(0)
}
