//! rde: run docker-compose projects without Docker.

use clap::Parser;
use rde::{cli, output, rootless};

fn main() {
    rootless::finish_handshake();
    // The per-container supervisor: rde re-executed, single-threaded, no CLI parsing.
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("__shim") {
        let id = args.get(2).map(String::as_str).unwrap_or("");
        std::process::exit(rde::runtime::shim::run(&rde::paths::Paths::detect(), id));
    }
    let cli = cli::Cli::parse();
    // Rootless, rde works inside its own user namespace so that layers keep their owners.
    if cli.command.needs_user_namespace() && !rustix::process::geteuid().is_root() {
        let code = match running_shim(&cli) {
            Some(shim) => rootless::run_joining(shim),
            None => rootless::run_in_userns(),
        };
        let code = code.unwrap_or_else(|e| {
            output::Printer::new(false).error(e.to_string());
            cli::EXIT_RDE_FAILED
        });
        std::process::exit(code);
    }
    let code = match cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            output::Printer::new(false).error(error_chain(&e));
            cli::EXIT_RDE_FAILED
        }
    };
    std::process::exit(code);
}

/// The live shim of the container a rootless command addresses, if any.
fn running_shim(cli: &cli::Cli) -> Option<i32> {
    let name = cli.command.container_to_join()?;
    let containers = rde::runtime::state::Containers::open(&rde::paths::Paths::detect().data).ok()?;
    let record = containers.find(name).ok()?;
    containers.state(&record.id).shim_pid.filter(|pid| rde::runtime::state::process_alive(*pid))
}

/// One line: each cause once, even when a message already embeds its source.
fn error_chain(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let msg = cause.to_string();
        if !text.contains(&msg) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&msg);
        }
    }
    text
}
