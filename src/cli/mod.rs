//! The command line: clap definitions in `args.rs` (and `compose_args.rs`), dispatch in
//! `dispatch.rs`, one file per command in `commands/`.

pub mod args;
pub mod commands;
pub mod compose_args;
pub mod context;
pub mod dispatch;

pub use args::{Cli, Command, EXIT_RDE_FAILED};
pub use dispatch::run;
