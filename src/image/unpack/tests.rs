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

    /// A header as given (checksum set here) followed by `data`, padded.
    fn raw(&mut self, mut h: tar::Header, data: &[u8]) -> &mut Self {
        h.set_cksum();
        self.out.extend_from_slice(h.as_bytes());
        self.out.extend_from_slice(data);
        self.out.extend(std::iter::repeat_n(0u8, (512 - data.len() % 512) % 512));
        self
    }

    /// A PAX header (type `x`) with these records, for the next entry.
    fn pax(&mut self, records: &[(&str, &[u8])]) -> &mut Self {
        let mut body = Vec::new();
        for (key, value) in records {
            let rest = key.len() + value.len() + 3; // " " + "=" + "\n"
            let mut len = rest + 1;
            while len != rest + len.to_string().len() {
                len = rest + len.to_string().len();
            }
            body.extend_from_slice(format!("{len} {key}=").as_bytes());
            body.extend_from_slice(value);
            body.push(b'\n');
        }
        let mut h = tar::Header::new_ustar();
        h.set_path("PaxHeaders/x").unwrap();
        h.set_entry_type(tar::EntryType::XHeader);
        h.set_mode(0o644);
        h.set_size(body.len() as u64);
        self.raw(h, &body)
    }

    fn finish(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.out);
        out.extend(std::iter::repeat_n(0u8, 1024));
        out
    }
}

fn opts() -> UnpackOptions {
    UnpackOptions { preserve_owners: rustix::process::geteuid().is_root(), overlay_xattrs: OverlayXattrs::User, tar_split: None }
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

// ---- Expansion bounds: sparse files, zeros, declared sizes ----

const GIB: u64 = 1 << 30;

/// Disk actually used by a file, in bytes (st_blocks are 512 bytes).
fn disk_usage(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().blocks() * 512
}

fn regular_header(name: &str, size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_path(name).unwrap();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(0o644);
    h.set_mtime(1_700_000_000);
    h.set_size(size);
    h
}

/// An old GNU sparse entry (`S`): 4 runs in the header, 21 per extension block.
fn old_gnu_sparse(b: &mut TarBuilder, name: &str, real_size: u64, runs: &[(u64, &[u8])]) {
    let mut h = tar::Header::new_gnu();
    h.set_path(name).unwrap();
    h.set_entry_type(tar::EntryType::GNUSparse);
    h.set_mode(0o644);
    h.set_mtime(1_700_000_000);
    let data: Vec<u8> = runs.iter().flat_map(|(_, d)| d.iter().copied()).collect();
    h.set_size(data.len() as u64);
    let mut blocks: Vec<Vec<(u64, u64)>> = Vec::new();
    let mut rest: Vec<(u64, u64)> = runs.iter().map(|(o, d)| (*o, d.len() as u64)).collect();
    let first: Vec<(u64, u64)> = rest.drain(..rest.len().min(4)).collect();
    while !rest.is_empty() {
        blocks.push(rest.drain(..rest.len().min(21)).collect());
    }
    {
        let gnu = h.as_gnu_mut().unwrap();
        for (slot, (offset, length)) in gnu.sparse.iter_mut().zip(&first) {
            slot.set_offset(*offset);
            slot.set_length(*length);
        }
        gnu.set_real_size(real_size);
        gnu.set_is_extended(!blocks.is_empty());
    }
    h.set_cksum();
    b.out.extend_from_slice(h.as_bytes());
    for (i, block) in blocks.iter().enumerate() {
        let mut ext = tar::GnuExtSparseHeader::new();
        for (slot, (offset, length)) in ext.sparse.iter_mut().zip(block) {
            slot.set_offset(*offset);
            slot.set_length(*length);
        }
        ext.set_is_extended(i + 1 < blocks.len());
        b.out.extend_from_slice(ext.as_bytes());
    }
    b.out.extend_from_slice(&data);
    b.out.extend(std::iter::repeat_n(0u8, (512 - data.len() % 512) % 512));
}

/// The file a sparse map describes, in memory (for small real sizes).
fn expand(real_size: u64, runs: &[(u64, &[u8])]) -> Vec<u8> {
    let mut file = vec![0u8; real_size as usize];
    for (offset, data) in runs {
        file[*offset as usize..*offset as usize + data.len()].copy_from_slice(data);
    }
    file
}

#[test]
fn old_gnu_sparse_100_gib_uses_almost_no_disk() {
    let (_s, layer) = sandbox();
    let real = 100 * GIB;
    let mut b = TarBuilder::new();
    old_gnu_sparse(&mut b, "big", real, &[(0, b"head"), (real / 2, &[7u8; 600]), (real - 4, b"tail")]);
    let tar = b.file("after", b"still read").finish();
    let start = std::time::Instant::now();
    let stats = unpack_layer(&tar[..], &layer, &opts()).unwrap();
    assert!(start.elapsed().as_secs() < 5, "holes are skipped, not read: {:?}", start.elapsed());
    let path = layer.join("big");
    assert_eq!(std::fs::metadata(&path).unwrap().len(), real);
    assert!(disk_usage(&path) <= 1 << 20, "100 GiB sparse file uses {} bytes of disk", disk_usage(&path));
    use std::os::unix::fs::FileExt;
    let file = File::open(&path).unwrap();
    let mut buf = [0u8; 4];
    file.read_exact_at(&mut buf, 0).unwrap();
    assert_eq!(&buf, b"head");
    file.read_exact_at(&mut buf, real - 4).unwrap();
    assert_eq!(&buf, b"tail");
    file.read_exact_at(&mut buf, real / 2 - 4).unwrap();
    assert_eq!(buf, [0; 4]);
    file.read_exact_at(&mut buf, real / 2 + 596).unwrap();
    assert_eq!(buf, [7; 4]);
    assert_eq!(std::fs::read(layer.join("after")).unwrap(), b"still read");
    assert_eq!(stats.file_bytes, real + 10);
}

#[test]
fn old_gnu_sparse_with_extension_blocks_matches_its_map() {
    let (_s, layer) = sandbox();
    let chunks: Vec<Vec<u8>> = (0..30u8).map(|i| vec![i + 1; 100 + i as usize * 7]).collect();
    let runs: Vec<(u64, &[u8])> = chunks.iter().enumerate().map(|(i, d)| (i as u64 * 70_000 + 13, &d[..])).collect();
    let real = 30 * 70_000 + 5;
    let mut b = TarBuilder::new();
    old_gnu_sparse(&mut b, "dir/sparse", real, &runs);
    let tar = b.file("dir/next", b"n").finish();
    unpack_layer(&tar[..], &layer, &opts()).unwrap();
    assert_eq!(std::fs::read(layer.join("dir/sparse")).unwrap(), expand(real, &runs));
    assert_eq!(std::fs::read(layer.join("dir/next")).unwrap(), b"n");
}

/// PAX format 1.0: the map is the start of the data, the name in GNU.sparse.name.
fn pax_sparse_1_0(b: &mut TarBuilder, name: &str, real_size: u64, runs: &[(u64, &[u8])]) {
    let mut map = format!("{}\n", runs.len());
    for (offset, data) in runs {
        map += &format!("{offset}\n{}\n", data.len());
    }
    let mut body = map.into_bytes();
    body.resize(body.len().div_ceil(512) * 512, 0);
    for (_, data) in runs {
        body.extend_from_slice(data);
    }
    let real = real_size.to_string();
    b.pax(&[("GNU.sparse.major", b"1"), ("GNU.sparse.minor", b"0"), ("GNU.sparse.name", name.as_bytes()), ("GNU.sparse.realsize", real.as_bytes())]);
    b.raw(regular_header("GNUSparseFile.0/x", body.len() as u64), &body);
}

#[test]
fn pax_sparse_formats_are_written_sparse() {
    let real = 100 * GIB;
    let runs: [(u64, &[u8]); 2] = [(4096, b"first run"), (real - 3, b"end")];
    let real_s = real.to_string();
    let map_01 = format!("4096,9,{},3", real - 3);
    let (o1, o2) = (4096.to_string(), (real - 3).to_string());
    let data: Vec<u8> = [&b"first run"[..], b"end"].concat();
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    let mut b = TarBuilder::new();
    pax_sparse_1_0(&mut b, "opt/v1.0", real, &runs);
    cases.push(("1.0", b.finish()));
    let mut b = TarBuilder::new();
    b.pax(&[
        ("GNU.sparse.major", b"0"),
        ("GNU.sparse.minor", b"1"),
        ("GNU.sparse.name", b"opt/v0.1"),
        ("GNU.sparse.size", real_s.as_bytes()),
        ("GNU.sparse.numblocks", b"2"),
        ("GNU.sparse.map", map_01.as_bytes()),
    ])
    .raw(regular_header("GNUSparseFile.0/y", data.len() as u64), &data);
    cases.push(("0.1", b.finish()));
    let mut b = TarBuilder::new();
    b.pax(&[
        ("GNU.sparse.size", real_s.as_bytes()),
        ("GNU.sparse.numblocks", b"2"),
        ("GNU.sparse.offset", o1.as_bytes()),
        ("GNU.sparse.numbytes", b"9"),
        ("GNU.sparse.offset", o2.as_bytes()),
        ("GNU.sparse.numbytes", b"3"),
    ])
    .raw(regular_header("opt/v0.0", data.len() as u64), &data);
    cases.push(("0.0", b.finish()));
    for (version, tar) in cases {
        let (_s, layer) = sandbox();
        unpack_layer(&tar[..], &layer, &opts()).unwrap_or_else(|e| panic!("{version}: {e}"));
        let path = layer.join(format!("opt/v{version}"));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), real, "{version}");
        assert!(disk_usage(&path) <= 1 << 20, "{version}: uses {} bytes", disk_usage(&path));
        use std::os::unix::fs::FileExt;
        let file = File::open(&path).unwrap();
        let mut buf = [0u8; 9];
        file.read_exact_at(&mut buf, 4096).unwrap();
        assert_eq!(&buf, b"first run", "{version}");
        file.read_exact_at(&mut buf[..3], real - 3).unwrap();
        assert_eq!(&buf[..3], b"end", "{version}");
        assert_eq!(sandbox_entries(&layer), ["opt"], "{version}: no GNUSparseFile.0 directory");
    }
}

#[test]
fn hostile_sparse_maps_are_refused_before_writing() {
    let real = 1 << 20;
    // (what, the map's (offset, length) runs, bytes of data stored)
    type Case = (&'static str, Vec<(u64, u64)>, u64);
    let hostile: Vec<Case> = vec![
        ("overlapping runs", vec![(0, 512), (256, 512)], 1024),
        ("runs out of order", vec![(4096, 512), (0, 512)], 1024),
        ("a run past the real size", vec![(real - 100, 512)], 512),
        ("more data than the map", vec![(0, 512)], 1024),
        ("less data than the map", vec![(0, 1024)], 512),
        ("an offset that overflows", vec![(u64::MAX - 10, 512)], 512),
    ];
    for (what, map, stored) in hostile {
        let (_s, layer) = sandbox();
        let text: String = map.iter().map(|(o, l)| format!("{o},{l}")).collect::<Vec<_>>().join(",");
        let n = map.len().to_string();
        let real_s = real.to_string();
        let tar = TarBuilder::new()
            .pax(&[("GNU.sparse.size", real_s.as_bytes()), ("GNU.sparse.numblocks", n.as_bytes()), ("GNU.sparse.map", text.as_bytes())])
            .raw(regular_header("f", stored), &vec![1u8; stored as usize])
            .finish();
        let err = unpack_layer(&tar[..], &layer, &opts()).unwrap_err();
        assert!(matches!(err, UnpackError::Tar(_)), "{what}: {err}");
        assert!(!layer.join("f").exists(), "{what}: nothing is written");
    }
    // 1.0 maps: a run count far beyond the data, and a map that never ends.
    for body in [format!("{}\n", u64::MAX), "1\n0\n".to_string() + &"9".repeat(40)] {
        let (_s, layer) = sandbox();
        let mut data = body.into_bytes();
        data.resize(1024, b'7');
        let tar = TarBuilder::new()
            .pax(&[("GNU.sparse.major", b"1"), ("GNU.sparse.minor", b"0"), ("GNU.sparse.realsize", b"4096")])
            .raw(regular_header("g", 1024), &data)
            .finish();
        let err = unpack_layer(&tar[..], &layer, &opts()).unwrap_err();
        assert!(matches!(err, UnpackError::Tar(_)), "{err}");
    }
    // The old format checks the same rules.
    let (_s, layer) = sandbox();
    let mut b = TarBuilder::new();
    old_gnu_sparse(&mut b, "o", 1000, &[(0, &[1; 600]), (500, &[2; 600])]);
    let err = unpack_layer(&b.finish()[..], &layer, &opts()).unwrap_err();
    assert!(matches!(err, UnpackError::Tar(_)), "{err}");
}

#[test]
fn zero_runs_in_regular_files_become_holes() {
    let (_s, layer) = sandbox();
    let mut content = vec![0u8; 16 << 20];
    content[..5].copy_from_slice(b"start");
    content[(8 << 20) + 17] = 9;
    let last = content.len() - 3;
    content[last..].copy_from_slice(b"end");
    let zeros = vec![0u8; 10 << 20];
    let tar = TarBuilder::new().file("mixed", &content).file("zeros", &zeros).file("small-zeros", &[0u8; 100]).finish();
    let stats = unpack_layer(&tar[..], &layer, &opts()).unwrap();
    assert_eq!(stats.file_bytes, (26 << 20) + 100);
    assert_eq!(std::fs::read(layer.join("mixed")).unwrap(), content);
    assert!(disk_usage(&layer.join("mixed")) <= 512 << 10, "mixed uses {}", disk_usage(&layer.join("mixed")));
    assert_eq!(std::fs::read(layer.join("zeros")).unwrap(), zeros);
    assert_eq!(disk_usage(&layer.join("zeros")), 0);
    assert_eq!(std::fs::read(layer.join("small-zeros")).unwrap(), [0u8; 100]);
}

/// A tar of one file of `size` zero bytes, made as it is read (never in memory).
fn zeros_tar(size: u64) -> impl Read {
    let mut h = regular_header("zeros", size);
    h.set_cksum();
    let header = h.as_bytes().to_vec();
    io::Cursor::new(header).chain(io::repeat(0).take(size + (512 - size % 512) % 512 + 1024))
}

#[test]
fn a_gzip_layer_of_one_gib_of_zeros_uses_almost_no_disk() {
    let (_s, layer) = sandbox();
    let mut gz = Vec::new();
    let mut encoder = flate2::read::GzEncoder::new(zeros_tar(GIB), flate2::Compression::fast());
    encoder.read_to_end(&mut gz).unwrap();
    assert!(gz.len() < 16 << 20, "the compressed layer is small: {}", gz.len());
    let start = std::time::Instant::now();
    unpack_layer(flate2::read::MultiGzDecoder::new(&gz[..]), &layer, &opts()).unwrap();
    eprintln!("1 GiB of zeros unpacked in {:?}", start.elapsed());
    let path = layer.join("zeros");
    assert_eq!(std::fs::metadata(&path).unwrap().len(), GIB);
    assert_eq!(disk_usage(&path), 0, "zeros are holes");
}

#[test]
fn entries_never_take_more_than_their_header_declares() {
    let (_s, layer) = sandbox();
    // Data longer than the header says is not the file's: it is read as the next
    // header, which is garbage, and the layer is refused.
    let mut b = TarBuilder::new();
    b.raw(regular_header("short", 10), &[b'x'; 10]);
    b.out.truncate(b.out.len() - 502);
    b.out.extend_from_slice(&[b'y'; 1024]);
    let err = unpack_layer(&b.finish()[..], &layer, &opts()).unwrap_err();
    assert!(matches!(err, UnpackError::Tar(_)), "{err}");
    assert_eq!(std::fs::read(layer.join("short")).unwrap(), b"xxxxxxxxxx");
    // Header-only entries carry no data whatever their size field says (Go's
    // archive/tar, which docker reads layers with, does the same).
    let (_s, layer) = sandbox();
    let mut dir = tar::Header::new_ustar();
    dir.set_path("d/").unwrap();
    dir.set_entry_type(tar::EntryType::Directory);
    dir.set_mode(0o755);
    dir.set_size(1 << 40);
    let tar = TarBuilder::new().raw(dir, b"").file("d/f", b"data").finish();
    unpack_layer(&tar[..], &layer, &opts()).unwrap();
    assert_eq!(std::fs::read(layer.join("d/f")).unwrap(), b"data");
    // A file whose data the stream does not hold is a tar error, not a disk full of zeros.
    let (_s, layer) = sandbox();
    let mut b = TarBuilder::new();
    b.raw(regular_header("huge", 1 << 40), b"");
    let err = unpack_layer(&b.out[..], &layer, &opts()).unwrap_err();
    assert!(matches!(err, UnpackError::Tar(_)), "{err}");
}

#[test]
fn extension_headers_are_bounded_and_applied() {
    // PAX path/linkpath override the header; a GNU long name overrides PAX path.
    let (_s, layer) = sandbox();
    let long_target = format!("{}/target", "t".repeat(150));
    // Type `\0` (pre-POSIX regular file) named `.../` is a directory.
    let mut old_dir = tar::Header::new_old();
    old_dir.set_path("old-style-dir/").unwrap();
    old_dir.set_mode(0o755);
    old_dir.set_size(0);
    old_dir.as_old_mut().linkflag = [0];
    let tar = TarBuilder::new()
        .pax(&[("path", b"pax/name"), ("mtime", b"1600000000.5")])
        .file("header-name", b"p")
        .pax(&[("linkpath", long_target.as_bytes())])
        .symlink("link", "short")
        .entry("././@LongLink", tar::EntryType::GNULongName, 0o644, b"gnu/long/name\0", None)
        .pax(&[("path", b"loses")])
        .file("header-name-2", b"g")
        .raw(old_dir, b"")
        .finish();
    unpack_layer(&tar[..], &layer, &opts()).unwrap();
    assert_eq!(std::fs::read(layer.join("pax/name")).unwrap(), b"p");
    assert_eq!(std::fs::metadata(layer.join("pax/name")).unwrap().mtime(), 1_600_000_000);
    assert_eq!(std::fs::read_link(layer.join("link")).unwrap(), Path::new(&long_target));
    assert_eq!(std::fs::read(layer.join("gnu/long/name")).unwrap(), b"g");
    assert!(layer.join("old-style-dir").is_dir());
    assert!(!layer.join("header-name").exists() && !layer.join("loses").exists());
    // Extension headers larger than Go's 1 MiB are refused, not held in memory.
    let (_s, layer) = sandbox();
    let huge = vec![b'a'; (1 << 20) + 1];
    let tar = TarBuilder::new().entry("././@LongLink", tar::EntryType::GNULongName, 0o644, &huge, None).file("x", b"").finish();
    assert!(matches!(unpack_layer(&tar[..], &layer, &opts()), Err(UnpackError::Tar(_))));
    let tar = TarBuilder::new().pax(&[("comment", &huge)]).file("x", b"").finish();
    assert!(matches!(unpack_layer(&tar[..], &layer, &opts()), Err(UnpackError::Tar(_))));
    // A corrupt header is refused.
    let mut tar = TarBuilder::new().file("x", b"").finish();
    tar[0] ^= 1;
    assert!(matches!(unpack_layer(&tar[..], &layer, &opts()), Err(UnpackError::Tar(_))));
}

/// GNU tar's own sparse archives, in every format it writes, unpack to the same
/// file with the same holes (skipped when GNU tar is not installed).
#[test]
fn gnu_tar_sparse_archives_round_trip() {
    if std::process::Command::new("tar").arg("--version").output().map(|o| !String::from_utf8_lossy(&o.stdout).contains("GNU tar")).unwrap_or(true) {
        eprintln!("GNU tar not found; skipped");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let file = File::create(src.join("sparse")).unwrap();
    use std::os::unix::fs::FileExt;
    file.set_len(4 * GIB).unwrap();
    for (i, at) in [0, 5 << 20, GIB, 3 * GIB + 12345, 4 * GIB - 4096].into_iter().enumerate() {
        file.write_all_at(&vec![i as u8 + 1; 10_000.min((4 * GIB - at) as usize)], at).unwrap();
    }
    drop(file);
    for format in ["--format=gnu", "--format=posix --sparse-version=0.0", "--format=posix --sparse-version=0.1", "--format=posix --sparse-version=1.0"] {
        let tar_path = work.path().join("layer.tar");
        let status = std::process::Command::new("tar")
            .args(format.split(' '))
            .args(["--sparse", "-cf"])
            .arg(&tar_path)
            .arg("-C")
            .arg(&src)
            .arg("sparse")
            .status()
            .unwrap();
        assert!(status.success(), "{format}");
        let tar = std::fs::read(&tar_path).unwrap();
        assert!(tar.len() < 1 << 20, "{format}: GNU tar wrote it sparse");
        let (_s, layer) = sandbox();
        unpack_layer(&tar[..], &layer, &opts()).unwrap_or_else(|e| panic!("{format}: {e}"));
        let out = layer.join("sparse");
        assert_eq!(std::fs::metadata(&out).unwrap().len(), 4 * GIB, "{format}");
        assert!(disk_usage(&out) <= 1 << 20, "{format}: {} bytes on disk", disk_usage(&out));
        let (a, b) = (File::open(src.join("sparse")).unwrap(), File::open(&out).unwrap());
        for at in [0, (5 << 20) - 1, 5 << 20, GIB + 9_999, GIB + 10_000, 3 * GIB + 12345, 4 * GIB - 1] {
            let (mut x, mut y) = ([0u8; 1], [0u8; 1]);
            a.read_exact_at(&mut x, at).unwrap();
            b.read_exact_at(&mut y, at).unwrap();
            assert_eq!(x, y, "{format}: byte {at}");
        }
        assert_eq!(sandbox_entries(&layer), ["sparse"], "{format}");
    }
}

/// Unpack `tar` with a tar-split record, then write the tar again from the
/// record and the layer: the same bytes, or the test names the first difference.
fn assert_split_round_trip(what: &str, tar: &[u8]) {
    let (sandbox, layer) = sandbox();
    let split = sandbox.path().join(crate::image::tar_split::FILE_NAME);
    unpack_layer(tar, &layer, &UnpackOptions { tar_split: Some(split.clone()), ..opts() }).unwrap_or_else(|e| panic!("{what}: {e}"));
    let mut back = Vec::new();
    let (digest, size) = crate::image::tar_split::reassemble(&split, &layer, &mut back).unwrap_or_else(|e| panic!("{what}: {e}"));
    if back != tar {
        let at = back.iter().zip(tar).position(|(a, b)| a != b).unwrap_or(back.len().min(tar.len()));
        panic!("{what}: the tar written again differs at byte {at} (lengths {} and {})", back.len(), tar.len());
    }
    assert_eq!((digest, size), (crate::image::digest::Digest::of(tar), tar.len() as u64), "{what}");
    // Far smaller than the content it stands for.
    assert!(std::fs::metadata(&split).unwrap().len() < 4096 + tar.len() as u64 / 4, "{what}: record of {} bytes", std::fs::metadata(&split).unwrap().len());
}

#[test]
fn tar_split_gives_back_every_kind_of_layer_byte_for_byte() {
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let mut zeros_then_data = vec![0u8; 200_000];
    zeros_then_data.extend_from_slice(b"tail");
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "files, dirs, links",
            TarBuilder::new()
                .dir("app/", 0o755)
                .file("app/a.txt", b"alpha")
                .file("app/big.bin", &big)
                .file("app/holes", &zeros_then_data)
                .file("app/empty", b"")
                .symlink("app/link", "a.txt")
                .symlink("app/up", "../../../etc")
                .hardlink("app/hard", "app/a.txt")
                .finish(),
        ),
        (
            "whiteouts and opaque dirs",
            TarBuilder::new().dir("etc/", 0o755).file("etc/.wh.passwd", b"").dir("var/cache/", 0o755).file("var/cache/.wh..wh..opq", b"").finish(),
        ),
        ("a file written through a symlink in the layer", TarBuilder::new().dir("real/", 0o755).symlink("via", "real").file("via/f", b"through").finish()),
    ];
    // PAX records, GNU long names, unicode, xattrs (the `tar` crate's writer).
    let mut builder = tar::Builder::new(Vec::new());
    let long = format!("{}/{}", "d".repeat(120), "f".repeat(120));
    let mut h = tar::Header::new_gnu();
    h.set_size(4);
    h.set_mode(0o640);
    builder.append_data(&mut h, &long, &b"long"[..]).unwrap();
    builder.append_pax_extensions([("SCHILY.xattr.user.test", &b"hello"[..])]).unwrap();
    let mut h = tar::Header::new_ustar();
    h.set_size(1);
    h.set_mode(0o644);
    builder.append_data(&mut h, "ünïcode-名前", &b"u"[..]).unwrap();
    cases.push(("PAX and GNU long names", builder.into_inner().unwrap()));
    // Sparse files: PAX 1.0 and old GNU.
    let mut b = TarBuilder::new();
    pax_sparse_1_0(&mut b, "opt/sparse", 10 * GIB, &[(4096, b"first run"), (10 * GIB - 3, b"end")]);
    cases.push(("PAX 1.0 sparse", b.finish()));
    let mut b = TarBuilder::new();
    old_gnu_sparse(&mut b, "opt/old", GIB, &[(0, b"head"), (1 << 20, b"middle"), (GIB - 4, b"tail")]);
    cases.push(("old GNU sparse", b.finish()));
    // What follows the end-of-archive blocks counts too (GNU tar pads to 10 KiB records; some writers leave junk).
    let mut padded = TarBuilder::new().file("x", b"x").finish();
    padded.extend(std::iter::repeat_n(0u8, 8192));
    padded.extend_from_slice(b"junk after the end");
    cases.push(("trailing bytes", padded));
    for (what, tar) in &cases {
        assert_split_round_trip(what, tar);
    }
}

#[test]
fn tar_split_round_trips_what_gnu_tar_writes() {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    std::fs::create_dir_all(src.join("a/b")).unwrap();
    std::fs::write(src.join("a/b/file"), vec![7u8; 70_000]).unwrap();
    std::fs::write(src.join("a/small"), b"s").unwrap();
    std::os::unix::fs::symlink("b/file", src.join("a/link")).unwrap();
    std::fs::hard_link(src.join("a/small"), src.join("a/small2")).unwrap();
    for format in ["--format=gnu", "--format=posix", "--format=ustar"] {
        let tar_path = work.path().join("layer.tar");
        let status = std::process::Command::new("tar").arg(format).arg("-cf").arg(&tar_path).arg("-C").arg(&src).arg("a").status().unwrap();
        assert!(status.success(), "{format}");
        assert_split_round_trip(format, &std::fs::read(&tar_path).unwrap());
    }
}

#[test]
fn tar_split_refuses_what_the_directory_no_longer_holds() {
    let cases = [
        ("a file written twice", TarBuilder::new().file("a", b"first").file("a", b"second").finish()),
        ("a file whited out in its own layer", TarBuilder::new().dir("d/", 0o755).file("d/f", b"x").file("d/.wh.f", b"").finish()),
        ("a directory replaced by a file", TarBuilder::new().dir("d/", 0o755).file("d/f", b"x").file("d", b"now a file").finish()),
    ];
    for (what, tar) in cases {
        let (sandbox, layer) = sandbox();
        let split = sandbox.path().join(crate::image::tar_split::FILE_NAME);
        unpack_layer(&tar[..], &layer, &UnpackOptions { tar_split: Some(split.clone()), ..opts() }).unwrap_or_else(|e| panic!("{what}: {e}"));
        let err = crate::image::tar_split::reassemble(&split, &layer, std::io::sink()).err().unwrap_or_else(|| panic!("{what}: reassembled"));
        assert!(err.to_string().contains("cannot be written out again"), "{what}: {err}");
    }
    // A directory entry again (docker writes parents more than once) is fine.
    assert_split_round_trip("a directory twice", &TarBuilder::new().dir("d/", 0o755).file("d/f", b"x").dir("d/", 0o700).finish());
}

#[test]
fn tar_split_never_reads_a_fifo_or_device_in_place_of_a_file() {
    // A record naming a path that is a FIFO in the layer (as a crafted layer could arrange) fails at once.
    let (sandbox, layer) = sandbox();
    let split = sandbox.path().join(crate::image::tar_split::FILE_NAME);
    let tar = TarBuilder::new().file("p", b"content").finish();
    unpack_layer(&tar[..], &layer, &UnpackOptions { tar_split: Some(split.clone()), ..opts() }).unwrap();
    std::fs::remove_file(layer.join("p")).unwrap();
    rustix::fs::mknodat(rustix::fs::CWD, layer.join("p"), rustix::fs::FileType::Fifo, rustix::fs::Mode::from_raw_mode(0o644), 0).unwrap();
    let started = std::time::Instant::now();
    let err = crate::image::tar_split::reassemble(&split, &layer, std::io::sink()).unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}
