//! rde: run docker-compose projects without Docker.

mod cli;
mod fsutil;
mod image;
mod output;
mod paths;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    let code = match cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            output::Printer::new(false).error(error_chain(&e));
            cli::EXIT_RDE_FAILED
        }
    };
    std::process::exit(code);
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
