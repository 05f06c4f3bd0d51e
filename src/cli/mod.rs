//! The command line: clap definitions in `args.rs` (and `compose_args.rs`), dispatch in
//! `dispatch.rs`, one file per command in `commands/`; what several commands print
//! alike (`logmux.rs`) beside them.

pub mod args;
pub mod commands;
pub mod compose_args;
pub mod context;
pub mod dispatch;
pub mod logmux;

pub use args::{Cli, Command, EXIT_RDE_FAILED};
pub use dispatch::run;
