//! Containers: the OCI spec from image and options, the overlay rootfs, the
//! per-container shim that drives libcontainer, state on disk, logs.

pub mod attach;
pub mod create;
pub mod events;
pub mod exec;
pub mod executor;
pub mod foreground;
pub mod health;
pub mod lifecycle;
pub mod logs;
pub mod networks;
pub mod pause;
pub mod restart;
pub mod rootfs;
pub mod seccomp;
pub mod security_opt;
pub mod shim;
pub mod spec;
pub mod state;
pub mod stats;
pub mod tty;
pub mod user;
pub mod volumes;
