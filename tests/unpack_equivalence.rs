//! rde's unpacked layers, stacked by overlayfs, must show exactly the root
//! filesystem that `umoci unpack` (an independent implementation) makes of the
//! same image: file list, types, modes, owners, symlink targets, contents, device
//! numbers and user xattrs. Needs root (overlay mounts with trusted xattrs).

mod common;
use common::*;
use std::collections::BTreeMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// An overlay mount that is unmounted when dropped, also when the test fails.
struct Overlay {
    target: PathBuf,
}

impl Overlay {
    fn mount(lower_dirs: &str, empty: &Path, target: &Path) -> Overlay {
        std::fs::create_dir_all(target).unwrap();
        // A read-only overlay needs two lower dirs; an empty one at the bottom is neutral.
        let opts = format!("lowerdir={lower_dirs}:{}", empty.display());
        let status = Command::new("mount").args(["-t", "overlay", "overlay", "-o", &opts]).arg(target).status().unwrap();
        assert!(status.success(), "mount overlay {opts}");
        Overlay { target: target.to_path_buf() }
    }
}

impl Drop for Overlay {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.target).status();
    }
}

#[derive(Debug, PartialEq)]
struct Entry {
    kind: &'static str,
    mode: u32,
    uid: u32,
    gid: u32,
    detail: String,
}

fn describe(path: &Path) -> Entry {
    let meta = std::fs::symlink_metadata(path).unwrap();
    let ft = meta.file_type();
    let (kind, detail) = if ft.is_symlink() {
        ("symlink", std::fs::read_link(path).unwrap().display().to_string())
    } else if ft.is_dir() {
        ("dir", String::new())
    } else if ft.is_file() {
        ("file", sha256_file(path))
    } else if ft.is_char_device() {
        ("char", format!("{}", meta.rdev()))
    } else if ft.is_block_device() {
        ("block", format!("{}", meta.rdev()))
    } else if ft.is_fifo() {
        ("fifo", String::new())
    } else {
        ("socket", String::new())
    };
    let xattrs = user_xattrs(path);
    Entry { kind, mode: meta.mode() & 0o7777, uid: meta.uid(), gid: meta.gid(), detail: format!("{detail}{xattrs}") }
}

fn sha256_file(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap_or("").to_string()
}

fn user_xattrs(path: &Path) -> String {
    let mut names = vec![0u8; 4096];
    let Ok(n) = rustix::fs::llistxattr(path, &mut names) else { return String::new() };
    let mut out = Vec::new();
    for name in names[..n].split(|b| *b == 0).filter(|n| n.starts_with(b"user.")) {
        let name = String::from_utf8_lossy(name).into_owned();
        let mut value = vec![0u8; 4096];
        let len = rustix::fs::lgetxattr(path, name.as_str(), &mut value).unwrap_or(0);
        out.push(format!(" {name}={}", String::from_utf8_lossy(&value[..len])));
    }
    out.sort();
    out.concat()
}

fn walk(root: &Path) -> BTreeMap<String, Entry> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            let e = describe(&path);
            if e.kind == "dir" {
                stack.push(path.clone());
            }
            out.insert(rel, e);
        }
    }
    out.insert("/".into(), describe(root));
    out
}

fn compare_with_umoci(image: &str) {
    let reg = shared_registry();
    let work = tempfile::Builder::new().prefix("rde-umoci-").tempdir().unwrap();
    let layout = work.path().join("layout");
    let status = Command::new("skopeo")
        .args(["copy", "-q", "--src-tls-verify=false", &format!("docker://{reg}/{image}")])
        .arg(format!("oci:{}:img", layout.display()))
        .status()
        .unwrap();
    assert!(status.success(), "skopeo copy {image}");
    let bundle = work.path().join("bundle");
    let status = Command::new("umoci").args(["unpack", "--image"]).arg(format!("{}:img", layout.display())).arg(&bundle).status().unwrap();
    assert!(status.success(), "umoci unpack {image}");

    let env = Env::new();
    env.ok(&["image", "pull", "-q", &format!("{reg}/{image}")]);
    let inspect: serde_json::Value = serde_json::from_str(&env.ok(&["image", "inspect", &format!("{reg}/{image}")]).stdout).unwrap();
    let lower = inspect[0]["GraphDriver"]["Data"]["LowerDir"].as_str().unwrap().to_string();
    let empty = work.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let merged = work.path().join("merged");
    let _mount = Overlay::mount(&lower, &empty, &merged);

    let ours = walk(&merged);
    let theirs = walk(&bundle.join("rootfs"));
    let mut differences = Vec::new();
    for (path, e) in &theirs {
        match ours.get(path) {
            None => differences.push(format!("missing in rde: {path} {e:?}")),
            Some(o) if o != e => differences.push(format!("differs: {path}\n   rde:   {o:?}\n   umoci: {e:?}")),
            _ => {}
        }
    }
    for path in ours.keys().filter(|p| !theirs.contains_key(*p)) {
        differences.push(format!("extra in rde: {path} {:?}", ours[path]));
    }
    assert!(theirs.len() > 5, "umoci unpacked almost nothing for {image}");
    assert!(differences.is_empty(), "{image}: {} differences:\n{}", differences.len(), differences.iter().take(40).cloned().collect::<Vec<_>>().join("\n"));
}

fn require_root() {
    assert!(is_root(), "the unpack equivalence suite needs root (overlay mounts); run it through scripts/test as root");
}

#[test]
fn layers_image_matches_umoci() {
    require_root();
    compare_with_umoci("test/layers:latest");
}

#[test]
fn busybox_matches_umoci() {
    require_root();
    compare_with_umoci("library/busybox:latest");
}

#[test]
fn python_matches_umoci() {
    require_root();
    compare_with_umoci("library/python:3.11");
}

#[test]
fn postgres_matches_umoci() {
    require_root();
    compare_with_umoci("library/postgres:15");
}
