//! The layer writer against hand-made tars, including hostile ones.

use super::*;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

/// Builds tar streams entry by entry, writing names raw so that hostile paths
/// (`../x`, `/abs`) reach the writer exactly as an attacker would send them.
struct TarBuilder {
    out: Vec<u8>,
}

impl TarBuilder {
    fn new() -> Self {
        TarBuilder { out: Vec::new() }
    }

    fn entry(&mut self, name: &str, kind: tar::EntryType, mode: u32, data: &[u8], link: Option<&str>) -> &mut Self {
        let mut h = tar::Header::new_gnu();
        {
            let raw = h.as_old_mut();
            raw.name[..name.len()].copy_from_slice(name.as_bytes());
            if let Some(l) = link {
                raw.linkname[..l.len()].copy_from_slice(l.as_bytes());
            }
        }
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        h.set_size(data.len() as u64);
        h.set_cksum();
        self.out.extend_from_slice(h.as_bytes());
        self.out.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.out.extend(std::iter::repeat_n(0u8, pad));
        self
    }

    fn file(&mut self, name: &str, data: &[u8]) -> &mut Self {
        self.entry(name, tar::EntryType::Regular, 0o644, data, None)
    }

    fn dir(&mut self, name: &str, mode: u32) -> &mut Self {
        self.entry(name, tar::EntryType::Directory, mode, b"", None)
    }

    fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.entry(name, tar::EntryType::Symlink, 0o777, b"", Some(target))
    }

    fn hardlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.entry(name, tar::EntryType::Link, 0o644, b"", Some(target))
    }

    fn finish(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.out);
        out.extend(std::iter::repeat_n(0u8, 1024));
        out
    }
}

fn opts() -> UnpackOptions {
    UnpackOptions { preserve_owners: rustix::process::geteuid().is_root(), overlay_xattrs: OverlayXattrs::User }
}

/// A layer dir inside a sandbox dir, so escapes land in the sandbox where we can see them.
fn sandbox() -> (tempfile::TempDir, PathBuf) {
    let sandbox = tempfile::tempdir().unwrap();
    let layer = sandbox.path().join("layer");
    std::fs::create_dir(&layer).unwrap();
    (sandbox, layer)
}

fn sandbox_entries(sandbox: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(sandbox).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[test]
fn writes_files_dirs_links_and_modes() {
    let (_s, layer) = sandbox();
    let tar = TarBuilder::new()
        .dir("./", 0o755)
        .dir("./etc/", 0o755)
        .file("./etc/hosts", b"127.0.0.1 localhost\n")
        .entry("./usr/bin/su", tar::EntryType::Regular, 0o4755, b"#!", None)
        .dir("./tmp/", 0o1777)
        .symlink("./bin", "usr/bin")
        .symlink("./etc/abs", "/etc/hosts")
        .hardlink("./etc/hosts.bak", "./etc/hosts")
        .entry("./run/fifo", tar::EntryType::Fifo, 0o600, b"", None)
        .file("/abs/file", b"leading slash is stripped")
        .finish();
    let stats = unpack_layer(&tar[..], &layer, &opts()).unwrap();
    assert_eq!(stats.file_bytes, 20 + 2 + 25);
    assert_eq!(std::fs::read(layer.join("etc/hosts")).unwrap(), b"127.0.0.1 localhost\n");
    assert_eq!(std::fs::metadata(layer.join("usr/bin/su")).unwrap().permissions().mode() & 0o7777, 0o4755);
    assert_eq!(std::fs::metadata(layer.join("tmp")).unwrap().permissions().mode() & 0o7777, 0o1777);
    assert_eq!(std::fs::read_link(layer.join("bin")).unwrap(), Path::new("usr/bin"));
    assert_eq!(std::fs::read_link(layer.join("etc/abs")).unwrap(), Path::new("/etc/hosts"));
    let a = std::fs::metadata(layer.join("etc/hosts")).unwrap();
    let b = std::fs::metadata(layer.join("etc/hosts.bak")).unwrap();
    assert_eq!((a.ino(), a.nlink()), (b.ino(), 2));
    assert!(std::fs::symlink_metadata(layer.join("run/fifo")).unwrap().file_type().is_fifo());
    assert_eq!(std::fs::read(layer.join("abs/file")).unwrap(), b"leading slash is stripped");
    assert_eq!(std::fs::metadata(layer.join("etc/hosts")).unwrap().mtime(), 1_700_000_000);
}

#[test]
fn read_only_directories_still_receive_their_children() {
    let (_s, layer) = sandbox();
    let tar = TarBuilder::new().dir("ro/", 0o555).file("ro/inner", b"x").dir("ro/sub/", 0o500).file("ro/sub/deep", b"y").finish();
    unpack_layer(&tar[..], &layer, &opts()).unwrap();
    assert_eq!(std::fs::metadata(layer.join("ro")).unwrap().permissions().mode() & 0o777, 0o555);
    assert_eq!(std::fs::metadata(layer.join("ro/sub")).unwrap().permissions().mode() & 0o777, 0o500);
    assert_eq!(std::fs::read(layer.join("ro/sub/deep")).unwrap(), b"y");
    crate::fsutil::remove_tree(&layer).unwrap();
}

#[test]
fn whiteouts_and_opaque_dirs_become_overlay_markers() {
    let (_s, layer) = sandbox();
    let tar = TarBuilder::new()
        .dir("etc/", 0o755)
        .file("etc/.wh.passwd", b"")
        .dir("var/cache/", 0o755)
        .file("var/cache/.wh..wh..opq", b"")
        .file("var/cache/new", b"n")
        .file("usr/.wh..wh.plnk", b"")
        .finish();
    unpack_layer(&tar[..], &layer, &opts()).unwrap();
    let wh = std::fs::symlink_metadata(layer.join("etc/passwd")).unwrap();
    assert!(wh.file_type().is_char_device());
    assert_eq!(wh.rdev(), 0);
    assert!(!layer.join("etc/.wh.passwd").exists());
    let opaque = xattr_get(&layer.join("var/cache"), "user.overlay.opaque");
    assert_eq!(opaque.as_deref(), Some(&b"y"[..]));
    assert!(!layer.join("var/cache/.wh..wh..opq").exists());
    assert!(!layer.join("usr/.wh..wh.plnk").exists());
}

#[test]
fn later_entries_replace_earlier_ones() {
    let (_s, layer) = sandbox();
    let tar = TarBuilder::new()
        .file("a", b"file first")
        .dir("a/", 0o700)
        .file("a/child", b"c")
        .dir("b/", 0o755)
        .file("b/x", b"x")
        .file("b", b"now a file")
        .file("c", b"old")
        .file("c", b"new")
        .dir("a/", 0o750)
        .finish();
    unpack_layer(&tar[..], &layer, &opts()).unwrap();
    assert!(layer.join("a").is_dir());
    assert_eq!(std::fs::read(layer.join("a/child")).unwrap(), b"c");
    assert_eq!(std::fs::metadata(layer.join("a")).unwrap().permissions().mode() & 0o777, 0o750);
    assert_eq!(std::fs::read(layer.join("b")).unwrap(), b"now a file");
    assert_eq!(std::fs::read(layer.join("c")).unwrap(), b"new");
}

#[test]
fn dot_dot_above_the_root_is_refused() {
    let (s, layer) = sandbox();
    for name in ["../escaped", "a/../../escaped", "./../../escaped"] {
        let tar = TarBuilder::new().file(name, b"pwned").finish();
        let err = unpack_layer(&tar[..], &layer, &opts()).unwrap_err();
        assert!(matches!(err, UnpackError::Escape(_)), "{name}: {err}");
    }
    assert_eq!(sandbox_entries(s.path()), ["layer"]);
    // Inside the root, `..` is fine.
    let tar = TarBuilder::new().file("a/b/../c", b"ok").finish();
    unpack_layer(&tar[..], &layer, &opts()).unwrap();
    assert!(layer.join("a/c").is_file());
}

#[test]
fn symlinks_cannot_carry_writes_outside() {
    let (s, layer) = sandbox();
    let outside = s.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let abs_outside = outside.display().to_string();
    let hostile: [(&str, &str, &str); 4] = [
        ("up", "../outside", "up/via-relative"),
        ("root", "/", "root/etc/via-absolute"),
        ("deep", "../../../../../../..", "deep/via-deep"),
        ("sandbox", &abs_outside, "sandbox/via-abs-outside"),
    ];
    for (link, target, file) in hostile {
        let tar = TarBuilder::new().symlink(link, target).file(file, b"written").finish();
        // Refusing is fine; writing is fine only inside the layer.
        let _ = unpack_layer(&tar[..], &layer, &opts());
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0, "{file}: a write escaped into {}", outside.display());
        assert_eq!(sandbox_entries(s.path()), ["layer", "outside"], "{file}");
    }
    // Symlinks resolve as if the layer were `/`.
    assert_eq!(std::fs::read(layer.join("etc/via-absolute")).unwrap(), b"written");
    assert_eq!(std::fs::read(layer.join("via-deep")).unwrap(), b"written");
}

#[test]
fn hardlinks_must_stay_inside() {
    let (s, layer) = sandbox();
    std::fs::write(s.path().join("secret"), b"host file").unwrap();
    let tar = TarBuilder::new().hardlink("stolen", "../secret").finish();
    let err = unpack_layer(&tar[..], &layer, &opts()).unwrap_err();
    assert!(matches!(err, UnpackError::LinkTarget { .. }), "{err}");
    let tar = TarBuilder::new().symlink("s", "/").hardlink("stolen", "s/../secret").finish();
    let _ = unpack_layer(&tar[..], &layer, &opts());
    assert!(!layer.join("stolen").exists() || std::fs::read(layer.join("stolen")).unwrap() != b"host file");
    let tar = TarBuilder::new().hardlink("dangling", "nowhere").finish();
    assert!(matches!(unpack_layer(&tar[..], &layer, &opts()), Err(UnpackError::LinkTarget { .. })));
}

#[test]
fn whiteouts_cannot_delete_outside() {
    let (s, layer) = sandbox();
    std::fs::write(s.path().join("victim"), b"keep me").unwrap();
    let tar = TarBuilder::new().file("../.wh.victim", b"").finish();
    assert!(unpack_layer(&tar[..], &layer, &opts()).is_err());
    let tar = TarBuilder::new().symlink("up", "..").file("up/.wh.victim", b"").finish();
    let _ = unpack_layer(&tar[..], &layer, &opts());
    assert_eq!(std::fs::read(s.path().join("victim")).unwrap(), b"keep me");
}

#[test]
fn pax_xattrs_owners_and_long_names() {
    let (_s, layer) = sandbox();
    let mut builder = tar::Builder::new(Vec::new());
    let long = format!("{}/{}", "d".repeat(120), "f".repeat(120));
    let mut h = tar::Header::new_gnu();
    h.set_size(4);
    h.set_mode(0o640);
    h.set_uid(1000);
    h.set_gid(42);
    builder.append_data(&mut h, &long, &b"long"[..]).unwrap();
    builder.append_pax_extensions([("SCHILY.xattr.user.test", &b"hello"[..])]).unwrap();
    let mut h = tar::Header::new_ustar();
    h.set_size(1);
    h.set_mode(0o644);
    builder.append_data(&mut h, "xattr-file", &b"x"[..]).unwrap();
    let mut h = tar::Header::new_ustar();
    h.set_size(1);
    h.set_mode(0o644);
    builder.append_data(&mut h, "ünïcode-名前", &b"u"[..]).unwrap();
    let tar = builder.into_inner().unwrap();
    unpack_layer(&tar[..], &layer, &opts()).unwrap();
    let meta = std::fs::metadata(layer.join(&long)).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o640);
    if rustix::process::geteuid().is_root() {
        assert_eq!((meta.uid(), meta.gid()), (1000, 42));
    }
    assert_eq!(xattr_get(&layer.join("xattr-file"), "user.test").as_deref(), Some(&b"hello"[..]));
    assert_eq!(std::fs::read(layer.join("ünïcode-名前")).unwrap(), b"u");
}

#[test]
fn truncated_tar_is_an_error() {
    let (_s, layer) = sandbox();
    let tar = TarBuilder::new().file("big", &[7u8; 4096]).finish();
    let err = unpack_layer(&tar[..1024], &layer, &opts()).unwrap_err();
    assert!(matches!(err, UnpackError::Tar(_)), "{err}");
}

fn xattr_get(path: &Path, name: &str) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 256];
    let n = rustix::fs::lgetxattr(path, name, &mut buf).ok()?;
    buf.truncate(n);
    Some(buf)
}

/// Unpacking speed on a real layer: `RDE_BENCH_LAYER=/path/to/layer.tar cargo test --lib
/// image::unpack::tests::bench_unpack_layer -- --ignored --nocapture` (an uncompressed tar;
/// each round unpacks it into a fresh directory, the best round is reported).
#[test]
#[ignore]
fn bench_unpack_layer() {
    let Some(path) = std::env::var_os("RDE_BENCH_LAYER") else { return };
    let tar = std::fs::read(&path).unwrap();
    let rounds: usize = std::env::var("RDE_BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(3);
    let mut best = f64::MAX;
    for _ in 0..rounds {
        let (_s, layer) = sandbox();
        let start = std::time::Instant::now();
        let stats = unpack_layer(&tar[..], &layer, &opts()).unwrap();
        let secs = start.elapsed().as_secs_f64();
        best = best.min(secs);
        eprintln!("{} entries, {} file bytes in {secs:.2}s ({:.0} MB/s)", stats.entries, stats.file_bytes, tar.len() as f64 / secs / 1e6);
        crate::fsutil::remove_tree(&layer).unwrap();
    }
    eprintln!("best of {rounds}: {best:.2}s, {:.0} MB/s of tar", tar.len() as f64 / best / 1e6);
}
