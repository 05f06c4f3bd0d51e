//! An image's symlinks never make rde read, create, write or copy a host path:
//! every host-side file operation on container content resolves inside the rootfs.

use super::common::*;
use super::crafted::{crafted_image, require_root};
use std::path::{Path, PathBuf};

/// A directory on the host that images point their symlinks at (absolute
/// paths, as an attacker would): whatever appears in it came from rde.
struct Victim {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Victim {
    fn new(tag: &str) -> Victim {
        let dir = tempfile::Builder::new().prefix(&format!("rde-victim-{tag}-")).tempdir().unwrap();
        let path = dir.path().to_path_buf();
        std::fs::write(path.join("secret"), "host secret\n").unwrap();
        std::fs::write(path.join("passwd"), "evil:x:4242:4242::/:/bin/sh\n").unwrap();
        Victim { _dir: dir, path }
    }

    fn untouched(&self) {
        assert_eq!(list(&self.path), ["passwd", "secret"], "rde created something in the host directory {}", self.path.display());
    }
}

fn contents(dir: &Path) -> Vec<String> {
    list(dir)
}

#[test]
fn workdir_mount_targets_and_volume_copy_up_stay_in_the_rootfs() {
    require_root();
    // A fixed host path, baked into the image as an attacker would.
    let victim = Victim::new("paths");
    let host = victim.path.display().to_string();
    let image = crafted_image(
        "hostile-paths",
        &format!("link('app', '{host}')\nlink('data', '{host}')\nlink('relative', '../../../../../../../../{host}')\n"),
        &["--workdir", "/app/x", "--cmd", r#"["sh","-c","pwd"]"#],
    );
    let env = Env::new();
    // WorkingDir through the symlink: made inside the rootfs, not on the host.
    // (The shell prints the physical path: the link's target, inside the rootfs.)
    let out = env.ok(&["container", "run", "--rm", &image]);
    assert_eq!(out.stdout.trim(), format!("{host}/x"));
    victim.untouched();
    // Bind mount targets and -w through absolute and relative symlinks.
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("f"), "bound\n").unwrap();
    let bind = format!("{}:/relative/mnt", src.path().display());
    let out = env.ok(&["container", "run", "--rm", "-v", &bind, "-w", "/app/deep/er", &image, "sh", "-c", "cat /relative/mnt/f; pwd"]);
    assert_eq!(out.stdout, format!("bound\n{host}/deep/er\n"));
    victim.untouched();
    // A named volume over an absolute symlink: the host directory is not copied in.
    let out = env.ok(&["container", "run", "--rm", "-v", "seeded:/data", &image, "sh", "-c", "ls -A /data; cat /data/secret 2>&1; true"]);
    assert!(!out.stdout.contains("host secret"), "{}", out.stdout);
    // (What the container itself made there, the working directory `x`, is fair game.)
    let seeded = contents(&env.root().join("volumes-v1/seeded/_data"));
    assert!(!seeded.contains(&"secret".to_string()) && !seeded.contains(&"passwd".to_string()), "{seeded:?}");
    victim.untouched();
    assert!(mounts_under(env.dir.path()).is_empty());
}

#[test]
fn etc_files_and_accounts_resolve_inside_the_image() {
    require_root();
    let victim = Victim::new("etc");
    let host = victim.path.display().to_string();
    // /etc/passwd points at a host file; /etc/group is a FIFO (a read would block
    // forever); /etc/hostname points into the host directory.
    let image = crafted_image(
        "hostile-accounts",
        &format!(
            "link('etc/passwd', '{host}/passwd')\nfifo('etc/group')\nlink('etc/hostname', '{host}/hostname')\nlink('etc/resolv.conf', '{host}/resolv.conf')\n"
        ),
        &["--cmd", r#"["sh"]"#],
    );
    let env = Env::new();
    let out = env.fails(&["container", "run", "--rm", "-u", "evil", &image, "id"]);
    assert!(out.stderr.contains("unable to find user evil"), "the host's file was read: {}", out.stderr);
    // Numeric users need no lookup; the FIFO is not opened; etc files are bound inside.
    let out = env.ok(&["container", "run", "--rm", "--hostname", "box", "-u", "1000:1000", &image, "sh", "-c", "id -u; cat /etc/hostname"]);
    assert_eq!(out.stdout, "1000\nbox\n");
    victim.untouched();
    // `exec -u` reads the running container's files the same way, after the
    // container itself replaced them.
    env.ok(&["container", "run", "-d", "--name", "acc", &image, "sleep", "1000"]);
    env.ok(&["container", "exec", "acc", "sh", "-c", &format!("rm -f /etc/passwd && ln -s {host}/passwd /etc/passwd")]);
    let out = env.fails(&["container", "exec", "-u", "evil", "acc", "id"]);
    assert!(out.stderr.contains("unable to find user evil"), "{}", out.stderr);
    env.ok(&["container", "rm", "-f", "acc"]);
    victim.untouched();
}

#[test]
fn account_files_are_read_with_a_bound() {
    require_root();
    let image = crafted_image("huge-passwd", "file('etc/passwd', b'#' * (17 << 20))\n", &["--cmd", r#"["true"]"#]);
    let env = Env::new();
    let out = env.fails(&["container", "run", "--rm", "-u", "app", &image]);
    assert!(out.stderr.contains("etc/passwd is larger than"), "{}", out.stderr);
}
