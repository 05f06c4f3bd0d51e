//! rde: run docker-compose projects without Docker. The binary (`main.rs`) is a
//! thin shell over these modules; they are a library so that integration tests
//! can exercise pure logic (the compose loader) directly.

pub mod build;
pub mod cli;
pub mod compose;
pub mod cp;
pub mod format;
pub mod fsutil;
pub mod image;
pub mod names;
pub mod net;
pub mod output;
pub mod paths;
pub mod process;
pub mod project;
pub mod rootless;
pub mod runtime;
pub mod settings;
pub mod signals;
pub mod time;

#[cfg(test)]
mod layering;
