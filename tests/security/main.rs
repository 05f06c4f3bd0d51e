//! The security suite: hostile images, hostile compose files and other local
//! users must not reach the host (docs/SECURITY.md states the threat model).
//! Each test crafts its input (image layers with python's tarfile, pushed to the
//! test registry with skopeo; compose files; records on disk) and drives the
//! real binary.

#[path = "../common/mod.rs"]
mod common;

mod compose;
mod crafted;
mod host_paths;
mod image;
mod kernel;
mod local_users;
mod logs;
mod reliability;
mod seccomp;
