//! The other direction of the layer writer: a layer directory (an overlay upper
//! dir, or a stored layer's `diff/`) as the tar stream an OCI layer carries.
//!
//! The stream is deterministic: entries in byte order of their paths, numeric
//! owners only (no user or group names), no access or change times, PAX
//! extended headers (POSIX.1-2001) for long names, long link targets and
//! extended attributes, as Go's `archive/tar` writes them for docker. Overlay's
//! markers become the OCI image spec's whiteouts: a 0:0 character device is the
//! file `.wh.<name>`, a directory with the `overlay.opaque` xattr gets a
//! `.wh..wh..opq` entry. Hardlinked files appear once, then as links to the
//! first path. Its sha256 is the layer's diff id; nothing is compressed here.

use super::digest::{Digest, HashingWriter};
use super::unpack::OverlayXattrs;
use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE_MARKER: &str = ".wh..wh..opq";
/// ustar's name field.
const NAME_FIELD: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum LayerTarError {
    #[error("cannot read {path} for the layer: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write the layer: {0}")]
    Write(io::Error),
}

/// What writing a layer gave: its diff id (sha256 of the tar bytes) and size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerDigest {
    pub diff_id: Digest,
    /// Bytes of the tar stream.
    pub size: u64,
    /// Bytes of regular file content in it.
    pub file_bytes: u64,
    pub entries: u64,
}

/// How to write the stream.
#[derive(Clone, Copy, Debug)]
pub struct TarOptions {
    /// Which xattrs hold overlay's markers in `dir` (they never enter the tar).
    pub overlay_xattrs: OverlayXattrs,
    /// Clamp every mtime to at most this (unix seconds; `SOURCE_DATE_EPOCH`).
    pub clamp_mtime: Option<u64>,
}

/// Write `dir` as a layer tar to `out` (pass [`io::sink()`] for the diff id alone).
pub fn write_layer(dir: &Path, opts: TarOptions, out: impl Write) -> Result<LayerDigest, LayerTarError> {
    let mut hashing = HashingWriter::new(out);
    let mut stats = LayerDigest { diff_id: Digest::of(b""), size: 0, file_bytes: 0, entries: 0 };
    {
        let buffered = io::BufWriter::with_capacity(1 << 20, &mut hashing);
        let mut writer = Writer { tar: tar::Builder::new(buffered), opts, links: HashMap::new(), stats: &mut stats };
        writer.tar.mode(tar::HeaderMode::Deterministic);
        writer.walk(dir, "")?;
        writer.tar.finish().map_err(LayerTarError::Write)?;
        let buffered = writer.tar.into_inner().map_err(LayerTarError::Write)?;
        buffered.into_inner().map_err(|e| LayerTarError::Write(e.into_error()))?;
    }
    (stats.diff_id, stats.size, _) = hashing.finish();
    Ok(stats)
}

struct Writer<'a, W: Write> {
    tar: tar::Builder<W>,
    opts: TarOptions,
    /// (dev, inode) of files already written -> their path in the tar.
    links: HashMap<(u64, u64), String>,
    stats: &'a mut LayerDigest,
}

impl<W: Write> Writer<'_, W> {
    /// Every entry below `dir` (whose path in the tar is `prefix`), sorted.
    fn walk(&mut self, dir: &Path, prefix: &str) -> Result<(), LayerTarError> {
        let read_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| LayerTarError::Read { path, source }
        };
        let mut names: Vec<OsString> =
            std::fs::read_dir(dir).map_err(read_err(dir))?.map(|e| e.map(|e| e.file_name())).collect::<Result<_, _>>().map_err(read_err(dir))?;
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        for name in names {
            let path = dir.join(&name);
            let meta = std::fs::symlink_metadata(&path).map_err(read_err(&path))?;
            let name = String::from_utf8(name.into_vec()).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
            let tar_path = format!("{prefix}{name}");
            let ft = meta.file_type();
            if ft.is_char_device() && meta.rdev() == 0 {
                // overlay's whiteout
                let mut header = self.header(&meta, tar::EntryType::Regular);
                header.set_mode(0);
                header.set_size(0);
                self.append(header, &format!("{prefix}{WHITEOUT_PREFIX}{name}"), None, &[], io::empty())?;
                continue;
            }
            let xattrs = xattrs(&path, self.opts.overlay_xattrs).map_err(read_err(&path))?;
            if ft.is_dir() {
                let opaque = xattr_get(&path, self.opts.overlay_xattrs.opaque_name()).is_some_and(|v| v == b"y");
                let dir_path = format!("{tar_path}/");
                let header = self.header(&meta, tar::EntryType::Directory);
                self.append(header, &dir_path, None, &xattrs, io::empty())?;
                if opaque {
                    let mut marker = self.header(&meta, tar::EntryType::Regular);
                    marker.set_mode(0);
                    self.append(marker, &format!("{dir_path}{OPAQUE_MARKER}"), None, &[], io::empty())?;
                }
                self.walk(&path, &dir_path)?;
            } else if ft.is_file() {
                if meta.nlink() > 1 {
                    if let Some(first) = self.links.get(&(meta.dev(), meta.ino())).cloned() {
                        let mut header = self.header(&meta, tar::EntryType::Link);
                        header.set_size(0);
                        self.append(header, &tar_path, Some(&first), &xattrs, io::empty())?;
                        continue;
                    }
                    self.links.insert((meta.dev(), meta.ino()), tar_path.clone());
                }
                let mut header = self.header(&meta, tar::EntryType::Regular);
                header.set_size(meta.len());
                let file = File::open(&path).map_err(read_err(&path))?;
                self.stats.file_bytes += meta.len();
                // A file that changes size while read would corrupt the stream: take exactly its size.
                use std::io::Read;
                self.append(header, &tar_path, None, &xattrs, ExactReader { inner: file.take(meta.len()), left: meta.len(), path: path.clone() })?;
            } else if ft.is_symlink() {
                let target = std::fs::read_link(&path).map_err(read_err(&path))?;
                let target = String::from_utf8_lossy(target.as_os_str().as_bytes()).into_owned();
                let header = self.header(&meta, tar::EntryType::Symlink);
                self.append(header, &tar_path, Some(&target), &xattrs, io::empty())?;
            } else {
                let kind = if ft.is_fifo() {
                    tar::EntryType::Fifo
                } else if ft.is_char_device() {
                    tar::EntryType::Char
                } else if ft.is_block_device() {
                    tar::EntryType::Block
                } else {
                    continue; // sockets do not go into layers
                };
                let mut header = self.header(&meta, kind);
                if matches!(kind, tar::EntryType::Char | tar::EntryType::Block) {
                    let rdev = meta.rdev();
                    let _ = header.set_device_major(rustix::fs::major(rdev));
                    let _ = header.set_device_minor(rustix::fs::minor(rdev));
                }
                self.append(header, &tar_path, None, &xattrs, io::empty())?;
            }
        }
        Ok(())
    }

    fn header(&self, meta: &std::fs::Metadata, kind: tar::EntryType) -> tar::Header {
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(kind);
        header.set_mode(meta.mode() & 0o7777);
        header.set_uid(meta.uid() as u64);
        header.set_gid(meta.gid() as u64);
        let mtime = meta.mtime().max(0) as u64;
        header.set_mtime(self.opts.clamp_mtime.map_or(mtime, |c| mtime.min(c)));
        header.set_size(0);
        header
    }

    /// One entry: a PAX header first when the name or link target does not fit
    /// ustar's fields or there are xattrs, then the entry itself.
    fn append(
        &mut self,
        mut header: tar::Header,
        path: &str,
        link: Option<&str>,
        xattrs: &[(String, Vec<u8>)],
        data: impl io::Read,
    ) -> Result<(), LayerTarError> {
        let mut pax: Vec<(String, Vec<u8>)> = Vec::new();
        if path.len() > NAME_FIELD || !path.is_ascii() {
            pax.push(("path".into(), path.as_bytes().to_vec()));
        }
        if let Some(link) = link
            && (link.len() > NAME_FIELD || !link.is_ascii())
        {
            pax.push(("linkpath".into(), link.as_bytes().to_vec()));
        }
        for (name, value) in xattrs {
            pax.push((format!("SCHILY.xattr.{name}"), value.clone()));
        }
        let write = LayerTarError::Write;
        if !pax.is_empty() {
            let body = pax_records(&pax);
            let mut x = tar::Header::new_ustar();
            x.set_entry_type(tar::EntryType::XHeader);
            set_name_field(&mut x, &format!("PaxHeaders.0/{}", truncate(path.trim_end_matches('/'), NAME_FIELD - 13)));
            x.set_mode(0o644);
            x.set_mtime(header.mtime().unwrap_or(0));
            x.set_size(body.len() as u64);
            x.set_cksum();
            self.tar.append(&x, body.as_slice()).map_err(write)?;
        }
        set_name_field(&mut header, truncate(path, NAME_FIELD));
        if let Some(link) = link {
            let field = &mut header.as_old_mut().linkname;
            field.fill(0);
            let bytes = truncate(link, NAME_FIELD).as_bytes();
            field[..bytes.len()].copy_from_slice(bytes);
        }
        header.set_cksum();
        self.stats.entries += 1;
        self.tar.append(&header, data).map_err(write)
    }
}

/// Reads exactly `left` bytes: a file that shrank while read is an error, not a short entry.
struct ExactReader<R> {
    inner: R,
    left: u64,
    path: PathBuf,
}

impl<R: io::Read> io::Read for ExactReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, format!("{} shrank while it was read", self.path.display())));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

fn set_name_field(header: &mut tar::Header, name: &str) {
    let field = &mut header.as_old_mut().name;
    field.fill(0);
    let bytes = name.as_bytes();
    let n = bytes.len().min(NAME_FIELD);
    field[..n].copy_from_slice(&bytes[..n]);
}

/// At most `max` bytes of `s`, cut on a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// PAX records: `"<len> <key>=<value>\n"` where len counts the whole record.
fn pax_records(records: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (key, value) in records {
        let rest = key.len() + value.len() + 3; // ' ', '=', '\n'
        let mut len = rest + 1;
        while len != rest + len.to_string().len() {
            len = rest + len.to_string().len();
        }
        out.extend_from_slice(format!("{len} {key}=").as_bytes());
        out.extend_from_slice(value);
        out.push(b'\n');
    }
    out
}

/// The xattrs a layer carries for `path`: all but overlay's own markers, sorted.
fn xattrs(path: &Path, overlay: OverlayXattrs) -> io::Result<Vec<(String, Vec<u8>)>> {
    let names = list_xattrs(path)?;
    let skip = match overlay {
        OverlayXattrs::Trusted => "trusted.overlay.",
        OverlayXattrs::User => "user.overlay.",
    };
    let mut out = Vec::new();
    for name in names.into_iter().filter(|n| !n.starts_with(skip)) {
        if let Some(value) = xattr_get(path, &name) {
            out.push((name, value));
        }
    }
    out.sort();
    Ok(out)
}

fn list_xattrs(path: &Path) -> io::Result<Vec<String>> {
    let mut buf = vec![0u8; 1024];
    loop {
        match rustix::fs::llistxattr(path, &mut buf) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(buf.split(|&b| b == 0).filter(|s| !s.is_empty()).map(|s| String::from_utf8_lossy(s).into_owned()).collect());
            }
            Err(rustix::io::Errno::RANGE) => buf.resize(buf.len() * 4, 0),
            Err(rustix::io::Errno::NOTSUP) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        }
    }
}

fn xattr_get(path: &Path, name: &str) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 256];
    loop {
        match rustix::fs::lgetxattr(path, name, &mut buf) {
            Ok(n) => {
                buf.truncate(n);
                return Some(buf);
            }
            Err(rustix::io::Errno::RANGE) => buf.resize(buf.len() * 4, 0),
            Err(_) => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::unpack::{UnpackOptions, unpack_layer};

    fn opts() -> TarOptions {
        TarOptions { overlay_xattrs: OverlayXattrs::User, clamp_mtime: None }
    }

    fn tar_of(dir: &Path) -> (Vec<u8>, LayerDigest) {
        let mut bytes = Vec::new();
        let d = write_layer(dir, opts(), &mut bytes).unwrap();
        (bytes, d)
    }

    fn entries(bytes: &[u8]) -> Vec<(String, tar::EntryType, u64)> {
        let mut archive = tar::Archive::new(bytes);
        archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap())
            .map(|e| (e.path().unwrap().display().to_string(), e.header().entry_type(), e.header().size().unwrap()))
            .collect()
    }

    #[test]
    fn the_stream_is_sorted_deterministic_and_hashes_to_its_diff_id() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("b/c")).unwrap();
        std::fs::write(dir.path().join("b/c/file"), b"hello").unwrap();
        std::fs::write(dir.path().join("a"), b"x").unwrap();
        std::os::unix::fs::symlink("b/c/file", dir.path().join("link")).unwrap();
        std::fs::hard_link(dir.path().join("a"), dir.path().join("z")).unwrap();
        let (bytes, d) = tar_of(dir.path());
        assert_eq!(d.diff_id, Digest::of(&bytes));
        assert_eq!(d.size, bytes.len() as u64);
        assert_eq!(write_layer(dir.path(), opts(), io::sink()).unwrap(), d);
        let names: Vec<_> = entries(&bytes).into_iter().map(|(p, t, _)| (p, t)).collect();
        assert_eq!(
            names,
            vec![
                ("a".into(), tar::EntryType::Regular),
                ("b/".into(), tar::EntryType::Directory),
                ("b/c/".into(), tar::EntryType::Directory),
                ("b/c/file".into(), tar::EntryType::Regular),
                ("link".into(), tar::EntryType::Symlink),
                ("z".into(), tar::EntryType::Link),
            ]
        );
        assert_eq!(d.file_bytes, 6);
    }

    #[test]
    fn overlay_markers_become_oci_whiteouts() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("opq")).unwrap();
        std::fs::write(dir.path().join("opq/kept"), b"k").unwrap();
        if rustix::fs::setxattr(dir.path().join("opq"), "user.overlay.opaque", b"y", rustix::fs::XattrFlags::empty()).is_err() {
            eprintln!("skipping: the filesystem refuses user xattrs");
            return;
        }
        if rustix::fs::mknodat(rustix::fs::CWD, dir.path().join("gone"), rustix::fs::FileType::CharacterDevice, rustix::fs::Mode::empty(), 0).is_err() {
            eprintln!("skipping: cannot make a whiteout device here");
            return;
        }
        let (bytes, _) = tar_of(dir.path());
        let names: Vec<_> = entries(&bytes).into_iter().map(|(p, _, _)| p).collect();
        assert_eq!(names, vec![".wh.gone", "opq/", "opq/.wh..wh..opq", "opq/kept"]);
        // And the layer writer reads it back into the same tree.
        let back = tempfile::tempdir().unwrap();
        unpack_layer(bytes.as_slice(), back.path(), &UnpackOptions { preserve_owners: false, overlay_xattrs: OverlayXattrs::User, tar_split: None }).unwrap();
        let (again, _) = tar_of(back.path());
        assert_eq!(entries(&again), entries(&bytes));
    }

    #[test]
    fn long_names_and_targets_go_into_pax_records() {
        let dir = tempfile::tempdir().unwrap();
        let long = "d".repeat(120);
        std::fs::create_dir(dir.path().join(&long)).unwrap();
        std::fs::write(dir.path().join(&long).join("f"), b"1").unwrap();
        std::os::unix::fs::symlink(format!("{long}/f"), dir.path().join("l")).unwrap();
        let (bytes, _) = tar_of(dir.path());
        let mut archive = tar::Archive::new(bytes.as_slice());
        let got: Vec<(String, Option<String>)> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap())
            .map(|e| (e.path().unwrap().display().to_string(), e.link_name().unwrap().map(|l| l.display().to_string())))
            .collect();
        assert_eq!(got, vec![(format!("{long}/"), None), (format!("{long}/f"), None), ("l".into(), Some(format!("{long}/f")))]);
    }

    #[test]
    fn pax_record_lengths_count_themselves() {
        let r = pax_records(&[("path".into(), b"abc".to_vec())]);
        assert_eq!(r, b"12 path=abc\n");
        let long = vec![b'x'; 95];
        let r = pax_records(&[("path".into(), long)]);
        assert!(r.starts_with(b"105 path="));
        assert_eq!(r.len(), 105);
    }

    #[test]
    fn mtimes_clamp_to_the_epoch_given() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), b"1").unwrap();
        let mut bytes = Vec::new();
        write_layer(dir.path(), TarOptions { clamp_mtime: Some(1000), ..opts() }, &mut bytes).unwrap();
        let mut archive = tar::Archive::new(bytes.as_slice());
        let e = archive.entries().unwrap().next().unwrap().unwrap();
        assert_eq!(e.header().mtime().unwrap(), 1000);
    }
}
