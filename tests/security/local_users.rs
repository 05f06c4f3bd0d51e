//! Other local users cannot reach the store, the containers' state or their
//! logs, and a rootless user's runtime directory must be their own.

use super::common::*;
use super::crafted::{crafted_image, require_root};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).mode() & 0o7777
}

/// Run `argv` as `nobody`.
fn as_nobody(argv: &[&str]) -> std::process::Output {
    Command::new("setpriv").args(["--reuid", "65534", "--regid", "65534", "--clear-groups", "--"]).args(argv).output().unwrap()
}

#[test]
fn the_store_and_container_state_are_private() {
    require_root();
    // A set-uid root shell in an image layer: any local user who reached it would be root.
    let image = crafted_image(
        "setuid-shell",
        // (A script: the kernel ignores its set-uid bit, but reaching and running it at all is the failure.)
        "file('suid-sh', '#!/bin/sh\\nid\\n', mode=0o4755)\n",
        &["--cmd", r#"["sleep","1000"]"#],
    );
    let env = Env::new();
    // The test's own temp dir is open to everyone, as /var/lib is.
    std::fs::set_permissions(env.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    env.ok(&["container", "run", "-d", "--name", "keeper", "-e", "POSTGRES_PASSWORD=hunter2", "-v", "private:/vol", &image]);
    env.ok(&["container", "exec", "keeper", "sh", "-c", "echo the password is hunter2"]);
    let store = env.root();
    let run = env.dir.path().join("run");
    assert_eq!(mode(&store), 0o700, "the store root");
    assert_eq!(mode(&run), 0o700, "the runtime root");
    let id = env.ok(&["container", "ls", "-q", "--no-trunc"]).stdout.trim().to_string();
    let dir = store.join("containers-v1").join(&id);
    for file in ["container.json", "state.json", "bundle/config.json"] {
        assert_eq!(mode(&dir.join(file)) & 0o077, 0, "{file} holds the environment: owner only");
    }
    assert_eq!(mode(&dir.join("ctr.log")) & 0o007, 0, "the log is not world-readable");
    // Another user reaches nothing below the roots: not the layers' set-uid file, not the records.
    let layer = env.layer_dirs().into_iter().find(|l| l.join("diff/suid-sh").exists()).expect("the crafted layer");
    let out = as_nobody(&[&layer.join("diff/suid-sh").display().to_string()]);
    assert!(!out.status.success(), "nobody ran the set-uid file from the store");
    let out = as_nobody(&["cat", &dir.join("container.json").display().to_string()]);
    assert!(!out.status.success() && !String::from_utf8_lossy(&out.stdout).contains("hunter2"));
    let out = as_nobody(&["ls", &store.join("volumes-v1").display().to_string()]);
    assert!(!out.status.success(), "volumes are listed to other users");
    // An existing store that was open is tightened on the next command.
    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o755)).unwrap();
    env.ok(&["container", "ls"]);
    assert_eq!(mode(&store), 0o700);
    env.ok(&["container", "rm", "-f", "keeper"]);
}

/// A home and a command line for rde as `nobody` (65534), who has no
/// subordinate ids: these checks happen before any session is made.
fn nobody_rde(home: &Path, runtime_dir: Option<&Path>) -> std::process::Output {
    let mut c = Command::new("setpriv");
    c.args(["--reuid", "65534", "--regid", "65534", "--clear-groups", "--", "env", "-i"]);
    c.arg(format!("HOME={}", home.display())).arg("PATH=/usr/bin:/bin");
    if let Some(dir) = runtime_dir {
        c.arg(format!("XDG_RUNTIME_DIR={}", dir.display()));
    }
    c.arg(env!("CARGO_BIN_EXE_rde")).args(["container", "ls"]);
    c.output().unwrap()
}

#[test]
fn a_rootless_runtime_dir_must_be_the_users_own() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    std::os::unix::fs::chown(&home, Some(65534), Some(65534)).unwrap();
    // Writable by others: refused, named, with a hint.
    let shared = dir.path().join("shared-run");
    std::fs::create_dir(&shared).unwrap();
    std::os::unix::fs::chown(&shared, Some(65534), Some(65534)).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = nobody_rde(&home, Some(&shared));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{err}");
    assert!(err.contains(&shared.display().to_string()) && err.contains("can be written by other users") && err.contains("hint:"), "{err}");
    // Someone else's: refused.
    let foreign = dir.path().join("foreign-run");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::set_permissions(&foreign, std::fs::Permissions::from_mode(0o700)).unwrap();
    let out = nobody_rde(&home, Some(&foreign));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a directory owned by uid 65534"), "{}", String::from_utf8_lossy(&out.stderr));
    // Without XDG_RUNTIME_DIR: the /tmp fallback, and one planted there by another user is refused.
    let fallback = Path::new("/tmp/rde-run-65534");
    let _ = std::fs::remove_dir_all(fallback);
    std::fs::create_dir(fallback).unwrap();
    let out = nobody_rde(&home, None);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("/tmp/rde-run-65534 is not a directory owned by uid 65534"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_dir(fallback).unwrap();
    // Made by rde itself: 0700 (the command then fails later: nobody has no subordinate ids).
    let _ = nobody_rde(&home, None);
    let made = std::fs::symlink_metadata(fallback);
    let _ = std::fs::remove_dir_all(fallback);
    let made = made.expect("rde made its fallback runtime dir");
    assert_eq!((made.uid(), made.mode() & 0o7777), (65534, 0o700));
}
