//! rde: run docker-compose projects without Docker.

use clap::Parser;
use rde::{cli, output, rootless};

fn main() {
    if let Err(e) = rootless::finish_handshake() {
        output::Printer::new(false).error(e.to_string());
        std::process::exit(cli::EXIT_RDE_FAILED);
    }
    // The per-container supervisor: rde re-executed, single-threaded, no CLI parsing.
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(rootless::PAUSE_ARG) {
        rootless::pause_main(prepare_session);
    }
    if args.get(1).map(String::as_str) == Some(rde::runtime::shim::SHIM_ARG) {
        let id = args.get(2).map(String::as_str).unwrap_or("");
        std::process::exit(rde::runtime::shim::run(&rde::paths::Paths::detect(), id));
    }
    let cli = cli::Cli::parse_from(cli::args::without_compose_word(std::env::args_os()));
    output::set_ansi(cli.ansi.choice());
    output::set_step_style(cli.project.progress.parse().unwrap_or(output::StepStyle::Auto));
    if cli.command.needs_user_namespace() {
        // The store and runtime roots exist, private, before anything is written there.
        if let Err(e) = rde::paths::Paths::detect().prepare() {
            output::Printer::new(false).error(e.to_string());
            std::process::exit(cli::EXIT_RDE_FAILED);
        }
    }
    // Rootless, rde works inside the user's session namespaces (see rootless.rs).
    if cli.command.needs_user_namespace() && !rustix::process::geteuid().is_root() {
        let warn = |w: String| output::Printer::new(false).warn(w);
        let code = rootless::run_in_session(&rde::paths::Paths::detect().run, &warn).unwrap_or_else(|e| {
            output::Printer::new(false).error(e.to_string());
            cli::EXIT_RDE_FAILED
        });
        std::process::exit(code);
    }
    let code = match cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            output::finish_steps();
            output::Printer::new(false).error(output::error_chain(e.as_ref()));
            cli::EXIT_RDE_FAILED
        }
    };
    output::finish_steps();
    std::process::exit(code);
}

/// The rootless session's namespaces, prepared in its pause process: the host's
/// cgroups hidden, and lo up in its network namespace (which holds the rootless
/// bridges; its lo serves the proxies).
fn prepare_session() -> Result<(), String> {
    rde::runtime::rootfs::hide_host_cgroups().map_err(|e| e.to_string())?;
    rde::net::netlink::Netlink::open().and_then(|nl| nl.set_up("lo")).map_err(|e| e.to_string())
}
