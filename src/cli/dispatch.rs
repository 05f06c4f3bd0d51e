//! From a parsed command line to the command that runs it.

use super::args::*;
use super::{commands, context};

pub fn run(cli: Cli) -> anyhow::Result<i32> {
    let ctx = context::Context::new(cli.project);
    match cli.command {
        Command::Config(args) => commands::config::run(&ctx, args),
        Command::Up(args) => commands::up::run(&ctx, args),
        Command::Down(args) => commands::down::run(&ctx, args),
        Command::Ps(args) => commands::ps::run(&ctx, args),
        Command::Logs(args) => commands::logs::run(&ctx, args),
        Command::Exec(args) => commands::exec::run(&ctx, args),
        Command::Run(args) => commands::run::run(&ctx, args),
        Command::Create(args) => commands::project_lifecycle::create(&ctx, args),
        Command::Start(args) => commands::project_lifecycle::start(&ctx, args),
        Command::Stop(args) => commands::project_lifecycle::stop(&ctx, args),
        Command::Restart(args) => commands::project_lifecycle::restart(&ctx, args),
        Command::Kill(args) => commands::project_lifecycle::kill(&ctx, args),
        Command::Rm(args) => commands::project_lifecycle::rm(&ctx, args),
        Command::Pull(args) => commands::project_lifecycle::pull(&ctx, args),
        Command::Port(args) => commands::project_info::port(&ctx, args),
        Command::Top(args) => commands::project_info::top(&ctx, args),
        Command::Images(args) => commands::project_info::images(&ctx, args),
        Command::Container(ContainerCommand::Run(args)) => commands::container_run::run(&ctx, *args),
        Command::Container(ContainerCommand::Ls(args)) => commands::container_ls::run(&ctx, args),
        Command::Container(ContainerCommand::Exec(args)) => commands::container_exec::run(&ctx, args),
        Command::Container(ContainerCommand::Logs(args)) => commands::container_logs::run(&ctx, args),
        Command::Container(ContainerCommand::Stop(args)) => commands::container_stop::run(&ctx, args),
        Command::Container(ContainerCommand::Kill(args)) => commands::container_kill::run(&ctx, args),
        Command::Container(ContainerCommand::Rm(args)) => commands::container_rm::run(&ctx, args),
        Command::Container(ContainerCommand::Inspect(args)) => commands::container_inspect::run(&ctx, args),
        Command::Container(ContainerCommand::Start(args)) => commands::container_start::run(&ctx, args),
        Command::Container(ContainerCommand::Restart(args)) => commands::container_start::restart(&ctx, args),
        Command::Container(ContainerCommand::Port(args)) => commands::container_port::run(&ctx, args),
        Command::Network(NetworkCommand::Create(args)) => commands::network_create::run(&ctx, args),
        Command::Network(NetworkCommand::Ls(args)) => commands::network_ls::run(&ctx, args),
        Command::Network(NetworkCommand::Inspect(args)) => commands::network_inspect::run(&ctx, args),
        Command::Network(NetworkCommand::Rm(args)) => commands::network_rm::run(&ctx, args),
        Command::Network(NetworkCommand::Prune) => commands::network_rm::prune(&ctx),
        Command::Image(ImageCommand::Build(args)) => commands::image_build::run(&ctx, *args),
        Command::Builder(BuilderCommand::Prune(args)) => commands::builder_prune::run(&ctx, args),
        Command::Image(ImageCommand::Pull(args)) => commands::image_pull::run(&ctx, args),
        Command::Image(ImageCommand::Ls(args)) => commands::image_ls::run(&ctx, args),
        Command::Image(ImageCommand::Inspect(args)) => commands::image_inspect::run(&ctx, args),
        Command::Image(ImageCommand::Rm(args)) => commands::image_rm::run(&ctx, args),
        Command::Login(args) => commands::login::run(&ctx, args),
        Command::Logout(args) => commands::logout::run(&ctx, args),
        Command::System(SystemCommand::Df) => commands::system_df::run(&ctx),
        Command::System(SystemCommand::Prune(args)) => commands::system_prune::run(&ctx, args),
        Command::System(SystemCommand::Info) => commands::system_info::run(&ctx),
    }
}
